"""Choose the detector's score threshold on dev photos: a tag output made at a low threshold is
filtered at each candidate and scored (product photos: `eval products`; street photos: garments
found and duplicates against the true masks), so one tagging pass serves every candidate.

    python scripts/sweep_threshold.py --products TAGS.jsonl --products-coco dev.json \
        [--street TAGS.jsonl --street-coco dev.json] --thresholds 0.3 0.4 0.5 0.6 0.7
"""

from __future__ import annotations

import argparse
import json
import shutil
import tempfile
from pathlib import Path

from garmentparse.comparison import compare_outputs
from garmentparse.comparison.products import check_products


def filtered(tags: Path, threshold: float, folder: Path) -> Path:
    """A copy of a tag output (and its run record) without garments scoring below ``threshold``."""
    out = folder / f"{tags.stem}-{threshold}.jsonl"
    with open(tags, encoding="utf-8") as src, open(out, "w", encoding="utf-8") as dst:
        for raw in src:
            line = json.loads(raw)
            line["garments"] = [g for g in line["garments"] if g["score"] >= threshold]
            dst.write(json.dumps(line, ensure_ascii=False) + "\n")
    record = tags.with_name(tags.name + ".run.json")
    if record.exists():
        shutil.copy(record, out.with_name(out.name + ".run.json"))
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--products", type=Path, required=True)
    ap.add_argument("--products-coco", type=Path, required=True)
    ap.add_argument("--street", type=Path)
    ap.add_argument("--street-coco", type=Path)
    ap.add_argument("--thresholds", type=float, nargs="+", default=[0.3, 0.4, 0.5, 0.6, 0.7])
    args = ap.parse_args()
    rows = {}
    with tempfile.TemporaryDirectory() as tmp:
        for t in args.thresholds:
            p = check_products(filtered(args.products, t, Path(tmp)), args.products_coco).to_dict()
            row = {"product row holds": p["contract_classes"]["held"],
                   "worst class": p["contract_classes"]["worst_class"],
                   "exactly one garment": p["contract_classes"]["exactly_one_garment"]}
            if args.street:
                street = filtered(args.street, t, Path(tmp))
                c, _ = compare_outputs(street, street, Path(tmp) / f"cmp-{t}", truth=args.street_coco, bootstrap=0, top=0)
                row["street found"] = round(1 - c.truth.missed_b / c.truth.garments, 4)
                row["street mask AP"] = c.truth.ap_b.get("segm")
            rows[t] = row
            print(json.dumps({t: row}), flush=True)


if __name__ == "__main__":
    main()
