"""Fast JSON for the converters: orjson when installed (a dependency), the standard library otherwise.

Both give the same data; orjson parses label files ~3x and serialises annotations ~10x faster,
which is most of a conversion's CPU time.
"""

from __future__ import annotations

import json
from typing import Any

try:  # pragma: no cover - exercised whichever way the environment is
    import orjson
except ImportError:  # pragma: no cover
    orjson = None

#: The orjson module in use, or None for the standard library. Setting it to None (tests do,
#: with ``monkeypatch``) switches this process to the standard-library path.
HAVE_ORJSON = orjson is not None


def loads_fast(raw: bytes) -> Any:
    """Parse plain UTF-8 JSON bytes; ValueError on anything else (callers then look closer)."""
    if orjson is not None:
        return orjson.loads(raw)
    return json.loads(raw)


def dumps(obj: Any) -> str:
    """Compact JSON text, non-ASCII kept as is."""
    if orjson is not None:
        return orjson.dumps(obj).decode("utf-8")
    return json.dumps(obj, ensure_ascii=False, separators=(",", ":"))
