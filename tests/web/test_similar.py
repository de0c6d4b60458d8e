"""``serve --embeddings EMB/``: a garment's page shows its similar garments of the catalogue, and
``/map`` draws the collection with every point leading to its garment."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from garmentparse.embeddings import EmbeddingFolder, embed
from garmentparse.web import create_app
from tests.store.conftest import tag_lines, write_tag_output

from .conftest import CCP, Client


@pytest.fixture(scope="module")
def catalogue_emb(tmp_path_factory, ccp_coco_dict, classifier_run) -> Path:
    """An embedding folder of the same tag output the catalogue ingested."""
    root = tmp_path_factory.mktemp("catalogue-emb")
    tags = write_tag_output(root / "same-run" / "results.jsonl", tag_lines(ccp_coco_dict))
    embed(tags, classifier_run / "model.pt", root / "emb", images=CCP / "images", device="cpu")
    return root / "emb"


def test_garment_page_shows_similar_garments_of_the_same_part(db_url, catalogue_emb, tmp_path):
    app = create_app(db_url, secret="s", upload_dir=tmp_path / "uploads", embeddings=catalogue_emb)
    store = app.state.store
    mina = Client(app, "mina")
    everything = store.gallery(limit=200).items
    for garment in everything[:3]:
        html = mina.get(f"/garments/{garment.id}").text
        assert 'class="similar"' in html, html[-2000:]
        shown = [int(i) for i in re.findall(r'<li><a href="/garments/(\d+)"', html.split('class="similar"')[1])]
        candidates = [g for g in everything if g.part == garment.part and g.photo_path != garment.photo_path]
        assert len(shown) == min(8, len(candidates)) > 0 and garment.id not in shown
        for other in (store.garment(i).garment for i in shown):
            assert other.part == garment.part and other.photo_path != garment.photo_path
        assert mina.get(f"/garments/{shown[0]}/crop.jpg").status_code == 200
    plain = create_app(db_url, secret="s", upload_dir=tmp_path / "uploads")
    assert 'class="similar"' not in Client(plain, "mina").get(f"/garments/{garment.id}").text
    app.state.store.close()
    plain.state.store.close()


def test_map_page_draws_every_garment_and_each_point_opens_it(db_url, catalogue_emb, tmp_path):
    folder = EmbeddingFolder.open(catalogue_emb)
    app = create_app(db_url, secret="s", upload_dir=tmp_path / "uploads", embeddings=catalogue_emb)
    store = app.state.store
    vic = Client(app, "vic")  # a viewer may look
    html = vic.get("/gallery").text
    assert 'href="/map"' in html

    page = vic.get("/map")
    assert page.status_code == 200
    points = re.findall(r'<a href="/map/items/(\d+)"><circle cx="([\d.]+)" cy="([\d.]+)" r="\d+" fill="(#[0-9a-f]{6})">'
                        r'<title>([^<]*)</title>', page.text)
    assert sorted(int(p[0]) for p in points) == list(range(len(folder)))  # every garment once
    xs, ys = [float(p[1]) for p in points], [float(p[2]) for p in points]
    assert 0 <= min(xs) < max(xs) <= 1000 and 0 <= min(ys) < max(ys) <= 1000
    legend = dict(re.findall(r'<span class="swatch" style="background: (#[0-9a-f]{6})"></span>([^<]+) <small>', page.text))
    parts = {item.part for item in folder.items}
    assert set(v.strip() for v in legend.values()) == parts
    for item_id, _, _, colour, title in points:  # a point's colour is its part's in the legend
        item = folder.items[int(item_id)]
        assert legend[colour].strip() == item.part and title.startswith(item.key)

    for item_id in (0, len(folder) - 1):  # a point opens its garment: same photo, same box
        item = folder.items[item_id]
        response = vic.get(f"/map/items/{item_id}", follow_redirects=False)
        assert response.status_code == 303
        garment = store.garment(int(response.headers["location"].rsplit("/", 1)[1])).garment
        assert garment.photo_path == item.photo
        assert all(abs(a - b) <= 0.5 for a, b in zip(garment.box, item.box))
    thumbs = re.findall(r'<image href="/map/items/(\d+)/thumb.jpg"', page.text)
    assert 1 <= len(thumbs) <= 49
    picture = vic.get(f"/map/items/{thumbs[0]}/thumb.jpg")
    assert picture.status_code == 200 and picture.content[:2] == b"\xff\xd8"

    by_category = vic.get("/map?color=category")  # any head the folder has; Korean labels when asked
    assert by_category.status_code == 200 and "<circle" in by_category.text
    categories = {item.label("category") for item in folder.items}
    shown = {v.strip() for v in re.findall(r'</span>([^<]+) <small>', by_category.text)}
    assert shown <= categories | {"(other)", "none"} and shown & categories
    bad = vic.get("/map?color=nonsense")
    assert bad.status_code == 400 and "cannot be coloured by" in bad.text
    assert vic.get(f"/map/items/{len(folder)}", follow_redirects=False).status_code == 404
    assert vic.get("/map/items/99999/thumb.jpg").status_code == 404

    plain = create_app(db_url, secret="s", upload_dir=tmp_path / "uploads")
    without = Client(plain, "vic")
    assert 'href="/map"' not in without.get("/gallery").text
    missing = without.get("/map")
    assert missing.status_code == 404 and "--embeddings" in missing.text
    assert Client(app).get("/map", follow_redirects=False).status_code == 303  # logged out: to the login page
    app.state.store.close()
    plain.state.store.close()
