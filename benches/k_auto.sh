#!/usr/bin/env bash
# `--k auto` on the clustering development benchmark (vaetool 9, item 6): how often
# `vaetool cluster DATA --k auto` (default flags, --k-range 2..10, seeds 1-5) finds the number
# of classes, against a GMM chosen by BIC on the raw standardized features over the same range
# (benches/reference/k_refs.py, scikit-learn defaults, the same seeds, in the same run).
# Results accumulate as CSV lines in $OUT:
#
#   table,method,true K,K chosen with seeds 1..5 (space-separated),hits
#
#   benches/k_auto.sh                         vaetool + the reference (PYTHON=… with scikit-learn)
#   NAME=… FLAGS=… REFS=0 benches/k_auto.sh   a variant
#
# Environment: OUT (benches/out/k_auto.csv), TABLES, SEEDS, FLAGS, NAME, REFS=0, VAETOOL, as
# benches/clustering.sh.
set -uo pipefail
cd "$(dirname "$0")/.."
B="${VAETOOL:-target/release/vaetool}"
[ -x "$B" ] || cargo build --release
PY="${PYTHON:-python3}"
OUT="${OUT:-benches/out/k_auto.csv}"
mkdir -p "$(dirname "$OUT")"
source benches/cluster_tables.sh
default_tables=$(cluster_tables mnist.csv fashion.csv)
read -ra tables <<<"${TABLES:-$default_tables}"
read -ra seeds <<<"${SEEDS:-1 2 3 4 5}"
read -ra extra <<<"${FLAGS:-}"
name="${NAME:-vaetool}"
name="${name//,/;}"
for spec in "${tables[@]}"; do
  table_spec "$spec"
  chosen=()
  for s in "${seeds[@]}"; do
    c=$("$B" cluster "$f" "${flags[@]}" --k auto --label-column "$label" --seed "$s" "${extra[@]}" \
      -q -o /dev/null 2>&1 | sed -n 's/.*--k auto chose K=\([0-9]*\).*/\1/p')
    chosen+=("${c:-failed}")
  done
  hits=0
  for c in "${chosen[@]}"; do [ "$c" = "$k" ] && hits=$((hits + 1)); done
  echo "$t,$name,$k,${chosen[*]},$hits" | tee -a "$OUT"
done
[ "${REFS:-1}" = 0 ] || "$PY" benches/reference/k_refs.py "${tables[@]}" | tee -a "$OUT"
