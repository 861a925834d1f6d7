//! Training throughput of the CPU backends, side by side in one run.
//!
//! `cargo bench --bench backends --features ndarray` trains the same models on `flex` and
//! `ndarray` (and prints steps/s and rows/s for each); without `--features ndarray` only flex
//! runs. Cases: a digits-sized model (64 inputs, hidden 128,64, latent 10, batch 128) and
//! the VaDE-size MLP (784-500-500-2000-10, Bernoulli, batch 256) on random data in [0, 1].
//! Results are recorded in `benches/RESULTS.md`.

use std::time::Instant;

#[path = "random.rs"]
mod random;

use burn::backend::Autodiff;
use burn::tensor::backend::AutodiffBackend;
use vaetool::data::{read_table, DataOptions, Matrix, ReadOptions, Scale, Schema};
use vaetool::model::{Likelihood, VaeConfig};
use vaetool::train::{train, TrainConfig};

fn steps_per_sec<B: AutodiffBackend>(
    x: &Matrix,
    vae: &VaeConfig,
    batch: usize,
    epochs: usize,
) -> f64 {
    let cfg = TrainConfig::new(epochs, batch);
    let device = Default::default();
    // one warm-up epoch, then the timed run
    train::<B>(x, vae, &TrainConfig::new(1, batch), &device, &mut |_| {}).unwrap();
    let t = Instant::now();
    train::<B>(x, vae, &cfg, &device, &mut |_| {}).unwrap();
    let steps = (x.rows.div_ceil(batch) * epochs) as f64;
    steps / t.elapsed().as_secs_f64()
}

fn case<B: AutodiffBackend>(
    name: &str,
    backend: &str,
    x: &Matrix,
    vae: &VaeConfig,
    batch: usize,
    epochs: usize,
) {
    let sps = steps_per_sec::<B>(x, vae, batch, epochs);
    println!(
        "| {name} | {backend} | {batch} | {sps:.1} | {:.0} |",
        sps * batch as f64
    );
}

fn main() {
    let digits = format!("{}/datasets/digits.csv", env!("CARGO_MANIFEST_DIR"));
    let table = read_table(digits.as_ref(), &ReadOptions::default()).unwrap();
    let opts = DataOptions {
        label_column: Some("digit".into()),
        scale: Scale::Standard,
        ..Default::default()
    };
    let (schema, _) = Schema::fit(&table, &opts).unwrap();
    let x = schema.transform(&table).unwrap().x;
    let small = VaeConfig::new(64, vec![128, 64], 10);

    let n = 2048;
    let big_x = random::random(n, 784);
    let big = VaeConfig::new(784, vec![500, 500, 2000], 10).with_likelihood(Likelihood::Bernoulli);

    println!("| model | backend | batch | steps/s | rows/s |");
    println!("|---|---|---|---|---|");
    case::<Autodiff<burn::backend::Flex>>("digits MLP (64-128-64-10)", "flex", &x, &small, 128, 20);
    #[cfg(feature = "ndarray")]
    case::<Autodiff<burn::backend::NdArray>>(
        "digits MLP (64-128-64-10)",
        "ndarray",
        &x,
        &small,
        128,
        20,
    );
    case::<Autodiff<burn::backend::Flex>>(
        "VaDE MLP (784-500-500-2000-10)",
        "flex",
        &big_x,
        &big,
        256,
        2,
    );
    #[cfg(feature = "ndarray")]
    case::<Autodiff<burn::backend::NdArray>>(
        "VaDE MLP (784-500-500-2000-10)",
        "ndarray",
        &big_x,
        &big,
        256,
        2,
    );
}
