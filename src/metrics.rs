//! Evaluation measures (ALGORITHMS.md §4): clustering accuracy with the best one-to-one
//! cluster-to-class mapping (Hungarian algorithm), normalized mutual information (arithmetic
//! normalization, scikit-learn's default), adjusted Rand index; ROC-AUC (ties counted half)
//! and average precision for anomaly scores (outlier = positive, higher score = more anomalous);
//! the k-nearest-neighbour (KSG) mutual information between two latent coordinates, for
//! measuring how dependent a model's latents are.

use std::collections::HashMap;

use pathfinding::kuhn_munkres::kuhn_munkres;

/// Maps arbitrary labels to `0..n` in order of first appearance; returns codes and names.
pub fn encode_labels<S: AsRef<str>>(labels: &[S]) -> (Vec<usize>, Vec<String>) {
    let mut map: HashMap<&str, usize> = HashMap::new();
    let mut names = Vec::new();
    let codes = labels
        .iter()
        .map(|l| {
            let l = l.as_ref();
            *map.entry(l).or_insert_with(|| {
                names.push(l.to_string());
                names.len() - 1
            })
        })
        .collect();
    (codes, names)
}

/// Contingency table `table[class][cluster]`.
pub fn contingency(truth: &[usize], pred: &[usize]) -> Vec<Vec<u64>> {
    let nt = truth.iter().max().map_or(0, |m| m + 1);
    let np = pred.iter().max().map_or(0, |m| m + 1);
    let mut t = vec![vec![0u64; np]; nt];
    for (&a, &b) in truth.iter().zip(pred) {
        t[a][b] += 1;
    }
    t
}

/// Clustering accuracy: the fraction of rows right under the best one-to-one mapping of
/// clusters to classes.
pub fn clustering_accuracy(truth: &[usize], pred: &[usize]) -> f64 {
    assert_eq!(truth.len(), pred.len());
    if truth.is_empty() {
        return 0.0;
    }
    let t = contingency(truth, pred);
    let n = t.len().max(t.first().map_or(0, Vec::len));
    let mut rows = vec![vec![0i64; n]; n];
    for (i, r) in t.iter().enumerate() {
        for (j, &v) in r.iter().enumerate() {
            rows[j][i] = v as i64; // clusters × classes
        }
    }
    let w = pathfinding::matrix::Matrix::from_rows(rows).expect("square matrix");
    let (total, _) = kuhn_munkres(&w);
    total as f64 / truth.len() as f64
}

fn entropy(counts: impl Iterator<Item = u64>, n: f64) -> f64 {
    counts
        .filter(|&c| c > 0)
        .map(|c| {
            let p = c as f64 / n;
            -p * p.ln()
        })
        .sum()
}

/// Normalized mutual information, MI / mean(H(truth), H(pred)).
pub fn nmi(truth: &[usize], pred: &[usize]) -> f64 {
    let t = contingency(truth, pred);
    let n = truth.len() as f64;
    let rows: Vec<u64> = t.iter().map(|r| r.iter().sum()).collect();
    let cols: Vec<u64> = (0..t.first().map_or(0, Vec::len))
        .map(|j| t.iter().map(|r| r[j]).sum())
        .collect();
    let (ht, hp) = (
        entropy(rows.iter().copied(), n),
        entropy(cols.iter().copied(), n),
    );
    if ht == 0.0 && hp == 0.0 {
        return 1.0;
    }
    let mut mi = 0.0;
    for (i, r) in t.iter().enumerate() {
        for (j, &c) in r.iter().enumerate() {
            if c > 0 {
                let c = c as f64;
                mi += c / n * (c * n / (rows[i] as f64 * cols[j] as f64)).ln();
            }
        }
    }
    (mi / ((ht + hp) / 2.0)).clamp(0.0, 1.0)
}

fn comb2(x: u64) -> f64 {
    let x = x as f64;
    x * (x - 1.0) / 2.0
}

/// Adjusted Rand index (Hubert & Arabie 1985).
pub fn ari(truth: &[usize], pred: &[usize]) -> f64 {
    let t = contingency(truth, pred);
    let rows: Vec<u64> = t.iter().map(|r| r.iter().sum()).collect();
    let cols: Vec<u64> = (0..t.first().map_or(0, Vec::len))
        .map(|j| t.iter().map(|r| r[j]).sum())
        .collect();
    let index: f64 = t.iter().flatten().map(|&c| comb2(c)).sum();
    let a: f64 = rows.iter().map(|&c| comb2(c)).sum();
    let b: f64 = cols.iter().map(|&c| comb2(c)).sum();
    let total = comb2(truth.len() as u64);
    let expected = a * b / total;
    let max = (a + b) / 2.0;
    if max == expected {
        return 1.0;
    }
    (index - expected) / (max - expected)
}

/// ROC-AUC of `scores` for the positives in `positive`; `None` when one class is absent.
pub fn roc_auc(scores: &[f64], positive: &[bool]) -> Option<f64> {
    let n_pos = positive.iter().filter(|&&p| p).count();
    let n_neg = positive.len() - n_pos;
    if n_pos == 0 || n_neg == 0 {
        return None;
    }
    let mut idx: Vec<usize> = (0..scores.len()).collect();
    idx.sort_by(|&a, &b| scores[a].total_cmp(&scores[b]));
    let mut rank_sum = 0.0;
    let mut i = 0;
    while i < idx.len() {
        let mut j = i;
        // (total_cmp: a NaN equals itself, so every group ends)
        while j + 1 < idx.len() && scores[idx[j + 1]].total_cmp(&scores[idx[i]]).is_eq() {
            j += 1;
        }
        let avg_rank = (i + j) as f64 / 2.0 + 1.0;
        for &k in &idx[i..=j] {
            if positive[k] {
                rank_sum += avg_rank;
            }
        }
        i = j + 1;
    }
    let p = n_pos as f64;
    Some((rank_sum - p * (p + 1.0) / 2.0) / (p * n_neg as f64))
}

/// Average precision Σ_n (R_n − R_{n−1}) P_n over distinct score thresholds (as
/// scikit-learn's `average_precision_score`); `None` without positives.
pub fn average_precision(scores: &[f64], positive: &[bool]) -> Option<f64> {
    let n_pos = positive.iter().filter(|&&p| p).count();
    if n_pos == 0 {
        return None;
    }
    let mut idx: Vec<usize> = (0..scores.len()).collect();
    idx.sort_by(|&a, &b| scores[b].total_cmp(&scores[a]));
    let (mut tp, mut fp, mut ap, mut prev_recall) = (0usize, 0usize, 0.0, 0.0);
    let mut i = 0;
    while i < idx.len() {
        let mut j = i;
        while j < idx.len() && scores[idx[j]].total_cmp(&scores[idx[i]]).is_eq() {
            if positive[idx[j]] {
                tp += 1;
            } else {
                fp += 1;
            }
            j += 1;
        }
        let recall = tp as f64 / n_pos as f64;
        let precision = tp as f64 / (tp + fp) as f64;
        ap += (recall - prev_recall) * precision;
        prev_recall = recall;
        i = j;
    }
    Some(ap)
}

/// Digamma ψ(x) for x > 0: recurrence up to x ≥ 10, then the asymptotic series.
fn digamma(mut x: f64) -> f64 {
    let mut r = 0.0;
    while x < 10.0 {
        r -= 1.0 / x;
        x += 1.0;
    }
    let f = 1.0 / (x * x);
    r + x.ln() - 0.5 / x - f * (1.0 / 12.0 - f * (1.0 / 120.0 - f * (1.0 / 252.0)))
}

/// Mutual information I(X; Y) in nats of two scalar samples, by the k-nearest-neighbour
/// estimator of Kraskov, Stögbauer and Grassberger (2004, their first algorithm), as in
/// scikit-learn's `mutual_info_regression`: both variables scaled to unit variance, max-norm
/// in the joint space, ψ(k) + ψ(N) − ⟨ψ(n_x + 1) + ψ(n_y + 1)⟩, clipped at 0. O(N²): meant for
/// a few thousand points. Unlike a Gaussian fit, it sees non-linear dependence (a rotation of
/// two independent uniform variables is uncorrelated but dependent).
pub fn mutual_information_ksg(x: &[f64], y: &[f64], k: usize) -> f64 {
    let n = x.len().min(y.len());
    if n <= k || k == 0 {
        return 0.0;
    }
    let unit = |v: &[f64]| -> Vec<f64> {
        let m = v[..n].iter().sum::<f64>() / n as f64;
        let sd = (v[..n].iter().map(|a| (a - m).powi(2)).sum::<f64>() / n as f64).sqrt();
        let sd = if sd > 0.0 { sd } else { 1.0 };
        v[..n].iter().map(|a| a / sd).collect()
    };
    let (x, y) = (unit(x), unit(y));
    let mut total = 0.0;
    let mut d = vec![0.0f64; n];
    for i in 0..n {
        for j in 0..n {
            d[j] = (x[i] - x[j]).abs().max((y[i] - y[j]).abs());
        }
        d[i] = f64::INFINITY;
        // distance to the k-th nearest neighbour in the joint space (`d` is rebuilt next row)
        d.select_nth_unstable_by(k - 1, |a, b| a.total_cmp(b));
        let eps = d[k - 1];
        let nx = (0..n)
            .filter(|&j| j != i && (x[i] - x[j]).abs() < eps)
            .count();
        let ny = (0..n)
            .filter(|&j| j != i && (y[i] - y[j]).abs() < eps)
            .count();
        total += digamma(nx as f64 + 1.0) + digamma(ny as f64 + 1.0);
    }
    (digamma(k as f64) + digamma(n as f64) - total / n as f64).max(0.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ksg_mutual_information_matches_closed_forms() {
        use rand::SeedableRng;
        use rand_distr::{Distribution, StandardNormal, Uniform};
        let mut rng = rand_xoshiro::Xoshiro256PlusPlus::seed_from_u64(1);
        assert!((digamma(1.0) + 0.577_215_664_901_532_9).abs() < 1e-9);
        assert!((digamma(10.0) - 2.251_752_589_066_721).abs() < 1e-9);
        // correlated Gaussians: I = −½·ln(1 − ρ²)
        let n = 2000;
        for rho in [0.0f64, 0.6, 0.9] {
            let (mut x, mut y) = (Vec::new(), Vec::new());
            for _ in 0..n {
                let a: f64 = StandardNormal.sample(&mut rng);
                let b: f64 = StandardNormal.sample(&mut rng);
                x.push(a);
                y.push(rho * a + (1.0 - rho * rho).sqrt() * b);
            }
            let exact = -0.5 * (1.0 - rho * rho).ln();
            let est = mutual_information_ksg(&x, &y, 3);
            assert!((est - exact).abs() < 0.05, "ρ {rho}: {est} vs {exact}");
        }
        // two independent uniforms rotated by 45°: uncorrelated, yet dependent
        let u = Uniform::new(-1.0f64, 1.0);
        let (mut x, mut y) = (Vec::new(), Vec::new());
        for _ in 0..n {
            let (a, b) = (u.sample(&mut rng), u.sample(&mut rng));
            x.push(a + b);
            y.push(a - b);
        }
        assert!(mutual_information_ksg(&x, &y, 3) > 0.2);
    }

    // Expected values computed with scikit-learn 1.9.1:
    //   accuracy via scipy.optimize.linear_sum_assignment on the contingency matrix,
    //   normalized_mutual_info_score, adjusted_rand_score, roc_auc_score,
    //   average_precision_score on the arrays below.
    const T: [usize; 10] = [0, 0, 0, 1, 1, 1, 2, 2, 2, 2];
    const P: [usize; 10] = [1, 1, 0, 0, 0, 0, 2, 2, 2, 1];

    #[test]
    fn accuracy_uses_best_mapping() {
        // mapping 1→0, 0→1, 2→2 gets 2 + 3 + 3 = 8 of 10
        assert!((clustering_accuracy(&T, &P) - 0.8).abs() < 1e-12);
        // permuted labels score 1
        let q: Vec<usize> = T.iter().map(|&t| (t + 1) % 3).collect();
        assert_eq!(clustering_accuracy(&T, &q), 1.0);
        // more clusters than classes
        assert!((clustering_accuracy(&[0, 0, 1, 1], &[0, 1, 2, 3]) - 0.5).abs() < 1e-12);
    }

    #[test]
    fn nmi_and_ari_match_sklearn() {
        assert!(
            (nmi(&T, &P) - 0.618_065_646_292_154_3).abs() < 1e-12,
            "{}",
            nmi(&T, &P)
        );
        assert!(
            (ari(&T, &P) - 0.431_818_181_818_181_8).abs() < 1e-12,
            "{}",
            ari(&T, &P)
        );
        assert_eq!(nmi(&T, &T), 1.0);
        assert_eq!(ari(&T, &T), 1.0);
    }

    #[test]
    fn auc_and_ap_with_ties() {
        let s = [0.1, 0.4, 0.35, 0.8, 0.4, 0.9];
        let y = [false, false, true, true, true, false];
        assert!((roc_auc(&s, &y).unwrap() - 0.5).abs() < 1e-12);
        assert!((average_precision(&s, &y).unwrap() - 0.533_333_333_333_333_3).abs() < 1e-12);
        assert_eq!(roc_auc(&[1.0, 2.0], &[true, true]), None);
        assert_eq!(roc_auc(&[1.0, 2.0, 3.0], &[false, false, true]), Some(1.0));
    }

    #[test]
    fn labels_encode_in_order() {
        let (c, n) = encode_labels(&["b", "a", "b"]);
        assert_eq!(c, vec![0, 1, 0]);
        assert_eq!(n, vec!["b", "a"]);
    }
}
