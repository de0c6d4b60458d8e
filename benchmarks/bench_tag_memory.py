"""Memory of a long `tag` run: does the main process's RSS stay flat as images pile up?

Builds a folder of N images (symlinks cycling over --images under fresh names, so nothing is
cached by name), runs `tag_folder` over it and samples the main process's RSS and the whole
process tree's PSS (decoding workers included) every 0.25 s. Prints RSS after the first 10 % of
images (warm: models loaded, allocator and worker pools settled) against the end, as a ratio.

    python benchmarks/bench_tag_memory.py --n 2000 --workers 2 --batch-size 4

Without --detector/--classifier it trains the tiny configs on examples/ccp first (CPU, ~1 min).
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import threading
import time
from pathlib import Path

from bench_tag import add_tagger_args, report, tagger_from_args

from garmentparse.imageio import find_images
from garmentparse.tagging import tag_folder


def rss_mb(pid: int) -> float:
    with open(f"/proc/{pid}/status") as fh:
        for line in fh:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


def tree_pss_mb(pid: int) -> float:
    """PSS of ``pid`` and its children (shared pages counted once across the tree)."""
    pids = [pid]
    try:
        children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
        pids += [int(c) for c in children]
    except OSError:
        pass
    total = 0.0
    for p in pids:
        try:
            for line in Path(f"/proc/{p}/smaps_rollup").read_text().splitlines():
                if line.startswith("Pss:"):
                    total += int(line.split()[1]) / 1024
        except OSError:
            continue
    return total


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    add_tagger_args(ap, device="cpu")
    ap.add_argument("--n", type=int, default=2000, help="Images in the run.")
    args = ap.parse_args()

    work = Path(tempfile.mkdtemp(prefix="bench_tag_memory_"))
    tagger = tagger_from_args(args, work)
    sources = find_images(args.images)
    folder = work / "images"
    for i in range(args.n):
        sub = folder / f"{i // 1000:04d}"
        sub.mkdir(parents=True, exist_ok=True)
        src = sources[i % len(sources)]
        (sub / f"{i:07d}{src.suffix}").symlink_to(src.resolve())

    pid = os.getpid()
    samples: list[tuple[int, float, float]] = []  # (images done, rss, tree pss)
    done = [0]
    stop = threading.Event()

    def sample() -> None:
        while not stop.is_set():
            samples.append((done[0], rss_mb(pid), tree_pss_mb(pid)))
            time.sleep(0.25)

    def on_image(_result: object) -> None:
        done[0] += 1

    thread = threading.Thread(target=sample, daemon=True)
    thread.start()
    summary = tag_folder(folder, tagger, work / "out.jsonl", csv_path=work / "out.csv",
                         batch_size=args.batch_size, workers=args.workers, on_image=on_image)
    stop.set()
    thread.join()
    assert summary.images == args.n and summary.errors == 0, summary

    def window(lo: float, hi: float) -> list[tuple[int, float, float]]:
        """Samples taken while lo..hi of the images were done (the nearest one for short runs)."""
        inside = [s for s in samples if lo * args.n <= s[0] <= hi * args.n]
        return inside or [min(samples, key=lambda s: abs(s[0] - lo * args.n))]

    warm, end = window(0.1, 0.2), window(0.9, 1.0)
    rss_warm = statistics.median(s[1] for s in warm)
    rss_end = statistics.median(s[1] for s in end)
    result = {
        "images": args.n, "garments": summary.garments, "images_per_s": round(summary.images_per_s, 2),
        "batch_size": args.batch_size, "workers": args.workers, "device": args.device,
        "rss_mb_at_10_20pct": round(rss_warm, 1), "rss_mb_at_90_100pct": round(rss_end, 1),
        "rss_ratio_end_vs_warm": round(rss_end / rss_warm, 3),
        "rss_mb_max": round(max(s[1] for s in samples), 1),
        "tree_pss_mb_at_10_20pct": round(statistics.median(s[2] for s in warm), 1),
        "tree_pss_mb_at_90_100pct": round(statistics.median(s[2] for s in end), 1),
        "output_jsonl_mb": round((work / "out.jsonl").stat().st_size / 2**20, 1),
    }
    report(result, f"tag over {args.n} images: main RSS {result['rss_mb_at_10_20pct']} MB after 10-20% -> "
                   f"{result['rss_mb_at_90_100pct']} MB at 90-100% ({result['rss_ratio_end_vs_warm']}x)", args.json)


if __name__ == "__main__":
    main()
