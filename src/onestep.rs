//! One-step clustering VAEs (ALGORITHMS.md §3): VaDE's Gaussian-mixture prior and Su Jianlin's
//! clustering VAE, with the initialization public re-implementations leave out:
//!
//! 1. autoencoder pretraining (`pretrain_epochs`),
//! 2. a mixture fitted on the pretrained latent means, copied into the prior (VaDE: weights,
//!    means and diagonal variances; Su: the class means): by default the moments of the N2D
//!    clusters (a GMM on a UMAP manifold of the latents, [`crate::manifold`]), or a GMM fitted
//!    on the latents themselves ([`MixtureInit`]),
//! 3. training of the full model,
//! 4. `restarts` runs from different seeds, keeping the one with the best (lowest) mean
//!    negative ELBO over the data: label-free selection.

use burn::prelude::*;
use burn::tensor::backend::AutodiffBackend;

use crate::cluster::{diagonal_gmm, manifold_mixture};
use crate::data::Matrix;
use crate::error::{Result, VaeError};
use crate::infer;
use crate::model::{Objective, Prior, VaeConfig};
use crate::train::{train_from, EpochStats, TrainConfig, Trained};

/// Which phase of which restart an epoch belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    /// Autoencoder pretraining of restart `n` (0-based).
    Pretrain(usize),
    /// Training of the full model in restart `n`.
    Train(usize),
}

/// How the mixture prior is initialised from the pretrained latent means.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum MixtureInit {
    /// The moments of the N2D clusters (GMM on a UMAP manifold of the latents).
    #[default]
    N2d,
    /// A GMM on the latents, its covariances cut to their diagonals.
    Gmm,
}

impl std::str::FromStr for MixtureInit {
    type Err = String;
    fn from_str(s: &str) -> std::result::Result<Self, String> {
        match s {
            "n2d" => Ok(Self::N2d),
            "gmm" => Ok(Self::Gmm),
            _ => Err(format!(
                "unknown initialisation '{s}' (expected n2d or gmm)"
            )),
        }
    }
}

/// Settings of the one-step clustering run.
#[derive(Debug, Clone)]
pub struct OneStepConfig {
    /// Autoencoder pretraining epochs.
    pub pretrain_epochs: usize,
    /// Independent runs; the best by ELBO is kept.
    pub restarts: usize,
    /// Restarts of the initial GMM.
    pub gmm_init: usize,
    /// How the prior is initialised.
    pub init: MixtureInit,
    /// `MixtureInit::N2d`: neighbourhood size of the manifold (capped at the rows).
    pub neighbors: usize,
}

/// The outcome: the kept model, the ELBO of every restart, and warnings.
#[derive(Debug)]
pub struct OneStepResult<B: Backend> {
    /// The kept model and its training history (clustering phase).
    pub trained: Trained<B>,
    /// Mean negative ELBO of each restart, in order.
    pub restart_elbos: Vec<f64>,
    /// Index of the kept restart.
    pub kept: usize,
    /// Cluster of every training row under the kept model.
    pub labels: Vec<usize>,
    /// Cluster probabilities `rows × K`.
    pub probabilities: Matrix,
    /// Warnings (empty components).
    pub warnings: Vec<String>,
}

/// Trains a VaDE or Su model on `x`.
pub fn train_one_step<B: AutodiffBackend>(
    x: &Matrix,
    vae: &VaeConfig,
    cfg: &TrainConfig,
    one: &OneStepConfig,
    device: &B::Device,
    on_epoch: &mut dyn FnMut(Phase, &EpochStats),
) -> Result<OneStepResult<B::InnerBackend>> {
    let k = vae
        .prior
        .k()
        .ok_or_else(|| VaeError::Usage("one-step clustering needs a mixture or Su prior".into()))?;
    if k < 2 {
        return Err(VaeError::Usage(format!(
            "--k must be at least 2 for one-step clustering, got {k}"
        )));
    }
    if k > x.rows {
        return Err(VaeError::Usage(format!(
            "--k {k} is larger than the number of rows ({})",
            x.rows
        )));
    }
    if one.restarts == 0 {
        return Err(VaeError::Usage("--restarts must be at least 1".into()));
    }
    let mut best: Option<(f64, usize, Trained<B::InnerBackend>)> = None;
    let mut elbos = Vec::with_capacity(one.restarts);
    for r in 0..one.restarts {
        let seed = cfg.seed.wrapping_add(r as u64);
        let mut model = if one.pretrain_epochs > 0 {
            let pre_cfg = TrainConfig {
                epochs: one.pretrain_epochs,
                seed,
                val_fraction: 0.0,
                kl_warmup: 0,
                ..cfg.clone()
            };
            let pre = train_from::<B>(
                x,
                vae,
                &pre_cfg,
                device,
                None,
                Objective::Autoencoder,
                &mut |s| on_epoch(Phase::Pretrain(r), s),
            )?;
            pre.model
        } else {
            B::seed(device, seed);
            vae.init::<B::InnerBackend>(device)
        };
        let (mu, _) = infer::embed(&model, x, device);
        let (w, m, v) = match one.init {
            MixtureInit::Gmm => diagonal_gmm(&mu, k, one.gmm_init, seed)?,
            MixtureInit::N2d => {
                manifold_mixture(&mu, k, one.gmm_init, seed, one.neighbors.min(mu.rows))?
            }
        };
        model.set_mixture(&w, &m, &v, device);
        let run_cfg = cfg.clone().with_seed(seed);
        let trained = train_from::<B>(
            x,
            vae,
            &run_cfg,
            device,
            Some(model),
            Objective::Elbo,
            &mut |s| on_epoch(Phase::Train(r), s),
        )?;
        B::InnerBackend::seed(device, seed);
        let elbo = infer::mean_neg_elbo(&trained.model, vae, x, device);
        elbos.push(elbo);
        if best.as_ref().is_none_or(|(b, _, _)| elbo < *b) {
            best = Some((elbo, r, trained));
        }
    }
    let (_, kept, trained) = best.expect("at least one restart");
    let probabilities =
        infer::cluster_probabilities(&trained.model, x, device).expect("clustering prior");
    let labels = argmax_rows(&probabilities);
    let mut sizes = vec![0usize; k];
    for &c in &labels {
        sizes[c] += 1;
    }
    let empty: Vec<String> = (0..k)
        .filter(|&c| sizes[c] == 0)
        .map(|c| c.to_string())
        .collect();
    let mut warnings = Vec::new();
    if !empty.is_empty() {
        warnings.push(format!(
            "{} of {k} components received no rows: {} (fewer clusters than --k were found)",
            empty.len(),
            empty.join(", ")
        ));
    }
    Ok(OneStepResult {
        trained,
        restart_elbos: elbos,
        kept,
        labels,
        probabilities,
        warnings,
    })
}

/// Index of the largest value in every row.
pub fn argmax_rows(p: &Matrix) -> Vec<usize> {
    (0..p.rows).map(|i| crate::data::argmax(p.row(i))).collect()
}

/// The prior for a one-step method name.
pub fn prior_for(method: &str, k: usize) -> Option<Prior> {
    match method {
        "vade" => Some(Prior::Mixture(k)),
        "su" => Some(Prior::Su(k)),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::backend::CpuTrain;

    #[test]
    fn k_is_checked() {
        let vae = VaeConfig::new(4, vec![8], 2).with_prior(Prior::Mixture(1));
        let one = OneStepConfig {
            pretrain_epochs: 1,
            restarts: 1,
            gmm_init: 1,
            init: MixtureInit::Gmm,
            neighbors: crate::manifold::DEFAULT_NEIGHBORS,
        };
        // K is checked before the rows are looked at
        let e = train_one_step::<CpuTrain>(
            &Matrix::new(4, 4, vec![0.0; 16]),
            &vae,
            &TrainConfig::new(1, 8),
            &one,
            &Default::default(),
            &mut |_, _| {},
        )
        .unwrap_err();
        assert_eq!(
            e.to_string(),
            "--k must be at least 2 for one-step clustering, got 1"
        );
    }
}
