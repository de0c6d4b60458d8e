"""Similar garments on a garment's page and a map of the collection: an embedding folder made
from the same tag output as the catalogue (``serve --embeddings EMB/``). A catalogue garment is
found in the folder by its photo and box, its neighbours (same part, own photo left out) back in
the catalogue the same way."""

from __future__ import annotations

from functools import cached_property
from pathlib import Path

from garmentparse.embeddings import SimilarityIndex
from garmentparse.embeddings.folder import FIELDS, Item
from garmentparse.embeddings.projection import MapPoints, map_points
from garmentparse.store import GalleryFilter, NotFound, Store
from garmentparse.store.records import GarmentSummary

BOX_TOLERANCE = 0.5  # pixels: boxes are rounded to 0.1 px in items.csv and 0.01 px in tag output
MAP_POINTS = 3_000  # a map page draws at most this many garments (a random sample past that)


def _same_box(a: list[float] | tuple[float, ...] | None, b: list[float] | tuple[float, ...]) -> bool:
    return a is not None and all(abs(x - y) <= BOX_TOLERANCE for x, y in zip(a, b))


class SimilarGarments:
    """Neighbours of catalogue garments, from an embedding folder of the catalogue's tag output."""

    def __init__(self, folder: str | Path, store: Store, k: int = 8) -> None:
        self.index = SimilarityIndex.open(folder)
        self.store = store
        self.k = min(k, len(self.index) - 1)
        self.by_photo: dict[str, list[Item]] = {}
        for item in self.index.folder.items:
            self.by_photo.setdefault(item.photo, []).append(item)

    @cached_property
    def map_fields(self) -> list[str]:
        """What a map can be coloured by: the part and every attribute some item has (found once)."""
        items = self.index.folder.items
        return [f for f in FIELDS if f == "part" or any(it.label(f) for it in items)]

    @cached_property
    def _projection(self) -> MapPoints:
        return map_points(self.index.folder, max_points=MAP_POINTS)

    def map(self, color_by: str) -> MapPoints:
        """The collection's PCA map (projected once) coloured by ``color_by``."""
        return self._projection.recoloured(self.index.folder, color_by)

    def item_of(self, garment: GarmentSummary) -> Item | None:
        return next((it for it in self.by_photo.get(garment.photo_path, []) if _same_box(it.box, garment.box)), None)

    def garment_of(self, item: Item) -> GarmentSummary | None:
        try:
            photo = self.store.photo_by_path(item.photo)
        except NotFound:
            return None
        return next((g for g in self.store.gallery(GalleryFilter(photo_id=photo.id), limit=200).items
                     if _same_box(item.box, g.box)), None)

    def of(self, garment: GarmentSummary) -> list[tuple[GarmentSummary, float]]:
        """Up to ``k`` catalogue garments most like ``garment`` (same part), with their cosine."""
        item = self.item_of(garment)
        if item is None or self.k < 1:
            return []
        found = [(self.garment_of(n.item), n.score) for n in self.index.search(item.id, self.k, same=("part",)).neighbours]
        return [(g, score) for g, score in found if g is not None]
