"""Measure the release models of scripts/release_models.sh (docs/models.md).

Choices on the dev photos only (81 of the training photos the detector never trained on):
the duplicate-suppression threshold (``test.duplicate_iou``: the highest mask AP among the
thresholds whose duplicate rate is <= 2 %) and fp16 vs fp32 weights. Then the final figures on
the test photos (never used for a choice): detector box/mask AP per part and duplicate rate,
classifier accuracy per head (with and without TTA), same-category retrieval of the embedder.
Writes WORK/measure/*.json and WORK/metrics-{detector,classifier,embedder}.json (the cards'
metrics, read by scripts/package_release.py).

    python scripts/measure_release.py WORK --images PHOTOS [--stage detector|classifier|embedder|all]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

from package_release import half  # scripts/ is on sys.path when a script of it runs

from garmentparse.checkpoint import load_checkpoint, save_checkpoint

THRESHOLDS = (0.0, 0.3, 0.5, 0.7, 0.9)
MAX_DUPLICATE_RATE = 0.02
G = [sys.executable, "-m", "garmentparse"]


def run_json(*args: object) -> dict[str, Any]:
    """A garmentparse command's --json output."""
    out = subprocess.run([*G, *map(str, args), "--json"], check=True, capture_output=True, text=True).stdout
    return json.loads(out.strip().splitlines()[-1])


def fp16_copy(source: Path, target: Path) -> Path:
    """The checkpoint with fp16 weights (what the package ships), to measure what fp16 costs."""
    ckpt = load_checkpoint(source)
    ckpt.state_dict = half(ckpt.state_dict)
    ckpt.extra = {}
    save_checkpoint(ckpt, target)
    return target


def headline_detector(m: dict[str, Any]) -> dict[str, Any]:
    return {"box AP": m["bbox"]["AP"], "mask AP": m["segm"]["AP"], "duplicate rate": m.get("duplicate_rate")}


def detector(work: Path, images: str, out: Path) -> dict[str, Any]:
    model = work / "det-lite0-long" / "model.pt"
    dev = work / "dev" / "val.json"
    sweep = {}
    for t in THRESHOLDS:
        sweep[str(t)] = run_json("eval", "detector", model, "--coco", dev, "--images", images, "--device", "cpu",
                                 "--duplicate-iou", t)
        print(f"dev duplicate_iou {t}: {headline_detector(sweep[str(t)])}", file=sys.stderr)
    ok = [t for t in THRESHOLDS if sweep[str(t)]["duplicate_rate"] <= MAX_DUPLICATE_RATE] or list(THRESHOLDS)
    chosen = max(ok, key=lambda t: (sweep[str(t)]["segm"]["AP"], t))
    half = fp16_copy(model, out / "detector-fp16.pt")
    dev_fp16 = run_json("eval", "detector", half, "--coco", dev, "--images", images, "--device", "cpu",
                        "--duplicate-iou", chosen)
    test = work / "split" / "val.json"
    final = run_json("eval", "detector", half, "--coco", test, "--images", images, "--device", "cpu",
                     "--duplicate-iou", chosen)
    final_off = run_json("eval", "detector", half, "--coco", test, "--images", images, "--device", "cpu",
                         "--duplicate-iou", 0)
    record = {"dev_sweep": sweep, "chosen_duplicate_iou": chosen, "dev_fp16": dev_fp16, "test": final,
              "test_without_suppression": final_off}
    (out / "detector.json").write_text(json.dumps(record, indent=1))
    return {"held_out": {**headline_detector(final), "photos": len(json.loads(test.read_text())["images"])},
            "held_out_per_part": {"box AP": final["bbox"].get("per_category"), "mask AP": final["segm"].get("per_category")},
            "held_out_without_suppression": headline_detector(final_off),
            "duplicate_iou": chosen, "dev": {"fp32": headline_detector(sweep[str(chosen)]),
                                             "fp16": headline_detector(dev_fp16)}}


def classifier(work: Path, model: Path, out: Path) -> dict[str, Any]:
    test = work / "crops" / "val" / "manifest.csv"
    half = fp16_copy(model, out / "classifier-fp16.pt")
    plain = run_json("eval", "classifier", half, "--manifest", test, "--device", "cpu")
    tta = run_json("eval", "classifier", half, "--manifest", test, "--device", "cpu", "--tta")
    fp32 = run_json("eval", "classifier", model, "--manifest", test, "--device", "cpu")
    (out / "classifier.json").write_text(json.dumps({"test": plain, "test_tta": tta, "test_fp32": fp32}, indent=1))
    return {"held_out": accuracies(plain), "held_out_tta": accuracies(tta), "held_out_fp32": accuracies(fp32),
            "held_out_per_head": plain.get("heads", plain)}


def accuracies(result: dict[str, Any]) -> dict[str, float]:
    return {f"{h} accuracy": round(v["accuracy"], 3) for h, v in result.get("heads", result).items()
            if isinstance(v, dict) and v.get("accuracy") is not None}


def embedder(work: Path, model: Path, images: str, out: Path) -> dict[str, Any]:
    folders = {}
    for split in ("train", "val"):
        folders[split] = out / f"emb-{split}"
        subprocess.run([*G, "embed", work / "crops" / split / "manifest.csv", "--model", model, "--out",
                        folders[split], "--images", images, "--device", "cpu"], check=True, capture_output=True)
    whole = run_json("eval", "embeddings", folders["val"], "--gallery", folders["train"], "--labels", "category,part,colour")
    within = run_json("eval", "embeddings", folders["val"], "--gallery", folders["train"], "--labels", "category",
                      "--same", "part")
    (out / "embedder.json").write_text(json.dumps({"whole_gallery": whole, "within_part": within}, indent=1))
    return {"held_out": {"category P@10": round(whole["category"]["precision"]["p@10"], 3),
                         "category P@10 within the part": round(within["category"]["precision"]["p@10"], 3)},
            "held_out_detail": {"whole_gallery": whole, "within_part": within}}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("work", type=Path)
    parser.add_argument("--images", required=True)
    parser.add_argument("--stage", default="all", choices=("detector", "classifier", "embedder", "all"))
    parser.add_argument("--classifier", type=Path, default=None, help="classifier run's model.pt (default: the recipe's)")
    parser.add_argument("--embedder", type=Path, default=None, help="embedder model.pt (default: the recipe's)")
    args = parser.parse_args()
    out = args.work / "measure"
    out.mkdir(parents=True, exist_ok=True)
    stages = ("detector", "classifier", "embedder") if args.stage == "all" else (args.stage,)
    for stage in stages:
        if stage == "detector":
            metrics = detector(args.work, args.images, out)
        elif stage == "classifier":
            metrics = classifier(args.work, args.classifier or args.work / "cls-lite0-160" / "model.pt", out)
        else:
            metrics = embedder(args.work, args.embedder or args.work / "emb-release" / "model.pt", args.images, out)
        (args.work / f"metrics-{stage}.json").write_text(json.dumps(metrics, indent=1))
        print(json.dumps({stage: metrics.get("held_out")}), flush=True)


if __name__ == "__main__":
    main()
