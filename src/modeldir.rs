//! The model directory:
//!
//! | file | content |
//! |---|---|
//! | `config.json` | network shape, training settings and the data schema (columns, categories, imputation and scaling statistics) |
//! | `weights.bin` | the network's weights (burn's binary recorder, full precision) |
//! | `history.csv` | epoch, train loss, reconstruction, KL, validation loss, FactorVAE's TC estimate, seconds |
//! | `summary.json` | rows, inputs, epochs run, final losses, training time |
//! | `anomaly.json` | training-score reference and the stored threshold |
//! | `clustering.json` | the fitted clustering of the latent means, when one was made |
//!
//! A new directory is written to a temporary directory beside the target and renamed into
//! place, so a failed run never leaves a half-written model.

use std::path::{Path, PathBuf};

use burn::module::Module;
use burn::prelude::*;
use burn::record::{BinFileRecorder, FullPrecisionSettings};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use crate::anomaly::AnomalyState;
use crate::cluster::Fitted;
use crate::data::Schema;
use crate::error::{Result, VaeError};
use crate::model::{Vae, VaeConfig};
use crate::output::write_atomic;
use crate::train::{EpochStats, TrainConfig};

/// Version of the directory layout.
pub const FORMAT_VERSION: u32 = 1;
const CONFIG: &str = "config.json";
const WEIGHTS: &str = "weights";
const ANOMALY: &str = "anomaly.json";
const CLUSTERING: &str = "clustering.json";

/// Everything in `config.json`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ModelConfig {
    /// Layout version of the directory.
    pub format_version: u32,
    /// The vaetool version that wrote it.
    pub vaetool_version: String,
    /// The network.
    pub model: VaeConfig,
    /// How it was trained.
    pub train: TrainConfig,
    /// The data schema.
    pub schema: Schema,
}

/// `summary.json`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Summary {
    /// Training rows.
    pub rows: usize,
    /// Model inputs.
    pub inputs: usize,
    /// Epochs run.
    pub epochs_run: usize,
    /// Epoch whose weights were kept.
    pub best_epoch: usize,
    /// Final mean training loss.
    pub train_loss: f64,
    /// Final mean reconstruction term.
    pub recon: f64,
    /// Final mean KL.
    pub kl: f64,
    /// Final validation loss, if any.
    pub val_loss: Option<f64>,
    /// Training seconds.
    pub seconds: f64,
}

/// A model loaded from disk.
#[derive(Debug)]
pub struct LoadedModel<B: Backend> {
    /// The directory.
    pub dir: PathBuf,
    /// Its configuration.
    pub config: ModelConfig,
    /// The network.
    pub model: Vae<B>,
}

fn model_err(msg: String) -> VaeError {
    VaeError::Model(msg)
}

fn json_bytes<T: Serialize>(v: &T) -> Vec<u8> {
    let mut b = serde_json::to_vec_pretty(v).expect("serializable");
    b.push(b'\n');
    b
}

fn history_csv(history: &[EpochStats]) -> Vec<u8> {
    let mut w = csv::Writer::from_writer(Vec::new());
    w.write_record([
        "epoch",
        "train_loss",
        "recon",
        "kl",
        "val_loss",
        "tc",
        "seconds",
    ])
    .expect("in-memory write");
    for h in history {
        w.write_record([
            h.epoch.to_string(),
            h.train_loss.to_string(),
            h.recon.to_string(),
            h.kl.to_string(),
            h.val_loss.map(|v| v.to_string()).unwrap_or_default(),
            h.tc.map(|v| v.to_string()).unwrap_or_default(),
            format!("{:.3}", h.seconds),
        ])
        .expect("in-memory write");
    }
    w.into_inner().expect("in-memory write")
}

/// Reads `history.csv` of a model directory (without loading the network).
pub fn load_history(dir: &Path) -> Result<Vec<EpochStats>> {
    let path = dir.join("history.csv");
    let mut r = csv::Reader::from_path(&path).map_err(|e| {
        model_err(format!(
            "{}: cannot read the training history ({e}); is {} a model directory?",
            path.display(),
            dir.display()
        ))
    })?;
    let bad = |line: u64, what: &str| {
        model_err(format!(
            "{}: line {line}: {what} (the file is corrupt)",
            path.display()
        ))
    };
    let mut out = Vec::new();
    for (i, rec) in r.records().enumerate() {
        let line = i as u64 + 2;
        let rec = rec.map_err(|e| bad(line, &e.to_string()))?;
        let num = |j: usize| -> Result<Option<f64>> {
            match rec.get(j).unwrap_or("") {
                "" => Ok(None),
                v => v
                    .parse::<f64>()
                    .map(Some)
                    .map_err(|_| bad(line, &format!("\"{v}\" is not a number"))),
            }
        };
        let need = |j: usize, name: &str| -> Result<f64> {
            num(j)?.ok_or_else(|| bad(line, &format!("no {name}")))
        };
        out.push(EpochStats {
            epoch: need(0, "epoch")? as usize,
            train_loss: need(1, "train_loss")?,
            recon: need(2, "recon")?,
            kl: need(3, "kl")?,
            val_loss: num(4)?,
            tc: num(5)?,
            seconds: num(6)?.unwrap_or(0.0),
        });
    }
    Ok(out)
}

/// What a new model directory holds.
pub struct NewModel<'a, B: Backend> {
    /// `config.json`.
    pub config: &'a ModelConfig,
    /// The weights.
    pub model: &'a Vae<B>,
    /// `history.csv`.
    pub history: &'a [EpochStats],
    /// `summary.json`.
    pub summary: &'a Summary,
    /// `anomaly.json`.
    pub anomaly: Option<&'a AnomalyState>,
    /// `clustering.json`.
    pub clustering: Option<&'a Fitted>,
}

/// Writes a complete model directory at `dir`, replacing an earlier model directory there.
pub fn save<B: Backend>(dir: &Path, m: NewModel<'_, B>) -> Result<()> {
    let werr = |source: std::io::Error| VaeError::Write {
        path: dir.to_path_buf(),
        source,
    };
    if dir.exists() {
        let is_model = dir.join(CONFIG).is_file();
        let is_empty = dir.is_dir() && std::fs::read_dir(dir).map_err(werr)?.next().is_none();
        if !(is_model || is_empty) {
            return Err(VaeError::Usage(format!(
                "{}: exists and is not a vaetool model directory; refusing to overwrite it",
                dir.display()
            )));
        }
    }
    let parent = match dir.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    std::fs::create_dir_all(&parent).map_err(werr)?;
    let tmp = crate::output::temp_builder(true)
        .prefix(".vaetool-model-")
        .tempdir_in(&parent)
        .map_err(werr)?;
    let t = tmp.path();
    std::fs::write(t.join(CONFIG), json_bytes(m.config)).map_err(werr)?;
    m.model
        .clone()
        .save_file(
            t.join(WEIGHTS),
            &BinFileRecorder::<FullPrecisionSettings>::new(),
        )
        .map_err(|e| werr(std::io::Error::other(e.to_string())))?;
    std::fs::write(t.join("history.csv"), history_csv(m.history)).map_err(werr)?;
    std::fs::write(t.join("summary.json"), json_bytes(m.summary)).map_err(werr)?;
    if let Some(a) = m.anomaly {
        std::fs::write(t.join(ANOMALY), json_bytes(a)).map_err(werr)?;
    }
    if let Some(c) = m.clustering {
        std::fs::write(t.join(CLUSTERING), json_bytes(c)).map_err(werr)?;
    }
    if dir.exists() {
        std::fs::remove_dir_all(dir).map_err(werr)?;
    }
    let kept = tmp.keep();
    std::fs::rename(&kept, dir).map_err(werr)?;
    Ok(())
}

/// Reads an optional JSON file of the model directory.
fn read_json<T: DeserializeOwned>(dir: &Path, name: &str) -> Result<Option<T>> {
    let p = dir.join(name);
    if !p.exists() {
        return Ok(None);
    }
    let bytes = std::fs::read(&p).map_err(|source| VaeError::Read {
        path: p.clone(),
        source,
    })?;
    serde_json::from_slice(&bytes)
        .map(Some)
        .map_err(|e| model_err(format!("{}: cannot read: {e}", p.display())))
}

/// Settings added after a model directory was written take their defaults: fills the keys
/// missing from `config.json`'s `train` and `model` objects (never the required sizes) from a
/// fresh configuration, so that models saved by an earlier vaetool keep loading.
fn fill_defaults(config: &mut serde_json::Value) {
    const REQUIRED: [&str; 5] = ["epochs", "batch_size", "input_dim", "hidden", "latent"];
    let defaults = [
        ("train", serde_json::to_value(TrainConfig::new(1, 1))),
        ("model", serde_json::to_value(VaeConfig::new(1, vec![1], 1))),
    ];
    for (key, fresh) in defaults {
        let (Some(serde_json::Value::Object(saved)), Ok(serde_json::Value::Object(fresh))) =
            (config.get_mut(key), fresh)
        else {
            continue;
        };
        for (k, v) in fresh {
            if !REQUIRED.contains(&k.as_str()) && !saved.contains_key(&k) {
                saved.insert(k, v);
            }
        }
    }
}

/// Loads `config.json` and the weights.
pub fn load<B: Backend>(dir: &Path, device: &B::Device) -> Result<LoadedModel<B>> {
    if !dir.is_dir() {
        return Err(model_err(format!(
            "{}: no such model directory",
            dir.display()
        )));
    }
    let config: ModelConfig = read_json::<serde_json::Value>(dir, CONFIG)
        .and_then(|v| {
            v.map(|mut v| {
                fill_defaults(&mut v);
                serde_json::from_value(v).map_err(|e| {
                    model_err(format!("{}: cannot read: {e}", dir.join(CONFIG).display()))
                })
            })
            .transpose()
        })
        .map_err(|e| {
            model_err(format!(
                "{e} (a model directory written by another vaetool version? retrain it with \
                 this one)"
            ))
        })?
        .ok_or_else(|| {
            model_err(format!(
                "{}: not a vaetool model directory (config.json is missing)",
                dir.display()
            ))
        })?;
    if config.format_version != FORMAT_VERSION {
        return Err(model_err(format!(
            "{}: model format version {} is not supported (this vaetool reads version \
             {FORMAT_VERSION})",
            dir.display(),
            config.format_version
        )));
    }
    let fresh = config.model.init::<B>(device);
    let expected = fresh.num_params();
    let weights = dir.join(format!("{WEIGHTS}.bin"));
    let model = fresh
        .load_file(
            dir.join(WEIGHTS),
            &BinFileRecorder::<FullPrecisionSettings>::new(),
            device,
        )
        .map_err(|e| {
            model_err(format!(
                "{}: cannot load the weights (the file is missing, truncated or corrupt): {e}",
                weights.display()
            ))
        })?;
    if model.num_params() != expected {
        return Err(model_err(format!(
            "{}: the weights do not match config.json ({} parameters, expected {expected})",
            weights.display(),
            model.num_params()
        )));
    }
    Ok(LoadedModel {
        dir: dir.to_path_buf(),
        config,
        model,
    })
}

impl<B: Backend> LoadedModel<B> {
    /// The stored anomaly state.
    pub fn anomaly(&self) -> Result<Option<AnomalyState>> {
        read_json(&self.dir, ANOMALY)
    }

    /// The stored clustering.
    pub fn clustering(&self) -> Result<Option<Fitted>> {
        read_json(&self.dir, CLUSTERING)
    }

    /// Stores (replaces) the anomaly state.
    pub fn save_anomaly(&self, a: &AnomalyState) -> Result<()> {
        write_atomic(&self.dir.join(ANOMALY), &json_bytes(a))
    }

    /// Stores (replaces) the clustering.
    pub fn save_clustering(&self, c: &Fitted) -> Result<()> {
        write_atomic(&self.dir.join(CLUSTERING), &json_bytes(c))
    }
}
