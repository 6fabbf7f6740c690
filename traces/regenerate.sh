#!/usr/bin/env bash
# Regenerates the sample traces in this folder (deterministic on CPU for a given seed).
# LeNet-300-100 on the bundled digits, 15 epochs x 23 steps = 345 steps each.
set -euo pipefail
cd "$(dirname "$0")"
accelsim record --net lenet-300-100 --method dense --epochs 15 --seed 0 \
    --out lenet300-dense.trace --overwrite --json > lenet300-dense.json
accelsim record --net lenet-300-100 --method dropback --compression 25 --epochs 15 --seed 0 \
    --out lenet300-dropback25.trace --overwrite --json > lenet300-dropback25.json
