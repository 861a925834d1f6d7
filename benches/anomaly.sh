#!/usr/bin/env bash
# Anomaly benchmark: vaetool's default flags (median over seeds 1-5) beside the reference
# detectors of benches/reference/baselines.py, on the same files, in one run.
# Usage: benches/anomaly.sh [path/to/vaetool]   (the reference needs python3 with scikit-learn)
set -euo pipefail
cd "$(dirname "$0")/.."
B="${1:-target/release/vaetool}"
[ -x "$B" ] || cargo build --release
median() { sort -g | awk '{a[NR]=$1} END {print (NR%2) ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2}'; }
sets=(datasets/shuttle.csv datasets/cardio.csv datasets/breastw.csv)
echo "| dataset | detector | ROC-AUC (median) | AP (median) |"
echo "|---|---|---|---|"
for f in "${sets[@]}"; do
  name=$(basename "$f" .csv)
  idflag=(); head -1 "$f" | grep -q '^id,' && idflag=(--id-column id)
  aucs=(); aps=()
  for seed in 1 2 3 4 5; do
    line=$("$B" anomalies "$f" "${idflag[@]}" --label-column outlier --seed "$seed" -q -o /dev/null 2>&1 | grep ROC-AUC)
    aucs+=("$(echo "$line" | sed -n 's/.*ROC-AUC \([0-9.]*\).*/\1/p')")
    aps+=("$(echo "$line" | sed -n 's/.*precision \([0-9.]*\).*/\1/p')")
  done
  echo "| $name | vaetool (defaults) | $(printf '%s\n' "${aucs[@]}" | median) | $(printf '%s\n' "${aps[@]}" | median) |"
done
python3 benches/reference/baselines.py "${sets[@]}"
