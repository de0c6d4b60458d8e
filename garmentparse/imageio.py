"""Image reading that real photo folders need: EXIF orientation, odd modes, clear errors."""

from __future__ import annotations

import os
from pathlib import Path
from typing import BinaryIO

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

# TIFF: studio product photography is often delivered as (16-bit) TIFF
IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".webp", ".bmp", ".tif", ".tiff")


class ImageReadError(Exception):
    """An image file that cannot be decoded; the message says why."""


def find_images(root: str | Path) -> list[Path]:
    """Image files under ``root`` (recursive, suffix case-insensitive), sorted.

    A link whose target is gone is listed too: reading it fails with the reason, so a batch
    command reports it instead of the photo silently disappearing from the run."""
    root = Path(root)
    if root.is_file():
        return [root]
    return sorted(p for p in root.rglob("*")
                  if p.suffix.lower() in IMAGE_SUFFIXES and (p.is_file() or (p.is_symlink() and not p.exists())))


def has_images(root: str | Path) -> bool:
    """Whether ``root`` is an image file or a folder with at least one (stops at the first: a
    quick check before loading models for a folder of a million photos)."""
    root = Path(root)
    if root.is_file():
        return root.suffix.lower() in IMAGE_SUFFIXES
    for _, _, files in os.walk(root, followlinks=True):
        if any(os.path.splitext(f)[1].lower() in IMAGE_SUFFIXES for f in files):
            return True
    return False


def printable(text: str) -> str:
    """``text`` that JSON and CSV can hold: bytes of a file name that are not UTF-8 (names from
    old Korean tools) are written as ``\\xNN`` instead of breaking the writer."""
    return text.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")


def display_path(path: Path) -> str:
    """``path`` in POSIX form, :func:`printable`."""
    return printable(path.as_posix())


def load_rgb(path: str | Path | BinaryIO, exif: bool = True) -> np.ndarray:
    """(H, W, 3) uint8 RGB array of an image file (or of an open binary file: bytes already read).

    Applies EXIF orientation (``exif=True``) and converts grayscale, palette, CMYK and alpha
    images to RGB (alpha composited on white). Raises :class:`ImageReadError` with the reason.
    """
    try:
        with Image.open(path) as im:
            im.load()
            if exif:
                im = ImageOps.exif_transpose(im)
            if im.mode in ("I", "F") or im.mode.startswith("I;16"):
                return _deep_to_rgb(im)
            if im.mode in ("RGBA", "LA", "PA") or "transparency" in im.info:
                im = im.convert("RGBA")
                bg = Image.new("RGBA", im.size, (255, 255, 255, 255))
                im = Image.alpha_composite(bg, im)
            return np.array(im.convert("RGB"))  # a writable copy (asarray is read-only)
    except FileNotFoundError:
        raise ImageReadError(_missing(path)) from None
    except UnidentifiedImageError:
        raise ImageReadError("not an image or unsupported format") from None
    except Image.DecompressionBombError as exc:
        raise ImageReadError(f"image too large to decode safely: {exc}") from None
    except (OSError, SyntaxError, ValueError) as exc:  # truncated / corrupt data
        raise ImageReadError(f"cannot decode image: {exc}") from None


def _missing(path: str | Path) -> str:
    """Why a file that was listed cannot be opened: gone, or a link to nothing."""
    if Path(path).is_symlink():
        return f"broken link: {path} -> {Path(path).readlink()} (target missing)"
    return f"file not found: {path}"


def _deep_to_rgb(im: Image.Image) -> np.ndarray:
    """16-bit / 32-bit grayscale to 8-bit RGB by scaling, not clipping (Pillow's ``convert``
    clips at 255, which turns a 16-bit photo white)."""
    arr = np.asarray(im, dtype=np.float64)
    if im.mode == "F":
        top = 1.0 if arr.size and np.nanmax(arr) <= 1.0 else 255.0
    else:  # I;16* always, and "I" as Pillow opens 16-bit PNGs
        top = 65535.0 if im.mode.startswith("I;16") or (arr.size and arr.max() > 255) else 255.0
    gray = np.clip(np.nan_to_num(arr) * (255.0 / top) + 0.5, 0, 255).astype(np.uint8)
    return np.repeat(gray[:, :, None], 3, axis=2)


def image_size(path: str | Path) -> tuple[int, int]:
    """(width, height) from the file header, without decoding pixels (EXIF rotation applied)."""
    try:
        with Image.open(path) as im:
            w, h = im.size
            orientation = im.getexif().get(0x0112, 1)
    except FileNotFoundError:
        raise ImageReadError(f"file not found: {path}") from None
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError, Image.DecompressionBombError) as exc:
        raise ImageReadError(f"cannot read image header: {exc}") from None
    return (h, w) if orientation in (5, 6, 7, 8) else (w, h)
