"""Store fixtures: real databases (a SQLite file always; throwaway PostgreSQL and MariaDB
servers where installed) and a realistic ``tag`` output built from the bundled CCP photos."""

from __future__ import annotations

import copy
import hashlib
import itertools
import json
import os
import shutil
import subprocess
import tempfile
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import sqlalchemy as sa

from garmentparse import masks, vocab

PG_BIN = Path(os.environ.get("GARMENTPARSE_PG_BIN", "/usr/lib/postgresql/15/bin"))


def _run_as_postgres(*args: str) -> subprocess.CompletedProcess:
    kw = {"user": "postgres", "group": "postgres"} if os.geteuid() == 0 else {}
    return subprocess.run(args, check=True, capture_output=True, text=True, timeout=60, **kw)


@pytest.fixture(scope="session")
def postgresql_server() -> Iterator[str]:
    """A throwaway PostgreSQL cluster on a Unix socket in a temp dir; yields a URL template."""
    if not (PG_BIN / "initdb").exists():
        pytest.skip(f"PostgreSQL not installed ({PG_BIN}/initdb missing)")
    if os.geteuid() == 0:
        try:
            import pwd

            pwd.getpwnam("postgres")
        except KeyError:
            pytest.skip("running as root and there is no 'postgres' user to run PostgreSQL as")
    tmp = tempfile.mkdtemp(prefix="gp-pg-")
    if os.geteuid() == 0:
        shutil.chown(tmp, "postgres", "postgres")
    port = "54329"
    _run_as_postgres(str(PG_BIN / "initdb"), "-D", f"{tmp}/data", "-A", "trust", "-U", "postgres", "-E", "UTF8",
                     "--locale=C.UTF-8", "--no-sync")
    _run_as_postgres(str(PG_BIN / "pg_ctl"), "-D", f"{tmp}/data", "-l", f"{tmp}/log", "-w", "-o",
                     f"-c listen_addresses='' -k {tmp} -p {port} -c fsync=off", "start")
    try:
        yield f"postgresql+psycopg://postgres@/{{db}}?host={tmp}&port={port}"
    finally:
        _run_as_postgres(str(PG_BIN / "pg_ctl"), "-D", f"{tmp}/data", "-m", "fast", "stop")
        shutil.rmtree(tmp, ignore_errors=True)


@pytest.fixture(scope="session")
def mariadb_server() -> Iterator[str]:
    """A throwaway MariaDB server on a socket in a temp dir; yields a URL template."""
    mariadbd, install = shutil.which("mariadbd"), shutil.which("mariadb-install-db")
    if not (mariadbd and install):
        pytest.skip("MariaDB not installed (no mariadbd; apt-get install mariadb-server)")
    tmp = tempfile.mkdtemp(prefix="gp-maria-")
    subprocess.run([install, "--no-defaults", "--user=root", f"--datadir={tmp}/data",
                    "--auth-root-authentication-method=normal", "--skip-test-db"],
                   check=True, capture_output=True, timeout=120)
    proc = subprocess.Popen([mariadbd, "--no-defaults", "--user=root", f"--datadir={tmp}/data",
                             f"--socket={tmp}/sock", "--skip-networking",  # socket only: runs never collide
                             "--skip-log-bin"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"mysql+pymysql://root@localhost/{{db}}?unix_socket={tmp}/sock"
    engine = sa.create_engine(url.format(db=""))
    try:
        for _ in range(600):  # a busy 2-core machine can take a while
            try:
                with engine.connect():
                    break
            except sa.exc.OperationalError:
                time.sleep(0.1)
        else:
            pytest.fail("MariaDB did not start in 60 s")
        yield url
    finally:
        engine.dispose()
        proc.terminate()
        proc.wait(timeout=30)
        shutil.rmtree(tmp, ignore_errors=True)


def _fresh_database(template: str) -> str:
    name = "gp_" + uuid.uuid4().hex[:12]
    admin = sa.create_engine(template.format(db="postgres" if template.startswith("postgresql") else ""),
                             isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.exec_driver_sql(f"CREATE DATABASE {name}")
    admin.dispose()
    return template.format(db=name)


BACKENDS = ["sqlite", "postgresql", "mariadb"]


@pytest.fixture(params=BACKENDS)
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """An empty database of each kind (a fresh one per test)."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'catalogue.db'}"
    server = request.getfixturevalue(f"{request.param}_server")
    return _fresh_database(server)


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'catalogue.db'}"


# ----------------------------------------------------------------------------- a realistic tag output

HEADS = ("category", "colour", "sleeve_length", "print")


def _attribute(head: str, value: str | None, p: float) -> dict:
    others = [v for v in vocab.ATTRIBUTES[head].values if v != value][:2]
    top = ([value] if value else []) + others
    probs = [p] + [round((1 - p) / (len(top) - 1 or 1), 4)] * (len(top) - 1)
    out = {"label": top[0], "probability": p, "top_k": [{"label": v, "probability": q} for v, q in zip(top, probs)]}
    if vocab.ATTRIBUTES[head].multi_label:
        out["labels"] = [top[0]]
    return out


def tag_lines(coco: dict, lang: str = "en") -> list[dict]:
    """The photos of a COCO dataset as ``tag`` lines: true garments dressed up as predictions
    (real RLE masks from the polygons, boxes, deterministic probabilities)."""
    probs = itertools.cycle([0.97, 0.41, 0.88, 0.63, 0.29, 0.75, 0.55, 0.92])
    by_image: dict[int, list[dict]] = {}
    for ann in coco["annotations"]:
        by_image.setdefault(ann["image_id"], []).append(ann)
    lines = []
    for image in coco["images"]:
        h, w = image["height"], image["width"]
        garments = []
        for ann in by_image.get(image["id"], []):
            x, y, bw, bh = ann["bbox"]
            attrs = {}
            for head in HEADS:
                value = ann["attributes"].get(head)
                if isinstance(value, list):
                    value = value[0] if value else None
                value = value or vocab.ATTRIBUTES[head].values[0]
                attrs[head] = _attribute(head, value, next(probs))
            if lang == "ko":
                for head, a in attrs.items():
                    a["label"] = vocab.korean_name(head, a["label"])
                    a["top_k"] = [{"label": vocab.korean_name(head, t["label"]), "probability": t["probability"]}
                                  for t in a["top_k"]]
                    if "labels" in a:
                        a["labels"] = [vocab.korean_name(head, v) for v in a["labels"]]
            garments.append({"part": vocab.translate("part", ann["part"], lang), "score": next(probs),
                             "box": [x, y, x + bw, y + bh],
                             "mask": masks.segmentation_to_rle(ann["segmentation"], h, w), "attributes": attrs})
        lines.append({"path": image["file_name"], "width": w, "height": h, "error": None, "garments": garments})
    return lines


def write_tag_output(path: Path, lines: list[dict], lang: str = "en", models: str = "demo") -> Path:
    """``path`` (JSONL) and its run record, as ``tag`` writes them."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", encoding="utf-8") as fh:
        for line in lines:
            fh.write(json.dumps(line, ensure_ascii=False) + "\n")
    sha = {name: hashlib.sha256(f"{models}-{name}".encode()).hexdigest() for name in ("detector", "classifier")}
    settings = {"models": sha, "classes": list(vocab.PARTS), "heads": list(HEADS), "score_threshold": 0.25,
                "top_k": 3, "tta": False, "crop_size": 96, "crop_background": "white", "lang": lang}
    record = {"garmentparse": "0.1.0", "settings": settings, "model_files": {},
              "runs": [{"started": "2026-01-01T00:00:00+00:00", "images_dir": "examples/ccp/images",
                        "finished": "2026-01-01T00:01:00+00:00"}]}
    Path(str(path) + ".run.json").write_text(json.dumps(record, ensure_ascii=False), encoding="utf-8")
    return path


def _erode(rle: dict) -> dict:
    import cv2

    return masks.encode(cv2.erode(masks.decode(rle), np.ones((5, 5), np.uint8)))


def second_run_lines(lines_a: list[dict]) -> list[dict]:
    """Another model's output: the first 20 photos only, every mask 2 px smaller, and on photo 0
    another colour, photo 1 one garment missed, photo 2 another category, photo 3 one more garment."""
    lines = copy.deepcopy(lines_a[:20])
    for line in lines:
        for g in line["garments"]:
            g["mask"] = _erode(g["mask"])
    lines[0]["garments"][0]["attributes"]["colour"]["label"] = "red"
    del lines[1]["garments"][0]
    lines[2]["garments"][0]["attributes"]["category"]["label"] = "jacket"
    corner = np.zeros((lines[3]["height"], lines[3]["width"]), np.uint8)
    corner[:12, :12] = 1
    lines[3]["garments"].append({**copy.deepcopy(lines[3]["garments"][0]), "part": "top",
                                 "box": [0, 0, 12, 12], "mask": masks.encode(corner)})
    return lines


@pytest.fixture(scope="session")
def ccp_coco_dict(ccp_dir: Path) -> dict:
    from garmentparse.converters import convert_kfashion

    coco, _ = convert_kfashion(ccp_dir / "labels", ccp_dir / "images")
    return coco


@pytest.fixture
def tag_output(tmp_path: Path, ccp_coco_dict: dict) -> Path:
    """A realistic ``tag`` output for the 24 CCP photos plus one photo that failed."""
    lines = tag_lines(ccp_coco_dict)
    lines.append({"path": "broken.jpg", "width": None, "height": None, "error": "image file is truncated",
                  "garments": []})
    return write_tag_output(tmp_path / "tags" / "results.jsonl", lines)
