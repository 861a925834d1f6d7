//! `vaetool plot latents|scores|history`: plots as PNG.
//! - `latents DATA --model M -o latents.png`: the latent means in 2-D (the first two principal
//!   components when the latent space is larger), coloured by label or cluster, with a legend;
//! - `scores scores.csv -o hist.png`: the histogram of `vaetool anomalies` scores with the
//!   threshold line;
//! - `history MODEL -o loss.png`: the training curves of a model directory.

use std::path::PathBuf;

use anyhow::Result;
use clap::{Subcommand, ValueEnum};
use vaetool::data::{read_table, ReadOptions};
use vaetool::estimator::predict_embedded;
use vaetool::infer;
use vaetool::metrics::encode_labels;
use vaetool::modeldir::load_history;
use vaetool::onestep::argmax_rows;
use vaetool::picture::check_png_path;
use vaetool::plot::{curves, histogram, pca2, scatter};
use vaetool::VaeError;

use crate::args::DataArgs;
use crate::pipeline;

/// Flags of `vaetool plot`.
#[derive(clap::Args, Debug)]
pub struct Args {
    #[command(subcommand)]
    what: What,
}

#[derive(Subcommand, Debug)]
enum What {
    /// Latent means in 2-D, coloured by label or cluster.
    Latents(LatentArgs),
    /// Histogram of anomaly scores with the threshold line.
    Scores(ScoreArgs),
    /// Training curves of a model directory.
    History(HistoryArgs),
}

/// What colours the points of `plot latents`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum ColourBy {
    /// The true labels (`--label-column`, sub-folders, or `--labels`).
    Label,
    /// The model's clusters (a VaDE/Su prior, or the clustering saved with the model).
    Cluster,
    /// One colour.
    None,
}

#[derive(clap::Args, Debug)]
struct LatentArgs {
    #[command(flatten)]
    data: DataArgs,
    /// The model directory.
    #[arg(long)]
    model: PathBuf,
    /// Colour by label or cluster (default: label when the data has labels, else cluster when
    /// the model has clusters, else none).
    #[arg(long, value_enum)]
    color_by: Option<ColourBy>,
    /// Output PNG.
    #[arg(short, long)]
    output: PathBuf,
}

#[derive(clap::Args, Debug)]
struct ScoreArgs {
    /// A scores CSV written by `vaetool anomalies`.
    scores: PathBuf,
    /// The column of scores.
    #[arg(long, default_value = "score")]
    score_column: String,
    /// Draw the threshold here (default: the model's stored threshold with --model, else
    /// between the highest unflagged and the lowest flagged score of the is_anomaly column).
    #[arg(long)]
    threshold: Option<f64>,
    /// The model directory whose stored threshold to draw.
    #[arg(long)]
    model: Option<PathBuf>,
    /// Output PNG.
    #[arg(short, long)]
    output: PathBuf,
}

#[derive(clap::Args, Debug)]
struct HistoryArgs {
    /// The model directory.
    model: PathBuf,
    /// Output PNG.
    #[arg(short, long)]
    output: PathBuf,
}

pub fn run(a: Args) -> Result<()> {
    match a.what {
        What::Latents(a) => latents(a),
        What::Scores(a) => scores(a),
        What::History(a) => history(a),
    }
}

fn latents(a: LatentArgs) -> Result<()> {
    check_png_path(&a.output)?;
    pipeline::guard_output(Some(&a.output), Some(&a.data), Some(&a.model), &[])?;
    let (m, input, p) = pipeline::load_and_prepare(&a.model, &a.data)?;
    let device = Default::default();
    let (mu, _) = infer::embed(&m.model, &p.x, &device);
    let clusters = || -> Result<Option<Vec<usize>>> {
        if let Some(probs) = infer::cluster_probabilities(&m.model, &p.x, &device) {
            return Ok(Some(argmax_rows(&probs)));
        }
        m.clustering()?
            .map(|c| predict_embedded(&c, &m.model, &p.x, &mu).map(|a| a.labels))
            .transpose()
            .map_err(Into::into)
    };
    let by = a.color_by.unwrap_or(if p.labels.is_some() {
        ColourBy::Label
    } else {
        ColourBy::Cluster
    });
    let (groups, names, legend) = match by {
        ColourBy::Label => {
            let labels = p.labels.as_ref().ok_or_else(|| {
                VaeError::Usage(format!(
                    "--color-by label: {} has no labels (--label-column, sub-folders or --labels)",
                    input.source_name()
                ))
            })?;
            let (g, names) = encode_labels(labels);
            (g, names, p.label_name.clone().unwrap_or("label".into()))
        }
        ColourBy::Cluster => match clusters()? {
            Some(c) => {
                let k = c.iter().copied().max().unwrap_or(0) + 1;
                (
                    c,
                    (0..k).map(|j| format!("cluster {j}")).collect(),
                    "cluster".into(),
                )
            }
            None if a.color_by == Some(ColourBy::Cluster) => {
                return Err(VaeError::Usage(format!(
                    "--color-by cluster: {} has no clusters (train with `vaetool cluster \
                     --save-model`)",
                    a.model.display()
                ))
                .into())
            }
            None => (vec![0; mu.rows], vec!["rows".to_string()], String::new()),
        },
        ColourBy::None => (vec![0; mu.rows], vec!["rows".to_string()], String::new()),
    };
    let (pts, frac) = pca2(&mu);
    let axes = if mu.cols > 2 {
        (
            format!("PC 1 ({:.0}% of the variance)", 100.0 * frac[0]),
            format!("PC 2 ({:.0}%)", 100.0 * frac[1]),
        )
    } else {
        ("z_0".to_string(), "z_1".to_string())
    };
    let file = std::path::Path::new(&input.source_name())
        .file_name()
        .map(|f| f.to_string_lossy().into_owned())
        .unwrap_or_default();
    let title = format!(
        "latent means of {file} ({} rows, {}-d){}",
        mu.rows,
        mu.cols,
        if legend.is_empty() {
            String::new()
        } else {
            format!(", coloured by {legend}")
        }
    );
    scatter(&a.output, &pts, &groups, &names, &title, (&axes.0, &axes.1))?;
    eprintln!(
        "plotted {} latent means into {}",
        mu.rows,
        a.output.display()
    );
    Ok(())
}

fn scores(a: ScoreArgs) -> Result<()> {
    check_png_path(&a.output)?;
    pipeline::guard_output(Some(&a.output), None, a.model.as_deref(), &[&a.scores])?;
    let t = read_table(&a.scores, &ReadOptions::default())?;
    let name = t.source_name();
    let col = t.column_index(&a.score_column).ok_or_else(|| {
        VaeError::Usage(format!(
            "{name}: no column '{}' (columns: {})",
            a.score_column,
            t.headers.join(", ")
        ))
    })?;
    if let Some(t) = a.threshold.filter(|t| !t.is_finite()) {
        return Err(
            VaeError::Usage(format!("--threshold must be a finite number, got {t}")).into(),
        );
    }
    let mut scores = Vec::with_capacity(t.n_rows());
    for (r, v) in t.columns[col].iter().enumerate() {
        let bad = |what: String| {
            VaeError::Input(format!(
                "{name}: line {}, column '{}': {what}",
                t.lines[r],
                vaetool::data::clip(&a.score_column)
            ))
        };
        match v.parse::<f64>() {
            Ok(x) if x.is_finite() => scores.push(x),
            Ok(_) => return Err(bad(format!("\"{v}\" is not a finite score")).into()),
            Err(_) => {
                return Err(bad(format!(
                    "cannot read \"{}\" as a number",
                    vaetool::data::clip(v)
                ))
                .into())
            }
        }
    }
    if scores.is_empty() {
        return Err(VaeError::Input(format!("{name}: no scores to plot")).into());
    }
    let stored = match &a.model {
        Some(dir) => pipeline::load(dir)?
            .anomaly()?
            .and_then(|s| s.threshold)
            .map(|t| t.value),
        None => None,
    };
    let from_flags = t.column_index("is_anomaly").and_then(|c| {
        let (mut lo, mut hi) = (f64::NEG_INFINITY, f64::INFINITY);
        for (s, f) in scores.iter().zip(t.columns[c].iter()) {
            if f == "1" {
                hi = hi.min(*s);
            } else {
                lo = lo.max(*s);
            }
        }
        match (lo.is_finite(), hi.is_finite()) {
            (true, true) => Some((lo + hi) / 2.0),
            (false, true) => Some(hi),
            (true, false) => Some(lo),
            _ => None,
        }
    });
    let threshold = a.threshold.or(stored).or(from_flags);
    let title = format!(
        "anomaly scores of {}",
        a.scores
            .file_name()
            .map(|f| f.to_string_lossy())
            .unwrap_or_default()
    );
    histogram(&a.output, &scores, threshold, &title, &a.score_column)?;
    eprintln!(
        "plotted {} scores{} into {}",
        scores.len(),
        threshold
            .map(|t| format!(" and the threshold {t:.4}"))
            .unwrap_or_default(),
        a.output.display()
    );
    Ok(())
}

fn history(a: HistoryArgs) -> Result<()> {
    check_png_path(&a.output)?;
    pipeline::guard_output(Some(&a.output), None, Some(&a.model), &[])?;
    let h = load_history(&a.model)?;
    if h.is_empty() {
        return Err(VaeError::Model(format!(
            "{}: the training history is empty",
            a.model.display()
        ))
        .into());
    }
    let epochs: Vec<f64> = h.iter().map(|e| e.epoch as f64).collect();
    let mut series = vec![
        (
            "training loss".to_string(),
            h.iter().map(|e| e.train_loss).collect(),
        ),
        (
            "reconstruction".to_string(),
            h.iter().map(|e| e.recon).collect(),
        ),
        (
            "KL / prior term".to_string(),
            h.iter().map(|e| e.kl).collect(),
        ),
    ];
    if h.iter().any(|e| e.val_loss.is_some()) {
        series.push((
            "validation loss".to_string(),
            h.iter().map(|e| e.val_loss.unwrap_or(f64::NAN)).collect(),
        ));
    }
    let title = format!(
        "training of {}",
        a.model
            .file_name()
            .map(|f| f.to_string_lossy())
            .unwrap_or_default()
    );
    curves(&a.output, &epochs, &series, &title)?;
    eprintln!("plotted {} epochs into {}", h.len(), a.output.display());
    Ok(())
}
