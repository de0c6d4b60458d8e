"""Benchmark: `convert kfashion` (full cleaning, N workers) vs a plain json.load-per-file converter.

Builds a corpus of N label files by replicating ../shared/data/kfashion-ccp/labels under new names
(hard links where possible; photos replicated alongside with matching names), then converts it
with both converters in the same run, alternating, each in a fresh subprocess:

- files/s: label files divided by the subprocess's conversion wall time (index + read + write);
- peak RSS: ``ru_maxrss`` of the measured process tree, from ``os.wait4`` (the largest process);
- peak tree PSS: the sum of proportional set size over the process and its workers, sampled every
  20 ms from /proc (counts memory shared by forked workers once) — the fair total for N processes.

Medians over ``--repeats`` runs are quoted with the ratio. Usage::

    python benchmarks/bench_convert.py --n 20000 --repeats 3              # the default CLI command
    python benchmarks/bench_convert.py --n 20000 --workers 2 --repeats 3  # the library, 2 workers

The baseline keeps the whole COCO dict in memory and writes it with ``json.dump`` at the end,
matches photos by stem only, takes sizes from the JSON, and does no cleaning at all: it is what a
first converter looks like. garmentparse reads every photo header, checks truncation, repairs /
clips polygons, translates attributes, and streams its output.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
DEFAULT_SOURCE = REPO.parent / "shared" / "data" / "kfashion-ccp"


# ----------------------------------------------------------------------------- the baseline

def baseline_convert(labels_dir: str, images_dir: str, out: str) -> int:
    """A plain converter: json.load per file, stem match, polygons in key order, one json.dump."""
    photos = {}
    for root, _, files in os.walk(images_dir):
        for name in files:
            photos[os.path.splitext(name)[0]] = os.path.relpath(os.path.join(root, name), images_dir)
    parts = {"아우터": 1, "상의": 2, "하의": 3, "원피스": 4}
    images, annotations = [], []
    n_files = 0
    for root, dirs, files in os.walk(labels_dir):
        dirs.sort()
        for name in sorted(files):
            if not name.endswith(".json"):
                continue
            n_files += 1
            with open(os.path.join(root, name), encoding="utf-8") as f:
                data = json.load(f)
            info = data["이미지 정보"]
            image_id = len(images) + 1
            images.append({"id": image_id, "file_name": photos.get(os.path.splitext(name)[0], info["이미지 파일명"]),
                           "width": info["이미지 너비"], "height": info["이미지 높이"]})
            detail = data["데이터셋 정보"]["데이터셋 상세설명"]
            for part_ko, category_id in parts.items():
                labels = detail["라벨링"].get(part_ko, [])
                for i, poly in enumerate(detail["폴리곤좌표"].get(part_ko, [])):
                    if not poly:
                        continue
                    n = len(poly) // 2
                    xs = [poly[f"X좌표{k}"] for k in range(1, n + 1)]
                    ys = [poly[f"Y좌표{k}"] for k in range(1, n + 1)]
                    area = 0.5 * abs(sum(xs[k] * ys[k - 1] - xs[k - 1] * ys[k] for k in range(n)))
                    annotations.append({
                        "id": len(annotations) + 1, "image_id": image_id, "category_id": category_id,
                        "segmentation": [[v for xy in zip(xs, ys) for v in xy]], "area": area,
                        "bbox": [min(xs), min(ys), max(xs) - min(xs), max(ys) - min(ys)], "iscrowd": 0,
                        "attributes": labels[i] if i < len(labels) else {}})
    coco = {"categories": [{"id": i, "name": n} for n, i in parts.items()], "images": images,
            "annotations": annotations}
    with open(out, "w", encoding="utf-8") as f:
        json.dump(coco, f, ensure_ascii=False)
    return n_files


# ----------------------------------------------------------------------------- measured child

def _child(kind: str, labels: str, images: str, out: str, workers: int) -> None:
    t0 = time.perf_counter()
    if kind == "baseline":
        n = baseline_convert(labels, images, out)
        problems = 0
    elif workers == 0:  # the default command exactly as a user types it: the CLI, no --workers
        from garmentparse.cli import build_app

        report_file = out + ".report.json"
        build_app()(["convert", "kfashion", labels, "--images", images, "--out", out, "--report", report_file],
                    standalone_mode=False)
        saved = json.loads(Path(report_file).read_text(encoding="utf-8"))
        n = saved["counts"]["label_files"]
        problems = sum(saved["problem_counts"].values())
    else:
        from garmentparse.converters.kfashion import convert_kfashion_to_file

        report = convert_kfashion_to_file(labels, out, images, workers=workers)
        n = report.counts["label_files"]
        problems = len(report.problems)
    seconds = time.perf_counter() - t0
    print(json.dumps({"files": n, "seconds": seconds, "problems": problems}))


def _tree_pss_kb(root_pid: int) -> int:
    """Sum of Pss (kB) over a process and its descendants, from /proc."""
    pids, total, stack = set(), 0, [root_pid]
    while stack:
        pid = stack.pop()
        if pid in pids:
            continue
        pids.add(pid)
        try:
            for tid in os.listdir(f"/proc/{pid}/task"):
                with open(f"/proc/{pid}/task/{tid}/children") as f:
                    stack.extend(int(c) for c in f.read().split())
            with open(f"/proc/{pid}/smaps_rollup") as f:
                for line in f:
                    if line.startswith("Pss:"):
                        total += int(line.split()[1])
                        break
        except (FileNotFoundError, ProcessLookupError, PermissionError):
            continue
    return total


def measure(kind: str, labels: Path, images: Path, out: Path, workers: int, interval: float = 0.1) -> dict:
    """Run one conversion in a fresh subprocess; wall time, files/s, peak RSS and peak tree PSS."""
    cmd = [sys.executable, __file__, "--_child", kind, "--_labels", str(labels), "--_images", str(images),
           "--_out", str(out), "--workers", str(workers)]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    peak = {"pss": 0}
    done = threading.Event()

    def sample() -> None:
        while not done.is_set():
            peak["pss"] = max(peak["pss"], _tree_pss_kb(proc.pid))
            done.wait(interval)

    sampler = threading.Thread(target=sample, daemon=True)
    if interval > 0:
        sampler.start()
    stdout = proc.stdout.read()
    stderr = proc.stderr.read()
    _, status, usage = os.wait4(proc.pid, 0)
    done.set()
    if interval > 0:
        sampler.join()
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        raise RuntimeError(f"{kind} failed:\n{stderr}")
    result = json.loads(stdout.strip().splitlines()[-1])
    result["files_per_s"] = result["files"] / result["seconds"]
    result["peak_rss_mb"] = usage.ru_maxrss / 1024  # kB on Linux: the largest process of the tree
    result["peak_tree_pss_mb"] = peak["pss"] / 1024
    return result


# ----------------------------------------------------------------------------- corpus

def build_corpus(source: Path, root: Path, n: int) -> tuple[Path, Path]:
    """``n`` label files (and their photos) under new names, cycling through ``source``.

    Photos are hard links; labels are byte copies with a fresh ``이미지 식별자`` (as in a real
    dump, where ids are unique), everything else byte-identical.
    """
    labels, images = root / "labels", root / "images"
    labels.mkdir(parents=True)
    images.mkdir(parents=True)
    src_labels = [(p, p.read_bytes()) for p in sorted((source / "labels").glob("*.json"))]
    id_pattern = re.compile("\"이미지 식별자\"\\s*:\\s*\\d+".encode())
    src_images = {p.stem: p for p in (source / "images").iterdir()}

    def place(src: Path, dst: Path) -> None:
        try:
            os.link(src, dst)
        except OSError:
            shutil.copyfile(src, dst)

    for i in range(n):
        src, raw = src_labels[i % len(src_labels)]
        stem = f"{i:07d}"
        sub = f"{i // 1000:03d}"  # 1000 files per folder, like a real dump's nested tree
        (labels / sub).mkdir(exist_ok=True)
        (images / sub).mkdir(exist_ok=True)
        new_id = f'"이미지 식별자": {1_000_000 + i}'.encode()
        (labels / sub / f"{stem}.json").write_bytes(id_pattern.sub(new_id, raw, count=1))
        photo = src_images[src.stem]
        place(photo, images / sub / f"{stem}{photo.suffix}")
    return labels, images


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", type=int, default=20000, help="label files in the corpus")
    ap.add_argument("--workers", type=int, default=0,
                    help="garmentparse worker processes; 0 (default): the default command itself, "
                         "`garmentparse convert kfashion LABELS --images DIR --out F` with no --workers "
                         "(the CLI in the measured process: its imports, progress bar and report included)")
    ap.add_argument("--repeats", type=int, default=3, help="runs of each converter (medians quoted)")
    ap.add_argument("--source", type=Path, default=DEFAULT_SOURCE, help="folder with labels/ and images/")
    ap.add_argument("--pss-interval", type=float, default=0.1,
                    help="seconds between tree PSS samples (0: do not sample)")
    ap.add_argument("--json", type=Path, default=None, help="also write the results here")
    ap.add_argument("--_child", default=None, help=argparse.SUPPRESS)
    ap.add_argument("--_labels", default=None, help=argparse.SUPPRESS)
    ap.add_argument("--_images", default=None, help=argparse.SUPPRESS)
    ap.add_argument("--_out", default=None, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args._child:
        _child(args._child, args._labels, args._images, args._out, args.workers)
        return
    from garmentparse.converters.pool import default_workers

    with tempfile.TemporaryDirectory(prefix="bench-convert-") as tmp:
        t = time.perf_counter()
        labels, images = build_corpus(args.source, Path(tmp), args.n)
        print(f"corpus: {args.n} labels + photos in {time.perf_counter() - t:.1f}s ({tmp})", file=sys.stderr)
        runs: dict[str, list[dict]] = {"baseline": [], "garmentparse": []}
        for r in range(args.repeats):
            for kind in runs:  # alternate so both see the same machine load
                res = measure(kind, labels, images, Path(tmp) / f"{kind}.json", args.workers, args.pss_interval)
                runs[kind].append(res)
                print(f"run {r + 1} {kind:12s} {res['files_per_s']:8.0f} files/s  peak RSS "
                      f"{res['peak_rss_mb']:6.1f} MB  tree PSS {res['peak_tree_pss_mb']:6.1f} MB  "
                      f"({res['seconds']:.2f}s, {res['problems']} problems)", file=sys.stderr)
    med = {k: {m: statistics.median(r[m] for r in v) for m in ("files_per_s", "peak_rss_mb", "peak_tree_pss_mb")}
           for k, v in runs.items()}
    summary = {
        "n": args.n, "workers": args.workers or f"default ({default_workers()})", "repeats": args.repeats,
        "cpus": os.cpu_count(),
        "median": med,
        "throughput_ratio": med["garmentparse"]["files_per_s"] / med["baseline"]["files_per_s"],
        "peak_rss_ratio": med["garmentparse"]["peak_rss_mb"] / med["baseline"]["peak_rss_mb"],
        "peak_tree_pss_ratio": (med["garmentparse"]["peak_tree_pss_mb"] / med["baseline"]["peak_tree_pss_mb"]
                                if med["baseline"]["peak_tree_pss_mb"] else None),
        "runs": runs,
    }
    print(f"\n{'':14s}{'files/s':>10s}{'peak RSS MB':>14s}{'tree PSS MB':>14s}")
    for kind, m in med.items():
        print(f"{kind:14s}{m['files_per_s']:10.0f}{m['peak_rss_mb']:14.1f}{m['peak_tree_pss_mb']:14.1f}")
    print(f"throughput ratio (garmentparse / baseline): {summary['throughput_ratio']:.2f}x   "
          f"peak RSS ratio: {summary['peak_rss_ratio']:.2f}   tree PSS ratio: {summary['peak_tree_pss_ratio'] or 0:.2f}")
    print(f"load average at the end: {os.getloadavg()[0]:.2f} on {os.cpu_count()} CPUs")
    if args.json:
        args.json.write_text(json.dumps(summary, indent=1))


if __name__ == "__main__":
    main()
