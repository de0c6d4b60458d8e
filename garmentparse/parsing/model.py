"""Build, initialise and configure torchvision Mask R-CNN models from a :class:`DetectorConfig`.

- :func:`build_model` assembles backbone, RPN and RoI heads for ``num_classes`` garment classes.
- :func:`initialise` loads ``none`` / ``imagenet`` / ``coco`` / ``lite0`` / a local weights file.
  Only ``imagenet`` and ``coco`` download (torchvision's published weights), and only when a
  config names them; offline the error lists the offline initialisations. ``lite0`` (backbone
  ``lite0_fpn``) loads ImageNet EfficientNet-Lite0 from an installed package, no download.
  Shapes that differ (class-specific predictors) are skipped and reported.
- :func:`enable_bf16` runs the heavy parts (backbone, RPN conv, box/mask head features) under
  bf16 autocast while box decoding, RoIAlign inputs and predictors stay float32.
- :func:`set_input_size` switches the model's own resize between train and test sizes.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
from torch import nn
from torchvision.models.detection import MaskRCNN
from torchvision.models.detection.anchor_utils import AnchorGenerator
from torchvision.models.detection.faster_rcnn import (FastRCNNConvFCHead, FastRCNNPredictor,
                                                      TwoMLPHead)
from torchvision.models.detection.mask_rcnn import MaskRCNNHeads, MaskRCNNPredictor
from torchvision.models.detection.rpn import RPNHead
from torchvision.ops import MultiScaleRoIAlign

from garmentparse.engine.pretrained import fetch_or_explain
from garmentparse.engine.state import LoadReport, load_matching, unwrap_state
from garmentparse.parsing.backbones import BackboneSpec, group_norm
from garmentparse.parsing.config import DetectorConfig, ModelConfig, is_weights_path
from garmentparse.parsing.registry import BACKBONES
from garmentparse.release import resolve_model


def resolved_norm(model_cfg: ModelConfig) -> str:
    """``auto`` -> frozen BN for pretrained backbones, trainable BN from scratch (torchvision)."""
    if model_cfg.norm != "auto":
        return model_cfg.norm
    return "bn" if model_cfg.init == "none" else "frozen_bn"


def resolved_trainable_layers(model_cfg: ModelConfig, spec: BackboneSpec) -> int:
    if model_cfg.trainable_layers is not None:
        return min(model_cfg.trainable_layers, spec.stages)
    return spec.stages if model_cfg.init == "none" else spec.default_trainable


def build_model(cfg: DetectorConfig, num_classes: int) -> MaskRCNN:
    """A randomly initialised Mask R-CNN for ``num_classes`` garment classes (+ background)."""
    m = cfg.model
    spec = BACKBONES.get(m.backbone)
    norm = resolved_norm(m)
    backbone = spec.build(norm, resolved_trainable_layers(m, spec), m.fpn_channels)
    ch = m.fpn_channels
    head_norm: Any = None
    if spec.heads == "v2":
        head_norm = group_norm if norm == "gn" else nn.BatchNorm2d
    elif norm == "gn":
        head_norm = group_norm
    if spec.family == "mobilenet":  # 2 feature maps + pool, as torchvision's mobilenet detector
        anchors = AnchorGenerator(((32, 64, 128, 256, 512),) * 3, ((0.5, 1.0, 2.0),) * 3)
        featmaps = ["0", "1"]
    else:
        anchors = AnchorGenerator(((32,), (64,), (128,), (256,), (512,)), ((0.5, 1.0, 2.0),) * 5)
        featmaps = ["0", "1", "2", "3"]
    n_anchors = anchors.num_anchors_per_location()[0]
    normalization: dict[str, Any] = {}
    if spec.normalization is not None:  # the preprocessing its pretrained weights expect
        normalization = {"image_mean": list(spec.normalization[0]), "image_std": list(spec.normalization[1])}
    if spec.heads == "v2":
        rpn_head = RPNHead(ch, n_anchors, conv_depth=2)
        box_head: nn.Module = FastRCNNConvFCHead((ch, 7, 7), [ch] * 4, [m.box_head_dim],
                                                 norm_layer=head_norm)
    else:
        rpn_head = RPNHead(ch, n_anchors)
        box_head = TwoMLPHead(ch * 7 * 7, m.box_head_dim)
    mask_head = MaskRCNNHeads(ch, list(m.mask_head_layers), 1, norm_layer=head_norm)
    model = MaskRCNN(
        backbone,
        num_classes=None,
        min_size=tuple(cfg.input.min_size_train),
        max_size=cfg.input.max_size_train,
        rpn_anchor_generator=anchors,
        rpn_head=rpn_head,
        rpn_pre_nms_top_n_train=m.rpn_pre_nms_top_n_train,
        rpn_pre_nms_top_n_test=m.rpn_pre_nms_top_n_test,
        rpn_post_nms_top_n_train=m.rpn_post_nms_top_n_train,
        rpn_post_nms_top_n_test=m.rpn_post_nms_top_n_test,
        rpn_batch_size_per_image=m.rpn_batch_size_per_image,
        box_roi_pool=MultiScaleRoIAlign(featmaps, 7, 2),
        box_head=box_head,
        box_predictor=FastRCNNPredictor(m.box_head_dim, num_classes),
        box_score_thresh=m.box_score_thresh,
        box_nms_thresh=m.box_nms_thresh,
        box_detections_per_img=m.detections_per_img,
        box_batch_size_per_image=m.roi_batch_size_per_image,
        mask_roi_pool=MultiScaleRoIAlign(featmaps, 14, 2),
        mask_head=mask_head,
        mask_predictor=MaskRCNNPredictor(m.mask_head_layers[-1], m.mask_head_layers[-1], num_classes),
        **normalization,
    )
    return model


def set_input_size(model: MaskRCNN, cfg: DetectorConfig, train: bool) -> None:
    """Point the model's own resize at the train (multi-scale) or test sizes of ``cfg``."""
    if train:
        model.transform.min_size = tuple(cfg.input.min_size_train)
        model.transform.max_size = cfg.input.max_size_train
    else:
        model.transform.min_size = (cfg.input.min_size_test,)
        model.transform.max_size = cfg.input.max_size_test


# ---------------------------------------------------------------- initialisation


def map_keys(state: dict[str, torch.Tensor], spec: BackboneSpec) -> dict[str, torch.Tensor]:
    """Place a full-model, backbone-with-FPN or classification-net state dict on model keys."""
    keys = list(state)
    if any(k.startswith(("backbone.", "rpn.", "roi_heads.")) for k in keys):
        return state  # a whole detector
    if any(k.startswith(("body.", "fpn.")) for k in keys):
        return {"backbone." + k: v for k, v in state.items()}  # a BackboneWithFPN
    return spec.imagenet_keys(state)  # a classification network (resnet / mobilenet)


def initialise(model: MaskRCNN, model_cfg: ModelConfig) -> LoadReport:
    """Load the weights ``model_cfg.init`` names. ``imagenet``/``coco`` download from
    torchvision's model hub (internet needed, cached under ``$TORCH_HOME``; offline the error
    names the offline initialisations); ``lite0`` loads from an installed package."""
    init = model_cfg.init
    spec = BACKBONES.get(model_cfg.backbone)
    if init == "none":
        return LoadReport("none")
    if init == "lite0" or (init == "imagenet" and spec.offline_init == "lite0"):
        if spec.offline_init != "lite0":
            lite0 = [n for n in BACKBONES.names() if BACKBONES.get(n).offline_init == "lite0"]
            raise ValueError(f"model.init=lite0 is ImageNet EfficientNet-Lite0, which fits backbone "
                             f"{' or '.join(lite0)}, not {spec.name!r}")
        from garmentparse.engine.lite0_fpn import load_lite0_body

        n = load_lite0_body(model.backbone.body)
        return LoadReport("lite0 (ImageNet EfficientNet-Lite0, offline)", loaded=n,
                          total=len(model.state_dict()))
    asked = f"model.init={init} (backbone {spec.name})"
    if init == "imagenet":
        if spec.imagenet is None:
            raise ValueError(f"model.init: no torchvision ImageNet weights for {spec.name}")
        weights = spec.imagenet()
        state = fetch_or_explain(lambda: weights.get_state_dict(progress=True), asked=asked)
        return load_matching(model, spec.imagenet_keys(state), f"imagenet ({weights})")
    if init == "coco":
        if spec.coco is None:
            raise ValueError(f"model.init: torchvision publishes no COCO detection weights for "
                             f"{spec.name}; use imagenet or a local weights file")
        weights = spec.coco()
        state = fetch_or_explain(lambda: weights.get_state_dict(progress=True), asked=asked)
        return load_matching(model, state, f"coco ({weights})")
    path = resolve_model(init, "detector", what="model.init: weights file")  # or a release model by name
    try:
        obj = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # noqa: BLE001 - unpickling errors come in many types
        raise ValueError(f"model.init: cannot read {path} as a torch state dict "
                         f"(weights_only load): {exc}") from None
    return load_matching(model, map_keys(unwrap_state(obj, str(path)), spec), str(path))


# ---------------------------------------------------------------- mixed precision

_BF16_PARTS = ("backbone", "rpn.head", "roi_heads.box_head", "roi_heads.mask_head")


def _to_float(obj: Any) -> Any:
    if isinstance(obj, torch.Tensor):
        return obj.float() if obj.is_floating_point() else obj
    if isinstance(obj, dict):
        return type(obj)((k, _to_float(v)) for k, v in obj.items())
    if isinstance(obj, (list, tuple)):
        return type(obj)(_to_float(v) for v in obj)
    return obj


def enable_bf16(model: MaskRCNN, device_type: str = "cuda") -> None:
    """Run backbone, RPN conv and box/mask head features under bf16 autocast on
    ``device_type``; their outputs are cast back to float32, so box decoding, RoIAlign,
    NMS and the class/box/mask predictors keep full precision (bf16 has 8 mantissa bits:
    pixel coordinates above 256 would round to 2+ px). Idempotent; weights stay float32."""
    for name in _BF16_PARTS:
        module = model.get_submodule(name)
        if getattr(module, "_gp_bf16", None) == device_type:
            continue
        forward = type(module).forward.__get__(module)

        def patched(*args: Any, _forward=forward, **kwargs: Any) -> Any:
            with torch.autocast(device_type=device_type, dtype=torch.bfloat16):
                out = _forward(*args, **kwargs)
            return _to_float(out)

        module.forward = patched
        module._gp_bf16 = device_type


__all__ = ["build_model", "initialise", "map_keys", "enable_bf16",
           "set_input_size", "LoadReport", "resolved_norm", "is_weights_path"]
