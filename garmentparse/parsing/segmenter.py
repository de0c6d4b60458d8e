"""The torchvision Mask R-CNN behind the :class:`~garmentparse.structures.Segmenter` protocol
(RGB images in, :class:`Detections` out). Loading a checkpoint is :mod:`garmentparse.parsing.api`."""

from __future__ import annotations

import math

import numpy as np
import torch
from torchvision.models.detection import MaskRCNN

from garmentparse.parsing.config import DetectorConfig
from garmentparse.parsing.model import enable_bf16, set_input_size
from garmentparse.structures import Detections


def check_image(image: np.ndarray, index: int) -> None:
    if not isinstance(image, np.ndarray) or image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8:
        got = f"{getattr(image, 'shape', None)} {getattr(image, 'dtype', type(image).__name__)}"
        raise ValueError(f"image {index}: expected an HxWx3 RGB uint8 array, got {got}")


class TorchvisionSegmenter:
    """A torchvision Mask R-CNN in eval mode (a :class:`~garmentparse.structures.Segmenter`).
    Preprocessing is a uint8 upload and one float conversion on the device; the model resizes
    and normalises there too."""

    def __init__(self, model: MaskRCNN, class_names: list[str], config: DetectorConfig,
                 device: torch.device | str = "cpu", amp: bool = True,
                 batch_size: int | None = None) -> None:
        self.device = torch.device(device)
        self.class_names = list(class_names)
        self.config = config
        self.batch_size = batch_size or config.test.batch_size
        self.amp = bool(amp and config.train.amp and self.device.type == "cuda")
        self.model = model.to(self.device).eval()
        set_input_size(self.model, config, train=False)
        if self.amp:
            enable_bf16(self.model, "cuda")

    @property
    def score_threshold(self) -> float:
        """``predict``'s default threshold: the config's ``test.score_threshold``."""
        return self.config.test.score_threshold

    @property
    def duplicate_iou(self) -> float:
        """Mask IoU above which a lower-scoring detection of any part is dropped as a duplicate
        (``test.duplicate_iou``; 0 = off)."""
        return self.config.test.duplicate_iou

    @property
    def fill_holes(self) -> float:
        """Enclosed mask holes up to this fraction of the mask's area are filled (``test.fill_holes``)."""
        return self.config.test.fill_holes

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

    def input_shape(self, height: int, width: int) -> tuple[int, int]:
        """The padded network input an image of this size becomes (torchvision's test-time
        resize, then padding to ``size_divisible``). ValueError for images too thin to resize."""
        tr = self.model.transform
        scale = min(float(tr.min_size[-1]) / min(height, width), float(tr.max_size) / max(height, width))
        h, w = math.floor(height * scale), math.floor(width * scale)
        if h < 1 or w < 1:
            raise ValueError(f"a {width}x{height} image is too thin for this detector's input size "
                             f"({tr.min_size[-1]}-{tr.max_size} px)")
        d = tr.size_divisible
        return math.ceil(h / d) * d, math.ceil(w / d) * d

    def predict(self, images: list[np.ndarray], score_threshold: float | None = None) -> list[Detections]:
        """Detections scoring at least ``score_threshold`` (default: :attr:`score_threshold`),
        masks with small holes filled (:attr:`fill_holes`), then duplicates across parts
        suppressed (:attr:`duplicate_iou`), whatever the threshold (evaluation too).

        Images that become the same padded input share a model call, so what an image gets
        does not depend on which other images are in the batch (a landscape photo would pad a
        portrait one to a square and shift its results)."""
        threshold = self.score_threshold if score_threshold is None else score_threshold
        groups: dict[tuple[int, int], list[int]] = {}
        for i, image in enumerate(images):
            check_image(image, i)
            groups.setdefault(self.input_shape(*image.shape[:2]), []).append(i)
        was_training = self.model.training
        self.model.eval()
        results: list[Detections | None] = [None] * len(images)
        try:
            for members in groups.values():
                for start in range(0, len(members), self.batch_size):
                    chunk = members[start:start + self.batch_size]
                    outputs = self.forward([images[i] for i in chunk], threshold)
                    for i, out in zip(chunk, outputs):
                        det = Detections.from_torchvision(out, self.class_names, images[i].shape[:2],
                                                          self.config.model.mask_threshold, self.fill_holes)
                        results[i] = det.suppress_duplicates(self.duplicate_iou)
        finally:
            self.model.train(was_training)
        return results  # type: ignore[return-value]  # every slot is filled above
