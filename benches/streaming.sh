#!/usr/bin/env bash
# Streaming anomaly scoring: rows/s and peak memory (max RSS) for 200,000 and 1,000,000 rows of
# 20 columns, with the default model (trained on 20,000 rows), --chunk-rows 65536, and
# --samples 10 (default) or 1. Peak memory should not grow with the file.
# Usage: benches/streaming.sh [path/to/vaetool]   (needs python3 and GNU time)
set -euo pipefail
cd "$(dirname "$0")/.."
B="$(realpath "${1:-target/release/vaetool}")"
[ -x "$B" ] || cargo build --release
w="${TMPDIR:-/tmp}/vaetool-streaming"
mkdir -p "$w"
if [ ! -s "$w/rows-1000000.csv" ] || [ ! -s "$w/rows-200000.csv" ] || [ ! -s "$w/train.csv" ]; then
  python3 - "$w" <<'PY'
import random, sys
r = random.Random(7)
w = sys.argv[1]
centers = [[r.uniform(-3, 3) for _ in range(20)] for _ in range(4)]
with open(f"{w}/rows-1000000.csv", "w") as f:
    f.write(",".join(f"x{j}" for j in range(20)) + "\n")
    for i in range(1_000_000):
        c = centers[i % 4]
        f.write(",".join(f"{c[j] + r.gauss(0, 1):.4f}" for j in range(20)) + "\n")
PY
  head -n 200001 "$w/rows-1000000.csv" > "$w/rows-200000.csv"
  head -n 20001 "$w/rows-1000000.csv" > "$w/train.csv"
fi
"$B" train "$w/train.csv" -q -o "$w/model"
echo "| rows | --samples | seconds | rows/s | peak memory (MB) |"
echo "|---|---|---|---|---|"
for rows in 200000 1000000; do
  for samples in 10 1; do
    log=$( { /usr/bin/time -f "TIME %e %M" "$B" anomalies "$w/rows-$rows.csv" --model "$w/model" --chunk-rows 65536 --samples "$samples" -o "$w/scores.csv"; } 2>&1 )
    rps=$(echo "$log" | sed -n 's/.*(\([0-9]*\) rows\/s).*/\1/p')
    read -r secs kb < <(echo "$log" | sed -n 's/^TIME \([0-9.]*\) \([0-9]*\)$/\1 \2/p')
    echo "| $rows | $samples | $secs | $rps | $((kb / 1024)) |"
  done
done
