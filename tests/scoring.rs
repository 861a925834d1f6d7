//! The CPU scoring path against the plain block-by-block loop it replaced, in a test binary of
//! its own (burn's CPU random numbers are process-global: other tests' draws would interleave).
//! The negative ELBO scores blocks side by side on the CPU with the noise drawn beforehand in
//! the loop's order; the scores must be the loop's, bit for bit.

use burn::prelude::*;
use vaetool::backend::Cpu;
use vaetool::data::Matrix;
use vaetool::infer::{neg_elbo, INFER_BATCH};
use vaetool::model::loss::{kl_standard_normal, recon_nll};
use vaetool::model::{Likelihood, Vae, VaeConfig};

/// The loop vaetool scored with before: block after block, each draw through `sample_z`.
fn block_by_block(model: &Vae<Cpu>, vae: &VaeConfig, x: &Matrix, samples: usize) -> Vec<f32> {
    let device = Default::default();
    let mut out = Vec::new();
    for start in (0..x.rows).step_by(INFER_BATCH) {
        let end = (start + INFER_BATCH).min(x.rows);
        let xb = Tensor::<Cpu, 2>::from_data(
            TensorData::new(
                x.data[start * x.cols..end * x.cols].to_vec(),
                [end - start, x.cols],
            ),
            &device,
        );
        let (mu, lv) = model.encode(xb.clone());
        let mut recon = Tensor::<Cpu, 1>::zeros([end - start], &device);
        for _ in 0..samples {
            let out = model.decode(Vae::sample_z(mu.clone(), lv.clone()));
            recon = recon
                + recon_nll(
                    xb.clone(),
                    out,
                    model.out_logvar(vae.likelihood),
                    vae.likelihood,
                );
        }
        let score = recon / samples as f64 + kl_standard_normal(mu, lv);
        out.extend(score.into_data().to_vec::<f32>().unwrap());
    }
    out
}

#[test]
fn blocks_scored_side_by_side_equal_the_block_by_block_loop() {
    // five blocks, the last one short: a group of four side by side (the next group's noise
    // drawn meanwhile), then one alone
    let rows = 4 * INFER_BATCH + 123;
    let cols = 6;
    let data: Vec<f32> = (0..rows * cols)
        .map(|i| ((i * 7919 % 1000) as f32 / 250.0) - 2.0)
        .collect();
    let x = Matrix::new(rows, cols, data);
    let device = Default::default();
    for likelihood in [Likelihood::Gaussian, Likelihood::GaussianLearned] {
        let vae = VaeConfig::new(cols, vec![16, 8], 3).with_likelihood(likelihood);
        Cpu::seed(&device, 3);
        let model = vae.init::<Cpu>(&device);
        // burn initialises parameters on first use, from the same random numbers: use them once
        let _ = model.decode(model.encode(Tensor::zeros([1, cols], &device)).0);
        Cpu::seed(&device, 11);
        let expected = block_by_block(&model, &vae, &x, 4);
        Cpu::seed(&device, 11);
        let got: Vec<f32> = neg_elbo(&model, &vae, &x, 4, &device)
            .into_iter()
            .map(|v| v as f32)
            .collect();
        assert_eq!(got.len(), rows);
        let differing = got.iter().zip(&expected).filter(|(a, b)| a != b).count();
        assert_eq!(
            differing, 0,
            "{likelihood:?}: {differing} of {rows} scores differ"
        );
        // and the draws matter: another seed gives other scores
        Cpu::seed(&device, 12);
        let other = neg_elbo(&model, &vae, &x, 4, &device);
        assert!(other.iter().zip(&got).any(|(a, b)| *a as f32 != *b));
    }
}
