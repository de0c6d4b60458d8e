"""Benchmark: the catalogue store at N garments (default 100 000) on SQLite and PostgreSQL.

Writes a synthetic ``tag`` output in the real schema (4 garments per photo, real COCO RLE masks,
4 attribute heads with top-3, a run record), then per database:

- ingest rate: garments/s of ``Store.ingest`` (the whole file, ``--batch-size`` garments per
  transaction, default 2 000), wall clock and per CPU-second of this process; ``--repeat N``
  ingests into N empty databases and reports the medians (and every run, with the load average);
- query latency, median and p95 over ``--queries`` pages of 60: the gallery (newest first; half
  filtered by part, half by an accepted label) and the review queue (lowest confidence first),
  each page fetched with the cursor of a page at a random depth (keyset: no OFFSET);
- the same PAGES through the web app over HTTP (``http_*``: FastAPI TestClient, logged in, the
  whole HTML page rendered): gallery by part, by label, by confidence, and the review queue.

PostgreSQL runs in a throwaway cluster on a Unix socket (as the ``postgres`` user when root) and
is skipped with a message where it is not installed. Targets: ingest >= 5 000 garments/s on
SQLite; p95 page <= 150 ms. Usage::

    python benchmarks/bench_store.py --garments 100000 [--repeat 3] [--batch-size 2000]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import statistics
import subprocess
import tempfile
import time
from pathlib import Path

import numpy as np

from garmentparse import masks, vocab
from garmentparse.store import GalleryFilter, Store

HEADS = ("category", "colour", "sleeve_length", "neckline")
PG_BIN = Path("/usr/lib/postgresql/15/bin")


def write_jsonl(path: Path, garments: int, per_photo: int = 4, seed: int = 0) -> None:
    rng = random.Random(seed)
    h, w = 600, 400
    shapes = []
    for i in range(32):  # real RLEs of ellipses, reused
        yy, xx = np.mgrid[:h, :w]
        cy, cx, ry, rx = rng.randint(150, 450), rng.randint(100, 300), rng.randint(40, 140), rng.randint(30, 90)
        shapes.append((masks.encode(((yy - cy) / ry) ** 2 + ((xx - cx) / rx) ** 2 <= 1), [cx - rx, cy - ry, cx + rx, cy + ry]))
    parts = list(vocab.PARTS)
    with open(path, "w", encoding="utf-8") as fh:
        for p in range(garments // per_photo):
            gs = []
            for _ in range(per_photo):
                rle, box = rng.choice(shapes)
                attrs = {}
                for head in HEADS:
                    values = rng.sample(vocab.ATTRIBUTES[head].values, 3)
                    probs = sorted((round(rng.random(), 4) for _ in range(3)), reverse=True)
                    attrs[head] = {"label": values[0], "probability": probs[0],
                                   "top_k": [{"label": v, "probability": q} for v, q in zip(values, probs)]}
                gs.append({"part": rng.choice(parts), "score": round(rng.uniform(0.3, 1), 4), "box": box,
                           "mask": rle, "attributes": attrs})
            fh.write(json.dumps({"path": f"shop/{p // 1000:03d}/{p:07d}.jpg", "width": w, "height": h,
                                 "error": None, "garments": gs}) + "\n")
    settings = {"models": {"detector": "0" * 64, "classifier": "1" * 64}, "heads": list(HEADS), "lang": "en",
                "score_threshold": 0.3, "top_k": 3}
    Path(f"{path}.run.json").write_text(json.dumps({"settings": settings, "runs": []}), encoding="utf-8")


def ingest_once(url: str, jsonl: Path, garments: int, batch_size: int) -> tuple[float, float, float]:
    """One ingest into the empty database at ``url``: wall seconds, this process's CPU seconds
    (the database server's, for PostgreSQL, not included) and the 1-minute load average."""
    with Store.upgrade(url) as store:
        t, cpu = time.perf_counter(), time.process_time()
        rep = store.ingest(jsonl, batch_size=batch_size)
        wall, cpu = time.perf_counter() - t, time.process_time() - cpu
    assert rep.counts["garments"] == garments and not rep.problems, rep.counts
    return wall, cpu, os.getloadavg()[0]


def measure(urls: list[str], jsonl: Path, garments: int, queries: int, batch_size: int) -> dict:
    """Ingest into each (empty) database of ``urls`` (medians over them), then query the first."""
    runs = [ingest_once(url, jsonl, garments, batch_size) for url in urls]
    wall, cpu = statistics.median(r[0] for r in runs), statistics.median(r[1] for r in runs)
    out = {"ingest_garments_per_s": round(garments / wall), "ingest_s": round(wall, 1),
           "ingest_garments_per_cpu_s": round(garments / cpu),
           "ingest_runs_garments_per_s": [round(garments / r[0]) for r in runs],
           "load_avg_1m": [round(r[2], 1) for r in runs]}
    store = Store.open(urls[0])
    rng = random.Random(1)
    top_id = store.gallery(limit=1).items[0].id
    lat: dict[str, list[float]] = {"gallery": [], "gallery_label": [], "queue": []}
    for _ in range(queries):
        cursor = str(rng.randint(1, top_id))
        t = time.perf_counter()
        page = store.gallery(GalleryFilter(part=rng.choice(list(vocab.PARTS))), limit=60, cursor=cursor)
        lat["gallery"].append(time.perf_counter() - t)
        t = time.perf_counter()
        store.gallery(GalleryFilter(head="colour", value=rng.choice(vocab.ATTRIBUTES["colour"].values)),
                      limit=60, cursor=cursor)
        lat["gallery_label"].append(time.perf_counter() - t)
        qcursor = f"{rng.random()!r}:{rng.randint(1, top_id)}"
        t = time.perf_counter()
        store.queue(limit=60, cursor=qcursor)
        lat["queue"].append(time.perf_counter() - t)
        assert page.items or cursor
    store.close()
    for name, xs in lat.items():
        xs = sorted(xs)
        out[f"{name}_median_ms"] = round(statistics.median(xs) * 1000, 2)
        out[f"{name}_p95_ms"] = round(xs[int(0.95 * (len(xs) - 1))] * 1000, 2)
    return out


def postgres(tmp: str) -> tuple[str | None, list[str]]:
    if not (PG_BIN / "initdb").exists():
        return None, []
    kw = {"user": "postgres", "group": "postgres"} if os.geteuid() == 0 else {}
    if os.geteuid() == 0:
        shutil.chown(tmp, "postgres", "postgres")
    run = lambda *a: subprocess.run(a, check=True, capture_output=True, **kw)  # noqa: E731
    run(str(PG_BIN / "initdb"), "-D", f"{tmp}/data", "-A", "trust", "-U", "postgres", "-E", "UTF8",
        "--locale=C.UTF-8", "--no-sync")
    run(str(PG_BIN / "pg_ctl"), "-D", f"{tmp}/data", "-l", f"{tmp}/log", "-w", "-o",
        f"-c listen_addresses='' -k {tmp} -p 54339 -c fsync=off", "start")
    stop = [str(PG_BIN / "pg_ctl"), "-D", f"{tmp}/data", "-m", "fast", "stop"]
    return f"postgresql+psycopg://postgres@/postgres?host={tmp}&port=54339", stop


def create_database(url: str, name: str) -> str:
    """A new empty database on the server of ``url``; its URL."""
    import sqlalchemy as sa

    admin = sa.create_engine(url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.exec_driver_sql(f"CREATE DATABASE {name}")
    admin.dispose()
    return str(sa.engine.make_url(url).set(database=name).render_as_string(hide_password=False))


def measure_http(url: str, queries: int) -> dict:
    """Gallery and queue PAGES through the web app (HTTP via TestClient: routing, session, CSRF,
    template rendering, the store query), logged in as a reviewer."""
    import re

    from fastapi.testclient import TestClient

    from garmentparse.web import create_app

    with Store.open(url) as store:
        store.add_user("bench", "bench password long", "reviewer")
        top_id = store.gallery(limit=1).items[0].id
    with tempfile.TemporaryDirectory(prefix="bench-web-") as up:
        app = create_app(url, secret="bench", upload_dir=up)
        client = TestClient(app, base_url="http://127.0.0.1")
        token = re.search(r'name="csrf_token" value="([^"]+)"', client.get("/login").text).group(1)
        assert client.post("/login", data={"name": "bench", "password": "bench password long", "csrf_token": token},
                           follow_redirects=False).status_code == 303
        rng = random.Random(2)
        lat: dict[str, list[float]] = {"http_gallery": [], "http_gallery_label": [], "http_gallery_conf": [],
                                       "http_queue": []}
        for _ in range(queries):
            cursor = rng.randint(1, top_id)
            urls = {"http_gallery": f"/gallery?part={rng.choice(list(vocab.PARTS))}&cursor={cursor}",
                    "http_gallery_label": f"/gallery?head=colour&value={rng.choice(vocab.ATTRIBUTES['colour'].values)}"
                                          f"&cursor={cursor}",
                    "http_gallery_conf": f"/gallery?sort=confidence&cursor={rng.random()!r}:{cursor}",
                    "http_queue": f"/queue?after={rng.random()!r}:{cursor}"}
            for name, u in urls.items():
                t = time.perf_counter()
                r = client.get(u)
                lat[name].append(time.perf_counter() - t)
                assert r.status_code == 200, (u, r.status_code)
        app.state.store.close()
    out = {}
    for name, xs in lat.items():
        xs = sorted(xs)
        out[f"{name}_median_ms"] = round(statistics.median(xs) * 1000, 2)
        out[f"{name}_p95_ms"] = round(xs[int(0.95 * (len(xs) - 1))] * 1000, 2)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--garments", type=int, default=100_000)
    ap.add_argument("--queries", type=int, default=200)
    ap.add_argument("--no-postgres", action="store_true")
    ap.add_argument("--repeat", type=int, default=1,
                    help="ingest into this many empty databases per kind and report the medians (noisy machine: 3)")
    ap.add_argument("--batch-size", type=int, default=2000, help="garments per ingest transaction")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-store-") as tmp:
        jsonl = Path(tmp) / "tags.jsonl"
        t = time.perf_counter()
        write_jsonl(jsonl, args.garments)
        print(f"synthetic tag output: {args.garments} garments, {jsonl.stat().st_size / 1e6:.0f} MB "
              f"({time.perf_counter() - t:.0f} s to write)")
        urls = [f"sqlite:///{tmp}/catalogue{i}.db" for i in range(args.repeat)]
        results = {"sqlite": measure(urls, jsonl, args.garments, args.queries, args.batch_size)}
        results["sqlite"].update(measure_http(urls[0], args.queries))
        print("sqlite", json.dumps(results["sqlite"]))
        if not args.no_postgres:
            pg_dir = tempfile.mkdtemp(prefix="bench-pg-")
            url, stop = postgres(pg_dir)
            if url is None:
                print(f"postgresql: skipped ({PG_BIN}/initdb not found)")
            else:
                try:
                    urls = [url] + [create_database(url, f"catalogue{i}") for i in range(1, args.repeat)]
                    results["postgresql"] = measure(urls, jsonl, args.garments, args.queries, args.batch_size)
                    results["postgresql"].update(measure_http(url, args.queries))
                    print("postgresql", json.dumps(results["postgresql"]))
                finally:
                    subprocess.run(stop, capture_output=True, **({"user": "postgres", "group": "postgres"}
                                                                if os.geteuid() == 0 else {}))
                    shutil.rmtree(pg_dir, ignore_errors=True)
        sq = results["sqlite"]
        print(f"targets: ingest >= 5000 garments/s on SQLite: {sq['ingest_garments_per_s']} "
              f"({'met' if sq['ingest_garments_per_s'] >= 5000 else 'MISSED'}); p95 page <= 150 ms: "
              + ", ".join(f"{db} {name} {r[f'{name}_p95_ms']} ms" for db, r in results.items()
                          for name in ("gallery", "gallery_label", "queue", "http_gallery", "http_gallery_label",
                                       "http_gallery_conf", "http_queue")))


if __name__ == "__main__":
    main()
