"""Which photo belongs to which label: label files walked in a stable order, photos found by
the label's stem, its ``이미지 파일명``, or the folder path they share; sizes reconciled."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

from garmentparse.imageio import IMAGE_SUFFIXES

from .labels import LabelImageInfo
from .reasons import IssueLog


def iter_label_files(labels_dir: str | Path) -> Iterator[str]:
    """Label paths (``*.json``, case-insensitive) relative to ``labels_dir``, sorted, streamed."""
    root = str(labels_dir)
    if os.path.isfile(root):
        yield os.path.basename(root)
        return
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames.sort()
        rel = os.path.relpath(dirpath, root)
        for name in sorted(filenames):
            if name.lower().endswith(".json") and not name.startswith("."):
                yield name if rel == "." else os.path.join(rel, name)


class PhotoIndex:
    """Photos under a folder, found by stem (``1234``) or name; ambiguity resolved by folder."""

    def __init__(self, images_dir: str | Path):
        self.root = str(images_dir)
        self.by_stem: dict[str, str | list[str]] = {}
        for dirpath, dirnames, filenames in os.walk(self.root):
            dirnames.sort()
            rel = os.path.relpath(dirpath, self.root)
            for name in sorted(filenames):
                stem, ext = os.path.splitext(name)
                if ext.lower() not in IMAGE_SUFFIXES or name.startswith("."):
                    continue
                path = name if rel == "." else os.path.join(rel, name)
                old = self.by_stem.get(stem)
                if old is None:
                    self.by_stem[stem] = path
                elif isinstance(old, list):
                    old.append(path)
                else:
                    self.by_stem[stem] = [old, path]

    def __len__(self) -> int:
        return sum(len(v) if isinstance(v, list) else 1 for v in self.by_stem.values())

    def __iter__(self) -> Iterator[str]:
        for v in self.by_stem.values():
            yield from (v if isinstance(v, list) else (v,))

    def match(self, stem: str, near: str = "", name: str | None = None) -> str | None:
        """Photo with this ``stem``; among several, the one named ``name`` or in folder ``near``."""
        found = self.by_stem.get(stem)
        if found is None or isinstance(found, str):
            return found
        if name:
            for p in found:
                if os.path.basename(p) == name:
                    return p
        # the photo whose folder path ends like the label's (labels/street/x.json ->
        # images/street/x.jpg, whatever the roots are called); the first one on a tie
        want = near.split(os.sep)[::-1] if near else []

        def shared_tail(p: str) -> int:
            have = os.path.dirname(p).split(os.sep)[::-1]
            n = 0
            while n < min(len(want), len(have)) and want[n] == have[n]:
                n += 1
            return n + (os.path.dirname(p) == near)  # an exact folder match wins outright

        return max(found, key=shared_tail)

    def match_label(self, label_rel: str) -> str | None:
        """The photo of a label by the label's own stem (and folder)."""
        stem = os.path.splitext(os.path.basename(label_rel))[0]
        return self.match(stem, os.path.dirname(label_rel))

    def match_name(self, file_name: str, label_rel: str) -> str | None:
        """The photo of a label by its ``이미지 파일명`` (and the label's folder)."""
        base = os.path.basename(file_name.replace("\\", "/"))
        return self.match(os.path.splitext(base)[0], os.path.dirname(label_rel), base)


def photo_scale(info: LabelImageInfo, width: int, height: int, log: IssueLog,
                aspect_tolerance: float = 0.01) -> tuple[float, float] | None:
    """How label coordinates map onto a ``width`` x ``height`` photo.

    ``(1.0, 1.0)`` when the label gives no size or the same one; the per-axis ratio when only the
    resolution differs (``size_mismatch_rescaled``); None when the aspect ratio differs by more
    than ``aspect_tolerance`` too (``size_mismatch_skipped``: the label cannot be used).
    """
    if not (info.width and info.height) or (info.width, info.height) == (width, height):
        return (1.0, 1.0)
    sizes = f"label {info.width}x{info.height}, photo {width}x{height}"
    ratio_label, ratio_photo = info.width / info.height, width / height
    if abs(ratio_label - ratio_photo) / ratio_photo <= aspect_tolerance:
        log.add("size_mismatch_rescaled", sizes, "rescaled")
        return (width / info.width, height / info.height)
    log.add("size_mismatch_skipped", sizes + " (aspect ratio differs)")
    return None
