"""Write the release weights package from trained run folders (the last step of
scripts/release_models.sh).

For each model of models/release.yaml with a ``source``: load its checkpoint (relative to RUNS), keep
what inference and fine-tuning need (weights, config, vocabulary; no optimiser state), store the
floating-point weights as fp16 (``--fp32`` keeps float32), write ``<name>.pt`` into the package
folder and a manifest.json entry with its sha256, size and card (backbone, classes, metrics read
from ``metrics`` JSON files the recipe's evaluations wrote). A model without ``source`` is one of
an earlier release kept as it is: its file and manifest entry stay, with the fields release.yaml
gives it (``default``, ``description``) updated.

    python scripts/package_release.py runs [--release models/release.yaml] [--fp32 NAME ...]
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

import torch
import yaml

from garmentparse.checkpoint import Checkpoint, file_sha256, load_checkpoint, save_checkpoint
from garmentparse.release import MANIFEST, MANIFEST_FORMAT

REPO = Path(__file__).resolve().parents[1]
KEEP_EXTRA = ("iteration", "train_seconds", "untrained_heads", "base", "metrics")  # not the optimiser, hooks, history


def half(state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Floating tensors as fp16 (loading copies them back into float32 parameters)."""
    return {k: v.half() if v.is_floating_point() else v for k, v in state.items()}


def slim(ckpt: Checkpoint, fp16: bool) -> Checkpoint:
    """The checkpoint without training state; fp16 weights (the embedder's base too)."""
    extra: dict[str, Any] = {k: v for k, v in ckpt.extra.items() if k in KEEP_EXTRA}
    if fp16 and isinstance(extra.get("base"), dict) and "checkpoint" in extra["base"]:
        base = dict(extra["base"])
        base["checkpoint"] = {**base["checkpoint"], "state_dict": half(base["checkpoint"]["state_dict"])}
        extra["base"] = base
    state = half(ckpt.state_dict) if fp16 else ckpt.state_dict
    return Checkpoint(ckpt.kind, ckpt.config, ckpt.vocabulary, state, extra)


def card(ckpt: Checkpoint) -> dict[str, Any]:
    """Backbone, classes / heads and input size, read from the checkpoint itself."""
    model = ckpt.config.get("model", {})
    if ckpt.kind == "embedder":
        base = ckpt.extra.get("base", {})
        inner = base.get("checkpoint", {}).get("config", {})
        return {"backbone": f"{inner.get('model', {}).get('backbone', base.get('kind'))} + {ckpt.config.get('head')}"
                            f" projection", "dim": ckpt.config.get("dim"),
                "base": Path(str(base.get("path", ""))).name, "labels": ckpt.config.get("labels")}
    info: dict[str, Any] = {"backbone": model.get("backbone"), "classes": ckpt.vocabulary}
    if ckpt.kind == "detector":
        info["input"] = {k: ckpt.config.get("input", {}).get(k) for k in ("min_size_test", "max_size_test")}
    else:
        info["heads"] = list(ckpt.vocabulary)
        info["input"] = {"input_size": ckpt.config.get("data", {}).get("input_size")}
    return info


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("runs", type=Path, help="folder the recipe trained in")
    parser.add_argument("--release", type=Path, default=REPO / "models" / "release.yaml")
    parser.add_argument("--fp32", nargs="*", default=[], help="models kept in float32")
    args = parser.parse_args()
    spec = yaml.safe_load(args.release.read_text(encoding="utf-8"))
    package = REPO / spec["package"]
    before = {e["name"]: e for e in json.loads((package / MANIFEST).read_text(encoding="utf-8"))["models"]} \
        if (package / MANIFEST).exists() else {}
    entries = []
    for model in spec["models"]:
        if "source" not in model:  # an earlier release's model, kept as shipped
            if model["name"] not in before:
                raise SystemExit(f"{model['name']}: no source and not in {package / MANIFEST}")
            kept = {**before[model["name"]], **{k: v for k, v in model.items() if k != "metrics"}}
            if file_sha256(package / kept["file"]) != kept["sha256"]:
                raise SystemExit(f"{kept['file']}: sha256 differs from the manifest")
            entries.append(kept)
            continue
        source = args.runs / model["source"]
        ckpt = load_checkpoint(source)
        if ckpt.kind != model["task"]:
            raise SystemExit(f"{source} is a {ckpt.kind}, release.yaml says {model['task']}")
        metrics = {}
        for path in model.get("metrics", []):
            metrics.update(json.loads((args.runs / path).read_text(encoding="utf-8")))
        if ckpt.kind == "detector" and "duplicate_iou" in metrics:  # the threshold chosen on the dev photos
            ckpt.config = {**ckpt.config, "test": {**ckpt.config.get("test", {}), "duplicate_iou": metrics["duplicate_iou"]}}
        fp16 = model["name"] not in args.fp32
        target = package / f"{model['name']}.pt"
        save_checkpoint(slim(ckpt, fp16), target)
        fields = {k: v for k, v in model.items() if k not in ("source", "metrics")}
        entries.append({**fields, "file": target.name, "sha256": file_sha256(target),
                        "size_bytes": target.stat().st_size, "dtype": "float16" if fp16 else "float32",
                        **card(ckpt), "metrics": metrics})
        print(f"{target}: {target.stat().st_size / 2**20:.1f} MiB")
    (package / MANIFEST).write_text(json.dumps({"format": MANIFEST_FORMAT, "models": entries}, indent=1,
                                               ensure_ascii=False) + "\n", encoding="utf-8")
    print(f"wrote {package / MANIFEST}")


if __name__ == "__main__":
    main()
