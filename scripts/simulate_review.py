"""Simulate reviewers: decide every garment of one tag run in the catalogue with true labels
(:func:`garmentparse.retraining.review_with_truth`), as user ``--user`` (made a reviewer).

    python scripts/simulate_review.py --db sqlite:///loop.db --truth truth.json --run 1 [--photos list.txt]
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from garmentparse.retraining import review_with_truth
from garmentparse.store import Store


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--db", required=True)
    ap.add_argument("--truth", required=True, help="COCO with part and attributes per annotation")
    ap.add_argument("--run", type=int, required=True, help="tag run id in the catalogue (garmentparse ingest)")
    ap.add_argument("--photos", help="only these photo paths (one per line)")
    ap.add_argument("--user", default="simulated-reviewer")
    ap.add_argument("--heads", default="category,colour")
    ap.add_argument("--iou", type=float, default=0.5)
    args = ap.parse_args()
    coco = json.loads(Path(args.truth).read_text(encoding="utf-8"))
    photos = set(Path(args.photos).read_text().split()) if args.photos else None
    with Store.open(args.db) as store:
        if args.user not in {u.name for u in store.users()}:
            store.add_user(args.user, "simulated reviewer password", "reviewer")
        counts = review_with_truth(store, args.run, coco, user=args.user, heads=args.heads.split(","),
                                   iou=args.iou, photos=photos, comment="simulated review (true labels)")
    print(json.dumps(dict(sorted(counts.items())), indent=1))


if __name__ == "__main__":
    main()
