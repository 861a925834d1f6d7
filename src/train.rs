//! The training loop: Adam with gradient-norm clipping, seeded shuffling, KL weight (β and
//! warm-up), an optional validation split with early stopping (best weights restored), and a
//! NaN guard. No host sync per step: epoch losses are accumulated on the device and read once
//! per epoch. On the CPU a step of 64 rows or more runs as two halves on two threads, their
//! gradients summed by the optimizer ([`split_batches`]); host batches are made a couple of steps ahead on a
//! thread of their own.

use burn::module::{AutodiffModule, ModuleMapper, Param};
use burn::optim::{AdamConfig, GradientsParams, Optimizer};
use burn::prelude::*;
use burn::tensor::backend::AutodiffBackend;
use rand::seq::SliceRandom;
use rand::SeedableRng;
use rand_xoshiro::Xoshiro256PlusPlus;
use serde::{Deserialize, Serialize};

use crate::augment::Augment;
use crate::data::Matrix;
use crate::error::{Result, VaeError};
use crate::model::loss::{capacity_objective, discriminator_loss};
use crate::model::{
    permute_dims, Discriminator, Likelihood, Objective, Prior, Vae, VaeConfig, Variant,
};
use crate::optim::{host_backend, ModelAdam};

/// The most epochs a run may ask for.
pub const MAX_EPOCHS: usize = 1_000_000;
/// The largest batch.
pub const MAX_BATCH: usize = 1 << 20;

/// Training hyper-parameters; saved in `config.json`.
#[derive(Config, Debug)]
pub struct TrainConfig {
    /// Adam learning rate.
    #[config(default = 1e-3)]
    pub lr: f64,
    /// Number of passes over the training rows.
    pub epochs: usize,
    /// Rows per gradient step.
    pub batch_size: usize,
    /// Seed for weights, shuffling and noise.
    #[config(default = 42)]
    pub seed: u64,
    /// Fraction of rows held out for validation and early stopping (0 = none).
    #[config(default = 0.0)]
    pub val_fraction: f64,
    /// Epochs without validation improvement before stopping.
    #[config(default = 20)]
    pub patience: usize,
    /// Weight of the KL term (β-VAE, Higgins et al. 2017).
    #[config(default = 1.0)]
    pub beta: f64,
    /// Epochs over which the KL weight rises linearly from 0 to β.
    #[config(default = 0)]
    pub kl_warmup: usize,
    /// Maximum gradient L2 norm.
    #[config(default = 10.0)]
    pub grad_clip: f64,
    /// Capacity C_max of the β-VAE capacity objective recon + γ·|KL − C| (Burgess et al.
    /// 2018); 0 disables it.
    #[config(default = 0.0)]
    pub capacity: f64,
    /// Epochs over which C rises linearly from 0 to C_max (0: all epochs).
    #[config(default = 0)]
    pub capacity_epochs: usize,
    /// γ of the capacity objective.
    #[config(default = 100.0)]
    pub gamma: f64,
    /// FactorVAE's weight γ of the total-correlation term.
    #[config(default = 10.0)]
    pub tc_gamma: f64,
    /// Learning rate of FactorVAE's discriminator (its own Adam, β₁ = 0.5, β₂ = 0.9).
    #[config(default = 1e-4)]
    pub disc_lr: f64,
    /// Fraction of each batch's rows with the highest loss left out of the gradient (a trimmed
    /// ELBO, as in least-trimmed-squares): rows that fit worst — outliers in data that contains
    /// them — do not pull the model towards themselves. 0 = every row counts.
    #[config(default = 0.0)]
    pub trim: f64,
    /// Adam's ε. PyTorch's default 1e-8, not burn's 1e-5: with small gradients late in
    /// training burn's larger ε damps Adam's steps noticeably.
    #[config(default = 1e-8)]
    pub adam_epsilon: f64,
    /// Image models: the largest random shift of a training image, a fraction of its width
    /// and height (0: none; see [`crate::augment`]).
    #[config(default = 0.0)]
    pub augment_shift: f64,
    /// Image models: the largest random rotation of a training image, in degrees (0: none).
    #[config(default = 0.0)]
    pub augment_degrees: f64,
}

/// Rows per step that suit `n_rows`: about a tenth of the data, a power of two in [16, 256].
pub fn default_batch_size(n_rows: usize) -> usize {
    let target = (n_rows / 10).max(1);
    let p = usize::BITS - 1 - target.leading_zeros();
    (1usize << p).clamp(16, 256)
}

/// Epochs that give about 8,000 gradient steps, between 20 and 1,000. (A budget of two steps
/// a row, 2,000 to 8,000, was measured on the 16-table clustering benchmark: mean ACC 0.7435
/// → 0.7379, not adopted; benches/RESULTS.md.)
pub fn default_epochs(n_rows: usize, batch_size: usize) -> usize {
    epochs_for_steps(8000, n_rows, batch_size)
}

/// Epochs that give about `steps` gradient steps, between 20 and 1,000.
pub fn epochs_for_steps(steps: usize, n_rows: usize, batch_size: usize) -> usize {
    let per_epoch = n_rows.div_ceil(batch_size).max(1);
    steps.div_ceil(per_epoch).clamp(20, 1000)
}

/// Default schedule of the one-step clustering VAEs: (pretraining, training) epochs of about
/// 6,000 and 3,000 steps. Measured on digits (VaDE, `--scale none`): longer pretraining
/// improves the initial GMM; long mixture training lets clusters drift and merge.
pub fn default_one_step_epochs(n_rows: usize, batch_size: usize) -> (usize, usize) {
    (
        epochs_for_steps(6000, n_rows, batch_size),
        epochs_for_steps(3000, n_rows, batch_size),
    )
}

impl TrainConfig {
    /// Checks every value once, before any work (typed error naming the flag).
    pub fn check(&self) -> Result<()> {
        let bad = |m: String| Err(VaeError::Usage(m));
        if !(self.lr > 0.0 && self.lr.is_finite()) {
            return bad(format!("--lr must be a positive number, got {}", self.lr));
        }
        if !(1..=MAX_EPOCHS).contains(&self.epochs) {
            return bad(format!(
                "--epochs must be from 1 to {MAX_EPOCHS}, got {}",
                self.epochs
            ));
        }
        if !(1..=MAX_BATCH).contains(&self.batch_size) {
            return bad(format!(
                "--batch-size must be from 1 to {MAX_BATCH}, got {}",
                self.batch_size
            ));
        }
        if !(0.0..1.0).contains(&self.val_fraction) {
            return bad(format!(
                "--val-fraction must be in [0, 1), got {}",
                self.val_fraction
            ));
        }
        if !(self.beta >= 0.0 && self.beta.is_finite()) {
            return bad(format!("--beta must be ≥ 0, got {}", self.beta));
        }
        if self.grad_clip.is_nan() || self.grad_clip <= 0.0 {
            return bad(format!("--grad-clip must be > 0, got {}", self.grad_clip));
        }
        if self.capacity.is_nan() || self.capacity < 0.0 {
            return bad(format!("--capacity must be ≥ 0, got {}", self.capacity));
        }
        if self.gamma.is_nan() || self.gamma <= 0.0 {
            return bad(format!("--gamma must be > 0, got {}", self.gamma));
        }
        if self.tc_gamma.is_nan() || self.tc_gamma < 0.0 {
            return bad(format!("--tc-gamma must be ≥ 0, got {}", self.tc_gamma));
        }
        if !(0.0..0.5).contains(&self.trim) {
            return bad(format!("--trim must be in [0, 0.5), got {}", self.trim));
        }
        if self.trim > 0.0 && self.capacity > 0.0 {
            return bad("--trim trims the ELBO; it does not combine with --capacity".into());
        }
        if self.disc_lr.is_nan() || self.disc_lr <= 0.0 {
            return bad(format!("--disc-lr must be > 0, got {}", self.disc_lr));
        }
        self.augment().check()
    }

    /// The augmentation of training images these settings ask for.
    pub fn augment(&self) -> Augment {
        Augment {
            shift: self.augment_shift,
            degrees: self.augment_degrees,
        }
    }
}

/// Checks that the network's variant, prior and likelihood fit together and with the
/// training settings.
pub fn check_variant(vae: &VaeConfig, cfg: &TrainConfig) -> Result<()> {
    let bad = |m: &str| Err(VaeError::Usage(m.into()));
    if vae.variant != Variant::Standard && vae.prior != Prior::Standard {
        return bad("--method vade and su train a plain VAE (--variant vae); poor-man and factor are not available with them");
    }
    if vae.variant == Variant::PoorMan {
        if vae.likelihood != Likelihood::Gaussian {
            return bad(
                "--variant poor-man reconstructs with the squared error: use --likelihood gaussian",
            );
        }
        if cfg.capacity > 0.0 {
            return bad("--capacity needs a KL term, and the poor man's VAE has none");
        }
    }
    Ok(())
}

/// One row of `history.csv`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct EpochStats {
    /// 1-based epoch.
    pub epoch: usize,
    /// Mean training loss (reconstruction + weighted KL) per row.
    pub train_loss: f64,
    /// Mean reconstruction negative log-likelihood per row.
    pub recon: f64,
    /// Mean KL per row.
    pub kl: f64,
    /// Mean validation negative ELBO per row, when a validation split exists.
    pub val_loss: Option<f64>,
    /// FactorVAE's total-correlation estimate E[log D(z) − log(1 − D(z))].
    pub tc: Option<f64>,
    /// Seconds since training began.
    pub seconds: f64,
}

/// What training returns: the model on the inner (non-autodiff) backend and the history.
#[derive(Debug)]
pub struct Trained<B: Backend> {
    /// The trained network (the best-validation weights when early stopping was on).
    pub model: Vae<B>,
    /// One entry per epoch run.
    pub history: Vec<EpochStats>,
    /// The epoch whose weights were kept.
    pub best_epoch: usize,
}

/// Checks the data against the network: input width, and inputs in [0, 1] for a Bernoulli
/// likelihood.
pub fn check_inputs(x: &Matrix, vae: &VaeConfig) -> Result<()> {
    if vae.arch == crate::model::Arch::Conv {
        let shape = vae.image.ok_or_else(|| {
            VaeError::Usage(
                "--arch conv needs images: IDX files, a folder of PNG/JPEG files, or a CSV of \
                 pixels with --image-shape"
                    .into(),
            )
        })?;
        crate::model::conv::check_shape(&shape)?;
        if shape.len() != vae.input_dim {
            return Err(VaeError::Usage(format!(
                "{shape} images have {} pixels but the model has {} inputs",
                shape.len(),
                vae.input_dim
            )));
        }
    }
    if x.cols != vae.input_dim {
        return Err(VaeError::Usage(format!(
            "the data has {} inputs but the model expects {}",
            x.cols, vae.input_dim
        )));
    }
    if vae.likelihood == Likelihood::Bernoulli && x.data.iter().any(|v| !(0.0..=1.0).contains(v)) {
        return Err(VaeError::Usage(
            "--likelihood bernoulli needs every input in [0, 1]; use --scale minmax".into(),
        ));
    }
    Ok(())
}

/// Whether training keeps the whole matrix on the device and gathers batches there (one
/// upload per run and one index upload per epoch) rather than uploading each batch: yes on a
/// GPU (burn's cubecl backends) for up to 1 GiB of data, no on the CPU, where a batch upload
/// is a memory copy anyway and the gather measured slower (tabular model: 89–103k against
/// 110–111k samples/s; `benches/RESULTS.md`). `VAETOOL_DATA_ON_DEVICE=0|1` overrides it (for
/// measuring the lever); the batches, and so the results, are the same either way.
pub fn data_on_device<B: Backend>(x: &Matrix, device: &B::Device) -> bool {
    match std::env::var("VAETOOL_DATA_ON_DEVICE").as_deref() {
        Ok("0") => false,
        Ok("1") => true,
        _ => {
            B::name(device).contains("cubecl")
                && x.data.len() * std::mem::size_of::<f32>() <= 1 << 30
        }
    }
}

/// Mean of the per-row losses without the `trim` fraction of highest ones (at least one row
/// kept; rows tied with the cut are all kept). The cut is taken on detached values, so the
/// gradient flows only through the rows kept. `[1]`
pub fn trimmed_mean<B: Backend>(per_row: Tensor<B, 1>, trim: f64) -> Tensor<B, 1> {
    trimmed_mean_of(per_row, trim, None)
}

/// [`trimmed_mean`] over the real rows of a padded batch: `pad` is `(mask, real)`, the mask
/// `[batch]` 1 on the first `real` rows and 0 on the padding, which sorts last and never
/// counts. `[1]`
fn trimmed_mean_of<B: Backend>(
    per_row: Tensor<B, 1>,
    trim: f64,
    pad: Option<(&Tensor<B, 1>, usize)>,
) -> Tensor<B, 1> {
    let size = per_row.dims()[0];
    let n = pad.map_or(size, |(_, real)| real);
    let keep = ((n as f64) * (1.0 - trim)).ceil().clamp(1.0, n as f64) as usize;
    let mut values = per_row.clone().detach(); // [batch]
    if let Some((mask, _)) = pad {
        values = values.mask_fill(mask.clone().lower_elem(0.5), f32::MAX);
    }
    let sorted = values.sort(0); // [batch], ascending, padding last
    let cut = sorted.slice(keep - 1..keep).expand([size]); // [batch]
    let mut keep_mask = per_row.clone().detach().lower_equal(cut).float(); // [batch]
    if let Some((mask, _)) = pad {
        keep_mask = keep_mask * mask.clone();
    }
    (per_row * keep_mask.clone()).sum() / keep_mask.sum()
}

/// Mean of per-row values over the real rows of a batch that may be padded (`pad` as in
/// [`trimmed_mean_of`]). `[1]`
fn batch_mean<B: Backend>(v: Tensor<B, 1>, pad: Option<(&Tensor<B, 1>, usize)>) -> Tensor<B, 1> {
    match pad {
        None => v.mean(),
        Some((mask, real)) => (v * mask.clone()).sum() / real as f64,
    }
}

/// The loss of one batch: the mean over its real rows of recon + w·KL (trimmed when `trim` >
/// 0), or the capacity objective when `capacity` is given as (C, γ). A batch padded to the
/// fixed batch size (`pad`, see [`pad_batches`]) has the loss of the same rows unpadded. `[1]`
pub fn batch_loss<B: Backend>(
    recon: Tensor<B, 1>,
    kl: Tensor<B, 1>,
    kl_weight: f64,
    trim: f64,
    capacity: Option<(f64, f64)>,
    pad: Option<(&Tensor<B, 1>, usize)>,
) -> Tensor<B, 1> {
    if let Some((c, gamma)) = capacity {
        return capacity_objective(batch_mean(recon, pad), batch_mean(kl, pad), c, gamma);
    }
    let per_row = recon + kl * kl_weight; // [batch]
    if trim > 0.0 {
        trimmed_mean_of(per_row, trim, pad)
    } else {
        batch_mean(per_row, pad)
    }
}

/// Whether training pads a partial last batch to the full batch size (rows repeated from the
/// batch itself, masked out of every loss and statistic) so that every step has the same
/// shapes: yes on a GPU, where each new shape means new kernels to compile and tune, no on the
/// CPU, where it would only add work. Padding rather than dropping the partial batch keeps
/// every row in every epoch, as on the CPU, and works when the data has fewer rows than one
/// batch. `VAETOOL_PAD_BATCHES=0|1` overrides it (for tests and measurements).
pub fn pad_batches<B: Backend>(device: &B::Device) -> bool {
    match std::env::var("VAETOOL_PAD_BATCHES").as_deref() {
        Ok("0") => false,
        Ok("1") => true,
        _ => B::name(device).contains("cubecl") || B::name(device).contains("fusion"),
    }
}

/// The fewest rows of a step that [`split_batches`] splits (two halves of at least 32).
pub const SPLIT_MIN_ROWS: usize = 64;
/// The least work of a step that [`split_batches`] splits: rows × parameters (about the
/// multiply-adds of one pass). Measured on 2 cores (`vaetool train`, the same epochs with and
/// without the split; benches/RESULTS.md): a step of 128 rows of the 8×8 digits' network
/// (about 4 M) and of 64 rows of pima's (about 0.1 M) took longer split — the hand-over and
/// the second graph cost more than half the products — while spam's 256 rows (about 25 M),
/// dna's (about 40 M) and 64 rows of the 28×28 image network (about 69 M) took 0.70–0.85 of
/// the time.
pub const SPLIT_MIN_WORK: usize = 1 << 24;

/// Whether a step of at least [`SPLIT_MIN_ROWS`] rows and [`SPLIT_MIN_WORK`] is computed as
/// two halves, each on its own thread with its own copy of the weights, and their gradients
/// summed: yes on the CPU (whose matrix products gain little from threads at these sizes, the
/// rest of a step not at all), no on a GPU. The split is the same whatever the number of
/// threads (one thread runs the halves one after the other), so a seed gives the same results
/// on any CPU count. `VAETOOL_SPLIT_BATCHES=0|1` overrides it (for tests and measurements;
/// `1` splits every step of at least [`SPLIT_MIN_ROWS`] rows, whatever its work).
pub fn split_batches<B: Backend>(device: &B::Device) -> Option<usize> {
    match std::env::var("VAETOOL_SPLIT_BATCHES").as_deref() {
        Ok("0") => None,
        Ok("1") => Some(0),
        _ => host_backend::<B>(device).then_some(SPLIT_MIN_WORK),
    }
}

/// The number of float parameters of `module`, read without initializing lazy ones: burn draws
/// a lazy parameter's random weights when it is first read, so reading them here (as
/// `Module::num_params` does) would change the order, and so the values, of the run's draws.
fn param_count<B: Backend, M: Module<B>>(module: &M) -> usize {
    struct Count(usize);
    impl<B: Backend> burn::module::ModuleVisitor<B> for Count {
        fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<B, D>>) {
            self.0 += param.lazy_shape().num_elements();
        }
    }
    let mut count = Count(0);
    module.visit(&mut count);
    count.0
}

/// What [`split_step`] returns: the two halves' gradients, the batch's summed reconstruction
/// and regularizer terms (`[1]` each).
pub type SplitStep<B> = (
    (GradientsParams, GradientsParams),
    Tensor<<B as AutodiffBackend>::InnerBackend, 1>,
    Tensor<<B as AutodiffBackend>::InnerBackend, 1>,
);

/// One step's gradients from the two halves of the batch `data` (rows of `cols` values), each
/// on its own thread with its own copy of `model`'s weights (its own autodiff graph). `eps`
/// is the whole batch's posterior noise (`[batch, latent]`, for the ELBO), drawn before the
/// split so that the draws do not depend on the threads; each half's loss is its rows' sum
/// over the batch's row count, so the summed gradients are those of the batch's mean. Returns
/// the two halves' gradients (the optimizer sums them: [`ModelAdam::step`]) and the batch's
/// summed reconstruction and regularizer terms. `[1]` ×2
#[allow(clippy::too_many_arguments)]
pub fn split_step<B: AutodiffBackend>(
    model: &Vae<B>,
    data: &[f32],
    cols: usize,
    eps: Option<Tensor<B::InnerBackend, 2>>,
    vae: &VaeConfig,
    objective: Objective,
    kl_weight: f64,
    device: &B::Device,
) -> SplitStep<B> {
    let n = data.len() / cols;
    let weights = model.valid();
    let half = |from: usize, to: usize| {
        let m: Vae<B> = trainable(Vae::from_inner(weights.clone()));
        let xb = Tensor::<B, 2>::from_data(
            TensorData::new(data[from * cols..to * cols].to_vec(), [to - from, cols]),
            device,
        ); // [half, input]
        let e = eps
            .as_ref()
            .map(|e| Tensor::<B, 2>::from_inner(e.clone().slice(from..to))); // [half, latent]
        let (recon, reg) = m.loss_terms_with_noise(xb, e, vae.likelihood, vae.prior, objective); // [half] ×2
        let sums = (recon.clone().sum().inner(), reg.clone().sum().inner());
        let loss = (recon + reg * kl_weight).sum() / n as f64; // [1]
        (GradientsParams::from_grads(loss.backward(), &m), sums)
    };
    let mid = n / 2;
    let threshold = gemm_common::gemm::get_threading_threshold();
    gemm_common::gemm::set_threading_threshold(usize::MAX);
    let ((g1, (r1, k1)), (g2, (r2, k2))) = rayon::join(|| half(0, mid), || half(mid, n));
    gemm_common::gemm::set_threading_threshold(threshold);
    ((g1, g2), r1 + r2, k1 + k2)
}

/// Steps between waits for the device to finish its queued work (`VAETOOL_SYNC_EVERY`,
/// default 0: only the once-per-epoch read of the losses).
pub fn sync_every() -> usize {
    std::env::var("VAETOOL_SYNC_EVERY")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

/// Mean negative ELBO (one posterior sample) over `idx`, on the inner backend.
fn evaluate<B: Backend>(
    model: &Vae<B>,
    vae: &VaeConfig,
    objective: Objective,
    x: &Matrix,
    idx: &[usize],
    device: &B::Device,
) -> f64 {
    let mut total = 0.0;
    for chunk in idx.chunks(4096) {
        let xb = Tensor::<B, 2>::from_data(
            TensorData::new(x.gather_rows(chunk), [chunk.len(), x.cols]),
            device,
        );
        let (recon, reg) = model.loss_terms(xb, vae.likelihood, vae.prior, objective);
        total += (recon + reg).sum().into_scalar().elem::<f64>();
    }
    total / idx.len() as f64
}

/// The rows `idx` of `x` as one batch buffer, each image (of the given shape) moved at random
/// as `moves` says when it is given.
fn augmented(
    x: &Matrix,
    idx: &[usize],
    moves: Option<(crate::data::ImageShape, Augment)>,
    rng: &mut Xoshiro256PlusPlus,
) -> Vec<f32> {
    let mut rows = x.gather_rows(idx);
    if let Some((shape, augment)) = moves {
        augment.apply(&mut rows, shape, rng);
    }
    rows
}

/// Runs `body` with the host batches of one epoch, `rows` (row indices of `x`, one list per
/// step), gathered (and moved, when `moves` gives the images' shape and moves) on a second
/// thread a couple of steps ahead of the training that reads them: on the CPU the gather and
/// the warp of the images then overlap the matrix products instead of sitting between them.
/// The batches and the random draws are those of gathering in the loop, in the same order,
/// so the results are the same bit for bit. If `body` stops early the producer stops at its
/// next batch. (Used by the VAE's training and by DEC's refinement, [`crate::refine`].)
pub(crate) fn with_host_batches<R>(
    x: &Matrix,
    rows: &[Vec<usize>],
    moves: Option<(crate::data::ImageShape, Augment)>,
    rng: &mut Xoshiro256PlusPlus,
    body: impl FnOnce(&mut dyn Iterator<Item = Vec<f32>>) -> R,
) -> R {
    std::thread::scope(|s| {
        let (tx, rx) = std::sync::mpsc::sync_channel::<Vec<f32>>(2);
        s.spawn(move || {
            for idx in rows {
                if tx.send(augmented(x, idx, moves, rng)).is_err() {
                    break;
                }
            }
        });
        body(&mut rx.into_iter())
    })
}

/// Trains a VAE on the rows of `x`, calling `on_epoch` after every epoch.
///
/// The run is reproducible bit for bit on the CPU for a given seed (in a process that runs
/// one training at a time: burn's CPU RNG is process-global).
pub fn train<B: AutodiffBackend>(
    x: &Matrix,
    vae: &VaeConfig,
    cfg: &TrainConfig,
    device: &B::Device,
    on_epoch: &mut dyn FnMut(&EpochStats),
) -> Result<Trained<B::InnerBackend>> {
    train_from::<B>(x, vae, cfg, device, None, Objective::Elbo, on_epoch)
}

/// Marks every float parameter of `module` as trained. burn keeps a parameter's "needs a
/// gradient" flag through `valid`/`from_inner`, but a parameter made on the plain backend (the
/// mixture `Vae::set_mixture` puts into a pretrained model, weights loaded from a model
/// directory) carries `false`: without this, training from such a model leaves it where it
/// was.
pub fn trainable<B: AutodiffBackend, M: Module<B>>(module: M) -> M {
    struct RequireGrad;
    impl<B: Backend> ModuleMapper<B> for RequireGrad {
        fn map_float<const D: usize>(&mut self, param: Param<Tensor<B, D>>) -> Param<Tensor<B, D>> {
            let (id, tensor, mapper) = param.consume();
            Param::from_mapped_value(id, tensor.require_grad(), mapper)
        }
    }
    module.map(&mut RequireGrad)
}

/// [`train`] from given starting weights (fresh ones when `init` is `None`) and for a given
/// objective: the building block of pretraining followed by training.
pub fn train_from<B: AutodiffBackend>(
    x: &Matrix,
    vae: &VaeConfig,
    cfg: &TrainConfig,
    device: &B::Device,
    init: Option<Vae<B::InnerBackend>>,
    objective: Objective,
    on_epoch: &mut dyn FnMut(&EpochStats),
) -> Result<Trained<B::InnerBackend>> {
    cfg.check()?;
    vae.check()?;
    check_variant(vae, cfg)?;
    check_inputs(x, vae)?;
    B::seed(device, cfg.seed);
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(cfg.seed);
    let mut order: Vec<usize> = (0..x.rows).collect();
    let n_val = ((x.rows as f64) * cfg.val_fraction).round() as usize;
    let val_idx: Vec<usize> = if n_val > 0 {
        order.shuffle(&mut rng);
        order.split_off(x.rows - n_val)
    } else {
        Vec::new()
    };
    if order.is_empty() {
        return Err(VaeError::Usage(
            "no training rows left after the validation split".into(),
        ));
    }
    let mut model: Vae<B> = match init {
        Some(m) => trainable(Vae::from_inner(m)),
        None => vae.init(device),
    };
    // Adam with the per-tensor norm clipping of burn's `with_grad_clipping`; on the CPU its
    // update runs in two threaded passes per parameter on the host (crate::optim).
    let mut optim = ModelAdam::<B, Vae<B>>::new(
        cfg.adam_epsilon as f32,
        cfg.grad_clip as f32,
        host_backend::<B>(device),
    );
    let factor = vae.variant == Variant::Factor && objective == Objective::Elbo;
    let mut disc = factor.then(|| {
        (
            Discriminator::<B>::new(vae.latent, 128, device),
            AdamConfig::new()
                .with_beta_1(0.5)
                .with_beta_2(0.9)
                .with_epsilon(cfg.adam_epsilon as f32)
                .init::<B, Discriminator<B>>(),
        )
    });
    let capacity_epochs = if cfg.capacity_epochs == 0 {
        cfg.epochs
    } else {
        cfg.capacity_epochs
    };
    // Training images moved at random, batch by batch, on the host (its own seeded stream,
    // so that the shuffling is the same with and without).
    let moves = vae
        .image
        .filter(|_| cfg.augment().is_active())
        .map(|shape| (shape, cfg.augment()));
    let mut augment_rng = Xoshiro256PlusPlus::seed_from_u64(cfg.seed ^ 0x0061_7567_6d65_6e74);
    // The whole training matrix on the device, batches gathered there by index: one upload
    // instead of one per step (see [`data_on_device`]).
    let resident = (moves.is_none() && data_on_device::<B>(x, device)).then(|| {
        Tensor::<B, 2>::from_data(TensorData::new(x.data.clone(), [x.rows, x.cols]), device)
    }); // [rows, input]
    let sync_every = sync_every();
    // Steps split across two threads: the CPU's host path, for the losses that are a mean of
    // per-row terms (not the trimmed mean, the capacity objective, FactorVAE or the poor man's
    // VAE, whose noise is drawn inside the model). `split` holds the least work (rows ×
    // parameters) of a step that is split.
    let n_params = param_count(&model);
    let split = split_batches::<B>(device).filter(|_| {
        resident.is_none()
            && disc.is_none()
            && cfg.trim == 0.0
            && !(cfg.capacity > 0.0 && objective == Objective::Elbo)
            && vae.variant == Variant::Standard
    });
    // A partial last batch (the same size every epoch) padded to the batch size: its mask
    // [batch] is 1 on the real rows, 0 on the padding.
    let tail = order.len() % cfg.batch_size;
    let pad_mask = (pad_batches::<B>(device) && tail > 0).then(|| {
        let m: Vec<f32> = (0..cfg.batch_size)
            .map(|i| if i < tail { 1.0 } else { 0.0 })
            .collect();
        Tensor::<B, 1>::from_data(TensorData::new(m, [cfg.batch_size]), device)
    }); // [batch]
    let start = std::time::Instant::now();
    let mut history = Vec::new();
    let mut best: Option<(f64, usize, Vae<B::InnerBackend>)> = None;
    let n_train = order.len() as f64;
    for epoch in 1..=cfg.epochs {
        let kl_weight = if cfg.kl_warmup > 0 {
            cfg.beta * ((epoch as f64) / (cfg.kl_warmup as f64)).min(1.0)
        } else {
            cfg.beta
        };
        order.shuffle(&mut rng);
        let mut sum_recon = Tensor::<B::InnerBackend, 1>::zeros([1], device);
        let mut sum_kl = Tensor::<B::InnerBackend, 1>::zeros([1], device);
        let mut sum_tc = Tensor::<B::InnerBackend, 1>::zeros([1], device);
        let mut n_batches = 0usize;
        let capacity = cfg.capacity * (epoch as f64 / capacity_epochs as f64).min(1.0);
        // this epoch's order, uploaded once when the data lives on the device
        let perm = resident.as_ref().map(|_| {
            let idx: Vec<i32> = order.iter().map(|&i| i as i32).collect();
            Tensor::<B, 1, Int>::from_data(TensorData::new(idx, [order.len()]), device)
        }); // [train rows]
            // the rows of each step: the epoch's order in batches, a partial last batch padded
            // (when `pad_mask` asks) with rows of the batch again up to the size
        let steps: Vec<Vec<usize>> = order
            .chunks(cfg.batch_size)
            .map(|batch| match &pad_mask {
                Some(_) if batch.len() < cfg.batch_size => {
                    batch.iter().cycle().take(cfg.batch_size).copied().collect()
                }
                _ => batch.to_vec(),
            })
            .collect();
        let host_steps: &[Vec<usize>] = if resident.is_some() { &[] } else { &steps };
        // (the closure takes the model and the sums and hands them back)
        let (trained, sum_recon, sum_kl, sum_tc) =
            with_host_batches(x, host_steps, moves, &mut augment_rng, |host| {
                for (b, (batch, rows)) in order.chunks(cfg.batch_size).zip(&steps).enumerate() {
                    // a padded batch: its mask and its number of real rows
                    let pad = pad_mask
                        .as_ref()
                        .filter(|_| batch.len() < cfg.batch_size)
                        .map(|m| (m, batch.len()));
                    let split_now = split.is_some_and(|work| {
                        pad.is_none()
                            && rows.len() >= SPLIT_MIN_ROWS
                            && rows.len() * n_params >= work
                    });
                    let (grads, more, z) = if split_now {
                        // two halves of the batch on two threads (see [`split_batches`])
                        let data = host.next().expect("a host batch for every step");
                        // the whole batch's posterior noise, drawn before the split
                        let eps = (objective == Objective::Elbo).then(|| {
                            Tensor::<B::InnerBackend, 2>::random(
                                [rows.len(), vae.latent],
                                burn::tensor::Distribution::Normal(0.0, 1.0),
                                device,
                            )
                        }); // [batch, latent]
                        let ((grads, more), sr, sk) = split_step(
                            &model, &data, x.cols, eps, vae, objective, kl_weight, device,
                        );
                        sum_recon = sum_recon + sr;
                        sum_kl = sum_kl + sk;
                        (grads, Some(more), None)
                    } else {
                        let xb = match (&resident, &perm) {
                            (Some(all), Some(perm)) if pad.is_none() => {
                                let from = b * cfg.batch_size;
                                let idx = perm.clone().slice(from..from + batch.len());
                                all.clone().select(0, idx)
                            }
                            (Some(all), _) => {
                                let idx: Vec<i32> = rows.iter().map(|&i| i as i32).collect();
                                all.clone().select(
                                    0,
                                    Tensor::<B, 1, Int>::from_data(
                                        TensorData::new(idx, [rows.len()]),
                                        device,
                                    ),
                                )
                            }
                            (None, _) => Tensor::<B, 2>::from_data(
                                TensorData::new(
                                    host.next().expect("a host batch for every step"),
                                    [rows.len(), x.cols],
                                ),
                                device,
                            ),
                        }; // [batch, input]
                        let (recon, kl, z) = model.loss_terms_z(
                            xb,
                            vae.likelihood,
                            vae.prior,
                            vae.variant,
                            objective,
                        ); // [batch] ×2
                        let (sr, sk) = match pad {
                            Some((m, _)) => (
                                (recon.clone().inner() * m.clone().inner()).sum(),
                                (kl.clone().inner() * m.clone().inner()).sum(),
                            ),
                            None => (recon.clone().sum().inner(), kl.clone().sum().inner()),
                        };
                        sum_recon = sum_recon + sr;
                        sum_kl = sum_kl + sk;
                        let capacity = (cfg.capacity > 0.0 && objective == Objective::Elbo)
                            .then_some((capacity, cfg.gamma));
                        let mut loss = batch_loss(recon, kl, kl_weight, cfg.trim, capacity, pad);
                        if let (Some(z), Some((d, _))) = (&z, &disc) {
                            // TC ≈ E[log D(z) − log(1 − D(z))] = E[logit D(z)]
                            let tc = batch_mean(d.forward(z.clone()), pad);
                            sum_tc = sum_tc + tc.clone().inner();
                            loss = loss + tc * cfg.tc_gamma;
                        }
                        let grads = GradientsParams::from_grads(loss.backward(), &model);
                        (grads, None, z)
                    };
                    model = optim.step(cfg.lr, model, grads, more);
                    n_batches += 1;
                    if sync_every > 0 && n_batches.is_multiple_of(sync_every) {
                        B::sync(device)
                            .map_err(|e| VaeError::Training(format!("device error: {e:?}")))?;
                    }
                    if let (Some(z), Some((d, d_optim))) = (z, disc.as_mut()) {
                        // the discriminator's step: real codes against codes whose dimensions are
                        // permuted independently across the batch
                        let z = z.detach();
                        let [b, dims] = z.dims();
                        let perms: Vec<Vec<usize>> = (0..dims)
                            .map(|_| {
                                let mut p: Vec<usize> = (0..b).collect();
                                p.shuffle(&mut rng);
                                p
                            })
                            .collect();
                        let permuted = permute_dims(z.clone(), &perms);
                        let d_loss = discriminator_loss(d.forward(z), d.forward(permuted));
                        let d_grads = GradientsParams::from_grads(d_loss.backward(), &*d);
                        *d = d_optim.step(cfg.disc_lr, d.clone(), d_grads);
                    }
                }
                Ok::<_, VaeError>((model, sum_recon, sum_kl, sum_tc))
            })?;
        model = trained;
        let recon = sum_recon.into_scalar().elem::<f64>() / n_train;
        let kl = sum_kl.into_scalar().elem::<f64>() / n_train;
        let tc = factor.then(|| sum_tc.into_scalar().elem::<f64>() / n_batches.max(1) as f64);
        if !(recon.is_finite() && kl.is_finite()) {
            return Err(VaeError::Training(format!(
                "the training loss became non-finite in epoch {epoch} (reconstruction {recon}, \
                 KL {kl}); try a lower --lr or check the data's scale. No model was written."
            )));
        }
        let val_loss = if val_idx.is_empty() {
            None
        } else {
            Some(evaluate(
                &model.valid(),
                vae,
                objective,
                x,
                &val_idx,
                device,
            ))
        };
        let stats = EpochStats {
            epoch,
            train_loss: recon + kl_weight * kl + tc.map_or(0.0, |t| cfg.tc_gamma * t),
            recon,
            kl,
            val_loss,
            tc,
            seconds: start.elapsed().as_secs_f64(),
        };
        on_epoch(&stats);
        history.push(stats);
        if let Some(v) = val_loss {
            // Early stopping counts only once the KL weight is at full strength.
            let improved = best.as_ref().is_none_or(|(b, _, _)| v < *b) || epoch <= cfg.kl_warmup;
            if improved {
                best = Some((v, epoch, model.valid()));
            } else if best
                .as_ref()
                .is_some_and(|(_, e, _)| epoch - e >= cfg.patience)
            {
                break;
            }
        }
    }
    let (model, best_epoch) = match best {
        Some((_, e, m)) => (m, e),
        None => (model.valid(), history.len()),
    };
    Ok(Trained {
        model,
        history,
        best_epoch,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::RngCore;

    #[test]
    fn adaptive_defaults() {
        assert_eq!(default_batch_size(150), 16);
        assert_eq!(default_batch_size(1797), 128);
        assert_eq!(default_batch_size(100_000), 256);
        assert_eq!(default_epochs(1797, 128), 534);
        assert_eq!(default_epochs(1_000_000, 256), 20);
        assert_eq!(default_one_step_epochs(1797, 128), (400, 200));
        // the image budgets of `cluster` (vaetool 9, item 5): 1,000 and 10,000 images both get
        // about 8,000 steps — 500 epochs of 16 batches of 64, 200 of 40 batches of 256
        assert_eq!(default_batch_size(1_000), 64);
        assert_eq!(default_epochs(1_000, 64), 500);
        assert_eq!(default_batch_size(10_000), 256);
        assert_eq!(default_epochs(10_000, 256), 200);
        for (rows, batch) in [(1_000, 64), (10_000, 256), (1797, 128)] {
            let steps = default_epochs(rows, batch) * rows.div_ceil(batch);
            assert!(
                (8_000..8_000 + rows.div_ceil(batch)).contains(&steps),
                "{rows}: {steps}"
            );
        }
    }

    #[test]
    fn validation_split_and_early_stopping() {
        use crate::backend::CpuTrain;
        // two noisy clusters; with patience 3 the validation loss stops improving long before
        // 400 epochs, and the kept weights are those of the best validation epoch
        let data: Vec<f32> = (0..200)
            .flat_map(|i| {
                let c = if i % 2 == 0 { 2.0 } else { -2.0 };
                let n = ((i * 37 % 11) as f32 - 5.0) / 5.0;
                [c + n, -c + 0.5 * n, n]
            })
            .collect();
        let x = Matrix::new(200, 3, data);
        let vae = VaeConfig::new(3, vec![8], 2);
        let cfg = TrainConfig::new(400, 32)
            .with_val_fraction(0.25)
            .with_patience(3);
        let t = train::<CpuTrain>(&x, &vae, &cfg, &Default::default(), &mut |_| {}).unwrap();
        assert!(t.history.len() < 400, "ran all {} epochs", t.history.len());
        assert_eq!(t.history.len(), t.best_epoch + 3);
        assert!(t.history.iter().all(|h| h.val_loss.is_some()));
        let best = t.history[t.best_epoch - 1].val_loss.unwrap();
        assert!(t.history.iter().all(|h| h.val_loss.unwrap() >= best));
    }

    #[test]
    fn trimmed_mean_leaves_out_the_worst_rows() {
        use crate::backend::Cpu;
        let t = Tensor::<Cpu, 1>::from_floats([1.0, 9.0, 2.0, 3.0, 100.0], &Default::default());
        // 20% of 5 rows: the 100 goes, (1 + 9 + 2 + 3) / 4
        let m: f32 = trimmed_mean(t.clone(), 0.2).into_scalar();
        assert_eq!(m, 3.75);
        // 40%: 100 and 9 go, (1 + 2 + 3) / 3
        let m: f32 = trimmed_mean(t.clone(), 0.4).into_scalar();
        assert_eq!(m, 2.0);
        // rows tied with the cut all count: 20% of [1, 5, 5, 5, 5] keeps the four 5s too
        let ties = Tensor::<Cpu, 1>::from_floats([5.0, 1.0, 5.0, 5.0, 5.0], &Default::default());
        let m: f32 = trimmed_mean(ties, 0.2).into_scalar();
        assert_eq!(m, 4.2);
        // a tiny fraction still keeps every row of a small batch
        let m: f32 = trimmed_mean(t, 0.01).into_scalar();
        assert_eq!(m, 23.0);
    }

    #[test]
    fn host_batches_made_ahead_are_those_made_in_the_loop() {
        // six 4×4 images in three steps, the last padded with one of its rows again
        let shape = crate::data::ImageShape::new(1, 4, 4);
        let x = Matrix::new(6, 16, (0..96).map(|v| (v % 7) as f32).collect());
        let rows = vec![vec![3, 0], vec![5, 1], vec![2, 4, 2]];
        let cfg = TrainConfig::new(1, 2)
            .with_augment_shift(0.1)
            .with_augment_degrees(10.0);
        let mut rng = Xoshiro256PlusPlus::seed_from_u64(9);
        let inline: Vec<Vec<f32>> = rows
            .iter()
            .map(|idx| augmented(&x, idx, Some((shape, cfg.augment())), &mut rng))
            .collect();
        let mut rng_ahead = Xoshiro256PlusPlus::seed_from_u64(9);
        let ahead: Vec<Vec<f32>> = with_host_batches(
            &x,
            &rows,
            Some((shape, cfg.augment())),
            &mut rng_ahead,
            |host| host.collect(),
        );
        assert_eq!(ahead, inline);
        // the stream is left where the loop would leave it
        assert_eq!(rng.next_u64(), rng_ahead.next_u64());
        // the images were moved, and a step without augmentation is the plain gather
        assert_ne!(inline[0], x.gather_rows(&rows[0]));
        let plain = with_host_batches(&x, &rows, None, &mut rng_ahead, |host| host.next().unwrap());
        assert_eq!(plain, x.gather_rows(&rows[0]));
        // a body that stops early (an error in a step) does not wait for the rest
        let first = with_host_batches(
            &x,
            &rows,
            Some((shape, cfg.augment())),
            &mut rng_ahead,
            |host| host.next().map(|b| b.len()),
        );
        assert_eq!(first, Some(32));
    }

    #[test]
    fn check_rejects_bad_values() {
        let c = TrainConfig::new(10, 32).with_val_fraction(1.0);
        assert_eq!(
            c.check().unwrap_err().to_string(),
            "--val-fraction must be in [0, 1), got 1"
        );
        assert!(TrainConfig::new(0, 32).check().is_err());
        assert!(TrainConfig::new(1, 32).with_lr(-1.0).check().is_err());
    }
}
