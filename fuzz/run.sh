#!/usr/bin/env bash
# Runs the fuzz targets one after another, each until it has found no new coverage for QUIET
# seconds (default 600: ten minutes), at most MAX seconds (default 3600), on one core. The
# corpus grows in $WORK/TARGET (default /tmp/vaetool-fuzz), seeded from fuzz/corpus/TARGET;
# at the end the inputs that add coverage are merged into fuzz/corpus/TARGET (what is
# committed), and a crash is saved in fuzz/artifacts/TARGET.
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
  last=$start
  cargo +nightly fuzz run --sanitizer none "$t" "$work/$t" "fuzz/corpus/$t" -- \
    -rss_limit_mb=2048 -timeout=20 -max_len=65536 -print_final_stats=1 2>&1 |
    while IFS= read -r line; do
      now=$(date +%s)
      case "$line" in *"NEW "* | *NEW_FUNC*) last=$now ;; esac  # "#N<TAB>NEW cov: …"
      echo "$((now - start))s $line"
      if [ $((now - last)) -ge "$quiet" ] || [ $((now - start)) -ge "$max" ]; then
        pkill -INT -f "release/$t -artifact_prefix" || true
      fi
    done
  echo "== $t: ran $(($(date +%s) - start)) s; last new coverage at $((last - start)) s"
  bin=$(ls fuzz/target/*/release/"$t" | head -1)
  "$bin" -merge=1 "fuzz/corpus/$t" "$work/$t" 2>&1 | tail -1
done
