#!/usr/bin/env bash
# The VAE family side by side: clustering ACC on digits (GMM on the latents, --scale none) and
# anomaly ROC-AUC / AP on shuttle (default flags), per variant, seeds 1-3, median printed.
# Usage: benches/variants.sh [path/to/vaetool]   (default: target/release/vaetool)
set -euo pipefail
cd "$(dirname "$0")/.."
B="${1:-target/release/vaetool}"
[ -x "$B" ] || cargo build --release
median() { sort -g | awk '{a[NR]=$1} END {print (NR%2) ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2}'; }
echo "| variant | flags | digits ACC (median of 3) | shuttle ROC-AUC (median of 3) | shuttle AP (median of 3) |"
echo "|---|---|---|---|---|"
while IFS='|' read -r name flags; do
  accs=(); aucs=(); aps=()
  for seed in 1 2 3; do
    acc=$("$B" cluster datasets/digits.csv --k 10 --label-column digit --scale none --method gmm $flags --seed "$seed" -q -o /dev/null 2>&1 | sed -n 's/.*ACC \([0-9.]*\).*/\1/p')
    line=$("$B" anomalies datasets/shuttle.csv --id-column id --label-column outlier $flags --seed "$seed" -q -o /dev/null 2>&1 | grep ROC-AUC)
    accs+=("$acc"); aucs+=("$(echo "$line" | sed -n 's/.*ROC-AUC \([0-9.]*\).*/\1/p')"); aps+=("$(echo "$line" | sed -n 's/.*precision \([0-9.]*\).*/\1/p')")
  done
  echo "| $name | \`${flags:-}\` | $(printf '%s\n' "${accs[@]}" | median) (${accs[*]}) | $(printf '%s\n' "${aucs[@]}" | median) (${aucs[*]}) | $(printf '%s\n' "${aps[@]}" | median) (${aps[*]}) |"
done <<'VARIANTS'
VAE (β = 1)|
β-VAE, β = 4|--beta 4
β-VAE with capacity|--capacity 10 --gamma 100
poor man's VAE|--variant poor-man
FactorVAE|--variant factor
VARIANTS
