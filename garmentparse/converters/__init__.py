"""Dataset converters and tools: K-Fashion / CCP -> COCO, validate, split, stats, crop, visualize.

Library entry points (the CLI commands are thin wrappers over these):

- :func:`convert_kfashion` / :func:`convert_kfashion_to_file`: K-Fashion label JSON -> COCO
- :func:`convert_ccp`: Clothing Co-Parsing pixel masks -> COCO
- :func:`validate_coco`, :func:`split_coco`, :func:`coco_stats`, :func:`crop_dataset`,
  :func:`visualize_coco`
"""

from .ccp import CCP_CATEGORY, convert_ccp
from .coco import CocoStreamWriter, coco_categories, load_coco, save_coco
from .crop import MANIFEST_COLUMNS, crop_dataset
from .kfashion import REASONS, convert_kfashion, convert_kfashion_to_file
from .split import split_coco, split_image_ids
from .stats import coco_stats, print_stats
from .validate import VALIDATE_REASONS, validate_coco
from .visualize import visualize_coco

__all__ = [
    "CCP_CATEGORY", "MANIFEST_COLUMNS", "REASONS", "VALIDATE_REASONS", "CocoStreamWriter", "coco_categories",
    "coco_stats", "convert_ccp", "convert_kfashion", "convert_kfashion_to_file", "crop_dataset", "load_coco",
    "print_stats", "save_coco", "split_coco", "split_image_ids", "validate_coco", "visualize_coco",
]
