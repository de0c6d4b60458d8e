"""K-Fashion label JSON -> COCO, with cleaning.

Every problem is a :class:`~garmentparse.report.Problem` with a stable ``reason`` code (see
``REASONS``); good data is never dropped because a neighbour is bad. One module per job:

- :mod:`.reasons`: ``REASONS``, :class:`LabelError`, :class:`IssueLog` (a label's problems)
- :mod:`.numbers`: numbers written as strings (decimal comma, thousands separators)
- :mod:`.decoding`: :func:`decode_label`, label bytes in any encoding -> JSON data
- :mod:`.polygons`: :func:`polygon_points`, :func:`measure_polygons`, :func:`clean_polygon`
- :mod:`.labels`: :func:`label_image_info`, :func:`label_garments` (label dict -> COCO annotations)
- :mod:`.matching`: :class:`PhotoIndex`, :func:`iter_label_files`, :func:`photo_scale`
- :mod:`.writing`: :class:`CocoOutput`, outcomes in label order -> COCO dataset + report
- :mod:`.convert`: the I/O shell, :func:`convert_kfashion_to_file` and :func:`convert_kfashion`

The first five are pure; files are read and written only in :mod:`.convert` and :mod:`.writing`.
"""

from __future__ import annotations

from .convert import (LabelOptions, LabelTask, convert_kfashion, convert_kfashion_to_file, process_label,
                      process_labels)
from .decoding import decode_label
from .labels import (Garment, LabelImageInfo, extract_garments, finish_garments, label_attributes,
                     label_garments, label_image_info, label_style)
from .matching import PhotoIndex, iter_label_files, photo_scale
from .numbers import json_number, text_number
from .polygons import Outline, clean_polygon, measure_polygons, outline_geometry, polygon_points
from .reasons import REASONS, IssueLog, LabelError
from .writing import CocoOutput, LabelOutcome

__all__ = [
    "REASONS", "CocoOutput", "Garment", "IssueLog", "LabelError", "LabelImageInfo", "LabelOptions", "LabelOutcome",
    "LabelTask", "Outline", "PhotoIndex", "clean_polygon", "convert_kfashion", "convert_kfashion_to_file",
    "decode_label", "extract_garments", "finish_garments", "iter_label_files", "json_number", "label_attributes",
    "label_garments", "label_image_info", "label_style", "measure_polygons", "outline_geometry", "photo_scale",
    "polygon_points", "process_label", "process_labels", "text_number",
]
