#!/usr/bin/env bash
# Runs the GPU measurements on a lent device machine in one call: installs the carried wheels
# (.whl/: pycocotools, shapely, albumentations and their needs), assembles the 900-photo CCP
# set from examples/ccp + the carried .gpu/ccp (images/*.jpg, labels.tgz), then runs $1:
#   detector    scripts/gpu_detector.sh (R50-FPN v2: train, held-out AP, inference benchmark)
#   classifier  scripts/gpu_classifier.sh (ResNet-50 heads: train, held-out accuracy)
#   tag         benchmarks/bench_tag.py with the models the two stages above left in /tmp/gp
#   all         the three, in that order
# Usage on the device: OUT=$OUT bash scripts/gpu_run.sh all
set -euo pipefail
STAGE=${1:?stage: detector | classifier | tag | all}
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
case "$STAGE" in
  detector|classifier|tag) "$STAGE" ;;
  all) detector; classifier; tag ;;
  *) echo "unknown stage: $STAGE" >&2; exit 2 ;;
esac
