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
//! 28×28), both Bernoulli on random data in [0, 1], or `tab`, the default tabular model for 20
//! columns (20-128-64-5, `HIDDEN=256,128` for other widths, unit-variance Gaussian; batch 256 is vaetool's default for ≥ 2,560
//! rows) on random data; an epoch is 32 batches. `tab` also times scoring: the negative ELBO
//! with the default 10 samples of 1,000,000 rows in memory (`SCORE_ROWS`), in rows/s, after one
//! untimed pass. Prints the seconds from the process's start to the end of a first training
//! step (device start, kernel compilation and autotuning on a GPU), the warm-up (that plus the
//! first epoch of the timed run), and the samples/s and steps/s of the following EPOCHS epochs
//! (default 3), in the same format as the reference.

use std::time::Instant;

#[path = "random.rs"]
mod random;
use random::random;

use vaetool::data::{ImageShape, Matrix};
use vaetool::device::{resolve, score_on, train_on};
use vaetool::model::{default_hidden, default_latent, Arch, Likelihood, VaeConfig};
use vaetool::train::TrainConfig;

fn main() {
    // TUNE_ALLOC=0 measures without the allocator settings the binary uses.
    if std::env::var("TUNE_ALLOC").map_or(true, |v| v != "0") {
        vaetool::backend::tune_allocator();
    }
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
        // HIDDEN=256,128 times another width (the reference's --hidden)
        "tab" => VaeConfig::new(
            20,
            std::env::var("HIDDEN").map_or_else(
                |_| default_hidden(20),
                |v| v.split(',').map(|h| h.parse().unwrap()).collect(),
            ),
            default_latent(20),
        ),
        m => panic!("unknown model {m} (mlp, conv or tab)"),
    }
    .with_likelihood(if model == "tab" {
        Likelihood::Gaussian
    } else {
        Likelihood::Bernoulli
    });
    let cols = vae.input_dim;
    let t0 = Instant::now();
    let (compute, notice) = resolve(device.parse().unwrap()).unwrap();
    if let Some(n) = notice {
        eprintln!("note: {n}");
    }
    let rows = 32 * batch;
    let x = random(rows, cols);
    // one step on a fresh model (the epoch's end reads the loss back, so the step is done):
    // device start, kernel compilation and autotuning, all that a first step needs
    let one = Matrix::new(batch, cols, x.data[..batch * cols].to_vec());
    train_on(
        &compute,
        &one,
        &vae,
        &TrainConfig::new(1, batch),
        &mut |_| {},
    )
    .unwrap();
    let first_step = t0.elapsed().as_secs_f64();
    let mut first = None;
    let trained = train_on(
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
                let secs = e.seconds - first.unwrap();
                let rate = (rows * epochs) as f64 / secs;
                println!(
                    "vaetool {model} {} batch {batch}: first step {first_step:.2} s, warm-up {:.2} s, \
                     {rate:.0} samples/s ({:.1} steps/s)",
                    compute.name(),
                    first_step + first.unwrap(),
                    (32 * epochs) as f64 / secs
                );
            }
        },
    )
    .unwrap();
    if model == "tab" {
        let n = std::env::var("SCORE_ROWS").map_or(1_000_000, |v| v.parse().unwrap());
        let big = random(n, cols);
        let kind = vaetool::infer::ScoreKind::Elbo;
        // once to warm up (kernels for the block shapes), then timed
        score_on(&compute, &trained.model, &vae, &big, kind, 10, 1).unwrap();
        let t = Instant::now();
        let s = score_on(&compute, &trained.model, &vae, &big, kind, 10, 1).unwrap();
        let rate = big.rows as f64 / t.elapsed().as_secs_f64();
        println!(
            "vaetool score {} (10 samples, {n} rows in memory): {rate:.0} rows/s (mean score {:.4})",
            compute.name(),
            s.iter().sum::<f64>() / s.len() as f64
        );
    }
}
