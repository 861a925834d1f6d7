# Sourced by benches/clustering.sh and benches/k_auto.sh: the clustering benchmark's tables and,
# for one "FILE:LABEL" spec, what a run needs to know of it.

# The tables ("FILE:LABEL …"): iris, wine, breast cancer, digits and datasets/clustering/*.csv
# (datasets/fetch.sh --clustering), leaving out the files named in the arguments.
cluster_tables() {
  local list="datasets/iris.csv:species datasets/wine.csv:class datasets/breast_cancer.csv:diagnosis datasets/digits.csv:digit"
  local f
  for f in datasets/clustering/*.csv; do
    [ -f "$f" ] || continue
    case " $* " in *" $(basename "$f") "*) continue ;; esac
    list+=" $f:label"
  done
  echo "$list"
}

# Sets f (the file), label, t (the table's name), k (its number of classes) and flags (a
# NAME.flags file beside it, and --id-column id where the first column is `id`) for a spec.
table_spec() {
  f="${1%%:*}"
  label="${1#*:}"
  t=$(basename "$f" .csv)
  k=$(tail -n +2 "$f" | awk -F, -v h="$(head -1 "$f")" -v l="$label" \
    'BEGIN { n = split(h, a, ","); for (i = 1; i <= n; i++) if (a[i] == l) c = i } { print $c }' | sort -u | wc -l)
  flags=()
  [ -f "${f%.csv}.flags" ] && read -ra flags <"${f%.csv}.flags"
  head -1 "$f" | grep -q '^id,' && flags+=(--id-column id)
  return 0
}
