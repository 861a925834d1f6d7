//! UMAP (McInnes, Healy & Melville 2018) on latent means, for the N2D clustering method
//! (McConville et al. 2020: "(Not too) deep clustering via clustering the local manifold of an
//! autoencoded embedding"): the latent means are mapped onto a low-dimensional manifold that
//! keeps their k-nearest-neighbour structure, and a Gaussian mixture clusters that manifold.
//!
//! This follows umap-learn's algorithm step for step, with its defaults where N2D keeps them:
//! exact k-nearest neighbours (the point itself counted as the first), the smooth-kNN
//! memberships (`rho` = distance to the nearest neighbour, `sigma` by bisection so that the
//! memberships sum to log2 k), fuzzy union `a + b − ab`, a spectral initialisation (leading
//! eigenvectors of the normalized adjacency, by subspace iteration), and the edge-sampled SGD
//! with negative sampling, clipped gradients and a linearly decaying learning rate. N2D sets
//! `min_dist = 0`; the output kernel `1 / (1 + a d^{2b})` then has umap-learn's fitted
//! `a`, `b` (below). New rows are placed as umap-learn initialises `transform`: at the
//! membership-weighted mean of their nearest training rows' positions.

use rand::{Rng, SeedableRng};
use rand_distr::{Distribution, StandardNormal};
use rand_xoshiro::Xoshiro256Plus;
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use crate::data::Matrix;
use crate::error::{Result, VaeError};

/// `a` of the output kernel for `min_dist = 0`, `spread = 1` (umap-learn's `find_ab_params`,
/// scipy `curve_fit`: 1.9328084, 0.79049497).
const KERNEL_A: f32 = 1.932_808_4;
/// `b` of the output kernel (see [`KERNEL_A`]).
const KERNEL_B: f32 = 0.790_495;
/// umap-learn's floor of `sigma`, relative to the mean neighbour distance.
const MIN_K_DIST_SCALE: f32 = 1e-3;
/// Default neighbourhood size (umap-learn's default; the row itself included).
pub const DEFAULT_NEIGHBORS: usize = 15;
/// Subspace iterations of the spectral initialisation.
const SPECTRAL_ITERATIONS: usize = 200;

/// UMAP hyper-parameters, validated by [`UmapParams::check`].
#[derive(Debug, Clone, PartialEq)]
pub struct UmapParams {
    /// Neighbourhood size, the point itself included (umap-learn's `n_neighbors`).
    pub n_neighbors: usize,
    /// Output dimension (N2D: the number of clusters).
    pub n_components: usize,
    /// SGD epochs (default: umap-learn's, 500 up to 10,000 rows, 200 above).
    pub n_epochs: Option<usize>,
    /// Negative samples per positive edge sample.
    pub negative_sample_rate: usize,
    /// Seed of the initial noise and the negative samples.
    pub seed: u64,
}

impl UmapParams {
    /// umap-learn's defaults (15 neighbours, 5 negative samples) with `min_dist = 0` as N2D,
    /// for `n_components` output dimensions.
    pub fn new(n_components: usize, seed: u64) -> Self {
        Self {
            n_neighbors: DEFAULT_NEIGHBORS,
            n_components,
            n_epochs: None,
            negative_sample_rate: 5,
            seed,
        }
    }

    /// The same with `n_neighbors` neighbours.
    pub fn with_neighbors(self, n_neighbors: usize) -> Self {
        Self {
            n_neighbors,
            ..self
        }
    }

    /// Checks the parameters against the number of rows.
    pub fn check(&self, n_rows: usize) -> Result<()> {
        if self.n_neighbors < 2 {
            return Err(VaeError::Usage("--neighbors must be at least 2".into()));
        }
        if self.n_neighbors > n_rows {
            return Err(VaeError::Usage(format!(
                "--neighbors {} is larger than the number of rows ({n_rows})",
                self.n_neighbors
            )));
        }
        if self.n_components < 1 {
            return Err(VaeError::Usage(
                "the manifold needs at least one dimension".into(),
            ));
        }
        if self.n_epochs == Some(0) {
            return Err(VaeError::Usage(
                "the manifold needs at least one epoch".into(),
            ));
        }
        Ok(())
    }
}

/// A fitted UMAP: the training rows and their positions on the manifold.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Umap {
    /// Neighbourhood size used for the fit (and for placing new rows).
    pub n_neighbors: usize,
    /// Input dimension.
    pub dim_in: usize,
    /// Output dimension.
    pub dim_out: usize,
    /// The training rows, `rows × dim_in`.
    pub train: Vec<f32>,
    /// Their positions, `rows × dim_out`.
    pub embedding: Vec<f32>,
}

/// Exact nearest neighbours: for every row of `queries`, the `k` nearest of the rows `refs`
/// (row-major, `queries.cols` wide; Euclidean), nearest first, as (index, distance). With
/// `skip_self`, query `i` never returns ref `i` (queries and refs are the same rows).
fn knn(queries: &Matrix, refs: &[f32], k: usize, skip_self: bool) -> (Vec<u32>, Vec<f32>) {
    let d = queries.cols;
    let mut idx = vec![0u32; queries.rows * k];
    let mut dist = vec![0f32; queries.rows * k];
    idx.par_chunks_mut(k)
        .zip(dist.par_chunks_mut(k))
        .enumerate()
        .for_each(|(i, (ix, ds))| {
            let q = queries.row(i);
            // a sorted list of the best k so far, squared distances
            let mut best: Vec<(f32, u32)> = Vec::with_capacity(k + 1);
            for (j, r) in refs.chunks_exact(d).enumerate() {
                if skip_self && j == i {
                    continue;
                }
                let s: f32 = q.iter().zip(r).map(|(a, b)| (a - b) * (a - b)).sum();
                if best.len() == k && s >= best[k - 1].0 {
                    continue;
                }
                let pos = best.partition_point(|&(v, _)| v <= s);
                best.insert(pos, (s, j as u32));
                best.truncate(k);
            }
            for (t, &(s, j)) in best.iter().enumerate() {
                ix[t] = j;
                ds[t] = s.sqrt();
            }
        });
    (idx, dist)
}

/// umap-learn's `smooth_knn_dist` for one row: `sigma` such that
/// `Σ_j exp(−max(d_j − rho, 0) / sigma) = target`, by bisection (64 steps at most).
fn smooth_sigma(dists: &[f32], rho: f32, target: f32, mean_all: f32) -> f32 {
    let (mut lo, mut hi, mut mid) = (0f32, f32::INFINITY, 1f32);
    for _ in 0..64 {
        let psum: f32 = dists
            .iter()
            .map(|&d| {
                let v = d - rho;
                if v > 0.0 {
                    (-v / mid).exp()
                } else {
                    1.0
                }
            })
            .sum();
        if (psum - target).abs() < 1e-5 {
            break;
        }
        if psum > target {
            hi = mid;
            mid = (lo + hi) / 2.0;
        } else {
            lo = mid;
            mid = if hi.is_infinite() {
                mid * 2.0
            } else {
                (lo + hi) / 2.0
            };
        }
    }
    let mean_row = dists.iter().sum::<f32>() / dists.len() as f32;
    let floor = MIN_K_DIST_SCALE * if rho > 0.0 { mean_row } else { mean_all };
    mid.max(floor)
}

/// Membership strength of each neighbour (rows of `k` distances, nearest first), with
/// `rho` = the nearest non-zero distance when `local` (fitting) and 0 otherwise (new rows).
fn memberships(dist: &[f32], k: usize, local: bool) -> Vec<f32> {
    // umap-learn counts the point itself as one of the n_neighbors: target log2(k + 1)
    let target = ((k + usize::from(local)) as f32).log2();
    let mean_all = dist.iter().sum::<f32>() / dist.len().max(1) as f32;
    let mut w = vec![0f32; dist.len()];
    w.par_chunks_mut(k)
        .zip(dist.par_chunks(k))
        .for_each(|(w, ds)| {
            let rho = if local {
                ds.iter().copied().find(|&d| d > 0.0).unwrap_or(0.0)
            } else {
                0.0
            };
            let sigma = smooth_sigma(ds, rho, target, mean_all);
            for (w, &d) in w.iter_mut().zip(ds) {
                let v = d - rho;
                *w = if v <= 0.0 { 1.0 } else { (-v / sigma).exp() };
            }
        });
    w
}

/// The symmetric fuzzy graph `A + Aᵀ − A∘Aᵀ` as undirected edges `(i, j, w)`, `i < j`.
fn fuzzy_union(idx: &[u32], w: &[f32], k: usize) -> Vec<(u32, u32, f32)> {
    let mut directed: Vec<(u32, u32, f32)> = idx
        .iter()
        .zip(w)
        .enumerate()
        .filter(|&(t, (&j, &w))| (t / k) as u32 != j && w > 0.0)
        .map(|(t, (&j, &w))| {
            let i = (t / k) as u32;
            (i.min(j), i.max(j), w)
        })
        .collect();
    directed.sort_unstable_by_key(|&(i, j, _)| (i, j));
    let mut out: Vec<(u32, u32, f32)> = Vec::with_capacity(directed.len());
    for (i, j, w) in directed {
        match out.last_mut() {
            // the same pair seen from both ends (exact kNN has no duplicates per end)
            Some(last) if last.0 == i && last.1 == j => last.2 = last.2 + w - last.2 * w,
            _ => out.push((i, j, w)),
        }
    }
    out
}

/// Leading non-trivial eigenvectors of the normalized adjacency `D^{-1/2} W D^{-1/2}` (as
/// umap-learn's spectral layout), by subspace iteration on `(I + N) / 2` with the trivial
/// eigenvector `D^{1/2} 1` projected out. Returns `n × dim`, row-major.
fn spectral_init(
    n: usize,
    edges: &[(u32, u32, f32)],
    dim: usize,
    rng: &mut Xoshiro256Plus,
) -> Vec<f32> {
    // CSR of the symmetric graph
    let mut deg = vec![0f64; n];
    let mut count = vec![0usize; n + 1];
    for &(i, j, w) in edges {
        deg[i as usize] += f64::from(w);
        deg[j as usize] += f64::from(w);
        count[i as usize + 1] += 1;
        count[j as usize + 1] += 1;
    }
    for t in 0..n {
        count[t + 1] += count[t];
    }
    let mut fill = count.clone();
    let mut cols = vec![0u32; count[n]];
    let mut vals = vec![0f64; count[n]];
    let inv_sqrt: Vec<f64> = deg
        .iter()
        .map(|&d| if d > 0.0 { 1.0 / d.sqrt() } else { 0.0 })
        .collect();
    for &(i, j, w) in edges {
        let v = f64::from(w) * inv_sqrt[i as usize] * inv_sqrt[j as usize];
        for (a, b) in [(i, j), (j, i)] {
            let p = fill[a as usize];
            cols[p] = b;
            vals[p] = v;
            fill[a as usize] += 1;
        }
    }
    // the trivial eigenvector (eigenvalue 1)
    let mut trivial: Vec<f64> = deg.iter().map(|d| d.sqrt()).collect();
    normalize(&mut trivial);
    // column-major block of `dim` vectors
    let mut q: Vec<Vec<f64>> = (0..dim)
        .map(|_| (0..n).map(|_| StandardNormal.sample(rng)).collect())
        .collect();
    orthonormalize(&mut q, &trivial);
    for _ in 0..SPECTRAL_ITERATIONS {
        q = q
            .iter()
            .map(|v| {
                (0..n)
                    .into_par_iter()
                    .map(|r| {
                        let s: f64 = (count[r]..count[r + 1])
                            .map(|p| vals[p] * v[cols[p] as usize])
                            .sum();
                        0.5 * (v[r] + s)
                    })
                    .collect()
            })
            .collect();
        orthonormalize(&mut q, &trivial);
    }
    let mut out = vec![0f32; n * dim];
    for (c, v) in q.iter().enumerate() {
        for r in 0..n {
            out[r * dim + c] = v[r] as f32;
        }
    }
    out
}

fn normalize(v: &mut [f64]) {
    let norm = v.iter().map(|x| x * x).sum::<f64>().sqrt();
    if norm > 0.0 {
        v.iter_mut().for_each(|x| *x /= norm);
    }
}

/// Modified Gram–Schmidt of `q`'s vectors, each first made orthogonal to `fixed` (unit).
fn orthonormalize(q: &mut [Vec<f64>], fixed: &[f64]) {
    for c in 0..q.len() {
        let (done, rest) = q.split_at_mut(c);
        let v = &mut rest[0];
        for u in std::iter::once(fixed).chain(done.iter().map(Vec::as_slice)) {
            let dot: f64 = v.iter().zip(u).map(|(a, b)| a * b).sum();
            v.iter_mut().zip(u).for_each(|(a, b)| *a -= dot * b);
        }
        normalize(v);
    }
}

/// umap-learn's `optimize_layout_euclidean` (single-threaded, hence reproducible): every
/// directed edge is sampled in proportion to its weight; each sample pulls both ends together
/// and pushes the head away from `negative_sample_rate` random rows.
fn optimize(
    emb: &mut [f32],
    dim: usize,
    edges: &[(u32, u32, f32)],
    n_epochs: usize,
    negative_rate: usize,
    rng: &mut Xoshiro256Plus,
) {
    let n = emb.len() / dim;
    let max_w = edges.iter().map(|e| e.2).fold(0f32, f32::max);
    // both directions of each undirected edge, as umap-learn's symmetric COO matrix
    let heads: Vec<(u32, u32)> = edges
        .iter()
        .flat_map(|&(i, j, _)| [(i, j), (j, i)])
        .collect();
    let per_sample: Vec<f32> = edges
        .iter()
        .flat_map(|&(_, _, w)| [max_w / w, max_w / w])
        .collect();
    let per_negative: Vec<f32> = per_sample
        .iter()
        .map(|&e| e / negative_rate as f32)
        .collect();
    let mut next_sample = per_sample.clone();
    let mut next_negative = per_negative.clone();
    let (a, b) = (KERNEL_A, KERNEL_B);
    let clip = |v: f32| v.clamp(-4.0, 4.0);
    let mut grad = vec![0f32; dim];
    for epoch in 0..n_epochs {
        let alpha = 1.0 - epoch as f32 / n_epochs as f32;
        let e = epoch as f32;
        for t in 0..heads.len() {
            if next_sample[t] > e {
                continue;
            }
            let (j, k) = (heads[t].0 as usize, heads[t].1 as usize);
            let d2: f32 = (0..dim)
                .map(|c| (emb[j * dim + c] - emb[k * dim + c]).powi(2))
                .sum();
            let coeff = if d2 > 0.0 {
                -2.0 * a * b * d2.powf(b - 1.0) / (a * d2.powf(b) + 1.0)
            } else {
                0.0
            };
            for c in 0..dim {
                let g = clip(coeff * (emb[j * dim + c] - emb[k * dim + c])) * alpha;
                emb[j * dim + c] += g;
                emb[k * dim + c] -= g;
            }
            next_sample[t] += per_sample[t];
            let n_neg = ((e - next_negative[t]) / per_negative[t]).max(0.0) as usize;
            for _ in 0..n_neg {
                let k = rng.gen_range(0..n);
                if k == j {
                    continue;
                }
                let d2: f32 = (0..dim)
                    .map(|c| (emb[j * dim + c] - emb[k * dim + c]).powi(2))
                    .sum();
                if d2 <= 0.0 {
                    continue;
                }
                let coeff = 2.0 * b / ((0.001 + d2) * (a * d2.powf(b) + 1.0));
                for (c, g) in grad.iter_mut().enumerate() {
                    *g = clip(coeff * (emb[j * dim + c] - emb[k * dim + c])) * alpha;
                }
                for (c, g) in grad.iter().enumerate() {
                    emb[j * dim + c] += g;
                }
            }
            next_negative[t] += n_neg as f32 * per_negative[t];
        }
    }
}

impl Umap {
    /// Fits UMAP on `x` (rows × features).
    pub fn fit(x: &Matrix, params: &UmapParams) -> Result<Umap> {
        params.check(x.rows)?;
        let n = x.rows;
        let k = params.n_neighbors - 1;
        let (idx, dist) = knn(x, &x.data, k, true);
        let w = memberships(&dist, k, true);
        let mut edges = fuzzy_union(&idx, &w, k);
        let n_epochs = params
            .n_epochs
            .unwrap_or(if n <= 10_000 { 500 } else { 200 });
        // umap-learn drops edges too weak to be sampled once in n_epochs
        let max_w = edges.iter().map(|e| e.2).fold(0f32, f32::max);
        edges.retain(|e| e.2 >= max_w / n_epochs as f32);
        let dim = params.n_components;
        let mut rng = Xoshiro256Plus::seed_from_u64(params.seed);
        let mut emb = spectral_init(n, &edges, dim, &mut rng);
        // umap-learn: scale to a maximum of 10, add a little noise, then each column to [0, 10]
        let peak = emb.iter().fold(0f32, |m, v| m.max(v.abs())).max(1e-12);
        for v in emb.iter_mut() {
            let noise: f32 = StandardNormal.sample(&mut rng);
            *v = *v * (10.0 / peak) + 1e-4 * noise;
        }
        for c in 0..dim {
            let col = (0..n).map(|r| emb[r * dim + c]);
            let (lo, hi) = col.fold((f32::INFINITY, f32::NEG_INFINITY), |(l, h), v| {
                (l.min(v), h.max(v))
            });
            let span = (hi - lo).max(1e-12);
            for r in 0..n {
                emb[r * dim + c] = 10.0 * (emb[r * dim + c] - lo) / span;
            }
        }
        optimize(
            &mut emb,
            dim,
            &edges,
            n_epochs,
            params.negative_sample_rate,
            &mut rng,
        );
        if emb.iter().any(|v| !v.is_finite()) {
            return Err(VaeError::Clustering(
                "the UMAP layout diverged (non-finite positions)".into(),
            ));
        }
        Ok(Umap {
            n_neighbors: params.n_neighbors,
            dim_in: x.cols,
            dim_out: dim,
            train: x.data.clone(),
            embedding: emb,
        })
    }

    /// The training rows' positions, `rows × dim_out`.
    pub fn embedding(&self) -> Matrix {
        Matrix::new(
            self.embedding.len() / self.dim_out,
            self.dim_out,
            self.embedding.clone(),
        )
    }

    /// Places rows on the fitted manifold: a row equal to a training row takes that row's
    /// position; any other row the membership-weighted mean of its `n_neighbors` nearest
    /// training rows' positions (umap-learn's initial `transform`). The training rows
    /// themselves, in order, get their fitted positions without a neighbour search.
    pub fn transform(&self, x: &Matrix) -> Result<Matrix> {
        if x.cols != self.dim_in {
            return Err(VaeError::Input(format!(
                "the manifold was fitted on {} latent dimensions, these rows have {}",
                self.dim_in, x.cols
            )));
        }
        if x.data == self.train {
            return Ok(self.embedding());
        }
        let k = self.n_neighbors.min(self.train.len() / self.dim_in);
        let (idx, dist) = knn(x, &self.train, k, false);
        let w = memberships(&dist, k, false);
        let dim = self.dim_out;
        let mut out = vec![0f32; x.rows * dim];
        for r in 0..x.rows {
            let (ix, ds, ws) = (
                &idx[r * k..(r + 1) * k],
                &dist[r * k..(r + 1) * k],
                &w[r * k..(r + 1) * k],
            );
            let o = &mut out[r * dim..(r + 1) * dim];
            if ds[0] == 0.0 {
                o.copy_from_slice(&self.embedding[ix[0] as usize * dim..][..dim]);
                continue;
            }
            let total: f32 = ws.iter().sum();
            for (&j, &wt) in ix.iter().zip(ws) {
                let e = &self.embedding[j as usize * dim..][..dim];
                o.iter_mut().zip(e).for_each(|(o, e)| *o += wt / total * e);
            }
        }
        Ok(Matrix::new(x.rows, dim, out))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn knn_matches_brute_force_by_hand() {
        let x = Matrix::new(4, 1, vec![0.0, 1.0, 3.0, 7.0]);
        let (idx, dist) = knn(&x, &x.data, 2, true);
        assert_eq!(idx, vec![1, 2, 0, 2, 1, 0, 2, 1]);
        assert_eq!(dist, vec![1.0, 3.0, 1.0, 2.0, 2.0, 3.0, 4.0, 6.0]);
        let (idx, _) = knn(&x, &x.data, 1, false);
        assert_eq!(idx, vec![0, 1, 2, 3]);
    }

    #[test]
    fn memberships_sum_to_log2_k() {
        let dist = vec![0.5, 0.9, 1.4, 2.0, 0.1, 0.2, 0.25, 3.0];
        let w = memberships(&dist, 4, true);
        for row in w.chunks(4) {
            // nearest neighbour has membership 1 (d = rho); the sum hits log2(k + 1)
            assert_eq!(row[0], 1.0);
            let s: f32 = row.iter().sum();
            assert!((s - 5f32.log2()).abs() < 1e-3, "{s}");
        }
    }

    #[test]
    fn fuzzy_union_is_a_plus_b_minus_ab() {
        // 0→1 with 0.5, 1→0 with 0.4, 2→0 with 1.0 (k = 1)
        let e = fuzzy_union(&[1, 0, 0], &[0.5, 0.4, 1.0], 1);
        assert_eq!(e, vec![(0, 1, 0.5 + 0.4 - 0.2), (0, 2, 1.0)]);
    }

    #[test]
    fn spectral_init_separates_two_components() {
        // two cliques of 5 joined by nothing: the leading non-trivial eigenvector is constant
        // on each clique with opposite signs
        let mut edges = vec![];
        for base in [0u32, 5] {
            for i in 0..5 {
                for j in i + 1..5 {
                    edges.push((base + i, base + j, 1.0));
                }
            }
        }
        let mut rng = Xoshiro256Plus::seed_from_u64(3);
        let v = spectral_init(10, &edges, 1, &mut rng);
        for i in 1..5 {
            assert!(
                (v[i] - v[0]).abs() < 1e-4 && (v[5 + i] - v[5]).abs() < 1e-4,
                "{v:?}"
            );
        }
        assert!(v[0] * v[5] < 0.0, "{v:?}");
    }

    /// Points on three rings in 3-D that K-means on the raw coordinates cannot split (the
    /// rings interlock); UMAP keeps each ring's neighbourhoods, so a GMM on the manifold does
    /// (measured: K-means ACC 0.6417, N2D 1).
    fn rings() -> (Matrix, Vec<usize>) {
        let mut v = vec![];
        let mut truth = vec![];
        for (c, (cx, axis)) in [(0.0f32, 0), (1.0, 1), (2.5, 0)].iter().enumerate() {
            for t in 0..120 {
                let a = t as f32 / 120.0 * std::f32::consts::TAU;
                let (s, co) = a.sin_cos();
                let p = if *axis == 0 {
                    [cx + co, s, 0.0]
                } else {
                    [cx + co, 0.0, s]
                };
                v.extend(p);
                truth.push(c);
            }
        }
        (Matrix::new(360, 3, v), truth)
    }

    #[test]
    fn manifold_separates_interlocking_rings_and_places_training_rows_back() {
        use crate::cluster::{ClusterMethod, ClusterParams, Fitted};
        let (x, truth) = rings();
        let params = |method| ClusterParams {
            k: 3,
            method,
            n_init: 5,
            seed: 1,
            neighbors: DEFAULT_NEIGHBORS,
        };
        let acc = |method| {
            let f = Fitted::fit(&x, &params(method)).unwrap();
            crate::metrics::clustering_accuracy(&truth, &f.predict(&x).unwrap().labels)
        };
        let (kmeans, n2d) = (acc(ClusterMethod::Kmeans), acc(ClusterMethod::N2d));
        assert!(kmeans < 0.7, "raw K-means {kmeans}");
        assert_eq!(n2d, 1.0, "raw K-means {kmeans}");
        // every point's nearest neighbour on the manifold is on its own ring
        let u = Umap::fit(&x, &UmapParams::new(2, 7)).unwrap();
        let emb = u.embedding();
        let (nn, _) = knn(&emb, &emb.data, 1, true);
        let same = nn
            .iter()
            .enumerate()
            .filter(|&(i, &j)| truth[i] == truth[j as usize])
            .count();
        assert!(same == 360, "{same}");
        // training rows go back to their own positions, all of them at once and through the
        // neighbour search (a reordered subset); a row between two neighbours lands nearer to
        // them than to another ring
        assert_eq!(u.transform(&x).unwrap(), emb);
        let picked = [200usize, 3, 120, 7];
        let sub = Matrix::new(4, 3, x.gather_rows(&picked));
        assert_eq!(u.transform(&sub).unwrap().data, emb.gather_rows(&picked));
        let mid: Vec<f32> = x
            .row(0)
            .iter()
            .zip(x.row(1))
            .map(|(a, b)| (a + b) / 2.0)
            .collect();
        let p = u.transform(&Matrix::new(1, 3, mid)).unwrap();
        let d = |a: &[f32], b: &[f32]| a.iter().zip(b).map(|(a, b)| (a - b).powi(2)).sum::<f32>();
        assert!(d(p.row(0), emb.row(0)) < d(emb.row(0), emb.row(200)));
        // same seed, same layout
        assert_eq!(
            Umap::fit(&x, &UmapParams::new(2, 7)).unwrap().embedding,
            u.embedding
        );
    }

    #[test]
    fn params_are_checked() {
        let p = UmapParams::new(2, 0);
        assert!(p.check(20).is_ok());
        assert_eq!(
            UmapParams {
                n_neighbors: 21,
                ..p.clone()
            }
            .check(20)
            .unwrap_err()
            .to_string(),
            "--neighbors 21 is larger than the number of rows (20)"
        );
        assert_eq!(
            UmapParams {
                n_neighbors: 1,
                ..p
            }
            .check(10)
            .unwrap_err()
            .to_string(),
            "--neighbors must be at least 2"
        );
    }
}
