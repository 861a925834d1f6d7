#!/usr/bin/env bash
# Clustering development benchmark (vaetool 9): `vaetool cluster` with the true K (median of
# seeds 1-5, nothing chosen by labels) and, in the same session, the scikit-learn / umap-learn
# references of benches/reference/cluster_refs.py, on every table: iris, wine, breast cancer,
# digits and datasets/clustering/*.csv (datasets/fetch.sh --clustering). Results accumulate as
# CSV lines (table,method,acc,nmi,ari,seconds) in $OUT; summarize with
#
#   python3 benches/reference/summary.py benches/out/clustering.csv --names ACC,NMI,ARI --baseline K-means
#
#   benches/clustering.sh                              defaults + references (PYTHON=… with
#                                                      scikit-learn and umap-learn)
#   NAME="vaetool gmm" FLAGS="--method gmm" REFS=0 benches/clustering.sh     one lever
#
# Environment: OUT (benches/out/clustering.csv), TABLES ("FILE:LABEL …"), SEEDS, FLAGS, NAME,
# REFS=0, VAETOOL, as benches/anomaly.sh.
set -uo pipefail
cd "$(dirname "$0")/.."
B="${VAETOOL:-target/release/vaetool}"
[ -x "$B" ] || cargo build --release
PY="${PYTHON:-python3}"
OUT="${OUT:-benches/out/clustering.csv}"
mkdir -p "$(dirname "$OUT")"
source benches/cluster_tables.sh
default_tables=$(cluster_tables)
read -ra tables <<<"${TABLES:-$default_tables}"
read -ra seeds <<<"${SEEDS:-1 2 3 4 5}"
read -ra extra <<<"${FLAGS:-}"
name="${NAME:-vaetool}"
name="${name//,/;}" # (a comma would split the CSV line)
median() { sort -g | awk '{a[NR]=$1} END {print (NR%2) ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2}'; }
field() { sed -n "s/.*$1 \(-\{0,1\}[0-9.]*\).*/\1/p"; }
for spec in "${tables[@]}"; do
  table_spec "$spec"
  accs=() nmis=() aris=() secs=()
  for s in "${seeds[@]}"; do
    start=$(date +%s%N)
    line=$("$B" cluster "$f" "${flags[@]}" --k "$k" --label-column "$label" --seed "$s" "${extra[@]}" \
      -q -o /dev/null 2>&1 | grep 'ACC ')
    secs+=("$(awk -v a="$start" -v b="$(date +%s%N)" 'BEGIN { print (b - a) / 1e9 }')")
    accs+=("$(echo "$line" | field ACC)")
    nmis+=("$(echo "$line" | field NMI)")
    aris+=("$(echo "$line" | field ARI)")
  done
  if [ -z "${accs[0]}" ]; then
    echo "$t,$name,,,,failed" | tee -a "$OUT"
    continue
  fi
  echo "$t,$name,$(printf '%s\n' "${accs[@]}" | median),$(printf '%s\n' "${nmis[@]}" | median),$(printf '%s\n' "${aris[@]}" | median),$(printf '%s\n' "${secs[@]}" | median | xargs printf '%.1f')" | tee -a "$OUT"
done
[ "${REFS:-1}" = 0 ] || "$PY" benches/reference/cluster_refs.py "${tables[@]}" | tee -a "$OUT"
