"""Load a COCO file of ours into FiftyOne and compare its instance masks with the file's own.

Run with a Python that has ``fiftyone`` (it pins packages older than garmentparse's, so it
lives in a venv of its own; docs/interop.md says how). Prints one JSON line: samples,
detections, annotations, labels, the lowest mask IoU and the fields of the first detection.

    python scripts/check_fiftyone.py COCO.json IMAGES_DIR
"""

from __future__ import annotations

import json
import sys

import fiftyone as fo
import numpy as np
from pycocotools import mask as mask_utils


def main(labels: str, images: str) -> None:
    ds = fo.Dataset.from_dir(dataset_type=fo.types.COCODetectionDataset, data_path=images, labels_path=labels,
                             label_types="segmentations", label_field="gt", include_annotation_id=True)
    coco = json.load(open(labels, encoding="utf-8"))
    anns = {a["id"]: a for a in coco["annotations"]}
    sizes = {im["id"]: (im["height"], im["width"]) for im in coco["images"]}
    ious, fields = [], []
    for sample in ds:
        for d in sample.gt.detections if sample.gt else []:
            ann = anns[d["coco_id"]]
            h, w = sizes[ann["image_id"]]
            seg = ann["segmentation"]
            rle = (mask_utils.merge(mask_utils.frPyObjects(seg, h, w)) if isinstance(seg, list)
                   else {"size": seg["size"], "counts": seg["counts"].encode()})
            truth = mask_utils.decode(rle).astype(bool)
            placed = np.zeros((h, w), bool)  # FiftyOne keeps the mask inside its relative box
            x0, y0 = int(round(d.bounding_box[0] * w)), int(round(d.bounding_box[1] * h))
            m = d.mask.astype(bool)[:h - y0, :w - x0]
            placed[y0:y0 + m.shape[0], x0:x0 + m.shape[1]] = m
            ious.append(float((placed & truth).sum() / max(1, (placed | truth).sum())))
            fields = fields or sorted(set(d.field_names) - {"id", "mask", "bounding_box", "tags", "mask_path"})
    labels_seen = sorted({d.label for s in ds if s.gt for d in s.gt.detections})
    print(json.dumps({"samples": len(ds), "detections": len(ious), "annotations": len(anns), "labels": labels_seen,
                      "min_iou": min(ious, default=None), "fields": fields}))
    ds.delete()


if __name__ == "__main__":
    main(*sys.argv[1:3])
