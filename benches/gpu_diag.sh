#!/usr/bin/env bash
# The prepared GPU check (vaetool 10), in one device call of at most ~8 minutes. Every case runs
# under a hard timeout; a failing case prints why and the script goes on; cases that would
# start after BUDGET seconds are skipped (said in the table). Writes, as it goes:
#   $OUT/gpu_diag.md    the table (also printed)
#   $OUT/gpu_diag.log   every binary's stderr and the tail of each kernel log
#
# Cases, in order of importance:
#  1. PyTorch eager on the same models (benches/reference/vae_torch.py; the device's python3
#     has torch): the VaDE-size MLP 784-500-500-2000-10 at batch 256 and 1024, the conv VAE
#     at 256.
#  2. Each CUDA flavour built by benches/gpu_build.sh — cuda (no fusion, no autotune; the
#     default), then, time permitting, cuda-autotune and cuda-fused — on the same three cases,
#     first on an empty cubecl cache and then on the cache that run left: seconds from the
#     process's start to the end of the first training step, warm-up (that and the first
#     epoch), steady samples/s and steps/s, and kernels compiled (cubecl's compilation
#     logger, VAETOOL_KERNEL_LOG: one line per kernel compiled, none for a cache hit).
#  3. Scoring 1,000,000 rows in memory (the default tabular model, 10 draws) on the GPU and
#     on the CPU.
#  4. benches/gpu_check.sh: the same clustering up to relabeling and ROC-AUC within 0.01 of
#     the CPU.
#
#   BIN_DIR=.gpu benches/gpu_diag.sh                 on the GPU machine (.gpu/bins.tar.xz carried)
#   DEVICE=cpu EPOCHS=1 BIN_DIR=.gpu benches/gpu_diag.sh   the dry run, here, on the CPU
# Knobs: FLAVOURS (default "cuda cuda-autotune cuda-fused"), CASES ("mlp 256,mlp 1024,conv 256"),
# EPOCHS (5), BUDGET (440 s), LIMITS ("EMPTY CACHED" seconds per case), TORCH=0 (no PyTorch).
set -uo pipefail
cd "$(dirname "$0")/.."
bin="${BIN_DIR:-.gpu}"
if [ -f "$bin/bins.tar.xz" ] && [ ! -x "$bin/throughput-cuda" ]; then
  # what benches/gpu_build.sh packed to travel with the call
  mkdir -p /tmp/vaetool-gpu-bins && tar -xJf "$bin/bins.tar.xz" -C /tmp/vaetool-gpu-bins
  bin=/tmp/vaetool-gpu-bins
fi
dev="${DEVICE:-cuda}"
out="${OUT:-$(mktemp -d)}"
EPOCHS="${EPOCHS:-5}"
BUDGET="${BUDGET:-440}"
FLAVOURS="${FLAVOURS:-cuda cuda-autotune cuda-fused}"
CASES="${CASES:-mlp 256,mlp 1024,conv 256}"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
table="$out/gpu_diag.md"
log="$out/gpu_diag.log"
: >"$table"
: >"$log"
SECONDS=0
say() { echo "$*" | tee -a "$table"; }
left() { echo $((BUDGET - SECONDS)); }
field() { sed -n "s/.*$1 \([0-9.]*\).*/\1/p" | head -1; }

say "# vaetool GPU check, $(date -u +%F), device $dev"
if command -v nvidia-smi >/dev/null; then
  say "GPU: $(nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader)"
fi
say "CPU: $(nproc) cores. EPOCHS=$EPOCHS timed epochs of 32 steps after the first."
say ""

# 1. PyTorch eager
declare -A torch_rate
say "| PyTorch eager | batch | warm-up s (first epoch) | samples/s |"
say "|---|---|---|---|"
IFS=, read -ra cases <<<"$CASES"
for c in "${cases[@]}"; do
  read -r model batch <<<"$c"
  if [ "${TORCH:-1}" = 0 ] || ! python3 -c 'import torch' 2>/dev/null; then
    say "| $model | $batch | no torch here | |"
    continue
  fi
  line=$(timeout 90 python3 benches/reference/vae_torch.py --model "$model" --device "$dev" \
    --batch "$batch" --epochs "$EPOCHS" 2>>"$log" | grep '^torch')
  torch_rate["$model $batch"]=$(echo "$line" | sed -n 's/.*s, \([0-9]*\) samples.*/\1/p')
  say "| $model | $batch | $(echo "$line" | field warm-up) | ${torch_rate["$model $batch"]:-failed} |"
done
say ""

# 2. the CUDA flavours
say "| flavour | model | batch | cache | first step s | warm-up s | samples/s | steps/s | × PyTorch | kernels compiled | autotune lines | cache after, KB |"
say "|---|---|---|---|---|---|---|---|---|---|---|---|"
run_case() { # flavour model batch cache-dir label limit
  local f="$1" model="$2" batch="$3" cache="$4" label="$5" limit="$6"
  local kl="$work/kernels-$f-$model-$batch-$label.log" line rc tr ratio
  : >"$kl"
  if [ "$(left)" -lt "$limit" ]; then
    say "| $f | $model | $batch | $label | skipped: $(left) s of the budget left | | | | | | | |"
    return 1
  fi
  echo "== $f $model $batch $label" >>"$log"
  line=$(XDG_CACHE_HOME="$cache" VAETOOL_KERNEL_LOG="$kl" timeout "$limit" \
    "$bin/throughput-$f" "$model" "$dev" "$batch" "$EPOCHS" 2>>"$log" | grep '^vaetool')
  rc=$?
  sleep 0.2 # cubecl's logger writes from its own thread
  local kernels autotune size
  kernels=$(grep -c 'Compiling kernel' "$kl")
  autotune=$(grep -vc 'Compiling kernel' "$kl")
  size=$(du -sk "$cache" 2>/dev/null | cut -f1)
  { echo "-- kernel log tail:"; tail -n 5 "$kl"; } >>"$log"
  if [ -z "$line" ]; then
    say "| $f | $model | $batch | $label | failed or timed out after ${limit} s (rc $rc; see gpu_diag.log) | | | | | $kernels | $autotune | $size |"
    return 1
  fi
  local rate
  rate=$(echo "$line" | sed -n 's/.*s, \([0-9]*\) samples.*/\1/p')
  tr="${torch_rate["$model $batch"]:-}"
  ratio=$(awk -v a="$rate" -v b="$tr" 'BEGIN{ if (b > 0) printf "%.2f", a/b; else print "-" }')
  say "| $f | $model | $batch | $label | $(echo "$line" | field 'first step') | $(echo "$line" | field warm-up) | $rate | $(echo "$line" | sed -n 's/.*(\([0-9.]*\) steps.*/\1/p') | $ratio | $kernels | $autotune | $size |"
}
flavour() { # flavour empty-limit cached-limit cases...
  local f="$1" l1="$2" l2="$3"
  shift 3
  [ -x "$bin/throughput-$f" ] || { say "| $f | no $bin/throughput-$f | | | | | | | | | | |"; return; }
  for c in "$@"; do
    read -r model batch <<<"$c"
    local cache="$work/cache-$f-$model-$batch"
    # a flavour that cannot finish its first case on an empty cache is not tried further
    run_case "$f" "$model" "$batch" "$cache" empty "$l1" || { [ "$c" = "$1" ] && return; continue; }
    run_case "$f" "$model" "$batch" "$cache" cached "$l2"
  done
}
for f in $FLAVOURS; do
  # LIMITS="EMPTY CACHED" seconds per case overrides the flavour's own
  case "$f" in
  cuda) flavour cuda ${LIMITS:-90 45} "${cases[@]}" ;;
  cuda-fused) flavour cuda-fused ${LIMITS:-60 30} "${cases[0]}" ;;
  *) flavour "$f" ${LIMITS:-60 30} "${cases[@]}" ;;
  esac
  if [ "$f" = cuda ]; then
    # 3. scoring, then 4. the CPU/GPU agreement, right after the default flavour
    say ""
    say "| scoring, 1,000,000 rows in memory (default tabular model, 10 draws) | rows/s | mean score |"
    say "|---|---|---|"
    for d in "$dev" cpu; do
      line=$(timeout 120 "$bin/throughput-cuda" tab "$d" 256 2 2>>"$log" | grep '^vaetool score')
      if [ -z "$line" ]; then
        say "| $d | failed or timed out (see gpu_diag.log) | |"
      else
        say "| $d | $(echo "$line" | sed -n 's/.*: \([0-9]*\) rows.*/\1/p') | $(echo "$line" | field 'mean score') |"
      fi
    done
    say ""
    say "gpu_check (CUDA flavour \`cuda\`):"
    VAETOOL="$bin/vaetool-cuda" DEVICE="$dev" timeout 150 benches/gpu_check.sh 2>>"$log" |
      sed 's/^/    /' | tee -a "$table"
    say ""
    say "| flavour | model | batch | cache | first step s | warm-up s | samples/s | steps/s | × PyTorch | kernels compiled | autotune lines | cache after, KB |"
    say "|---|---|---|---|---|---|---|---|---|---|---|---|"
  fi
done
say ""
say "(finished after ${SECONDS} s)"
