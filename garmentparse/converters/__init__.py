"""Dataset converters and tools: K-Fashion / CCP -> COCO, validate, split, stats, crop, visualize."""

from .coco import coco_categories, load_coco, save_coco
from .crop import MANIFEST_COLUMNS, crop_dataset
from .kfashion import REASONS, convert_kfashion, convert_kfashion_to_file

__all__ = ["MANIFEST_COLUMNS", "REASONS", "coco_categories", "convert_kfashion", "convert_kfashion_to_file",
           "crop_dataset", "load_coco", "save_coco"]
