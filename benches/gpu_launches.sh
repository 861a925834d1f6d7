#!/usr/bin/env bash
# Kernel launches per training step on the GPU: why a step costs what it costs. Runs the
# throughput bench with cubecl's execution logger (VAETOOL_LAUNCH_LOG: one line per launch)
# for 1 and for 3 timed epochs of 32 steps; the difference over the 64 extra steps is the
# launches of one steady step (no one-off uploads or initialisation in it). Prints the count
# and the kernels launched most often per step.
#
#   BIN_DIR=.gpu benches/gpu_launches.sh [CASES]     (default CASES "mlp 256,conv 256")
set -uo pipefail
cd "$(dirname "$0")/.."
bin="${BIN_DIR:-.gpu}"
if [ -f "$bin/bins.tar.xz" ] && [ ! -x "$bin/throughput-cuda" ]; then
  mkdir -p /tmp/vaetool-gpu-bins && tar -xJf "$bin/bins.tar.xz" -C /tmp/vaetool-gpu-bins
  bin=/tmp/vaetool-gpu-bins
fi
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
IFS=, read -ra cases <<<"${1:-mlp 256,conv 256}"
for c in "${cases[@]}"; do
  read -r model batch <<<"$c"
  for e in 1 3; do
    XDG_CACHE_HOME="$work/cache" VAETOOL_LAUNCH_LOG="$work/$model-$e.log" \
      timeout 120 "$bin/throughput-cuda" "$model" "${DEVICE:-cuda}" "$batch" "$e" 2>&1 | grep '^vaetool'
    sleep 0.5 # the logger writes from its own thread
  done
  a=$(grep -c '^Executing' "$work/$model-1.log")
  b=$(grep -c '^Executing' "$work/$model-3.log")
  echo "$model batch $batch: $a launches (1 epoch), $b (3 epochs): $(((b - a) / 64)) launches a step"
  echo "  most launched kernels, per step:"
  awk 'FNR == 1 { f++ }
    /^Executing / { n = $2; sub(/[<({].*/, "", n); cnt[f, n]++; names[n] = 1 }
    END { for (n in names) { d = (cnt[2, n] - cnt[1, n]) / 64; if (d > 0) printf "    %6.1f  %s\n", d, n } }' \
    "$work/$model-1.log" "$work/$model-3.log" | sort -rn | head -15
done
