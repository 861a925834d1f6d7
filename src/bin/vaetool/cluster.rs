//! `vaetool cluster DATA [--model M] --k K [--method kmeans|gmm] -o labels.csv`: cluster the
//! latent means. Without `--model` a model is trained first (`--save-model DIR` keeps it); the
//! fitted clustering is stored in the model directory so that new rows get the same clusters.

use std::path::PathBuf;

use anyhow::Result;
use vaetool::cluster::{select_k_bic, ClusterMethod, ClusterParams, Fitted};
use vaetool::infer;
use vaetool::output::{fmt_f, Output};
use vaetool::VaeError;

use crate::args::{DataArgs, FeatureArgs, TrainArgs};
use crate::pipeline;

/// `--k`: a number or `auto`.
#[derive(Debug, Clone, Copy)]
pub enum KArg {
    Fixed(usize),
    Auto,
}

fn parse_k(s: &str) -> Result<KArg, String> {
    if s == "auto" {
        return Ok(KArg::Auto);
    }
    s.parse()
        .map(KArg::Fixed)
        .map_err(|_| format!("expected a number of clusters or 'auto', got '{s}'"))
}

fn parse_range(s: &str) -> Result<(usize, usize), String> {
    let err = || format!("expected a range like 2..10, got '{s}'");
    let (a, b) = s.split_once("..").ok_or_else(err)?;
    let a: usize = a.parse().map_err(|_| err())?;
    let b: usize = b.trim_start_matches('=').parse().map_err(|_| err())?;
    if a < 1 || b < a {
        return Err(err());
    }
    Ok((a, b))
}

/// Flags of `vaetool cluster`.
#[derive(clap::Args, Debug)]
pub struct Args {
    #[command(flatten)]
    data: DataArgs,
    /// A trained model directory (default: train one on DATA first).
    #[arg(long)]
    model: Option<PathBuf>,
    /// Number of clusters, or `auto` to choose by GMM BIC over --k-range.
    #[arg(long, value_parser = parse_k)]
    k: Option<KArg>,
    /// Range of K tried by `--k auto`.
    #[arg(long, default_value = "2..10", value_parser = parse_range)]
    k_range: (usize, usize),
    /// Clustering method: kmeans or gmm.
    #[arg(long)]
    method: Option<ClusterMethod>,
    /// Restarts of the clustering (best by inertia or likelihood is kept).
    #[arg(long, default_value_t = 10)]
    n_init: usize,
    /// Write every cluster's probability (GMM).
    #[arg(long)]
    probabilities: bool,
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

fn k_required() -> VaeError {
    VaeError::Usage(
        "--k is required (a number of clusters, or auto) unless --model has a stored clustering"
            .into(),
    )
}

fn fit(a: &Args, latents: &vaetool::data::Matrix) -> Result<Fitted> {
    let method = a.method.unwrap_or(ClusterMethod::Kmeans);
    let k = match a.k {
        None => return Err(k_required().into()),
        Some(KArg::Fixed(k)) => k,
        Some(KArg::Auto) => {
            let (k, tried) = select_k_bic(
                latents,
                a.k_range.0.max(1)..=a.k_range.1,
                a.n_init,
                a.train.seed,
            )?;
            let list: Vec<String> = tried
                .iter()
                .map(|(k, b)| format!("K={k}: {b:.1}"))
                .collect();
            eprintln!("--k auto chose K={k} by GMM BIC ({})", list.join(", "));
            k
        }
    };
    let params = ClusterParams {
        k,
        method,
        n_init: a.n_init,
        seed: a.train.seed,
    };
    params.check(latents.rows)?;
    Ok(Fitted::fit(latents, &params)?)
}

fn same_request(a: &Args, stored: &Fitted) -> bool {
    let k_ok = match a.k {
        None => true,
        Some(KArg::Fixed(k)) => k == stored.k(),
        Some(KArg::Auto) => false,
    };
    k_ok && a.method.is_none_or(|m| m == stored.method())
}

pub fn run(a: Args) -> Result<()> {
    if let Some(KArg::Fixed(k)) = a.k {
        ClusterParams {
            k,
            method: ClusterMethod::Kmeans,
            n_init: a.n_init,
            seed: 0,
        }
        .check(usize::MAX)?;
    }
    if a.model.is_some() && a.save_model.is_some() {
        return Err(
            VaeError::Usage("--save-model only applies when no --model is given".into()).into(),
        );
    }
    let out = Output::create(a.output.as_deref())?;
    let table = pipeline::read(&a.data)?;
    let device = Default::default();
    let (fitted, labels, ids, id_name, n) = match &a.model {
        Some(dir) => {
            let m = pipeline::load(dir)?;
            let p = pipeline::prepare_with(&m.config.schema, &table, &a.data)?;
            let (mu, _) = infer::embed(&m.model, &p.x, &device);
            let fitted = match m.clustering()? {
                Some(stored) if same_request(&a, &stored) => stored,
                stored => {
                    let f = fit(&a, &mu)?;
                    m.save_clustering(&f)?;
                    eprintln!(
                        "{} the clustering stored in {}",
                        if stored.is_some() {
                            "replaced"
                        } else {
                            "stored"
                        },
                        dir.display()
                    );
                    f
                }
            };
            let assignment = fitted.predict(&mu);
            (fitted, assignment, p.ids, p.id_name, p.labels)
        }
        None => {
            if a.k.is_none() {
                return Err(k_required().into());
            }
            let t = pipeline::train_model(&table, &a.data, &a.features, &a.train)?;
            let (mu, _) = infer::embed(&t.model, &t.data.x, &device);
            let fitted = fit(&a, &mu)?;
            let assignment = fitted.predict(&mu);
            if let Some(dir) = &a.save_model {
                let anomaly =
                    pipeline::anomaly_reference(&t, pipeline::DEFAULT_SAMPLES, a.train.seed);
                pipeline::save_trained(dir, &t, Some(&anomaly), Some(&fitted))?;
                eprintln!("model written to {}", dir.display());
            }
            (
                fitted,
                assignment,
                t.data.ids,
                t.data.id_name,
                t.data.labels,
            )
        }
    };
    let k = fitted.k();
    let mut header = vec![id_name, "cluster".to_string()];
    let probs = labels.probabilities.as_ref();
    if probs.is_some() {
        header.push("probability".into());
        if a.probabilities {
            header.extend((0..k).map(|c| format!("p_{c}")));
        }
    } else if a.probabilities {
        eprintln!("warning: --probabilities needs --method gmm; K-means assigns hard clusters");
    }
    let rows = (0..ids.len()).map(|i| {
        let c = labels.labels[i];
        let mut r = vec![ids[i].clone(), c.to_string()];
        if let Some(p) = probs {
            r.push(fmt_f(p.row(i)[c].into()));
            if a.probabilities {
                r.extend(p.row(i).iter().map(|&v| fmt_f(v.into())));
            }
        }
        r
    });
    out.write_csv(&header, rows)?;
    let mut sizes = vec![0usize; k];
    for &c in &labels.labels {
        sizes[c] += 1;
    }
    eprintln!(
        "{} rows in {k} clusters ({:?}); sizes {:?}",
        ids.len(),
        fitted.method(),
        sizes
    );
    if let Some(l) = n {
        pipeline::print_cluster_metrics(&l, &labels.labels);
    }
    Ok(())
}
