"""Benchmark: classifier prediction time per crop, per backbone, without and with TTA.

Cuts real garment crops from the bundled CCP photos (examples/ccp) with the converter, builds each
backbone untrained (init none: timing does not depend on the weights) with the base heads, or
loads ``--checkpoint``, and times ``TorchvisionClassifier.predict`` (model time only, decoded crops
in memory) for TTA off / hflip / crops+hflip. Medians over ``--repeats``. Usage::

    python benchmarks/bench_classify.py --backbones mobilenet_v3_small resnet18 --size 128 --threads 1
    python benchmarks/bench_classify.py --checkpoint runs/cls/model.pt --device cuda
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import torch

REPO = Path(__file__).resolve().parents[1]
TTA = {"none": [], "hflip": ["hflip"], "crops+hflip": ["crops", "hflip"]}


def crops_from_ccp(n: int, size: int):
    from garmentparse.classifiers.data import read_manifest
    from garmentparse.converters import convert_kfashion, crop_dataset
    from garmentparse.imageio import load_rgb

    ccp = REPO / "examples" / "ccp"
    with tempfile.TemporaryDirectory() as tmp:
        coco, _ = convert_kfashion(ccp / "labels", ccp / "images")
        crop_dataset(coco, ccp / "images", tmp, size=size)
        records = read_manifest(Path(tmp) / "manifest.csv")
        images = [load_rgb(r.path) for r in records]
        parts = [r.part for r in records]
    reps = -(-n // len(images))
    return (images * reps)[:n], (parts * reps)[:n]


def untrained(backbone: str, size: int, device: str):
    from garmentparse.classifiers import MultiHeadClassifier, TorchvisionClassifier, load_classifier_config
    from garmentparse.checkpoint import resolve_device
    from garmentparse.vocab import ATTRIBUTES

    cfg = load_classifier_config(REPO / "configs/classification/base.yaml",
                                 [f"model.backbone={backbone}", f"data.input_size={size}"])
    vocabulary = {h.attribute: ATTRIBUTES[h.attribute].values for h in cfg.model.heads}
    model = MultiHeadClassifier.from_config(cfg, vocabulary, init="none")
    return TorchvisionClassifier(model, cfg, vocabulary, device=resolve_device(device))


def time_predict(clf, images, parts, tta, batch: int, repeats: int) -> float:
    clf.config.eval.batch_size = batch
    clf.predict(images[:batch], parts[:batch], tta=tta)  # warm-up
    runs = []
    for _ in range(repeats):
        if clf.device.type == "cuda":
            torch.cuda.synchronize()
        t0 = time.perf_counter()
        clf.predict(images, parts, tta=tta)
        if clf.device.type == "cuda":
            torch.cuda.synchronize()
        runs.append((time.perf_counter() - t0) / len(images))
    return statistics.median(runs) * 1000


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--checkpoint", type=Path, help="time this trained model instead of untrained backbones")
    ap.add_argument("--backbones", nargs="+", default=["mobilenet_v3_small", "resnet18", "resnet50"])
    ap.add_argument("--size", type=int, default=224, help="network input size (untrained backbones)")
    ap.add_argument("--n", type=int, default=64, help="crops per timed run")
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--device", default="auto")
    ap.add_argument("--threads", type=int, default=None, help="torch intra-op threads (CPU)")
    args = ap.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    from garmentparse.classifiers import load_classifier

    images, parts = crops_from_ccp(args.n, 256)
    models = ([(str(args.checkpoint), lambda: load_classifier(args.checkpoint, device=args.device))]
              if args.checkpoint else [(b, lambda b=b: untrained(b, args.size, args.device)) for b in args.backbones])
    print(f"{'model':<24} {'device':<6} {'input':>5} " + " ".join(f"{k:>14}" for k in TTA) + "   (ms/crop)")
    for name, make in models:
        clf = make()
        times = {k: time_predict(clf, images, parts, modes, args.batch, args.repeats) for k, modes in TTA.items()}
        cost = " ".join(f"{v:8.2f} ({v / times['none']:3.1f}x)" for v in times.values())
        print(f"{name:<24} {clf.device.type:<6} {clf.input_size:>5} {cost}")


if __name__ == "__main__":
    main()
