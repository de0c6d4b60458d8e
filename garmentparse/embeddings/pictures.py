"""Pictures of a collection: class colours with a legend, text, thumbnails on a canvas (OpenCV)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence

import cv2
import numpy as np

from garmentparse.draw import PART_COLOURS

# 20 distinguishable colours (RGB; Tableau 20 order, dark shades first)
PALETTE: list[tuple[int, int, int]] = [
    (31, 119, 180), (255, 127, 14), (44, 160, 44), (214, 39, 40), (148, 103, 189), (140, 86, 75),
    (227, 119, 194), (127, 127, 127), (188, 189, 34), (23, 190, 207), (174, 199, 232), (255, 187, 120),
    (152, 223, 138), (255, 152, 150), (197, 176, 213), (196, 156, 148), (247, 182, 210), (219, 219, 141),
    (158, 218, 229), (57, 59, 121),
]
NONE_COLOUR = (200, 200, 200)
OTHER = "(other)"
NONE = "(none)"
FONT = cv2.FONT_HERSHEY_SIMPLEX


def class_colours(values: Sequence[str], limit: int = len(PALETTE) - 1,
                  parts: bool = False) -> dict[str, tuple[int, int, int]]:
    """A colour per value, most frequent first; past ``limit`` values they share ``(other)``.
    ``parts``: the values are parts, drawn in their overlay colours. A missing value ("") is
    ``(none)`` in light gray."""
    counts = Counter(v for v in values if v)
    colours: dict[str, tuple[int, int, int]] = {}
    palette = iter(PALETTE)
    for value, _ in counts.most_common(limit):
        colours[value] = (PART_COLOURS.get(value) if parts else None) or next(palette)
    if len(counts) > limit:
        colours[OTHER] = (90, 90, 90)
    if any(not v for v in values):
        colours[NONE] = NONE_COLOUR
    return colours


def colour_key(value: str, colours: dict[str, tuple[int, int, int]]) -> str:
    if not value:
        return NONE
    return value if value in colours else OTHER


def put_text(canvas: np.ndarray, text: str, org: tuple[int, int], scale: float = 0.5,
             colour: tuple[int, int, int] = (30, 30, 30), thickness: int = 1) -> None:
    """ASCII text (labels are English ids) at ``org`` (left, baseline)."""
    safe = text.encode("ascii", "replace").decode("ascii")
    cv2.putText(canvas, safe, org, FONT, scale, colour, thickness, cv2.LINE_AA)


def paste(canvas: np.ndarray, image: np.ndarray, centre: tuple[int, int],
          border: tuple[int, int, int] | None = None) -> None:
    """Put ``image`` on ``canvas`` centred at ``centre`` (clipped at the edges), framed by ``border``."""
    h, w = image.shape[:2]
    x0, y0 = int(centre[0] - w // 2), int(centre[1] - h // 2)
    cx0, cy0 = max(0, x0), max(0, y0)
    cx1, cy1 = min(canvas.shape[1], x0 + w), min(canvas.shape[0], y0 + h)
    if cx1 <= cx0 or cy1 <= cy0:
        return
    canvas[cy0:cy1, cx0:cx1] = image[cy0 - y0:cy1 - y0, cx0 - x0:cx1 - x0]
    if border is not None:
        cv2.rectangle(canvas, (cx0, cy0), (cx1 - 1, cy1 - 1), border, 2)


def draw_legend(canvas: np.ndarray, colours: dict[str, tuple[int, int, int]], counts: Counter,
                origin: tuple[int, int], title: str) -> None:
    """Swatches with their value and count, one per line, below ``title``."""
    x, y = origin
    put_text(canvas, title, (x, y), 0.55, thickness=2)
    for value, colour in colours.items():
        y += 24
        cv2.rectangle(canvas, (x, y - 12), (x + 14, y + 2), colour, -1)
        put_text(canvas, f"{value} ({counts.get(value, 0)})", (x + 22, y), 0.45)


__all__ = ["NONE", "OTHER", "PALETTE", "class_colours", "colour_key", "draw_legend", "paste", "put_text"]
