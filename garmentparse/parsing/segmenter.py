"""The :class:`Segmenter` interface (images in, :class:`Detections` out) and its torchvision
implementation. The tagging stage only sees this interface."""

from __future__ import annotations

from abc import ABC, abstractmethod
from pathlib import Path

import numpy as np
import torch
from torchvision.models.detection import MaskRCNN

from garmentparse.checkpoint import Checkpoint, load_checkpoint, resolve_device
from garmentparse.parsing.config import DetectorConfig, config_from_dict
from garmentparse.parsing.model import build_model, enable_bf16, set_input_size
from garmentparse.types import Detections


def check_image(image: np.ndarray, index: int) -> None:
    if not isinstance(image, np.ndarray) or image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8:
        got = f"{getattr(image, 'shape', None)} {getattr(image, 'dtype', type(image).__name__)}"
        raise ValueError(f"image {index}: expected an HxWx3 RGB uint8 array, got {got}")


class Segmenter(ABC):
    """Finds garments in RGB images. ``class_names[i]`` names model label ``i + 1``."""

    class_names: list[str]
    device: torch.device
    config: DetectorConfig

    @abstractmethod
    def predict(self, images: list[np.ndarray], score_threshold: float | None = None) -> list[Detections]:
        """One :class:`Detections` per image (HxWx3 RGB uint8), in original-pixel coordinates.
        ``score_threshold`` defaults to the config's ``test.score_threshold``."""


class TorchvisionSegmenter(Segmenter):
    """A torchvision Mask R-CNN in eval mode. Preprocessing is a uint8 upload and one
    float conversion on the device; the model resizes and normalises there too."""

    def __init__(self, model: MaskRCNN, class_names: list[str], config: DetectorConfig,
                 device: torch.device | str = "cpu", amp: bool = True,
                 batch_size: int | None = None) -> None:
        self.device = torch.device(device)
        self.class_names = list(class_names)
        self.config = config
        self.batch_size = batch_size or config.test.batch_size
        self.amp = bool(amp and config.model.amp and self.device.type == "cuda")
        self.model = model.to(self.device).eval()
        set_input_size(self.model, config, train=False)
        if self.amp:
            enable_bf16(self.model, "cuda")

    def to_tensors(self, images: list[np.ndarray]) -> list[torch.Tensor]:
        """uint8 HWC arrays -> float CHW tensors in [0, 1] on the device."""
        out = []
        for i, image in enumerate(images):
            check_image(image, i)
            if not (image.flags.writeable and image.flags.c_contiguous):
                image = np.array(image)  # torch wants writable, contiguous memory
            t = torch.from_numpy(image).to(self.device)
            out.append(t.permute(2, 0, 1).float().div_(255.0))
        return out

    @torch.inference_mode()
    def forward(self, images: list[np.ndarray], score_threshold: float = 0.0) -> list[dict[str, torch.Tensor]]:
        """torchvision outputs (boxes, scores, labels, (N, 1, H, W) mask probabilities in
        original pixels) for one batch. The steps of ``GeneralizedRCNN.forward``, with the
        score filter applied *before* masks are pasted at full image size (the costly part
        of post-processing when many low-scoring candidates exist)."""
        model = self.model
        tensors = self.to_tensors(images)
        original_sizes = [tuple(t.shape[-2:]) for t in tensors]
        image_list, _ = model.transform(tensors)
        features = model.backbone(image_list.tensors)
        proposals, _ = model.rpn(image_list, features)
        outputs, _ = model.roi_heads(features, proposals, image_list.image_sizes)
        if score_threshold > 0:
            outputs = [{k: v[o["scores"] >= score_threshold] for k, v in o.items()} for o in outputs]
        return model.transform.postprocess(outputs, image_list.image_sizes, original_sizes)

    def predict(self, images: list[np.ndarray], score_threshold: float | None = None) -> list[Detections]:
        threshold = self.config.test.score_threshold if score_threshold is None else score_threshold
        was_training = self.model.training
        self.model.eval()
        results: list[Detections] = []
        try:
            for start in range(0, len(images), self.batch_size):
                batch = images[start:start + self.batch_size]
                for image, out in zip(batch, self.forward(batch, threshold)):
                    results.append(Detections.from_torchvision(
                        out, self.class_names, image.shape[:2], self.config.model.mask_threshold))
        finally:
            self.model.train(was_training)
        return results


def segmenter_from_checkpoint(ckpt: Checkpoint, device: str | torch.device = "auto", amp: bool = True,
                              batch_size: int | None = None) -> Segmenter:
    """Rebuild the segmenter a checkpoint describes, with the backend its config names."""
    from garmentparse.parsing.backends import BACKENDS

    cfg = config_from_dict(ckpt.config)
    return BACKENDS.get(cfg.model.backend).load(ckpt, cfg, resolve_device(str(device)), amp, batch_size)


def load_segmenter(path: str | Path, device: str = "auto", amp: bool = True,
                   batch_size: int | None = None) -> Segmenter:
    """Load ``model.pt`` (weights + config + vocabulary) as a ready :class:`Segmenter`."""
    return segmenter_from_checkpoint(load_checkpoint(path, expect_kind="detector"), device, amp, batch_size)


def torchvision_from_checkpoint(ckpt: Checkpoint, cfg: DetectorConfig, device: torch.device,
                                amp: bool, batch_size: int | None) -> TorchvisionSegmenter:
    class_names = list(ckpt.vocabulary["part"])
    model = build_model(cfg, len(class_names) + 1)
    model.load_state_dict(ckpt.state_dict)
    return TorchvisionSegmenter(model, class_names, cfg, device, amp, batch_size)
