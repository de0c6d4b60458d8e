#!/usr/bin/env bash
# Runs the GPU measurements on a lent device machine (see docs): installs the carried wheels,
# assembles the 900-photo CCP set from examples/ccp + the carried .gpu/ccp, then runs the
# stage given as $1 (detector | classifier | tag), writing everything to $OUT.
set -euo pipefail
STAGE=${1:?stage: detector | classifier | tag}
: "${OUT:?OUT must be set}"
export PYTHONUNBUFFERED=1
python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl
export PYTHONPATH=/tmp/site:$PWD
DATA=/tmp/ccp
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
case "$STAGE" in
  detector)   bash scripts/gpu_detector.sh "$DATA" ;;
  classifier) bash scripts/gpu_classifier.sh "$DATA" ;;
  tag)        bash scripts/gpu_tag.sh "$DATA" ;;
esac
