"""Measure a detector + classifier pair (and an embedder) on the v2 release splits, beside v1.

    python scripts/measure_v2.py WORK --name v2 --detector D --classifier C [--embedder E] [--fp16]
        [--splits products-test ccp-test] [--baseline v1]

``--fp16``: measure fp16 copies of the three files made as package_release.py makes the shipped
ones (its ``slim``: the embedder's base classifier halved too), in WORK/measure/<name>/fp16/.

WORK is the folder of scripts/release_v2_data.py. For each split a folder of links to its photos
is tagged the way a user tags (`garmentparse tag`, default settings) and scored:
- product splits: `eval products` (the contract per class, exactly one garment);
- street splits: `compare` against the true CCP masks (found garments, accuracy per head among
  the found ones, box/mask AP) with the baseline's output on the same photos when there is one,
  and `eval detector` (AP per part, duplicate rate);
- with --embedder: same-category P@10 of street test garments against the training garments.
Every result goes to WORK/measure/<name>/*.json; a summary line per split is printed.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

from package_release import slim  # scripts/ is on sys.path when a script of it runs

from garmentparse.checkpoint import load_checkpoint, save_checkpoint

G = [sys.executable, "-m", "garmentparse"]
SPLITS = {"products-test": "products/test.json", "products-dev": "products/dev.json",
          "ccp-test": "ccp/test.json", "ccp-dev": "ccp/dev.json"}
IMAGES = {"products": "images/products", "ccp": "images/ccp"}  # release_v2_data.py's links


def shipped_copy(model: str, target: Path) -> str:
    """``model`` as the package ships it (fp16, no training state)."""
    save_checkpoint(slim(load_checkpoint(model), True), target)
    return str(target)


def run_json(*args: object) -> dict[str, Any]:
    out = subprocess.run([*G, *map(str, args), "--json"], check=True, capture_output=True, text=True).stdout
    return json.loads(out.strip().splitlines()[-1])


def photo_folder(work: Path, split: str) -> Path:
    """The folder of links to the split's photos that scripts/release_v2_data.py made."""
    folder = work / "photos" / split
    if not folder.is_dir():
        raise SystemExit(f"{folder}: missing; run scripts/release_v2_data.py {work} first")
    return folder


def tag(work: Path, out: Path, split: str, detector: str, classifier: str) -> Path:
    tags = out / f"tags-{split}.jsonl"
    if not tags.exists():
        summary = run_json("tag", photo_folder(work, split), "--out", tags, "--detector", detector,
                           "--classifier", classifier, "--device", "cpu", "--overwrite")
        (out / f"tag-{split}.json").write_text(json.dumps(summary, indent=1))
    return tags


def measure(work: Path, name: str, detector: str, classifier: str, embedder: str | None, splits: list[str],
            baseline: str | None) -> dict[str, Any]:
    out = work / "measure" / name
    out.mkdir(parents=True, exist_ok=True)
    results: dict[str, Any] = {}
    for split in splits:
        tags = tag(work, out, split, detector, classifier)
        truth = work / SPLITS[split]
        if split.startswith("products"):
            r = run_json("eval", "products", tags, "--coco", truth)
            results[split] = {"contract": {k: r["contract_classes"][k] for k in ("photos", "held", "part_right", "worst_class",
                                                                                  "exactly_one_garment")},
                              "all_classes": {k: r["all_classes"][k] for k in ("photos", "held", "exactly_one_garment")},
                              "per_class": {c: v["rate"] for c, v in r["contract_classes"]["per_class"].items()}}
        else:
            # this pair alone (A = B): garments found, accuracy among the found ones
            cmp = run_json("compare", tags, tags, "--truth", truth, "--out", out / f"compare-{split}",
                           "--images", photo_folder(work, split))
            (out / f"compare-{split}.json").write_text(json.dumps(cmp, indent=1))
            other = work / "measure" / baseline / f"tags-{split}.jsonl" if baseline else None
            if other is not None and other.exists():  # paired with the baseline, bootstrap intervals
                paired = run_json("compare", other, tags, "--truth", truth, "--out", out / f"vs-{baseline}-{split}",
                                  "--images", photo_folder(work, split))
                (out / f"vs-{baseline}-{split}.json").write_text(json.dumps(paired, indent=1))
            det = run_json("eval", "detector", detector, "--coco", truth, "--images", work / IMAGES["ccp"],
                           "--device", "cpu")
            (out / f"detector-{split}.json").write_text(json.dumps(det, indent=1))
            t = cmp["truth"]
            garments = t["garments"]
            results[split] = {
                "photos": t["photos"], "garments": garments, "found": round(1 - t["missed_b"] / garments, 4),
                "accuracy_among_found": {a["head"]: a["accuracy_b"] for a in t["accuracy"]},
                "box AP": det["bbox"]["AP"], "mask AP": det["segm"]["AP"],
                "duplicate rate": det.get("duplicate_rate"),
                "per_part": {"box AP": det["bbox"].get("per_category"), "mask AP": det["segm"].get("per_category")}}
        print(json.dumps({name: {split: results[split]}}), flush=True)
    if embedder:
        if not (work / "crops/ccp-test/manifest.csv").exists():
            subprocess.run([*G, "crop", work / SPLITS["ccp-test"], "--images", work / IMAGES["ccp"], "--out",
                            work / "crops/ccp-test", "--size", "256", "--workers", "1"], check=True, capture_output=True)
        folders = {}
        for split, manifest in (("train", "crops/train/manifest.csv"), ("test", "crops/ccp-test/manifest.csv")):
            folders[split] = out / f"emb-{split}"
            if not folders[split].exists():
                subprocess.run([*G, "embed", work / manifest, "--model", embedder, "--out", folders[split],
                                "--images", work / "images", "--device", "cpu"], check=True, capture_output=True)
        whole = run_json("eval", "embeddings", folders["test"], "--gallery", folders["train"], "--labels", "category")
        results["retrieval"] = {"street category P@10": round(whole["category"]["precision"]["p@10"], 4)}
        print(json.dumps({name: {"retrieval": results["retrieval"]}}), flush=True)
    (out / "summary.json").write_text(json.dumps(results, indent=1))
    if "products-test" in results and "ccp-test" in results:
        for task, metrics in cards(results).items():
            (work / f"metrics-{name}-{task}.json").write_text(json.dumps(metrics, indent=1))
    return results


def cards(r: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """The model cards' metrics (package_release.py reads them) from the test-split results."""
    p, s = r["products-test"], r["ccp-test"]
    acc = s["accuracy_among_found"]
    product = {"product photos": p["contract"]["photos"], "product row holds": p["contract"]["held"],
               "product part right": p["contract"]["part_right"],
               "product exactly one garment": p["contract"]["exactly_one_garment"]}
    street = {"street photos": s["photos"], "street garments found": s["found"], "street box AP": s["box AP"],
              "street mask AP": s["mask AP"], "street duplicate rate": s["duplicate rate"]}
    out = {"detector": {"held_out": {**street, **{k: v for k, v in product.items() if "row" not in k}},
                        "held_out_per_part": s["per_part"], "product_per_class": p["per_class"]},
           "classifier": {"held_out": {**product, **{f"street {h} accuracy (found garments)": round(v, 4)
                                                     for h, v in acc.items() if h != "part" and v is not None}},
                          "product_per_class": p["per_class"]}}
    if "retrieval" in r:
        out["embedder"] = {"held_out": r["retrieval"]}
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("work", type=Path)
    ap.add_argument("--name", required=True)
    ap.add_argument("--detector", required=True)
    ap.add_argument("--classifier", required=True)
    ap.add_argument("--embedder")
    ap.add_argument("--splits", nargs="+", default=["products-test", "ccp-test"], choices=sorted(SPLITS))
    ap.add_argument("--baseline", help="name of an earlier measurement whose tag outputs `compare` sets beside")
    ap.add_argument("--fp16", action="store_true", help="measure fp16 copies (the shipped precision)")
    args = ap.parse_args()
    detector, classifier, embedder = args.detector, args.classifier, args.embedder
    if args.fp16:
        half = args.work / "measure" / args.name / "fp16"
        half.mkdir(parents=True, exist_ok=True)
        detector = shipped_copy(detector, half / "detector.pt")
        classifier = shipped_copy(classifier, half / "classifier.pt")
        embedder = shipped_copy(embedder, half / "embedder.pt") if embedder else None
    measure(args.work, args.name, detector, classifier, embedder, args.splits, args.baseline)


if __name__ == "__main__":
    main()
