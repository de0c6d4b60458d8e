"""The map of the collection (``serve --embeddings EMB/``): the garments of the embedding folder
as points of a PCA map, coloured by the part or an attribute, thumbnails spread over it, each
point linking to the garment's page in the catalogue."""

from __future__ import annotations

from dataclasses import dataclass

from fastapi import APIRouter, Depends, HTTPException, Request
from fastapi.responses import RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from garmentparse.embeddings.folder import Item
from garmentparse.embeddings.pictures import NONE, OTHER
from garmentparse.embeddings.projection import spread_sample, unit_square
from garmentparse.store import UserInfo
from garmentparse.web import i18n, params  # noqa: F401  (params: the {name:id} path convertor)
from garmentparse.web.images import encode_jpeg
from garmentparse.web.security import current_user
from garmentparse.web.similar import SimilarGarments
from garmentparse.web.templating import lang_of, render

router = APIRouter()
VIEW = 1000  # side of the SVG's view box
THUMB = 64  # thumbnail side in view-box units (and twice that in pixels served)
MAX_CELLS = 7  # thumbnails: one per occupied cell of a grid of at most 7 x 7 (fewer for small collections)
PAD = THUMB / 2 + 4  # keeps edge thumbnails and their frames inside the view box


@dataclass
class MapPoint:
    id: int  # item row of the embedding folder
    x: float
    y: float
    colour: str  # "#rrggbb"
    title: str  # item key and its label, shown on hover


@dataclass
class LegendEntry:
    name: str  # in the page's language
    colour: str
    count: int


def _hex(rgb: tuple[int, int, int]) -> str:
    return "#{:02x}{:02x}{:02x}".format(*rgb)


def _similar(request: Request) -> SimilarGarments:
    similar = getattr(request.app.state, "similar", None)
    if similar is None:
        raise HTTPException(404, "No map: start the app with --embeddings EMB/ "
                                 "(an embedding folder made from the catalogue's tag output).")
    return similar


def _legend_name(field: str, key: str, lang: str) -> str:
    if key == OTHER:
        return i18n.text("map_other", lang)
    if key == NONE:
        return i18n.text("none", lang)
    return i18n.label(field, key, lang)


@router.get("/map")
async def map_page(request: Request, color: str = "part", user: UserInfo = Depends(current_user)):
    similar = _similar(request)
    fields = similar.map_fields
    if color not in fields:
        raise HTTPException(400, f"The map cannot be coloured by {color!r}: use one of {', '.join(fields)}.")
    points = await run_in_threadpool(similar.map, color)
    lang = lang_of(request)
    xy = PAD + unit_square(points.coords) * (VIEW - 2 * PAD)
    items = similar.index.folder.items
    drawn = [MapPoint(int(i), round(float(x), 1), round(float(y), 1), _hex(points.colours[key]),
                      f"{items[int(i)].key} · {_legend_name(color, key, lang)}")
             for i, (x, y), key in zip(points.ids, xy, points.keys)]
    cells = min(MAX_CELLS, max(3, round(len(drawn) ** 0.5 / 2)))
    thumbs = [drawn[j] for j in spread_sample(xy, cells, origin=0.0, extent=VIEW)]
    counts = points.counts
    legend = [LegendEntry(_legend_name(color, key, lang), _hex(rgb), counts.get(key, 0))
              for key, rgb in points.colours.items()]
    return render(request, "map.html", user=user, points=drawn, thumbs=thumbs, legend=legend, fields=fields,
                  color=color, total=points.total, view=VIEW, thumb=THUMB,
                  radius=5 if len(drawn) <= 1_000 else 3, level=similar.index.folder.manifest.level)


def _item(similar: SimilarGarments, item_id: int) -> Item:
    items = similar.index.folder.items
    if not 0 <= item_id < len(items):
        raise HTTPException(404, f"No item {item_id} in the embedding folder.")
    return items[item_id]


@router.get("/map/items/{item_id:id}")
def map_item(request: Request, item_id: int, user: UserInfo = Depends(current_user)):
    """A point of the map: the garment's page in the catalogue."""
    similar = _similar(request)
    item = _item(similar, item_id)
    garment = similar.garment_of(item)
    if garment is None:
        raise HTTPException(404, f"{item.key} of the embedding folder is not in the catalogue "
                                 "(was the folder made from the tag output that was ingested?).")
    return RedirectResponse(f"/garments/{garment.id}", 303)


@router.get("/map/items/{item_id:id}/thumb.jpg")
async def map_thumbnail(request: Request, item_id: int, user: UserInfo = Depends(current_user)):
    similar = _similar(request)
    item = _item(similar, item_id)
    picture = await run_in_threadpool(similar.index.folder.thumbnail, item, 2 * THUMB)
    if picture is None:
        raise HTTPException(404, f"The picture of {item.key} cannot be read.")
    return Response(encode_jpeg(picture), media_type="image/jpeg", headers={"Cache-Control": "private, max-age=3600"})
