"""Cheap photo checks for converters: size from the header, truncation from the tail.

Reading the size of 1.2 M photos must not decode them. JPEG and PNG headers are parsed here
directly (tens of microseconds); other formats go through :func:`garmentparse.imageio.image_size`.
``check_photo`` also catches the common corruption of a dump — a truncated download — by looking
for the JPEG end marker or the PNG IEND chunk, and confirms with a real decode before calling a
photo undecodable.
"""

from __future__ import annotations

import os
import struct
from pathlib import Path

from garmentparse.imageio import ImageReadError, image_size, load_rgb

_SOF = {0xC0, 0xC1, 0xC2, 0xC3, 0xC5, 0xC6, 0xC7, 0xC9, 0xCA, 0xCB, 0xCD, 0xCE, 0xCF}
_PNG = b"\x89PNG\r\n\x1a\n"
_PNG_END = b"\x00\x00\x00\x00IEND\xaeB`\x82"  # the IEND chunk every complete PNG ends with


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


def _jpeg_size(buf: bytes) -> tuple[int, int] | None:
    """(width, height) after EXIF orientation, walking the JPEG markers in ``buf`` (the file's
    first bytes); None when the frame header is not in ``buf`` or the stream looks wrong."""
    orientation = 1
    i, n = 2, len(buf)
    while i + 4 <= n:
        if buf[i] != 0xFF:
            return None
        while i < n and buf[i] == 0xFF:  # marker prefix and fill bytes
            i += 1
        if i + 3 > n:
            return None
        marker = buf[i]
        i += 1
        if marker in (0xD8, 0x01) or 0xD0 <= marker <= 0xD7:
            continue
        length = (buf[i] << 8) | buf[i + 1]
        if length < 2:
            return None
        if marker in _SOF:
            if i + 7 > n:
                return None
            h = (buf[i + 3] << 8) | buf[i + 4]
            w = (buf[i + 5] << 8) | buf[i + 6]
            if w == 0 or h == 0:
                return None
            return (h, w) if orientation in (5, 6, 7, 8) else (w, h)
        if marker == 0xE1 and orientation == 1:
            orientation = _exif_orientation(buf[i + 2:i + length])
        elif marker == 0xDA:  # start of scan before any frame header: broken
            return None
        i += length
    return None


_HEAD = 1 << 14  # first read; EXIF blocks with thumbnails can push the frame header further


def read_bytes(path: str | Path) -> bytes:
    """A whole small file, with the fewest system calls (no Python file object)."""
    fd = os.open(path, os.O_RDONLY)
    try:
        chunks = []
        while True:
            chunk = os.read(fd, 1 << 20)
            if not chunk:
                return b"".join(chunks)
            chunks.append(chunk)
    finally:
        os.close(fd)


def _tail(fd: int, head: bytes, n: int) -> bytes:
    """The file's last ``n`` bytes (from ``head`` when that is the whole file)."""
    if len(head) < _HEAD:
        return head[-n:]
    return os.pread(fd, n, max(0, os.fstat(fd).st_size - n))


def _probe(path: str | Path, tail: bool) -> tuple[tuple[int, int] | None, bool]:
    """((width, height) or None, truncated?) from one open: header parse and, with ``tail``, the
    JPEG end marker in the last 64 bytes or the PNG IEND chunk in the last 12."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except FileNotFoundError:
        raise ImageReadError(f"file not found: {path}") from None
    except OSError as exc:
        raise ImageReadError(f"cannot read file: {exc}") from None
    try:
        buf = os.pread(fd, _HEAD, 0)
        size = None
        if buf[:2] == b"\xff\xd8":
            size = _jpeg_size(buf)
            if size is None and len(buf) == _HEAD:
                buf += os.pread(fd, 1 << 18, _HEAD)
                size = _jpeg_size(buf)
            if tail:
                return size, b"\xff\xd9" not in _tail(fd, buf, 64)
        elif buf[:8] == _PNG and len(buf) >= 24:
            w, h = struct.unpack(">II", buf[16:24])
            # an eXIf chunk may rotate the photo: let Pillow read the size then
            size = (w, h) if w and h and b"eXIf" not in buf else None
            if tail:
                return size, _tail(fd, buf, 12) != _PNG_END
        return size, False
    except OSError as exc:
        raise ImageReadError(f"cannot read file: {exc}") from None
    finally:
        os.close(fd)


def photo_size(path: str | Path) -> tuple[int, int]:
    """(width, height) of a photo from its header, EXIF rotation applied; ImageReadError if not."""
    size, _ = _probe(path, tail=False)
    return size if size is not None else image_size(path)  # other formats / unusual headers


def check_photo(path: str | Path, full_decode: bool = False) -> tuple[int, int]:
    """(width, height) of a photo that can be used; ImageReadError (with reason) when it cannot.

    Default: header parse plus the truncation check (a JPEG without its end marker is decoded to
    be sure). ``full_decode=True`` decodes every photo (slow, catches corrupt scan data too).
    """
    size, truncated = _probe(path, tail=True)
    if size is None:
        size = image_size(path)
    if full_decode or truncated:
        arr = load_rgb(path)
        size = (arr.shape[1], arr.shape[0])
    return size
