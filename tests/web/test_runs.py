"""Runs in the app: /models (accuracy against reviewed truth), /compare (two runs photo by photo),
the queue's order switch (confidence / margin / disagreement) and the dashboard's accuracy chart."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from garmentparse.store import Decision

from .conftest import CCP, second_run_lines, tag_lines, write_tag_output

PANEL = re.compile(r'<figcaption><a href="/garments/(\d+)"')


@pytest.fixture
def runs(app, tmp_path, ccp_coco_dict):
    """The catalogue's run (#a) and a second model's run (#b) over its first 20 photos."""
    store = app.state.store
    lines = tag_lines(ccp_coco_dict)
    store.ingest(write_tag_output(tmp_path / "b" / "results.jsonl", second_run_lines(lines), models="v2"), CCP / "images")
    a, b = (r.id for r in store.runs())
    return store, a, b, lines


def _first(store, run: int, path: str) -> int:
    photo = store.photo_by_path(path)
    return min(g.id for g in store.queue(run_id=run, limit=100).items if g.photo_id == photo.id)


def _accept(store, gid: int) -> None:
    g = store.garment(gid)
    store.review(gid, version=g.version, user="mina", decisions=[Decision(h, "confirmed") for h in g.heads])


def test_models_page_lists_runs_with_models_counts_and_accuracy(login, runs):
    store, a, b, lines = runs
    x = _first(store, a, lines[0]["path"])  # run b says another colour for it
    _accept(store, x)
    html = login("vic").get("/models").text
    row_a, row_b = (html.split(f'id="run-{r}"')[1].split("</tr>")[0] for r in (a, b))
    sha = store.runs()[0].models["detector"]
    assert sha[:10] in row_a and "<td>24</td>" in row_a and "<td>20</td>" in row_b
    assert re.search(r'data-head="colour">100% <small>1/1</small>', row_a)
    assert re.search(r'data-head="colour">0% <small>0/1</small>', row_b)
    assert re.search(r'data-head="category">100% <small>1/1</small>', row_b)
    assert f'action="/compare"' in row_a and f'name="a" value="{a}"' in row_a and f'<option value="{b}">' in row_a


def test_compare_shows_changed_labels_first_with_overlays(login, runs):
    store, a, b, lines = runs
    vic = login("vic")
    html = vic.get(f"/compare?a={a}&b={b}").text
    assert "<b>20</b> photos in both" in html and "<b>2</b> with changed labels" in html
    sections = re.findall(r'<section class="card compare-photo" id="photo-(\d+)">(.*?)</section>', html, re.S)
    assert len(sections) == 6 and 'id="next-page"' in html
    photo = [store.photo_by_path(line["path"]).id for line in lines[:4]]
    assert [int(pid) for pid, _ in sections[:2]] == [photo[1], photo[3]]  # a garment only one run found: 5 heads
    assert [int(pid) for pid, _ in sections[2:4]] == [photo[0], photo[2]]  # then one label changed (by photo id)
    colour = lines[0]["garments"][0]["attributes"]["colour"]["label"]
    body = dict((int(k), v) for k, v in sections)[store.photo_by_path(lines[0]["path"]).id]
    assert f"colour: {colour} → <b>red</b>" in body
    src = re.search(r'src="(/photos/\d+/runs/\d+/overlay\.jpg)"', html).group(1)
    img = vic.get(src)
    assert img.status_code == 200 and img.headers["content-type"] == "image/jpeg" and img.content[:2] == b"\xff\xd8"
    nxt = re.search(r'id="next-page" href="([^"]+)"', html).group(1).replace("&amp;", "&")
    assert f"id=\"photo-{sections[0][0]}\"" not in vic.get(nxt).text
    assert "Choose two different runs" in vic.get(f"/compare?a={a}&b={a}").text
    assert vic.get(f"/compare?a={a}&b=999").status_code == 404


def test_compare_runs_without_a_common_photo_says_so(login, runs, tmp_path):
    store, a, b, lines = runs
    store.ingest(write_tag_output(tmp_path / "c" / "results.jsonl", lines[20:], models="v3"), CCP / "images")
    c = store.runs()[-1].id
    html = login("vic").get(f"/compare?a={b}&b={c}").text
    assert 'id="no-common"' in html and "share no photo" in html


def test_queue_order_switch(login, runs):
    store, a, b, lines = runs
    mina = login("mina")
    html = mina.get("/queue?order=margin").text
    assert int(PANEL.search(html).group(1)) == store.queue(order="margin", limit=1).items[0].id
    assert '<option value="margin" selected>' in html
    html = mina.get("/queue?order=margin&head=colour").text
    assert int(PANEL.search(html).group(1)) == store.queue(order="margin", head="colour", limit=1).items[0].id
    assert "Choose the run to review" in mina.get("/queue?order=disagreement").text
    html = mina.get(f"/queue?order=disagreement&run={a}&other={b}").text
    queue = store.queue(order="disagreement", run_id=a, other_run=b, limit=3).items
    assert int(PANEL.search(html).group(1)) == queue[0].id == _first(store, a, lines[1]["path"])
    assert 'id="other-run"' in html and "did not find this garment" in html
    version = html.split('name="version" value="')[1].split('"')[0]
    r = mina.post(f"/garments/{queue[0].id}/review", {"version": version, "action": "skip", "qorder": "disagreement",
                                                      "qrun": str(a), "qother": str(b)},
                  headers={"HX-Request": "true"})
    assert int(PANEL.search(r.text).group(1)) == queue[1].id and "→ <b>red</b>" in r.text


def test_dashboard_charts_accuracy_per_run(login, runs):
    store, a, b, lines = runs
    vic = login("vic")
    assert "Nothing reviewed on these runs" in vic.get("/dashboard").text
    _accept(store, _first(store, a, lines[0]["path"]))
    html = vic.get("/dashboard").text
    chart = html.split('id="accuracy-chart"')[1].split("</svg>")[0]
    assert chart.count('<g class="series') == 6  # all attributes, part and the 4 heads
    assert f"#{a} · colour: 100%" in chart and f"#{b} · colour: 0%" in chart and "<polyline" in chart
    assert "<script" not in html.split("</head>")[1]  # the CSP allows no inline script


def test_run_pickers_and_labels_name_the_runs_models(login, app, tmp_path, ccp_coco_dict):
    """Issue 25, item 16: every run picker and run label reads `#2 2026-12-07 · detector + classifier`
    (a release model by its name, a file by its name), not the number and day alone."""
    store = app.state.store
    out = write_tag_output(tmp_path / "c" / "results.jsonl", second_run_lines(tag_lines(ccp_coco_dict)), models="v3")
    record_file = Path(f"{out}.run.json")
    record = json.loads(record_file.read_text(encoding="utf-8"))
    record["model_files"] = {"detector": {"path": "/m/ccp-lite0-detector.pt", "sha256": "x", "name": "ccp-lite0-detector"},
                             "classifier": "runs/cls-b/model.pt"}
    record_file.write_text(json.dumps(record), encoding="utf-8")
    store.ingest(out, CCP / "images")
    first, second = store.runs()
    named = f"#{second.id} {second.created_at:%Y-%m-%d} · ccp-lite0-detector + cls-b/model"
    plain = f"#{first.id} {first.created_at:%Y-%m-%d}<"  # the catalogue's record names no model files
    vic = login("vic")
    for url in ("/gallery", "/queue", f"/compare?a={first.id}&b={second.id}"):
        html = vic.get(url).text
        assert f'<option value="{second.id}" >{named}</option>' in html and plain in html, url
    compare = vic.get(f"/compare?a={first.id}&b={second.id}").text
    assert f"<figcaption>Run B {named}</figcaption>" in compare
    models = vic.get("/models").text
    assert f'<option value="{second.id}">{named}</option>' in models
    queue = vic.get(f"/queue?order=disagreement&run={first.id}&other={second.id}").text
    assert f'id="other-run">Tag run {named}:' in queue
