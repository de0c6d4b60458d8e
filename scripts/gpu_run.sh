#!/usr/bin/env bash
# Runs the GPU measurements on a lent device machine in one call: installs the carried wheels
# (.whl/: pycocotools, shapely, albumentations and their needs), assembles the 900-photo CCP
# set from examples/ccp + the carried .gpu/ccp (images/*.jpg, labels.tgz), then runs $1:
#   detector    scripts/gpu_detector.sh (R50-FPN v2: train, held-out AP, inference benchmark)
#   classifier  scripts/gpu_classifier.sh (ResNet-50 heads: train, held-out accuracy)
#   tag         benchmarks/bench_tag.py with the models the two stages above left in /tmp/gp
#   ddp         several GPUs (docs/distributed.md): benchmarks/bench_ddp.py images/s on 1, 2, 4, ... of
#               the machine's GPUs (lite0_fpn, 8 images per GPU per step), then one torchrun of the
#               detector on all of them (global batch 8 x GPUs), its evaluation split over the ranks
#               checked against eval detector in one process; needs >= 2 GPUs
#   all         detector, classifier, tag, in that order (ddp only when asked for)
# Usage on the device: OUT=$OUT bash scripts/gpu_run.sh all
set -euo pipefail
STAGE=${1:?stage: detector | classifier | tag | ddp | all}
: "${OUT:?OUT must be set}"
export PYTHONUNBUFFERED=1
python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl
export PYTHONPATH=/tmp/site:$PWD PYTHON=python3
DATA=/tmp/ccp
KEEP=/tmp/gp
if [ ! -d "$DATA/images" ]; then
  mkdir -p "$DATA/images"
  cp examples/ccp/images/*.jpg .gpu/ccp/images/*.jpg "$DATA/images/"
  tar xzf .gpu/ccp/labels.tgz -C "$DATA"
fi
echo "data: $(ls $DATA/images | wc -l) photos, $(ls $DATA/labels | wc -l) labels"
nvidia-smi --query-gpu=name,memory.total --format=csv
python3 -c "import torch, torchvision; print('torch', torch.__version__, 'torchvision', torchvision.__version__)"
gp() { python3 -m garmentparse "$@"; }
export -f gp

detector() { OUT=$OUT/detector KEEP_MODEL=1 bash scripts/gpu_detector.sh "$DATA"; mkdir -p $KEEP; cp "$OUT/detector/run/model.pt" $KEEP/det.pt; rm -f "$OUT/detector/run/"*.pt; }
classifier() { OUT=$OUT/classifier WORK=$KEEP/cls bash scripts/gpu_classifier.sh "$DATA"; }
tag() {
  python3 benchmarks/bench_tag.py --detector $KEEP/det.pt --classifier $KEEP/cls/run/model.pt \
    --images "$DATA/images" --limit 400 --device cuda --batch-size 16 --workers 8 --repeats 3 \
    --json "$OUT/bench_tag.json"
}
ddp() {
  local n counts=() k=1 d=$OUT/ddp
  n=$(nvidia-smi -L | wc -l)
  if [ "$n" -lt 2 ]; then echo "ddp: this machine has $n GPU; the stage needs at least 2" >&2; exit 2; fi
  while [ "$k" -le "$n" ]; do counts+=("$k"); k=$((k * 2)); done
  [ "${counts[-1]}" -eq "$n" ] || counts+=("$n")
  mkdir -p "$d"
  gp convert kfashion "$DATA/labels" --images "$DATA/images" --out "$d/coco.json" --workers 8
  gp split "$d/coco.json" --out-dir "$d/split" --val 0.1 --seed 0
  python3 benchmarks/bench_ddp.py --device cuda --config configs/detection/lite0_fpn.yaml --data "$DATA" \
    --nproc "${counts[@]}" --batch 8 --iters 60 --log-period 20 --workers 4 --repeats 3 \
    --json "$d/bench_ddp.json" | tee "$d/bench_ddp.md"
  python3 -m torch.distributed.run --standalone --nproc-per-node "$n" -m garmentparse train detector \
    --config configs/detection/lite0_fpn.yaml --train "$d/split/train.json" --images "$DATA/images" \
    --val "$d/split/val.json" --out "$d/run" --no-progress --json \
    --set "data.batch_size=$((8 * n))" data.workers=4 solver.max_iter=600 train.time_budget_s=300 \
    > "$d/train_summary.json"
  gp eval detector "$d/run/model.pt" --coco "$d/split/val.json" --images "$DATA/images" --json \
    > "$d/eval_one_process.json"
  python3 -c '
import json, sys
split, alone = (json.load(open(sys.argv[1] + name)) for name in ("/run/eval.json", "/eval_one_process.json"))
same = {k: split[k] == alone[k] for k in ("bbox", "segm", "images", "detections")}
print("evaluation split over the ranks == one process:", same)
sys.exit(0 if all(same.values()) else 1)' "$d"
  rm -f "$d/run/"*.pt
}
case "$STAGE" in
  detector|classifier|tag|ddp) "$STAGE" ;;
  all) detector; classifier; tag ;;
  *) echo "unknown stage: $STAGE" >&2; exit 2 ;;
esac
