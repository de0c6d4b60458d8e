"""Image reading that real photo folders need: EXIF orientation, odd modes, clear errors."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".webp", ".bmp")


class ImageReadError(Exception):
    """An image file that cannot be decoded; the message says why."""


def find_images(root: str | Path) -> list[Path]:
    """Image files under ``root`` (recursive, suffix case-insensitive), sorted."""
    root = Path(root)
    if root.is_file():
        return [root]
    return sorted(p for p in root.rglob("*") if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES)


def load_rgb(path: str | Path, exif: bool = True) -> np.ndarray:
    """(H, W, 3) uint8 RGB array of an image file.

    Applies EXIF orientation (``exif=True``) and converts grayscale, palette, CMYK and alpha
    images to RGB (alpha composited on white). Raises :class:`ImageReadError` with the reason.
    """
    try:
        with Image.open(path) as im:
            im.load()
            if exif:
                im = ImageOps.exif_transpose(im)
            if im.mode in ("RGBA", "LA") or (im.mode == "P" and "transparency" in im.info):
                im = im.convert("RGBA")
                bg = Image.new("RGBA", im.size, (255, 255, 255, 255))
                im = Image.alpha_composite(bg, im)
            return np.array(im.convert("RGB"))  # a writable copy (asarray is read-only)
    except FileNotFoundError:
        raise ImageReadError(f"file not found: {path}") from None
    except UnidentifiedImageError:
        raise ImageReadError("not an image or unsupported format") from None
    except (OSError, SyntaxError, ValueError) as exc:  # truncated / corrupt data
        raise ImageReadError(f"cannot decode image: {exc}") from None


def image_size(path: str | Path) -> tuple[int, int]:
    """(width, height) from the file header, without decoding pixels (EXIF rotation applied)."""
    try:
        with Image.open(path) as im:
            w, h = im.size
            orientation = im.getexif().get(0x0112, 1)
    except FileNotFoundError:
        raise ImageReadError(f"file not found: {path}") from None
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as exc:
        raise ImageReadError(f"cannot read image header: {exc}") from None
    return (h, w) if orientation in (5, 6, 7, 8) else (w, h)
