#!/usr/bin/env bash
# Anomaly development benchmark (vaetool 8): vaetool (median of seeds 1-5) and, in the same
# session, the reference detectors of benches/reference/anomaly_refs.py, on every table:
# datasets/{shuttle,cardio,breastw}.csv and datasets/anomaly/*.csv (datasets/fetch.sh
# --anomaly). Results accumulate as CSV lines (table,detector,roc_auc,ap,seconds) in $OUT, so a
# lever can be run alone beside references already there; benches/reference/summary.py turns
# them into the Markdown tables of benches/RESULTS.md (per table, means, mean ranks, and the
# leave-one-table-out check).
#
#   benches/anomaly.sh                          defaults + references (python3 with
#                                               scikit-learn, pyod and torch: PYTHON=…)
#   NAME="vaetool --trim 0" FLAGS="--trim 0" REFS=0 benches/anomaly.sh     one lever
#   python3 benches/reference/summary.py benches/out/anomaly.csv
#
# Environment: OUT (benches/out/anomaly.csv), TABLES (the files), SEEDS ("1 2 3 4 5"), FLAGS
# (extra vaetool flags), NAME (the row's name, default "vaetool"), REFS=0 (no references),
# VAETOOL (the binary, default target/release/vaetool).
set -uo pipefail
cd "$(dirname "$0")/.."
B="${VAETOOL:-target/release/vaetool}"
[ -x "$B" ] || cargo build --release
PY="${PYTHON:-python3}"
OUT="${OUT:-benches/out/anomaly.csv}"
mkdir -p "$(dirname "$OUT")"
read -ra tables <<<"${TABLES:-datasets/shuttle.csv datasets/cardio.csv datasets/breastw.csv $(ls datasets/anomaly/*.csv 2>/dev/null | tr '\n' ' ')}"
[ "${#tables[@]}" -gt 3 ] || echo "note: datasets/anomaly/ is empty: run datasets/fetch.sh --anomaly" >&2
read -ra seeds <<<"${SEEDS:-1 2 3 4 5}"
read -ra extra <<<"${FLAGS:-}"
name="${NAME:-vaetool}"
name="${name//,/;}" # (a comma would split the CSV line)
median() { sort -g | awk '{a[NR]=$1} END {print (NR%2) ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2}'; }
for f in "${tables[@]}"; do
  t=$(basename "$f" .csv)
  flags=()
  [ -f "${f%.csv}.flags" ] && read -ra flags <"${f%.csv}.flags"
  head -1 "$f" | grep -q '^id,' && flags+=(--id-column id)
  aucs=() aps=() secs=()
  for s in "${seeds[@]}"; do
    start=$(date +%s%N)
    line=$("$B" anomalies "$f" "${flags[@]}" --label-column outlier --seed "$s" "${extra[@]}" -q \
      -o /dev/null 2>&1 | grep ROC-AUC)
    secs+=("$(awk -v a="$start" -v b="$(date +%s%N)" 'BEGIN { print (b - a) / 1e9 }')")
    aucs+=("$(echo "$line" | sed -n 's/.*ROC-AUC \([0-9.]*\).*/\1/p')")
    aps+=("$(echo "$line" | sed -n 's/.*precision \([0-9.]*\).*/\1/p')")
  done
  if [ -z "${aucs[0]}" ]; then
    echo "$t,$name,,,failed" | tee -a "$OUT"
    continue
  fi
  echo "$t,$name,$(printf '%s\n' "${aucs[@]}" | median),$(printf '%s\n' "${aps[@]}" | median),$(printf '%s\n' "${secs[@]}" | median | xargs printf '%.1f')" | tee -a "$OUT"
done
[ "${REFS:-1}" = 0 ] || "$PY" benches/reference/anomaly_refs.py "${tables[@]}" | tee -a "$OUT"
