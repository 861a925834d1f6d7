//! Generating rows: latent draws from the model's prior (N(0, I), one mixture component, or
//! one of Su's classes), decoded to the mean of p(x|z) and mapped back to the original units
//! by [`crate::data::Schema::inverse_rows`]; reconstructions (decoded posterior means) and
//! straight-line interpolations between two latent means.

use burn::prelude::*;
use rand::{Rng, SeedableRng};
use rand_distr::{Distribution, StandardNormal, WeightedIndex};
use rand_xoshiro::Xoshiro256PlusPlus;

use crate::data::Matrix;
use crate::error::{Result, VaeError};
use crate::model::{Likelihood, Vae, VaeConfig};

/// Latent draws and the component each came from (`None` for a standard prior).
pub fn sample_latents<B: Backend>(
    model: &Vae<B>,
    vae: &VaeConfig,
    n: usize,
    cluster: Option<usize>,
    seed: u64,
) -> Result<(Matrix, Vec<Option<usize>>)> {
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(seed);
    let d = vae.latent;
    let comps = model.prior_components();
    if let (Some(c), None) = (cluster, &comps) {
        return Err(VaeError::Usage(format!(
            "--cluster {c}: this model has no clustering prior (train one with --method vade or su)"
        )));
    }
    if let (Some(c), Some((w, _, _))) = (cluster, &comps) {
        if c >= w.len() {
            return Err(VaeError::Usage(format!(
                "--cluster {c} does not exist: the model has clusters 0 to {}",
                w.len() - 1
            )));
        }
    }
    let mut z = Vec::with_capacity(n * d);
    let mut from = Vec::with_capacity(n);
    for _ in 0..n {
        match &comps {
            None => {
                z.extend((0..d).map(|_| rng.sample::<f32, _>(StandardNormal)));
                from.push(None);
            }
            Some((w, m, v)) => {
                let c = match cluster {
                    Some(c) => c,
                    None => WeightedIndex::new(w)
                        .expect("positive weights")
                        .sample(&mut rng),
                };
                for j in 0..d {
                    let e: f32 = rng.sample(StandardNormal);
                    z.push(m[c * d + j] + v[c * d + j].sqrt() * e);
                }
                from.push(Some(c));
            }
        }
    }
    Ok((Matrix::new(n, d, z), from))
}

/// The mean of p(x|z) for every latent row: decoder output for a Gaussian, sigmoid of the
/// logits for a Bernoulli.
pub fn decode_mean<B: Backend>(
    model: &Vae<B>,
    vae: &VaeConfig,
    z: &Matrix,
    device: &B::Device,
) -> Matrix {
    let t = Tensor::<B, 2>::from_data(TensorData::new(z.data.clone(), [z.rows, z.cols]), device);
    let out = model.decode(t); // [n, input]
    let out = match vae.likelihood {
        Likelihood::Bernoulli => burn::tensor::activation::sigmoid(out),
        _ => out,
    };
    Matrix::new(
        z.rows,
        vae.input_dim,
        out.into_data().to_vec::<f32>().expect("f32 tensor"),
    )
}

/// Decoded posterior means: the model's reconstruction of every row (model space).
pub fn reconstruct<B: Backend>(
    model: &Vae<B>,
    vae: &VaeConfig,
    x: &Matrix,
    device: &B::Device,
) -> Matrix {
    let (mu, _) = crate::infer::embed(model, x, device); // [n, latent]
    let mut data = Vec::with_capacity(x.rows * vae.input_dim);
    for start in (0..mu.rows).step_by(512) {
        let end = (start + 512).min(mu.rows);
        let z = Matrix::new(
            end - start,
            mu.cols,
            mu.data[start * mu.cols..end * mu.cols].to_vec(),
        );
        data.extend(decode_mean(model, vae, &z, device).data);
    }
    Matrix::new(x.rows, vae.input_dim, data)
}

/// `steps` evenly spaced points on the segment from `a` to `b`, both ends included (one
/// point, `a`, when `steps` is 1).
pub fn interpolate(a: &[f32], b: &[f32], steps: usize) -> Matrix {
    let mut data = Vec::with_capacity(steps * a.len());
    for s in 0..steps {
        let t = if steps > 1 {
            s as f32 / (steps - 1) as f32
        } else {
            0.0
        };
        data.extend(a.iter().zip(b).map(|(&u, &v)| u + t * (v - u)));
    }
    Matrix::new(steps, a.len(), data)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn interpolation_includes_both_ends() {
        let m = interpolate(&[0.0, 10.0], &[1.0, 0.0], 5);
        assert_eq!(m.rows, 5);
        assert_eq!(m.row(0), &[0.0, 10.0]);
        assert_eq!(m.row(2), &[0.5, 5.0]);
        assert_eq!(m.row(4), &[1.0, 0.0]);
        assert_eq!(interpolate(&[3.0], &[4.0], 1).row(0), &[3.0]);
    }
}
