"""``serve --embeddings EMB/``: a garment's page shows its similar garments of the catalogue."""

from __future__ import annotations

import re

from garmentparse.embeddings import embed
from garmentparse.web import create_app
from tests.store.conftest import tag_lines, write_tag_output

from .conftest import CCP, Client


def test_garment_page_shows_similar_garments_of_the_same_part(db_url, ccp_coco_dict, classifier_run, tmp_path):
    tags = write_tag_output(tmp_path / "same-run" / "results.jsonl", tag_lines(ccp_coco_dict))  # what was ingested
    embed(tags, classifier_run / "model.pt", tmp_path / "emb", images=CCP / "images", device="cpu")
    app = create_app(db_url, secret="s", upload_dir=tmp_path / "uploads", embeddings=tmp_path / "emb")
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
