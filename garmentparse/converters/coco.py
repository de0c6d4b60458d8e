"""COCO plumbing shared by the converters and dataset tools: categories, load/save, streaming."""

from __future__ import annotations

import io
import json
import os
import shutil
import tempfile
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any, Literal, TextIO

from garmentparse import vocab

from .fastjson import dumps

Classes = Literal["part", "category"]
CocoDict = dict[str, Any]


def coco_categories(classes: Classes = "part") -> list[dict[str, Any]]:
    """COCO ``categories``: the 4 parts (ids 1..4) or the 21 fine categories (ids 1..21)."""
    if classes == "part":
        return [{"id": i, "name": p, "supercategory": "garment"} for i, p in enumerate(vocab.PARTS, 1)]
    if classes == "category":
        return [{"id": i, "name": c, "supercategory": vocab.CATEGORY_PART[c]}
                for i, c in enumerate(vocab.CATEGORY_PART, 1)]
    raise ValueError(f"unknown classes {classes!r}: use 'part' or 'category'")


def category_ids(classes: Classes = "part") -> dict[str, int]:
    """English name -> COCO category id for ``classes``."""
    return {c["name"]: c["id"] for c in coco_categories(classes)}


def coco_info(description: str, classes: Classes, **extra: Any) -> dict[str, Any]:
    return {"description": description, "classes": classes, "tool": "garmentparse", **extra}


def load_coco(coco: CocoDict | str | Path, *, need_images: bool = True) -> CocoDict:
    """A COCO dict from a dict (returned as is) or a JSON file: the package's one COCO loader
    (``garmentparse.parsing`` wraps its result into a pycocotools ``COCO``). A file that is missing, not
    JSON, or not a COCO dataset (e.g. a results list from ``predict``) is a ValueError /
    FileNotFoundError that names it. ``need_images=False`` accepts any JSON object (for
    ``validate``, which reports what is wrong inside)."""
    if isinstance(coco, dict):
        return coco
    path = Path(coco)
    if not path.is_file():
        raise FileNotFoundError(f"COCO file not found: {path}")
    try:
        with open(path, "rb") as f:
            data = json.load(f)
    except (ValueError, UnicodeDecodeError) as exc:
        raise ValueError(f"{path}: not a JSON file ({exc})") from None
    if isinstance(data, list):
        raise ValueError(f"{path}: a JSON list (a COCO *results* file, as `predict` writes), "
                         "not a COCO dataset with images/annotations/categories")
    if not isinstance(data, dict) or (need_images and not isinstance(data.get("images"), list)):
        keys = list(data)[:8] if isinstance(data, dict) else type(data).__name__
        raise ValueError(f"{path}: not a COCO dataset (no 'images' list; found {keys})")
    return data


def save_coco(coco: CocoDict, path: str | Path) -> None:
    """Write a COCO dict as compact UTF-8 JSON, atomically (temp file + rename)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".tmp-", suffix=".json", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            json.dump(coco, f, ensure_ascii=False, separators=(",", ":"))
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


class CocoStreamWriter:
    """Writes a COCO dataset piece by piece, to a file or to memory, so the same writer serves
    :func:`~garmentparse.converters.convert_kfashion_to_file` and the in-memory ``convert_kfashion``.

    To a file (``path``): images and annotations go to two temporary files next to ``path`` as
    they arrive, so memory does not grow with the corpus; ``close`` joins header, categories,
    images, annotations into ``path`` (atomic rename). In memory (:meth:`in_memory`): the same
    text is kept in buffers and ``close`` then :meth:`dataset` give the parsed dict, identical
    to loading the file. Annotations may be given as dicts or as pre-serialised JSON *fragments*
    (an object's text without its opening ``{``), which lets worker processes do the
    serialisation.
    """

    def __init__(self, path: str | Path | None, header: dict[str, Any], categories: list[dict[str, Any]]):
        self.path = None if path is None else Path(path)
        self.header = header
        self.categories = categories
        self._dir: str | None = None
        self._images: TextIO
        self._anns: TextIO
        if self.path is None:
            self._images, self._anns = io.StringIO(), io.StringIO()
        else:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._dir = tempfile.mkdtemp(prefix=".coco-", dir=self.path.parent)
            self._images = open(os.path.join(self._dir, "images"), "w", encoding="utf-8")
            self._anns = open(os.path.join(self._dir, "annotations"), "w", encoding="utf-8")
        self._text: str | None = None
        self.n_images = 0
        self.n_annotations = 0

    @classmethod
    def in_memory(cls, header: dict[str, Any], categories: list[dict[str, Any]]) -> CocoStreamWriter:
        """A writer that keeps the dataset in memory; read it with :meth:`dataset` after ``close``."""
        return cls(None, header, categories)

    def add_image(self, image: dict[str, Any]) -> None:
        self._images.write(("," if self.n_images else "") + dumps(image))
        self.n_images += 1

    def add_annotation(self, ann: dict[str, Any]) -> None:
        self._anns.write(("," if self.n_annotations else "") + dumps(ann))
        self.n_annotations += 1

    def add_annotation_fragment(self, ann_id: int, image_id: int, fragment: str) -> None:
        """Add ``{"id": ann_id, "image_id": image_id, <fragment>``; fragment ends with ``}``."""
        sep = "," if self.n_annotations else ""
        self._anns.write(f'{sep}{{"id":{ann_id},"image_id":{image_id},{fragment}')
        self.n_annotations += 1

    def add_annotation_fragments(self, image_id: int, fragments: list[str]) -> None:
        """:meth:`add_annotation_fragment` for several annotations of one image (ids following
        on), in one write."""
        if not fragments:
            return
        n = self.n_annotations
        text = ",".join(f'{{"id":{n + i},"image_id":{image_id},{frag}' for i, frag in enumerate(fragments, 1))
        self._anns.write(("," if n else "") + text)
        self.n_annotations = n + len(fragments)

    def _parts(self) -> Iterator[str | TextIO]:
        """The dataset's text in order: strings, and the two spools (buffers or closed files)."""
        head = json.dumps(self.header, ensure_ascii=False)[:-1]  # drop the closing brace
        yield head + ("," if self.header else "")
        yield '"categories":' + json.dumps(self.categories, ensure_ascii=False)
        for key, spool in ((',"images":[', self._images), ('],"annotations":[', self._anns)):
            yield key
            yield spool
        yield "]}"

    def close(self) -> Path | None:
        """Finish the dataset: the file's path, or None in memory (then see :meth:`dataset`)."""
        if self.path is None:
            self._text = "".join(p if isinstance(p, str) else p.getvalue() for p in self._parts())
            self.abort()
            return None
        self._images.close()
        self._anns.close()
        tmp = self.path.with_name(f".{self.path.name}.tmp")
        with open(tmp, "wb") as out:  # the spools are UTF-8 already: copied as bytes, not re-encoded
            for part in self._parts():
                if isinstance(part, str):
                    out.write(part.encode("utf-8"))
                else:
                    with open(part.name, "rb") as f:
                        shutil.copyfileobj(f, out, 1 << 20)
        os.replace(tmp, self.path)
        self.abort()
        return self.path

    def dataset(self) -> CocoDict:
        """The finished in-memory dataset as a COCO dict (after ``close``)."""
        if self._text is None:
            raise RuntimeError("dataset() needs an in-memory writer that was closed")
        return json.loads(self._text)

    def abort(self) -> None:
        """Drop what was written so far (temporary files or buffers)."""
        for f in (self._images, self._anns):
            f.close()
        if self._dir is not None:
            shutil.rmtree(self._dir, ignore_errors=True)

    def __enter__(self) -> CocoStreamWriter:
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type is None:
            self.close()
        else:
            self.abort()


def annotations_by_image(coco: CocoDict) -> dict[int, list[dict[str, Any]]]:
    """image id -> its annotations (every image present, possibly with an empty list)."""
    out: dict[int, list[dict[str, Any]]] = {img["id"]: [] for img in coco.get("images", [])}
    for ann in coco.get("annotations", []):
        out.setdefault(ann["image_id"], []).append(ann)
    return out


def category_names(coco: CocoDict) -> dict[int, str]:
    """COCO category id -> category name, for every entry of the dataset's ``categories``.

    (``garmentparse.parsing.data.category_names`` is a different helper: sorted ids and names
    of a pycocotools ``COCO`` object, for model label numbering.)"""
    return {c["id"]: c["name"] for c in coco.get("categories", [])}


def category_ids_and_names(coco: CocoDict) -> tuple[list[int], list[str]]:
    """Category ids in ascending order and their names (``str``), position for position: what a
    model numbers its classes by (label ``i + 1`` is category ``ids[i]``). ValueError when the
    dataset has no categories."""
    cats = sorted(coco.get("categories", []), key=lambda c: c["id"])
    if not cats:
        raise ValueError("COCO file has no categories")
    return [c["id"] for c in cats], [str(c["name"]) for c in cats]


def subset(coco: CocoDict, image_ids: Iterable[int]) -> CocoDict:
    """A COCO dict with only ``image_ids`` and their annotations (categories kept)."""
    keep = set(image_ids)
    out = {k: v for k, v in coco.items() if k not in ("images", "annotations")}
    out["images"] = [im for im in coco.get("images", []) if im["id"] in keep]
    out["annotations"] = [a for a in coco.get("annotations", []) if a["image_id"] in keep]
    return out
