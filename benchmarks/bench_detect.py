"""Detector inference speed: images/s per device and batch size, three ways in one run.

- ``predict``: ``Segmenter.predict`` on RGB uint8 arrays, end to end (upload, resize and
  normalise, network, mask pasting, score filter, RLE encoding) - what ``tag`` pays.
- ``model``: the torchvision model on pre-made float tensors already on the device (its own
  resize/normalise and mask pasting included, no RLE).
- ``network``: backbone + RPN + RoI heads on an already resized, batched tensor - the pure
  network forward. ``predict`` minus ``network`` is the overhead outside the network.

Medians over ``--repeats`` timed runs after ``--warmup`` runs; CUDA timings synchronise.

    python benchmarks/bench_detect.py --config configs/detection/tiny.yaml --devices cpu --batch-sizes 1,4
    python benchmarks/bench_detect.py --checkpoint runs/det/model.pt --devices cuda --batch-sizes 1,8,16
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

import numpy as np
import torch

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from garmentparse.imageio import find_images, load_rgb  # noqa: E402
from garmentparse.parsing import TorchvisionSegmenter, load_detector_config, load_segmenter  # noqa: E402
from garmentparse.parsing.model import build_model  # noqa: E402
from garmentparse.vocab import PARTS  # noqa: E402


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def _median_s(fn, device: torch.device, warmup: int, repeats: int) -> float:
    for _ in range(warmup):
        fn()
    _sync(device)
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        fn()
        _sync(device)
        times.append(time.perf_counter() - t)
    return statistics.median(times)


def make_segmenter(args: argparse.Namespace, device: torch.device) -> TorchvisionSegmenter:
    if args.checkpoint:
        seg = load_segmenter(args.checkpoint, device=str(device), amp=not args.no_amp)
    else:  # random weights: same compute, but the number of detections is arbitrary
        cfg = load_detector_config(args.config, args.set or [])
        torch.manual_seed(0)
        seg = TorchvisionSegmenter(build_model(cfg, len(PARTS) + 1), list(PARTS), cfg, device,
                                   amp=not args.no_amp)
    if not isinstance(seg, TorchvisionSegmenter):
        raise SystemExit("bench_detect measures the torchvision backend")
    return seg


def bench(args: argparse.Namespace) -> list[dict]:
    paths = find_images(args.images)[: max(args.batch_sizes)]
    if not paths:
        raise SystemExit(f"no images under {args.images}")
    photos = [load_rgb(p) for p in paths]
    rows = []
    for dev_name in args.devices:
        if dev_name == "cuda" and not torch.cuda.is_available():
            print("cuda: not available, skipped", file=sys.stderr)
            continue
        device = torch.device(dev_name)
        seg = make_segmenter(args, device)
        model = seg.model
        threshold = args.score_threshold if args.score_threshold is not None else seg.config.test.score_threshold
        for bs in args.batch_sizes:
            batch = [photos[i % len(photos)] for i in range(bs)]
            seg.batch_size = bs
            tensors = seg.to_tensors(batch)
            with torch.inference_mode():
                image_list, _ = model.transform(tensors)

            def run_predict() -> list:
                return seg.predict(batch, score_threshold=threshold)

            @torch.inference_mode()
            def run_model() -> list:
                return model(tensors)

            @torch.inference_mode()
            def run_network() -> object:
                feats = model.backbone(image_list.tensors)
                proposals, _ = model.rpn(image_list, feats)
                return model.roi_heads(feats, proposals, image_list.image_sizes)

            t_pred = _median_s(run_predict, device, args.warmup, args.repeats)
            t_model = _median_s(run_model, device, args.warmup, args.repeats)
            t_net = _median_s(run_network, device, args.warmup, args.repeats)
            dets = run_predict()
            row = {
                "device": dev_name, "batch": bs, "amp_bf16": bool(seg.amp),
                "input": list(image_list.tensors.shape[-2:]),
                "predict_img_s": round(bs / t_pred, 2), "model_img_s": round(bs / t_model, 2),
                "network_img_s": round(bs / t_net, 2),
                "predict_ms": round(t_pred * 1000, 1), "model_ms": round(t_model * 1000, 1),
                "network_ms": round(t_net * 1000, 1),
                "overhead_pct": round(100 * (t_pred - t_net) / t_pred, 1),
                "detections_per_image": round(sum(len(d) for d in dets) / bs, 1),
            }
            rows.append(row)
            print(json.dumps(row), file=sys.stderr)
    return rows


def markdown(rows: list[dict]) -> str:
    head = ("| device | batch | input (h, w) | predict img/s | model img/s | network img/s | "
            "predict ms/batch | network ms/batch | outside network | dets/img |")
    lines = [head, "|" + "---|" * 10]
    for r in rows:
        lines.append(f"| {r['device']}{' bf16' if r['amp_bf16'] else ''} | {r['batch']} | "
                     f"{r['input'][0]}x{r['input'][1]} | {r['predict_img_s']} | {r['model_img_s']} | "
                     f"{r['network_img_s']} | {r['predict_ms']} | {r['network_ms']} | "
                     f"{r['overhead_pct']}% | {r['detections_per_image']} |")
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    src = ap.add_mutually_exclusive_group()
    src.add_argument("--checkpoint", type=Path, help="A trained model.pt (real detections).")
    src.add_argument("--config", type=Path, default=REPO / "configs/detection/tiny.yaml",
                     help="Detector YAML for a randomly initialised model (default: tiny).")
    ap.add_argument("--set", action="append", help="Config override key=value (with --config).")
    ap.add_argument("--images", type=Path, default=REPO / "examples/ccp/images", help="Photos to run on.")
    ap.add_argument("--devices", default="cpu,cuda", help="Comma list; cuda is skipped when absent.")
    ap.add_argument("--batch-sizes", default="1,4", help="Comma list of batch sizes.")
    ap.add_argument("--repeats", type=int, default=5, help="Timed runs per measurement (median).")
    ap.add_argument("--warmup", type=int, default=2, help="Untimed runs first.")
    ap.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: torch's).")
    ap.add_argument("--score-threshold", type=float, default=None, help="predict threshold (default: config).")
    ap.add_argument("--no-amp", action="store_true", help="Disable bf16 autocast on CUDA.")
    ap.add_argument("--json", type=Path, help="Write the rows as JSON here.")
    args = ap.parse_args()
    args.devices = [d.strip() for d in args.devices.split(",") if d.strip()]
    args.batch_sizes = [int(b) for b in args.batch_sizes.split(",")]
    if args.threads:
        torch.set_num_threads(args.threads)
    rows = bench(args)
    meta = {"torch": torch.__version__, "threads": torch.get_num_threads(),
            "cuda_device": torch.cuda.get_device_name(0) if torch.cuda.is_available() else None,
            "source": str(args.checkpoint or args.config)}
    print(markdown(rows))
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps({"meta": meta, "rows": rows}, indent=1))


if __name__ == "__main__":
    np.set_printoptions(precision=3)
    main()
