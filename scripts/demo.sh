#!/usr/bin/env bash
# The main job on the bundled sample data (examples/). Outputs go to demo-out/.
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=demo-out
mkdir -p "$OUT"
garmentparse convert kfashion examples/ccp/labels --images examples/ccp/images \
  --out "$OUT/ccp-coco.json" --report "$OUT/ccp-report.json"
