#!/usr/bin/env bash
# Training throughput of vaetool against PyTorch eager on the same device, same models, loss,
# optimizer and batch, in one run; then GPU scoring throughput on 1M rows.
#
#   benches/gpu_bench.sh cuda    on a machine with an NVIDIA GPU (and python3 with torch)
#   benches/gpu_bench.sh cpu     the CPU comparison (PyTorch limited to 2 threads)
#
# Builds `benches/throughput.rs` (with --features cuda for cuda; set CUDARC_CUDA_VERSION=13000
# for CUDA-13 drivers) and runs it beside `benches/reference/vae_torch.py` for the VaDE-size MLP
# and the conv VAE at batch 256 and 1024. Prints a Markdown table for benches/RESULTS.md.
# The first vaetool run on a fresh machine includes kernel compilation and autotuning (its
# warm-up column); cubecl's caches then live in ${XDG_CACHE_HOME:-~/.cache}/vaetool/cubecl.
set -euo pipefail
cd "$(dirname "$0")/.."
dev="${1:-cuda}"
PY="${PYTHON:-python3}"   # a Python with torch
feat=(); [ "$dev" != cpu ] && feat=(--features cuda)
threads=(); [ "$dev" = cpu ] && threads=(--threads 2)
cargo bench --bench throughput "${feat[@]}" --no-run 2>&1 | tail -1
bin=$(ls -t target/release/deps/throughput-* | grep -v '\.d$' | head -1)
num() { sed -n "s/.*$1 \([0-9.]*\).*/\1/p"; }
echo "| model | batch | device | vaetool samples/s | PyTorch samples/s | vaetool / PyTorch | vaetool warm-up s | PyTorch warm-up s |"
echo "|---|---|---|---|---|---|---|---|"
for case in "mlp 256" "mlp 1024" "conv 256" "conv 1024" "tab 256"; do
  read -r model batch <<<"$case"
    v=$("$bin" "$model" "$dev" "$batch" "$([ "$model" = tab ] && echo 20 || echo 2)")
    t=$("$PY" benches/reference/vae_torch.py --model "$model" --device "$dev" --batch "$batch" \
        --epochs "$([ "$model" = tab ] && echo 20 || echo 2)" "${threads[@]}" 2>/dev/null)
    vr=$(echo "$v" | sed -n 's/.*s, \([0-9]*\) samples.*/\1/p'); tr=$(echo "$t" | sed -n 's/.*s, \([0-9]*\) samples.*/\1/p')
    vw=$(echo "$v" | num warm-up); tw=$(echo "$t" | num warm-up)
    echo "| $model | $batch | $dev | $vr | $tr | $(awk -v a="$vr" -v b="$tr" 'BEGIN{printf "%.2f", a/b}') | $vw | $tw |"
    if [ "$model" = tab ]; then
      vs=$(echo "$v" | sed -n 's/.*: \([0-9]*\) rows.*/\1/p'); ts=$(echo "$t" | sed -n 's/.*: \([0-9]*\) rows.*/\1/p')
      echo "| tab scoring (neg. ELBO, 10 samples, rows/s) | 4096 | $dev | $vs | $ts | $(awk -v a="$vs" -v b="$ts" 'BEGIN{printf "%.2f", a/b}') | | |"
    fi
done
# Scoring throughput: 1M rows x 20 columns with a small saved model.
B="target/release/vaetool"
cargo build --release "${feat[@]}" 2>&1 | tail -1
work="$(mktemp -d)"; trap 'rm -rf "$work"' EXIT
python3 - "$work" <<'PY'
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
  "$B" anomalies "$work/big.csv" --model "$work/model" --chunk-rows 100000 --device "$d" -o /dev/null 2>&1 | tail -1
done
