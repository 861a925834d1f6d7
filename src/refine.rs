//! Deep embedded clustering (DEC; Xie, Girshick & Farhadi 2016) on moved images (DEC-DA; Guo,
//! Zhu, Liu & Yin 2018), started from N2D's clusters: `cluster --method dec`.
//!
//! Each cluster `j` gets a centre `c_j` in the latent space, and a row's soft assignment is
//! Student's t kernel on its latent mean `z_i` (one degree of freedom):
//! `q_ij ∝ (1 + ‖z_i − c_j‖²)⁻¹`. Training moves the encoder's mean head and the centres
//! towards targets `p_ij`, by the cross-entropy `−Σ_j p_ij log q_ij` (the KL divergence
//! KL(P‖Q) up to a constant), on randomly moved copies of the images
//! ([`crate::augment::Augment::IMAGES`]) while the targets are those of the images as they are.
//! Two phases:
//! 1. warm-up: the targets are N2D's clusters (one-hot) and the centres start at the mean
//!    latent of each cluster — the encoder learns to give N2D's answer on moved images;
//! 2. DEC: after every epoch the targets are recomputed from the current assignments,
//!    sharpened and normalised by cluster frequency, `p_ij ∝ q_ij² / Σ_i q_ij`.
//!
//! The decoder is not trained: the encoder's mean head moves away from the decoder's, so that
//! a refined model's ELBO (anomaly scores, reconstructions) is that of the moved encoder.

use burn::module::{AutodiffModule, Module, Param};
use burn::optim::{AdamConfig, GradientsParams, Optimizer};
use burn::prelude::*;
use burn::tensor::backend::AutodiffBackend;
use rand::seq::SliceRandom;
use rand::SeedableRng;
use rand_xoshiro::Xoshiro256PlusPlus;

use crate::augment::Augment;
use crate::data::{ImageShape, Matrix};
use crate::error::{Result, VaeError};
use crate::model::Vae;

/// The default schedule's gradient steps (warm-up and DEC together), as a share of the VAE's
/// training steps: 2,400 after the 8,000 of `cluster`'s image budget.
pub const STEP_SHARE: f64 = 0.3;
/// Rows per step.
pub const DEFAULT_BATCH: usize = 256;
/// Adam's learning rate.
pub const DEFAULT_LR: f64 = 1e-3;

/// The refinement's schedule, validated by [`RefineConfig::check`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RefineConfig {
    /// Passes over the rows, warm-up included.
    pub epochs: usize,
    /// Passes whose targets are the starting clusters.
    pub warm_epochs: usize,
    /// Rows per step.
    pub batch_size: usize,
    /// Adam's learning rate.
    pub lr: f64,
    /// How the training images are moved.
    pub augment: Augment,
    /// The rows' image shape (`None`: a table, whose rows are not moved).
    pub image: Option<ImageShape>,
    /// Seed of the order of the rows and of the moves.
    pub seed: u64,
}

impl RefineConfig {
    /// The default schedule for `rows` rows after a VAE trained `train_steps` steps:
    /// [`STEP_SHARE`] of those steps, of [`DEFAULT_BATCH`] rows (whole epochs, at least 1), a
    /// third of the epochs warm-up, images moved as DEC-DA moves them.
    pub fn for_training(
        rows: usize,
        train_steps: usize,
        image: Option<ImageShape>,
        seed: u64,
    ) -> Self {
        let per_epoch = rows.div_ceil(DEFAULT_BATCH).max(1);
        let steps = (train_steps as f64 * STEP_SHARE).round() as usize;
        let epochs = ((steps + per_epoch / 2) / per_epoch).max(1);
        Self {
            epochs,
            warm_epochs: epochs / 3,
            batch_size: DEFAULT_BATCH,
            lr: DEFAULT_LR,
            augment: Augment::IMAGES,
            image,
            seed,
        }
    }

    /// Checks the schedule (typed error).
    pub fn check(&self) -> Result<()> {
        if self.epochs == 0 || self.batch_size == 0 || self.warm_epochs > self.epochs {
            return Err(VaeError::Usage(format!(
                "dec: expected at least 1 epoch, a warm-up of at most the epochs and a batch of at \
                 least 1 row, got {} epochs, warm-up {}, batch {}",
                self.epochs, self.warm_epochs, self.batch_size
            )));
        }
        if !(self.lr > 0.0 && self.lr.is_finite()) {
            return Err(VaeError::Usage(format!(
                "dec: the learning rate must be positive, got {}",
                self.lr
            )));
        }
        self.augment.check()
    }
}

/// The encoder (inside the VAE) with the cluster centres.
#[derive(Module, Debug)]
struct Dec<B: Backend> {
    vae: Vae<B>,
    centers: Param<Tensor<B, 2>>,
}

impl<B: Backend> Dec<B> {
    /// log q: each row's log soft assignment.
    fn log_q(&self, x: Tensor<B, 2>) -> Tensor<B, 2> {
        let z = self.vae.encode_mean(x); // [batch, latent]
        let c = self.centers.val(); // [k, latent]
        let d2 = (z.unsqueeze_dim::<3>(1) - c.unsqueeze_dim::<3>(0))
            .powf_scalar(2.0)
            .sum_dim(2)
            .squeeze_dim::<2>(2); // [batch, k]
        let logits = (d2 + 1.0).log().neg(); // [batch, k]
        let norm = logits.clone().exp().sum_dim(1).log(); // [batch, 1]
        logits - norm // [batch, k]
    }
}

/// One finished epoch of [`refine`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RefineEpoch {
    /// The epoch, from 1.
    pub epoch: usize,
    /// The mean cross-entropy of the epoch's targets and assignments, per row.
    pub loss: f64,
    /// The share of rows whose cluster changed in the epoch.
    pub changed: f64,
}

/// A refined model: the VAE with its moved encoder, the centres, the training rows' clusters.
pub struct Refined<B: Backend> {
    /// The VAE whose encoder was refined.
    pub model: Vae<B>,
    /// Cluster centres in the latent space, `k × latent`.
    pub centers: Matrix,
}

/// Student's t soft assignments of latent means `z` (`rows × latent`) to `centers`
/// (`k × latent`): `q_ij ∝ (1 + ‖z_i − c_j‖²)⁻¹`, each row summing to 1.
pub fn soft_assignments(z: &Matrix, centers: &Matrix) -> Matrix {
    let k = centers.rows;
    let mut out = Vec::with_capacity(z.rows * k);
    for i in 0..z.rows {
        let row = z.row(i);
        let w: Vec<f64> = (0..k)
            .map(|j| {
                let d2: f64 = row
                    .iter()
                    .zip(centers.row(j))
                    .map(|(a, b)| f64::from(a - b).powi(2))
                    .sum();
                1.0 / (1.0 + d2)
            })
            .collect();
        let s: f64 = w.iter().sum();
        out.extend(w.iter().map(|v| (v / s) as f32));
    }
    Matrix::new(z.rows, k, out)
}

/// DEC's targets from soft assignments `q`: `p_ij ∝ q_ij² / f_j`, `f_j = Σ_i q_ij`.
pub fn sharpened_targets(q: &Matrix) -> Matrix {
    let k = q.cols;
    let mut f = vec![0f64; k];
    for i in 0..q.rows {
        for (fj, v) in f.iter_mut().zip(q.row(i)) {
            *fj += f64::from(*v);
        }
    }
    let mut out = Vec::with_capacity(q.data.len());
    for i in 0..q.rows {
        let w: Vec<f64> = q
            .row(i)
            .iter()
            .zip(&f)
            .map(|(v, fj)| f64::from(*v).powi(2) / fj.max(f64::MIN_POSITIVE))
            .collect();
        let s: f64 = w.iter().sum();
        out.extend(w.iter().map(|v| (v / s) as f32));
    }
    Matrix::new(q.rows, k, out)
}

/// Refines `model`'s encoder and the centres from the clusters `labels` (`0..k`) of the rows
/// of `x` (images moved as `cfg` says), calling `on_epoch` with each finished epoch's
/// [`RefineEpoch`].
pub fn refine<B: AutodiffBackend>(
    model: Vae<B::InnerBackend>,
    x: &Matrix,
    labels: &[usize],
    k: usize,
    cfg: &RefineConfig,
    device: &B::Device,
    on_epoch: &mut dyn FnMut(&RefineEpoch),
) -> Result<Refined<B::InnerBackend>> {
    cfg.check()?;
    if labels.len() != x.rows || labels.iter().any(|&c| c >= k) || k < 2 {
        return Err(VaeError::Usage(format!(
            "dec: expected a cluster in 0..{k} (k at least 2) for each of the {} rows",
            x.rows
        )));
    }
    let (mu, _) = crate::infer::embed(&model, x, device);
    // the centres start at the mean latent of each cluster (of all rows for an empty one)
    let (_, centers, _) = crate::cluster::mixture_from_labels(&mu, labels, k);
    let mut dec = Dec::<B> {
        vae: crate::train::trainable(Vae::from_inner(model)),
        centers: Param::from_tensor(Tensor::from_data(
            TensorData::new(centers, [k, mu.cols]),
            device,
        )),
    };
    let mut optim = AdamConfig::new().init::<B, Dec<B>>();
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(cfg.seed ^ 0x0064_6563);
    let mut targets = Matrix::new(
        x.rows,
        k,
        labels
            .iter()
            .flat_map(|&c| (0..k).map(move |j| if j == c { 1.0 } else { 0.0 }))
            .collect(),
    );
    let mut current = labels.to_vec();
    let mut order: Vec<usize> = (0..x.rows).collect();
    let moves = cfg
        .image
        .filter(|_| cfg.augment.is_active())
        .map(|shape| (shape, cfg.augment));
    for epoch in 1..=cfg.epochs {
        let mut sum_loss = Tensor::<B::InnerBackend, 1>::zeros([1], device);
        order.shuffle(&mut rng);
        let batches: Vec<Vec<usize>> = order.chunks(cfg.batch_size).map(<[_]>::to_vec).collect();
        // the batches gathered and moved on a second thread ahead of the steps, with the
        // draws from `rng` of gathering them here, in the same order (the closure takes the
        // network and the loss's sum and hands them back)
        (dec, sum_loss) = crate::train::with_host_batches(x, &batches, moves, &mut rng, |host| {
            let (mut dec, mut sum_loss) = (dec, sum_loss);
            for (batch, rows) in batches.iter().zip(host) {
                let xb =
                    Tensor::<B, 2>::from_data(TensorData::new(rows, [batch.len(), x.cols]), device); // [batch, input]
                let pb = Tensor::<B, 2>::from_data(
                    TensorData::new(targets.gather_rows(batch), [batch.len(), k]),
                    device,
                ); // [batch, k]
                let loss = (pb * dec.log_q(xb)).sum().neg() / batch.len() as f32; // [1]
                sum_loss = sum_loss + loss.clone().inner() * batch.len() as f32;
                let grads = GradientsParams::from_grads(loss.backward(), &dec);
                dec = optim.step(cfg.lr, dec, grads);
            }
            (dec, sum_loss)
        });
        let valid = dec.valid();
        let centers = tensor_matrix(valid.centers.val());
        let q = soft_assignments(&crate::infer::embed(&valid.vae, x, device).0, &centers);
        let now: Vec<usize> = (0..q.rows).map(|i| crate::data::argmax(q.row(i))).collect();
        let changed = now.iter().zip(&current).filter(|(a, b)| a != b).count();
        if !q.data.iter().all(|v| v.is_finite()) {
            return Err(VaeError::Training(format!(
                "dec: the soft assignments became non-finite in epoch {epoch}"
            )));
        }
        on_epoch(&RefineEpoch {
            epoch,
            loss: sum_loss.into_scalar().elem::<f64>() / x.rows as f64,
            changed: changed as f64 / x.rows as f64,
        });
        current = now;
        if epoch >= cfg.warm_epochs {
            targets = sharpened_targets(&q);
        }
    }
    let valid = dec.valid();
    Ok(Refined {
        centers: tensor_matrix(valid.centers.val()),
        model: valid.vae,
    })
}

fn tensor_matrix<B: Backend>(t: Tensor<B, 2>) -> Matrix {
    let [rows, cols] = t.dims();
    Matrix::new(
        rows,
        cols,
        t.into_data().to_vec::<f32>().expect("f32 centres"),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_schedule_is_three_tenths_of_the_training_steps() {
        // `cluster`'s image budgets (train.rs: about 8,000 steps) give about 2,400 steps:
        // 10,000 images, 200 epochs of 40 batches: 60 epochs of 40 steps, 20 of them warm-up
        let c = RefineConfig::for_training(10_000, 200 * 40, None, 1);
        assert_eq!((c.epochs, c.warm_epochs, c.batch_size), (60, 20, 256));
        // the 8×8 digits, 534 epochs of 15 batches of 128: 300 epochs of 8 steps
        let c = RefineConfig::for_training(1_797, 534 * 15, None, 1);
        assert_eq!((c.epochs, c.warm_epochs), (300, 100));
        // 1,000 images, 500 epochs of 16 batches of 64: 600 epochs of 4 steps
        assert_eq!(
            RefineConfig::for_training(1_000, 500 * 16, None, 1).epochs,
            600
        );
        // a short training, a short refinement; never less than one epoch
        assert_eq!(RefineConfig::for_training(200, 40, None, 1).epochs, 12);
        assert_eq!(
            RefineConfig::for_training(10_000_000, 8_000, None, 1).epochs,
            1
        );
        assert!(RefineConfig { epochs: 0, ..c }.check().is_err());
        assert!(RefineConfig { lr: -1.0, ..c }.check().is_err());
    }

    #[test]
    fn soft_assignments_are_students_t() {
        // z = (0, 0) against centres (0, 0) and (1, 1): weights 1 and 1/3, so q = 3/4, 1/4
        let z = Matrix::new(2, 2, vec![0.0, 0.0, 1.0, 1.0]);
        let c = Matrix::new(2, 2, vec![0.0, 0.0, 1.0, 1.0]);
        let q = soft_assignments(&z, &c);
        assert_eq!(q.data, vec![0.75, 0.25, 0.25, 0.75]);
        // targets: q² / f with f = (1, 1): (9/16, 1/16) normalised = (0.9, 0.1)
        let p = sharpened_targets(&q);
        assert!((p.data[0] - 0.9).abs() < 1e-6 && (p.data[1] - 0.1).abs() < 1e-6);
        // a frequent cluster is damped: a row at q = (0.5, 0.5) beside one at (0.9, 0.1)
        let q = Matrix::new(2, 2, vec![0.9, 0.1, 0.5, 0.5]);
        let p = sharpened_targets(&q);
        // f = (1.4, 0.6): row 2 → (0.25/1.4, 0.25/0.6) normalised, the rarer cluster favoured
        assert!(p.data[3] > p.data[2]);
        assert!((p.data[2] + p.data[3] - 1.0).abs() < 1e-6);
    }
}
