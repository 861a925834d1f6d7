#!/usr/bin/env bash
# Builds, here (no GPU or CUDA needed), every binary that benches/gpu_diag.sh runs on the GPU
# machine (which has no cargo), into the git-ignored folder .gpu/:
#
#   .gpu/vaetool-FLAVOUR      the CLI built with --features FLAVOUR
#   .gpu/throughput-FLAVOUR   benches/throughput.rs built with --features FLAVOUR
#
# for FLAVOUR in cuda (no fusion, no autotune), cuda-autotune (no fusion) and cuda-fused
# (burn's default CUDA stack: fusion and autotune); FLAVOURS="cuda" builds fewer. The device's
# driver is CUDA 13, hence CUDARC_CUDA_VERSION=13000 (cudarc opens the driver and NVRTC at run
# time, so nothing CUDA is needed to build). Each binary is ~35 MB stripped, so what the device
# call carries is .gpu/bins.tar.xz (~7 MB a binary): the throughput binaries and vaetool-cuda,
# which gpu_diag.sh unpacks there.
#
#   benches/gpu_build.sh && du -sh .gpu/bins.tar.xz
set -euo pipefail
cd "$(dirname "$0")/.."
export CUDARC_CUDA_VERSION="${CUDARC_CUDA_VERSION:-13000}"
mkdir -p .gpu
for f in ${FLAVOURS:-cuda cuda-autotune cuda-fused}; do
  echo "== $f"
  cargo build --release --features "$f" --bin vaetool --bench throughput 2>&1 | tail -1
  cp target/release/vaetool ".gpu/vaetool-$f"
  tp=$(ls -t target/release/deps/throughput-* | grep -v '\.d$' | head -1)
  cp "$tp" ".gpu/throughput-$f"
  strip ".gpu/vaetool-$f" ".gpu/throughput-$f"
done
(cd .gpu && tar -cf - vaetool-cuda throughput-* | xz -T2 -6 >bins.tar.xz)
ls -la .gpu
