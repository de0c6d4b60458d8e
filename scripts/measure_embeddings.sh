#!/usr/bin/env bash
# Same-category retrieval of held-out CCP garments against the training garments, per embedding
# source (docs/embeddings.md, "Measured"). CPU, one thread per process (on a shared 2-core machine two
# OpenMP threads were many times slower). Usage: bash scripts/measure_embeddings.sh [DATA] [WORK]
#   DATA: the 900-photo kfashion-ccp folder (images/, labels/); WORK: scratch folder.
set -euo pipefail
cd "$(dirname "$0")/.."
DATA=${1:-../shared/data/kfashion-ccp}
WORK=${2:-measure-embeddings}
G=${GARMENTPARSE:-garmentparse}
export OMP_NUM_THREADS=1 MKL_NUM_THREADS=1
mkdir -p "$WORK"
$G convert kfashion "$DATA/labels" --images "$DATA/images" --out "$WORK/coco.json"
$G split "$WORK/coco.json" --out-dir "$WORK/split" --val 0.1 --seed 0          # by photo
for split in train val; do
  $G crop "$WORK/split/$split.json" --images "$DATA/images" --out "$WORK/crops/$split" --size 224
done
# (a) a small classifier trained on the training crops (tiny.yaml: MobileNetV3-small from scratch, 64 px)
$G train classifier --config configs/classification/tiny.yaml --manifest "$WORK/crops/train/manifest.csv" \
  --out "$WORK/runs/cls-tiny" --device cpu --no-progress --set train.epochs=12
embed() {  # NAME MODEL
  for split in train val; do
    $G embed "$WORK/crops/$split/manifest.csv" --model "$2" --out "$WORK/emb/$1-$split" --images "$DATA/images" --device cpu
  done
}
# (a') the pretrained classifier: Lite0 fine-tuned on the training crops (category + colour, 160 px, 35 min budget)
$G train classifier --config configs/classification/lite0.yaml --manifest "$WORK/crops/train/manifest.csv" \
  --out "$WORK/runs/cls-lite0" --device cpu --no-progress \
  --set train.time_budget_s=2100 data.input_size=160 data.workers=1 "model.heads=[{attribute: category}, {attribute: colour}]"
embed cls "$WORK/runs/cls-tiny/model.pt"
embed cls-lite0 "$WORK/runs/cls-lite0/model.pt"
embed lite0 lite0                                                                  # (b) ImageNet Lite0
# (c) metric-learning embedders: an MLP on the Lite0 vectors already made (seconds), a linear
# projection on Lite0 crops + mirror images, a linear projection on the classifier
$G train embedder --embeddings "$WORK/emb/lite0-train" --out "$WORK/runs/emb-lite0-mlp" --device cpu
$G train embedder --embeddings "$WORK/emb/cls-lite0-train" --out "$WORK/runs/emb-cls-lite0-mlp" --device cpu
$G train embedder --manifest "$WORK/crops/train/manifest.csv" --base lite0 --head linear --out "$WORK/runs/emb-lite0-linear" --device cpu
$G train embedder --manifest "$WORK/crops/train/manifest.csv" --base "$WORK/runs/cls-tiny/model.pt" --head linear \
  --out "$WORK/runs/emb-cls-linear" --device cpu
embed lite0-mlp "$WORK/runs/emb-lite0-mlp/model.pt"
embed lite0-linear "$WORK/runs/emb-lite0-linear/model.pt"
embed cls-linear "$WORK/runs/emb-cls-linear/model.pt"
embed cls-lite0-mlp "$WORK/runs/emb-cls-lite0-mlp/model.pt"
for src in cls cls-lite0 lite0 lite0-mlp lite0-linear cls-linear cls-lite0-mlp; do
  $G eval embeddings "$WORK/emb/$src-val" --gallery "$WORK/emb/$src-train" --labels category,part,colour --json > "$WORK/eval-$src.json"
  $G eval embeddings "$WORK/emb/$src-val" --gallery "$WORK/emb/$src-train" --labels category --same part --json > "$WORK/eval-$src-same-part.json"
done
$G map "$WORK/emb/lite0-mlp-train" --out "$WORK/map.png" --color-by category
echo "results: $WORK/eval-*.json" >&2
