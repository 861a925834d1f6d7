//! Clustering benchmark: ACC / NMI / ARI of plain K-means on the raw features, K-means and
//! GMM on the latent means of a VAE, VaDE and Su's one-step clustering VAE, over several
//! seeds, each run with label-free choices only (vaetool's defaults; no restart is picked by
//! its labels). Prints the median and the range over the seeds as a Markdown table.
//!
//! ```text
//! cargo bench --bench clustering -- DATA.csv LABEL_COLUMN K [SCALE] [SEEDS]
//! cargo bench --bench clustering -- datasets/digits.csv digit 10 none 1,2,3,4,5
//! cargo bench --bench clustering -- datasets/mnist/mnist10k-images-idx3-ubyte.gz - 10 none 1,2,3,4,5
//! ```
//!
//! IDX images (`*-images-idx3-ubyte[.gz]`) are read with their `*-labels-idx1-ubyte[.gz]`
//! sibling, pixels scaled to [0, 1]; an optional sixth argument keeps only the first N rows.
//!
//! Environment knobs, for the slower conv runs on a CPU: `ARCH=conv` (images: the conv VAE),
//! `EPOCHS` (the VAE's), `PRE_EPOCHS` and `ONE_EPOCHS` (VaDE/Su pretraining and training),
//! `BATCH`, and `METHODS=0,1,2` to run only some rows of the table (0 raw K-means, 1 K-means on
//! latents, 2 GMM on latents, 3 VaDE, 4 Su, 5 N2D: a GMM on a UMAP manifold of the latents),
//! `HIDDEN=500,500,2000` and `LATENT` for the VAE's size, `NEIGHBORS` for N2D's manifold,
//! `INIT=n2d|gmm` for VaDE/Su's prior initialisation, `BETA` (default 1) for the VAE whose
//! latents K-means and GMM cluster and `N2D_BETA` (default 0.1, as `cluster --method n2d`) for
//! N2D's.

use std::time::Instant;

use linfa::traits::{Fit, Predict};
use linfa::DatasetBase;
use linfa_clustering::KMeans;
use rand::SeedableRng;
use vaetool::backend::CpuTrain;
use vaetool::cluster::{ClusterMethod, ClusterParams, Fitted};
use vaetool::data::ImageShape;
use vaetool::data::{read_table, DataOptions, Matrix, ReadOptions, Scale, Schema};
use vaetool::infer;
use vaetool::metrics::{ari, clustering_accuracy, encode_labels, nmi};
use vaetool::model::{
    default_conv_hidden, default_hidden, default_latent, Arch, Likelihood, Prior, VaeConfig,
};
use vaetool::onestep::{train_one_step, MixtureInit, OneStepConfig};
use vaetool::train::{
    default_batch_size, default_epochs, default_one_step_epochs, train, TrainConfig,
};

struct Scores {
    acc: Vec<f64>,
    nmi: Vec<f64>,
    ari: Vec<f64>,
    secs: Vec<f64>,
}

impl Scores {
    fn new() -> Self {
        Scores {
            acc: vec![],
            nmi: vec![],
            ari: vec![],
            secs: vec![],
        }
    }
    fn push(&mut self, truth: &[usize], pred: &[usize], secs: f64) {
        self.acc.push(clustering_accuracy(truth, pred));
        self.nmi.push(nmi(truth, pred));
        self.ari.push(ari(truth, pred));
        self.secs.push(secs);
    }
}

fn median_range(v: &[f64]) -> String {
    let mut s = v.to_vec();
    s.sort_by(f64::total_cmp);
    let m = if s.len() % 2 == 1 {
        s[s.len() / 2]
    } else {
        (s[s.len() / 2 - 1] + s[s.len() / 2]) / 2.0
    };
    format!("{m:.4} [{:.4}–{:.4}]", s[0], s[s.len() - 1])
}

fn raw_kmeans(x: &Matrix, k: usize, seed: u64) -> Vec<usize> {
    let a = ndarray::Array2::from_shape_fn((x.rows, x.cols), |(r, c)| {
        f64::from(x.data[r * x.cols + c])
    });
    let ds = DatasetBase::from(a.clone());
    let m = KMeans::params_with_rng(k, rand_xoshiro::Xoshiro256Plus::seed_from_u64(seed))
        .n_runs(10)
        .fit(&ds)
        .unwrap();
    m.predict(&a).to_vec()
}

fn main() {
    let args: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| a != "--bench")
        .collect();
    let path = args
        .first()
        .map(String::as_str)
        .unwrap_or("datasets/digits.csv");
    let label = args.get(1).map(String::as_str).unwrap_or("digit");
    let k: usize = args.get(2).map_or(10, |v| v.parse().unwrap());
    let scale: Scale = args.get(3).map_or(Scale::None, |v| v.parse().unwrap());
    let seeds: Vec<u64> = args.get(4).map_or(vec![1, 2, 3, 4, 5], |v| {
        v.split(',').map(|s| s.parse().unwrap()).collect()
    });

    let max_rows: Option<usize> = args.get(5).map(|v| v.parse().unwrap());
    let images = path.contains("idx3-ubyte");
    let (x, labels) = if images {
        let images = vaetool::data::idx::read_idx(path.as_ref()).unwrap();
        let labels =
            vaetool::data::idx::read_idx(path.replace("images-idx3", "labels-idx1").as_ref())
                .unwrap();
        (images.to_matrix(), labels.to_labels())
    } else {
        let table = read_table(path.as_ref(), &ReadOptions::default()).unwrap();
        let opts = DataOptions {
            label_column: Some(label.into()),
            scale,
            ..Default::default()
        };
        let (schema, _) = Schema::fit(&table, &opts).unwrap();
        let p = schema.transform(&table).unwrap();
        (p.x, p.labels.unwrap())
    };
    let (x, labels) = match max_rows {
        Some(n) if n < x.rows => (
            Matrix::new(n, x.cols, x.data[..n * x.cols].to_vec()),
            labels[..n].to_vec(),
        ),
        _ => (x, labels),
    };
    let (truth, _) = encode_labels(&labels);
    let x = &x;
    let d = x.cols;
    let device = Default::default();
    let env = |name: &str| {
        std::env::var(name)
            .ok()
            .map(|v| v.parse::<usize>().unwrap())
    };
    let batch = env("BATCH").unwrap_or_else(|| default_batch_size(x.rows));
    let methods: Vec<usize> = std::env::var("METHODS")
        .map(|v| v.split(',').map(|m| m.parse().unwrap()).collect())
        .unwrap_or_else(|_| (0..6).collect());
    let conv = images && std::env::var("ARCH").is_ok_and(|a| a == "conv");
    // Images: pixels in [0, 1] with a Bernoulli likelihood, as in the VaDE paper.
    let likelihood = if images {
        Likelihood::Bernoulli
    } else {
        Likelihood::Gaussian
    };
    let base = if conv {
        let side = (d as f64).sqrt() as usize;
        VaeConfig::new(d, default_conv_hidden(), default_latent(d))
            .with_arch(Arch::Conv)
            .with_image(Some(ImageShape::new(1, side, side)))
    } else {
        let hidden = std::env::var("HIDDEN").map_or_else(
            |_| default_hidden(d),
            |v| v.split(',').map(|h| h.parse().unwrap()).collect(),
        );
        VaeConfig::new(
            d,
            hidden,
            env("LATENT").unwrap_or_else(|| default_latent(d)),
        )
    }
    .with_likelihood(likelihood);
    let neighbors = env("NEIGHBORS").unwrap_or(vaetool::manifold::DEFAULT_NEIGHBORS);
    let (pre_default, one_default) = default_one_step_epochs(x.rows, batch);
    let pre_epochs = env("PRE_EPOCHS").unwrap_or(pre_default);
    let one_epochs = env("ONE_EPOCHS").unwrap_or(one_default);
    let vae_epochs = env("EPOCHS").unwrap_or_else(|| default_epochs(x.rows, batch));
    let beta: f64 = std::env::var("BETA").map_or(1.0, |v| v.parse().unwrap());
    let n2d_beta: f64 = std::env::var("N2D_BETA").map_or(0.1, |v| v.parse().unwrap());

    let names = [
        "K-means on raw features",
        "K-means on VAE latents",
        "GMM on VAE latents",
        "VaDE",
        "Su",
        "N2D (GMM on a UMAP manifold of the VAE latents)",
    ];
    let mut all: Vec<Scores> = names.iter().map(|_| Scores::new()).collect();
    for &seed in &seeds {
        if methods.contains(&0) {
            let t = Instant::now();
            all[0].push(&truth, &raw_kmeans(x, k, seed), t.elapsed().as_secs_f64());
        }

        // K-means and GMM cluster the latents of a VAE with β = BETA (default 1), N2D those
        // of one with β = N2D_BETA (default 0.1, `cluster --method n2d`'s default); one VAE
        // when the two are equal
        let mut trained: Vec<(f64, Matrix, f64)> = Vec::new();
        for (i, method) in [
            (1, ClusterMethod::Kmeans),
            (2, ClusterMethod::Gmm),
            (5, ClusterMethod::N2d),
        ] {
            if !methods.contains(&i) {
                continue;
            }
            let b = if i == 5 { n2d_beta } else { beta };
            if !trained.iter().any(|(tb, _, _)| *tb == b) {
                let t = Instant::now();
                let cfg = TrainConfig::new(vae_epochs, batch)
                    .with_seed(seed)
                    .with_beta(b);
                let vae = train::<CpuTrain>(x, &base, &cfg, &device, &mut |_| {}).unwrap();
                let mu = infer::embed(&vae.model, x, &device).0;
                trained.push((b, mu, t.elapsed().as_secs_f64()));
            }
            let (_, mu, train_secs) = trained.iter().find(|(tb, _, _)| *tb == b).unwrap();
            let t = Instant::now();
            let f = Fitted::fit(
                mu,
                &ClusterParams {
                    k,
                    method,
                    n_init: 10,
                    seed,
                    neighbors,
                },
            )
            .unwrap();
            all[i].push(
                &truth,
                &f.predict(mu).unwrap().labels,
                train_secs + t.elapsed().as_secs_f64(),
            );
        }

        for (i, prior) in [(3, Prior::Mixture(k)), (4, Prior::Su(k))] {
            if !methods.contains(&i) {
                continue;
            }
            let t = Instant::now();
            let vae = base.clone().with_prior(prior);
            let cfg = TrainConfig::new(one_epochs, batch).with_seed(seed);
            let one = OneStepConfig {
                pretrain_epochs: pre_epochs,
                restarts: 1,
                gmm_init: 10,
                init: std::env::var("INIT").map_or(MixtureInit::default(), |v| v.parse().unwrap()),
                neighbors,
            };
            let r =
                train_one_step::<CpuTrain>(x, &vae, &cfg, &one, &device, &mut |_, _| {}).unwrap();
            all[i].push(&truth, &r.labels, t.elapsed().as_secs_f64());
        }
        eprintln!("seed {seed} done");
    }
    let prep = if images {
        "pixels / 255".to_string()
    } else {
        format!("--scale {scale:?}")
    };
    println!(
        "Data: {path} ({} rows × {d}, K={k}, {prep}); seeds {seeds:?}",
        x.rows
    );
    println!(
        "VAE: {} network, hidden {:?}, latent {}, {} likelihood, β {beta} (N2D: {n2d_beta}), batch {batch}, {vae_epochs} epochs; VaDE/Su: {pre_epochs} pretraining + {one_epochs} epochs, 1 restart",
        base.arch.name(),
        base.hidden,
        base.latent,
        base.likelihood.name(),
    );
    println!();
    println!("| method | ACC median [min–max] | NMI median [min–max] | ARI median [min–max] | seconds (median) |");
    println!("|---|---|---|---|---|");
    for (n, s) in names.iter().zip(&all) {
        if s.acc.is_empty() {
            continue;
        }
        let mut secs = s.secs.clone();
        secs.sort_by(f64::total_cmp);
        println!(
            "| {n} | {} | {} | {} | {:.1} |",
            median_range(&s.acc),
            median_range(&s.nmi),
            median_range(&s.ari),
            secs[secs.len() / 2]
        );
    }
}
