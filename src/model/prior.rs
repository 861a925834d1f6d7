//! Clustering priors and the per-row loss of every model kind (ALGORITHMS.md §1, §3):
//!
//! - standard VAE: reconstruction + KL(q(z|x) ‖ N(0, I));
//! - VaDE (Jiang et al. 2017, "Variational Deep Embedding"): a mixture of K diagonal Gaussians
//!   p(c) = π_c, p(z|c) = N(μ_c, σ_c²), with responsibilities γ_c = p(c|z) at the sampled z;
//! - Su Jianlin's one-step clustering VAE (2018): a classifier q(y|z), class means with unit
//!   variance, and an entropy term that keeps clusters balanced;
//! - a plain autoencoder objective (reconstruction of the posterior mean), used to pretrain the
//!   clustering models.

use burn::prelude::*;
use burn::tensor::activation::{log_softmax, softmax};

use super::loss::{kl_standard_normal, recon_nll};
use super::{Likelihood, Prior, Vae, Variant};

/// Total mass reserved so that no mixture weight falls below `PI_FLOOR / K`.
pub const PI_FLOOR: f64 = 0.01;
const LN_2PI: f64 = 1.837_877_066_409_345_5;

/// What training minimizes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Objective {
    /// The negative ELBO under the model's prior.
    Elbo,
    /// Reconstruction of x from the posterior mean only (autoencoder pretraining).
    Autoencoder,
}

/// log π with a floor: π = PI_FLOOR/K + (1 − PI_FLOOR)·softmax(logits). `[K]`
pub fn mixture_log_weights<B: Backend>(logits: Tensor<B, 1>) -> Tensor<B, 1> {
    let k = logits.dims()[0] as f64;
    (softmax(logits, 0) * (1.0 - PI_FLOOR) + PI_FLOOR / k).log()
}

/// log N(z; μ_c, diag σ_c²) for every row and component. `[batch, K]`
pub fn mixture_log_density<B: Backend>(
    z: Tensor<B, 2>,
    mu_c: Tensor<B, 2>,
    logvar_c: Tensor<B, 2>,
) -> Tensor<B, 2> {
    let z3 = z.unsqueeze_dim::<3>(1); // [batch, 1, latent]
    let m3 = mu_c.unsqueeze_dim::<3>(0); // [1, K, latent]
    let l3 = logvar_c.unsqueeze_dim::<3>(0); // [1, K, latent]
    let t = (z3 - m3).powi_scalar(2) * l3.clone().neg().exp() + l3 + LN_2PI; // [batch, K, latent]
    t.sum_dim(2).squeeze_dim::<2>(2) * -0.5 // [batch, K]
}

/// Responsibilities γ = p(c|z) and their logarithms. `[batch, K]` each
pub fn mixture_responsibilities<B: Backend>(
    z: Tensor<B, 2>,
    logits: Tensor<B, 1>,
    mu_c: Tensor<B, 2>,
    logvar_c: Tensor<B, 2>,
) -> (Tensor<B, 2>, Tensor<B, 2>) {
    let log_pi = mixture_log_weights(logits).unsqueeze::<2>(); // [1, K]
    let joint = mixture_log_density(z, mu_c, logvar_c) + log_pi; // [batch, K]
    let log_gamma = log_softmax(joint, 1); // [batch, K]
    (log_gamma.clone().exp(), log_gamma)
}

/// VaDE's regularizer: −ELBO minus the reconstruction term (ALGORITHMS.md §3). `[batch]`
pub fn mixture_reg<B: Backend>(
    mu: Tensor<B, 2>,
    logvar: Tensor<B, 2>,
    z: Tensor<B, 2>,
    logits: Tensor<B, 1>,
    mu_c: Tensor<B, 2>,
    logvar_c: Tensor<B, 2>,
) -> Tensor<B, 1> {
    let (gamma, log_gamma) =
        mixture_responsibilities(z, logits.clone(), mu_c.clone(), logvar_c.clone());
    let log_pi = mixture_log_weights(logits).unsqueeze::<2>(); // [1, K]
    let mu3 = mu.unsqueeze_dim::<3>(1); // [batch, 1, latent]
    let lv3 = logvar.clone().unsqueeze_dim::<3>(1); // [batch, 1, latent]
    let m3 = mu_c.unsqueeze_dim::<3>(0); // [1, K, latent]
    let l3 = logvar_c.unsqueeze_dim::<3>(0); // [1, K, latent]
    let inner = l3.clone() + (lv3 - l3.clone()).exp() + (mu3 - m3).powi_scalar(2) * l3.neg().exp(); // [batch, K, latent]
    let cross = (gamma.clone() * inner.sum_dim(2).squeeze_dim::<2>(2)).sum_dim(1) * 0.5; // [batch, 1]
    let cat = (gamma * (log_pi - log_gamma)).sum_dim(1).neg(); // [batch, 1]
    let entropy = (logvar + 1.0).sum_dim(1) * -0.5; // [batch, 1]
    (cross + cat + entropy).squeeze_dim::<1>(1) // [batch]
}

/// Su's regularizer Σ_y q(y|z)·KL(N(μ, σ²) ‖ N(μ_y, I)) + KL(q(y|z) ‖ uniform), the last
/// being Σ_y q(y|z) log q(y|z) + log K (the constant keeps the negative ELBO a true bound).
/// `[batch]`
pub fn su_reg<B: Backend>(
    mu: Tensor<B, 2>,
    logvar: Tensor<B, 2>,
    class_logits: Tensor<B, 2>,
    mu_y: Tensor<B, 2>,
) -> Tensor<B, 1> {
    let log_q = log_softmax(class_logits, 1); // [batch, K]
    let k = log_q.dims()[1] as f64;
    let q = log_q.clone().exp();
    let mu3 = mu.unsqueeze_dim::<3>(1); // [batch, 1, latent]
    let lv3 = logvar.unsqueeze_dim::<3>(1); // [batch, 1, latent]
    let m3 = mu_y.unsqueeze_dim::<3>(0); // [1, K, latent]
    let kl = (lv3.clone().exp() + (mu3 - m3).powi_scalar(2) - lv3 - 1.0).sum_dim(2) * 0.5; // [batch, K, 1]
    let kl = kl.squeeze_dim::<2>(2); // [batch, K]
    ((q.clone() * kl).sum_dim(1) + (q * log_q).sum_dim(1) + k.ln()).squeeze_dim::<1>(1)
}

impl<B: Backend> Vae<B> {
    /// Per-row loss terms (reconstruction, regularizer) of one posterior sample. `[batch]` each
    pub fn loss_terms(
        &self,
        x: Tensor<B, 2>,
        likelihood: Likelihood,
        prior: Prior,
        objective: Objective,
    ) -> (Tensor<B, 1>, Tensor<B, 1>) {
        let (recon, reg, _) = self.loss_terms_z(x, likelihood, prior, Variant::Standard, objective);
        (recon, reg)
    }

    /// [`Vae::loss_terms`] for any variant, also returning the sampled z (needed by
    /// FactorVAE's total-correlation term). `[batch]`, `[batch]`, `[batch, latent]`
    pub fn loss_terms_z(
        &self,
        x: Tensor<B, 2>,
        likelihood: Likelihood,
        prior: Prior,
        variant: Variant,
        objective: Objective,
    ) -> (Tensor<B, 1>, Tensor<B, 1>, Option<Tensor<B, 2>>) {
        if variant == Variant::PoorMan {
            // z = f(x) + ε; loss Σ(x − x̂)² + ‖z‖₂ (ALGORITHMS.md §2)
            let z0 = self.encode_mean(x.clone()); // [batch, latent]
            let z = if objective == Objective::Autoencoder {
                z0
            } else {
                let eps = Tensor::random(
                    z0.shape(),
                    burn::tensor::Distribution::Normal(0.0, 1.0),
                    &z0.device(),
                );
                z0 + eps
            };
            let (recon, norm) = super::loss::poor_man_terms(x, self.decode(z.clone()), z); // [batch] ×2
            let reg = if objective == Objective::Autoencoder {
                norm.zeros_like()
            } else {
                norm
            };
            return (recon, reg, None);
        }
        let (mu, lv) = self.encode(x.clone()); // [batch, latent] ×2
        if objective == Objective::Autoencoder {
            let (recon, zeros) = self.autoencoder_terms(x, mu, likelihood);
            return (recon, zeros, None);
        }
        let z = Vae::sample_z(mu.clone(), lv.clone()); // [batch, latent]
        let z_out = (variant == Variant::Factor).then(|| z.clone());
        let (recon, reg) = self.elbo_terms(x, mu, lv, z, likelihood, prior);
        (recon, reg, z_out)
    }

    /// The autoencoder objective's terms: the reconstruction from the posterior mean `mu`, and
    /// zeros. `[batch]` ×2
    fn autoencoder_terms(
        &self,
        x: Tensor<B, 2>,
        mu: Tensor<B, 2>,
        likelihood: Likelihood,
    ) -> (Tensor<B, 1>, Tensor<B, 1>) {
        let recon = recon_nll(x, self.decode(mu), self.out_logvar(likelihood), likelihood);
        let zeros = recon.zeros_like();
        (recon, zeros)
    }

    /// The ELBO's terms for the posterior sample `z` of N(`mu`, exp(`lv`)). `[batch]` ×2
    fn elbo_terms(
        &self,
        x: Tensor<B, 2>,
        mu: Tensor<B, 2>,
        lv: Tensor<B, 2>,
        z: Tensor<B, 2>,
        likelihood: Likelihood,
        prior: Prior,
    ) -> (Tensor<B, 1>, Tensor<B, 1>) {
        let recon = recon_nll(
            x,
            self.decode(z.clone()),
            self.out_logvar(likelihood),
            likelihood,
        );
        (recon, self.prior_reg(prior, mu, lv, z))
    }

    /// [`Vae::loss_terms`] of the VAE (not the poor man's) with the posterior noise given:
    /// z = μ + σ·`eps` (`eps` `[batch, latent]`, standard normal; unused by the autoencoder
    /// objective). For a batch split across threads after its noise was drawn whole, so that
    /// the draws do not depend on which thread runs first. `[batch]` ×2
    pub fn loss_terms_with_noise(
        &self,
        x: Tensor<B, 2>,
        eps: Option<Tensor<B, 2>>,
        likelihood: Likelihood,
        prior: Prior,
        objective: Objective,
    ) -> (Tensor<B, 1>, Tensor<B, 1>) {
        let (mu, lv) = self.encode(x.clone()); // [batch, latent] ×2
        match (objective, eps) {
            (Objective::Elbo, Some(eps)) => {
                let z = Vae::sample_z_with(mu.clone(), lv.clone(), eps); // [batch, latent]
                self.elbo_terms(x, mu, lv, z, likelihood, prior)
            }
            (Objective::Elbo, None) => panic!("the ELBO needs the posterior noise"),
            (Objective::Autoencoder, _) => self.autoencoder_terms(x, mu, likelihood),
        }
    }

    /// The regularizer of one posterior sample `z` of q(z|x) = N(μ, σ²): the exact KL to
    /// N(0, I) (standard prior, `z` unused), VaDE's mixture term, or Su's term (ALGORITHMS.md).
    /// `[batch]`
    pub fn prior_reg(
        &self,
        prior: Prior,
        mu: Tensor<B, 2>,
        lv: Tensor<B, 2>,
        z: Tensor<B, 2>,
    ) -> Tensor<B, 1> {
        match prior {
            Prior::Standard => kl_standard_normal(mu, lv),
            Prior::Mixture(_) => mixture_reg(
                mu,
                lv,
                z,
                self.prior_logits.as_ref().expect("mixture prior").val(),
                self.prior_mu.as_ref().expect("mixture prior").val(),
                self.prior_logvar.as_ref().expect("mixture prior").val(),
            ),
            Prior::Su(_) => su_reg(
                mu,
                lv,
                self.classifier.as_ref().expect("Su prior").forward(z),
                self.prior_mu.as_ref().expect("Su prior").val(),
            ),
        }
    }

    /// log p(z) under the model's prior, per row, from the parameters on the device: N(0, I),
    /// VaDE's mixture, or Su's equal-weight mixture of unit-variance class means. `[batch]`
    pub fn log_prior(&self, z: Tensor<B, 2>) -> Tensor<B, 1> {
        let Some(mu_c) = self.prior_mu.as_ref().map(|m| m.val()) else {
            let d = z.dims()[1] as f64;
            return (z.powi_scalar(2).sum_dim(1).squeeze_dim::<1>(1) + d * LN_2PI) * -0.5;
        };
        let (log_w, lv_c) = match (&self.prior_logits, &self.prior_logvar) {
            (Some(l), Some(v)) => (mixture_log_weights(l.val()), v.val()),
            _ => {
                let k = mu_c.dims()[0];
                let w = Tensor::<B, 1>::zeros([k], &mu_c.device()) - (k as f64).ln();
                (w, mu_c.zeros_like())
            }
        };
        let joint = mixture_log_density(z, mu_c, lv_c) + log_w.unsqueeze::<2>(); // [batch, K]
        let m = joint.clone().max_dim(1); // [batch, 1]
        ((joint - m.clone()).exp().sum_dim(1).log() + m).squeeze_dim::<1>(1) // [batch]
    }

    /// Cluster probabilities of rows given their latent means (γ for VaDE, q(y|μ) for Su);
    /// `None` for a model without a clustering prior. `[batch, K]`
    pub fn cluster_probabilities(&self, mu: Tensor<B, 2>) -> Option<Tensor<B, 2>> {
        if let (Some(l), Some(m), Some(v)) =
            (&self.prior_logits, &self.prior_mu, &self.prior_logvar)
        {
            return Some(mixture_responsibilities(mu, l.val(), m.val(), v.val()).0);
        }
        self.classifier.as_ref().map(|c| softmax(c.forward(mu), 1))
    }

    /// The mixture components (weights `[K]`, means and variances `[K·latent]`) of a VaDE
    /// model, or Su's class means with unit variances and equal weights.
    pub fn prior_components(&self) -> Option<(Vec<f32>, Vec<f32>, Vec<f32>)> {
        let v = |t: Tensor<B, 2>| t.into_data().to_vec::<f32>().expect("f32");
        let mu = self.prior_mu.as_ref()?.val();
        let [k, _] = mu.dims();
        let weights = match &self.prior_logits {
            Some(l) => mixture_log_weights(l.val())
                .exp()
                .into_data()
                .to_vec::<f32>()
                .expect("f32"),
            None => vec![1.0 / k as f32; k],
        };
        let var = match &self.prior_logvar {
            Some(lv) => v(lv.val().exp()),
            None => vec![1.0; mu.dims().iter().product()],
        };
        Some((weights, v(mu), var))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::backend::Cpu;

    use crate::model::testutil::{t2, v1};

    #[test]
    fn one_standard_component_reduces_to_the_plain_kl() {
        let mu = t2(2, &[0.5, -1.0, 2.0, 0.0]);
        let lv = t2(2, &[0.3, -0.2, 0.0, 1.0]);
        let z = t2(2, &[0.1, 0.2, 0.3, 0.4]);
        let logits = Tensor::<Cpu, 1>::zeros([1], &Default::default());
        let reg = v1(mixture_reg(
            mu.clone(),
            lv.clone(),
            z,
            logits,
            t2(1, &[0.0, 0.0]),
            t2(1, &[0.0, 0.0]),
        ));
        let kl = v1(kl_standard_normal(mu, lv));
        for (a, b) in reg.iter().zip(&kl) {
            assert!((a - b).abs() < 1e-5, "{reg:?} vs {kl:?}");
        }
    }

    #[test]
    fn mixture_density_and_weights_by_hand() {
        // log N(1; 0, e^0) = −½(log 2π + 1)
        let ld = mixture_log_density(t2(1, &[1.0]), t2(1, &[0.0]), t2(1, &[0.0]));
        let got: Vec<f32> = ld.into_data().to_vec().unwrap();
        assert!((got[0] as f64 + 0.5 * (LN_2PI + 1.0)).abs() < 1e-6);
        // a weight driven to zero keeps the floor PI_FLOOR / K
        let lw = v1(mixture_log_weights(Tensor::from_data(
            TensorData::new(vec![0.0f32, -100.0], [2]),
            &Default::default(),
        )));
        assert!((lw[1].exp() as f64 - PI_FLOOR / 2.0).abs() < 1e-6, "{lw:?}");
        let total: f32 = lw.iter().map(|v| v.exp()).sum();
        assert!((total - 1.0).abs() < 1e-6);
    }

    #[test]
    fn responsibilities_pick_the_nearest_component() {
        let (g, _) = mixture_responsibilities(
            t2(2, &[-3.0, 3.1]),
            Tensor::zeros([2], &Default::default()),
            t2(2, &[-3.0, 3.0]),
            t2(2, &[0.0, 0.0]),
        );
        let g: Vec<f32> = g.into_data().to_vec().unwrap();
        assert!(g[0] > 0.99 && g[3] > 0.99, "{g:?}");
    }

    #[test]
    fn su_regularizer_by_hand() {
        // one class at μ_y = 0 with q = 1: the plain KL; two classes at the same mean with
        // q = ½ each: KL(q ‖ uniform) = 0, so the same value
        let mu = t2(1, &[1.0]);
        let lv = t2(1, &[0.0]);
        let one = v1(su_reg(mu.clone(), lv.clone(), t2(1, &[5.0]), t2(1, &[0.0])));
        assert!((one[0] - 0.5).abs() < 1e-6, "{one:?}");
        let two = v1(su_reg(mu, lv, t2(1, &[0.0, 0.0]), t2(2, &[0.0, 0.0])));
        assert!((two[0] - 0.5).abs() < 1e-6, "{two:?}");
        // a confident q(y|z) over two classes costs KL(q ‖ uniform) = log 2
        let sure = v1(su_reg(
            t2(1, &[1.0]),
            t2(1, &[0.0]),
            t2(1, &[40.0, -40.0]),
            t2(2, &[0.0, 0.0]),
        ));
        assert!(
            (sure[0] as f64 - (0.5 + 2f64.ln())).abs() < 1e-5,
            "{sure:?}"
        );
    }
}
