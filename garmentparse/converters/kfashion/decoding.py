"""Label bytes -> JSON data, whatever encoding the annotation tool wrote (UTF-8 with or without
BOM, UTF-16/32, CP949/EUC-KR). Pure."""

from __future__ import annotations

import codecs
import json
from typing import Any

from ..fastjson import loads_fast
from .reasons import LabelError


def decode_label(raw: bytes) -> tuple[Any, str | None]:
    """Parse label bytes; returns ``(data, encoding)`` where ``encoding`` is None for plain UTF-8.

    UTF-8 with BOM and UTF-16/32 are handled by ``json``; CP949 (a superset of EUC-KR, what
    Korean Windows tools write) is tried when the bytes are not UTF-8. Bytes that are none of
    these, or not JSON, raise :class:`LabelError` ``invalid_json``.
    """
    if raw[:1] not in (b"\xef", b"\xfe", b"\xff") and raw[1:2] != b"\x00":
        try:  # the common case: plain UTF-8 (orjson when installed)
            return loads_fast(raw), None
        except ValueError:
            pass  # look closer below, to name the problem
    if raw[:3] == codecs.BOM_UTF8:
        encoding: str | None = "utf-8-sig"
    elif raw[:2] in (codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE):
        encoding = "utf-16"
    elif len(raw) >= 2 and (raw[0] == 0 or raw[1] == 0):
        encoding = "utf-16/32 (no BOM)"
    else:
        encoding = None
    try:
        return json.loads(raw), encoding
    except UnicodeDecodeError:
        pass
    except ValueError as exc:
        raise LabelError("invalid_json", str(exc)) from None
    try:
        text = raw.decode("cp949")
    except UnicodeDecodeError:
        raise LabelError("invalid_json", "text is neither UTF-8/16 nor CP949/EUC-KR") from None
    try:
        return json.loads(text), "cp949"
    except ValueError as exc:
        raise LabelError("invalid_json", f"(cp949) {exc}") from None
