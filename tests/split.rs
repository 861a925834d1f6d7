//! A training step split in two halves on two threads (`train::split_step`, the CPU's default
//! for large enough steps) has the whole batch's gradients, the same bits on one thread or
//! two, and the training loop that uses it gives the same run on any thread count. In a test
//! binary of its own: burn's autodiff graph and CPU random numbers are process-global.

use burn::module::{Module, ModuleVisitor, Param};
use burn::optim::{GradientsAccumulator, GradientsParams};
use burn::prelude::*;
use vaetool::backend::{Cpu, CpuTrain};
use vaetool::data::Matrix;
use vaetool::model::{Objective, Vae, VaeConfig};
use vaetool::train::{split_step, train, TrainConfig};

/// Every float parameter's gradient in two sets, as flat vectors, in the module's order.
fn gradient_pairs(
    model: &Vae<CpuTrain>,
    a: &GradientsParams,
    b: &GradientsParams,
) -> Vec<(Vec<f32>, Vec<f32>)> {
    struct Pairs<'a>(
        &'a GradientsParams,
        &'a GradientsParams,
        Vec<(Vec<f32>, Vec<f32>)>,
    );
    impl ModuleVisitor<CpuTrain> for Pairs<'_> {
        fn visit_float<const D: usize>(&mut self, p: &Param<Tensor<CpuTrain, D>>) {
            // (a parameter the loss does not read has no gradient in either)
            let flat = |g: &GradientsParams| {
                g.get::<Cpu, D>(p.id)
                    .map(|t| t.into_data().to_vec::<f32>().unwrap())
            };
            match (flat(self.0), flat(self.1)) {
                (Some(a), Some(b)) => self.2.push((a, b)),
                (None, None) => {}
                (a, b) => panic!("a gradient in one set only: {a:?} {b:?}"),
            }
        }
    }
    let mut v = Pairs(a, b, Vec::new());
    model.visit(&mut v);
    v.2
}

fn a_step_split_in_two_halves_has_the_whole_batchs_gradients_on_any_thread_count() {
    let device = Default::default();
    let vae = VaeConfig::new(5, vec![16, 8], 3);
    let model: Vae<CpuTrain> = vae.init(&device);
    // nine rows: halves of four and five
    let (n, cols) = (9, 5);
    let data: Vec<f32> = (0..n * cols)
        .map(|i| ((i * 29 % 17) as f32 - 8.0) / 4.0)
        .collect();
    let noise: Vec<f32> = (0..n * 3)
        .map(|i| ((i * 13 % 7) as f32 - 3.0) / 2.0)
        .collect();
    let eps = Tensor::<Cpu, 2>::from_data(TensorData::new(noise, [n, 3]), &device);
    let w = 0.5;
    // the whole batch in one graph: the mean of recon + w·KL with the same noise
    let xb = Tensor::<CpuTrain, 2>::from_data(TensorData::new(data.clone(), [n, cols]), &device);
    let (recon, reg) = model.loss_terms_with_noise(
        xb,
        Some(Tensor::from_inner(eps.clone())),
        vae.likelihood,
        vae.prior,
        Objective::Elbo,
    );
    let sums: (f32, f32) = (
        recon.clone().sum().into_scalar(),
        reg.clone().sum().into_scalar(),
    );
    let whole = GradientsParams::from_grads((recon + reg * w).mean().backward(), &model);
    let split_on = |threads: usize| {
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .unwrap();
        pool.install(|| {
            split_step(
                &model,
                &data,
                cols,
                Some(eps.clone()),
                &vae,
                Objective::Elbo,
                w,
                &device,
            )
        })
    };
    // the halves' gradients summed, as the optimizer sums them
    let summed = |(a, b): (GradientsParams, GradientsParams)| {
        let mut sum = GradientsAccumulator::<Vae<CpuTrain>>::new();
        sum.accumulate(&model, a);
        sum.accumulate(&model, b);
        sum.grads()
    };
    let (halves, r1, k1) = split_on(1);
    let one = summed(halves);
    let (halves, r2, k2) = split_on(2);
    let two = summed(halves);
    let (r1, k1): (f32, f32) = (r1.into_scalar(), k1.into_scalar());
    assert!(
        (r1 - sums.0).abs() <= 1e-4 * sums.0.abs(),
        "{r1} {}",
        sums.0
    );
    assert!(
        (k1 - sums.1).abs() <= 1e-4 * sums.1.abs(),
        "{k1} {}",
        sums.1
    );
    assert_eq!((r1, k1), (r2.into_scalar(), k2.into_scalar()));
    let mut compared = 0;
    for (split, full) in gradient_pairs(&model, &one, &whole) {
        assert_eq!(split.len(), full.len());
        for (s, f) in split.iter().zip(&full) {
            assert!(
                (s - f).abs() <= 1e-5 * (1.0 + f.abs()),
                "split {s} whole {f}"
            );
            compared += 1;
        }
    }
    // 5·16 + 16 + 16·8 + 8 + 2·(8·3 + 3), and the decoder's 3·8 + 8 + 8·16 + 16 + 16·5 + 5
    assert!(compared >= 300, "{compared} gradients compared");
    // one thread or two: the same halves, the same sums, the same bits
    for (a, b) in gradient_pairs(&model, &one, &two) {
        assert_eq!(a, b);
    }
}

/// One `train` run's per-epoch losses, on a rayon pool of `threads`.
fn losses_on(threads: usize, x: &Matrix, vae: &VaeConfig, cfg: &TrainConfig) -> Vec<f64> {
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build()
        .unwrap();
    let t = pool
        .install(|| train::<CpuTrain>(x, vae, cfg, &Default::default(), &mut |_| {}))
        .unwrap();
    t.history.iter().map(|h| h.train_loss).collect()
}

#[test]
fn the_training_loop_splits_large_steps_and_gives_the_same_run_on_any_thread_count() {
    a_step_split_in_two_halves_has_the_whole_batchs_gradients_on_any_thread_count();
    // 130 rows of 784 values, the image network (about a million parameters): steps of 64
    // rows are split (64 × 1.07 M ≥ 2^24), the last of 2 rows is not
    let x = Matrix::new(
        130,
        784,
        (0..130 * 784)
            .map(|i| ((i * 7919 % 251) as f32) / 250.0)
            .collect(),
    );
    let vae = VaeConfig::new(784, vec![512, 256], 10);
    let cfg = TrainConfig::new(3, 64).with_seed(5);
    let split = losses_on(2, &x, &vae, &cfg);
    assert_eq!(split, losses_on(1, &x, &vae, &cfg));
    std::env::set_var("VAETOOL_SPLIT_BATCHES", "0");
    let whole = losses_on(2, &x, &vae, &cfg);
    std::env::remove_var("VAETOOL_SPLIT_BATCHES");
    // the split was taken: another run (the first step's noise is drawn before burn's lazily
    // initialised weights, so the initial weights differ too), training as well as the whole
    assert_ne!(split, whole);
    assert!(
        split[2] < split[0] && whole[2] < whole[0],
        "{split:?} {whole:?}"
    );
    assert!(
        (split[2] - whole[2]).abs() <= 0.05 * whole[2],
        "split {split:?} whole {whole:?}"
    );
}
