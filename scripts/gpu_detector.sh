#!/usr/bin/env bash
# Train and evaluate the R50-FPN v2 garment segmenter on the 900 CCP photos on one GPU.
#
#   OUT=/path/to/out scripts/gpu_detector.sh /data/kfashion-ccp
#
# DATA ($1) holds images/ and labels/ (K-Fashion-schema JSON). Steps: convert -> 90/10 split
# (seeded, stratified) -> train from scratch (init none, bf16) for BUDGET_S seconds -> COCO
# box/mask AP on the held-out 10% -> inference benchmark. Everything lands in $OUT:
# gpu_detector.log, coco.json, split/, run/ (config.yaml, metrics.jsonl), train_summary.json,
# eval.json, bench.json, bench.md, summary.md. No internet needed.
#
# Environment overrides (defaults in brackets), e.g. for a quick CPU check of this script:
#   OUT=/tmp/o DEVICE=cpu CONFIG=configs/detection/tiny.yaml LIMIT=30 BUDGET_S=20 \
#   EXTRA_SET="solver.max_iter=8" BENCH_BATCHES=1 scripts/gpu_detector.sh examples/ccp
#   CONFIG [configs/detection/r50_fpn_v2.yaml]  DEVICE [cuda]  BUDGET_S [380] training seconds
#   LIMIT [0 = all] first N labels only         EXTRA_SET [""] space-separated --set overrides
#   BENCH_BATCHES [1,8,16]  WORKERS [8] convert workers  KEEP_MODEL [0] keep *.pt in $OUT/run
#   PYTHON [python]
set -euo pipefail

DATA=${1:?usage: OUT=dir $0 DATA_DIR (with images/ and labels/)}
OUT=${OUT:?set OUT to the output folder}
REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
PY=${PYTHON:-python}
CONFIG=${CONFIG:-$REPO/configs/detection/r50_fpn_v2.yaml}
DEVICE=${DEVICE:-cuda}
BUDGET_S=${BUDGET_S:-380}
LIMIT=${LIMIT:-0}
EXTRA_SET=${EXTRA_SET:-}
BENCH_BATCHES=${BENCH_BATCHES:-1,8,16}
WORKERS=${WORKERS:-8}
KEEP_MODEL=${KEEP_MODEL:-0}
export PYTHONPATH="$REPO${PYTHONPATH:+:$PYTHONPATH}"

mkdir -p "$OUT"
exec > >(tee -a "$OUT/gpu_detector.log") 2>&1
T0=$(date +%s)
stamp() { echo "[$(( $(date +%s) - T0 ))s] $*"; }

stamp "checks"
[ -d "$DATA/images" ] && [ -d "$DATA/labels" ] || { echo "error: $DATA needs images/ and labels/"; exit 2; }
"$PY" - <<'EOF'
import importlib, sys
missing = [m for m in ("torch", "torchvision", "pycocotools", "albumentations", "shapely",
                       "cv2", "yaml", "typer", "rich", "scipy") if importlib.util.find_spec(m) is None]
if missing:
    sys.exit(f"error: missing Python packages: {', '.join(missing)} (install the carried wheels)")
import torch, torchvision
print(f"torch {torch.__version__} torchvision {torchvision.__version__} cuda {torch.cuda.is_available()}"
      + (f" {torch.cuda.get_device_name(0)}" if torch.cuda.is_available() else ""))
EOF
command -v nvidia-smi >/dev/null && nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv || true

LABELS="$DATA/labels"
if [ "$LIMIT" -gt 0 ]; then
  LABELS="$OUT/labels_subset"
  rm -rf "$LABELS" && mkdir -p "$LABELS"
  mapfile -t subset < <(find "$(cd "$DATA/labels" && pwd)" -name '*.json' | sort | head -n "$LIMIT")
  for f in "${subset[@]}"; do ln -s "$f" "$LABELS/"; done
fi

stamp "convert $LABELS"
"$PY" -m garmentparse convert kfashion "$LABELS" --images "$DATA/images" --out "$OUT/coco.json" \
  --report "$OUT/convert_report.json" --workers "$WORKERS"

stamp "split 90/10 (seed 0)"
"$PY" -m garmentparse split "$OUT/coco.json" --out-dir "$OUT/split" --val 0.1 --seed 0

SETS=(--set "train.time_budget_s=$BUDGET_S")
for kv in $EXTRA_SET; do SETS+=(--set "$kv"); done
rm -rf "$OUT/run"
TRAIN_CMD=("$PY" -m garmentparse train detector --config "$CONFIG" --train "$OUT/split/train.json"
           --images "$DATA/images" --out "$OUT/run" --device "$DEVICE" "${SETS[@]}" --no-progress --json)
stamp "train: ${TRAIN_CMD[*]}"
"${TRAIN_CMD[@]}" > "$OUT/train_summary.json"

stamp "evaluate on the held-out 10%"
"$PY" -m garmentparse eval detector "$OUT/run/model.pt" --coco "$OUT/split/val.json" --images "$DATA/images" \
  --device "$DEVICE" --json > "$OUT/eval.json"

stamp "benchmark"
"$PY" "$REPO/benchmarks/bench_detect.py" --checkpoint "$OUT/run/model.pt" --devices "$DEVICE" \
  --batch-sizes "$BENCH_BATCHES" --images "$DATA/images" --json "$OUT/bench.json" > "$OUT/bench.md"

stamp "summary"
OUT="$OUT" TRAIN_CMD="${TRAIN_CMD[*]}" "$PY" - <<'EOF'
import json, os
from pathlib import Path
out = Path(os.environ["OUT"])
train = json.loads((out / "train_summary.json").read_text())
ev = json.loads((out / "eval.json").read_text())
cfg_text = (out / "run" / "config.yaml").read_text()
split = {n: len(json.loads((out / "split" / f"{n}.json").read_text())["images"]) for n in ("train", "val")}
lines = [
    "# Detector on CCP (held-out split)", "",
    f"- split: {split['train']} train / {split['val']} val images (seed 0)",
    f"- training: {train['iterations']} iterations, {train['images_per_s']} images/s, final loss {train['final_loss']}",
    f"- box AP {ev['bbox']['AP']} (AP50 {ev['bbox']['AP50']}, AP75 {ev['bbox']['AP75']})",
    f"- mask AP {ev['segm']['AP']} (AP50 {ev['segm']['AP50']}, AP75 {ev['segm']['AP75']})",
    f"- per-category box AP {ev['bbox']['per_category']}",
    f"- per-category mask AP {ev['segm']['per_category']}",
    f"- command: `{os.environ['TRAIN_CMD']}`", "", "## Inference benchmark", "",
    (out / "bench.md").read_text(),
]
(out / "summary.md").write_text("\n".join(lines) + "\n")
print("\n".join(lines))
EOF

if [ "$KEEP_MODEL" != "1" ]; then rm -f "$OUT/run/"*.pt; fi
stamp "done"
