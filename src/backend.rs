//! Backend choice. vaetool's models are generic over burn's `Backend`; the binary picks the
//! CPU backend `flex` (measured faster than `ndarray` on our MLP VAE, see README) and, with the
//! `cuda` feature, burn's CUDA backend.

use burn::backend::Autodiff;

/// Keeps glibc's allocator from returning large tensor buffers to the kernel after every use.
///
/// Training allocates and frees the same multi-megabyte buffers every step. glibc serves blocks
/// above its mmap threshold with fresh `mmap`s and trims the heap top eagerly, so every step
/// page-faults its buffers back in (a profile of the VaDE-size MLP showed page faults, TLB
/// shootdowns and `memmove` at about 10% of samples). Raising the mmap threshold to its maximum
/// (32 MiB) and the trim threshold keeps the pages; measured +30–40% training throughput on 2
/// cores (`benches/RESULTS.md`). Computation is unchanged. A no-op off glibc. Call it once at
/// start-up, before threads start allocating.
pub fn tune_allocator() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: mallopt only sets allocator parameters; it is called before other threads run.
    unsafe {
        libc::mallopt(libc::M_MMAP_THRESHOLD, 32 * 1024 * 1024);
        libc::mallopt(libc::M_TRIM_THRESHOLD, 512 * 1024 * 1024);
    }
}

/// The default CPU backend used for inference.
pub type Cpu = burn::backend::Flex;
/// The CPU backend with automatic differentiation, used for training.
pub type CpuTrain = Autodiff<Cpu>;

/// burn's CUDA backend, for inference: plain (`cuda`), with autotune (`cuda-autotune`), or
/// with kernel fusion and autotune (`cuda-fused`), as the cargo features chose.
#[cfg(feature = "cuda")]
pub type Gpu = burn::backend::Cuda;
/// The flavour of the CUDA backend this binary was built with, for messages and benchmarks.
#[cfg(feature = "cuda")]
pub const GPU_FLAVOUR: &str = if cfg!(feature = "cuda-fused") {
    "cuda-fused (fusion + autotune)"
} else if cfg!(feature = "cuda-autotune") {
    "cuda-autotune (no fusion)"
} else {
    "cuda (no fusion, no autotune)"
};
/// The CUDA backend with automatic differentiation, for training.
#[cfg(feature = "cuda")]
pub type GpuTrain = Autodiff<Gpu>;
/// A CUDA device (an index).
#[cfg(feature = "cuda")]
pub type GpuDevice = burn::backend::cuda::CudaDevice;
