"""Drawing masks, boxes and labels on photos (for `tag --overlays` and `visualize`)."""

from __future__ import annotations

from collections.abc import Sequence

import cv2
import numpy as np

# Fixed colours per part so overlays read the same everywhere (RGB).
PART_COLOURS: dict[str, tuple[int, int, int]] = {
    "outer": (230, 126, 34), "top": (52, 152, 219), "bottom": (46, 204, 113),
    "onepiece": (155, 89, 182),
}
_FALLBACK = [(231, 76, 60), (241, 196, 15), (26, 188, 156), (149, 165, 166), (211, 84, 0)]


def colour_for(name: str) -> tuple[int, int, int]:
    if name in PART_COLOURS:
        return PART_COLOURS[name]
    return _FALLBACK[sum(map(ord, name)) % len(_FALLBACK)]


def draw_instances(
    image: np.ndarray,
    masks: Sequence[np.ndarray],
    boxes: Sequence[Sequence[float]],
    labels: Sequence[str],
    colour_keys: Sequence[str] | None = None,
    alpha: float = 0.45,
) -> np.ndarray:
    """A copy of ``image`` (H, W, 3 RGB) with each mask tinted, its box and its label drawn.

    ``boxes`` are ``[x0, y0, x1, y1]``; ``colour_keys`` (default: ``labels``) pick the colours.
    """
    out = image.copy()
    keys = colour_keys if colour_keys is not None else labels
    thickness = max(1, round(max(image.shape[:2]) / 400))
    scale = max(0.4, max(image.shape[:2]) / 1200)
    for mask, key in zip(masks, keys):
        colour = np.array(colour_for(key), dtype=np.float32)
        sel = mask.astype(bool)
        out[sel] = (out[sel] * (1 - alpha) + colour * alpha).astype(np.uint8)
        contours, _ = cv2.findContours(mask.astype(np.uint8), cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
        cv2.drawContours(out, contours, -1, tuple(int(c) for c in colour), thickness)
    for box, label, key in zip(boxes, labels, keys):
        colour = colour_for(key)
        x0, y0, x1, y1 = (int(round(v)) for v in box)
        cv2.rectangle(out, (x0, y0), (x1, y1), colour, thickness)
        (tw, th), base = cv2.getTextSize(label, cv2.FONT_HERSHEY_SIMPLEX, scale, thickness)
        ty = max(y0, th + base + 2)
        cv2.rectangle(out, (x0, ty - th - base - 2), (x0 + tw + 4, ty), colour, -1)
        cv2.putText(out, label, (x0 + 2, ty - base), cv2.FONT_HERSHEY_SIMPLEX, scale,
                    (255, 255, 255), thickness, cv2.LINE_AA)
    return out


def save_rgb(path, image: np.ndarray) -> None:
    """Write an RGB array as PNG/JPEG (by suffix)."""
    from pathlib import Path

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    ok, data = cv2.imencode(path.suffix or ".png", cv2.cvtColor(image, cv2.COLOR_RGB2BGR))
    if not ok:
        raise OSError(f"could not encode image {path}")
    path.write_bytes(data.tobytes())  # Python, not OpenCV, opens the file: any file name works
