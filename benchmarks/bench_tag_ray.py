"""Benchmark the Ray engine against the local one on this machine: Ray's overhead, and how
throughput scales with actors.

Same photos, models and batch size for every configuration, in the same run:

- ``local``: :func:`tag_folder` (DataLoader decode workers, ``--threads`` torch threads);
- ``ray A x C``: :func:`tag_folder_ray` with A actors of C CPUs each, on a local Ray of
  ``--ray-cpus`` CPUs, started once before the runs (its start-up is timed and reported apart).

images/s is photos divided by the run's wall time (the actors' model loading included: each run
starts its own actor pool); ``first lines`` is when the first lines reached the output and
``steady`` the images/s after that (start-up excluded), for both engines. Medians over
``--repeats`` runs.

    python benchmarks/bench_tag_ray.py --detector det.pt --classifier cls.pt --images DIR \
        --actors 1 2 --repeats 3 [--gpus-per-actor 1]

On a CPU-only machine the actors share its cores with everything else: the numbers say what
Ray costs, not what a GPU cluster gains (docs/tagging.md has the arithmetic for that).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import torch

from garmentparse.converters.pool import default_workers
from garmentparse.progress import ProgressCallback
from garmentparse.tagging import TagSummary, tag_folder
from garmentparse.tagging.ray_engine import CheckpointLoader, RayOptions, tag_folder_ray

REPO = Path(__file__).resolve().parents[1]


def timed_run(run: Callable[[ProgressCallback], TagSummary]) -> dict[str, float]:
    """One run: wall seconds, images/s, when its first lines arrived and the rate after that."""
    first: dict[str, float] = {}  # when the first lines arrived, and how many
    t0 = time.perf_counter()

    def on_progress(done: int, total: int | None = None, message: str = "") -> None:
        if done and not first:
            first.update(seconds=time.perf_counter() - t0, images=done)

    summary = run(on_progress)
    wall = time.perf_counter() - t0
    first_s, first_n = first.get("seconds", wall), first.get("images", 0)
    steady = (summary.images - first_n) / (wall - first_s) if wall > first_s else 0.0
    return {"seconds": wall, "images": summary.images, "images_per_s": summary.images / wall,
            "steady_images_per_s": steady, "first_lines_s": first_s}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--detector", type=Path, required=True)
    ap.add_argument("--classifier", type=Path, default=None)
    ap.add_argument("--images", type=Path, default=REPO / "examples" / "ccp" / "images")
    ap.add_argument("--batch-size", type=int, default=4)
    ap.add_argument("--workers", type=int, default=2, help="local engine's decode workers")
    ap.add_argument("--threads", type=int, default=1,
                    help="local engine's torch threads (1: like a 1-CPU actor; on a shared machine more "
                         "OpenMP threads than free cores slow torch down many times)")
    ap.add_argument("--score-threshold", type=float, default=None)
    ap.add_argument("--actors", type=int, nargs="+", default=[1, 2], help="actor counts to measure")
    ap.add_argument("--cpus-per-actor", type=float, default=1.0, help="CPUs (torch threads) per actor")
    ap.add_argument("--gpus-per-actor", type=float, default=0.0)
    ap.add_argument("--ray-cpus", type=int, default=default_workers())
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--json", type=Path, help="Also write the results here.")
    args = ap.parse_args()

    import ray

    torch.set_num_threads(args.threads)
    loader = CheckpointLoader(detector=str(args.detector), classifier=str(args.classifier) if args.classifier else None,
                              device=args.device, score_threshold=args.score_threshold)
    tagger = loader.load()
    n = len(list(args.images.rglob("*")))
    runs: dict[str, list[dict[str, float]]] = {"local": []}
    with tempfile.TemporaryDirectory(prefix="bench-tag-ray-") as tmp:
        t = time.perf_counter()
        ray.init(address="local", num_cpus=args.ray_cpus, include_dashboard=False, log_to_driver=False,
                 logging_level="ERROR")
        ray_start = time.perf_counter() - t
        try:
            for r in range(args.repeats):
                runs["local"].append(timed_run(lambda progress: tag_folder(
                    args.images, tagger, Path(tmp) / "local.jsonl", batch_size=args.batch_size, workers=args.workers,
                    on_progress=progress)))
                for actors in args.actors:
                    cpus = args.cpus_per_actor
                    name = f"ray {actors} x {cpus:g} CPU" + (f" {args.gpus_per_actor:g} GPU" if args.gpus_per_actor else "")
                    options = RayOptions(actors=actors, cpus_per_actor=cpus, gpus_per_actor=args.gpus_per_actor)
                    out = Path(tmp) / f"ray{actors}.jsonl"
                    runs.setdefault(name, []).append(timed_run(lambda progress: tag_folder_ray(
                        args.images, tagger, out, loader=loader, options=options, batch_size=args.batch_size,
                        on_progress=progress)))
                print(f"repeat {r + 1}: " + ", ".join(f"{k} {v[-1]['images_per_s']:.2f} img/s" for k, v in runs.items()))
        finally:
            ray.shutdown()
    median = {k: {m: statistics.median(run[m] for run in v) for m in v[0]} for k, v in runs.items()}
    base = median["local"]["images_per_s"]
    print(f"\n{n} files, batch {args.batch_size}, {os.cpu_count()} CPUs, torch threads {torch.get_num_threads()}, "
          f"local Ray start-up {ray_start:.1f}s (not in the runs)")
    print(f"{'':24s}{'img/s':>8s}{'vs local':>10s}{'steady img/s':>14s}{'first lines':>13s}")
    for name, m in median.items():
        print(f"{name:24s}{m['images_per_s']:8.2f}{m['images_per_s'] / base:9.2f}x"
              f"{m['steady_images_per_s']:14.2f}{m['first_lines_s']:12.1f}s")
    print(f"load average at the end: {os.getloadavg()[0]:.2f}")
    if args.json:
        args.json.write_text(json.dumps({"files": n, "ray_start_s": ray_start, "median": median, "runs": runs,
                                         "cpus": os.cpu_count(), "load_end": os.getloadavg()[0]}, indent=1))


if __name__ == "__main__":
    main()
