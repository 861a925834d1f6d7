#!/usr/bin/env bash
# Where a fresh GPU machine's warm-up goes, in one call: the VaDE-size MLP VAE trained on the
# bundled digits (batch 256, 8 steps an epoch) by the CUDA build with burn's kernel fusion
# (the default) and by the `cuda-unfused` build, each first on an empty cubecl cache and then
# on the cache that run left. Every 10 s it samples GPU utilisation and the size of the
# compiled-kernel (PTX) cache; the per-epoch seconds show when (if) a run reaches steady state.
#
#   BIN_DIR=.gpu benches/gpu_diag.sh     BIN_DIR holds `vaetool` (--features cuda) and
#                                        `vaetool-unfused` (--features cuda-unfused)
#
# Measured 2026-11-23 on an H100 (fused build only): no run finished its first epoch of 8 steps
# within 70-110 s, whatever the autotune level, the data placement or a sync per step; GPU
# utilisation 0-2 %; the PTX cache grew ~190 KB/s and kept growing at that rate on a rerun
# over the same cache (see benches/RESULTS.md, "GPU").
set -uo pipefail
cd "$(dirname "$0")/.."
bin="${BIN_DIR:-target/release}"
T="${LIMIT:-120}"
work="$(mktemp -d)"; trap 'rm -rf "$work"; kill 0 2>/dev/null' EXIT
args=(datasets/digits.csv --label-column digit --scale none --hidden 500,500,2000 --latent 10
  --batch-size 256 --epochs 400 --device cuda -o "$work/model")
run() { # label, binary, cache, seconds
  local label="$1" b="$2" cache="$3" t="$4"
  echo "== $label"
  (while sleep 10; do
    echo "   [${SECONDS}s gpu $(nvidia-smi --query-gpu=utilization.gpu --format=csv,noheader) ptx+autotune cache $(du -sb "$cache" 2>/dev/null | cut -f1) B]"
  done) &
  local mon=$!
  SECONDS=0
  XDG_CACHE_HOME="$cache" timeout "$t" "$b" train "${args[@]}" 2>&1 |
    sed -n 's/^epoch \([0-9]*\)\/.*\[\(.*\)\]/\1:\2/p' | tr '\n' ' '
  kill "$mon" 2>/dev/null
  echo; echo "   (epoch:seconds since start; stopped after ${SECONDS}s)"
}
for v in vaetool vaetool-unfused; do
  [ -x "$bin/$v" ] || { echo "no $bin/$v"; continue; }
  run "$v, empty cache" "$bin/$v" "$work/cache-$v" "$T"
  run "$v, the cache of the run above" "$bin/$v" "$work/cache-$v" $((T / 2))
done
