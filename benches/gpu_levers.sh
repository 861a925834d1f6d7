#!/usr/bin/env bash
# Before/after of the GPU levers, side by side in one run, on one model and batch:
# warm-up on an empty cubecl cache and on the cache an earlier run left, autotune levels,
# and the training matrix resident on the device against one upload per step.
#
#   BIN_DIR=.gpu benches/gpu_levers.sh mlp 256 [EPOCHS]
#
# BIN_DIR holds a `throughput` binary built with --features cuda (benches/throughput.rs);
# without it the script builds one. Each line: the lever, then the bench's own line (warm-up =
# first epoch of a fresh process, samples/s = the following EPOCHS epochs).
set -uo pipefail
cd "$(dirname "$0")/.."
model="${1:-mlp}"; batch="${2:-256}"; epochs="${3:-10}"
if [ -n "${BIN_DIR:-}" ]; then
  tp="$BIN_DIR/throughput"
else
  cargo bench --bench throughput --features cuda --no-run 2>&1 | tail -1
  tp=$(ls -t target/release/deps/throughput-* | grep -v '\.d$' | head -1)
fi
work="$(mktemp -d)"; trap 'rm -rf "$work"' EXIT
run() { # label, cache dir, env...
  local label="$1" cache="$2"; shift 2
  printf '%-44s ' "$label"
  env XDG_CACHE_HOME="$cache" "$@" timeout "${LIMIT:-300}" "$tp" "$model" cuda "$batch" "$epochs" 2>&1 |
    grep -E 'vaetool|panicked|error' | tr '\n' ' '
  echo
}
run "autotune minimal, empty cache" "$work/m" CUBECL_AUTOTUNE_LEVEL=minimal
run "autotune minimal, cache of the run above" "$work/m" CUBECL_AUTOTUNE_LEVEL=minimal
run "autotune balanced (default), empty cache" "$work/b"
run "autotune balanced, cache of the run above" "$work/b"
run "one upload per step (data not resident)" "$work/b" VAETOOL_DATA_ON_DEVICE=0
