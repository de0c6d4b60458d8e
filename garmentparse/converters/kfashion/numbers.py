"""Numbers as K-Fashion labels write them: JSON numbers, or strings with a decimal comma or
thousands separators. Pure functions; values beyond float range or not finite are None."""

from __future__ import annotations

import math
import re
from typing import Any

_THOUSANDS = re.compile(r"^[-+]?\d{1,3}(,\d{3})+(\.\d*)?$")
_DECIMAL_COMMA = re.compile(r"^[-+]?\d+,\d{1,2}$")
INT64_MAX = 2**63 - 1  # JSON writers stop at 64-bit integers


def json_number(value: Any) -> float | None:
    """A finite float from a JSON number (``bool`` is not one); None otherwise."""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        try:
            v = float(value)
        except OverflowError:  # an int beyond float range
            return None
        return v if math.isfinite(v) else None
    return None


def text_number(value: str) -> float | None:
    """A finite float from a numeric string; None when it is not one.

    Strings may use thousands separators (``"1,024.5"``) or one decimal comma (``"10,5"``);
    anything else with a comma is not a number."""
    text = value.strip()
    if "," in text:
        if _THOUSANDS.match(text):
            text = text.replace(",", "")
        elif _DECIMAL_COMMA.match(text):
            text = text.replace(",", ".")
        else:
            return None
    try:
        v = float(text)
    except ValueError:
        return None
    return v if math.isfinite(v) else None
