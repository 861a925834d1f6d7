//! Latent class analysis: a mixture of independent categorical distributions, one per table
//! column, fitted by EM — the categorical counterpart of a Gaussian mixture on the inputs
//! (`cluster --method lca`, and `cluster`'s default for a table whose every column is
//! categorical or takes at most a few values: answers to a questionnaire, indicators, codes).
//!
//! Each class `k` has a weight `π_k` and, for each column `c`, a distribution `θ_kc` over the
//! column's levels; a row's likelihood in class `k` is `π_k ∏_c θ_kc(x_c)`. A missing cell (a
//! category spelt `NA`, `?`, … or a value never seen in training) leaves its column out of
//! that row's product, as latent class software does under missingness at random. The level
//! probabilities are smoothed by one pseudo-count per level (Laplace), so that a level one
//! class never saw keeps a small probability. Restarts from random responsibilities; a class
//! that EM leaves without a row of its own is refilled with the worse-explained part of the
//! largest class and EM goes on (as K-means relocates an empty cluster); of the restarts, the
//! likeliest among those with the most classes occupied is kept.

use rand::{Rng, SeedableRng};
use rand_xoshiro::Xoshiro256Plus;
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use crate::data::schema::{Feature, Schema};
use crate::data::Matrix;
use crate::error::{Result, VaeError};

/// Pseudo-count added to every level of every column in every class (Laplace smoothing).
pub const SMOOTHING: f64 = 1.0;
/// Times one restart refills classes that EM left without rows of their own.
pub const REFILLS: usize = 3;
/// EM iterations of one restart at most, per refill: `MAX_ITERATIONS × (REFILLS + 1)` in all.
pub const MAX_ITERATIONS: usize = 300;
/// EM stops when the log-likelihood gains less than this fraction of itself.
pub const TOLERANCE: f64 = 1e-8;

/// How one column of the model is read from a row of scaled inputs.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "lowercase")]
pub enum Variable {
    /// A one-hot block (a categorical column): inputs `start..start + width`, the level is the
    /// input that holds 1. `skip`: the categories that stand for a missing cell (`NA`, `?`,
    /// an empty cell), which carry no evidence.
    Onehot {
        /// First input of the block.
        start: usize,
        /// Number of categories.
        width: usize,
        /// Categories read as missing.
        skip: Vec<usize>,
    },
    /// One input taking a few values: the level is the value's place in `levels` (sorted); a
    /// value not among them carries no evidence.
    Levels {
        /// The input.
        input: usize,
        /// The values seen in training, ascending.
        levels: Vec<f32>,
    },
}

impl Variable {
    /// Number of levels.
    pub fn n_levels(&self) -> usize {
        match self {
            Variable::Onehot { width, .. } => *width,
            Variable::Levels { levels, .. } => levels.len(),
        }
    }

    /// The level of a row of inputs, `None` for a missing cell.
    pub fn level(&self, row: &[f32]) -> Option<usize> {
        match self {
            Variable::Onehot { start, width, skip } => {
                let block = &row[*start..start + width];
                let l = block.iter().position(|&v| v == 1.0)?;
                (!skip.contains(&l)).then_some(l)
            }
            Variable::Levels { input, levels } => {
                let v = row[*input];
                levels.binary_search_by(|l| l.total_cmp(&v)).ok()
            }
        }
    }
}

/// The columns of a table as latent class variables, read off its schema and its prepared
/// rows `x`: a categorical column as its one-hot block, a numeric column as its distinct
/// values. `Err` says why the table is not one: images, or the name of the first numeric
/// column that takes more than `max_levels` values.
pub fn variables_of(
    schema: &Schema,
    x: &Matrix,
    max_levels: usize,
) -> std::result::Result<Vec<Variable>, String> {
    if schema.image.is_some() || schema.features.is_empty() {
        return Err("the inputs are images, not columns".into());
    }
    let mut out = Vec::with_capacity(schema.features.len());
    for (offset, f) in schema.features_at() {
        match f {
            Feature::Categorical { categories, .. } => out.push(Variable::Onehot {
                start: offset,
                width: categories.len(),
                skip: categories
                    .iter()
                    .enumerate()
                    .filter(|(_, c)| crate::data::schema::is_missing_token(c))
                    .map(|(i, _)| i)
                    .collect(),
            }),
            Feature::Numeric { .. } => {
                let mut levels: Vec<f32> = Vec::with_capacity(max_levels + 1);
                for r in 0..x.rows {
                    let v = x.data[r * x.cols + offset];
                    if !levels.iter().any(|l| l.total_cmp(&v).is_eq()) {
                        if levels.len() == max_levels {
                            return Err(format!(
                                "column '{}' takes more than {max_levels} values",
                                crate::data::clip(f.name())
                            ));
                        }
                        levels.push(v);
                    }
                }
                levels.sort_by(f32::total_cmp);
                out.push(Variable::Levels {
                    input: offset,
                    levels,
                });
            }
        }
    }
    Ok(out)
}

/// A fitted latent class model.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct LatentClassModel {
    /// How each column is read from the inputs.
    pub variables: Vec<Variable>,
    /// Log weight of each class, `[k]`.
    pub log_weights: Vec<f64>,
    /// Log probability of each level of each column, per class: `[k][Σ levels]`, the columns'
    /// levels one after another in the order of `variables`.
    pub log_probs: Vec<Vec<f64>>,
    /// Log-likelihood of the training rows.
    pub log_likelihood: f64,
}

/// The rows' levels, `rows × columns`, `u32::MAX` for a missing cell.
fn levels_of(variables: &[Variable], x: &Matrix) -> Vec<u32> {
    let mut out = Vec::with_capacity(x.rows * variables.len());
    for r in 0..x.rows {
        let row = x.row(r);
        out.extend(
            variables
                .iter()
                .map(|v| v.level(row).map_or(u32::MAX, |l| l as u32)),
        );
    }
    out
}

/// Where each column's levels start in a class's row of `log_probs`, and their total.
fn offsets(variables: &[Variable]) -> (Vec<usize>, usize) {
    let mut off = Vec::with_capacity(variables.len());
    let mut total = 0;
    for v in variables {
        off.push(total);
        total += v.n_levels();
    }
    (off, total)
}

fn log_sum_exp(v: &[f64]) -> f64 {
    let m = v.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
    if m == f64::NEG_INFINITY {
        return m;
    }
    m + v.iter().map(|x| (x - m).exp()).sum::<f64>().ln()
}

/// Log of `π_k ∏_c θ_kc(x_c)` for every class, for the row of levels `codes`.
fn joint(
    codes: &[u32],
    off: &[usize],
    log_weights: &[f64],
    log_probs: &[Vec<f64>],
    out: &mut [f64],
) {
    for (k, o) in out.iter_mut().enumerate() {
        let lp = &log_probs[k];
        *o = log_weights[k]
            + codes
                .iter()
                .zip(off)
                .filter(|(c, _)| **c != u32::MAX)
                .map(|(c, o)| lp[o + *c as usize])
                .sum::<f64>();
    }
}

/// One EM run from random responsibilities.
struct Fit {
    log_likelihood: f64,
    log_weights: Vec<f64>,
    log_probs: Vec<Vec<f64>>,
    /// How many classes are the likeliest for at least one training row.
    occupied: usize,
}

/// One EM run from random responsibilities drawn with `seed`. When EM converges with a class
/// that no row is likeliest in, that class is refilled (at most [`REFILLS`] times) with the
/// worse-explained part of the largest class's rows and EM goes on, as K-means relocates an
/// empty cluster.
fn em(codes: &[u32], variables: &[Variable], n: usize, k: usize, seed: u64) -> Fit {
    let c = variables.len();
    let (off, total) = offsets(variables);
    let mut rng = Xoshiro256Plus::seed_from_u64(seed);
    // responsibilities: a flat Dirichlet(1) draw per row (normalised exponentials)
    let mut resp: Vec<f64> = (0..n * k).map(|_| -(1.0 - rng.gen::<f64>()).ln()).collect();
    for row in resp.chunks_mut(k) {
        let s: f64 = row.iter().sum();
        row.iter_mut().for_each(|v| *v /= s);
    }
    let mut log_weights = vec![0.0; k];
    let mut log_probs = vec![vec![0.0; total]; k];
    let mut prev = f64::NEG_INFINITY;
    let mut ll = f64::NEG_INFINITY;
    let mut lp = vec![0.0; k];
    let mut row_ll = vec![0.0; n];
    let mut refills = 0;
    let mut iterations = 0;
    while iterations < MAX_ITERATIONS * (REFILLS + 1) {
        iterations += 1;
        // M-step: weights and smoothed level frequencies
        let mut counts = vec![vec![0.0; total]; k];
        let mut mass = vec![0.0; k];
        for i in 0..n {
            let codes = &codes[i * c..(i + 1) * c];
            for (j, &r) in resp[i * k..(i + 1) * k].iter().enumerate() {
                mass[j] += r;
                let cj = &mut counts[j];
                for (code, o) in codes.iter().zip(&off) {
                    if *code != u32::MAX {
                        cj[o + *code as usize] += r;
                    }
                }
            }
        }
        for j in 0..k {
            log_weights[j] = (mass[j].max(f64::MIN_POSITIVE) / n as f64).ln();
            for (v, o) in variables.iter().zip(&off) {
                let levels = &counts[j][*o..o + v.n_levels()];
                let denom: f64 = levels.iter().sum::<f64>() + SMOOTHING * v.n_levels() as f64;
                for (l, cnt) in levels.iter().enumerate() {
                    log_probs[j][o + l] = ((cnt + SMOOTHING) / denom).ln();
                }
            }
        }
        // E-step
        ll = 0.0;
        for i in 0..n {
            joint(
                &codes[i * c..(i + 1) * c],
                &off,
                &log_weights,
                &log_probs,
                &mut lp,
            );
            let norm = log_sum_exp(&lp);
            ll += norm;
            row_ll[i] = norm;
            for (r, v) in resp[i * k..(i + 1) * k].iter_mut().zip(&lp) {
                *r = (v - norm).exp();
            }
        }
        if ll - prev > TOLERANCE * ll.abs() {
            prev = ll;
            continue;
        }
        // converged: refill the classes no row is likeliest in, or stop
        let mut members = members_of(&resp, k);
        if refills == REFILLS || members.iter().all(|m| !m.is_empty()) {
            break;
        }
        refills += 1;
        for j in 0..k {
            if !members[j].is_empty() {
                continue;
            }
            // the largest class whose rows are not all explained alike (identical rows share
            // their posteriors, so a cut between two of them would not hold), cut where the
            // row log-likelihoods change nearest the middle
            let mut by_size: Vec<usize> = (0..k).collect();
            by_size.sort_by_key(|&c| (std::cmp::Reverse(members[c].len()), c));
            let cut = by_size.into_iter().find_map(|c| {
                let mut rows = members[c].clone();
                rows.sort_by(|a, b| row_ll[*a].total_cmp(&row_ll[*b]).then(a.cmp(b)));
                let half = rows.len() / 2;
                (1..rows.len())
                    .filter(|&i| row_ll[rows[i - 1]] != row_ll[rows[i]])
                    .min_by_key(|&i| i.abs_diff(half))
                    .map(|i| (c, rows, i))
            });
            let Some((big, mut rows, at)) = cut else {
                break;
            };
            let keep = rows.split_off(at);
            for &i in &rows {
                let r = &mut resp[i * k..(i + 1) * k];
                r.iter_mut().for_each(|v| *v = 0.0);
                r[j] = 1.0;
            }
            members[j] = rows;
            members[big] = keep;
        }
        prev = f64::NEG_INFINITY;
    }
    Fit {
        log_likelihood: ll,
        log_weights,
        log_probs,
        occupied: members_of(&resp, k)
            .iter()
            .filter(|m| !m.is_empty())
            .count(),
    }
}

/// The rows each class is the likeliest for, from the `n × k` responsibilities.
fn members_of(resp: &[f64], k: usize) -> Vec<Vec<usize>> {
    let mut members = vec![Vec::new(); k];
    for (i, row) in resp.chunks(k).enumerate() {
        members[crate::data::argmax(row)].push(i);
    }
    members
}

/// The better of two restarts `(r, fit)`: the one with more classes occupied, then the
/// likelier; on a tie the earlier restart, so the choice is the same whatever the threads did.
fn better(a: (u64, Fit), b: (u64, Fit)) -> (u64, Fit) {
    let key = |(r, f): &(u64, Fit)| (f.occupied, f.log_likelihood, u64::MAX - r);
    if key(&b) > key(&a) {
        b
    } else {
        a
    }
}

impl LatentClassModel {
    /// Fits `k` classes to the rows `x` read as `variables`, by EM from `n_init` random starts
    /// (restart `r` seeded from `seed` and `r`, run in parallel). Kept: among the fits in which
    /// the most classes are the likeliest for at least one row (the user asked for `k`
    /// clusters), the likeliest.
    ///
    /// # Errors
    /// When `k` is 0 or larger than the rows, or there are no variables.
    pub fn fit(
        x: &Matrix,
        variables: Vec<Variable>,
        k: usize,
        n_init: usize,
        seed: u64,
    ) -> Result<Self> {
        if k == 0 || k > x.rows {
            return Err(VaeError::Usage(format!(
                "a latent class model needs 1 ≤ K ≤ the {} rows, got K={k}",
                x.rows
            )));
        }
        if variables.is_empty() {
            return Err(VaeError::Clustering(
                "a latent class model needs at least one column".into(),
            ));
        }
        let codes = levels_of(&variables, x);
        let n = x.rows;
        let best = (0..n_init.max(1) as u64)
            .into_par_iter()
            .map(|r| {
                // restart 0 keeps the seed itself
                let fit = em(
                    &codes,
                    &variables,
                    n,
                    k,
                    seed ^ r.wrapping_mul(0x9E37_79B9_7F4A_7C15),
                );
                (r, fit)
            })
            .reduce_with(better)
            .expect("at least one restart")
            .1;
        Ok(LatentClassModel {
            variables,
            log_weights: best.log_weights,
            log_probs: best.log_probs,
            log_likelihood: best.log_likelihood,
        })
    }

    /// Number of classes.
    pub fn k(&self) -> usize {
        self.log_weights.len()
    }

    /// The posterior probability of every class for each row of `x`, `rows × k`.
    ///
    /// # Errors
    /// When `x` is narrower than the inputs the model reads.
    pub fn predict_proba(&self, x: &Matrix) -> Result<Matrix> {
        let needed = self
            .variables
            .iter()
            .map(|v| match v {
                Variable::Onehot { start, width, .. } => start + width,
                Variable::Levels { input, .. } => input + 1,
            })
            .max()
            .unwrap_or(0);
        if x.cols < needed {
            return Err(VaeError::Model(format!(
                "the latent class model reads {needed} inputs; the rows have {}",
                x.cols
            )));
        }
        let (off, _) = offsets(&self.variables);
        let codes = levels_of(&self.variables, x);
        let c = self.variables.len();
        let k = self.k();
        let mut lp = vec![0.0; k];
        let mut out = Vec::with_capacity(x.rows * k);
        for i in 0..x.rows {
            joint(
                &codes[i * c..(i + 1) * c],
                &off,
                &self.log_weights,
                &self.log_probs,
                &mut lp,
            );
            let norm = log_sum_exp(&lp);
            out.extend(lp.iter().map(|v| (v - norm).exp() as f32));
        }
        Ok(Matrix::new(x.rows, k, out))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Two classes of 3 binary columns: class 0 answers (1,1,0) with probability 0.9 per
    /// column, class 1 the opposite.
    fn two_classes(n: usize) -> (Matrix, Vec<usize>) {
        let mut rng = Xoshiro256Plus::seed_from_u64(7);
        let mut data = Vec::new();
        let mut truth = Vec::new();
        for i in 0..n {
            let class = i % 2;
            for proto in [1.0f32, 1.0, 0.0] {
                let v = if class == 0 { proto } else { 1.0 - proto };
                data.push(if rng.gen::<f64>() < 0.9 { v } else { 1.0 - v });
            }
            truth.push(class);
        }
        (Matrix::new(n, 3, data), truth)
    }

    fn levels3() -> Vec<Variable> {
        (0..3)
            .map(|input| Variable::Levels {
                input,
                levels: vec![0.0, 1.0],
            })
            .collect()
    }

    #[test]
    fn one_class_gives_the_smoothed_frequencies_in_closed_form() {
        // one class: weight 1, θ(level) = (count + 1) / (n + levels)
        let x = Matrix::new(4, 1, vec![0.0, 0.0, 0.0, 1.0]);
        let v = vec![Variable::Levels {
            input: 0,
            levels: vec![0.0, 1.0],
        }];
        let m = LatentClassModel::fit(&x, v, 1, 2, 1).unwrap();
        assert!((m.log_weights[0] - 0.0).abs() < 1e-12);
        assert!((m.log_probs[0][0] - (4.0f64 / 6.0).ln()).abs() < 1e-12);
        assert!((m.log_probs[0][1] - (2.0f64 / 6.0).ln()).abs() < 1e-12);
        let ll = 3.0 * (4.0f64 / 6.0).ln() + (2.0f64 / 6.0).ln();
        assert!((m.log_likelihood - ll).abs() < 1e-9, "{}", m.log_likelihood);
    }

    #[test]
    fn recovers_two_classes_of_binary_answers() {
        let (x, truth) = two_classes(400);
        let m = LatentClassModel::fit(&x, levels3(), 2, 5, 3).unwrap();
        let p = m.predict_proba(&x).unwrap();
        let labels: Vec<usize> = (0..x.rows).map(|i| crate::data::argmax(p.row(i))).collect();
        let agree = labels.iter().zip(&truth).filter(|(a, b)| a == b).count();
        let acc = agree.max(x.rows - agree) as f64 / x.rows as f64;
        // the Bayes rule (majority of the three answers) is right with p = 0.972
        assert!(acc > 0.95, "accuracy {acc}");
        for i in 0..x.rows {
            let s: f32 = p.row(i).iter().sum();
            assert!((s - 1.0).abs() < 1e-5);
        }
    }

    #[test]
    fn a_missing_or_unseen_cell_carries_no_evidence() {
        let (x, _) = two_classes(200);
        let m = LatentClassModel::fit(&x, levels3(), 2, 3, 1).unwrap();
        // rows whose every cell is unseen get the class weights
        let unseen = Matrix::new(1, 3, vec![7.0, 7.0, 7.0]);
        let p = m.predict_proba(&unseen).unwrap();
        for (j, w) in m.log_weights.iter().enumerate() {
            assert!((f64::from(p.row(0)[j]) - w.exp()).abs() < 1e-6);
        }
        // one-hot: a skipped category and an all-zero block read as missing
        let v = Variable::Onehot {
            start: 1,
            width: 3,
            skip: vec![2],
        };
        assert_eq!(v.level(&[5.0, 0.0, 1.0, 0.0]), Some(1));
        assert_eq!(v.level(&[5.0, 0.0, 0.0, 1.0]), None);
        assert_eq!(v.level(&[5.0, 0.0, 0.0, 0.0]), None);
    }

    #[test]
    fn a_fit_that_occupies_more_classes_beats_a_likelier_one() {
        let fit = |ll: f64, occupied: usize| Fit {
            log_likelihood: ll,
            log_weights: vec![],
            log_probs: vec![],
            occupied,
        };
        let pick = |fits: Vec<(f64, usize)>| {
            fits.into_iter()
                .enumerate()
                .map(|(r, (ll, o))| (r as u64, fit(ll, o)))
                .reduce(better)
                .unwrap()
                .0
        };
        assert_eq!(pick(vec![(-10.0, 3), (-12.0, 4), (-11.0, 4)]), 2);
        assert_eq!(pick(vec![(-12.0, 4), (-10.0, 3)]), 0);
        assert_eq!(pick(vec![(-9.0, 2), (-12.0, 3), (-10.0, 2)]), 1);
        // as many occupied: the likeliest; ties: the earlier restart
        assert_eq!(pick(vec![(-12.0, 3), (-10.0, 3)]), 1);
        assert_eq!(pick(vec![(-10.0, 4), (-10.0, 4)]), 0);
        assert_eq!(pick(vec![(-11.0, 4), (-10.0, 4), (-10.0, 4)]), 1);
    }

    #[test]
    fn more_classes_than_planted_still_each_get_rows() {
        // two planted classes of three binary answers, six classes asked for: each restart
        // refills the classes EM leaves without rows, so every class is some row's likeliest
        let (x, _) = two_classes(300);
        for seed in 1..=3 {
            let m = LatentClassModel::fit(&x, levels3(), 6, 4, seed).unwrap();
            let p = m.predict_proba(&x).unwrap();
            let mut sizes = [0; 6];
            for i in 0..x.rows {
                sizes[crate::data::argmax(p.row(i))] += 1;
            }
            assert!(sizes.iter().all(|&s| s > 0), "seed {seed}: {sizes:?}");
        }
    }

    #[test]
    fn the_same_seed_gives_the_same_model_whatever_the_threads() {
        let (x, _) = two_classes(300);
        let a = LatentClassModel::fit(&x, levels3(), 3, 8, 11).unwrap();
        let b = LatentClassModel::fit(&x, levels3(), 3, 8, 11).unwrap();
        assert_eq!(a.log_probs, b.log_probs);
        assert_eq!(a.log_likelihood, b.log_likelihood);
        assert!(LatentClassModel::fit(&x, levels3(), 0, 1, 1).is_err());
    }
}
