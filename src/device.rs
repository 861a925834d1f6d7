//! Where models train and score (`--device auto|cpu|cuda|cuda:N`). Training and scoring run on
//! the chosen device; the trained network is then handed back on the CPU backend, so saving,
//! clustering and pictures are the same whatever trained it. Models cross backends through
//! burn's binary record (full precision), which is backend-independent.
//!
//! With the `cuda` cargo feature, CUDA devices are probed before use so that a missing driver
//! or a device index out of range is a clear error rather than a panic deep inside the runtime,
//! and cubecl's autotune and compilation caches go to `$XDG_CACHE_HOME/vaetool/cubecl` (or
//! `~/.cache/vaetool/cubecl`), never the working directory.

use burn::module::Module;
use burn::prelude::Backend;
use burn::record::{BinBytesRecorder, FullPrecisionSettings, Recorder};

use crate::backend::{Cpu, CpuTrain};
use crate::data::Matrix;
use crate::error::{Result, VaeError};
use crate::infer::ScoreKind;
use crate::model::{Vae, VaeConfig};
use crate::onestep::{train_one_step, OneStepConfig, OneStepResult, Phase};
use crate::train::{train, EpochStats, TrainConfig, Trained};

/// What `--device` asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeviceRequest {
    /// CUDA device 0 when this binary has CUDA support and a GPU is usable, else the CPU.
    Auto,
    /// The CPU.
    Cpu,
    /// CUDA device N.
    Cuda(usize),
}

impl std::str::FromStr for DeviceRequest {
    type Err = String;
    fn from_str(s: &str) -> std::result::Result<Self, String> {
        match s {
            "auto" => Ok(Self::Auto),
            "cpu" => Ok(Self::Cpu),
            "cuda" | "gpu" => Ok(Self::Cuda(0)),
            _ => s
                .strip_prefix("cuda:")
                .and_then(|n| n.parse().ok())
                .map(Self::Cuda)
                .ok_or_else(|| {
                    format!("unknown device '{s}' (expected auto, cpu, cuda or cuda:N)")
                }),
        }
    }
}

/// A resolved device.
#[derive(Debug, Clone)]
pub enum Compute {
    /// The CPU backend.
    Cpu,
    /// A CUDA device (binaries built with `--features cuda`).
    #[cfg(feature = "cuda")]
    Cuda(crate::backend::GpuDevice),
}

impl Compute {
    /// A short name for messages.
    pub fn name(&self) -> String {
        match self {
            Compute::Cpu => "cpu".into(),
            #[cfg(feature = "cuda")]
            Compute::Cuda(d) => format!("cuda:{}", d.index),
        }
    }
}

/// True when this binary was built with CUDA support.
pub const HAS_CUDA: bool = cfg!(feature = "cuda");

/// What a run asks of the device, for `--device auto`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Workload {
    /// Training steps of this many multiply-adds each (forward and backward), or a conv
    /// network (`None`: image convolutions, always worth a GPU).
    Train {
        /// Multiply-adds per step, `None` for a conv network.
        macs_per_step: Option<f64>,
    },
    /// Scoring this many rows.
    Score {
        /// Rows scored.
        rows: usize,
    },
}

impl Workload {
    /// The training workload of a network at a batch size: about three times the weights'
    /// multiply-adds per row (forward, and the backward pass's two products).
    pub fn training(vae: &VaeConfig, batch_size: usize) -> Workload {
        let macs_per_step = match vae.arch {
            crate::model::Arch::Conv => None,
            crate::model::Arch::Mlp => {
                Some(3.0 * batch_size as f64 * vae.mlp_parameters().map_or(f64::MAX, |p| p as f64))
            }
        };
        Workload::Train { macs_per_step }
    }
}

/// Training steps smaller than this (multiply-adds) run faster on the CPU: a step of burn's
/// CUDA backend costs about 7 ms however small (measured on an H200: 136–145 steps/s for the
/// 784-500-500-2000-10 MLP at batch 256 and 1024 alike, launch-bound), which two CPU cores
/// spend on about 3·10⁸ multiply-adds. The digits model (64-256-128-10, batch 128, ~4·10⁷)
/// stays on the CPU; the VaDE-size MLP at batch 256 (~2.5·10⁹) goes to the GPU.
pub const GPU_MIN_MACS_PER_STEP: f64 = 3e8;

/// Scoring fewer rows than this runs faster on the CPU, the GPU's start and transfers
/// included (measured on an H200: 10.5M rows/s on the GPU against 0.68M on 16 CPU cores for
/// 1M rows of the default tabular model).
pub const GPU_MIN_SCORE_ROWS: usize = 500_000;

/// Whether `--device auto` sends this workload to the GPU in this build, and if not, why.
/// Only the default `cuda` flavour qualifies: the `cuda-autotune` and `cuda-fused` builds
/// never finished a first training step within 120 s on an H200 (benches/RESULTS.md, "GPU").
pub fn gpu_pays_off(w: Workload) -> std::result::Result<(), String> {
    if cfg!(feature = "cuda-autotune") {
        return Err(
            "this build's CUDA flavour (autotune) warms up for minutes; pass --device \
                    cuda to use it anyway"
                .into(),
        );
    }
    match w {
        Workload::Train {
            macs_per_step: Some(m),
        } if m < GPU_MIN_MACS_PER_STEP => Err(format!(
            "training steps of this model are small ({m:.1e} multiply-adds), which the CPU \
             runs faster; pass --device cuda to use the GPU anyway"
        )),
        Workload::Score { rows } if rows < GPU_MIN_SCORE_ROWS => Err(format!(
            "{rows} rows score faster on the CPU; pass --device cuda to use the GPU anyway"
        )),
        _ => Ok(()),
    }
}

/// Resolves a request for a workload: as [`resolve`], except that `auto` takes the GPU only
/// where [`gpu_pays_off`] says it is faster, and otherwise says why it stays on the CPU (in a
/// CUDA build).
pub fn resolve_for(req: DeviceRequest, w: Workload) -> Result<(Compute, Option<String>)> {
    match (req, gpu_pays_off(w)) {
        (DeviceRequest::Auto, Err(why)) => Ok((
            Compute::Cpu,
            HAS_CUDA.then(|| format!("--device auto: {why}")),
        )),
        _ => resolve(req),
    }
}

/// Resolves a request. Returns the device and, for `auto` falling back to the CPU in a CUDA
/// build, a one-line notice saying why.
pub fn resolve(req: DeviceRequest) -> Result<(Compute, Option<String>)> {
    match req {
        DeviceRequest::Cpu => Ok((Compute::Cpu, None)),
        #[cfg(not(feature = "cuda"))]
        DeviceRequest::Auto => Ok((Compute::Cpu, None)),
        #[cfg(not(feature = "cuda"))]
        DeviceRequest::Cuda(_) => Err(VaeError::Usage(
            "this vaetool was built without GPU support: rebuild it with `cargo build --release \
             --features cuda` (CUDA need not be installed to build; for CUDA 13 drivers set \
             CUDARC_CUDA_VERSION=13000 while building)"
                .into(),
        )),
        #[cfg(feature = "cuda")]
        DeviceRequest::Auto => match gpu::probe(0) {
            Ok(d) => Ok((Compute::Cuda(d), None)),
            Err(why) => Ok((
                Compute::Cpu,
                Some(format!("no usable CUDA GPU ({why}); running on the CPU")),
            )),
        },
        #[cfg(feature = "cuda")]
        DeviceRequest::Cuda(n) => gpu::probe(n)
            .map(|d| (Compute::Cuda(d), None))
            .map_err(|why| VaeError::Usage(format!("--device cuda:{n}: {why}"))),
    }
}

#[cfg(feature = "cuda")]
mod gpu {
    use burn::prelude::*;

    use crate::backend::{Gpu, GpuDevice};

    /// Points cubecl's caches at the user's cache directory (once per process), and, when
    /// `VAETOOL_KERNEL_LOG=FILE` is set, turns on cubecl's compilation logger (one
    /// `[Compiling kernel] NAME` line per kernel compiled, none for a kernel found in the cache)
    /// and its autotune logger, appending to FILE: how `benches/gpu_diag.sh` counts kernels;
    /// `VAETOOL_LAUNCH_LOG=FILE` logs every kernel launch (`Executing NAME`), for counting
    /// launches per training step.
    fn caches() {
        use cubecl_runtime::config::autotune::AutotuneLogLevel;
        use cubecl_runtime::config::compilation::CompilationLogLevel;
        use cubecl_runtime::config::profiling::ProfilingLogLevel;
        use cubecl_runtime::config::{cache::CacheConfig, CubeClRuntimeConfig, RuntimeConfig};
        static ONCE: std::sync::Once = std::sync::Once::new();
        ONCE.call_once(|| {
            let root = std::env::var_os("XDG_CACHE_HOME")
                .map(std::path::PathBuf::from)
                .or_else(|| {
                    std::env::var_os("HOME").map(|h| std::path::Path::new(&h).join(".cache"))
                })
                .map(|c| c.join("vaetool").join("cubecl"));
            // keep what users set in cubecl.toml / burn.toml and in CUBECL_* variables
            // (CUBECL_AUTOTUNE_LEVEL, CUBECL_DEBUG_LOG); only the cache locations change
            let mut cfg = CubeClRuntimeConfig::from_current_dir().override_from_env();
            if let Some(root) = root {
                cfg.autotune.cache = CacheConfig::File(root.join("autotune"));
                cfg.compilation.cache = Some(CacheConfig::File(root.join("compilation")));
            }
            if let Some(log) = std::env::var_os("VAETOOL_LAUNCH_LOG") {
                // one `Executing NAME` line per kernel launched (for counting launches a step)
                cfg.profiling.logger.level = ProfilingLogLevel::Minimal;
                cfg.profiling.logger.file = Some(log.into());
            }
            if let Some(log) = std::env::var_os("VAETOOL_KERNEL_LOG") {
                cfg.compilation.logger.level = CompilationLogLevel::Basic;
                cfg.compilation.logger.file = Some(log.clone().into());
                cfg.autotune.logger.level = AutotuneLogLevel::Minimal;
                cfg.autotune.logger.file = Some(log.into());
            }
            CubeClRuntimeConfig::set(cfg);
        });
    }

    /// Creates a tensor on CUDA device `n` and reads it back, catching the runtime's panics
    /// (no driver, no such device) and returning their message.
    pub fn probe(n: usize) -> Result<GpuDevice, String> {
        caches();
        let device = GpuDevice::new(n);
        let hook = std::panic::take_hook();
        std::panic::set_hook(Box::new(|_| {}));
        let r = std::panic::catch_unwind(|| {
            let t = Tensor::<Gpu, 1>::from_floats([1.0, 2.0], &device);
            t.sum().into_scalar().elem::<f32>()
        });
        std::panic::set_hook(hook);
        match r {
            Ok(3.0) => Ok(device),
            Ok(v) => Err(format!("the device computed 1 + 2 = {v}")),
            Err(e) => Err(e
                .downcast_ref::<String>()
                .cloned()
                .or_else(|| e.downcast_ref::<&str>().map(|s| s.to_string()))
                .unwrap_or_else(|| "the CUDA runtime failed to start".into())),
        }
    }
}

/// Copies a network to another backend (through the backend-independent binary record).
pub fn move_model<B1: Backend, B2: Backend>(
    model: &Vae<B1>,
    vae: &VaeConfig,
    device: &B2::Device,
) -> Result<Vae<B2>> {
    let rec = BinBytesRecorder::<FullPrecisionSettings>::default();
    let bytes = rec
        .record(model.clone().into_record(), ())
        .map_err(|e| VaeError::Training(format!("cannot copy the network: {e}")))?;
    let back = Recorder::<B2>::load(&rec, bytes, device)
        .map_err(|e| VaeError::Training(format!("cannot copy the network: {e}")))?;
    Ok(vae.init::<B2>(device).load_record(back))
}

#[cfg(feature = "cuda")]
fn to_cpu<B: Backend>(t: Trained<B>, vae: &VaeConfig) -> Result<Trained<Cpu>> {
    Ok(Trained {
        model: move_model::<B, Cpu>(&t.model, vae, &Default::default())?,
        history: t.history,
        best_epoch: t.best_epoch,
    })
}

/// [`train`] on the chosen device; the network comes back on the CPU backend.
pub fn train_on(
    compute: &Compute,
    x: &Matrix,
    vae: &VaeConfig,
    cfg: &TrainConfig,
    on_epoch: &mut dyn FnMut(&EpochStats),
) -> Result<Trained<Cpu>> {
    match compute {
        Compute::Cpu => train::<CpuTrain>(x, vae, cfg, &Default::default(), on_epoch),
        #[cfg(feature = "cuda")]
        Compute::Cuda(d) => to_cpu(
            train::<crate::backend::GpuTrain>(x, vae, cfg, d, on_epoch)?,
            vae,
        ),
    }
}

/// [`crate::refine::refine`] of a VAE of the CPU backend on the chosen device; the refined
/// network comes back on the CPU backend.
#[allow(clippy::too_many_arguments)]
#[cfg_attr(not(feature = "cuda"), allow(unused_variables))]
pub fn refine_on(
    compute: &Compute,
    model: &Vae<Cpu>,
    vae: &VaeConfig,
    x: &Matrix,
    labels: &[usize],
    k: usize,
    cfg: &crate::refine::RefineConfig,
    on_epoch: &mut dyn FnMut(&crate::refine::RefineEpoch),
) -> Result<crate::refine::Refined<Cpu>> {
    match compute {
        Compute::Cpu => crate::refine::refine::<CpuTrain>(
            model.clone(),
            x,
            labels,
            k,
            cfg,
            &Default::default(),
            on_epoch,
        ),
        #[cfg(feature = "cuda")]
        Compute::Cuda(d) => {
            let on_gpu = move_model::<Cpu, crate::backend::Gpu>(model, vae, d)?;
            let r = crate::refine::refine::<crate::backend::GpuTrain>(
                on_gpu, x, labels, k, cfg, d, on_epoch,
            )?;
            Ok(crate::refine::Refined {
                model: move_model::<_, Cpu>(&r.model, vae, &Default::default())?,
                centers: r.centers,
            })
        }
    }
}

/// [`train_one_step`] on the chosen device; the network comes back on the CPU backend.
pub fn train_one_step_on(
    compute: &Compute,
    x: &Matrix,
    vae: &VaeConfig,
    cfg: &TrainConfig,
    one: &OneStepConfig,
    on_epoch: &mut dyn FnMut(Phase, &EpochStats),
) -> Result<OneStepResult<Cpu>> {
    match compute {
        Compute::Cpu => train_one_step::<CpuTrain>(x, vae, cfg, one, &Default::default(), on_epoch),
        #[cfg(feature = "cuda")]
        Compute::Cuda(d) => {
            let r = train_one_step::<crate::backend::GpuTrain>(x, vae, cfg, one, d, on_epoch)?;
            Ok(OneStepResult {
                trained: to_cpu(r.trained, vae)?,
                restart_elbos: r.restart_elbos,
                kept: r.kept,
                labels: r.labels,
                probabilities: r.probabilities,
                warnings: r.warnings,
            })
        }
    }
}

/// Anomaly scores on the chosen device: the same draws for a seed on every device (see
/// [`crate::infer::posterior_noise`]).
pub fn score_on(
    compute: &Compute,
    model: &Vae<Cpu>,
    vae: &VaeConfig,
    x: &Matrix,
    kind: ScoreKind,
    samples: usize,
    seed: u64,
) -> Result<Vec<f64>> {
    match compute {
        Compute::Cpu => {
            let device = Default::default();
            Ok(crate::infer::score(
                model, vae, x, kind, samples, seed, &device,
            ))
        }
        #[cfg(feature = "cuda")]
        Compute::Cuda(d) => {
            use crate::backend::Gpu;
            let m = move_model::<Cpu, Gpu>(model, vae, d)?;
            Ok(crate::infer::score(&m, vae, x, kind, samples, seed, d))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::prelude::*;

    #[test]
    fn auto_sends_only_large_work_to_the_gpu() {
        // the parameter count is the network's own
        for vae in [
            VaeConfig::new(64, vec![256, 128], 10),
            VaeConfig::new(20, vec![128, 64], 5),
            VaeConfig::new(7, vec![], 2),
        ] {
            let m = vae.init::<Cpu>(&Default::default());
            assert_eq!(vae.mlp_parameters(), Some(m.num_params() as u64), "{vae:?}");
        }
        // digits at batch 128: 3·128·(64·256+256 + 256·128+128 + 2·(128·10+10) + …) ≈ 4e7
        let digits = Workload::training(&VaeConfig::new(64, vec![256, 128], 10), 128);
        assert!(gpu_pays_off(digits).is_err());
        let vade = Workload::training(&VaeConfig::new(784, vec![500, 500, 2000], 10), 256);
        let Workload::Train {
            macs_per_step: Some(m),
        } = vade
        else {
            panic!("{vade:?}")
        };
        assert!((2e9..3e9).contains(&m), "{m}");
        let conv = VaeConfig::new(784, vec![256], 10).with_arch(crate::model::Arch::Conv);
        let small = Workload::Score { rows: 150 };
        let large = Workload::Score { rows: 1_000_000 };
        if cfg!(feature = "cuda-autotune") {
            assert!(gpu_pays_off(vade).is_err());
        } else {
            assert_eq!(gpu_pays_off(vade), Ok(()));
            assert_eq!(gpu_pays_off(Workload::training(&conv, 64)), Ok(()));
            assert_eq!(gpu_pays_off(large), Ok(()));
        }
        assert!(gpu_pays_off(small).is_err());
        // on the CPU build auto is the CPU, silently
        if !HAS_CUDA {
            let (c, note) = resolve_for(DeviceRequest::Auto, large).unwrap();
            assert!(matches!(c, Compute::Cpu) && note.is_none());
        }
    }

    #[test]
    fn requests_parse() {
        assert_eq!("auto".parse(), Ok(DeviceRequest::Auto));
        assert_eq!("cpu".parse(), Ok(DeviceRequest::Cpu));
        assert_eq!("cuda".parse(), Ok(DeviceRequest::Cuda(0)));
        assert_eq!("cuda:3".parse(), Ok(DeviceRequest::Cuda(3)));
        assert_eq!(
            "tpu".parse::<DeviceRequest>(),
            Err("unknown device 'tpu' (expected auto, cpu, cuda or cuda:N)".to_string())
        );
    }

    #[cfg(not(feature = "cuda"))]
    #[test]
    fn cuda_without_the_feature_says_how_to_build() {
        let e = resolve(DeviceRequest::Cuda(0)).unwrap_err();
        assert!(e.is_user_error());
        assert!(e.to_string().contains("--features cuda"), "{e}");
        assert!(matches!(
            resolve(DeviceRequest::Auto),
            Ok((Compute::Cpu, None))
        ));
    }

    #[test]
    fn moved_models_compute_the_same() {
        let vae = VaeConfig::new(5, vec![8], 2);
        let dev = Default::default();
        let m = vae.init::<Cpu>(&dev);
        let x = Tensor::<Cpu, 2>::ones([3, 5], &dev);
        // burn initializes parameters lazily, at their first use: a clone of a never-used
        // module would draw its own weights. Trained models are always materialized.
        let a: Vec<f32> = m.encode(x.clone()).0.into_data().to_vec().unwrap();
        let copy = move_model::<Cpu, Cpu>(&m, &vae, &dev).unwrap();
        let b: Vec<f32> = copy.encode(x).0.into_data().to_vec().unwrap();
        assert_eq!(a, b);
    }
}
