//! `vaetool anomalies DATA [--model M] [--threshold X | --contamination P | --fpr P] -o scores.csv`:
//! score every row (negative ELBO, IWAE bound or reconstruction error), flag anomalies, and
//! optionally explain which columns drive each score.

use std::path::PathBuf;

use anyhow::Result;
use vaetool::anomaly::{
    check_contamination, contamination_threshold, fpr_threshold, outlier_labels, ranks,
    reference_scores, AnomalyState, Threshold, ThresholdSource,
};
use vaetool::infer::{self, ScoreKind};
use vaetool::metrics::{average_precision, roc_auc};
use vaetool::output::{fmt_f, Output};
use vaetool::VaeError;

use crate::args::{DataArgs, FeatureArgs, TrainArgs};
use crate::pipeline;

/// Flags of `vaetool anomalies`.
#[derive(clap::Args, Debug)]
pub struct Args {
    #[command(flatten)]
    data: DataArgs,
    /// A trained model directory (default: train one on DATA first).
    #[arg(long)]
    model: Option<PathBuf>,
    /// Flag rows scoring above this value (this run only).
    #[arg(long, conflicts_with_all = ["contamination", "fpr"])]
    threshold: Option<f64>,
    /// Flag this fraction of the training rows: the threshold is the (1 − P) quantile of
    /// their scores, stored in the model for later runs.
    #[arg(long, conflicts_with = "fpr")]
    contamination: Option<f64>,
    /// Target false-positive rate on data like the (clean) training data: the threshold is the
    /// (1 − P) quantile of the training scores, stored in the model for later runs.
    #[arg(long)]
    fpr: Option<f64>,
    /// The score: elbo (negative ELBO), iwae (negative importance-weighted bound, tighter) or
    /// recon (reconstruction error at the posterior mean). Default: elbo; recon for the poor
    /// man's VAE, which defines no other.
    #[arg(long)]
    score: Option<ScoreKind>,
    /// Posterior draws per score (elbo: averaged; iwae: K importance samples).
    #[arg(long, default_value_t = pipeline::DEFAULT_SAMPLES)]
    samples: usize,
    /// Add the K columns that contribute most to each row's score (default K: 3).
    #[arg(long, num_args = 0..=1, default_missing_value = "3")]
    explain: Option<usize>,
    /// Train on this file of known-good rows (same columns) and score DATA with that model;
    /// `--contamination`/`--fpr` quantiles then come from the clean rows' scores.
    #[arg(long = "train", value_name = "CLEAN_CSV", conflicts_with = "model")]
    train_file: Option<PathBuf>,
    /// Keep the model trained for this run in this directory.
    #[arg(long)]
    save_model: Option<PathBuf>,
    #[command(flatten)]
    features: FeatureArgs,
    #[command(flatten)]
    train: TrainArgs,
    /// Output CSV (default: stdout).
    #[arg(short, long)]
    output: Option<PathBuf>,
}

/// A quantile threshold requested by `--contamination` or `--fpr`.
fn quantile_request(a: &Args, reference: &[f64]) -> Result<Option<Threshold>> {
    Ok(match (a.contamination, a.fpr) {
        (Some(p), _) => Some(contamination_threshold(reference, p)?),
        (None, Some(p)) => Some(fpr_threshold(reference, p)?),
        (None, None) => None,
    })
}

fn absolute(a: &Args) -> Option<Threshold> {
    a.threshold.map(|v| Threshold {
        value: v,
        source: ThresholdSource::Absolute,
    })
}

pub fn run(a: Args) -> Result<()> {
    if let Some(p) = a.contamination {
        check_contamination(p)?;
    }
    if let Some(p) = a.fpr {
        fpr_threshold(&[0.0], p)?;
    }
    if let Some(t) = a.threshold {
        if !t.is_finite() {
            return Err(
                VaeError::Usage(format!("--threshold must be a finite number, got {t}")).into(),
            );
        }
    }
    if a.samples == 0 {
        return Err(VaeError::Usage("--samples must be at least 1".into()).into());
    }
    if a.explain == Some(0) {
        return Err(VaeError::Usage("--explain must be at least 1".into()).into());
    }
    if a.model.is_some() && a.save_model.is_some() {
        return Err(
            VaeError::Usage("--save-model only applies when no --model is given".into()).into(),
        );
    }
    if a.model.is_none() {
        pipeline::check_flags(&a.train, vaetool::model::Prior::Standard)?;
    }
    let out = Output::create(a.output.as_deref())?;
    let table = pipeline::read(&a.data)?;
    let seed = a.train.seed;
    let device = Default::default();
    let (scores, threshold, p, model, config) = match &a.model {
        Some(dir) => {
            let m = pipeline::load(dir)?;
            let kind = a
                .score
                .unwrap_or_else(|| infer::default_score(&m.config.model));
            infer::check_score(&m.config.model, kind)?;
            let p = pipeline::prepare_with(&m.config.schema, &table, &a.data)?;
            let scores =
                pipeline::scores_of(&m.model, &m.config.model, &p.x, kind, a.samples, seed);
            let mut state = m.anomaly()?;
            let threshold = if let Some(t) = absolute(&a) {
                Some(t)
            } else if a.contamination.is_some() || a.fpr.is_some() {
                let s = state.as_mut().ok_or_else(|| {
                    VaeError::Model(format!(
                        "{}: has no training-score reference (anomaly.json); retrain it with \
                         vaetool train",
                        dir.display()
                    ))
                })?;
                if s.score != kind {
                    return Err(VaeError::Usage(format!(
                        "{}: the training-score reference was computed with --score {}; a \
                         quantile threshold needs the same score (or use --threshold)",
                        dir.display(),
                        s.score.name()
                    ))
                    .into());
                }
                let t = quantile_request(&a, &s.reference)?;
                s.threshold = t;
                m.save_anomaly(s)?;
                eprintln!("stored the threshold in {}", dir.display());
                t
            } else {
                match state {
                    Some(s) if s.threshold.is_some() && s.score != kind => {
                        eprintln!(
                            "warning: the stored threshold is for --score {}; rows are not flagged",
                            s.score.name()
                        );
                        None
                    }
                    Some(s) => s.threshold,
                    None => None,
                }
            };
            (scores, threshold, p, m.model, m.config)
        }
        None => {
            if let Some(kind) = a.score {
                let probe =
                    vaetool::model::VaeConfig::new(1, vec![], 1).with_variant(a.train.variant);
                infer::check_score(&probe, kind)?;
            }
            // Train on DATA itself (the usual unsupervised case), or on known-good rows, which
            // need not carry the label column.
            let clean;
            let (train_table, train_args) = match &a.train_file {
                Some(path) => {
                    let mut d = crate::args::DataArgs {
                        data: path.clone(),
                        ..a.data.clone()
                    };
                    clean = pipeline::read(&d)?;
                    d.label_column = d.label_column.filter(|c| clean.column_index(c).is_some());
                    (&clean, d)
                }
                None => (&table, a.data.clone()),
            };
            let t = pipeline::train_model(train_table, &train_args, &a.features, &a.train)?;
            let kind = a
                .score
                .unwrap_or_else(|| infer::default_score(&t.config.model));
            let train_scores =
                pipeline::scores_of(&t.model, &t.config.model, &t.data.x, kind, a.samples, seed);
            let reference = reference_scores(&train_scores);
            let quantile = quantile_request(&a, &reference)?;
            if let Some(dir) = &a.save_model {
                let state = AnomalyState {
                    score: kind,
                    samples: a.samples,
                    reference,
                    threshold: quantile,
                };
                pipeline::save_trained(dir, &t, Some(&state), None)?;
                eprintln!("model written to {}", dir.display());
            }
            let (scores, p) = if a.train_file.is_some() {
                let p = pipeline::prepare_with(&t.config.schema, &table, &a.data)?;
                let s = pipeline::scores_of(&t.model, &t.config.model, &p.x, kind, a.samples, seed);
                (s, p)
            } else {
                (train_scores, t.data)
            };
            (scores, absolute(&a).or(quantile), p, t.model, t.config)
        }
    };
    let explained = match a.explain {
        None => None,
        Some(k) => {
            let n = config.schema.features.len();
            if k > n {
                return Err(VaeError::Usage(format!(
                    "--explain {k} is larger than the number of feature columns ({n})"
                ))
                .into());
            }
            Some(infer::explain(
                &model,
                &config.model,
                &config.schema,
                &p.x,
                k,
                &device,
            ))
        }
    };
    let rank = ranks(&scores);
    let mut header = vec![p.id_name.clone(), "score".into(), "rank".into()];
    if threshold.is_some() {
        header.push("is_anomaly".into());
    }
    if let Some(k) = a.explain {
        for i in 1..=k {
            header.push(format!("top_feature_{i}"));
            header.push(format!("top_contribution_{i}"));
        }
    }
    let flagged = threshold.map(|t| scores.iter().filter(|&&s| s > t.value).count());
    let features = &config.schema.features;
    let rows = (0..scores.len()).map(|i| {
        let mut r = vec![p.ids[i].clone(), fmt_f(scores[i]), rank[i].to_string()];
        if let Some(t) = threshold {
            r.push(u8::from(scores[i] > t.value).to_string());
        }
        if let Some(e) = &explained {
            for &(f, v) in &e[i] {
                r.push(features[f].name().to_string());
                r.push(fmt_f(v));
            }
        }
        r
    });
    out.write_csv(&header, rows)?;
    match (threshold, flagged) {
        (Some(t), Some(f)) => eprintln!(
            "flagged {f} of {} rows ({:.2}%) at threshold {t}",
            scores.len(),
            100.0 * f as f64 / scores.len() as f64
        ),
        _ => eprintln!(
            "scored {} rows (no threshold: use --contamination, --fpr or --threshold to flag rows)",
            scores.len()
        ),
    }
    if let (Some(labels), Some(col)) = (&p.labels, &p.label_name) {
        // The scores are written already: labels that are not 0/1 only cost the metrics.
        match outlier_labels(labels, &table.source_name(), col) {
            Err(e) => eprintln!("warning: {e}; no ROC-AUC"),
            Ok(y) => match (roc_auc(&scores, &y), average_precision(&scores, &y)) {
                (Some(auc), Some(ap)) => {
                    eprintln!("against the labels: ROC-AUC {auc:.4}  average precision {ap:.4}")
                }
                _ => eprintln!("against the labels: only one class present, no ROC-AUC"),
            },
        }
    }
    Ok(())
}
