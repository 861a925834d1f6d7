//! `vaetool anomalies DATA [--model M] [--threshold X | --contamination P | --fpr P] -o scores.csv`:
//! score every row (negative ELBO, IWAE bound or reconstruction error), flag anomalies, and
//! optionally explain which columns drive each score.

use std::path::PathBuf;

use anyhow::Result;
use vaetool::anomaly::{
    check_contamination, fpr_threshold, outlier_labels, ranks, Threshold, ThresholdSource,
};
use vaetool::infer::{self, ScoreKind};
use vaetool::metrics::{average_precision, roc_auc};
use vaetool::modeldir::ModelTarget;
use vaetool::output::{fmt_f, Output};
use vaetool::VaeError;

use vaetool::estimator::{AnomalyDetector, InputKind, ModelScoring};

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
    /// The score: robust (the negative ELBO with Student-t terms, ν = 3, in place of a Gaussian
    /// likelihood's squared errors: one far-off column cannot outweigh the rest of the row),
    /// elbo (negative ELBO), iwae (negative importance-weighted bound, tighter), recon
    /// (reconstruction error at the posterior mean) or, for image models, complexity (negative
    /// ELBO in bits minus the image's zlib-compressed size in bits). Default: robust for a
    /// Gaussian likelihood (over 15 tables mean ROC-AUC 0.8282 against the ELBO's 0.8283, AP
    /// 0.4519 against 0.4391: benches/RESULTS.md), elbo for a Bernoulli one; recon for the poor
    /// man's VAE, which defines no other.
    #[arg(long)]
    score: Option<ScoreKind>,
    /// Posterior draws per score (elbo: averaged; iwae: K importance samples), the same
    /// seeded draws for every row, so a row scores the same in any file or chunk. Default: up
    /// to 30 for tables, fewer for big training sets (about 2·10¹¹ decoder multiply-adds in
    /// all, at least 10); 10 for conv models; with --model, as many as the model's
    /// training-score reference used.
    #[arg(long)]
    samples: Option<usize>,
    /// Add the K columns that contribute most to each row's score (default K: 3).
    #[arg(long, num_args = 0..=1, default_missing_value = "3")]
    explain: Option<usize>,
    /// Train on this file of known-good rows (same columns) and score DATA with that model;
    /// `--contamination`/`--fpr` quantiles then come from the clean rows' scores.
    #[arg(long = "train", value_name = "CLEAN_CSV", conflicts_with = "model")]
    train_file: Option<PathBuf>,
    /// Train N models from consecutive seeds and average each row's percentile among every
    /// model's training scores (a rank average when DATA is the training data). Scores are
    /// then in [0, 1].
    #[arg(long, default_value_t = 1, conflicts_with_all = ["model", "save_model", "explain"],
          value_parser = clap::value_parser!(u64).range(1..=1000))]
    ensemble: u64,
    /// Stream DATA in chunks of this many rows (needs --model): memory stays bounded however
    /// large the file, output is written as it goes, and rows/s is reported. Streamed output
    /// has no `rank` column (it needs every score) and prints no metrics.
    #[arg(long, requires = "model")]
    chunk_rows: Option<usize>,
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

fn absolute(a: &Args) -> Option<Threshold> {
    a.threshold.map(|v| Threshold {
        value: v,
        source: ThresholdSource::Absolute,
    })
}

/// What these flags ask of a saved model.
fn model_scoring(a: &Args) -> ModelScoring {
    ModelScoring {
        score: a.score,
        samples: a.samples,
        threshold: a.threshold,
        contamination: a.contamination,
        fpr: a.fpr,
        explain: a.explain,
    }
}

/// The `--train` file of known-good rows, read, with the data flags that fit it (its label
/// column may be missing); `None` when the model trains on DATA itself.
fn load_training(a: &Args) -> Result<Option<(pipeline::Input, crate::args::DataArgs)>> {
    let Some(path) = &a.train_file else {
        return Ok(None);
    };
    // The file's own kind is detected from its name; IDX labels belong to DATA only.
    let mut d = crate::args::DataArgs {
        data: path.clone(),
        format: None,
        labels: None,
        ..a.data.clone()
    };
    let t = pipeline::read(&d)?;
    d.label_column = d.label_column.filter(|c| t.has_column(c));
    Ok(Some((t, d)))
}

type Scored = (
    Vec<f64>,
    Option<Threshold>,
    vaetool::data::Prepared,
    vaetool::model::Vae<vaetool::backend::Cpu>,
    vaetool::modeldir::ModelConfig,
    ScoreKind,
);

/// The library's detector for these flags, reading its training rows as `d` says.
fn detector(a: &Args, d: &DataArgs) -> AnomalyDetector {
    AnomalyDetector {
        data: a.features.data_options(d),
        train: a.train.params(),
        score: a.score,
        samples: a.samples,
        contamination: a.contamination,
        fpr: a.fpr,
        ensemble: Some(a.ensemble as usize),
    }
}

/// Trains on DATA itself (the usual unsupervised case), on known-good rows (`--train`), or an
/// ensemble of either (`--ensemble`), and scores DATA.
fn train_and_score(
    a: &Args,
    table: &pipeline::Input,
    target: Option<&ModelTarget>,
) -> Result<Scored> {
    if let Some(kind) = a.score {
        // Checked before reading a --train file, on what the flags say the model will be.
        let images = InputKind::of(table, &a.data.input_options()).is_images();
        let probe = vaetool::model::VaeConfig::new(1, vec![], 1)
            .with_variant(a.train.variant)
            .with_likelihood(
                a.train
                    .likelihood
                    .unwrap_or(vaetool::model::Likelihood::Gaussian),
            )
            .with_image(images.then(|| vaetool::data::ImageShape::new(1, 16, 16)));
        infer::check_score(&probe, kind)?;
    }
    let clean = load_training(a)?;
    let (train_input, train_args) = match &clean {
        Some((t, d)) => (t, d.clone()),
        None => (table, a.data.clone()),
    };
    let (fitted, training) = detector(a, &train_args).fit_input(
        train_input,
        &train_args.input_options(),
        clean.is_some(),
        &mut pipeline::CliWatch::new(a.train.quiet),
    )?;
    if let Some(target) = target {
        fitted.save_to(target)?;
        eprintln!("model written to {}", target.dir().display());
    }
    let (scores, p) = if a.train_file.is_some() {
        let p = pipeline::prepare_with(fitted.schema(), table, &a.data)?;
        (fitted.score_prepared(&p.x)?, p)
    } else {
        (fitted.training_scores().to_vec(), training)
    };
    let threshold = absolute(a).or(fitted.threshold_info());
    Ok((
        scores,
        threshold,
        p,
        fitted.network().clone(),
        fitted.config().clone(),
        fitted.score_kind(),
    ))
}

/// Scores a file chunk by chunk with a saved model, writing as it goes.
fn run_streaming(a: &Args, out: Output, dir: &std::path::Path, chunk_rows: usize) -> Result<()> {
    let m = pipeline::load(dir)?;
    if pipeline::format_of(&a.data) != vaetool::data::input::Format::Csv {
        return Err(VaeError::Usage(
            "--chunk-rows streams a CSV file; images are read whole".into(),
        )
        .into());
    }
    let r = model_scoring(a).resolve(&m, &mut pipeline::CliWatch::new(a.train.quiet))?;
    let threshold = r.threshold;
    let start = std::time::Instant::now();
    let mut out = Some(out);
    let mut sink = None;
    let (mut rows, mut flagged) = (0usize, 0usize);
    let features = &m.config.schema.features;
    let how = vaetool::stream::ChunkScoring {
        chunk_rows,
        score: r.score,
        samples: r.samples,
        seed: a.train.seed(),
        explain: a.explain,
        device: a.train.device,
    };
    let global_ids = m.config.schema.id_column.is_none();
    vaetool::stream::score_csv_chunks(
        &m,
        &a.data.data,
        &a.data.input_options(),
        &how,
        &mut pipeline::CliWatch::new(a.train.quiet),
        &mut |c| {
            let mut p = c.prepared;
            pipeline::warn_all(&p.warnings);
            if sink.is_none() {
                let mut header = vec![p.id_name.clone(), "score".to_string()];
                if threshold.is_some() {
                    header.push("is_anomaly".into());
                }
                for i in 1..=a.explain.unwrap_or(0) {
                    header.push(format!("top_feature_{i}"));
                    header.push(format!("top_contribution_{i}"));
                }
                sink = Some(out.take().expect("one output").csv_sink(&header)?);
            }
            let s = sink.as_mut().expect("opened above");
            let global = global_ids && p.id_name == "row";
            // one record vector for every row; ids moved, not copied
            let mut r: Vec<String> = Vec::new();
            for (i, &score) in c.scores.iter().enumerate() {
                r.clear();
                r.push(if global {
                    (rows + i).to_string()
                } else {
                    std::mem::take(&mut p.ids[i])
                });
                r.push(fmt_f(score));
                if let Some(t) = threshold {
                    flagged += usize::from(score > t.value);
                    r.push(if score > t.value { "1" } else { "0" }.into());
                }
                if let Some(e) = &c.explained {
                    for &(f, v) in &e[i] {
                        r.push(features[f].name().to_string());
                        r.push(fmt_f(v));
                    }
                }
                s.write(&r)?;
            }
            rows += c.scores.len();
            Ok(())
        },
    )?;
    sink.expect("a file has at least one row").finish()?;
    let secs = start.elapsed().as_secs_f64();
    eprintln!(
        "scored {rows} rows in {secs:.2}s ({:.0} rows/s) in chunks of {chunk_rows}",
        rows as f64 / secs
    );
    if let Some(t) = threshold {
        eprintln!(
            "flagged {flagged} of {rows} rows ({:.2}%) at threshold {t}",
            100.0 * flagged as f64 / rows as f64
        );
    }
    Ok(())
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
    if a.samples == Some(0) {
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
        a.train.params().check(vaetool::model::Prior::Standard)?;
    }
    pipeline::check_device(&a.train)?;
    pipeline::guard_output(
        a.output.as_deref(),
        Some(&a.data),
        a.model.as_deref(),
        a.train_file.as_deref().as_slice(),
    )?;
    let out = Output::create(a.output.as_deref())?;
    let target = a
        .save_model
        .as_deref()
        .map(ModelTarget::claim)
        .transpose()?;
    if let (Some(n), Some(dir)) = (a.chunk_rows, &a.model) {
        return run_streaming(&a, out, dir, n);
    }
    let loaded = a
        .model
        .as_deref()
        .map(|dir| pipeline::load_and_prepare(dir, &a.data))
        .transpose()?;
    let seed = a.train.seed();
    let device = Default::default();
    let (table, loaded) = match loaded {
        Some((m, input, p)) => (input, Some((m, p))),
        None => (pipeline::read(&a.data)?, None),
    };
    let (scores, threshold, p, model, config, kind) = match (&a.model, loaded) {
        (Some(_), Some((m, p))) => {
            let r = model_scoring(&a).resolve(&m, &mut pipeline::CliWatch::new(a.train.quiet))?;
            let scores =
                pipeline::scores_of(&m.model, &m.config.model, &p.x, r.score, r.samples, seed)?;
            (scores, r.threshold, p, m.model, m.config, r.score)
        }
        _ => train_and_score(&a, &table, target.as_ref())?,
    };
    let explained = match a.explain {
        None => None,
        Some(k) => {
            vaetool::estimator::check_explain(&config.schema, k)?;
            Some(infer::explain(
                &model,
                &config.model,
                &config.schema,
                &p.x,
                k,
                kind,
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
