//! Training throughput of vaetool on one device, for comparison with the PyTorch reference
//! (`benches/reference/vae_torch.py`, the same models, loss, optimizer and batch):
//!
//! ```text
//! cargo bench --bench throughput -- MODEL DEVICE BATCH [EPOCHS]
//! cargo bench --bench throughput -- mlp cpu 256
//! cargo bench --bench throughput --features cuda -- conv cuda 1024
//! ```
//!
//! MODEL is `mlp` (the VaDE-size MLP VAE 784-500-500-2000-10) or `conv` (the conv VAE on
//! 28×28), both Bernoulli on random data in [0, 1]; an epoch is 32 batches. Prints the first
//! epoch's seconds (warm-up: kernel compilation and autotuning on a GPU) and the samples/s of
//! the following EPOCHS epochs (default 3), in the same format as the reference.

use std::time::Instant;

use vaetool::data::{ImageShape, Matrix};
use vaetool::device::{resolve, train_on};
use vaetool::model::{Arch, Likelihood, VaeConfig};
use vaetool::train::TrainConfig;

fn main() {
    let args: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with("--"))
        .collect();
    let model = args.first().map(String::as_str).unwrap_or("mlp");
    let device = args.get(1).map(String::as_str).unwrap_or("cpu");
    let batch: usize = args.get(2).map_or(256, |b| b.parse().unwrap());
    let epochs: usize = args.get(3).map_or(3, |e| e.parse().unwrap());
    let vae = match model {
        "mlp" => VaeConfig::new(784, vec![500, 500, 2000], 10),
        "conv" => VaeConfig::new(784, vec![256], 10)
            .with_arch(Arch::Conv)
            .with_image(Some(ImageShape::new(1, 28, 28))),
        m => panic!("unknown model {m} (mlp or conv)"),
    }
    .with_likelihood(Likelihood::Bernoulli);
    let (compute, notice) = resolve(device.parse().unwrap()).unwrap();
    if let Some(n) = notice {
        eprintln!("note: {n}");
    }
    let rows = 32 * batch;
    let mut state = 12345u64;
    let x = Matrix::new(
        rows,
        784,
        (0..rows * 784)
            .map(|_| {
                state = state
                    .wrapping_mul(6364136223846793005)
                    .wrapping_add(1442695040888963407);
                ((state >> 40) as f32) / (1u64 << 24) as f32
            })
            .collect(),
    );
    let t = Instant::now();
    train_on(&compute, &x, &vae, &TrainConfig::new(1, batch), &mut |_| {}).unwrap();
    let warm = t.elapsed().as_secs_f64();
    let mut first = None;
    train_on(
        &compute,
        &x,
        &vae,
        &TrainConfig::new(epochs + 1, batch),
        &mut |e| {
            // time from the end of the first epoch: no one-off costs in the rate
            if e.epoch == 1 {
                first = Some(e.seconds);
            }
            if e.epoch == epochs + 1 {
                let rate = (rows * epochs) as f64 / (e.seconds - first.unwrap());
                println!(
                    "vaetool {model} {} batch {batch}: warm-up {warm:.2} s, {rate:.0} samples/s",
                    compute.name()
                );
            }
        },
    )
    .unwrap();
}
