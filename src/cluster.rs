//! Two-step clustering on latent means (ALGORITHMS.md §3): K-means (k-means++ init, several
//! restarts, lowest inertia kept) or a full-covariance Gaussian mixture, both from linfa, or
//! N2D: the same Gaussian mixture on a UMAP manifold of the latent means ([`crate::manifold`]);
//! or that mixture on the model's scaled inputs themselves (`gmm-inputs`, for tables of a few continuous columns),
//! or a latent class model on the table's columns (`lca`, for tables of categorical and
//! few-valued columns; [`crate::latent_class`]).
//! The fitted clustering is serialized into the model directory so that new rows are assigned
//! to the same clusters later. `--k auto` selects K by the silhouette of K-means.

use std::str::FromStr;

use linfa::metrics::SilhouetteScore;
use linfa::traits::{Fit, Predict};
use linfa::DatasetBase;
use linfa_clustering::{GaussianMixtureModel, KMeans};
use linfa_nn::distance::L2Dist;
use ndarray::{Array2, ArrayView2};
use rand::SeedableRng;
use rand_xoshiro::Xoshiro256Plus;
use serde::{Deserialize, Serialize};

use crate::data::Matrix;
use crate::error::{Result, VaeError};
use crate::latent_class::{LatentClassModel, Variable};
use crate::manifold::{Umap, UmapParams};

/// Which clustering runs on the latent means.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ClusterMethod {
    /// K-means with k-means++ initialisation.
    Kmeans,
    /// Gaussian mixture model (full covariances), fitted by EM.
    Gmm,
    /// N2D: a Gaussian mixture on a K-dimensional UMAP manifold of the latent means.
    N2d,
    /// A Gaussian mixture (full covariances) on the model's scaled inputs, not on the latent
    /// means: the default for tables of a few continuous columns, whose shapes a VAE's latents lose.
    #[serde(rename = "gmm-inputs")]
    GmmInputs,
    /// Latent class analysis: a mixture of independent categorical distributions on the
    /// table's columns (not on the latent means): the default for tables whose every column is
    /// categorical or takes a few values ([`crate::latent_class`]).
    Lca,
    /// N2D's clusters refined by deep embedded clustering ([`crate::refine`]): Student's t
    /// assignments of the (refined) encoder's latent means to centres.
    Dec,
}

impl ClusterMethod {
    /// What the method clusters: the latent means, or (GMM on the inputs) the model's inputs.
    pub fn space(self) -> Space {
        match self {
            ClusterMethod::GmmInputs | ClusterMethod::Lca => Space::Inputs,
            _ => Space::Latent,
        }
    }
}

/// The rows a clustering is fitted on and assigns: a VAE's latent means, or its scaled inputs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Space {
    /// The latent means.
    Latent,
    /// The model's inputs, as the schema prepared them.
    Inputs,
}

impl FromStr for ClusterMethod {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "kmeans" => Ok(Self::Kmeans),
            "gmm" => Ok(Self::Gmm),
            "n2d" => Ok(Self::N2d),
            "gmm-inputs" => Ok(Self::GmmInputs),
            "lca" => Ok(Self::Lca),
            "dec" => Ok(Self::Dec),
            _ => Err(format!(
                "unknown clustering method '{s}' (expected kmeans, gmm, n2d, dec, gmm-inputs or \
                 lca)"
            )),
        }
    }
}

/// Clustering hyper-parameters, validated by [`ClusterParams::check`].
#[derive(Debug, Clone)]
pub struct ClusterParams {
    /// Number of clusters.
    pub k: usize,
    /// The method.
    pub method: ClusterMethod,
    /// Restarts; the best by inertia (K-means) or likelihood bound (GMM) is kept.
    pub n_init: usize,
    /// Seed of the initialisations.
    pub seed: u64,
    /// N2D: neighbourhood size of the manifold (the row itself included).
    pub neighbors: usize,
}

impl ClusterParams {
    /// Checks K against the number of rows.
    pub fn check(&self, n_rows: usize) -> Result<()> {
        if self.k < 1 {
            return Err(VaeError::Usage("--k must be at least 1".into()));
        }
        if self.k > n_rows {
            return Err(VaeError::Usage(format!(
                "--k {} is larger than the number of rows ({n_rows})",
                self.k
            )));
        }
        if self.n_init == 0 {
            return Err(VaeError::Usage("--n-init must be at least 1".into()));
        }
        if matches!(self.method, ClusterMethod::N2d | ClusterMethod::Dec) {
            UmapParams::new(self.k, self.seed)
                .with_neighbors(self.neighbors)
                .check(n_rows)?;
        }
        Ok(())
    }
}

/// A fitted clustering, stored as `clustering.json`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "method", rename_all = "lowercase")]
pub enum Fitted {
    /// K-means centroids.
    Kmeans {
        /// The linfa model.
        model: KMeans<f64, L2Dist>,
    },
    /// Gaussian mixture.
    Gmm {
        /// The linfa model.
        model: Box<GaussianMixtureModel<f64>>,
    },
    /// Gaussian mixture on a UMAP manifold.
    N2d {
        /// The manifold (training latents and their positions).
        umap: Box<Umap>,
        /// The linfa model, fitted on the manifold positions.
        model: Box<GaussianMixtureModel<f64>>,
    },
    /// Gaussian mixture on the model's scaled inputs.
    #[serde(rename = "gmm-inputs")]
    GmmInputs {
        /// The linfa model.
        model: Box<GaussianMixtureModel<f64>>,
        /// The input columns the mixture reads (a table's numeric ones), in order; every
        /// column when absent.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        columns: Option<Vec<usize>>,
    },
    /// Latent class model on the table's columns.
    Lca {
        /// The fitted classes.
        model: Box<LatentClassModel>,
    },
    /// Deep embedded clustering: Student's t kernel on the refined encoder's latent means.
    Dec {
        /// The cluster centres in the latent space, one row each.
        centers: Vec<Vec<f32>>,
        /// Images are assigned by the mean of their soft assignments as they are and moved by
        /// each of these (absent: as they are; files written before the moves read so).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        moves: Option<crate::augment::ReadMoves>,
    },
}

/// Cluster assignment of rows.
#[derive(Debug, Clone)]
pub struct Assignment {
    /// Cluster of each row.
    pub labels: Vec<usize>,
    /// For a GMM: the posterior probability of every cluster, `rows × k`.
    pub probabilities: Option<Matrix>,
}

impl Assignment {
    /// Each row's most probable cluster, with the probabilities.
    fn of_probabilities(probs: Matrix) -> Self {
        Assignment {
            labels: (0..probs.rows)
                .map(|i| crate::data::argmax(probs.row(i)))
                .collect(),
            probabilities: Some(probs),
        }
    }
}

fn to_array(x: &Matrix) -> Array2<f64> {
    Array2::from_shape_fn((x.rows, x.cols), |(r, c)| f64::from(x.data[r * x.cols + c]))
}

/// A full-covariance GMM with `n_init` restarts, the best by log-likelihood kept.
///
/// The restarts are run here, one linfa fit each from its own seed: linfa 0.8's `n_runs`
/// initialises once and lets every further "run" continue EM from where the last one stopped
/// (`linfa-clustering` 0.8.1, `gaussian_mixture/algorithm.rs`), so it cannot leave a poor
/// optimum. On the UMAP manifold of MNIST that mattered: one initialisation merged two digits
/// and split a third in 2 of 5 seeds (ACC 0.82 instead of 0.95).
fn fit_gmm(
    data: &Array2<f64>,
    k: usize,
    n_init: usize,
    seed: u64,
) -> Result<GaussianMixtureModel<f64>> {
    let ds = DatasetBase::from(data.clone());
    let mut best: Option<(f64, GaussianMixtureModel<f64>)> = None;
    let mut last = None;
    for r in 0..n_init.max(1) as u64 {
        // restart 0 keeps the seed itself
        let s = seed ^ r.wrapping_mul(0x9E37_79B9_7F4A_7C15);
        // linfa's EM errors out instead of warning when it does not converge or a covariance
        // degenerates: retry with a stronger covariance regularisation before giving up.
        for reg in [1e-6, 1e-4, 1e-2, 1e-1, 1.0] {
            let res = GaussianMixtureModel::params_with_rng(k, Xoshiro256Plus::seed_from_u64(s))
                .n_runs(1)
                .max_n_iterations(500)
                .reg_covariance(reg)
                .fit(&ds);
            match res {
                Ok(m) => {
                    let ll = gmm_log_likelihood(&m, data.view());
                    if best.as_ref().is_none_or(|(b, _)| ll > *b) {
                        best = Some((ll, m));
                    }
                    break;
                }
                Err(e) => last = Some(e),
            }
        }
    }
    best.map(|(_, m)| m).ok_or_else(|| {
        VaeError::Clustering(format!(
            "the Gaussian mixture with K={k} could not be fitted ({}) from any of {} starts, with \
             covariance regularisations up to 1: linfa's EM loses rows far from every component \
             (heavy-tailed columns) to underflow; --method kmeans clusters such data",
            last.map(|e| e.to_string()).unwrap_or_default(),
            n_init.max(1)
        ))
    })
}

/// Rows above which N2D lays out its manifold on a seeded random subset of this many rows (the
/// exact neighbour search is quadratic in the rows); the other rows are then placed as new rows
/// are (see [`Umap::transform`]).
pub const N2D_MAX_FIT_ROWS: usize = 50_000;

/// Rows above which a GMM on the inputs is fitted on a seeded random subset of this many rows
/// (its EM costs rows × K × columns² a step, for each restart); every row is then assigned.
pub const GMM_INPUTS_MAX_FIT_ROWS: usize = 20_000;

/// Rows above which a latent class model is fitted on a seeded random subset of this many
/// rows (its EM costs rows × K × columns a step, for each restart); every row is then assigned.
pub const LCA_MAX_FIT_ROWS: usize = 20_000;

/// At most `max` rows of `x`: all of them, or a random subset drawn with `seed` (in row order).
fn seeded_subset(x: &Matrix, max: usize, seed: u64) -> std::borrow::Cow<'_, Matrix> {
    if x.rows <= max {
        return std::borrow::Cow::Borrowed(x);
    }
    let mut idx: Vec<usize> = (0..x.rows).collect();
    let mut rng = Xoshiro256Plus::seed_from_u64(seed);
    rand::seq::SliceRandom::partial_shuffle(&mut idx[..], &mut rng, max);
    idx.truncate(max);
    idx.sort_unstable();
    std::borrow::Cow::Owned(Matrix::new(max, x.cols, x.gather_rows(&idx)))
}

fn fit_n2d(latents: &Matrix, params: &ClusterParams, max_fit_rows: usize) -> Result<Fitted> {
    let up = UmapParams::new(params.k, params.seed).with_neighbors(params.neighbors);
    let umap = Umap::fit(&seeded_subset(latents, max_fit_rows, params.seed), &up)?;
    let emb = to_array(&umap.embedding());
    let model = fit_gmm(&emb, params.k, params.n_init, params.seed)?;
    Ok(Fitted::N2d {
        umap: Box::new(umap),
        model: Box::new(model),
    })
}

impl Fitted {
    /// Fits the clustering on the rows of its [`Space`]: latent means (N2D: at most
    /// [`N2D_MAX_FIT_ROWS`] of them), or the scaled inputs for [`ClusterMethod::GmmInputs`]
    /// (at most [`GMM_INPUTS_MAX_FIT_ROWS`] of them).
    pub fn fit(latents: &Matrix, params: &ClusterParams) -> Result<Fitted> {
        params.check(latents.rows)?;
        match params.method {
            ClusterMethod::Kmeans => {
                let ds = DatasetBase::from(to_array(latents));
                let model =
                    KMeans::params_with_rng(params.k, Xoshiro256Plus::seed_from_u64(params.seed))
                        .n_runs(params.n_init)
                        .max_n_iterations(300)
                        .tolerance(1e-6)
                        .fit(&ds)
                        .map_err(|e| VaeError::Clustering(format!("K-means failed: {e}")))?;
                Ok(Fitted::Kmeans { model })
            }
            ClusterMethod::Gmm => Ok(Fitted::Gmm {
                model: Box::new(fit_gmm(
                    &to_array(latents),
                    params.k,
                    params.n_init,
                    params.seed,
                )?),
            }),
            ClusterMethod::N2d => fit_n2d(latents, params, N2D_MAX_FIT_ROWS),
            ClusterMethod::Lca => Err(VaeError::Usage(
                "--method lca reads the table's columns: fit it with Fitted::fit_latent_class"
                    .into(),
            )),
            ClusterMethod::Dec => Err(VaeError::Usage(
                "--method dec trains the network further while it clusters: it cannot \
                 re-cluster a saved model (run `cluster DATA --method dec` without --model)"
                    .into(),
            )),
            ClusterMethod::GmmInputs => Self::fit_gmm_inputs(latents, None, params),
        }
    }

    /// Fits a GMM on the inputs ([`ClusterMethod::GmmInputs`]) on the columns `columns` of
    /// the scaled inputs `x` (every column when `None`), on at most
    /// [`GMM_INPUTS_MAX_FIT_ROWS`] rows of them.
    pub fn fit_gmm_inputs(
        x: &Matrix,
        columns: Option<Vec<usize>>,
        params: &ClusterParams,
    ) -> Result<Fitted> {
        params.check(x.rows)?;
        let sub = seeded_subset(x, GMM_INPUTS_MAX_FIT_ROWS, params.seed);
        let sub = match &columns {
            Some(c) => std::borrow::Cow::Owned(sub.select_columns(c)),
            None => sub,
        };
        Ok(Fitted::GmmInputs {
            model: Box::new(fit_gmm(
                &to_array(&sub),
                params.k,
                params.n_init,
                params.seed,
            )?),
            columns,
        })
    }

    /// Fits a latent class model ([`ClusterMethod::Lca`]) on the scaled inputs `x` read as
    /// `variables` (at most [`LCA_MAX_FIT_ROWS`] rows of them).
    pub fn fit_latent_class(
        x: &Matrix,
        variables: Vec<Variable>,
        params: &ClusterParams,
    ) -> Result<Fitted> {
        params.check(x.rows)?;
        let model = LatentClassModel::fit(
            &seeded_subset(x, LCA_MAX_FIT_ROWS, params.seed),
            variables,
            params.k,
            params.n_init,
            params.seed,
        )?;
        Ok(Fitted::Lca {
            model: Box::new(model),
        })
    }

    /// Number of clusters.
    pub fn k(&self) -> usize {
        match self {
            Fitted::Kmeans { model } => model.centroids().nrows(),
            Fitted::Lca { model } => model.k(),
            Fitted::Dec { centers, .. } => centers.len(),
            Fitted::Gmm { model } | Fitted::N2d { model, .. } | Fitted::GmmInputs { model, .. } => {
                model.weights().len()
            }
        }
    }

    /// The method.
    pub fn method(&self) -> ClusterMethod {
        match self {
            Fitted::Kmeans { .. } => ClusterMethod::Kmeans,
            Fitted::Gmm { .. } => ClusterMethod::Gmm,
            Fitted::N2d { .. } => ClusterMethod::N2d,
            Fitted::GmmInputs { .. } => ClusterMethod::GmmInputs,
            Fitted::Lca { .. } => ClusterMethod::Lca,
            Fitted::Dec { .. } => ClusterMethod::Dec,
        }
    }

    /// What the clustering was fitted on, and so what [`Fitted::predict`] takes.
    pub fn space(&self) -> Space {
        self.method().space()
    }

    /// Assigns rows of the clustering's [`Space`] (latent means, or the scaled inputs) to
    /// clusters.
    ///
    /// # Errors
    /// When the rows' width differs from the rows the clustering was fitted on.
    pub fn predict(&self, latents: &Matrix) -> Result<Assignment> {
        let probs = match self {
            Fitted::Kmeans { model } => {
                return Ok(Assignment {
                    labels: model.predict(&to_array(latents)).to_vec(),
                    probabilities: None,
                })
            }
            Fitted::Gmm { model }
            | Fitted::GmmInputs {
                model,
                columns: None,
            } => gmm_probabilities(model, to_array(latents).view()),
            Fitted::GmmInputs {
                model,
                columns: Some(c),
            } => {
                if let Some(&bad) = c.iter().find(|&&c| c >= latents.cols) {
                    return Err(VaeError::Model(format!(
                        "the clustering reads input column {} but the rows have {}",
                        bad + 1,
                        latents.cols
                    )));
                }
                gmm_probabilities(model, to_array(&latents.select_columns(c)).view())
            }
            Fitted::N2d { umap, model } => {
                gmm_probabilities(model, to_array(&umap.transform(latents)?).view())
            }
            Fitted::Lca { model } => model.predict_proba(latents)?,
            Fitted::Dec { centers, .. } => {
                let latent = centers.first().map_or(0, |c| c.len());
                if latent != latents.cols {
                    return Err(VaeError::Model(format!(
                        "the clustering's centres have {latent} dimensions but the latent means \
                         have {}",
                        latents.cols
                    )));
                }
                let c = Matrix::new(centers.len(), latent, centers.concat());
                crate::refine::soft_assignments(latents, &c)
            }
        };
        Ok(Assignment::of_probabilities(probs))
    }

    /// The moves DEC reads images with at prediction time, if any.
    pub fn read_moves(&self) -> Option<&crate::augment::ReadMoves> {
        match self {
            Fitted::Dec { moves, .. } => moves.as_ref(),
            _ => None,
        }
    }

    /// Assigns rows seen several ways (the latent means of the same rows, `views[0]` as they
    /// are and the others moved) by the mean of their probabilities over the views.
    ///
    /// # Errors
    /// As [`Fitted::predict`]; for K-means (no probabilities) or no views.
    pub fn predict_mean(&self, views: &[Matrix]) -> Result<Assignment> {
        let mut sum: Option<Matrix> = None;
        for v in views {
            let Some(p) = self.predict(v)?.probabilities else {
                return Err(VaeError::Usage(
                    "K-means gives no probabilities to average over moved images".into(),
                ));
            };
            match sum.as_mut() {
                None => sum = Some(p),
                Some(s) => s.data.iter_mut().zip(&p.data).for_each(|(a, b)| *a += b),
            }
        }
        let mut probs = sum.ok_or_else(|| VaeError::Usage("no rows to assign".into()))?;
        let n = views.len() as f32;
        probs.data.iter_mut().for_each(|v| *v /= n);
        Ok(Assignment::of_probabilities(probs))
    }
}

/// Initial mixture components for VaDE: a GMM fitted on the (pretrained) latent means, its
/// full covariances reduced to their diagonals (linfa's GMM is full-covariance only). Returns
/// weights `[K]`, means and variances `[K·latent]`.
pub fn diagonal_gmm(
    latents: &Matrix,
    k: usize,
    n_init: usize,
    seed: u64,
) -> Result<(Vec<f32>, Vec<f32>, Vec<f32>)> {
    let data = to_array(latents);
    let m = fit_gmm(&data, k, n_init, seed)?;
    let d = latents.cols;
    let weights = m.weights().iter().map(|&w| w as f32).collect();
    let means = m.means().iter().map(|&v| v as f32).collect();
    let cov = m.covariances();
    let vars = (0..k)
        .flat_map(|c| (0..d).map(move |j| (c, j)))
        .map(|(c, j)| cov[[c, j, j]].max(1e-6) as f32)
        .collect();
    Ok((weights, means, vars))
}

/// Initial mixture components for VaDE/Su from N2D: a GMM on the UMAP manifold of the
/// (pretrained) latent means assigns every row, and each cluster's weight, mean and diagonal
/// variance are the moments of its rows' latents (an empty cluster gets a 1e-3 weight and the
/// moments of all rows). Returns weights `[K]`, means and variances `[K·latent]`.
pub fn manifold_mixture(
    latents: &Matrix,
    k: usize,
    n_init: usize,
    seed: u64,
    neighbors: usize,
) -> Result<(Vec<f32>, Vec<f32>, Vec<f32>)> {
    let params = ClusterParams {
        k,
        method: ClusterMethod::N2d,
        n_init,
        seed,
        neighbors,
    };
    let labels = Fitted::fit(latents, &params)?.predict(latents)?.labels;
    Ok(mixture_from_labels(latents, &labels, k))
}

/// Weights, means and diagonal variances of the `k` groups of rows named by `labels` (see
/// [`manifold_mixture`]; variances floored at 1e-6).
pub fn mixture_from_labels(
    latents: &Matrix,
    labels: &[usize],
    k: usize,
) -> (Vec<f32>, Vec<f32>, Vec<f32>) {
    let d = latents.cols;
    let moments = |rows: &mut dyn Iterator<Item = &[f32]>| {
        let (mut n, mut s, mut s2) = (0f64, vec![0f64; d], vec![0f64; d]);
        for r in rows {
            n += 1.0;
            for j in 0..d {
                s[j] += f64::from(r[j]);
                s2[j] += f64::from(r[j]).powi(2);
            }
        }
        let mean: Vec<f64> = s.iter().map(|v| v / n.max(1.0)).collect();
        let var: Vec<f64> = (0..d)
            .map(|j| (s2[j] / n.max(1.0) - mean[j].powi(2)).max(1e-6))
            .collect();
        (n, mean, var)
    };
    let (_, all_mean, all_var) = moments(&mut (0..latents.rows).map(|i| latents.row(i)));
    let (mut w, mut m, mut v) = (vec![], vec![], vec![]);
    for c in 0..k {
        let (n, mean, var) = moments(
            &mut (0..latents.rows)
                .filter(|&i| labels[i] == c)
                .map(|i| latents.row(i)),
        );
        let (mean, var) = if n > 0.0 {
            (mean, var)
        } else {
            (all_mean.clone(), all_var.clone())
        };
        w.push(((n / latents.rows as f64).max(1e-3)) as f32);
        m.extend(mean.iter().map(|&x| x as f32));
        v.extend(var.iter().map(|&x| x as f32));
    }
    let total: f32 = w.iter().sum();
    w.iter_mut().for_each(|x| *x /= total);
    (w, m, v)
}

/// Log-likelihood of `data` under a full-covariance Gaussian mixture.
pub fn gmm_log_likelihood(model: &GaussianMixtureModel<f64>, data: ArrayView2<f64>) -> f64 {
    gmm_weighted_log_densities(model, data)
        .iter()
        .map(|lp| log_sum_exp(lp))
        .sum()
}

/// log(π_k) + log N(x | μ_k, Σ_k) for every row x and component k (rows × K), in f64 from the
/// precision matrices, so that a row far from every component keeps finite values.
fn gmm_weighted_log_densities(
    model: &GaussianMixtureModel<f64>,
    data: ArrayView2<f64>,
) -> Vec<Vec<f64>> {
    let (k, d) = (model.weights().len(), data.ncols());
    let prec = model.precisions();
    let mut comps = Vec::with_capacity(k);
    for c in 0..k {
        let p: Vec<f64> = prec.slice(ndarray::s![c, .., ..]).iter().copied().collect();
        // ½ log|P| from the Cholesky factor of the precision matrix.
        let half_logdet = cholesky(&p, d).map_or(f64::NEG_INFINITY, |l| {
            (0..d).map(|i| l[i * d + i].ln()).sum::<f64>()
        });
        comps.push((p, half_logdet));
    }
    let ln2pi = (2.0 * std::f64::consts::PI).ln();
    let means = model.means();
    let weights = model.weights();
    let mut diff = vec![0.0; d];
    data.rows()
        .into_iter()
        .map(|row| {
            (0..k)
                .map(|c| {
                    let (p, hl) = &comps[c];
                    for j in 0..d {
                        diff[j] = row[j] - means[[c, j]];
                    }
                    let mut q = 0.0;
                    for i in 0..d {
                        for j in 0..d {
                            q += diff[i] * p[i * d + j] * diff[j];
                        }
                    }
                    weights[c].ln() + hl - 0.5 * q - 0.5 * d as f64 * ln2pi
                })
                .collect()
        })
        .collect()
}

/// log Σ exp(v), shifted by the largest term so that nothing underflows.
fn log_sum_exp(v: &[f64]) -> f64 {
    let m = v.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    if m == f64::NEG_INFINITY {
        return m;
    }
    m + v.iter().map(|x| (x - m).exp()).sum::<f64>().ln()
}

/// The posterior probabilities of a GMM's components for each row (rows × K). linfa's own
/// `predict_proba` exponentiates the log densities before normalising them, so a row far from
/// every component (a new row well outside the training data) gets 0/0: NaN probabilities.
/// Here they are normalised in the log domain: such a row goes to the component whose weighted
/// density is highest, with probabilities that sum to 1.
pub fn gmm_probabilities(model: &GaussianMixtureModel<f64>, data: ArrayView2<f64>) -> Matrix {
    let lps = gmm_weighted_log_densities(model, data);
    let k = model.weights().len();
    let mut out = Vec::with_capacity(lps.len() * k);
    for lp in &lps {
        let norm = log_sum_exp(lp);
        out.extend(lp.iter().map(|v| (v - norm).exp() as f32));
    }
    Matrix::new(lps.len(), k, out)
}

/// Lower Cholesky factor of a symmetric positive-definite `d×d` matrix (row-major).
fn cholesky(a: &[f64], d: usize) -> Option<Vec<f64>> {
    let mut l = vec![0.0; d * d];
    for i in 0..d {
        for j in 0..=i {
            let s: f64 = (0..j).map(|k| l[i * d + k] * l[j * d + k]).sum();
            if i == j {
                let v = a[i * d + i] - s;
                if v <= 0.0 {
                    return None;
                }
                l[i * d + i] = v.sqrt();
            } else {
                l[i * d + j] = (a[i * d + j] - s) / l[j * d + j];
            }
        }
    }
    Some(l)
}

/// Rows on which `--k auto` computes a silhouette: above it, a seeded random subset of this
/// many (the silhouette is quadratic in the rows; K-means itself is fitted on every row).
pub const SILHOUETTE_MAX_ROWS: usize = 3_000;

/// Mean silhouette of a labelling under the Euclidean distance (linfa's `SilhouetteScore`:
/// for each row, (b − a) / max(a, b) with a its mean distance to its own cluster and b the
/// smallest mean distance to another cluster), on at most [`SILHOUETTE_MAX_ROWS`] rows drawn
/// with `seed`. A row alone in its cluster counts 1 (linfa's convention; Rousseeuw's and
/// scikit-learn's count it 0).
pub fn silhouette(data: ArrayView2<f64>, labels: &[usize], seed: u64) -> Result<f64> {
    let n = data.nrows();
    let (records, targets) = if n > SILHOUETTE_MAX_ROWS {
        let mut idx: Vec<usize> = (0..n).collect();
        let mut rng = Xoshiro256Plus::seed_from_u64(seed);
        rand::seq::SliceRandom::partial_shuffle(&mut idx[..], &mut rng, SILHOUETTE_MAX_ROWS);
        idx.truncate(SILHOUETTE_MAX_ROWS);
        idx.sort_unstable();
        (
            data.select(ndarray::Axis(0), &idx),
            idx.iter().map(|&i| labels[i]).collect(),
        )
    } else {
        (data.to_owned(), labels.to_vec())
    };
    DatasetBase::new(records, ndarray::Array1::from(targets))
        .silhouette_score()
        .map_err(|e| VaeError::Clustering(format!("silhouette: {e}")))
}

/// Picks K in `range` (from 2: a silhouette needs two clusters) by the highest mean
/// silhouette of K-means (as [`Fitted::fit`] with `n_init` restarts and `seed`) on the latent
/// means; returns K and every (K, silhouette) tried. On the 16-table clustering benchmark this
/// found the number of classes in 28 of 80 runs against 18 for the lowest GMM BIC on the same
/// latents (benches/RESULTS.md, vaetool 9; 26 of 80 once the digits were clustered as images).
pub fn select_k_silhouette(
    latents: &Matrix,
    range: std::ops::RangeInclusive<usize>,
    n_init: usize,
    seed: u64,
) -> Result<(usize, Vec<(usize, f64)>)> {
    let (lo, hi) = (*range.start(), *range.end());
    if lo > latents.rows || range.is_empty() {
        return Err(VaeError::Usage(format!(
            "--k-range {lo}..{hi}: K must be at most the {} rows of the data",
            latents.rows
        )));
    }
    let data = to_array(latents);
    let mut tried = Vec::new();
    // a silhouette needs two clusters
    for k in lo.max(2)..=hi.min(latents.rows.saturating_sub(1)) {
        let params = ClusterParams {
            k,
            method: ClusterMethod::Kmeans,
            n_init,
            seed,
            neighbors: 0,
        };
        let labels = Fitted::fit(latents, &params)?.predict(latents)?.labels;
        tried.push((k, silhouette(data.view(), &labels, seed)?));
    }
    let best = tried
        .iter()
        // the first K of the highest silhouette (ties go to the smaller K)
        .fold(None::<(usize, f64)>, |b, &(k, v)| match b {
            Some((_, bv)) if bv >= v => b,
            _ => Some((k, v)),
        })
        .map(|(k, _)| k)
        .ok_or_else(|| {
            VaeError::Usage(format!(
                "--k-range {lo}..{hi}: a silhouette needs 2 <= K < the {} rows of the data",
                latents.rows
            ))
        })?;
    Ok((best, tried))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A GMM on the inputs with three components, `n_init` restarts from `seed`.
    fn gmm_inputs(n_init: usize, seed: u64) -> ClusterParams {
        ClusterParams {
            k: 3,
            method: ClusterMethod::GmmInputs,
            n_init,
            seed,
            neighbors: 20,
        }
    }

    fn blobs() -> Matrix {
        // three well separated 2-D blobs of 20 points
        let mut v = Vec::new();
        let centers = [(-5.0f32, 0.0f32), (5.0, 0.0), (0.0, 8.0)];
        for (i, (cx, cy)) in centers.iter().enumerate() {
            for j in 0..20 {
                let a = (j as f32 * 0.7 + i as f32).sin() * 0.5;
                let b = (j as f32 * 1.3 + i as f32).cos() * 0.5;
                v.extend([cx + a, cy + b]);
            }
        }
        Matrix::new(60, 2, v)
    }

    #[test]
    fn kmeans_and_gmm_recover_blobs_and_round_trip_through_json() {
        let x = blobs();
        let truth: Vec<usize> = (0..60).map(|i| i / 20).collect();
        for method in [ClusterMethod::Kmeans, ClusterMethod::Gmm] {
            let p = ClusterParams {
                k: 3,
                method,
                n_init: 3,
                seed: 1,
                neighbors: 20,
            };
            let f = Fitted::fit(&x, &p).unwrap();
            let a = f.predict(&x).unwrap();
            assert_eq!(crate::metrics::clustering_accuracy(&truth, &a.labels), 1.0);
            let json = serde_json::to_string(&f).unwrap();
            let g: Fitted = serde_json::from_str(&json).unwrap();
            assert_eq!(g.predict(&x).unwrap().labels, a.labels);
            assert_eq!(g.k(), 3);
            assert_eq!(a.probabilities.is_some(), method == ClusterMethod::Gmm);
        }
    }

    #[test]
    fn n2d_on_many_rows_fits_a_subset_and_places_the_rest() {
        // 60 rows, a cap of 30: the manifold holds 30 rows, every row is still assigned, and
        // the three blobs stay apart
        let x = blobs();
        let p = ClusterParams {
            k: 3,
            method: ClusterMethod::N2d,
            n_init: 3,
            seed: 4,
            neighbors: 8,
        };
        let f = fit_n2d(&x, &p, 30).unwrap();
        let Fitted::N2d { umap, .. } = &f else {
            panic!("not N2D")
        };
        assert_eq!(umap.embedding().rows, 30);
        let truth: Vec<usize> = (0..60).map(|i| i / 20).collect();
        let labels = f.predict(&x).unwrap().labels;
        assert_eq!(crate::metrics::clustering_accuracy(&truth, &labels), 1.0);
    }

    #[test]
    fn gmm_restarts_keep_the_likeliest_fit() {
        // four long thin parallel bars, 30 points each: EM from a K-means start (which cuts
        // across the bars) stops in different optima for different seeds
        let mut v = Vec::new();
        let mut st = 12345u32;
        let mut u = || {
            st = st.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
            (st >> 8) as f32 / (1u32 << 24) as f32 - 0.5
        };
        for c in 0..4 {
            for _ in 0..30 {
                v.extend([8.0 * u(), 1.2 * c as f32 + 0.3 * u()]);
            }
        }
        let data = to_array(&Matrix::new(120, 2, v));
        let ll = |n_init, seed| {
            gmm_log_likelihood(&fit_gmm(&data, 4, n_init, seed).unwrap(), data.view())
        };
        let (mut better, mut best_one, mut best_ten) = (0, f64::NEG_INFINITY, f64::NEG_INFINITY);
        for seed in 0..20 {
            let (one, ten) = (ll(1, seed), ll(10, seed));
            // restart 0 is the single fit: ten restarts are never worse
            assert!(ten >= one, "seed {seed}: {ten} < {one}");
            better += usize::from(ten > one + 0.1);
            best_one = best_one.max(one);
            best_ten = best_ten.max(ten);
        }
        assert!(better >= 10, "restarts improved {better} of 20 seeds");
        assert!(best_ten > best_one + 10.0, "{best_ten} vs {best_one}");
    }

    #[test]
    fn gmm_probabilities_stay_finite_far_from_every_component() {
        let x = blobs();
        let p = gmm_inputs(3, 1);
        let f = Fitted::fit(&x, &p).unwrap();
        let Fitted::GmmInputs { model, .. } = &f else {
            panic!("not a GMM on the inputs")
        };
        // near the data: linfa's own probabilities
        let near = f.predict(&x).unwrap().probabilities.unwrap();
        let linfa = model.predict_proba(&to_array(&x));
        for (a, b) in near.data.iter().zip(linfa.iter()) {
            assert!((f64::from(*a) - b).abs() < 1e-5, "{a} vs {b}");
        }
        // a row 10,000 units beyond the blob at (5, 0): linfa's densities underflow to 0/0
        let far = Matrix::new(1, 2, vec![10_005.0, 0.0]);
        let bad = model.predict_proba(&to_array(&far));
        assert!(bad.iter().any(|v| !v.is_finite()), "{bad:?}");
        let a = f.predict(&far).unwrap();
        let probs = a.probabilities.unwrap();
        assert!(probs.data.iter().all(|v| v.is_finite()), "{:?}", probs.data);
        assert!((probs.data.iter().sum::<f32>() - 1.0).abs() < 1e-6);
        // the component of the nearest blob (the one holding rows 20..40) takes it
        let blob = f.predict(&x).unwrap().labels[30];
        assert_eq!(a.labels, vec![blob]);
        assert_eq!(probs.data[blob], 1.0);
    }

    #[test]
    fn a_gmm_on_chosen_inputs_reads_those_columns_only() {
        // the blobs' two columns at inputs 1 and 3; inputs 0 and 2 a two-valued code that
        // cuts across them (a one-hot column, which would split the rows its own way)
        let b = blobs();
        let mut v = Vec::new();
        for i in 0..b.rows {
            let code = (i % 2) as f32 * 40.0;
            v.extend([code, b.row(i)[0], 40.0 - code, b.row(i)[1]]);
        }
        let x = Matrix::new(b.rows, 4, v);
        let p = gmm_inputs(3, 1);
        let truth: Vec<usize> = (0..60).map(|i| i / 20).collect();
        let f = Fitted::fit_gmm_inputs(&x, Some(vec![1, 3]), &p).unwrap();
        let a = f.predict(&x).unwrap();
        assert_eq!(crate::metrics::clustering_accuracy(&truth, &a.labels), 1.0);
        // the same mixture as on the two columns alone
        let alone = Fitted::fit(&b, &p).unwrap().predict(&b).unwrap();
        assert_eq!(a.labels, alone.labels);
        // stored with its columns; a clustering saved without them reads every column
        let json = serde_json::to_string(&f).unwrap();
        assert!(json.contains("\"columns\":[1,3]"), "{json}");
        let back: Fitted = serde_json::from_str(&json).unwrap();
        assert_eq!(back.predict(&x).unwrap().labels, a.labels);
        let old: Fitted =
            serde_json::from_str(&serde_json::to_string(&Fitted::fit(&b, &p).unwrap()).unwrap())
                .unwrap();
        assert!(matches!(old, Fitted::GmmInputs { columns: None, .. }));
        assert_eq!(old.predict(&b).unwrap().labels, alone.labels);
        // rows narrower than the columns it reads: an error, not a panic
        assert_eq!(
            f.predict(&b).unwrap_err().to_string(),
            "the clustering reads input column 4 but the rows have 2"
        );
    }

    #[test]
    fn a_gmm_on_many_inputs_is_fitted_on_a_subset_and_assigns_every_row() {
        // 21,000 rows (the three blobs, repeated with small shifts): over the cap, so the
        // mixture sees 20,000 of them; every row is still assigned, and the blobs stay apart
        let b = blobs();
        let reps = 350;
        let mut v = Vec::with_capacity(b.data.len() * reps);
        for r in 0..reps {
            v.extend(b.data.iter().map(|&x| x + r as f32 * 1e-4));
        }
        let x = Matrix::new(b.rows * reps, 2, v);
        assert!(x.rows > GMM_INPUTS_MAX_FIT_ROWS);
        let sub = seeded_subset(&x, GMM_INPUTS_MAX_FIT_ROWS, 3);
        assert_eq!(sub.rows, GMM_INPUTS_MAX_FIT_ROWS);
        assert_eq!(seeded_subset(&b, GMM_INPUTS_MAX_FIT_ROWS, 3).rows, b.rows);
        let p = gmm_inputs(2, 3);
        let f = Fitted::fit(&x, &p).unwrap();
        let a = f.predict(&x).unwrap();
        assert_eq!(a.labels.len(), x.rows);
        let truth: Vec<usize> = (0..x.rows).map(|i| (i % 60) / 20).collect();
        assert_eq!(crate::metrics::clustering_accuracy(&truth, &a.labels), 1.0);
    }

    #[test]
    fn one_component_log_likelihood_in_closed_form() {
        // K = 1: the fitted Gaussian is the sample mean and (biased) covariance, and the
        // log-likelihood of the data is −n/2 (d log 2π + log |Σ| + d)
        let x = blobs();
        let data = to_array(&x);
        let m = fit_gmm(&data, 1, 1, 0).unwrap();
        let n = data.nrows() as f64;
        let mean = data.mean_axis(ndarray::Axis(0)).unwrap();
        let c = data.clone() - &mean;
        let cov = c.t().dot(&c) / n;
        let det = cov[[0, 0]] * cov[[1, 1]] - cov[[0, 1]] * cov[[1, 0]];
        let want = -n / 2.0 * (2.0 * (2.0 * std::f64::consts::PI).ln() + det.ln() + 2.0);
        let got = gmm_log_likelihood(&m, data.view());
        assert!((got - want).abs() < 1e-3 * want.abs(), "{got} vs {want}");
    }

    #[test]
    fn silhouette_picks_three_blobs() {
        let (k, tried) = select_k_silhouette(&blobs(), 2..=5, 2, 0).unwrap();
        assert_eq!(k, 3, "{tried:?}");
        assert_eq!(tried.iter().map(|t| t.0).collect::<Vec<_>>(), [2, 3, 4, 5]);
    }

    #[test]
    fn silhouette_by_hand() {
        // 0, 1 | 10, 11: a = 1 for every point; b = 10.5 for the outer two, 9.5 for the
        // inner two: s = 9.5/10.5 and 8.5/9.5
        let x = ndarray::array![[0.0], [1.0], [10.0], [11.0]];
        let v = silhouette(x.view(), &[0, 0, 1, 1], 0).unwrap();
        let want = (9.5 / 10.5 + 8.5 / 9.5) / 2.0;
        assert!((v - want).abs() < 1e-12, "{v} vs {want}");
        // swapping two points between the clusters makes it negative
        assert!(silhouette(x.view(), &[0, 1, 0, 1], 0).unwrap() < 0.0);
        // above SILHOUETTE_MAX_ROWS: a seeded subset, the same for the same seed
        let n = SILHOUETTE_MAX_ROWS + 500;
        let big = Array2::from_shape_fn((n, 1), |(i, _)| {
            (i % 2) as f64 * 10.0 + (i % 7) as f64 * 0.01
        });
        let labels: Vec<usize> = (0..n).map(|i| i % 2).collect();
        let a = silhouette(big.view(), &labels, 3).unwrap();
        assert_eq!(a, silhouette(big.view(), &labels, 3).unwrap());
        assert!(a > 0.99, "{a}");
    }

    #[test]
    fn k_auto_needs_two_clusters_and_fewer_than_the_rows() {
        let three = Matrix::new(3, 1, vec![0.0, 1.0, 10.0]);
        let (k, tried) = select_k_silhouette(&three, 2..=10, 1, 0).unwrap();
        assert_eq!((k, tried.len()), (2, 1));
        let two = Matrix::new(2, 1, vec![0.0, 1.0]);
        let e = select_k_silhouette(&two, 2..=10, 1, 0)
            .unwrap_err()
            .to_string();
        assert!(e.contains("a silhouette needs 2 <= K < the 2 rows"), "{e}");
    }

    #[test]
    fn k_is_checked() {
        let p = ClusterParams {
            k: 0,
            method: ClusterMethod::Kmeans,
            n_init: 1,
            seed: 0,
            neighbors: 20,
        };
        assert_eq!(
            p.check(10).unwrap_err().to_string(),
            "--k must be at least 1"
        );
        let p = ClusterParams { k: 11, ..p };
        assert_eq!(
            p.check(10).unwrap_err().to_string(),
            "--k 11 is larger than the number of rows (10)"
        );
    }

    #[test]
    fn mixture_from_labels_is_the_moments_of_each_group() {
        let x = Matrix::new(4, 2, vec![0.0, 1.0, 2.0, 3.0, 10.0, 10.0, 10.0, 12.0]);
        let (w, m, v) = mixture_from_labels(&x, &[0, 0, 1, 1], 3);
        // the empty third group: weight 1e-3 before normalising, moments of all rows
        let want = [0.5 / 1.001, 0.5 / 1.001, 0.001 / 1.001];
        assert!(
            w.iter().zip(want).all(|(a, b)| (a - b).abs() < 1e-6),
            "{w:?}"
        );
        assert_eq!(m, vec![1.0, 2.0, 10.0, 11.0, 5.5, 6.5]);
        assert_eq!(v, vec![1.0, 1.0, 1e-6, 1.0, 20.75, 21.25]);
    }

    #[test]
    fn cholesky_by_hand() {
        let l = cholesky(&[4.0, 2.0, 2.0, 3.0], 2).unwrap();
        assert_eq!(l, vec![2.0, 0.0, 1.0, 2f64.sqrt()]);
        assert!(cholesky(&[1.0, 2.0, 2.0, 1.0], 2).is_none());
    }
}
