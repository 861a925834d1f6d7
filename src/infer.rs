//! Inference on the plain backend (never through autodiff): latent means for embedding and
//! clustering, and per-row anomaly scores.

use burn::prelude::*;

use crate::data::Matrix;
use crate::model::loss::{kl_standard_normal, recon_nll, recon_terms};
use crate::model::{MlpVae, Objective, Prior, VaeConfig};

/// Rows per inference batch.
pub const INFER_BATCH: usize = 4096;

fn batch_tensor<B: Backend>(
    x: &Matrix,
    start: usize,
    end: usize,
    device: &B::Device,
) -> Tensor<B, 2> {
    Tensor::from_data(
        TensorData::new(
            x.data[start * x.cols..end * x.cols].to_vec(),
            [end - start, x.cols],
        ),
        device,
    )
}

/// Posterior means and log-variances, each `rows × latent`, row-major.
pub fn embed<B: Backend>(model: &MlpVae<B>, x: &Matrix, device: &B::Device) -> (Matrix, Matrix) {
    let mut mus = Vec::new();
    let mut lvs = Vec::new();
    let mut latent = 0;
    for start in (0..x.rows).step_by(INFER_BATCH) {
        let end = (start + INFER_BATCH).min(x.rows);
        let (mu, lv) = model.encode(batch_tensor(x, start, end, device)); // [b, latent] ×2
        latent = mu.dims()[1];
        mus.extend(mu.into_data().to_vec::<f32>().expect("f32 tensor"));
        lvs.extend(lv.into_data().to_vec::<f32>().expect("f32 tensor"));
    }
    (
        Matrix::new(x.rows, latent, mus),
        Matrix::new(x.rows, latent, lvs),
    )
}

/// Per-row negative ELBO averaged over `samples` posterior draws (the KL term is exact).
/// Seed the backend first for reproducible scores.
pub fn neg_elbo<B: Backend>(
    model: &MlpVae<B>,
    vae: &VaeConfig,
    x: &Matrix,
    samples: usize,
    device: &B::Device,
) -> Vec<f64> {
    let samples = samples.max(1);
    let mut scores = Vec::with_capacity(x.rows);
    for start in (0..x.rows).step_by(INFER_BATCH) {
        let end = (start + INFER_BATCH).min(x.rows);
        let xb = batch_tensor::<B>(x, start, end, device); // [b, input]
        let score = if vae.prior == Prior::Standard {
            // The KL is exact: encode once, average the reconstruction over the draws.
            let (mu, lv) = model.encode(xb.clone()); // [b, latent]
            let mut recon = Tensor::<B, 1>::zeros([end - start], device);
            for _ in 0..samples {
                let z = MlpVae::sample_z(mu.clone(), lv.clone());
                let out = model.decode(z);
                recon = recon
                    + recon_nll(
                        xb.clone(),
                        out,
                        model.out_logvar(vae.likelihood),
                        vae.likelihood,
                    );
            }
            recon / samples as f64 + kl_standard_normal(mu, lv) // [b]
        } else {
            // The mixture and Su terms depend on the sampled z: average both terms.
            let mut total = Tensor::<B, 1>::zeros([end - start], device);
            for _ in 0..samples {
                let (recon, reg) =
                    model.loss_terms(xb.clone(), vae.likelihood, vae.prior, Objective::Elbo);
                total = total + recon + reg;
            }
            total / samples as f64 // [b]
        };
        scores.extend(
            score
                .into_data()
                .to_vec::<f32>()
                .expect("f32 tensor")
                .into_iter()
                .map(f64::from),
        );
    }
    scores
}

/// Cluster probabilities (VaDE's γ or Su's q(y|μ)) of every row at its latent mean, `rows × K`;
/// `None` for a model without a clustering prior.
pub fn cluster_probabilities<B: Backend>(
    model: &MlpVae<B>,
    x: &Matrix,
    device: &B::Device,
) -> Option<Matrix> {
    let mut out = Vec::new();
    let mut k = 0;
    for start in (0..x.rows).step_by(INFER_BATCH) {
        let end = (start + INFER_BATCH).min(x.rows);
        let (mu, _) = model.encode(batch_tensor(x, start, end, device));
        let p = model.cluster_probabilities(mu)?; // [b, K]
        k = p.dims()[1];
        out.extend(p.into_data().to_vec::<f32>().expect("f32 tensor"));
    }
    Some(Matrix::new(x.rows, k, out))
}

/// Per-row, per-input reconstruction terms −log p(x_i|z) at the posterior mean:
/// which inputs drive a row's score.
pub fn recon_contributions<B: Backend>(
    model: &MlpVae<B>,
    vae: &VaeConfig,
    x: &Matrix,
    device: &B::Device,
) -> Matrix {
    let mut out = Vec::with_capacity(x.data.len());
    for start in (0..x.rows).step_by(INFER_BATCH) {
        let end = (start + INFER_BATCH).min(x.rows);
        let xb = batch_tensor::<B>(x, start, end, device);
        let (mu, _) = model.encode(xb.clone());
        let terms = recon_terms(
            xb,
            model.decode(mu),
            model.out_logvar(vae.likelihood),
            vae.likelihood,
        );
        out.extend(terms.into_data().to_vec::<f32>().expect("f32 tensor"));
    }
    Matrix::new(x.rows, x.cols, out)
}
