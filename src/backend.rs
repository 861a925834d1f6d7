//! Backend choice. vaetool's models are generic over burn's `Backend`; the binary picks the
//! CPU backend `flex` (measured faster than `ndarray` on our MLP VAE, see README) and, with the
//! `cuda` feature, burn's CUDA backend.

use burn::backend::Autodiff;

/// The default CPU backend used for inference.
pub type Cpu = burn::backend::Flex;
/// The CPU backend with automatic differentiation, used for training.
pub type CpuTrain = Autodiff<Cpu>;

/// burn's CUDA backend (with fusion and autotune), for inference.
#[cfg(feature = "cuda")]
pub type Gpu = burn::backend::Cuda;
/// The CUDA backend with automatic differentiation, for training.
#[cfg(feature = "cuda")]
pub type GpuTrain = Autodiff<Gpu>;
/// A CUDA device (an index).
#[cfg(feature = "cuda")]
pub type GpuDevice = burn::backend::cuda::CudaDevice;
