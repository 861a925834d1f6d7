#!/usr/bin/env bash
# Runs the fuzz targets one after another, each until its coverage (libFuzzer's edge count,
# "cov: N") has not grown for QUIET seconds (default 600: ten minutes), at most MAX seconds
# (default 3600), on one core. The
# corpus grows in $WORK/TARGET (default /tmp/vaetool-fuzz), seeded from fuzz/corpus/TARGET;
# at the end the inputs that add coverage are merged into fuzz/corpus/TARGET (what is
# committed), and a crash is saved in fuzz/artifacts/TARGET. fuzz/TARGET.dict, where there is
# one, is libFuzzer's dictionary for the target (the JSON keys of a model directory).
#
#   fuzz/run.sh [TARGET …]          (default: csv idx modeldir images; needs cargo-fuzz and a
#                                    nightly toolchain: cargo install cargo-fuzz)
set -uo pipefail
cd "$(dirname "$0")/.."
quiet="${QUIET:-600}"
max="${MAX:-3600}"
work="${WORK:-/tmp/vaetool-fuzz}"
for t in ${@:-csv idx modeldir images}; do
  mkdir -p "$work/$t" "fuzz/corpus/$t"
  start=$(date +%s)
  state="$work/$t.last"
  echo "$start 0" >"$state"
  dict=()
  [ -f "fuzz/$t.dict" ] && dict=(-dict="$PWD/fuzz/$t.dict")
  cargo +nightly fuzz run --sanitizer none "$t" "$work/$t" "fuzz/corpus/$t" -- \
    -rss_limit_mb=2048 -timeout=20 -max_len=65536 -print_final_stats=1 "${dict[@]}" 2>&1 |
    while IFS= read -r line; do
      now=$(date +%s)
      read -r last cov <"$state"
      # new coverage: the edge count ("cov: N") grows
      c=$(echo "$line" | sed -n 's/.* cov: \([0-9]*\) .*/\1/p')
      if [ -n "$c" ] && [ "$c" -gt "$cov" ]; then
        last=$now
        cov=$c
        echo "$last $cov" >"$state"
      fi
      echo "$((now - start))s $line"
      if [ $((now - last)) -ge "$quiet" ] || [ $((now - start)) -ge "$max" ]; then
        pkill -INT -f "release/$t -artifact_prefix" || true
      fi
    done
  read -r last cov <"$state"
  echo "== $t: ran $(($(date +%s) - start)) s; coverage $cov edges, last grown at $((last - start)) s"
  bin=$(ls fuzz/target/*/release/"$t" | head -1)
  "$bin" -merge=1 "fuzz/corpus/$t" "$work/$t" 2>&1 | tail -1
done
