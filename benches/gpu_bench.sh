#!/usr/bin/env bash
# Training throughput of vaetool against PyTorch eager on the same device, same models, loss,
# optimizer and batch, in one run; warm-up on a fresh cache and with the cache of an earlier
# run; then scoring throughput on 1M rows.
#
#   benches/gpu_bench.sh cuda    on a machine with an NVIDIA GPU (and python3 with torch)
#   benches/gpu_bench.sh cpu     the CPU comparison (PyTorch limited to 2 threads)
#
# Builds `benches/throughput.rs` and vaetool (with --features cuda for cuda; set
# CUDARC_CUDA_VERSION=13000 for CUDA-13 drivers) unless BIN_DIR names a folder holding
# prebuilt `throughput` and `vaetool` binaries (a GPU machine without cargo). Environment:
#   CASES    the cases, "model batch" separated by commas (default: mlp 256,mlp 1024,conv 256,
#            conv 1024,tab 256)
#   EPOCHS   timed epochs of 32 batches after the first (default 10 on cuda, 2 on cpu)
#   SCORE=0  skips the 1M-row scoring run
#   PYTHON   a Python with torch (default python3)
# Each vaetool case runs twice: first with an empty cubecl cache (a fresh machine: the
# "fresh warm-up" column, kernel compilation and autotuning included), then with the cache
# that run left (the "cached warm-up" column). Prints a Markdown table for benches/RESULTS.md.
set -uo pipefail
cd "$(dirname "$0")/.."
dev="${1:-cuda}"
PY="${PYTHON:-python3}"
CASES="${CASES:-mlp 256,mlp 1024,conv 256,conv 1024,tab 256}"
EPOCHS="${EPOCHS:-$([ "$dev" = cpu ] && echo 2 || echo 10)}"
feat=(); [ "$dev" != cpu ] && feat=(--features cuda)
threads=(); [ "$dev" = cpu ] && threads=(--threads 2)
if [ -n "${BIN_DIR:-}" ]; then
  tp="$BIN_DIR/throughput"; B="$BIN_DIR/vaetool"
else
  cargo bench --bench throughput "${feat[@]}" --no-run 2>&1 | tail -1
  cargo build --release "${feat[@]}" 2>&1 | tail -1
  tp=$(ls -t target/release/deps/throughput-* | grep -v '\.d$' | head -1); B=target/release/vaetool
fi
work="$(mktemp -d)"; trap 'rm -rf "$work"' EXIT
num() { sed -n "s/.*$1 \([0-9.]*\).*/\1/p"; }
rate() { sed -n 's/.*s, \([0-9]*\) samples.*/\1/p'; }
rows=()
IFS=, read -ra cases <<<"$CASES"
for case in "${cases[@]}"; do
  read -r model batch <<<"$case"
  ep=$([ "$model" = tab ] && echo $((EPOCHS * 2)) || echo "$EPOCHS")
  cache="$work/cache-$model-$batch"
  v=$(XDG_CACHE_HOME="$cache" timeout 400 "$tp" "$model" "$dev" "$batch" "$ep" 2>&1 | tee /dev/stderr)
  vc=$(XDG_CACHE_HOME="$cache" timeout 200 "$tp" "$model" "$dev" "$batch" 1 2>&1 | tee /dev/stderr)
  t=$("$PY" benches/reference/vae_torch.py --model "$model" --device "$dev" --batch "$batch" \
      --epochs "$ep" "${threads[@]}" 2>&1 | tee /dev/stderr)
  vr=$(echo "$v" | rate); tr=$(echo "$t" | rate)
  ratio=$(awk -v a="$vr" -v b="$tr" 'BEGIN{ if (b > 0) printf "%.2f", a/b; else print "-" }')
  rows+=("| $model | $batch | $dev | $vr | $tr | $ratio | $(echo "$v" | num warm-up) | $(echo "$vc" | num warm-up) | $(echo "$t" | num warm-up) |")
  if [ "$model" = tab ]; then
    vs=$(echo "$v" | sed -n 's/.*: \([0-9]*\) rows.*/\1/p'); ts=$(echo "$t" | sed -n 's/.*: \([0-9]*\) rows.*/\1/p')
    rows+=("| tab scoring (neg. ELBO, 10 samples, rows/s) | 4096 | $dev | $vs | $ts | $(awk -v a="$vs" -v b="$ts" 'BEGIN{ if (b > 0) printf "%.2f", a/b; else print "-" }') | | | |")
  fi
done
echo
echo "| model | batch | device | vaetool samples/s | PyTorch samples/s | vaetool / PyTorch | vaetool fresh warm-up s | vaetool cached warm-up s | PyTorch warm-up s |"
echo "|---|---|---|---|---|---|---|---|---|"
printf '%s\n' "${rows[@]}"
[ "${SCORE:-1}" = 0 ] && exit 0
# Scoring throughput: 1M rows x 20 columns with a small saved model.
"$PY" - "$work" <<'PY'
import random, sys
random.seed(1)
w = sys.argv[1]
with open(f"{w}/train.csv", "w") as f:
    f.write(",".join(f"c{j}" for j in range(20)) + "\n")
    for _ in range(20000):
        f.write(",".join(f"{random.gauss(0, 1):.4f}" for _ in range(20)) + "\n")
with open(f"{w}/big.csv", "w") as f:
    f.write(",".join(f"c{j}" for j in range(20)) + "\n")
    for _ in range(1000000):
        f.write(",".join(f"{random.gauss(0, 1):.4f}" for _ in range(20)) + "\n")
PY
"$B" train "$work/train.csv" --epochs 5 --device cpu -q -o "$work/model"
devs=(cpu); [ "$dev" != cpu ] && devs+=("$dev")
for d in "${devs[@]}"; do
  echo "scoring 1M rows on $d:"
  XDG_CACHE_HOME="$work/cache-score" "$B" anomalies "$work/big.csv" --model "$work/model" \
    --chunk-rows 100000 --device "$d" -o /dev/null 2>&1 | tail -1
done
