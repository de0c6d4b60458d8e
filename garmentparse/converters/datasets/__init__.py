"""DeepFashion2, Fashionpedia and ModaNet -> garmentparse's COCO, with the cleaning report.

- :mod:`.classes`: each dataset's classes mapped onto our parts / categories (pure data)
- :mod:`.instances`: ``REASONS``; one instance (class + polygons or RLE) -> one COCO annotation (pure)
- :mod:`.deepfashion2`: one JSON per photo -> COCO (:func:`convert_deepfashion2`, ``..._to_file``)
- :mod:`.cocostyle`: one COCO-style file -> COCO (:func:`convert_fashionpedia`, :func:`convert_modanet`,
  ``..._to_file``)

The I/O pieces (photo matching, header reads, the process pool, the streaming writer and the
per-label output) are the K-Fashion converter's, reused.
"""

from __future__ import annotations

from .classes import DEEPFASHION2, FASHIONPEDIA, MODANET, SourceClass, output_categories
from .cocostyle import (FASHIONPEDIA_SPEC, MODANET_SPEC, CocoStyleSpec, convert_coco_style, convert_fashionpedia,
                        convert_fashionpedia_to_file, convert_modanet, convert_modanet_to_file, image_annotations,
                        source_tables)
from .deepfashion2 import convert_deepfashion2, convert_deepfashion2_to_file, deepfashion2_annotations
from .instances import REASONS, InstanceOptions, instance_annotation, instance_geometry

DATASET_REASONS = REASONS  # the name under garmentparse.converters, beside K-Fashion's REASONS

__all__ = [
    "DATASET_REASONS", "DEEPFASHION2", "FASHIONPEDIA", "FASHIONPEDIA_SPEC", "MODANET", "MODANET_SPEC", "REASONS",
    "CocoStyleSpec", "InstanceOptions", "SourceClass", "convert_coco_style", "convert_deepfashion2",
    "convert_deepfashion2_to_file", "convert_fashionpedia", "convert_fashionpedia_to_file", "convert_modanet",
    "convert_modanet_to_file", "deepfashion2_annotations", "image_annotations", "instance_annotation",
    "instance_geometry", "output_categories", "source_tables",
]
