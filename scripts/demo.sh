#!/usr/bin/env bash
# The main job on the bundled sample data (examples/), offline, on CPU:
#   1. tag the 24 bundled CCP street photos and the 12 bundled CC0 product photos (examples/products)
#      with the release models (garmentparse models list): seconds, JSON Lines + CSV + overlays in
#      demo-out/release/ and demo-out/products/; the product photos are scored against their labels
#   2. convert the K-Fashion-schema labels of those photos (and the 3 real K-Fashion files) to COCO,
#      with the cleaning report, and check the release detector against them
#   3. fine-tune from the release models on the bundled labels (detector: model.init by name;
#      classifier: the release trunk), tag again with the fine-tuned pair
#   4. ingest the tags into a SQLite catalogue (demo-out/catalogue.db) for review
# Nothing is downloaded: the release weights come from models/garmentparse-models (make setup).
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=${OUT_DIR:-demo-out}
rm -rf "$OUT"  # a fresh run each time: the demo's outputs are its own scratch
mkdir -p "$OUT"
DEVICE=${DEVICE:-cpu}
# safety nets: a very busy machine gets shorter schedules instead of a long demo (raise them there)
DETECTOR_BUDGET_S=${DETECTOR_BUDGET_S:-300}
CLASSIFIER_BUDGET_S=${CLASSIFIER_BUDGET_S:-180}
PHOTOS=examples/ccp/images

echo "== 1/5 tag the bundled street and product photos with the release models" >&2
garmentparse models list
garmentparse tag "$PHOTOS" --out "$OUT/release/tags.jsonl" --csv "$OUT/release/tags.csv" \
  --overlays "$OUT/release/overlays" --device "$DEVICE"
garmentparse convert photos examples/products/labels.csv --images examples/products/images \
  --out "$OUT/products/labels.json"
garmentparse tag examples/products/images --out "$OUT/products/tags.jsonl" --csv "$OUT/products/tags.csv" \
  --overlays "$OUT/products/overlays" --device "$DEVICE"
garmentparse eval products "$OUT/products/tags.jsonl" --coco "$OUT/products/labels.json"
echo "== 2/5 convert: real K-Fashion labels (examples/kfashion) and the CCP photos' K-Fashion-schema labels" >&2
garmentparse convert kfashion examples/kfashion --images examples/kfashion \
  --out "$OUT/kfashion-coco.json" --report "$OUT/kfashion-report.json"
garmentparse convert kfashion examples/ccp/labels --images "$PHOTOS" \
  --out "$OUT/ccp-coco.json" --report "$OUT/ccp-report.json"
garmentparse stats "$OUT/ccp-coco.json"
# 22 of these 24 photos were training photos of the release detector: a check, not a held-out figure
garmentparse eval detector ccp-products-lite0-detector --coco "$OUT/ccp-coco.json" --images "$PHOTOS" --device "$DEVICE" \
  --out "$OUT/release/eval.json"
echo "== 3/5 fine-tune from the release models on the bundled labels" >&2
garmentparse train detector --config configs/detection/demo.yaml --train "$OUT/ccp-coco.json" \
  --images "$PHOTOS" --out "$OUT/detector" --device "$DEVICE" \
  --set "train.time_budget_s=$DETECTOR_BUDGET_S"
garmentparse crop "$OUT/ccp-coco.json" --images "$PHOTOS" --out "$OUT/crops" --size 256
garmentparse train classifier --config configs/classification/demo.yaml \
  --manifest "$OUT/crops/manifest.csv" --out "$OUT/classifier" --device "$DEVICE" \
  --set "train.time_budget_s=$CLASSIFIER_BUDGET_S"
echo "== 4/5 tag the photos with the fine-tuned pair" >&2
garmentparse tag "$PHOTOS" --detector "$OUT/detector/model.pt" \
  --classifier "$OUT/classifier/model.pt" --out "$OUT/tags.jsonl" --csv "$OUT/tags.csv" \
  --overlays "$OUT/overlays" --device "$DEVICE"
echo "== 5/5 load the tags into a catalogue database (SQLite)" >&2
garmentparse db upgrade --db "sqlite:///$OUT/catalogue.db"
garmentparse ingest "$OUT/release/tags.jsonl" --images "$PHOTOS" --db "sqlite:///$OUT/catalogue.db"
garmentparse ingest "$OUT/tags.jsonl" --images "$PHOTOS" --db "sqlite:///$OUT/catalogue.db"
echo "done: $OUT/release/ and $OUT/products/ (release models: tags.jsonl, tags.csv, overlays/), $OUT/tags.jsonl (fine-tuned), $OUT/catalogue.db" >&2
echo "review them: garmentparse users add admin --role admin --db sqlite:///$OUT/catalogue.db && garmentparse serve --db sqlite:///$OUT/catalogue.db" >&2
