"""What can be wrong with a K-Fashion label: reason codes, the error that skips a label, and the
per-label issue log every cleaning step writes to."""

from __future__ import annotations

from typing import Any

from garmentparse.report import Problem

from .numbers import json_number, text_number

# Stable reason codes written to the report, with the usual action.
REASONS: dict[str, str] = {
    "invalid_json": "label is not parseable JSON (label skipped)",
    "invalid_schema": "label JSON lacks the K-Fashion structure (label skipped)",
    "unreadable_label": "label file cannot be read (label skipped)",
    "encoding": "label text not in plain UTF-8 (utf-8-sig, utf-16, cp949/euc-kr): decoded",
    "label_without_image": "no photo matches the label by stem or by 이미지 파일명 (label skipped)",
    "image_without_label": "photo under --images that no label matched (not in the output)",
    "image_undecodable": "photo cannot be read or decoded (label skipped)",
    "size_mismatch_rescaled": "photo size differs from the label's, same aspect: polygons rescaled",
    "size_mismatch_skipped": "photo size differs from the label's with another aspect (label skipped)",
    "missing_size": "no --images and the label has no usable size (label skipped)",
    "duplicate_photo": "photo already used by an earlier label (this label skipped)",
    "duplicate_image_id": "이미지 식별자 seen before: kept, COCO ids stay unique",
    "numeric_string": "numbers written as strings: converted",
    "invalid_coordinate": "a coordinate that is not a number: point dropped",
    "unpaired_coordinates": "X좌표k without Y좌표k (or the reverse): point dropped",
    "polygon_too_few_points": "polygon with fewer than 3 points (garment skipped)",
    "polygon_missing": "garment labelled but without polygon (garment skipped)",
    "degenerate_polygon": "polygon with zero area (garment skipped)",
    "self_intersection_repaired": "self-intersecting polygon: repaired with shapely make_valid",
    "points_clipped": "polygon reaching outside the image: clipped to the image",
    "polygon_outside_image": "polygon entirely outside the image (garment skipped)",
    "unknown_value": "attribute value or key not in the vocabulary: value dropped, garment kept",
    "missing_category": "--classes category and the garment has no known category (garment skipped)",
    "category_part_mismatch": "category belongs to another part than the one it is listed under: kept",
    "no_garments": "label without any usable garment (label skipped)",
    "polygon_label_mismatch": "a part has more polygons than labels: the extra ones kept without attributes",
    "unexpected_error": "the label broke the converter in an unforeseen way (label skipped; detail says how)",
}


class LabelError(Exception):
    """A label that cannot be used at all; ``reason`` is a code from ``REASONS``."""

    def __init__(self, reason: str, detail: str = ""):
        super().__init__(f"{reason}: {detail}")
        self.reason = reason
        self.detail = detail


class IssueLog:
    """The problems found in one label file, in the order found.

    ``add`` records a :class:`~garmentparse.report.Problem` naming ``file``; ``number`` reads a
    number that may be written as a string and counts such strings, which ``finish`` reports
    once per label (``numeric_string``) before returning every problem.
    """

    __slots__ = ("file", "issues", "numeric_strings")

    def __init__(self, file: str = ""):
        self.file = file
        self.issues: list[Problem] = []
        self.numeric_strings = 0

    def add(self, reason: str, detail: str = "", action: str = "skipped") -> None:
        self.issues.append(Problem(self.file, reason, detail, action))

    def number(self, value: Any) -> float | None:
        """A float from a JSON number or a numeric string (counted); None otherwise
        (see :func:`~garmentparse.converters.kfashion.numbers.text_number` for strings)."""
        if isinstance(value, str):
            v = text_number(value)
            if v is not None:
                self.numeric_strings += 1
            return v
        return json_number(value)

    def finish(self) -> list[Problem]:
        """Every problem of the label, the numbers-as-strings summary last."""
        if self.numeric_strings:
            self.add("numeric_string", f"{self.numeric_strings} numbers written as strings", "converted")
            self.numeric_strings = 0
        return self.issues
