"""One parser for every integer a client sends (path ids, cursors, query and form fields).

Only ASCII digits up to :data:`MAX_ID` are a number: ``int()`` would also take Unicode digits
(``²``, ``٣``), signs, spaces and underscores, and numbers no column holds (an OverflowError on
SQLite, a DataError on PostgreSQL). Ids, versions and counts are ``INTEGER`` columns: 32 bits
on PostgreSQL and MySQL/MariaDB, so a larger number names no row on any database.
"""

from __future__ import annotations

import math
import re

MAX_ID = 2**31 - 1  # the largest INTEGER of PostgreSQL and MySQL/MariaDB


def at_most(limit: int) -> str:
    """A regular expression of the decimal numbers 0..``limit`` (ASCII digits, no sign), so a
    route's path convertor can refuse a bigger one before any code runs."""
    top = str(limit)
    parts = [f"[0-9]{{1,{len(top) - 1}}}"] if len(top) > 1 else []
    for i, digit in enumerate(top):
        if digit != "0":  # the same prefix, a smaller digit here, then any digits
            rest = len(top) - i - 1
            parts.append(f"{top[:i]}[0-{int(digit) - 1}]" + (f"[0-9]{{{rest}}}" if rest else ""))
    parts.append(top)
    return "(?:" + "|".join(parts) + ")"


ID_PATTERN = at_most(MAX_ID)  # also the web app's {name:id} path convertor
_ID = re.compile(ID_PATTERN)


def parse_int(text: object, what: str = "number") -> int:
    """``text`` as an int when it is ASCII digits naming at most :data:`MAX_ID`, else ValueError
    naming ``what``."""
    if not isinstance(text, str) or _ID.fullmatch(text) is None:
        shown = text[:40] if isinstance(text, str) else text
        raise ValueError(f"{what}: not a number from 0 to {MAX_ID}: {shown!r}")
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
