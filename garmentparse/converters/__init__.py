"""Dataset converters and tools: K-Fashion / CCP -> COCO, validate, split, stats, crop, visualize.

Library entry points (the CLI commands are thin wrappers over these):

- :func:`convert_kfashion` / :func:`convert_kfashion_to_file`: K-Fashion label JSON -> COCO
  (the :mod:`.kfashion` package: decoding, polygons, labels, photo matching, writing)
- :func:`convert_ccp`: Clothing Co-Parsing pixel masks -> COCO
- :func:`convert_photo_labels`: photos with one label each (folder per class / CSV) -> COCO with
  image-level labels; :func:`add_pseudo_masks`: a mask per product photo from its background
- :func:`convert_deepfashion2`, :func:`convert_fashionpedia`, :func:`convert_modanet` (and their
  ``..._to_file`` streaming variants): the public garment datasets -> COCO (the :mod:`.datasets` package)
- :func:`validate_coco`, :func:`split_coco`, :func:`coco_stats`, :func:`crop_dataset`,
  :func:`visualize_coco`
- :func:`load_coco` / :func:`category_names`: the one COCO loader (:mod:`.coco`)
- :func:`map_chunks`: the process pool shared by the ``convert`` commands and ``crop`` (:mod:`.pool`)

Names are imported lazily (PEP 562), so ``convert_kfashion`` worker processes do not pay for
OpenCV / SciPy / pycocotools they never use.
"""

from __future__ import annotations

from garmentparse.lazy import lazy_exports

_EXPORTS: dict[str, str] = {
    "CCP_CATEGORY": "ccp", "convert_ccp": "ccp",
    "CocoStreamWriter": "coco", "category_ids_and_names": "coco", "category_names": "coco",
    "coco_categories": "coco", "load_coco": "coco", "save_coco": "coco",
    "MANIFEST_COLUMNS": "crop", "crop_dataset": "crop",
    "DATASET_REASONS": "datasets", "convert_deepfashion2": "datasets", "convert_deepfashion2_to_file": "datasets",
    "convert_fashionpedia": "datasets", "convert_fashionpedia_to_file": "datasets", "convert_modanet": "datasets",
    "convert_modanet_to_file": "datasets",
    "REASONS": "kfashion", "IssueLog": "kfashion", "LabelError": "kfashion", "convert_kfashion": "kfashion",
    "convert_kfashion_to_file": "kfashion", "decode_label": "kfashion", "label_garments": "kfashion",
    "map_chunks": "pool",
    "CLOTHING_DATASET_CLASSES": "photolabels", "ClassLabels": "photolabels", "convert_photo_labels": "photolabels",
    "load_class_map": "photolabels",
    "PseudoMaskSettings": "pseudomasks", "add_pseudo_masks": "pseudomasks", "foreground_mask": "pseudomasks",
    "split_coco": "split", "split_image_ids": "split",
    "coco_stats": "stats",
    "VALIDATE_REASONS": "validate", "validate_coco": "validate",
    "visualize_coco": "visualize",
}

__all__ = sorted(_EXPORTS)


__getattr__, __dir__ = lazy_exports(__name__, {name: f".{module}" for name, module in _EXPORTS.items()},
                                     globals())
