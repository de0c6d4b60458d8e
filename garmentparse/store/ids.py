"""One parser for every integer a client sends (path ids, cursors, query and form fields).

Only 1-18 ASCII digits are a number: ``int()`` would also take Unicode digits (``²``, ``٣``),
signs, spaces and underscores, and numbers no database column holds (an OverflowError on SQLite,
a DataError on PostgreSQL). 18 digits fit every database's 64-bit integers.
"""

from __future__ import annotations

import math
import re

ID_PATTERN = "[0-9]{1,18}"  # also the web app's path convertor
_ID = re.compile(ID_PATTERN)


def parse_int(text: object, what: str = "number") -> int:
    """``text`` as an int when it is 1-18 ASCII digits, else ValueError naming ``what``."""
    if not isinstance(text, str) or _ID.fullmatch(text) is None:
        shown = text[:40] if isinstance(text, str) else text
        raise ValueError(f"{what}: not a number (1-18 digits 0-9): {shown!r}")
    return int(text)


def parse_float(text: str, what: str = "number") -> float:
    """``text`` as a finite float, else ValueError naming ``what`` (no NaN, no infinity)."""
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not math.isfinite(value) or len(text) > 40:
        raise ValueError(f"{what}: not a number: {text[:40]!r}")
    return value
