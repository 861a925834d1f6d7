//! The matrix products of one training step of the VaDE-size MLP VAE (784-500-500-2000-10),
//! timed alone on burn's CPU backend, for comparison with PyTorch's on the same shapes
//! (`benches/reference/gemm_torch.py`): is the gap in `benches/throughput.rs` the matrix
//! products themselves?
//!
//! ```text
//! cargo bench --bench gemm -- [BATCH] [REPEATS]
//! ```
//!
//! For every linear layer (in → out) at batch B a step computes three products: forward
//! `[B, in]·[in, out]`, the input gradient `[B, out]·[out, in]ᵀ` and the weight gradient
//! `[in, B]ᵀ·[B, out]` (transposes are views, as in a backward pass). Prints each shape's
//! GFLOP/s and the total for one step's products, in the reference's format.

use std::time::Instant;

use burn::tensor::{Distribution, Tensor};
use vaetool::backend::Cpu;

/// (in, out) of every linear layer of the VaDE-size MLP: encoder, μ and log-variance heads,
/// decoder.
const LAYERS: [(usize, usize); 9] = [
    (784, 500),
    (500, 500),
    (500, 2000),
    (2000, 10),
    (2000, 10),
    (10, 2000),
    (2000, 500),
    (500, 500),
    (500, 784),
];

/// One timed product.
type Product<'a> = Box<dyn Fn() -> Tensor<Cpu, 2> + 'a>;

fn main() {
    vaetool::backend::tune_allocator();
    let args: Vec<usize> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with("--"))
        .map(|a| a.parse().unwrap())
        .collect();
    let b = args.first().copied().unwrap_or(256);
    let repeats = args.get(1).copied().unwrap_or(50);
    let device = Default::default();
    let rand = |r: usize, c: usize| {
        Tensor::<Cpu, 2>::random([r, c], Distribution::Uniform(-1.0, 1.0), &device)
    };
    let mut total_secs = 0.0;
    let mut total_flop = 0.0;
    for (i, &(n_in, n_out)) in LAYERS.iter().enumerate() {
        let (x, w, dy) = (rand(b, n_in), rand(n_in, n_out), rand(b, n_out));
        let cases: [(&str, Product); 3] = [
            ("fwd", Box::new(|| x.clone().matmul(w.clone()))),
            ("dX", Box::new(|| dy.clone().matmul(w.clone().transpose()))),
            ("dW", Box::new(|| x.clone().transpose().matmul(dy.clone()))),
        ];
        for (name, f) in &cases {
            let _ = f().into_data(); // warm-up
            let t = Instant::now();
            // burn-flex runs each op when called; only the last result is read back (a
            // copy of every product would add a memory pass that PyTorch does not make)
            for _ in 1..repeats {
                let _ = f();
            }
            let _ = f().into_data();
            let secs = t.elapsed().as_secs_f64() / repeats as f64;
            let flop = 2.0 * (b * n_in * n_out) as f64;
            total_secs += secs;
            total_flop += flop;
            println!(
                "burn layer {i} {n_in}x{n_out} {name}: {:.1} GFLOP/s",
                flop / secs / 1e9
            );
        }
    }
    println!(
        "burn step products batch {b}: {:.2} ms, {:.1} GFLOP/s",
        total_secs * 1e3,
        total_flop / total_secs / 1e9
    );
}
