"""pycocotools' ``COCO`` index over our COCO files, and the class list a detector learns from one.

(:func:`garmentparse.converters.load_coco` reads the file into a plain dict; this module
builds the pycocotools object the detector's evaluation and training use.)
"""

from __future__ import annotations

import contextlib
import io
from pathlib import Path
from typing import Any

from pycocotools.coco import COCO

from garmentparse.converters.coco import category_ids_and_names, load_coco


def coco_api(coco: COCO | dict[str, Any] | str | Path) -> COCO:
    """A pycocotools ``COCO`` of a file or dict (a ``COCO`` is returned as it is), without its
    prints on stdout; a file that is not a COCO dataset is an error naming it."""
    if isinstance(coco, COCO):
        return coco
    data = load_coco(coco)
    with contextlib.redirect_stdout(io.StringIO()):
        api = COCO()
        api.dataset = data
        api.createIndex()
    return api


def part_classes(coco: COCO) -> tuple[list[int], list[str]]:
    """Category ids sorted and their names; model label ``i + 1`` is category ``ids[i]``."""
    return category_ids_and_names(coco.dataset)
