#!/usr/bin/env bash
# The closed-loop measurement (docs/closed-loop.md): tag photos the release models never trained
# on, "review" them with their true labels through the store API, retrain from those reviews,
# tag the held-back reviewed photos with both model pairs and compare them against the reviews.
#   bash scripts/closed_loop.sh [WORK_DIR]        (default /tmp/gp-closed-loop; about 40 min on 2 CPU cores)
set -euo pipefail
REPO="$(cd "$(dirname "$0")/.." && pwd)"
CCP="${CCP:-$REPO/../shared/data/kfashion-ccp}"
W="${1:-/tmp/gp-closed-loop}"
G="${GARMENTPARSE:-garmentparse}"
PY="${PYTHON:-python}"
mkdir -p "$W/photos" "$W/labels"
cd "$W"
export GARMENTPARSE_DB="sqlite:///$W/loop.db"
# the 172 photos of the release's test and dev lists (docs/models/photos-*.txt): never trained on by the detector
for f in $(cat "$REPO/docs/models/photos-test.txt" "$REPO/docs/models/photos-dev.txt"); do
  ln -sf "$CCP/images/$f" "photos/$f"; ln -sf "$CCP/labels/${f%.jpg}.json" "labels/${f%.jpg}.json"
done
$G convert kfashion labels --out truth.json --images photos
$G tag photos --out tags-v1.jsonl
$G db upgrade
$G ingest tags-v1.jsonl --images photos
$PY "$REPO/scripts/simulate_review.py" --truth truth.json --db "$GARMENTPARSE_DB" --run 1 --heads category,colour
$G retrain --images photos --out v2 --task both --held-back 0.5 --detector-iterations 300 --classifier-epochs 10 --json > retrain.json.out
# both pairs on the held-back reviewed photos; the reviews of those photos are the truth
$G tag v2/data/heldback/photos --out heldback-v1.jsonl
$G tag v2/data/heldback/photos --out heldback-v2.jsonl --detector v2/detector/model.pt --classifier v2/classifier/model.pt
$G tag v2/data/heldback/photos --out heldback-v2cls.jsonl --classifier v2/classifier/model.pt
# classification against the held-back reviews; detection against the photos' own CCP masks
# (the reviewed masks are the release detector's: see compare's note)
$G compare heldback-v1.jsonl heldback-v2cls.jsonl --truth v2/data/heldback/coco.json --images photos --out compare-cls --json > compare-cls.json
$G compare heldback-v1.jsonl heldback-v2.jsonl --truth truth.json --images photos --out compare-both --json > compare-both.json
echo "reports: $W/compare-cls/index.html $W/compare-both/index.html"
