"""Cheap photo checks for converters: size from the header, truncation from the tail.

Reading the size of 1.2 M photos must not decode them. JPEG and PNG headers are parsed here
directly (tens of microseconds); other formats go through :func:`garmentparse.imageio.image_size`.
``check_photo`` also catches the common corruption of a dump — a truncated download — by looking
for the JPEG end marker, and confirms with a real decode before calling a photo undecodable.
"""

from __future__ import annotations

import struct
from pathlib import Path

from garmentparse.imageio import ImageReadError, image_size, load_rgb

_SOF = {0xC0, 0xC1, 0xC2, 0xC3, 0xC5, 0xC6, 0xC7, 0xC9, 0xCA, 0xCB, 0xCD, 0xCE, 0xCF}
_PNG = b"\x89PNG\r\n\x1a\n"


def _exif_orientation(seg: bytes) -> int:
    """Orientation tag (0x0112) of an APP1 Exif payload (after the length field); 1 if absent."""
    if not seg.startswith(b"Exif\x00\x00") or len(seg) < 14:
        return 1
    tiff = seg[6:]
    end = {b"II": "<", b"MM": ">"}.get(tiff[:2])
    if end is None:
        return 1
    try:
        (ifd,) = struct.unpack_from(end + "I", tiff, 4)
        (n,) = struct.unpack_from(end + "H", tiff, ifd)
        for i in range(n):
            tag, typ, _count = struct.unpack_from(end + "HHI", tiff, ifd + 2 + 12 * i)
            if tag == 0x0112:
                (val,) = struct.unpack_from(end + "H", tiff, ifd + 2 + 12 * i + 8)
                return int(val)
    except struct.error:
        return 1
    return 1


def _jpeg_size(f) -> tuple[int, int] | None:
    """(width, height) after EXIF orientation, walking JPEG markers; None when unsure."""
    orientation = 1
    f.seek(2)
    while True:
        if f.read(1) != b"\xff":
            return None
        m = f.read(1)
        while m == b"\xff":  # fill bytes before a marker
            m = f.read(1)
        if not m:
            return None
        marker = m[0]
        if marker in (0xD8, 0x01) or 0xD0 <= marker <= 0xD7:
            continue
        head = f.read(2)
        if len(head) < 2:
            return None
        (length,) = struct.unpack(">H", head)
        if length < 2:
            return None
        if marker in _SOF:
            data = f.read(5)
            if len(data) < 5:
                return None
            h, w = struct.unpack(">HH", data[1:5])
            if w == 0 or h == 0:
                return None
            return (h, w) if orientation in (5, 6, 7, 8) else (w, h)
        if marker == 0xE1 and orientation == 1:
            seg = f.read(length - 2)
            orientation = _exif_orientation(seg)
            continue
        if marker == 0xDA:  # start of scan before any frame header: broken
            return None
        f.seek(length - 2, 1)


def photo_size(path: str | Path) -> tuple[int, int]:
    """(width, height) of a photo from its header, EXIF rotation applied; ImageReadError if not."""
    try:
        with open(path, "rb") as f:
            sig = f.read(8)
            if sig[:2] == b"\xff\xd8":
                size = _jpeg_size(f)
                if size is not None:
                    return size
            elif sig == _PNG:
                f.seek(16)
                data = f.read(8)
                if len(data) == 8:
                    w, h = struct.unpack(">II", data)
                    if w and h:
                        return w, h
    except FileNotFoundError:
        raise ImageReadError(f"file not found: {path}") from None
    except OSError as exc:
        raise ImageReadError(f"cannot read file: {exc}") from None
    return image_size(path)  # other formats, or a header the fast path did not understand


def _looks_truncated(path: str | Path) -> bool:
    """True for a JPEG without its end marker near the end of the file (cheap tail read)."""
    with open(path, "rb") as f:
        if f.read(2) != b"\xff\xd8":
            return False
        f.seek(0, 2)
        n = f.tell()
        f.seek(max(0, n - 64))
        return b"\xff\xd9" not in f.read()


def check_photo(path: str | Path, full_decode: bool = False) -> tuple[int, int]:
    """(width, height) of a photo that can be used; ImageReadError (with reason) when it cannot.

    Default: header parse plus the truncation check (a suspicious JPEG is decoded to be sure).
    ``full_decode=True`` decodes every photo (slow, catches corrupt scan data too).
    """
    size = photo_size(path)
    if full_decode or _looks_truncated(path):
        arr = load_rgb(path)
        size = (arr.shape[1], arr.shape[0])
    return size
