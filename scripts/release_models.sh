#!/usr/bin/env bash
# The recipe of the release models (docs/models.md): detector, classifier and embedder trained on
# CPU from the offline ImageNet EfficientNet-Lite0 weights, evaluated on photos never used to train
# or to choose settings, then written as fp16 weights into models/garmentparse-models.
#
#   bash scripts/release_models.sh [DATA] [WORK]
#     DATA: a folder with labels/ (K-Fashion-schema JSON) and images/ (default: the 900 shared CCP
#           photos); a CCP root works through `garmentparse convert ccp` (set CCP=1), a K-Fashion folder as is.
#     WORK: scratch folder for the runs (default: runs/release)
#   Budgets (seconds, CPU): DET_BUDGET_S (5400), CLS_BUDGET_S (1500). Both trainings run side by
#   side, one thread each (on 2 cores two OpenMP threads per process were slower in total).
#
# Splits, by photo: test = `split --val 0.1 --seed 0` of all photos (91 of the 900: the final
# figures, never looked at before); the other 804 are split again (`--val 0.1 --seed 1`): the
# detector trains on 723 and settings (duplicate suppression, test size) are chosen on 81. The
# classifier trains on the 804 photos' crops and picks its epoch on 10 % of them (data.val_fraction).
set -euo pipefail
cd "$(dirname "$0")/.."
DATA=${1:-../shared/data/kfashion-ccp}
WORK=${2:-runs/release}
G=${GARMENTPARSE:-garmentparse}
DET_BUDGET_S=${DET_BUDGET_S:-5400}
CLS_BUDGET_S=${CLS_BUDGET_S:-1500}
export OMP_NUM_THREADS=1 MKL_NUM_THREADS=1
mkdir -p "$WORK"

if [ "${CCP:-0}" = 1 ]; then
  # CCP's own pixel masks (every pixel of a garment); they carry no colour labels: drop colour
  # from the classifier's model.heads below for such a root (this path is not measured yet)
  $G convert ccp "$DATA" --out "$WORK/all.json"; IMAGES="$DATA/photos"; [ -d "$IMAGES" ] || IMAGES="$DATA/images"
else
  $G convert kfashion "$DATA/labels" --images "$DATA/images" --out "$WORK/all.json" --report "$WORK/convert-report.json"
  IMAGES="$DATA/images"
fi
$G split "$WORK/all.json" --out-dir "$WORK/split" --val 0.1 --seed 0          # split/val.json = the test photos
$G split "$WORK/split/train.json" --out-dir "$WORK/dev" --val 0.1 --seed 1    # dev/train (fit) + dev/val (choices)
for s in train val; do
  $G crop "$WORK/split/$s.json" --images "$IMAGES" --out "$WORK/crops/$s" --size 256 --workers 1
done

# detector and classifier side by side, one thread each
$G train detector --config configs/detection/lite0_fpn.yaml --train "$WORK/dev/train.json" --images "$IMAGES" \
  --out "$WORK/det-lite0-long" --device cpu --no-progress \
  --set train.time_budget_s="$DET_BUDGET_S" solver.max_iter=20000 solver.warmup_iters=50 data.workers=1 \
  "input.min_size_train=[288,320,352]" input.max_size_train=512 input.min_size_test=352 input.max_size_test=512 \
  train.checkpoint_period=200 > "$WORK/det.log" 2>&1 &
$G train classifier --config configs/classification/lite0.yaml --manifest "$WORK/crops/train/manifest.csv" \
  --out "$WORK/cls-lite0-160" --device cpu --no-progress \
  --set train.time_budget_s="$CLS_BUDGET_S" data.input_size=160 data.workers=1 \
  "model.heads=[{attribute: category}, {attribute: colour}]" > "$WORK/cls.log" 2>&1 &
wait

# embedder: an MLP projection on the release classifier's vectors of the training crops (seconds)
$G embed "$WORK/crops/train/manifest.csv" --model "$WORK/cls-lite0-160/model.pt" --out "$WORK/emb/cls-train" \
  --images "$IMAGES" --device cpu
$G train embedder --embeddings "$WORK/emb/cls-train" --out "$WORK/emb-release" --device cpu

# measurements: choices on dev/val, final figures on the test photos (docs/models.md)
python scripts/measure_release.py "$WORK" --images "$IMAGES" --classifier "$WORK/cls-lite0-160/model.pt"
python scripts/package_release.py "$WORK"
