//! A batch padded to the fixed batch size (as on a GPU, `train::pad_batches`) has the loss and
//! the gradient of the same rows unpadded. In a test binary of its own: burn's autodiff graph
//! and CPU random numbers are process-global, and other unit tests running beside it
//! interfered (a missing graph node).

use burn::module::AutodiffModule;
use burn::optim::{GradientsParams, Optimizer};
use burn::prelude::*;
use vaetool::model::{Likelihood, Objective, Prior, Vae, VaeConfig};
use vaetool::train::batch_loss;

#[test]
fn a_padded_batch_has_the_loss_and_gradient_of_the_unpadded_one() {
    use vaetool::backend::{Cpu, CpuTrain};
    let device = Default::default();
    // 5 real rows, padded to 8 by repeating rows of the batch (as the training loop does)
    let rows: Vec<[f32; 3]> = (0..5)
        .map(|i| [i as f32 * 0.7 - 1.0, (i * i) as f32 * 0.1, 2.0 - i as f32])
        .collect();
    let flat = |r: &[[f32; 3]]| r.iter().flatten().copied().collect::<Vec<f32>>();
    let padded: Vec<[f32; 3]> = rows.iter().cycle().take(8).copied().collect();
    let mask = Tensor::<CpuTrain, 1>::from_data(
        TensorData::new(vec![1f32, 1., 1., 1., 1., 0., 0., 0.], [8]),
        &device,
    );
    let x5 = Tensor::<CpuTrain, 2>::from_data(TensorData::new(flat(&rows), [5, 3]), &device);
    let x8 = Tensor::<CpuTrain, 2>::from_data(TensorData::new(flat(&padded), [8, 3]), &device);
    let vae = VaeConfig::new(3, vec![6], 2);
    CpuTrain::seed(&device, 3);
    let model: Vae<CpuTrain> = vae.init(&device);
    let scalar = |t: Tensor<CpuTrain, 1>| t.into_scalar().elem::<f64>();
    // every objective: plain, trimmed (some rows cut, padding never counted), capacity
    for (trim, capacity) in [(0.0, None), (0.4, None), (0.0, Some((1.5, 10.0)))] {
        // the autoencoder objective draws no noise, so both batches see the same rows
        let terms = |x| {
            model.loss_terms(
                x,
                Likelihood::Gaussian,
                Prior::Standard,
                Objective::Autoencoder,
            )
        };
        // each loss is built, read and differentiated before the next is built: burn's
        // autodiff graph is shared through the model's parameters, and a backward pass frees
        // the nodes it visited (a second loss built beforehand lost its step on 2 cores)
        let loss = |padded: bool| {
            if padded {
                let (r8, _) = terms(x8.clone());
                let k8 = r8.clone().sqrt();
                batch_loss(r8, k8, 0.5, trim, capacity, Some((&mask, 5)))
            } else {
                let (r5, _) = terms(x5.clone());
                // a KL-like second term that differs by row
                let k5 = r5.clone().sqrt();
                batch_loss(r5, k5, 0.5, trim, capacity, None)
            }
        };
        // the loss's value and one SGD step: the same gradient leads to the same network
        let step = |loss: Tensor<CpuTrain, 1>| {
            let value = scalar(loss.clone());
            let g = GradientsParams::from_grads(loss.backward(), &model);
            let mut sgd = burn::optim::SgdConfig::new().init::<CpuTrain, Vae<CpuTrain>>();
            let m: Vae<Cpu> = sgd.step(0.1, model.clone(), g).valid();
            let means = m
                .encode_mean(Tensor::from_data(
                    TensorData::new(flat(&rows), [5, 3]),
                    &device,
                ))
                .into_data()
                .to_vec::<f32>()
                .unwrap();
            (value, means)
        };
        let (a, ga) = step(loss(false));
        let (b, gb) = step(loss(true));
        assert!(
            (a - b).abs() < 1e-5 * a.abs().max(1.0),
            "{trim} {capacity:?}: {a} vs {b}"
        );
        for (u, v) in ga.iter().zip(&gb) {
            assert!(
                (u - v).abs() < 1e-5,
                "{trim} {capacity:?}: {ga:?} vs {gb:?}"
            );
        }
    }
    // unpadded, batch_loss is the plain mean and trimmed_mean
    let v = Tensor::<Cpu, 1>::from_data(TensorData::new(vec![1f32, 2., 3., 10.], [4]), &device);
    let z = v.zeros_like();
    assert_eq!(
        batch_loss(v.clone(), z.clone(), 1.0, 0.0, None, None).into_scalar(),
        4.0
    );
    assert_eq!(batch_loss(v, z, 1.0, 0.25, None, None).into_scalar(), 2.0);
}
