//! Anomaly thresholds and the training-score reference stored with a model: a row is flagged
//! when its score (negative ELBO, an upper bound on −log p(x)) exceeds the threshold, which is
//! either absolute or the (1 − P) quantile of the training rows' scores.

use serde::{Deserialize, Serialize};

use crate::data::schema::quantile_sorted;
use crate::error::{Result, VaeError};

/// At most this many order statistics of the training scores are stored.
pub const REFERENCE_POINTS: usize = 10_001;

/// How a threshold was set.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "lowercase")]
pub enum ThresholdSource {
    /// Given as a number (`--threshold`).
    Absolute,
    /// The (1 − P) quantile of the training scores (`--contamination P`).
    Contamination {
        /// The contamination rate P.
        rate: f64,
    },
    /// The (1 − P) quantile of training scores assumed clean (`--fpr P`): a false-positive
    /// rate P on data like the training data.
    Fpr {
        /// The false-positive rate P.
        rate: f64,
    },
}

/// A threshold and where it came from.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Threshold {
    /// Rows scoring above this are anomalies.
    pub value: f64,
    /// How it was set.
    pub source: ThresholdSource,
}

impl std::fmt::Display for Threshold {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.source {
            ThresholdSource::Absolute => write!(f, "{:.4} (absolute)", self.value),
            ThresholdSource::Contamination { rate } => write!(
                f,
                "{:.4} (the {:.4} quantile of the training scores, contamination {rate})",
                self.value,
                1.0 - rate
            ),
            ThresholdSource::Fpr { rate } => write!(
                f,
                "{:.4} (the {:.4} quantile of the training scores, false-positive rate {rate})",
                self.value,
                1.0 - rate
            ),
        }
    }
}

/// The anomaly state of a model, stored as `anomaly.json`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct AnomalyState {
    /// The score the reference (and a stored quantile threshold) was computed with.
    #[serde(default = "default_score")]
    pub score: crate::infer::ScoreKind,
    /// Posterior samples per score used for the reference.
    pub samples: usize,
    /// Sorted order statistics of the training rows' scores.
    pub reference: Vec<f64>,
    /// The stored threshold, if one was set.
    pub threshold: Option<Threshold>,
}

fn default_score() -> crate::infer::ScoreKind {
    crate::infer::ScoreKind::Elbo
}

/// Sorted scores thinned to at most [`REFERENCE_POINTS`] evenly spaced order statistics.
pub fn reference_scores(scores: &[f64]) -> Vec<f64> {
    let mut s = scores.to_vec();
    s.sort_by(f64::total_cmp);
    if s.len() <= REFERENCE_POINTS {
        return s;
    }
    (0..REFERENCE_POINTS)
        .map(|i| quantile_sorted(&s, i as f64 / (REFERENCE_POINTS - 1) as f64))
        .collect()
}

/// Checks a contamination rate.
pub fn check_contamination(p: f64) -> Result<()> {
    check_rate(p, "--contamination")
}

fn check_rate(p: f64, flag: &str) -> Result<()> {
    if p > 0.0 && p < 1.0 {
        Ok(())
    } else {
        Err(VaeError::Usage(format!(
            "{flag} must be strictly between 0 and 1, got {p}"
        )))
    }
}

/// The threshold that flags a fraction `p` of the reference (training) scores.
pub fn contamination_threshold(reference: &[f64], p: f64) -> Result<Threshold> {
    check_contamination(p)?;
    Ok(Threshold {
        value: quantile_sorted(reference, 1.0 - p),
        source: ThresholdSource::Contamination { rate: p },
    })
}

/// The threshold with a false-positive rate `p` on the reference scores, taken as clean.
pub fn fpr_threshold(reference: &[f64], p: f64) -> Result<Threshold> {
    check_rate(p, "--fpr")?;
    Ok(Threshold {
        value: quantile_sorted(reference, 1.0 - p),
        source: ThresholdSource::Fpr { rate: p },
    })
}

/// Empirical-CDF percentile of `score` among sorted `reference` scores, ties counted half:
/// the share of reference rows scoring lower. In [0, 1].
pub fn percentile(sorted_reference: &[f64], score: f64) -> f64 {
    let below = sorted_reference.partition_point(|&r| r < score);
    let not_above = sorted_reference.partition_point(|&r| r <= score);
    (below as f64 + 0.5 * (not_above - below) as f64) / sorted_reference.len().max(1) as f64
}

/// An ensemble's score of every row: the mean over models of the row's percentile among that
/// model's training scores. Scored on the training rows themselves this is a rank average.
/// `scores[m]` are model m's scores of the rows, `references[m]` its sorted training scores.
pub fn ensemble_scores(scores: &[Vec<f64>], references: &[Vec<f64>]) -> Vec<f64> {
    let n = scores.first().map_or(0, Vec::len);
    (0..n)
        .map(|i| {
            scores
                .iter()
                .zip(references)
                .map(|(s, r)| percentile(r, s[i]))
                .sum::<f64>()
                / scores.len() as f64
        })
        .collect()
}

/// Rank of every score, 1 for the most anomalous (ties broken by row order).
pub fn ranks(scores: &[f64]) -> Vec<usize> {
    let mut idx: Vec<usize> = (0..scores.len()).collect();
    idx.sort_by(|&a, &b| scores[b].total_cmp(&scores[a]).then(a.cmp(&b)));
    let mut r = vec![0; scores.len()];
    for (pos, &i) in idx.iter().enumerate() {
        r[i] = pos + 1;
    }
    r
}

/// Reads anomaly labels: `1/true/yes/outlier/anomaly` are outliers, `0/false/no/normal/inlier`
/// are not; anything else is an error naming the file, column and value.
pub fn outlier_labels(labels: &[String], source: &str, column: &str) -> Result<Vec<bool>> {
    labels
        .iter()
        .map(|l| match l.to_ascii_lowercase().as_str() {
            "1" | "1.0" | "true" | "yes" | "outlier" | "anomaly" | "anomalous" => Ok(true),
            "0" | "0.0" | "false" | "no" | "normal" | "inlier" => Ok(false),
            _ => Err(VaeError::Input(format!(
                "{source}: column '{column}': cannot read \"{l}\" as an anomaly label (use 1 \
                 for outliers and 0 for normal rows)"
            ))),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn contamination_quantile_and_bounds() {
        let r = reference_scores(&(0..=100).rev().map(f64::from).collect::<Vec<_>>());
        let t = contamination_threshold(&r, 0.1).unwrap();
        assert!((t.value - 90.0).abs() < 1e-9);
        let f = fpr_threshold(&r, 0.05).unwrap();
        assert!((f.value - 95.0).abs() < 1e-9);
        assert_eq!(f.source, ThresholdSource::Fpr { rate: 0.05 });
        assert_eq!(
            fpr_threshold(&r, 0.0).unwrap_err().to_string(),
            "--fpr must be strictly between 0 and 1, got 0"
        );
        for bad in [0.0, 1.0, -0.5, 1.5] {
            assert_eq!(
                contamination_threshold(&r, bad).unwrap_err().to_string(),
                format!("--contamination must be strictly between 0 and 1, got {bad}")
            );
        }
    }

    #[test]
    fn reference_is_thinned_but_keeps_extremes() {
        let s: Vec<f64> = (0..50_000).map(f64::from).collect();
        let r = reference_scores(&s);
        assert_eq!(r.len(), REFERENCE_POINTS);
        assert_eq!(r[0], 0.0);
        assert_eq!(*r.last().unwrap(), 49_999.0);
    }

    #[test]
    fn percentiles_and_rank_averaging() {
        let r = vec![1.0, 2.0, 2.0, 4.0];
        assert_eq!(percentile(&r, 0.5), 0.0);
        assert_eq!(percentile(&r, 2.0), 0.5); // one below, two tied
        assert_eq!(percentile(&r, 5.0), 1.0);
        // two models that disagree on scale but agree on order give the order's percentiles
        let a = vec![10.0, 30.0, 20.0];
        let b = vec![0.1, 0.3, 0.2];
        let refs: Vec<Vec<f64>> = [&a, &b].iter().map(|v| reference_scores(v)).collect();
        let e = ensemble_scores(&[a.clone(), b.clone()], &refs);
        assert_eq!(e, vec![1.0 / 6.0, 5.0 / 6.0, 0.5]);
        // disagreeing order averages
        let c = vec![0.3, 0.1, 0.2];
        let refs: Vec<Vec<f64>> = [&a, &c].iter().map(|v| reference_scores(v)).collect();
        let e = ensemble_scores(&[a, c], &refs);
        assert_eq!(e, vec![0.5, 0.5, 0.5]);
    }

    #[test]
    fn ranks_descending() {
        assert_eq!(ranks(&[0.5, 3.0, 1.0, 3.0]), vec![4, 1, 3, 2]);
    }

    #[test]
    fn labels_parse() {
        let l: Vec<String> = ["1", "0", "outlier", "normal"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        assert_eq!(
            outlier_labels(&l, "f", "y").unwrap(),
            vec![true, false, true, false]
        );
        let e = outlier_labels(&["x".to_string()], "f.csv", "y").unwrap_err();
        assert!(e
            .to_string()
            .starts_with("f.csv: column 'y': cannot read \"x\""));
    }
}
