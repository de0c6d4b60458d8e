#!/usr/bin/env bash
# Attribute classifier on the shared CCP photos, end to end, for a lent GPU (about 6 minutes):
#   convert K-Fashion-schema labels -> COCO, crop every garment, split crops by photo (seeded:
#   70% train / 10% validation for early stopping / 20% held out), train the ResNet-50 config
#   (init none: the device has no internet and no weights, so it learns from scratch) in bf16,
#   then evaluate per-head accuracy on the held-out photos, with and without TTA.
# Usage: OUT=/path/out bash scripts/gpu_classifier.sh DATA   (DATA has images/ and labels/)
# Knobs (environment): CONFIG, MINUTES (training wall time), CROP_SIZE, WORKERS, DEVICE, WORK,
#   SETS (extra config overrides separated by ';', e.g. "solver.lr=3e-4;train.epochs=50"). CPU smoke run:
#   OUT=/tmp/o CONFIG=configs/classification/tiny.yaml MINUTES=0.2 DEVICE=cpu CROP_SIZE=96 \
#     bash scripts/gpu_classifier.sh examples/ccp
set -euo pipefail
DATA=${1:?usage: OUT=dir bash scripts/gpu_classifier.sh DATA_DIR (with images/ and labels/)}
: "${OUT:?OUT must be set}"
CONFIG=${CONFIG:-configs/classification/resnet50.yaml}
MINUTES=${MINUTES:-4.3}
CROP_SIZE=${CROP_SIZE:-256}
WORKERS=${WORKERS:-$(nproc)}
DEVICE=${DEVICE:-auto}
WORK=${WORK:-$(mktemp -d /tmp/gp_classifier.XXXX)}
SETS=${SETS:-}
mkdir -p "$OUT" "$WORK"
if ! declare -F gp >/dev/null; then gp() { python3 -m garmentparse "$@"; }; fi
stamp() { echo "[$(date +%T)] $*"; }
T0=$(date +%s)

stamp "convert $DATA -> $WORK/coco.json"
gp convert kfashion "$DATA/labels" --images "$DATA/images" --out "$WORK/coco.json" \
  --workers "$WORKERS" --report "$OUT/convert_report.json" --json > "$OUT/convert.json"
cat "$OUT/convert.json"

stamp "crop every garment at ${CROP_SIZE}px"
gp crop "$WORK/coco.json" --images "$DATA/images" --out "$WORK/crops" --size "$CROP_SIZE" \
  --workers "$WORKERS" --report "$OUT/crop_report.json"

stamp "split crops by photo (seed 0): train 0.7 / val 0.1 / test 0.2"
python3 - "$WORK/crops/manifest.csv" "$WORK/splits" <<'PY'
import sys
from garmentparse.classifiers.data import read_manifest, split_manifest
paths = split_manifest(sys.argv[1], sys.argv[2], {"train": 0.7, "val": 0.1, "test": 0.2}, seed=0)
for name, path in paths.items():
    rows = read_manifest(path)
    print(f"{name}: {len(rows)} crops from {len({r.source_image for r in rows})} photos -> {path}")
PY

stamp "train $CONFIG for at most $MINUTES min"
EXTRA=()
IFS=';' read -r -a _sets <<< "$SETS"
for kv in "${_sets[@]}"; do [ -n "$kv" ] && EXTRA+=(--set "$kv"); done
gp train classifier --config "$CONFIG" --manifest "$WORK/splits/train.csv" \
  --val-manifest "$WORK/splits/val.csv" --out "$WORK/run" --device "$DEVICE" \
  --set "train.time_budget_s=$(awk "BEGIN { print $MINUTES * 60 }")" --set "data.workers=$WORKERS" "${EXTRA[@]}"
cp "$WORK/run/config.yaml" "$WORK/run/metrics.jsonl" "$WORK/run/report.json" "$OUT/"

stamp "evaluate on the held-out photos (with TTA; accuracy_without_tta alongside)"
gp eval classifier "$WORK/run/model.pt" --manifest "$WORK/splits/test.csv" --device "$DEVICE" \
  --tta --workers "$(( WORKERS < 4 ? WORKERS : 4 ))" --json --out "$OUT/eval" > "$OUT/eval_test.json"
python3 - "$OUT/eval_test.json" "$OUT/eval/report.json" <<'PY'
import json, sys
heads = json.load(open(sys.argv[1]))
report = json.load(open(sys.argv[2]))
print(f"held-out crops: {report['crops']}, timing: {report['timing']}")
for head, m in heads.items():
    if m["accuracy"] is None:
        continue
    print(f"{head:>14}: n={m['n']:4d} accuracy={m['accuracy']:.3f} (no TTA {m['accuracy_without_tta']:.3f}) "
          f"top3={m.get('top3_accuracy', float('nan')):.3f} macro-F1={m['macro_f1']:.3f} "
          f"majority-class rate={m.get('majority_rate', float('nan')):.3f}"
          + (f" unrestricted={m['accuracy_unrestricted']:.3f}" if "accuracy_unrestricted" in m else ""))
PY
stamp "done in $(( $(date +%s) - T0 ))s; outputs in $OUT"
