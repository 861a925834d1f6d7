//! `vaetool cluster DATA [--model M] --k K [--method kmeans|gmm|n2d|dec|gmm-inputs|lca|vade|su] -o labels.csv`.
//!
//! `kmeans`, `gmm` and `n2d` (a GMM on a UMAP manifold) cluster the latent means of a VAE (trained first when no `--model` is
//! given; `--save-model DIR` keeps it); `dec` refines N2D's clusters by training the encoder
//! further (deep embedded clustering, on moved images); `gmm-inputs` fits a GMM on the model's scaled inputs
//! instead (the default for tables of a few continuous columns), `lca` a latent class model on
//! the table's columns (the default for tables of categorical and few-valued columns). The fitted clustering is stored in the model
//! directory so that new rows get the same clusters. `vade` and `su` train a one-step
//! clustering VAE whose prior holds the clusters; a saved one assigns new rows itself.

use std::path::PathBuf;

use anyhow::Result;
use vaetool::cluster::{Assignment, ClusterMethod, ClusterParams};
use vaetool::manifold::UmapParams;
use vaetool::modeldir::ModelTarget;
use vaetool::onestep::MixtureInit;
use vaetool::output::{fmt_f, Output};
use vaetool::VaeError;

use vaetool::estimator::{
    defaults, Clusterer, Method, ModelClustering, NClusters, OneStepParams, Reference,
};

use crate::args::{DataArgs, FeatureArgs, TrainArgs};
use crate::pipeline;

/// `--k`: a number or `auto`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
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
    let err = || format!("expected a range like 2..10 (K from 2), got '{s}'");
    let (a, b) = s.split_once("..").ok_or_else(err)?;
    let a: usize = a.parse().map_err(|_| err())?;
    let b: usize = b.trim_start_matches('=').parse().map_err(|_| err())?;
    if a < 2 || b < a {
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
    /// Number of clusters, or `auto`: the K of --k-range whose K-means on the latent means has
    /// the highest mean silhouette (found the number of classes more often than a GMM's BIC on
    /// the 16-table benchmark, benches/RESULTS.md).
    #[arg(long, value_parser = parse_k)]
    k: Option<KArg>,
    /// Range of K tried by `--k auto` (from 2: a silhouette needs two clusters).
    #[arg(long, default_value = "2..10", value_parser = parse_range)]
    k_range: (usize, usize),
    /// kmeans or gmm on the latent means; n2d: a GMM on a K-dimensional UMAP manifold of the
    /// latent means (N2D); dec: N2D's clusters refined by deep embedded clustering (the encoder
    /// and a centre per cluster trained further, first towards N2D's clusters, then towards
    /// its own sharpened assignments, on moved images as DEC-DA; 2,400 steps of 256 rows);
    /// gmm-inputs: a full-covariance GMM on the scaled numeric columns
    /// themselves (categorical ones left out);
    /// lca: a latent class model on the columns (one categorical distribution per column and
    /// cluster; missing cells carry no evidence); vade (Gaussian-mixture prior) or su (Su's
    /// clustering VAE) to cluster in one step.
    /// Default: n2d for images (IDX, folders, --image-shape, and a table
    /// that looks like pixels — a square number of columns, 8×8 or more, of whole numbers on
    /// one range — unless --scale is given: MNIST ACC 0.9451 against 0.7892 for gmm and 0.7281
    /// for kmeans, five seeds; the 8×8 digits 0.8759 against 0.7307 as a table), and dec for
    /// more than 5,000 images, whose VAE trains on the images as they are (MNIST 10k 0.9711
    /// against n2d's 0.9451; on fewer images, trained on moved ones, dec added nothing),
    /// gmm-inputs for tables of at most 30 numeric columns none of which has one value in more
    /// than a quarter of the rows, beside fewer categorical columns if any (a mixture follows each
    /// cluster's shape, which the latent means lose: iris ACC 0.9667 against 0.8600, penguins
    /// 0.9797 against 0.8081), lca for tables whose every column is categorical
    /// or takes at most 10 values (dna ACC 0.8983 against 0.7558, zoo 0.8812 against 0.7624),
    /// kmeans for other tables (best on the 16-table benchmark), or the prior of a --model
    /// trained with vade/su (benches/RESULTS.md).
    #[arg(long)]
    method: Option<Method>,
    /// n2d, and vade/su with --init n2d: neighbourhood size of the manifold (the row itself
    /// included; umap-learn's default).
    #[arg(long, default_value_t = vaetool::manifold::DEFAULT_NEIGHBORS)]
    neighbors: usize,
    /// Restarts of K-means/GMM (best inertia or likelihood kept), and of VaDE's initial GMM
    /// (30: with 10, one of five digits runs kept a poorer optimum; benches/RESULTS.md).
    #[arg(long, default_value_t = defaults::N_INIT)]
    n_init: usize,
    /// vade/su: autoencoder pretraining epochs (default: about 6,000 steps; the clustering
    /// phase then defaults to about 3,000 steps).
    #[arg(long)]
    pretrain_epochs: Option<usize>,
    /// vade/su: how the mixture prior starts from the pretrained latents: n2d (the moments of
    /// the N2D clusters) or gmm (a GMM on the latents).
    #[arg(long, default_value = "n2d")]
    init: MixtureInit,
    /// vade/su: independent runs from consecutive seeds; the lowest negative ELBO is kept.
    #[arg(long, default_value_t = 1)]
    restarts: usize,
    /// Write every cluster's probability (gmm, vade, su).
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

/// `--k` as the library's number of clusters (`--k auto` over `--k-range`).
fn n_clusters(a: &Args) -> Option<NClusters> {
    a.k.map(|k| match k {
        KArg::Fixed(k) => NClusters::Fixed(k),
        KArg::Auto => NClusters::Auto(a.k_range.0, a.k_range.1),
    })
}

/// A clustering result ready to write.
struct Clusters {
    assignment: Assignment,
    k: usize,
    name: &'static str,
    ids: Vec<String>,
    id_name: String,
    labels: Option<Vec<String>>,
}

/// Assigns DATA with a saved model: the library's [`ModelClustering`] for these flags.
fn with_model(a: &Args, dir: &std::path::Path) -> Result<Clusters> {
    let m = pipeline::load(dir)?;
    let input = pipeline::read_for(&a.data, m.config.schema.image)?;
    let c = ModelClustering {
        k: n_clusters(a),
        method: a.method,
        n_init: a.n_init,
        neighbors: a.neighbors,
        seed: a.train.seed,
    }
    .assign(
        &m,
        &input,
        &a.data.input_options(),
        &mut pipeline::CliWatch::new(a.train.quiet),
    )?;
    Ok(Clusters {
        assignment: c.assignment,
        k: c.k,
        name: c.name,
        ids: c.prepared.ids,
        id_name: c.prepared.id_name,
        labels: c.prepared.labels,
    })
}

/// Trains on DATA and clusters its rows: the library's [`Clusterer`] for these flags.
fn without_model(
    a: &Args,
    table: &pipeline::Input,
    target: Option<&ModelTarget>,
) -> Result<Clusters> {
    let clusterer = Clusterer {
        k: n_clusters(a).ok_or_else(k_required)?,
        method: a.method,
        n_init: a.n_init,
        neighbors: a.neighbors,
        one_step: OneStepParams {
            pretrain_epochs: a.pretrain_epochs,
            restarts: a.restarts,
            gmm_init: a.n_init,
            init: a.init,
            neighbors: a.neighbors,
        },
        data: a.features.data_options(&a.data),
        train: a.train.params(),
    };
    let reference = match target {
        Some(t) => Reference::SaveTo(t),
        None => Reference::Skip,
    };
    let (fitted, training) = clusterer.fit_input(
        table,
        &a.data.input_options(),
        reference,
        &mut pipeline::CliWatch::new(a.train.quiet),
    )?;
    if let Some(target) = target {
        eprintln!("model written to {}", target.dir().display());
    }
    Ok(Clusters {
        assignment: fitted.training_assignment().clone(),
        k: fitted.k(),
        name: fitted.method_name(),
        ids: training.ids,
        id_name: training.id_name,
        labels: training.labels,
    })
}

pub fn run(a: Args) -> Result<()> {
    if let Some(KArg::Fixed(k)) = a.k {
        ClusterParams {
            k,
            method: ClusterMethod::Kmeans,
            n_init: a.n_init,
            seed: 0,
            neighbors: a.neighbors,
        }
        .check(usize::MAX)?;
    }
    UmapParams::new(2, 0)
        .with_neighbors(a.neighbors)
        .check(usize::MAX)?;
    if a.model.is_some() && a.save_model.is_some() {
        return Err(
            VaeError::Usage("--save-model only applies when no --model is given".into()).into(),
        );
    }
    pipeline::guard_output(a.output.as_deref(), Some(&a.data), a.model.as_deref(), &[])?;
    pipeline::check_device(&a.train)?;
    let out = Output::create(a.output.as_deref())?;
    let target = a
        .save_model
        .as_deref()
        .map(ModelTarget::claim)
        .transpose()?;
    let c = match &a.model {
        Some(dir) => with_model(&a, dir)?,
        None => without_model(&a, &pipeline::read(&a.data)?, target.as_ref())?,
    };
    let mut header = vec![c.id_name.clone(), "cluster".to_string()];
    let probs = c.assignment.probabilities.as_ref();
    if probs.is_some() {
        header.push("probability".into());
        if a.probabilities {
            header.extend((0..c.k).map(|j| format!("p_{j}")));
        }
    } else if a.probabilities {
        eprintln!("warning: --probabilities needs --method gmm, n2d, gmm-inputs, lca, vade or su; K-means assigns hard clusters");
    }
    let labels = &c.assignment.labels;
    let rows = (0..c.ids.len()).map(|i| {
        let cl = labels[i];
        let mut r = vec![c.ids[i].clone(), cl.to_string()];
        if let Some(p) = probs {
            r.push(fmt_f(p.row(i)[cl].into()));
            if a.probabilities {
                r.extend(p.row(i).iter().map(|&v| fmt_f(v.into())));
            }
        }
        r
    });
    out.write_csv(&header, rows)?;
    let mut sizes = vec![0usize; c.k];
    for &l in labels {
        sizes[l] += 1;
    }
    eprintln!(
        "{} rows in {} clusters ({}); sizes {:?}",
        c.ids.len(),
        c.k,
        c.name,
        sizes
    );
    if let Some(l) = &c.labels {
        pipeline::print_cluster_metrics(l, labels);
    }
    Ok(())
}
