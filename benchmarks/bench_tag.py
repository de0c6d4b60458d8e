"""Benchmark `garmentparse tag`: the batched, worker-fed pipeline against a plain per-image loop.

Both sides make the same library calls (load_rgb -> Tagger.tag_arrays) over the same images in
the same run; the baseline does them one image at a time in one process, the pipeline decodes
in worker processes ahead of batched model calls (tag_folder). Prints medians over --repeats
and the ratio. On CUDA it also samples GPU utilisation (NVML) while each side runs.

    python benchmarks/bench_tag.py --detector det.pt --classifier cls.pt --images DIR \
        --device cuda --batch-size 8 --workers 6 --repeats 3

Without --detector/--classifier it trains the tiny configs on examples/ccp first (CPU, ~1 min).
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import threading
import time
from pathlib import Path

import torch

from garmentparse.imageio import find_images, load_rgb
from garmentparse.tagging import Tagger, tag_folder

REPO = Path(__file__).resolve().parents[1]


class GpuSampler:
    """Mean GPU utilisation (%) sampled every 50 ms through NVML while active."""

    def __init__(self, enabled: bool) -> None:
        self.enabled = enabled
        self.samples: list[int] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self.samples.append(torch.cuda.utilization())
            except Exception:  # noqa: BLE001 - NVML missing: report n/a
                self.enabled = False
                return
            time.sleep(0.05)

    def __enter__(self) -> GpuSampler:
        if self.enabled:
            self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        if self.enabled:
            self._thread.join()

    @property
    def mean(self) -> float | None:
        return statistics.mean(self.samples) if self.enabled and self.samples else None


def train_tiny_models(work: Path) -> tuple[Path, Path]:
    """Tiny detector + classifier trained on the bundled CCP sample (for a CPU smoke benchmark)."""
    from typer.testing import CliRunner

    from garmentparse.cli import build_app

    app, runner, ccp = build_app(), CliRunner(), REPO / "examples" / "ccp"
    steps = [
        ["convert", "kfashion", str(ccp / "labels"), "--images", str(ccp / "images"), "--out", str(work / "coco.json")],
        ["train", "detector", "--config", str(REPO / "configs/detection/tiny.yaml"), "--train", str(work / "coco.json"),
         "--images", str(ccp / "images"), "--out", str(work / "det"), "--device", "cpu"],
        ["crop", str(work / "coco.json"), "--images", str(ccp / "images"), "--out", str(work / "crops"), "--size", "96"],
        ["train", "classifier", "--config", str(REPO / "configs/classification/tiny.yaml"),
         "--manifest", str(work / "crops" / "manifest.csv"), "--out", str(work / "cls"), "--device", "cpu"],
    ]
    for args in steps:
        result = runner.invoke(app, args)
        if result.exit_code != 0:
            raise SystemExit(f"setup step failed: {' '.join(args)}\n{result.output}")
    return work / "det" / "model.pt", work / "cls" / "model.pt"


def add_tagger_args(ap: argparse.ArgumentParser, device: str) -> None:
    """Options every tag benchmark shares: models, images, device, batching, output."""
    ap.add_argument("--detector", type=Path, help="Detector checkpoint (default: train tiny.yaml here).")
    ap.add_argument("--classifier", type=Path, help="Classifier checkpoint (with --detector).")
    ap.add_argument("--images", type=Path, default=REPO / "examples" / "ccp" / "images")
    ap.add_argument("--device", default=device)
    ap.add_argument("--batch-size", type=int, default=4)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--score-threshold", type=float, default=None,
                    help="Default: the detector config's test.score_threshold.")
    ap.add_argument("--json", type=Path, help="Also write the results here.")


def tagger_from_args(args: argparse.Namespace, work: Path) -> Tagger:
    """The Tagger the options name, training the tiny models into ``work`` when none are given."""
    detector, classifier = args.detector, args.classifier
    if detector is None:
        detector, classifier = train_tiny_models(work)
    return Tagger.from_checkpoints(detector, classifier, device=args.device, score_threshold=args.score_threshold)


def report(result: dict, line: str, json_path: Path | None) -> None:
    """Print the results as JSON and a one-line verdict; also write them to ``json_path``."""
    print(json.dumps(result, indent=1))
    print(line)
    if json_path:
        json_path.write_text(json.dumps(result, indent=1))


def sync(device: str) -> None:
    if device.startswith("cuda"):
        torch.cuda.synchronize()


def run_baseline(tagger: Tagger, paths: list[Path], device: str) -> float:
    """Plain loop: decode, tag one image, next. Returns images/s."""
    start = time.perf_counter()
    for path in paths:
        tagger.tag_arrays([load_rgb(path)])
    sync(device)
    return len(paths) / (time.perf_counter() - start)


def run_pipeline(tagger: Tagger, images: Path, n: int, batch_size: int, workers: int, device: str) -> float:
    with tempfile.TemporaryDirectory() as tmp:
        summary = tag_folder(images, tagger, Path(tmp) / "out.jsonl", batch_size=batch_size, workers=workers)
    sync(device)
    assert summary.images == n
    return summary.images_per_s


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    add_tagger_args(ap, device="auto")
    ap.add_argument("--limit", type=int, default=0, help="Use only the first N images (0: all).")
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args()

    work = Path(tempfile.mkdtemp(prefix="bench_tag_"))
    images = args.images
    paths = find_images(images)
    if args.limit:
        images = work / "subset"
        images.mkdir(exist_ok=True)
        for p in paths[: args.limit]:
            (images / p.name).symlink_to(p.resolve())
        paths = find_images(images)
    tagger = tagger_from_args(args, work)
    device = str(tagger.segmenter.device)
    cuda = device.startswith("cuda")
    tagger.tag_arrays([load_rgb(paths[0])] * min(2, args.batch_size))  # warm-up (cudnn, allocator)

    base, pipe, base_util, pipe_util = [], [], [], []
    for _ in range(args.repeats):
        with GpuSampler(cuda) as s:
            base.append(run_baseline(tagger, paths, device))
        base_util.append(s.mean)
        with GpuSampler(cuda) as s:
            pipe.append(run_pipeline(tagger, images, len(paths), args.batch_size, args.workers, device))
        pipe_util.append(s.mean)
    med = statistics.median
    result = {
        "device": torch.cuda.get_device_name() if cuda else "cpu",
        "images": len(paths), "batch_size": args.batch_size, "workers": args.workers, "repeats": args.repeats,
        "baseline_images_per_s": round(med(base), 3), "pipeline_images_per_s": round(med(pipe), 3),
        "speedup": round(med(pipe) / med(base), 3),
        "gpu_busy_pct_baseline": round(med(base_util), 1) if cuda and base_util[0] is not None else None,
        "gpu_busy_pct_pipeline": round(med(pipe_util), 1) if cuda and pipe_util[0] is not None else None,
        "runs_baseline": [round(v, 3) for v in base], "runs_pipeline": [round(v, 3) for v in pipe],
    }
    report(result, f"tag pipeline {result['pipeline_images_per_s']} img/s vs per-image loop "
                   f"{result['baseline_images_per_s']} img/s on {result['device']}: {result['speedup']}x", args.json)


if __name__ == "__main__":
    main()
