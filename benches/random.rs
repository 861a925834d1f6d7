//! Deterministic pseudo-random data shared by the benchmarks (included with `#[path]`).

use vaetool::data::Matrix;

/// `rows × cols` values in [0, 1) from a fixed 64-bit LCG: the same data on every run.
pub fn random(rows: usize, cols: usize) -> Matrix {
    let mut state = 12345u64;
    Matrix::new(
        rows,
        cols,
        (0..rows * cols)
            .map(|_| {
                state = state
                    .wrapping_mul(6364136223846793005)
                    .wrapping_add(1442695040888963407);
                ((state >> 40) as f32) / (1u64 << 24) as f32
            })
            .collect(),
    )
}
