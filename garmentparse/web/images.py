"""Photos in and out: uploads checked by decoding and stored by content hash; served files
only from the upload store and the ingested image roots; mask overlays, thumbnails and crops."""

from __future__ import annotations

import hashlib
import io
import math
import os
import re
import tempfile
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, UnidentifiedImageError

from garmentparse import masks
from garmentparse.draw import draw_instances
from garmentparse.imageio import ImageReadError, load_rgb
from garmentparse.store import GarmentDetail

FORMATS = {"JPEG": "jpg", "PNG": "png", "WEBP": "webp"}  # decoded format -> stored suffix
MAX_PHOTO_BYTES = 20 * 2**20
MAX_PIXELS = 40_000_000  # more than any camera photo; a small file claiming more is a decompression bomb
MIN_SIDE = 32  # pixels: less is no photo of a garment (and breaks the detector's resize)
MAX_ASPECT = 20  # the long side at most this many times the short one
UPLOAD_PATH = re.compile(r"[0-9a-f]{2}/[0-9a-f]{64}\.(?:jpg|png|webp)")  # what store_upload writes


class UploadRejected(ValueError):
    """An upload that is not a photo we accept; the message is for the user."""


@dataclass(frozen=True)
class StoredUpload:
    sha256: str
    path: str  # relative to the upload store
    width: int
    height: int


def store_upload(data: bytes, upload_dir: Path, max_bytes: int = MAX_PHOTO_BYTES, *,
                 size: int | None = None) -> StoredUpload:
    """Check ``data`` by decoding it and keep it as ``<sha256[:2]>/<sha256>.<format>``.

    ``size``: the file's real size when ``data`` was read only up to the limit. The client's
    file name never reaches the disk. :class:`UploadRejected` says why not."""
    if not data:
        raise UploadRejected("The file is empty.")
    size = max(size or 0, len(data))
    if size > max_bytes:
        shown = math.ceil(size / 2**20 * 10) / 10  # rounded up: never "20.0 MiB; at most 20 MiB"
        raise UploadRejected(f"The file is too large ({shown:.1f} MiB; at most {max_bytes // 2**20} MiB).")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data)) as im:
                fmt, (width, height) = im.format, im.size
                if fmt not in FORMATS:
                    raise UploadRejected(f"{fmt} images are not accepted: upload JPEG, PNG or WebP.")
                if width * height > MAX_PIXELS:
                    raise UploadRejected(f"The image claims {width}x{height} pixels: refused as a possible "
                                         f"decompression bomb (at most {MAX_PIXELS // 10**6} megapixels).")
                if min(width, height) < MIN_SIDE or max(width, height) > MAX_ASPECT * min(width, height):
                    raise UploadRejected(f"The image is {width}x{height} pixels: too small or too thin to tag "
                                         f"(each side at least {MIN_SIDE} px, the long side at most "
                                         f"{MAX_ASPECT} times the short one).")
                im.load()
    except UploadRejected:
        raise
    except UnidentifiedImageError:
        raise UploadRejected("This is not an image (JPEG, PNG or WebP), whatever its name says.") from None
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise UploadRejected("The image is too large to decode safely (decompression bomb).") from None
    except (OSError, SyntaxError, ValueError) as exc:
        raise UploadRejected(f"The image cannot be decoded ({exc}).") from None
    sha = hashlib.sha256(data).hexdigest()
    rel = f"{sha[:2]}/{sha}.{FORMATS[fmt]}"
    target = upload_dir / rel
    if not target.is_file():
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=target.parent, suffix=".part")
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        os.replace(tmp, target)
    return StoredUpload(sha, rel, width, height)


def remove_upload(upload: StoredUpload, upload_dir: Path) -> None:
    """Take a stored upload back (its tagging failed: no photo row points at it)."""
    (upload_dir / upload.path).unlink(missing_ok=True)


def is_upload(path: str, upload_dir: Path) -> bool:
    """Is ``path`` a photo of the upload store (named by :func:`store_upload`, and there)?"""
    return UPLOAD_PATH.fullmatch(path) is not None and resolve_photo(path, [upload_dir]) is not None


def image_type(file: Path) -> str | None:
    """The content type of an image file by its decoded header (``image/jpeg``, ...), or ``None``
    when it is not an image, whatever its name says: only images are served."""
    try:
        with Image.open(file) as im:
            mime = Image.MIME.get(im.format or "")
    except (OSError, SyntaxError, ValueError, Image.DecompressionBombError):
        return None
    return mime if mime and mime.startswith("image/") and mime != "image/svg+xml" else None


def resolve_photo(path: str, roots: list[Path]) -> Path | None:
    """The file ``path`` names under one of ``roots``, or ``None``: anything that resolves outside
    every root (``../``, absolute paths, links out) is not served."""
    for root in roots:
        base = root.resolve()
        candidate = (base / path).resolve()
        if candidate.is_relative_to(base) and candidate.is_file():
            return candidate
    return None


def encode_jpeg(image: np.ndarray, quality: int = 85) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(image).save(buf, "JPEG", quality=quality)
    return buf.getvalue()


def _fit(image: np.ndarray, size: int) -> np.ndarray:
    h, w = image.shape[:2]
    scale = size / max(h, w)
    if scale >= 1:
        return image
    return np.array(Image.fromarray(image).resize((max(1, round(w * scale)), max(1, round(h * scale))),
                                                  Image.Resampling.LANCZOS))


def _photo_and_mask(file: Path, detail: GarmentDetail) -> tuple[np.ndarray, np.ndarray | None]:
    image = load_rgb(file)
    mask = masks.decode(detail.mask).astype(bool)
    return image, (mask if mask.shape == image.shape[:2] else None)  # a photo replaced since: no mask


def render(kind: str, file: Path, detail: GarmentDetail, label: str) -> bytes:
    """JPEG bytes of one view of a garment: ``overlay`` (photo, mask tinted, box, label),
    ``thumb`` (box region with the mask, 240 px) or ``crop`` (masked crop, 320 px)."""
    try:
        image, mask = _photo_and_mask(file, detail)
    except ImageReadError as exc:
        raise UploadRejected(str(exc)) from None
    box = list(detail.garment.box)
    if kind == "crop":
        if mask is None:
            mask = np.ones(image.shape[:2], bool)
        return encode_jpeg(masks.masked_crop(image, mask.astype(np.uint8), box, size=320))
    drawn = draw_instances(image, [mask] if mask is not None else [], [box], [label], [detail.garment.part])
    if kind == "overlay":
        return encode_jpeg(_fit(drawn, 900))
    x0, y0, x1, y1 = box
    pad_x, pad_y = (x1 - x0) * 0.08 + 4, (y1 - y0) * 0.08 + 4
    h, w = image.shape[:2]
    region = drawn[max(0, int(y0 - pad_y)):min(h, int(y1 + pad_y)) or h, max(0, int(x0 - pad_x)):min(w, int(x1 + pad_x)) or w]
    return encode_jpeg(_fit(region if region.size else drawn, 240), quality=80)


def render_photo(file: Path, details: Sequence[GarmentDetail], labels: Sequence[str], size: int = 700) -> bytes:
    """JPEG bytes of a photo with every garment of ``details`` drawn (mask tinted, box, label),
    at most ``size`` px on its long side (masks not of the photo's size are left out)."""
    try:
        image = load_rgb(file)
    except ImageReadError as exc:
        raise UploadRejected(str(exc)) from None
    drawn = [(masks.decode(d.mask).astype(bool), d, label) for d, label in zip(details, labels)]
    drawn = [(m, d, label) for m, d, label in drawn if m.shape == image.shape[:2]]
    out = draw_instances(image, [m for m, _, _ in drawn], [list(d.garment.box) for _, d, _ in drawn],
                         [label for *_, label in drawn], [d.garment.part for _, d, _ in drawn])
    return encode_jpeg(_fit(out, size))
