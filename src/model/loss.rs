//! Loss terms of the VAE, per row (ALGORITHMS.md §1): the closed-form KL to N(0, I) and the
//! reconstruction negative log-likelihoods. Each returns one value per batch row so that the
//! same code serves training (batch mean) and anomaly scoring (per-row scores).

use burn::prelude::*;
use burn::tensor::activation::relu;

use super::Likelihood;

/// ½·log(2π).
pub const HALF_LN_2PI: f64 = 0.918_938_533_204_672_7;

/// KL(N(μ, σ²) ‖ N(0, I)) = ½ Σ_j (μ_j² + σ_j² − log σ_j² − 1), per row.
pub fn kl_standard_normal<B: Backend>(mu: Tensor<B, 2>, logvar: Tensor<B, 2>) -> Tensor<B, 1> {
    let terms = mu.powi_scalar(2) + logvar.clone().exp() - logvar - 1.0; // [batch, latent]
    terms.sum_dim(1).squeeze_dim::<1>(1) * 0.5 // [batch]
}

/// Per-feature reconstruction negative log-likelihood −log p(x_i|z), `[batch, input]`.
///
/// - Gaussian, unit variance: ½(x − x̂)² + ½ log 2π;
/// - Gaussian, learned (or, for the scores, fitted) log-variance s: ½[(x − x̂)² e^{−s} + s +
///   log 2π];
/// - Bernoulli on logits l: softplus(l) − x·l, computed stably as max(l, 0) − x·l + log(1 + e^{−|l|}).
pub fn recon_terms<B: Backend>(
    x: Tensor<B, 2>,
    out: Tensor<B, 2>,
    out_logvar: Option<Tensor<B, 1>>,
    likelihood: Likelihood,
) -> Tensor<B, 2> {
    match likelihood {
        Likelihood::Gaussian | Likelihood::GaussianLearned => match out_logvar {
            Some(s) => {
                let s = s.unsqueeze::<2>(); // [1, input]
                ((x - out).powi_scalar(2) * s.clone().neg().exp() + s) * 0.5 + HALF_LN_2PI
            }
            None => {
                assert!(
                    likelihood == Likelihood::Gaussian,
                    "gaussian-learned needs the output log-variance"
                );
                (x - out).powi_scalar(2) * 0.5 + HALF_LN_2PI // [batch, input]
            }
        },
        Likelihood::Bernoulli => {
            let softplus = relu(out.clone()) + out.clone().abs().neg().exp().log1p();
            softplus - x * out // [batch, input]
        }
    }
}

/// Degrees of freedom of the Student-t terms of the robust anomaly score
/// ([`student_terms`], `--score robust`).
pub const ROBUST_NU: f64 = 3.0;

/// Per-feature Student-t negative log-likelihood with `ROBUST_NU` degrees of freedom, centred
/// on the decoder's output, with unit scale or, given the learned log-variances s, scale
/// e^{s/2}: (ν + 1)/2 · log(1 + r²/ν) + s/2 + lnΓ(ν/2) − lnΓ((ν + 1)/2) + ½·log(νπ), r the
/// scaled residual. Where the Gaussian's ½r² lets one far-off column outweigh all the others,
/// this grows only with log r: a row scores high when many of its columns are unlike the
/// model's reconstruction, not when a single heavy-tailed column is large. `[batch, input]`
pub fn student_terms<B: Backend>(
    x: Tensor<B, 2>,
    out: Tensor<B, 2>,
    out_logvar: Option<Tensor<B, 1>>,
) -> Tensor<B, 2> {
    let nu = ROBUST_NU;
    let r2 = (x - out).powi_scalar(2); // [batch, input]
    match out_logvar {
        None => (r2 / nu).log1p() * ((nu + 1.0) / 2.0) + STUDENT_CONST,
        Some(s) => {
            let s = s.unsqueeze::<2>(); // [1, input]
            (r2 * s.clone().neg().exp() / nu).log1p() * ((nu + 1.0) / 2.0) + s * 0.5 + STUDENT_CONST
        }
    }
}

/// lnΓ(ν/2) − lnΓ((ν + 1)/2) + ½·log(νπ) for ν = 3: lnΓ(3/2) = ½·log π − log 2 and
/// lnΓ(2) = 0, so log π + ½·log 3 − log 2.
pub const STUDENT_CONST: f64 = 1.000_888_849_623_509_5;

/// softplus(t) = log(1 + eᵗ), computed stably as max(t, 0) + log(1 + e^{−|t|}).
pub fn softplus<B: Backend, const D: usize>(t: Tensor<B, D>) -> Tensor<B, D> {
    relu(t.clone()) + t.abs().neg().exp().log1p()
}

/// The poor man's VAE's terms (ALGORITHMS.md §2): squared error Σ(x − x̂)² and the plain
/// Euclidean norm ‖z‖₂ (not squared), per row. `[batch]` each
pub fn poor_man_terms<B: Backend>(
    x: Tensor<B, 2>,
    out: Tensor<B, 2>,
    z: Tensor<B, 2>,
) -> (Tensor<B, 1>, Tensor<B, 1>) {
    let sq = (x - out).powi_scalar(2).sum_dim(1).squeeze_dim::<1>(1); // [batch]
    let norm = z.powi_scalar(2).sum_dim(1).squeeze_dim::<1>(1).sqrt(); // [batch]
    (sq, norm)
}

/// The β-VAE capacity objective mean(recon) + γ·|mean(KL) − C| (Burgess et al. 2018), from
/// the batch means of the two terms. `[1]`
pub fn capacity_objective<B: Backend>(
    recon_mean: Tensor<B, 1>,
    kl_mean: Tensor<B, 1>,
    capacity: f64,
    gamma: f64,
) -> Tensor<B, 1> {
    recon_mean + (kl_mean - capacity).abs() * gamma
}

/// FactorVAE's discriminator loss: binary cross-entropy with "from q(z)" = 1 for real codes
/// and 0 for permuted ones, on logits. `[1]`
pub fn discriminator_loss<B: Backend>(
    logits_real: Tensor<B, 1>,
    logits_permuted: Tensor<B, 1>,
) -> Tensor<B, 1> {
    softplus(logits_real.neg()).mean() + softplus(logits_permuted).mean()
}

/// Reconstruction negative log-likelihood −log p(x|z) summed over features, per row.
pub fn recon_nll<B: Backend>(
    x: Tensor<B, 2>,
    out: Tensor<B, 2>,
    out_logvar: Option<Tensor<B, 1>>,
    likelihood: Likelihood,
) -> Tensor<B, 1> {
    recon_terms(x, out, out_logvar, likelihood)
        .sum_dim(1)
        .squeeze_dim::<1>(1) // [batch]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::backend::Cpu;

    use crate::model::testutil::{t2, v1 as vec1};

    #[test]
    fn student_terms_by_hand() {
        // the t density with ν = 3 at r: Γ(2) / (√(3π) Γ(3/2)) · (1 + r²/3)^(−2), Γ(3/2) = √π/2
        let density =
            |r: f64| 2.0 / (3f64.sqrt() * std::f64::consts::PI) * (1.0 + r * r / 3.0).powi(-2);
        let t = student_terms(t2(1, &[1.0, 0.0, 100.0]), t2(1, &[0.0, 0.0, 0.0]), None);
        let got = t.into_data().to_vec::<f32>().unwrap();
        for (g, r) in got.iter().zip([1.0, 0.0, 100.0]) {
            let want = -density(r).ln();
            assert!((f64::from(*g) - want).abs() < 1e-4, "r {r}: {g} vs {want}");
        }
        // r = 1: 2·ln(4/3) + ln π + ½ ln 3 − ln 2 = 1.576253…; r = 100 costs 17.2, not 5,000
        assert!((f64::from(got[0]) - 1.576_253).abs() < 1e-5, "{}", got[0]);
        assert!((f64::from(got[1]) - STUDENT_CONST).abs() < 1e-6);
        assert!(got[2] < 18.0 && got[2] > 17.0, "{}", got[2]);
        // with a learned log-variance s = ln 4 (scale 2) a residual of 2 is r = 1, plus ln 2
        let s =
            Tensor::<Cpu, 1>::from_data(TensorData::new(vec![4f32.ln()], [1]), &Default::default());
        let t = student_terms(t2(1, &[2.0]), t2(1, &[0.0]), Some(s));
        let g = f64::from(t.into_data().to_vec::<f32>().unwrap()[0]);
        assert!((g - (1.576_253 + 2f64.ln())).abs() < 1e-5, "{g}");
    }

    #[test]
    fn poor_man_capacity_and_discriminator_terms_by_hand() {
        let (sq, norm) = poor_man_terms(t2(1, &[1.0, 2.0]), t2(1, &[0.0, 4.0]), t2(1, &[3.0, 4.0]));
        assert_eq!(vec1(sq), vec![5.0]); // 1 + 4
        assert_eq!(vec1(norm), vec![5.0]); // ‖(3, 4)‖₂, not squared
        let r = Tensor::<Cpu, 1>::from_data(
            TensorData::new(vec![2.0f32, 4.0], [2]),
            &Default::default(),
        );
        let k = Tensor::<Cpu, 1>::from_data(
            TensorData::new(vec![1.0f32, 2.0], [2]),
            &Default::default(),
        );
        // 3 + 10·|1.5 − 4|
        assert_eq!(
            vec1(capacity_objective(
                r.clone().mean(),
                k.clone().mean(),
                4.0,
                10.0
            )),
            vec![28.0]
        );
        assert_eq!(
            vec1(capacity_objective(r.mean(), k.mean(), 1.5, 10.0)),
            vec![3.0]
        );
        let zero = Tensor::<Cpu, 1>::zeros([3], &Default::default());
        let d = vec1(discriminator_loss(zero.clone(), zero));
        assert!((d[0] as f64 - 2.0 * 2f64.ln()).abs() < 1e-6, "{d:?}");
        let sure =
            Tensor::<Cpu, 1>::from_data(TensorData::new(vec![30.0f32], [1]), &Default::default());
        let d = vec1(discriminator_loss(sure.clone(), sure.neg()));
        assert!(d[0] < 1e-6, "{d:?}");
        let s = vec1(softplus(Tensor::<Cpu, 1>::from_data(
            TensorData::new(vec![-100.0f32, 0.0, 100.0], [3]),
            &Default::default(),
        )));
        assert!(
            s[0] < 1e-6 && (s[1] - 2f32.ln()).abs() < 1e-6 && (s[2] - 100.0).abs() < 1e-4,
            "{s:?}"
        );
    }

    #[test]
    fn kl_is_zero_at_standard_normal_and_matches_closed_form() {
        let kl = vec1(kl_standard_normal(t2(1, &[0.0, 0.0]), t2(1, &[0.0, 0.0])));
        assert_eq!(kl, vec![0.0]);
        // μ = 1, log σ² = ln 2: ½(1 + 2 − ln 2 − 1) = 1 − ½ ln 2
        let kl = vec1(kl_standard_normal(t2(1, &[1.0]), t2(1, &[2f32.ln()])));
        assert!((kl[0] - (1.0 - 0.5 * 2f32.ln())).abs() < 1e-6, "{kl:?}");
    }

    #[test]
    fn gaussian_nll_by_hand() {
        let nll = vec1(recon_nll(
            t2(1, &[1.0, 2.0]),
            t2(1, &[0.0, 0.0]),
            None,
            Likelihood::Gaussian,
        ));
        // ½(1 + 4) + 2·½ ln 2π
        let want = 2.5 + 2.0 * HALF_LN_2PI;
        assert!((nll[0] as f64 - want).abs() < 1e-5, "{nll:?}");
    }

    #[test]
    fn learned_gaussian_nll_by_hand() {
        let s =
            Tensor::<Cpu, 1>::from_data(TensorData::new(vec![2f32.ln()], [1]), &Default::default());
        let nll = vec1(recon_nll(
            t2(1, &[3.0]),
            t2(1, &[1.0]),
            Some(s),
            Likelihood::GaussianLearned,
        ));
        // ½[(2)²/2 + ln 2 + ln 2π]
        let want = 0.5 * (2.0 + 2f64.ln()) + HALF_LN_2PI;
        assert!((nll[0] as f64 - want).abs() < 1e-5, "{nll:?}");
    }

    #[test]
    fn bernoulli_nll_by_hand_and_stable() {
        let nll = vec1(recon_nll(
            t2(1, &[1.0, 0.0, 0.5]),
            t2(1, &[0.0, 2.0, -1.0]),
            None,
            Likelihood::Bernoulli,
        ));
        // −log σ(0) = ln 2; −log(1 − σ(2)) = softplus(2); x=0.5,l=−1: softplus(−1) + 0.5
        let sp = |l: f64| (1.0 + l.exp()).ln();
        let want = 2f64.ln() + sp(2.0) + sp(-1.0) + 0.5;
        assert!((nll[0] as f64 - want).abs() < 1e-5, "{nll:?}");
        // Huge logits neither overflow nor lose the linear term.
        let nll = vec1(recon_nll(
            t2(1, &[0.0, 1.0, 0.0]),
            t2(1, &[200.0, -200.0, -200.0]),
            None,
            Likelihood::Bernoulli,
        ));
        assert!((nll[0] - 400.0).abs() < 1e-3, "{nll:?}");
    }
}
