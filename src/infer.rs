//! Inference on the plain backend (never through autodiff): latent means for embedding and
//! clustering, and per-row anomaly scores.

use burn::prelude::*;

use crate::data::Matrix;
use crate::model::loss::{
    kl_standard_normal, recon_nll, recon_terms, student_terms, STUDENT_CONST,
};
use crate::model::{Objective, Prior, Vae, VaeConfig};

/// Rows per inference batch on the CPU.
pub const INFER_BATCH: usize = 4096;

/// Rows per inference batch on a GPU: launches cost the same whatever the rows, so fewer,
/// larger blocks (65,536 rows × 784 inputs is 200 MB).
pub const GPU_INFER_BATCH: usize = 65_536;

/// Rows per inference batch on backend `B`.
pub fn infer_batch<B: Backend>() -> usize {
    if host_parallel::<B>() {
        INFER_BATCH
    } else {
        GPU_INFER_BATCH
    }
}

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
pub fn embed<B: Backend>(model: &Vae<B>, x: &Matrix, device: &B::Device) -> (Matrix, Matrix) {
    let mut mus = Vec::new();
    let mut lvs = Vec::new();
    let mut latent = 0;
    for start in (0..x.rows).step_by(infer_batch::<B>()) {
        let end = (start + infer_batch::<B>()).min(x.rows);
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

/// Default posterior draws per anomaly score of `rows` rows: up to 30, as long as the decoder
/// passes stay within about 2·10¹¹ multiply-adds (seconds on two cores), never fewer than 10.
/// Conv models: 10. With independent draws per row, 100 draws had beaten 10 (ROC-AUC shuttle
/// 0.9872 → 0.9891, cardio 0.8261 → 0.8372, seed 1); with every row on the same antithetic
/// draws ([`posterior_noise`]) the development benchmark's 15 tables average the same ROC-AUC
/// with 10, 30 or 100 (0.8279, 0.8283, 0.8282; `benches/RESULTS.md`), so the cap is 30.
pub fn default_samples(vae: &VaeConfig, rows: usize) -> usize {
    if vae.arch == crate::model::Arch::Conv {
        return 10;
    }
    // decoder widths: latent → reversed hidden → input
    let mut widths = vec![vae.latent];
    widths.extend(vae.hidden.iter().rev());
    widths.push(vae.input_dim);
    let macs: usize = widths.windows(2).map(|w| w[0] * w[1]).sum();
    (200_000_000_000 / (rows.max(1) * macs.max(1))).clamp(10, 30)
}

/// Whether `B` is vaetool's CPU backend, whose independent inference blocks are worth running
/// on several threads at once (a GPU backend queues them on one device anyway).
fn host_parallel<B: Backend>() -> bool {
    std::any::TypeId::of::<B>() == std::any::TypeId::of::<crate::backend::Cpu>()
}

/// The posterior noise of every score: `samples` standard-normal vectors of `latent` values,
/// `samples × latent` row-major, drawn from `seed` (xoshiro256++, so the same on every machine
/// and device), in antithetic pairs (ε, −ε: the draws' mean is exactly zero, which halves the
/// noise of a smooth score) with one plain draw last when `samples` is odd.
///
/// Every row is scored with these same draws (common random numbers), so a row's score depends
/// on the row, the model and the seed alone — never on the rows scored beside it: batches,
/// `--chunk-rows` chunks, Spark or Dask partitions all give the same score. Identical rows get
/// identical scores, and the Monte-Carlo error of two rows' scores is correlated, which is
/// what ranking them needs.
pub fn posterior_noise(seed: u64, samples: usize, latent: usize) -> Vec<f32> {
    use rand::SeedableRng;
    use rand_distr::Distribution as _;
    let mut rng = rand_xoshiro::Xoshiro256PlusPlus::seed_from_u64(seed);
    let mut out: Vec<f32> = Vec::with_capacity(samples * latent);
    for s in 0..samples {
        if s % 2 == 0 {
            out.extend((0..latent).map(|_| -> f32 { rand_distr::StandardNormal.sample(&mut rng) }));
        } else {
            // the antithetic twin of the draw before
            let start = out.len() - latent;
            out.extend_from_within(start..);
            for e in &mut out[start + latent..] {
                *e = -*e;
            }
        }
    }
    out
}

/// Draw `s` of [`posterior_noise`] as a `[1, latent]` tensor, broadcast over a block's rows.
fn noise_row<B: Backend>(
    noise: &[f32],
    s: usize,
    latent: usize,
    device: &B::Device,
) -> Tensor<B, 2> {
    Tensor::from_data(
        TensorData::new(noise[s * latent..(s + 1) * latent].to_vec(), [1, latent]),
        device,
    )
}

/// Computes `f` on the blocks of `rows` rows, each giving a `[b, w]` tensor, and returns them
/// concatenated (`rows × w`, row-major), read from the device once at the end. On the CPU
/// blocks run side by side (rayon): rows are independent and every draw is fixed beforehand,
/// so the order does not matter.
fn per_block<B: Backend>(rows: usize, f: impl Fn(usize, usize) -> Tensor<B, 2> + Sync) -> Vec<f32> {
    let blocks: Vec<(usize, usize)> = (0..rows)
        .step_by(infer_batch::<B>())
        .map(|start| (start, (start + infer_batch::<B>()).min(rows)))
        .collect();
    let parts: Vec<Tensor<B, 2>> = if host_parallel::<B>() && blocks.len() > 1 {
        use rayon::prelude::*;
        blocks.par_iter().map(|&(s, e)| f(s, e)).collect()
    } else {
        blocks.iter().map(|&(s, e)| f(s, e)).collect()
    };
    if parts.is_empty() {
        return Vec::new();
    }
    Tensor::cat(parts, 0) // [rows, w]
        .into_data()
        .to_vec::<f32>()
        .expect("f32 tensor")
}

/// Per-row negative ELBO averaged over `samples` posterior draws, the draws of
/// [`posterior_noise`] for `seed` (the KL term of the standard prior is exact; the mixture
/// and Su terms are averaged over the same draws). A row's score is independent of the other
/// rows of `x`.
pub fn neg_elbo<B: Backend>(
    model: &Vae<B>,
    vae: &VaeConfig,
    x: &Matrix,
    samples: usize,
    seed: u64,
    device: &B::Device,
) -> Vec<f64> {
    neg_elbo_with(model, vae, x, samples, seed, false, device)
}

/// The reconstruction terms of a score, `[batch, input]`: the model's likelihood, or with
/// `robust` the Student-t terms in place of a Gaussian's.
fn score_terms<B: Backend>(
    model: &Vae<B>,
    vae: &VaeConfig,
    x: Tensor<B, 2>,
    out: Tensor<B, 2>,
    robust: bool,
) -> Tensor<B, 2> {
    if robust {
        student_terms(x, out, model.score_logvar(vae))
    } else {
        recon_terms(x, out, model.score_logvar(vae), vae.likelihood)
    }
}

/// The fitted output variances' floor, as a fraction of their mean over the inputs: an input
/// the training rows never vary in (a digit's border pixel) would otherwise get a variance
/// near 0 and make any ink there an infinitely strong anomaly.
pub const FITTED_VARIANCE_FLOOR: f64 = 0.1;

/// The output log-variances of [`VaeConfig::fitted_variance`]: for each input, the log of the
/// mean squared error of the reconstructions at the posterior means of the rows of `x` (the
/// training rows), floored at [`FITTED_VARIANCE_FLOOR`] times the mean over the inputs (and
/// at 1e-12). `[input]`
pub fn fitted_output_logvar<B: Backend>(
    model: &Vae<B>,
    x: &Matrix,
    device: &B::Device,
) -> Vec<f32> {
    let sums = per_block::<B>(x.rows, |start, end| {
        let xb = batch_tensor::<B>(x, start, end, device); // [b, input]
        let (mu, _) = model.encode(xb.clone()); // [b, latent]
        (xb - model.decode(mu)).powi_scalar(2).sum_dim(0) // [1, input]
    });
    let mut mse = vec![0f64; x.cols];
    for block in sums.chunks(x.cols.max(1)) {
        for (m, &v) in mse.iter_mut().zip(block) {
            *m += f64::from(v);
        }
    }
    let rows = x.rows.max(1) as f64;
    mse.iter_mut().for_each(|m| *m /= rows);
    let floor =
        (mse.iter().sum::<f64>() / mse.len().max(1) as f64 * FITTED_VARIANCE_FLOOR).max(1e-12);
    mse.iter().map(|&m| m.max(floor).ln() as f32).collect()
}

/// [`neg_elbo`], with the Student-t terms of the robust score when `robust`.
fn neg_elbo_with<B: Backend>(
    model: &Vae<B>,
    vae: &VaeConfig,
    x: &Matrix,
    samples: usize,
    seed: u64,
    robust: bool,
    device: &B::Device,
) -> Vec<f64> {
    let samples = samples.max(1);
    let noise = posterior_noise(seed, samples, vae.latent);
    per_block::<B>(x.rows, |start, end| {
        let xb = batch_tensor::<B>(x, start, end, device); // [b, input]
        let (mu, lv) = model.encode(xb.clone()); // [b, latent]
        let std = (lv.clone() * 0.5).exp(); // [b, latent]
        let mut total = Tensor::<B, 1>::zeros([end - start], device);
        for s in 0..samples {
            let z = mu.clone() + std.clone() * noise_row::<B>(&noise, s, vae.latent, device); // [b, latent]
            total = total
                + score_terms(model, vae, xb.clone(), model.decode(z.clone()), robust)
                    .sum_dim(1)
                    .squeeze_dim::<1>(1); // [b]
            if vae.prior != Prior::Standard {
                total = total + model.prior_reg(vae.prior, mu.clone(), lv.clone(), z);
            }
        }
        let mean = total / samples as f64; // [b]
        if vae.prior == Prior::Standard {
            (mean + kl_standard_normal(mu, lv)).unsqueeze_dim::<2>(1) // [b, 1]
        } else {
            mean.unsqueeze_dim::<2>(1) // [b, 1]
        }
    })
    .into_iter()
    .map(f64::from)
    .collect()
}

/// The mean negative ELBO of the rows of `x`, one independent draw per row from the backend's
/// random numbers (seed it first): a cheap estimate of how well a model fits the data, for
/// comparing restarts (not a per-row score: see [`neg_elbo`]).
pub fn mean_neg_elbo<B: Backend>(
    model: &Vae<B>,
    vae: &VaeConfig,
    x: &Matrix,
    device: &B::Device,
) -> f64 {
    let mut total = 0.0;
    for start in (0..x.rows).step_by(infer_batch::<B>()) {
        let end = (start + infer_batch::<B>()).min(x.rows);
        let xb = batch_tensor::<B>(x, start, end, device); // [b, input]
        let (recon, reg) = model.loss_terms(xb, vae.likelihood, vae.prior, Objective::Elbo); // [b] ×2
        total += f64::from((recon + reg).sum().into_scalar().elem::<f32>());
    }
    total / x.rows.max(1) as f64
}

/// Cluster probabilities (VaDE's γ or Su's q(y|μ)) of every row at its latent mean, `rows × K`;
/// `None` for a model without a clustering prior.
pub fn cluster_probabilities<B: Backend>(
    model: &Vae<B>,
    x: &Matrix,
    device: &B::Device,
) -> Option<Matrix> {
    let mut out = Vec::new();
    let mut k = 0;
    for start in (0..x.rows).step_by(infer_batch::<B>()) {
        let end = (start + infer_batch::<B>()).min(x.rows);
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
    model: &Vae<B>,
    vae: &VaeConfig,
    x: &Matrix,
    device: &B::Device,
) -> Matrix {
    contributions(model, vae, x, false, device)
}

/// [`recon_contributions`], with the Student-t terms of the robust score when `robust`.
fn contributions<B: Backend>(
    model: &Vae<B>,
    vae: &VaeConfig,
    x: &Matrix,
    robust: bool,
    device: &B::Device,
) -> Matrix {
    let mut out = Vec::with_capacity(x.data.len());
    for start in (0..x.rows).step_by(infer_batch::<B>()) {
        let end = (start + infer_batch::<B>()).min(x.rows);
        let xb = batch_tensor::<B>(x, start, end, device);
        let (mu, _) = model.encode(xb.clone());
        let terms = score_terms(model, vae, xb, model.decode(mu), robust); // [b, input]
        out.extend(terms.into_data().to_vec::<f32>().expect("f32 tensor"));
    }
    Matrix::new(x.rows, x.cols, out)
}

/// The columns that drive each row's score: the reconstruction terms per input feature (the
/// Student-t terms for the robust score; one-hot blocks summed back to their column; the
/// constant of Gaussian or Student-t terms, with learned or fitted variances their log-scale
/// too, left out, so a perfect reconstruction contributes 0), largest first, `k` per row.
pub fn explain<B: Backend>(
    model: &Vae<B>,
    vae: &VaeConfig,
    schema: &crate::data::Schema,
    x: &Matrix,
    k: usize,
    score: ScoreKind,
    device: &B::Device,
) -> Vec<Vec<(usize, f64)>> {
    let robust = score == ScoreKind::Robust;
    let c = contributions(model, vae, x, robust, device);
    let offset = match vae.likelihood {
        _ if robust => STUDENT_CONST,
        crate::model::Likelihood::Bernoulli => 0.0,
        _ => crate::model::loss::HALF_LN_2PI,
    };
    // with learned or fitted variances each input's terms also hold s/2
    let half_logvar: Vec<f64> = match model.score_logvar(vae) {
        Some(s) => s
            .into_data()
            .to_vec::<f32>()
            .expect("f32 tensor")
            .into_iter()
            .map(|v| f64::from(v) / 2.0)
            .collect(),
        None => vec![0.0; c.cols],
    };
    (0..c.rows)
        .map(|i| {
            let row = c.row(i);
            let mut per: Vec<(usize, f64)> = Vec::with_capacity(schema.features.len());
            let mut at = 0;
            for (f, feat) in schema.features.iter().enumerate() {
                let w = feat.width();
                let v: f64 = row[at..at + w]
                    .iter()
                    .zip(&half_logvar[at..at + w])
                    .map(|(&t, &h)| f64::from(t) - offset - h)
                    .sum();
                per.push((f, v));
                at += w;
            }
            per.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
            per.truncate(k);
            per
        })
        .collect()
}

/// Which anomaly score to compute.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ScoreKind {
    /// Negative ELBO, averaged over posterior draws.
    Elbo,
    /// Negative importance-weighted bound (Burda et al. 2016) with K draws: tighter.
    Iwae,
    /// Reconstruction negative log-likelihood at the posterior mean.
    Recon,
    /// Image models: the negative ELBO in bits minus the image's complexity, the bits of its
    /// 8-bit pixels compressed with zlib (Serrà et al. 2020, "Input complexity and
    /// out-of-distribution detection with likelihood-based generative models"). Corrects the
    /// likelihood's preference for simple images.
    Complexity,
    /// The negative ELBO with Student-t terms ([`crate::model::loss::student_terms`], ν = 3)
    /// in place of a Gaussian model's squared errors: one far-off column cannot outweigh the
    /// rest of the row.
    Robust,
}

impl std::str::FromStr for ScoreKind {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "elbo" => Ok(Self::Elbo),
            "iwae" => Ok(Self::Iwae),
            "recon" => Ok(Self::Recon),
            "complexity" => Ok(Self::Complexity),
            "robust" => Ok(Self::Robust),
            _ => Err(format!(
                "unknown score '{s}' (expected elbo, robust, iwae, recon or complexity)"
            )),
        }
    }
}

impl ScoreKind {
    /// The name used on the command line.
    pub fn name(&self) -> &'static str {
        match self {
            Self::Elbo => "elbo",
            Self::Iwae => "iwae",
            Self::Recon => "recon",
            Self::Complexity => "complexity",
            Self::Robust => "robust",
        }
    }
}

/// The default score of a model: for a Gaussian model the robust score (the negative ELBO
/// with Student-t terms, ν = 3), otherwise the negative ELBO; for the poor man's VAE (which
/// has no posterior variance and no likelihood) the reconstruction error.
///
/// The robust score against the negative ELBO (benches/RESULTS.md): on the 15 tables of the
/// anomaly development benchmark (medians of seeds 1–5) mean ROC-AUC 0.8282 against 0.8283,
/// mean average precision 0.4519 against 0.4391, and the worst gap to IsolationForest −0.036
/// (spam) against −0.079 (spam); on the one-class image protocol MNIST 0.9021 against 0.9005
/// and Fashion-MNIST 0.9079 against 0.9064.
pub fn default_score(vae: &VaeConfig) -> ScoreKind {
    use crate::model::{Likelihood, Variant};
    match (vae.variant, vae.likelihood) {
        (Variant::PoorMan, _) => ScoreKind::Recon,
        (_, Likelihood::Gaussian | Likelihood::GaussianLearned) => ScoreKind::Robust,
        (_, Likelihood::Bernoulli) => ScoreKind::Elbo,
    }
}

/// Refuses scores a model does not define: ELBO and IWAE need a posterior variance and a
/// likelihood, which the poor man's VAE does not have; the robust score replaces a Gaussian
/// likelihood's terms; the complexity correction is for images.
pub fn check_score(vae: &VaeConfig, kind: ScoreKind) -> crate::Result<()> {
    if kind == ScoreKind::Complexity && vae.image.is_none() {
        return Err(crate::VaeError::Usage(
            "--score complexity compares an image's likelihood with its compressed size: it \
             needs a model of images"
                .into(),
        ));
    }
    if vae.variant == crate::model::Variant::PoorMan && kind != ScoreKind::Recon {
        return Err(crate::VaeError::Usage(format!(
            "--score {} is not defined for the poor man's VAE (it has no posterior variance and \
             no likelihood): use --score recon",
            kind.name()
        )));
    }
    if kind == ScoreKind::Robust && vae.likelihood == crate::model::Likelihood::Bernoulli {
        return Err(crate::VaeError::Usage(
            "--score robust replaces a Gaussian likelihood's squared errors with Student-t \
             terms: it needs --likelihood gaussian or gaussian-learned, not bernoulli"
                .into(),
        ));
    }
    Ok(())
}

const LN_2PI: f64 = 1.837_877_066_409_345_5;

/// Importance log-weights log p(x|z_k) + log p(z_k) − log q(z_k|x) of `k` posterior draws per
/// row (the draws of [`posterior_noise`] for `seed`), `rows × k`. Their mean is a `k`-draw
/// ELBO estimate; log-mean-exp is the IWAE bound.
pub fn log_weights<B: Backend>(
    model: &Vae<B>,
    vae: &VaeConfig,
    x: &Matrix,
    k: usize,
    seed: u64,
    device: &B::Device,
) -> Matrix {
    let k = k.max(1);
    let noise = posterior_noise(seed, k, vae.latent);
    let out = per_block::<B>(x.rows, |start, end| {
        let xb = batch_tensor::<B>(x, start, end, device); // [b, input]
        let (mu, lv) = model.encode(xb.clone()); // [b, latent]
        let std = (lv.clone() * 0.5).exp(); // [b, latent]
        let mut cols = Vec::with_capacity(k);
        for s in 0..k {
            let z = mu.clone() + std.clone() * noise_row::<B>(&noise, s, vae.latent, device); // [b, latent]
            let log_px = recon_nll(
                xb.clone(),
                model.decode(z.clone()),
                model.score_logvar(vae),
                vae.likelihood,
            )
            .neg();
            let d = z.dims()[1] as f64;
            let log_q = ((z.clone() - mu.clone()).powi_scalar(2) * lv.clone().neg().exp()
                + lv.clone())
            .sum_dim(1)
            .squeeze_dim::<1>(1)
            .add_scalar(d * LN_2PI)
                * -0.5; // [b]
            cols.push((log_px + model.log_prior(z) - log_q).unsqueeze_dim::<2>(1));
            // [b, 1]
        }
        Tensor::cat(cols, 1) // [b, k]
    });
    Matrix::new(x.rows, k, out)
}

/// Negative IWAE bound −log (1/K) Σ_k w_k per row (Burda et al. 2016).
pub fn neg_iwae<B: Backend>(
    model: &Vae<B>,
    vae: &VaeConfig,
    x: &Matrix,
    k: usize,
    seed: u64,
    device: &B::Device,
) -> Vec<f64> {
    let w = log_weights(model, vae, x, k, seed, device);
    (0..w.rows)
        .map(|i| {
            let r = w.row(i);
            let m = r.iter().copied().fold(f32::NEG_INFINITY, f32::max) as f64;
            let s: f64 = r.iter().map(|&v| (v as f64 - m).exp()).sum();
            -(m + (s / w.cols as f64).ln())
        })
        .collect()
}

/// Reconstruction negative log-likelihood at the posterior mean, per row.
pub fn recon_score<B: Backend>(
    model: &Vae<B>,
    vae: &VaeConfig,
    x: &Matrix,
    device: &B::Device,
) -> Vec<f64> {
    let c = recon_contributions(model, vae, x, device);
    (0..c.rows)
        .map(|i| c.row(i).iter().map(|&v| f64::from(v)).sum())
        .collect()
}

/// The chosen anomaly score of every row (`samples` draws of [`posterior_noise`] for `seed`
/// for elbo and iwae). A row's score depends on the row alone, not on the others in `x`.
pub fn score<B: Backend>(
    model: &Vae<B>,
    vae: &VaeConfig,
    x: &Matrix,
    kind: ScoreKind,
    samples: usize,
    seed: u64,
    device: &B::Device,
) -> Vec<f64> {
    match kind {
        ScoreKind::Elbo => neg_elbo(model, vae, x, samples, seed, device),
        ScoreKind::Robust => neg_elbo_with(model, vae, x, samples, seed, true, device),
        ScoreKind::Iwae => neg_iwae(model, vae, x, samples, seed, device),
        ScoreKind::Recon => recon_score(model, vae, x, device),
        ScoreKind::Complexity => neg_elbo(model, vae, x, samples, seed, device)
            .into_iter()
            .enumerate()
            .map(|(i, nats)| nats / std::f64::consts::LN_2 - complexity_bits(x.row(i)))
            .collect(),
    }
}

/// The complexity of an image (pixels in [0, 1]): the size in bits of its 8-bit pixels
/// compressed with zlib at the best level.
pub fn complexity_bits(pixels: &[f32]) -> f64 {
    use std::io::Write;
    let bytes: Vec<u8> = pixels
        .iter()
        .map(|&v| (v.clamp(0.0, 1.0) * 255.0).round() as u8)
        .collect();
    let mut z = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::best());
    z.write_all(&bytes).expect("writing to memory");
    8.0 * z.finish().expect("writing to memory").len() as f64
}

#[cfg(test)]
mod complexity_tests {
    use super::*;

    #[test]
    fn default_samples_follow_the_decoder_cost() {
        // 20 columns, hidden [256, 128], latent 5: 5·128 + 128·256 + 256·20 = 38,528 MACs
        let tab = VaeConfig::new(20, vec![256, 128], 5);
        assert_eq!(default_samples(&tab, 10_000), 30);
        assert_eq!(default_samples(&tab, 200_000), 25);
        assert_eq!(default_samples(&tab, 1_000_000), 10);
        // the VaDE-size MLP on 10,000 digits: 1.66M MACs a row
        let mlp = VaeConfig::new(784, vec![500, 500, 2000], 10);
        assert_eq!(default_samples(&mlp, 10_000), 12);
        let conv = VaeConfig::new(784, vec![256], 10).with_arch(crate::model::Arch::Conv);
        assert_eq!(default_samples(&conv, 100), 10);
    }

    #[test]
    fn busy_images_are_more_complex_than_flat_ones() {
        let flat = vec![0.0f32; 784];
        let mut state = 7u32;
        let noise: Vec<f32> = (0..784)
            .map(|_| {
                state = state.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
                (state >> 24) as f32 / 255.0
            })
            .collect();
        let (c_flat, c_noise) = (complexity_bits(&flat), complexity_bits(&noise));
        // 784 zero bytes compress to a few bytes; 784 random bytes do not compress
        assert!(c_flat < 8.0 * 30.0, "{c_flat}");
        assert!(c_noise > 8.0 * 784.0, "{c_noise}");
        let e = check_score(&VaeConfig::new(4, vec![8], 2), ScoreKind::Complexity)
            .unwrap_err()
            .to_string();
        assert!(e.contains("needs a model of images"), "{e}");
    }

    #[test]
    fn the_robust_score_is_the_default_for_gaussian_models() {
        use crate::model::{Likelihood, Variant};
        let tab = VaeConfig::new(4, vec![8], 2);
        assert_eq!(default_score(&tab), ScoreKind::Robust);
        let learned = tab.clone().with_likelihood(Likelihood::GaussianLearned);
        assert_eq!(default_score(&learned), ScoreKind::Robust);
        let bern = tab.clone().with_likelihood(Likelihood::Bernoulli);
        assert_eq!(default_score(&bern), ScoreKind::Elbo);
        let img = tab
            .clone()
            .with_image(Some(crate::data::ImageShape::new(1, 2, 2)));
        assert_eq!(default_score(&img), ScoreKind::Robust);
        let img = img.with_likelihood(Likelihood::Bernoulli);
        assert_eq!(default_score(&img), ScoreKind::Elbo);
        let poor = tab.clone().with_variant(Variant::PoorMan);
        assert_eq!(default_score(&poor), ScoreKind::Recon);
        assert!(check_score(&learned, ScoreKind::Robust).is_ok());
        let e = check_score(&bern, ScoreKind::Robust)
            .unwrap_err()
            .to_string();
        assert_eq!(
            e,
            "--score robust replaces a Gaussian likelihood's squared errors with Student-t terms: \
             it needs --likelihood gaussian or gaussian-learned, not bernoulli"
        );
        assert_eq!("robust".parse::<ScoreKind>(), Ok(ScoreKind::Robust));
        assert_eq!(ScoreKind::Robust.name(), "robust");
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::backend::Cpu;

    #[test]
    fn recon_score_sums_the_contributions() {
        let x = Matrix::new(3, 4, (0..12).map(|v| v as f32 / 4.0 - 1.0).collect());
        let vae = VaeConfig::new(4, vec![8], 2);
        let model = vae.init::<Cpu>(&Default::default());
        let c = recon_contributions(&model, &vae, &x, &Default::default());
        let s = recon_score(&model, &vae, &x, &Default::default());
        let first: f64 = c.row(0).iter().map(|&v| v as f64).sum();
        assert!((s[0] - first).abs() < 1e-9);
    }

    #[test]
    fn robust_terms_are_the_student_t_of_the_gaussian_residuals() {
        // row 1 is row 0 with one column 50 off; whatever the (random) weights, each robust
        // term is 2·log(1 + r²/3) + const where the Gaussian's is r²/2 + const, on the same
        // reconstruction
        let mut v = vec![0.0f32; 8];
        v[4] = 50.0;
        let x = Matrix::new(2, 4, v);
        let vae = VaeConfig::new(4, vec![8], 2);
        let model = vae.init::<Cpu>(&Default::default());
        let dev = Default::default();
        let g = contributions(&model, &vae, &x, false, &dev);
        let t = contributions(&model, &vae, &x, true, &dev);
        for (&g, &t) in g.data.iter().zip(&t.data) {
            let r2 = 2.0 * (f64::from(g) - crate::model::loss::HALF_LN_2PI);
            let want = 2.0 * (r2 / 3.0).ln_1p() + STUDENT_CONST;
            assert!(
                (f64::from(t) - want).abs() < 1e-3 * want.abs().max(1.0),
                "{t} vs {want}"
            );
        }
        // the robust explanation: those terms less their constant, the far column first
        let mut columns = vec![crate::data::Column::default(); 4];
        for c in &mut columns {
            c.push("0");
            c.push("1");
        }
        let table = crate::data::Table {
            source: "t.csv".into(),
            headers: (0..4).map(|j| format!("c{j}")).collect(),
            columns,
            lines: vec![2, 3],
        };
        let (schema, _) = crate::data::Schema::fit(&table, &Default::default()).unwrap();
        let e = explain(&model, &vae, &schema, &x, 4, ScoreKind::Robust, &dev);
        assert_eq!(e[1][0].0, 0);
        let total: f64 = e[1].iter().map(|&(_, v)| v).sum();
        let want: f64 = t.row(1).iter().map(|&v| f64::from(v) - STUDENT_CONST).sum();
        assert!((total - want).abs() < 1e-4, "{total} vs {want}");
        // and the scores: both higher for the far row, the robust one by far less
        let elbo = score(&model, &vae, &x, ScoreKind::Elbo, 4, 1, &dev);
        let robust = score(&model, &vae, &x, ScoreKind::Robust, 4, 1, &dev);
        assert!(robust[1] > robust[0] && elbo[1] - elbo[0] > robust[1] - robust[0]);
    }

    #[test]
    fn fitted_variances_are_the_mean_squared_errors_floored() {
        // columns 0-2 far from anything the untrained decoder outputs, column 3 at 0: its
        // mean squared error is under a tenth of the mean, so the floor holds it
        let rows = 6;
        let x = Matrix::new(
            rows,
            4,
            (0..rows * 4)
                .map(|i| if i % 4 == 3 { 0.0 } else { 40.0 + i as f32 })
                .collect(),
        );
        let vae = VaeConfig::new(4, vec![8], 2);
        let model = vae.init::<Cpu>(&Default::default());
        let dev = Default::default();
        let got = fitted_output_logvar(&model, &x, &dev);
        let xt = batch_tensor::<Cpu>(&x, 0, rows, &dev);
        let (mu, _) = model.encode(xt.clone());
        let out: Vec<f32> = model.decode(mu).into_data().to_vec().unwrap();
        let mse: Vec<f64> = (0..4)
            .map(|j| {
                (0..rows)
                    .map(|i| (f64::from(x.data[i * 4 + j]) - f64::from(out[i * 4 + j])).powi(2))
                    .sum::<f64>()
                    / rows as f64
            })
            .collect();
        let floor = mse.iter().sum::<f64>() / 4.0 * FITTED_VARIANCE_FLOOR;
        assert!(
            mse[3] < floor && mse[..3].iter().all(|&m| m > floor),
            "{mse:?}"
        );
        for j in 0..4 {
            let want = mse[j].max(floor).ln();
            assert!(
                (f64::from(got[j]) - want).abs() < 1e-4,
                "{j}: {} vs {want}",
                got[j]
            );
        }
    }

    #[test]
    fn a_fitted_variance_scores_as_the_learned_likelihood_with_those_variances() {
        use crate::model::Likelihood;
        let x = Matrix::new(3, 4, (0..12).map(|v| v as f32 / 4.0 - 1.0).collect());
        let dev = Default::default();
        let unit = VaeConfig::new(4, vec![8], 2);
        let mut model = unit.init::<Cpu>(&dev);
        let before: Vec<Vec<f64>> = [ScoreKind::Elbo, ScoreKind::Robust]
            .map(|k| score(&model, &unit, &x, k, 4, 1, &dev))
            .into();
        // variances fitted as 1 (log 0) leave every score as it was
        let fitted = unit.clone().with_fitted_variance(true);
        model.set_out_logvar(&[0.0; 4], &dev);
        for (k, b) in [ScoreKind::Elbo, ScoreKind::Robust]
            .into_iter()
            .zip(&before)
        {
            assert_eq!(&score(&model, &fitted, &x, k, 4, 1, &dev), b);
        }
        // other variances: the scores of a gaussian-learned model with the same weights
        model.set_out_logvar(&[-2.0, -0.5, 0.5, 1.5], &dev);
        let learned = unit.clone().with_likelihood(Likelihood::GaussianLearned);
        for k in [ScoreKind::Elbo, ScoreKind::Robust, ScoreKind::Iwae] {
            let a = score(&model, &fitted, &x, k, 4, 1, &dev);
            let b = score(&model, &learned, &x, k, 4, 1, &dev);
            assert_eq!(a, b, "{k:?}");
            if k != ScoreKind::Iwae {
                assert_ne!(&a, &before[usize::from(k == ScoreKind::Robust)], "{k:?}");
            }
        }
        // a Gaussian model that was not fitted ignores the stored values
        assert_eq!(
            score(&model, &unit, &x, ScoreKind::Elbo, 4, 1, &dev),
            before[0]
        );
        assert!(model.score_logvar(&unit).is_none());
    }
}
