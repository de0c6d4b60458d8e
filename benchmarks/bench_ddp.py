"""Benchmark: data-parallel training throughput (images/s) on 1, 2, ... processes, against the
1-process baseline measured in the same run.

Weak scaling, as data-parallel training is used: each process keeps ``--batch`` images per step, so
the global batch (``data.batch_size``) is ``--batch x N``. Every run starts its processes as
``train detector --nproc N`` does (:func:`garmentparse.engine.distributed.launch_local`, gloo on
CPU, NCCL on CUDA) and trains ``--iters`` steps from scratch on the CCP photos (``--data``:
images/ + labels/, default the bundled examples/ccp). Throughput is steady state: images over the
training time after the first ``--log-period`` steps (warm-up, first batches, the allocator), read
from the run's metrics.jsonl. Medians over ``--repeats``; the ratio is against 1 process. Usage::

    OMP_NUM_THREADS=1 python benchmarks/bench_ddp.py --nproc 1 2 --repeats 3      # CPU: tiny config
    python benchmarks/bench_ddp.py --device cuda --config configs/detection/lite0_fpn.yaml \\
        --nproc 1 2 4 8 --batch 8 --iters 60 --log-period 20 --workers 4 --data /tmp/ccp --json ddp.json
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def coco_of(data: Path, work: Path) -> Path:
    """The K-Fashion-schema labels of ``data`` as one COCO file."""
    from garmentparse.converters import convert_kfashion

    coco, _ = convert_kfashion(data / "labels", data / "images")
    path = work / "train.json"
    path.write_text(json.dumps(coco), encoding="utf-8")
    return path


def train_worker(cfg, train_json: Path, images: Path, out: Path, device: str, threads: int) -> float:  # noqa: ANN001
    """One process of a run; returns the steady-state images/s of the whole run (rank 0's log)."""
    import torch

    from garmentparse.engine.distributed import get_world
    from garmentparse.parsing import train_detector

    torch.set_num_threads(threads)
    train_detector(cfg, train_json, images, out, device=device)
    if not get_world().main:
        return 0.0
    rows = [r for r in map(json.loads, (out / "metrics.jsonl").read_text().splitlines()) if "loss" in r]
    first, last = rows[0], rows[-1]  # "time": training seconds at that step; skip the first window
    images = (last["iter"] - first["iter"]) * cfg.data.batch_size
    return images / max(last["time"] - first["time"], 1e-9)


def run(n: int, args: argparse.Namespace, train_json: Path, images: Path, work: Path) -> float:
    from garmentparse.engine.distributed import launch_local
    from garmentparse.parsing import load_detector_config

    cfg = load_detector_config(args.config, [
        f"data.batch_size={args.batch * n}", f"data.workers={args.workers}", f"solver.max_iter={args.iters}",
        f"solver.warmup_iters={min(args.log_period, args.iters - 1)}", f"train.log_period={args.log_period}",
        f"train.checkpoint_period={args.iters}", *args.set])
    out = work / f"n{n}_{time.monotonic_ns()}"
    return launch_local(n, train_worker, cfg, train_json, images, out, args.device, args.threads)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--config", type=Path, default=REPO / "configs/detection/tiny.yaml")
    ap.add_argument("--data", type=Path, default=REPO / "examples/ccp", help="folder with images/ and labels/")
    ap.add_argument("--nproc", type=int, nargs="+", default=[1, 2], help="process counts (1 is always measured)")
    ap.add_argument("--batch", type=int, default=2, help="images per process per step")
    ap.add_argument("--iters", type=int, default=12)
    ap.add_argument("--log-period", type=int, default=4, help="steps per metrics window; the first is warm-up")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--threads", type=int, default=1, help="torch threads per process")
    ap.add_argument("--workers", type=int, default=0, help="DataLoader workers per process")
    ap.add_argument("--set", nargs="*", default=[], metavar="KEY=VALUE", help="more config overrides")
    ap.add_argument("--json", type=Path, default=None)
    args = ap.parse_args()
    if args.iters < 2 * args.log_period:
        ap.error("--iters must be at least 2 x --log-period (the first window is warm-up)")
    counts = sorted({1, *args.nproc})
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        train_json = coco_of(args.data, work)
        rates: dict[int, list[float]] = {n: [] for n in counts}
        for r in range(args.repeats):  # interleaved, so drifting load hits every count alike
            for n in counts:
                rates[n].append(run(n, args, train_json, args.data / "images", work))
                print(f"repeat {r + 1}/{args.repeats}: {n} process(es): {rates[n][-1]:.2f} images/s", flush=True)
    base = statistics.median(rates[1])
    print(f"\n{args.config.name} on {args.device}, {args.batch} images per process per step, {args.iters} steps "
          f"(steady state after {args.log_period}), {args.threads} thread(s) per process, median of {args.repeats}")
    print("| processes | images/s | x 1 process | ideal |")
    print("|---|---|---|---|")
    table = []
    for n in counts:
        med = statistics.median(rates[n])
        table.append({"nproc": n, "images_per_s": round(med, 3), "ratio": round(med / base, 3),
                      "runs": [round(x, 3) for x in rates[n]]})
        print(f"| {n} | {med:.2f} | {med / base:.2f} | {n} |")
    if args.json:
        args.json.write_text(json.dumps({"config": str(args.config), "device": args.device, "batch": args.batch,
                                         "iters": args.iters, "threads": args.threads, "results": table}, indent=1))


if __name__ == "__main__":
    main()
