//! Anomaly scores are per-row functions: a row's score depends on the row, the model and the
//! seed, never on the rows scored beside it (blocks, `--chunk-rows` chunks, Spark or Dask
//! partitions). In a test binary of its own: it initialises models from burn's process-global
//! CPU random numbers.

use burn::prelude::*;
use vaetool::backend::Cpu;
use vaetool::data::Matrix;
use vaetool::infer::{log_weights, neg_elbo, posterior_noise, INFER_BATCH};
use vaetool::model::loss::{kl_standard_normal, recon_nll};
use vaetool::model::{Likelihood, Prior, Vae, VaeConfig};

fn data(rows: usize, cols: usize) -> Matrix {
    let data: Vec<f32> = (0..rows * cols)
        .map(|i| ((i * 7919 % 1000) as f32 / 250.0) - 2.0)
        .collect();
    Matrix::new(rows, cols, data)
}

fn rows_of(x: &Matrix, start: usize, end: usize) -> Matrix {
    Matrix::new(
        end - start,
        x.cols,
        x.data[start * x.cols..end * x.cols].to_vec(),
    )
}

fn model(vae: &VaeConfig) -> Vae<Cpu> {
    let device = Default::default();
    Cpu::seed(&device, 3);
    let model = vae.init::<Cpu>(&device);
    // burn initialises parameters on first use: use them once
    let _ = model.decode(model.encode(Tensor::zeros([1, vae.input_dim], &device)).0);
    model
}

/// The largest relative difference between two score vectors.
fn max_rel_diff(a: &[f64], b: &[f64]) -> f64 {
    assert_eq!(a.len(), b.len());
    a.iter()
        .zip(b)
        .map(|(x, y)| (x - y).abs() / x.abs().max(1.0))
        .fold(0.0, f64::max)
}

#[test]
fn a_rows_score_does_not_depend_on_the_rows_beside_it() {
    // five blocks of the CPU path, the last one short
    let rows = 4 * INFER_BATCH + 123;
    let cols = 6;
    let x = data(rows, cols);
    let device = Default::default();
    for (likelihood, prior) in [
        (Likelihood::Gaussian, Prior::Standard),
        (Likelihood::GaussianLearned, Prior::Standard),
        (Likelihood::Gaussian, Prior::Mixture(3)),
    ] {
        let vae = VaeConfig::new(cols, vec![16, 8], 3)
            .with_likelihood(likelihood)
            .with_prior(prior);
        let model = model(&vae);
        let whole = neg_elbo(&model, &vae, &x, 4, 11, &device);
        assert_eq!(whole.len(), rows);
        // the same rows in other groupings: one by one, odd chunks, shifted blocks
        let mut pieces = Vec::new();
        for (start, end) in [(0, 1), (1, 8), (8, 5000), (5000, rows)] {
            pieces.extend(neg_elbo(
                &model,
                &vae,
                &rows_of(&x, start, end),
                4,
                11,
                &device,
            ));
        }
        let d = max_rel_diff(&whole, &pieces);
        assert!(d <= 1e-6, "{likelihood:?} {prior:?}: differs by {d}");
        // the burn RNG plays no part: drawing from it between calls changes nothing
        let _ = Tensor::<Cpu, 2>::random([100, 3], burn::tensor::Distribution::Default, &device);
        let again = neg_elbo(&model, &vae, &x, 4, 11, &device);
        assert_eq!(again, whole, "{likelihood:?} {prior:?}");
        // and the seed matters
        let other = neg_elbo(&model, &vae, &x, 4, 12, &device);
        assert!(other.iter().zip(&whole).any(|(a, b)| a != b));
    }
}

#[test]
fn the_score_is_the_mean_over_the_seeded_draws_in_closed_form() {
    // −ELBO(x) = (1/S) Σ_s −log p(x | μ + σ ⊙ ε_s) + KL(N(μ, σ²) ‖ N(0, I)), ε_s from
    // posterior_noise, computed here row by row
    let cols = 5;
    let x = data(40, cols);
    let device = Default::default();
    let vae = VaeConfig::new(cols, vec![12], 2);
    let model = model(&vae);
    let samples = 5;
    let noise = posterior_noise(9, samples, vae.latent);
    // antithetic pairs, then one plain draw
    assert_eq!(noise.len(), samples * vae.latent);
    for s in [0, 2] {
        for j in 0..vae.latent {
            assert_eq!(noise[(s + 1) * vae.latent + j], -noise[s * vae.latent + j]);
        }
    }
    let got = neg_elbo(&model, &vae, &x, samples, 9, &device);
    for (i, &score) in got.iter().enumerate() {
        let xi =
            Tensor::<Cpu, 2>::from_data(TensorData::new(x.row(i).to_vec(), [1, cols]), &device);
        let (mu, lv) = model.encode(xi.clone());
        let mut recon = 0.0;
        for s in 0..samples {
            let eps = Tensor::<Cpu, 2>::from_data(
                TensorData::new(
                    noise[s * vae.latent..(s + 1) * vae.latent].to_vec(),
                    [1, vae.latent],
                ),
                &device,
            );
            let z = mu.clone() + (lv.clone() * 0.5).exp() * eps;
            let r = recon_nll(
                xi.clone(),
                model.decode(z),
                model.out_logvar(vae.likelihood),
                vae.likelihood,
            );
            recon += f64::from(r.into_scalar());
        }
        let kl = f64::from(kl_standard_normal(mu, lv).into_scalar());
        let expected = recon / samples as f64 + kl;
        assert!(
            (score - expected).abs() <= 1e-5 * expected.abs().max(1.0),
            "row {i}: {score} vs {expected}"
        );
    }
}

#[test]
fn importance_weights_do_not_depend_on_the_rows_beside_them() {
    let rows = INFER_BATCH + 77;
    let cols = 4;
    let x = data(rows, cols);
    let device = Default::default();
    let vae = VaeConfig::new(cols, vec![8], 2);
    let model = model(&vae);
    let whole = log_weights(&model, &vae, &x, 6, 5, &device);
    let part = log_weights(&model, &vae, &rows_of(&x, 100, 101), 6, 5, &device);
    let a: Vec<f64> = whole.row(100).iter().map(|&v| f64::from(v)).collect();
    let b: Vec<f64> = part.row(0).iter().map(|&v| f64::from(v)).collect();
    let d = max_rel_diff(&a, &b);
    assert!(d <= 1e-6, "differs by {d}");
}
