//! The library's estimators against the command line: for the same seed and defaults they give
//! the same scores and clusters, and a model saved by one is used by the other, both ways. In
//! a test binary of its own, one test: training draws from burn's process-global CPU random
//! numbers.

use std::path::{Path, PathBuf};
use std::process::Command;

use vaetool::data::{read_table, Table};
use vaetool::estimator::{
    AnomalyDetector, Clusterer, FittedAnomalyDetector, FittedClusterer, NClusters,
};

fn data(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("datasets")
        .join(name)
}

fn table(name: &str) -> Table {
    read_table(&data(name), &Default::default()).unwrap()
}

/// Runs the binary; its stdout's column `col` as numbers.
fn cli_column(args: &[&str], col: &str) -> Vec<f64> {
    let out = Command::new(env!("CARGO_BIN_EXE_vaetool"))
        .args(args)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).unwrap();
    let mut lines = text.lines();
    let header: Vec<&str> = lines.next().unwrap().split(',').collect();
    let j = header.iter().position(|h| *h == col).unwrap();
    lines
        .map(|l| l.split(',').nth(j).unwrap().parse().unwrap())
        .collect()
}

#[test]
fn estimators_give_the_command_lines_numbers_and_share_its_model_directories() {
    let tmp = tempfile::tempdir().unwrap();
    let breastw = data("breastw.csv");
    let breastw = breastw.to_str().unwrap();

    // anomalies: the default detector, seed 1, against `vaetool anomalies … --seed 1`
    let t = table("breastw.csv");
    let mut detector = AnomalyDetector::default();
    detector.data.label_column = Some("outlier".into());
    detector.contamination = Some(0.35);
    detector.train.seed = 1;
    let fitted = detector.fit(&t).unwrap();
    let cli = cli_column(
        &[
            "anomalies",
            breastw,
            "--label-column",
            "outlier",
            "--contamination",
            "0.35",
            "--seed",
            "1",
            "-q",
        ],
        "score",
    );
    assert_eq!(fitted.training_scores(), &cli[..], "library vs CLI scores");
    assert_eq!(
        fitted.score(&t).unwrap(),
        cli,
        "score() of the training rows"
    );
    // the outliers score high: ROC-AUC on breastw well above chance
    let y: Vec<bool> = (0..t.n_rows())
        .map(|i| &t.columns[t.column_index("outlier").unwrap()][i] == "1")
        .collect();
    let auc = vaetool::metrics::roc_auc(&cli, &y).unwrap();
    assert!(auc > 0.9, "ROC-AUC {auc}");
    // predict flags by the stored threshold (the 0.65 quantile of the training scores)
    let flagged = fitted.predict(&t).unwrap();
    let threshold = fitted.threshold().unwrap();
    assert_eq!(
        flagged,
        cli.iter().map(|&s| s > threshold).collect::<Vec<_>>()
    );
    let share = flagged.iter().filter(|&&f| f).count() as f64 / flagged.len() as f64;
    assert!((share - 0.35).abs() < 0.02, "flagged {share}");

    // --fpr names the same quantile for clean training data
    let by_fpr = AnomalyDetector {
        contamination: None,
        fpr: Some(0.35),
        ..detector.clone()
    };
    assert_eq!(by_fpr.fit(&t).unwrap().threshold(), Some(threshold));

    // saved by the library, used by the CLI: the same scores and the stored threshold
    let lib_model = tmp.path().join("lib-anomaly");
    fitted.save(&lib_model).unwrap();
    let m = lib_model.to_str().unwrap();
    let with_model = &["anomalies", breastw, "--model", m, "--seed", "1", "-q"];
    assert_eq!(cli_column(with_model, "score"), cli);
    let is_anomaly = cli_column(with_model, "is_anomaly");
    assert_eq!(
        is_anomaly,
        flagged
            .iter()
            .map(|&f| f64::from(u8::from(f)))
            .collect::<Vec<_>>()
    );
    // saved by the CLI, loaded by the library
    let cli_model = tmp.path().join("cli-anomaly");
    cli_column(
        &[
            "anomalies",
            breastw,
            "--label-column",
            "outlier",
            "--seed",
            "1",
            "-q",
            "--save-model",
            cli_model.to_str().unwrap(),
        ],
        "score",
    );
    let loaded = FittedAnomalyDetector::load(&cli_model, 1).unwrap();
    assert_eq!(loaded.score(&t).unwrap(), cli);
    // the library's streaming: chunks of 100 rows give the same scores
    let m =
        vaetool::modeldir::load::<vaetool::backend::Cpu>(&cli_model, &Default::default()).unwrap();
    let how = vaetool::stream::ChunkScoring {
        chunk_rows: 100,
        score: vaetool::infer::ScoreKind::Robust, // a Gaussian model's default
        samples: m.score_samples().unwrap(),
        seed: 1,
        explain: Some(2),
        device: vaetool::device::DeviceRequest::Cpu,
    };
    let (mut streamed, mut chunks) = (Vec::new(), 0);
    vaetool::stream::score_csv_chunks(
        &m,
        &data("breastw.csv"),
        &Default::default(),
        &how,
        &mut vaetool::estimator::Unwatched,
        &mut |c| {
            assert_eq!(c.explained.as_ref().unwrap().len(), c.scores.len());
            streamed.extend(c.scores);
            chunks += 1;
            Ok(())
        },
    )
    .unwrap();
    assert_eq!(chunks, t.n_rows().div_ceil(100));
    assert_eq!(streamed, cli, "streamed in chunks of 100");
    assert!(loaded.predict(&t).is_err(), "no threshold stored");
    // a table of other columns: the CLI's schema message
    let err = loaded.score(&table("iris.csv")).unwrap_err().to_string();
    assert!(
        err.contains("the columns do not match the model's schema"),
        "{err}"
    );

    // clustering: iris has 4 continuous columns, so a GMM on its scaled columns, against
    // `vaetool cluster … --k 3`
    let iris = data("iris.csv");
    let iris = iris.to_str().unwrap();
    let t = table("iris.csv");
    let mut clusterer = Clusterer::new(3);
    clusterer.data.label_column = Some("species".into());
    clusterer.train.seed = 5;
    let fitted = clusterer.fit(&t).unwrap();
    let cli = cli_column(
        &[
            "cluster",
            iris,
            "--label-column",
            "species",
            "--k",
            "3",
            "--seed",
            "5",
            "-q",
        ],
        "cluster",
    );
    let labels: Vec<f64> = fitted.training_labels().iter().map(|&l| l as f64).collect();
    assert_eq!(labels, cli, "library vs CLI clusters");
    assert_eq!(fitted.predict(&t).unwrap(), fitted.training_labels());
    assert_eq!(fitted.method_name(), "GMM on the inputs");
    let proba = fitted
        .predict_proba(&t)
        .unwrap()
        .expect("a mixture's probabilities");
    assert_eq!((proba.rows, proba.cols), (150, 3));
    let truth =
        vaetool::metrics::encode_labels(&t.columns[t.column_index("species").unwrap()].to_vec()).0;
    let acc = vaetool::metrics::clustering_accuracy(&truth, &fitted.training_labels());
    assert!(acc > 0.95, "iris ACC {acc}");
    // both ways through model directories
    let lib_model = tmp.path().join("lib-cluster");
    fitted.save(&lib_model).unwrap();
    let with_model = &[
        "cluster",
        iris,
        "--model",
        lib_model.to_str().unwrap(),
        "-q",
    ];
    assert_eq!(cli_column(with_model, "cluster"), cli);
    // the library's model directory carries its anomaly reference, as the CLI's does, and
    // `anomalies --model` uses it (below)
    let cli_model = tmp.path().join("cli-cluster");
    cli_column(
        &[
            "cluster",
            iris,
            "--label-column",
            "species",
            "--k",
            "3",
            "--seed",
            "5",
            "-q",
            "--save-model",
            cli_model.to_str().unwrap(),
        ],
        "cluster",
    );
    assert_eq!(
        std::fs::read(lib_model.join("anomaly.json")).unwrap(),
        std::fs::read(cli_model.join("anomaly.json")).unwrap(),
        "the same anomaly reference"
    );
    let scores = cli_column(
        &[
            "anomalies",
            iris,
            "--model",
            lib_model.to_str().unwrap(),
            "--contamination",
            "0.1",
            "-q",
        ],
        "score",
    );
    assert_eq!(scores.len(), t.n_rows());
    let loaded = FittedClusterer::load(&cli_model).unwrap();
    assert_eq!(loaded.predict(&t).unwrap(), fitted.training_labels());
    assert_eq!(loaded.k(), 3);

    // K by silhouette, as `--k auto`
    let mut auto = Clusterer::with_k(NClusters::auto());
    auto.data.label_column = Some("species".into());
    auto.train.seed = 5;
    let fitted = auto.fit(&t).unwrap();
    let cli = cli_column(
        &[
            "cluster",
            iris,
            "--label-column",
            "species",
            "--k",
            "auto",
            "--seed",
            "5",
            "-q",
        ],
        "cluster",
    );
    let labels: Vec<f64> = fitted.training_labels().iter().map(|&l| l as f64).collect();
    assert_eq!(labels, cli, "--k auto");
    assert!((2..=10).contains(&fitted.k()));

    // VaDE, one step: the CLI's clusters and probabilities, and its model directory
    let mut vade = Clusterer::new(3);
    vade.method = Some(vaetool::estimator::Method::Vade);
    vade.data.label_column = Some("species".into());
    vade.train.seed = 5;
    vade.train.epochs = Some(20);
    vade.one_step.pretrain_epochs = Some(20);
    let fitted = vade.fit(&t).unwrap();
    let args = [
        "cluster",
        iris,
        "--label-column",
        "species",
        "--k",
        "3",
        "--method",
        "vade",
        "--seed",
        "5",
        "--epochs",
        "20",
        "--pretrain-epochs",
        "20",
        "-q",
    ];
    let cli = cli_column(&args, "cluster");
    let labels: Vec<f64> = fitted.training_labels().iter().map(|&l| l as f64).collect();
    assert_eq!(labels, cli, "VaDE");
    let p = fitted.predict_proba(&t).unwrap().unwrap();
    assert_eq!((p.rows, p.cols), (150, 3));
    let lib_model = tmp.path().join("lib-vade");
    fitted.save(&lib_model).unwrap();
    let m = lib_model.to_str().unwrap();
    assert_eq!(
        cli_column(&["cluster", iris, "--model", m, "-q"], "cluster"),
        fitted
            .predict(&t)
            .unwrap()
            .iter()
            .map(|&l| l as f64)
            .collect::<Vec<_>>()
    );
    assert_eq!(FittedClusterer::load(&lib_model).unwrap().k(), 3);

    // trained on known-good rows, as `anomalies DATA --train CLEAN`
    let t = table("breastw.csv");
    let clean = AnomalyDetector {
        fpr: Some(0.05),
        train: vaetool::estimator::TrainParams {
            epochs: Some(4),
            seed: 1,
            ..Default::default()
        },
        ..detector.clone()
    };
    let clean = AnomalyDetector {
        contamination: None,
        ..clean
    };
    let fitted = clean.fit_clean(&t).unwrap();
    let cli = cli_column(
        &[
            "anomalies",
            breastw,
            "--train",
            breastw,
            "--label-column",
            "outlier",
            "--epochs",
            "4",
            "--fpr",
            "0.05",
            "--seed",
            "1",
            "-q",
        ],
        "score",
    );
    assert_eq!(fitted.score(&t).unwrap(), cli, "--train");

    // checked parameters: typed errors before any data is read
    let mut bad = Clusterer::new(0);
    assert_eq!(
        bad.check().unwrap_err().to_string(),
        "--k must be at least 1"
    );
    bad.k = NClusters::auto();
    bad.method = Some(vaetool::estimator::Method::Vade);
    assert_eq!(
        bad.check().unwrap_err().to_string(),
        "--k auto works with --method kmeans, gmm or n2d; vade and su need a number"
    );
    bad.k = NClusters::Fixed(1);
    assert_eq!(
        bad.check().unwrap_err().to_string(),
        "--k must be at least 2 for --method vade or su, got 1"
    );
    let mut bad = AnomalyDetector {
        contamination: Some(1.5),
        ..Default::default()
    };
    assert_eq!(
        bad.check().unwrap_err().to_string(),
        "--contamination must be strictly between 0 and 1, got 1.5"
    );
    bad.contamination = None;
    bad.train.lr = f64::NAN;
    assert!(bad.fit(&table("iris.csv")).is_err());

    // any input, through `fit_input`: IDX images, and an ensemble, as the command line
    let idx = data("mnist-tiny/images-idx3-ubyte.gz");
    let idx = idx.to_str().unwrap();
    let o = vaetool::data::input::InputOptions::default();
    let images = vaetool::data::input::read_input(Path::new(idx), &o, None).unwrap();
    let mut d = AnomalyDetector::default();
    d.train.epochs = Some(3);
    let (fitted, training) = d
        .fit_input(&images, &o, false, &mut vaetool::estimator::Unwatched)
        .unwrap();
    assert_eq!(training.x.rows, images.n_rows());
    let cli = cli_column(&["anomalies", idx, "--epochs", "3", "-q"], "score");
    assert_eq!(fitted.training_scores(), &cli[..], "images: library vs CLI");
    let mut d = AnomalyDetector::default();
    d.data.label_column = Some("outlier".into());
    d.train.epochs = Some(5);
    d.train.seed = 4;
    d.ensemble = Some(3);
    let fitted = d.fit(&t).unwrap();
    let cli = cli_column(
        &[
            "anomalies",
            breastw,
            "--label-column",
            "outlier",
            "--ensemble",
            "3",
            "--epochs",
            "5",
            "--seed",
            "4",
            "-q",
        ],
        "score",
    );
    assert_eq!(
        fitted.training_scores(),
        &cli[..],
        "ensemble: library vs CLI"
    );
    assert_eq!(fitted.score(&t).unwrap(), cli, "ensemble: score()");
    assert_eq!(
        fitted
            .save(&tmp.path().join("ens"))
            .unwrap_err()
            .to_string(),
        "an ensemble of 3 models is not one model directory: fit one model (ensemble 1) to save it"
    );
    // and clustering images through `fit_input`: N2D by default (few images), as the command line
    let c = Clusterer::new(10);
    let mut c = Clusterer {
        train: vaetool::estimator::TrainParams {
            epochs: Some(3),
            ..c.train.clone()
        },
        ..c.clone()
    };
    c.train.seed = 42;
    let (fitted, training) = c
        .fit_input(
            &images,
            &o,
            vaetool::estimator::Reference::Skip,
            &mut vaetool::estimator::Unwatched,
        )
        .unwrap();
    assert_eq!(fitted.method_name(), "N2D");
    assert_eq!(training.x.rows, images.n_rows());
    let cli: Vec<usize> = cli_column(
        &["cluster", idx, "--k", "10", "--epochs", "3", "-q"],
        "cluster",
    )
    .into_iter()
    .map(|v| v as usize)
    .collect();
    assert_eq!(
        fitted.training_labels(),
        cli,
        "images: clusters, library vs CLI"
    );
    // a table that looks like pixels (the 8×8 digits) is clustered as images by `fit` too,
    // with the command line's clusters
    c.data.exclude = vec!["digit".into()];
    let fitted = c.fit(&table("digits.csv")).unwrap();
    assert_eq!(fitted.method_name(), "N2D");
    let digits = data("digits.csv");
    let cli: Vec<usize> = cli_column(
        &[
            "cluster",
            digits.to_str().unwrap(),
            "--exclude",
            "digit",
            "--k",
            "10",
            "--epochs",
            "3",
            "-q",
        ],
        "cluster",
    )
    .into_iter()
    .map(|v| v as usize)
    .collect();
    assert_eq!(fitted.training_labels(), cli, "digits: library vs CLI");
}
