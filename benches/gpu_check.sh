#!/usr/bin/env bash
# Results do not depend on the backend: one clustering and one anomaly job on the CPU and on
# the GPU with the same data and seed. CPU and GPU draw different random numbers, so the runs
# are not bit-identical; the check is that the GPU's clustering agrees with the CPU's up to
# relabeling (agreement ACC >= 0.90) and that ROC-AUC differs by at most 0.01.
#
#   benches/gpu_check.sh      (on a machine with an NVIDIA GPU; builds with --features cuda
#                              unless VAETOOL names a prebuilt CUDA vaetool)
#   DEVICE=cpu VAETOOL=target/release/vaetool benches/gpu_check.sh   the dry run (CPU twice)
set -euo pipefail
cd "$(dirname "$0")/.."
gpu="${DEVICE:-cuda}"
if [ -n "${VAETOOL:-}" ]; then
  B="$VAETOOL"
else
  cargo build --release --features cuda 2>&1 | tail -1
  B=target/release/vaetool
fi
work="$(mktemp -d)"; trap 'rm -rf "$work"' EXIT
for d in cpu "$gpu"; do
  SECONDS=0
  "$B" cluster datasets/digits.csv --k 10 --label-column digit --scale none --method gmm \
    --seed 1 --device "$d" -q -o "$work/clusters-$d.csv" 2> "$work/cluster-$d.log"
  "$B" anomalies datasets/shuttle.csv --id-column id --label-column outlier --seed 1 \
    --device "$d" -q -o /dev/null 2> "$work/anomalies-$d.log"
  echo "$d ($SECONDS s for both): $(grep ACC "$work/cluster-$d.log"); $(grep ROC-AUC "$work/anomalies-$d.log")"
done
agree=$("$B" evaluate --truth "$work/clusters-cpu.csv" --truth-column cluster \
  --pred "$work/clusters-$gpu.csv" 2>&1 | sed -n 's/.*ACC \([0-9.]*\).*/\1/p')
a_cpu=$(sed -n 's/.*ROC-AUC \([0-9.]*\).*/\1/p' "$work/anomalies-cpu.log")
a_gpu=$(sed -n 's/.*ROC-AUC \([0-9.]*\).*/\1/p' "$work/anomalies-$gpu.log")
echo "clustering agreement (ACC of GPU labels against CPU labels): $agree"
echo "ROC-AUC: cpu $a_cpu, $gpu $a_gpu"
awk -v g="$agree" -v a="$a_cpu" -v b="$a_gpu" 'BEGIN { d = a - b; if (d < 0) d = -d;
  ok = (g >= 0.90 && d <= 0.01); print (ok ? "PASS" : "FAIL"); exit !ok }'
