#!/usr/bin/env bash
# The recipe of the v2 release models (docs/models.md, "v2"): the v1 release pair continued on
# street photos (CCP, every pixel of each garment) and CC0 product photos (pseudo-masks), with
# sleeve_length and length heads, measured beside v1 on photos neither trained on.
#
#   bash scripts/release_v2.sh [WORK]        (default WORK: runs/v2)
#   Budgets (seconds, CPU, both trainings side by side, one thread each): DET_BUDGET_S (5400),
#   CLS_BUDGET_S (3600). Longer rounds: the same command with --resume on the run folders.
#
# Splits: street photos keep v1's (docs/models/photos-*.txt: test 91 photos, dev 81); product
# photos are split by photographer (`split --group-by sender_id`: test 15 %, dev 10 %). Only dev
# photos choose anything (early stopping of the classifier); the test photos only measure.
set -euo pipefail
cd "$(dirname "$0")/.."
WORK=${1:-runs/v2}
G=${GARMENTPARSE:-garmentparse}
PY=${PYTHON:-python}
SHARED=${SHARED:-../shared/data}
DET_BUDGET_S=${DET_BUDGET_S:-5400}
CLS_BUDGET_S=${CLS_BUDGET_S:-3600}
export OMP_NUM_THREADS=1 MKL_NUM_THREADS=1
mkdir -p "$WORK"

# 1. product photos -> COCO with image-level labels and one GrabCut pseudo-mask each (4.5 min)
$G convert photos "$SHARED/clothing-dataset/labels.csv" --images "$SHARED/clothing-dataset/images" \
  --pseudo-masks --workers 2 --out "$WORK/products.json" --report "$WORK/products-report.json"
# 2. street photos (convert ccp + colour/length joined), splits, one COCO of both sources
$PY scripts/release_v2_data.py "$WORK" --ccp "$SHARED/kfashion-ccp" --product-images "$SHARED/clothing-dataset/images"
for s in train dev; do
  $G crop "$WORK/$s.json" --images "$WORK/images" --out "$WORK/crops/$s" --size 256 --workers 1
done
# 3. detector and classifier side by side, one thread each, both continued from v1
$G train detector --config configs/detection/release_v2.yaml --train "$WORK/train.json" --images "$WORK/images" \
  --out "$WORK/det-v2" --device cpu --no-progress --set train.time_budget_s="$DET_BUDGET_S" > "$WORK/det.log" 2>&1 &
$G train classifier --config configs/classification/release_v2.yaml --manifest "$WORK/crops/train/manifest.csv" \
  --val-manifest "$WORK/crops/dev/manifest.csv" --out "$WORK/cls-v2" --device cpu --no-progress \
  --set train.time_budget_s="$CLS_BUDGET_S" > "$WORK/cls.log" 2>&1 &
wait
# 4. embedder: an MLP projection on the v2 classifier's vectors of the training crops
$G embed "$WORK/crops/train/manifest.csv" --model "$WORK/cls-v2/model.pt" --out "$WORK/emb/cls-v2-train" \
  --images "$WORK/images" --device cpu
$G train embedder --embeddings "$WORK/emb/cls-v2-train" --out "$WORK/emb-v2" --device cpu
# 5. the same measurements for v1 and v2 (tag as a user does; docs/models.md), then the package
$PY scripts/measure_v2.py "$WORK" --name v1 --detector ccp-lite0-detector --classifier ccp-lite0-classifier \
  --embedder ccp-lite0-embedder
$PY scripts/measure_v2.py "$WORK" --name v2 --detector "$WORK/det-v2/model.pt" --classifier "$WORK/cls-v2/model.pt" \
  --embedder "$WORK/emb-v2/model.pt" --baseline v1 --fp16
# the dev choice of the score threshold: one tag run at 0.3 on the dev photos, filtered per candidate
for s in products-dev ccp-dev; do
  $G tag "$WORK/photos/$s" --out "$WORK/dev/tags-$s.jsonl" --detector "$WORK/measure/v2/fp16/detector.pt" \
    --classifier "$WORK/measure/v2/fp16/classifier.pt" --device cpu --score-threshold 0.3 --overwrite
done
$PY scripts/sweep_threshold.py --products "$WORK/dev/tags-products-dev.jsonl" --products-coco "$WORK/products/dev.json" \
  --street "$WORK/dev/tags-ccp-dev.jsonl" --street-coco "$WORK/ccp/dev.json"
$PY scripts/package_release.py "$WORK" --release models/release.yaml
