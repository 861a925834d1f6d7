//! `vaetool anomalies DATA [--model M] [--threshold X | --contamination P] -o scores.csv`:
//! score every row by its negative ELBO and flag anomalies.

use std::path::PathBuf;

use anyhow::Result;
use vaetool::anomaly::{
    check_contamination, contamination_threshold, outlier_labels, ranks, Threshold, ThresholdSource,
};
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
    /// Flag rows scoring above this value.
    #[arg(long, conflicts_with = "contamination")]
    threshold: Option<f64>,
    /// Flag this fraction of the training rows: the threshold is the (1 − P) quantile of
    /// their scores, stored in the model for later runs.
    #[arg(long)]
    contamination: Option<f64>,
    /// Posterior samples averaged per score.
    #[arg(long, default_value_t = pipeline::DEFAULT_SAMPLES)]
    samples: usize,
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

pub fn run(a: Args) -> Result<()> {
    if let Some(p) = a.contamination {
        check_contamination(p)?;
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
    if a.model.is_some() && a.save_model.is_some() {
        return Err(
            VaeError::Usage("--save-model only applies when no --model is given".into()).into(),
        );
    }
    let out = Output::create(a.output.as_deref())?;
    let table = pipeline::read(&a.data)?;
    let seed = a.train.seed;
    let (scores, threshold, p) = match &a.model {
        Some(dir) => {
            let m = pipeline::load(dir)?;
            let p = pipeline::prepare_with(&m.config.schema, &table, &a.data)?;
            let scores = pipeline::scores(&m.model, &m.config.model, &p.x, a.samples, seed);
            let mut state = m.anomaly()?;
            let threshold = match (a.threshold, a.contamination) {
                (Some(v), _) => Some(Threshold {
                    value: v,
                    source: ThresholdSource::Absolute,
                }),
                (None, Some(rate)) => {
                    let s = state.as_mut().ok_or_else(|| {
                        VaeError::Model(format!(
                            "{}: has no training-score reference (anomaly.json); retrain it \
                             with vaetool train",
                            dir.display()
                        ))
                    })?;
                    let t = contamination_threshold(&s.reference, rate)?;
                    s.threshold = Some(t);
                    m.save_anomaly(s)?;
                    eprintln!("stored the threshold in {}", dir.display());
                    Some(t)
                }
                (None, None) => state.and_then(|s| s.threshold),
            };
            (scores, threshold, p)
        }
        None => {
            let t = pipeline::train_model(&table, &a.data, &a.features, &a.train)?;
            let scores = pipeline::scores(&t.model, &t.config.model, &t.data.x, a.samples, seed);
            let mut state = vaetool::anomaly::AnomalyState {
                samples: a.samples,
                reference: vaetool::anomaly::reference_scores(&scores),
                threshold: None,
            };
            let threshold = match (a.threshold, a.contamination) {
                (Some(v), _) => Some(Threshold {
                    value: v,
                    source: ThresholdSource::Absolute,
                }),
                (None, Some(rate)) => Some(contamination_threshold(&state.reference, rate)?),
                (None, None) => None,
            };
            if let Some(dir) = &a.save_model {
                state.threshold = threshold.filter(|t| t.source != ThresholdSource::Absolute);
                pipeline::save_trained(dir, &t, Some(&state), None)?;
                eprintln!("model written to {}", dir.display());
            }
            (scores, threshold, t.data)
        }
    };
    let rank = ranks(&scores);
    let mut header = vec![p.id_name.clone(), "score".into(), "rank".into()];
    if threshold.is_some() {
        header.push("is_anomaly".into());
    }
    let flagged = threshold.map(|t| scores.iter().filter(|&&s| s > t.value).count());
    let rows = (0..scores.len()).map(|i| {
        let mut r = vec![p.ids[i].clone(), fmt_f(scores[i]), rank[i].to_string()];
        if let Some(t) = threshold {
            r.push(u8::from(scores[i] > t.value).to_string());
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
            "scored {} rows (no threshold: use --contamination or --threshold to flag rows)",
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
