//! The model directory:
//!
//! | file | content |
//! |---|---|
//! | `config.json` | network shape, training settings and the data schema (columns, categories, imputation and scaling statistics) |
//! | `weights.bin` | the network's weights (burn's binary recorder, full precision) |
//! | `history.csv` | epoch, train loss, reconstruction, KL, validation loss, FactorVAE's TC estimate, seconds |
//! | `summary.json` | rows, inputs, epochs run, final losses, training time |
//! | `anomaly.json` | training-score reference and the stored threshold |
//! | `clustering.json` | the fitted clustering of the latent means, when one was made, and the seed it was fitted with |
//!
//! A new model is written to a directory beside the target and swapped in atomically, under an
//! advisory lock, never replacing anything but a vaetool model ([`ModelTarget`]); files a user
//! put into a model directory survive its retraining.

use std::path::{Path, PathBuf};

use burn::module::Module;
use burn::prelude::*;
use burn::record::{FullPrecisionSettings, Recorder, RecorderError};
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

/// Records a network's skeleton (see [`crate::skeleton`]) the way [`WeightsRecorder`] would
/// write it; loads nothing.
#[derive(Debug, Default, Clone)]
struct SkeletonRecorder;

impl<B: Backend> Recorder<B> for SkeletonRecorder {
    type Settings = FullPrecisionSettings;
    type RecordArgs = ();
    type RecordOutput = Vec<crate::skeleton::Token>;
    type LoadArgs = ();

    fn save_item<I: Serialize>(
        &self,
        item: I,
        _: (),
    ) -> Result<Vec<crate::skeleton::Token>, RecorderError> {
        crate::skeleton::skeleton(&item).map_err(RecorderError::Unknown)
    }

    fn load_item<I: DeserializeOwned>(&self, _: &mut ()) -> Result<I, RecorderError> {
        Err(RecorderError::Unknown(
            "the skeleton recorder only records".into(),
        ))
    }
}

/// burn's binary record (`BinFileRecorder`'s bytes: bincode, standard configuration, full
/// precision), decoded with a limit on what its length prefixes may claim — at most 16 times
/// the file's size (at least 1 MiB) —, so that a corrupt `weights.bin` is an error instead of
/// an abort allocating whatever its bytes claim (found by fuzzing: 13 bytes that claimed
/// exabytes).
#[derive(Debug, Default, Clone)]
struct WeightsRecorder;

impl<B: Backend> Recorder<B> for WeightsRecorder {
    type Settings = FullPrecisionSettings;
    type RecordArgs = ();
    type RecordOutput = Vec<u8>;
    type LoadArgs = Vec<u8>;

    fn save_item<I: Serialize>(&self, item: I, _: ()) -> Result<Vec<u8>, RecorderError> {
        bincode::serde::encode_to_vec(item, bincode::config::standard())
            .map_err(|e| RecorderError::Unknown(e.to_string()))
    }

    fn load_item<I: DeserializeOwned>(&self, bytes: &mut Vec<u8>) -> Result<I, RecorderError> {
        macro_rules! limited {
            ($n:expr) => {
                bincode::serde::decode_from_slice::<I, _>(
                    bytes,
                    bincode::config::standard().with_limit::<{ $n }>(),
                )
            };
        }
        match bytes.len() {
            n if n <= 1 << 16 => limited!(1 << 20),
            n if n <= 1 << 20 => limited!(1 << 24),
            n if n <= 1 << 24 => limited!(1 << 28),
            n if n <= 1 << 28 => limited!(1 << 32),
            _ => limited!(1 << 36),
        }
        .map(|(v, _)| v)
        .map_err(|e| RecorderError::DeserializeError(e.to_string()))
    }
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

/// `clustering.json`: a fitted clustering and the seed it was fitted with (absent in files
/// written before the seed was recorded: then the training seed, which `cluster DATA
/// --save-model` clusters with).
#[derive(Serialize)]
struct StoredClusteringRef<'a> {
    #[serde(flatten)]
    fitted: &'a Fitted,
    seed: u64,
}

/// [`StoredClusteringRef`] as read back.
#[derive(Deserialize)]
struct StoredClustering {
    #[serde(flatten)]
    fitted: Fitted,
    #[serde(default)]
    seed: Option<u64>,
}

/// `clustering.json`'s bytes: `fitted` and the seed it was fitted with.
fn clustering_bytes(fitted: &Fitted, seed: u64) -> Vec<u8> {
    json_bytes(&StoredClusteringRef { fitted, seed })
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

/// The files vaetool itself writes into a model directory; anything else in one is the user's
/// and survives a retraining.
const OWN_FILES: [&str; 6] = [
    CONFIG,
    "weights.bin",
    "history.csv",
    "summary.json",
    ANOMALY,
    CLUSTERING,
];

/// The files of a model directory that vaetool reads (for refusing an output that would
/// overwrite one).
pub fn own_files(dir: &Path) -> Vec<PathBuf> {
    OWN_FILES.iter().map(|f| dir.join(f)).collect()
}

/// True when `dir` holds a vaetool model: a `config.json` that names a format version and the
/// vaetool that wrote it, and the weights file. A folder that merely has some `config.json`
/// (a project, another tool's model) is not one.
pub fn is_model_dir(dir: &Path) -> bool {
    let Ok(bytes) = std::fs::read(dir.join(CONFIG)) else {
        return false;
    };
    let Ok(serde_json::Value::Object(v)) = serde_json::from_slice::<serde_json::Value>(&bytes)
    else {
        return false;
    };
    v.get("format_version").is_some_and(|f| f.is_u64())
        && v.get("vaetool_version").is_some_and(|f| f.is_string())
        && dir.join("weights.bin").is_file()
}

/// The advisory lock file of a model directory: in a per-user folder of the system's, not
/// beside the model, so that nothing is left in the user's folders even by a killed run
/// (`$XDG_RUNTIME_DIR/vaetool-locks`, else `/tmp/vaetool-locks-UID`), named by a hash of the
/// directory's canonical path.
pub fn lock_path(dir: &Path) -> PathBuf {
    let root = std::env::var_os("XDG_RUNTIME_DIR")
        .map(|d| PathBuf::from(d).join("vaetool-locks"))
        .unwrap_or_else(|| {
            #[cfg(unix)]
            // SAFETY: getuid has no preconditions and cannot fail.
            let uid = unsafe { libc::getuid() };
            #[cfg(not(unix))]
            let uid = 0;
            std::env::temp_dir().join(format!("vaetool-locks-{uid}"))
        });
    let parent = match dir.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    let canonical = parent
        .canonicalize()
        .unwrap_or_else(|_| parent.to_path_buf())
        .join(dir.file_name().unwrap_or_default());
    // FNV-1a: the same name in every vaetool build
    let hash = canonical
        .as_os_str()
        .as_encoded_bytes()
        .iter()
        .fold(0xcbf2_9ce4_8422_2325u64, |h, &b| {
            (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
        });
    root.join(format!("{hash:016x}.lock"))
}

/// The paths a save of a model directory uses: its lock file ([`lock_path`]), the directory
/// the new model is written into, and the place the old model is moved aside to during the
/// swap (both beside the model).
fn siblings(dir: &Path) -> Result<(PathBuf, PathBuf, PathBuf)> {
    let name = dir
        .file_name()
        .filter(|n| *n != "." && *n != "..")
        .ok_or_else(|| {
            VaeError::Usage(format!(
                "{}: name a model directory (for example -o model)",
                dir.display()
            ))
        })?
        .to_string_lossy()
        .into_owned();
    let parent = match dir.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    Ok((
        lock_path(dir),
        parent.join(format!(".{name}.vaetool-new")),
        parent.join(format!(".{name}.vaetool-old")),
    ))
}

/// Finishes or undoes a swap that a killed run left half done: the old model moved aside and
/// no new one in place is moved back; an aside left after a completed swap, and a half-written
/// new model, are removed. Call with the lock held.
fn recover(dir: &Path, new: &Path, old: &Path) -> Result<()> {
    let werr = |path: &Path| {
        let path = path.to_path_buf();
        move |source| VaeError::Write { path, source }
    };
    if old.is_dir() {
        if dir.exists() {
            std::fs::remove_dir_all(old).map_err(werr(old))?;
        } else {
            std::fs::rename(old, dir).map_err(werr(dir))?;
            eprintln!(
                "note: {}: restored the model that an interrupted run had moved aside",
                dir.display()
            );
        }
    }
    if new.is_dir() {
        std::fs::remove_dir_all(new).map_err(werr(new))?;
    }
    Ok(())
}

/// Repairs a model directory that an interrupted save left moved aside (see [`ModelTarget`]),
/// when no other run is writing it. Called before a model is loaded.
pub fn recover_interrupted(dir: &Path) {
    if dir.exists() {
        return;
    }
    let Ok((lock, new, old)) = siblings(dir) else {
        return;
    };
    if !old.is_dir() {
        return;
    }
    if let Ok(Some(_held)) = take_lock(&lock, false) {
        let _ = recover(dir, &new, &old);
    }
}

/// Opens and locks `path` (advisory, exclusive). `Ok(None)` when another process holds it
/// and `wait` is false. Re-opens when the file was replaced between open and lock.
fn take_lock(path: &Path, wait: bool) -> std::io::Result<Option<std::fs::File>> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    loop {
        let f = std::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(path)?;
        if wait {
            f.lock()?;
        } else {
            match f.try_lock() {
                Ok(()) => {}
                Err(std::fs::TryLockError::WouldBlock) => return Ok(None),
                Err(std::fs::TryLockError::Error(e)) => return Err(e),
            }
        }
        // the holder before us may have removed the file after we opened it
        #[cfg(unix)]
        {
            use std::os::unix::fs::MetadataExt;
            let held = f.metadata()?;
            match std::fs::metadata(path) {
                Ok(now) if now.ino() == held.ino() && now.dev() == held.dev() => {}
                _ => continue,
            }
        }
        return Ok(Some(f));
    }
}

/// A claim on a model directory about to be (re)written, taken before any training so that
/// every reason not to write there is known at once:
/// - an advisory lock ([`lock_path`]): a second run writing the same directory fails at once
///   with a clear message instead of one model being silently lost;
/// - an existing path must be an empty folder or a vaetool model ([`is_model_dir`]), never
///   any other folder or file;
/// - a swap a killed run left half done is repaired first.
///
/// [`ModelTarget::save`] writes the new model beside the old one (`.NAME.vaetool-new`), copies
/// in the files the user had put into the old directory, then swaps atomically: the old
/// directory is renamed aside (`.NAME.vaetool-old`), the new one renamed in, and only then is
/// the old one deleted. A kill at any point leaves either the old model or the new one under
/// the name (or the old one aside, put back by the next run).
#[derive(Debug)]
pub struct ModelTarget {
    dir: PathBuf,
    lock_path: PathBuf,
    lock: Option<std::fs::File>,
    new: PathBuf,
    old: PathBuf,
}

impl ModelTarget {
    /// Checks that `dir` may be written and locks it (see the type's documentation).
    pub fn claim(dir: &Path) -> Result<ModelTarget> {
        let (_, new, _) = siblings(dir)?;
        let parent = new.parent().expect("a sibling has a parent");
        if let Some(file) = parent.ancestors().find(|a| a.is_file()) {
            return Err(VaeError::Usage(format!(
                "{}: {} is a file, not a folder; choose another model directory",
                dir.display(),
                file.display()
            )));
        }
        std::fs::create_dir_all(parent).map_err(|source| VaeError::Write {
            path: dir.to_path_buf(),
            source,
        })?;
        // (the lock's name hashes the canonical path, which needs the folder to exist)
        let (lock_path, new, old) = siblings(dir)?;
        let lock = take_lock(&lock_path, false)
            .map_err(|source| VaeError::Write {
                path: lock_path.clone(),
                source,
            })?
            .ok_or_else(|| {
                VaeError::Usage(format!(
                    "{}: another vaetool run is writing this model directory (it holds {}); \
                     wait for it to finish or choose another directory",
                    dir.display(),
                    lock_path.display()
                ))
            })?;
        let target = ModelTarget {
            dir: dir.to_path_buf(),
            lock_path,
            lock: Some(lock),
            new,
            old,
        };
        recover(&target.dir, &target.new, &target.old)?;
        if dir.exists() || dir.is_symlink() {
            if !dir.is_dir() {
                return Err(VaeError::Usage(format!(
                    "{}: exists and is not a folder; refusing to replace it with a model \
                     directory",
                    dir.display()
                )));
            }
            let empty = std::fs::read_dir(dir)
                .map_err(|source| VaeError::Write {
                    path: dir.to_path_buf(),
                    source,
                })?
                .next()
                .is_none();
            if !empty && !is_model_dir(dir) {
                return Err(VaeError::Usage(format!(
                    "{}: exists and is not a vaetool model directory (no config.json with a \
                     format version and weights.bin); refusing to replace it",
                    dir.display()
                )));
            }
        }
        Ok(target)
    }

    /// The directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Writes a complete model directory and swaps it in (see the type's documentation).
    pub fn save<B: Backend>(&self, m: NewModel<'_, B>) -> Result<()> {
        let werr = |path: &Path| {
            let path = path.to_path_buf();
            move |source| VaeError::Write { path, source }
        };
        let t = &self.new;
        if t.exists() {
            std::fs::remove_dir_all(t).map_err(werr(t))?;
        }
        std::fs::create_dir(t).map_err(werr(&self.dir))?;
        crate::output::register_temporary(t);
        let written = (|| -> Result<()> {
            std::fs::write(t.join(CONFIG), json_bytes(m.config)).map_err(werr(&self.dir))?;
            // to bytes, then written here: a full disk is the OS's plain error, not the
            // recorder's debug text
            let bytes = Recorder::<B>::record(&WeightsRecorder, m.model.clone().into_record(), ())
                .map_err(|e| werr(&self.dir)(std::io::Error::other(e.to_string())))?;
            std::fs::write(t.join("weights.bin"), bytes).map_err(werr(&self.dir))?;
            std::fs::write(t.join("history.csv"), history_csv(m.history))
                .map_err(werr(&self.dir))?;
            std::fs::write(t.join("summary.json"), json_bytes(m.summary))
                .map_err(werr(&self.dir))?;
            if let Some(a) = m.anomaly {
                std::fs::write(t.join(ANOMALY), json_bytes(a)).map_err(werr(&self.dir))?;
            }
            if let Some(c) = m.clustering {
                // fitted with the training seed (the clusterer's)
                std::fs::write(t.join(CLUSTERING), clustering_bytes(c, m.config.train.seed))
                    .map_err(werr(&self.dir))?;
            }
            if self.dir.is_dir() {
                // the user's own files (notes, plots) come along into the new model
                for e in std::fs::read_dir(&self.dir).map_err(werr(&self.dir))? {
                    let e = e.map_err(werr(&self.dir))?;
                    let name = e.file_name();
                    if !OWN_FILES.iter().any(|f| name == *f) {
                        copy_tree(&e.path(), &t.join(&name))?;
                    }
                }
            }
            Ok(())
        })();
        if let Err(e) = written {
            let _ = std::fs::remove_dir_all(t);
            crate::output::unregister_temporary(t);
            return Err(e);
        }
        if self.dir.exists() {
            std::fs::rename(&self.dir, &self.old).map_err(werr(&self.dir))?;
            if let Err(source) = std::fs::rename(t, &self.dir) {
                // put the old model back rather than leave nothing under the name
                let _ = std::fs::rename(&self.old, &self.dir);
                return Err(werr(&self.dir)(source));
            }
            crate::output::unregister_temporary(t);
            std::fs::remove_dir_all(&self.old).map_err(werr(&self.old))?;
        } else {
            std::fs::rename(t, &self.dir).map_err(werr(&self.dir))?;
            crate::output::unregister_temporary(t);
        }
        Ok(())
    }
}

impl Drop for ModelTarget {
    fn drop(&mut self) {
        // removed while still held, so a run that opened the old file re-opens (take_lock)
        let _ = std::fs::remove_file(&self.lock_path);
        self.lock.take();
    }
}

/// Copies a file, folder or link of the user's from an old model directory into the new one:
/// hard links where the file system allows them (no data copied), copies elsewhere.
fn copy_tree(from: &Path, to: &Path) -> Result<()> {
    let err = |source| VaeError::Write {
        path: to.to_path_buf(),
        source,
    };
    let meta = std::fs::symlink_metadata(from).map_err(err)?;
    if meta.is_symlink() {
        #[cfg(unix)]
        {
            let target = std::fs::read_link(from).map_err(err)?;
            std::os::unix::fs::symlink(target, to).map_err(err)?;
        }
        #[cfg(not(unix))]
        std::fs::copy(from, to).map(|_| ()).map_err(err)?;
    } else if meta.is_dir() {
        std::fs::create_dir(to).map_err(err)?;
        for e in std::fs::read_dir(from).map_err(err)? {
            let e = e.map_err(err)?;
            copy_tree(&e.path(), &to.join(e.file_name()))?;
        }
    } else if std::fs::hard_link(from, to).is_err() {
        std::fs::copy(from, to).map_err(err)?;
    }
    Ok(())
}

/// Writes a complete model directory at `dir` (see [`ModelTarget`]; claim the target before
/// training to learn of a bad one early).
pub fn save<B: Backend>(dir: &Path, m: NewModel<'_, B>) -> Result<()> {
    ModelTarget::claim(dir)?.save(m)
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

/// Reads `summary.json` (`None` when the directory has none).
pub fn load_summary(dir: &Path) -> Result<Option<Summary>> {
    read_json(dir, "summary.json")
}

/// Loads `config.json` and the weights.
pub fn load<B: Backend>(dir: &Path, device: &B::Device) -> Result<LoadedModel<B>> {
    recover_interrupted(dir);
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
    // sizes from a file: checked before anything is allocated for them
    config.model.check().map_err(|e| {
        model_err(format!(
            "{}: {e} (the file is corrupt or was not written by vaetool)",
            dir.join(CONFIG).display()
        ))
    })?;
    let fresh = config.model.init::<B>(device);
    let expected = fresh.num_params();
    let weights = dir.join(format!("{WEIGHTS}.bin"));
    let corrupt = |why: String| {
        model_err(format!(
            "{}: cannot load the weights (the file is missing, truncated or corrupt): {why}",
            weights.display()
        ))
    };
    let bytes = std::fs::read(&weights).map_err(|e| corrupt(e.to_string()))?;
    // the file must have the skeleton of the configured network before burn decodes it
    // (burn trusts a record's shapes and element types: see crate::skeleton)
    let tokens = Recorder::<B>::record(&SkeletonRecorder, fresh.clone().into_record(), ())
        .map_err(|e| corrupt(e.to_string()))?;
    crate::skeleton::check(&bytes, &tokens).map_err(corrupt)?;
    // burn panics on some corrupt records (a tensor's shape that its data cannot fill): caught
    // here and said as the corrupt file it is, without the panic's own message
    let hook = std::panic::take_hook();
    std::panic::set_hook(Box::new(|_| {}));
    let loaded = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        Recorder::<B>::load(&WeightsRecorder, bytes, device).map(|r| fresh.load_record(r))
    }));
    std::panic::set_hook(hook);
    let model = match loaded {
        Ok(r) => r.map_err(|e| e.to_string()),
        Err(_) => Err("its tensors do not fit the network".to_string()),
    }
    .map_err(corrupt)?;
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

    /// Posterior draws per score with this model: as many as its training-score reference
    /// (`anomaly.json`) was computed with, so that new rows score as the reference did; for a
    /// model without one, [`crate::infer::default_samples`] of its training rows
    /// (`summary.json`), else [`crate::estimator::defaults::MODEL_SAMPLES`]. Never the rows
    /// of the file being scored: a row scores the same in any file, chunk or partition.
    pub fn score_samples(&self) -> Result<usize> {
        self.score_samples_with(self.anomaly()?.as_ref())
    }

    /// [`LoadedModel::score_samples`] with the anomaly state already read.
    pub fn score_samples_with(&self, state: Option<&AnomalyState>) -> Result<usize> {
        if let Some(s) = state {
            return Ok(s.samples.max(1));
        }
        Ok(match load_summary(&self.dir)? {
            Some(s) => crate::infer::default_samples(&self.config.model, s.rows),
            None => crate::estimator::defaults::MODEL_SAMPLES,
        })
    }

    /// The stored clustering.
    pub fn clustering(&self) -> Result<Option<Fitted>> {
        Ok(self.clustering_with_seed()?.map(|(f, _)| f))
    }

    /// The stored clustering and the seed it was fitted with.
    pub fn clustering_with_seed(&self) -> Result<Option<(Fitted, u64)>> {
        let stored: Option<StoredClustering> = read_json(&self.dir, CLUSTERING)?;
        Ok(stored.map(|s| (s.fitted, s.seed.unwrap_or(self.config.train.seed))))
    }

    /// Stores (replaces) the anomaly state.
    pub fn save_anomaly(&self, a: &AnomalyState) -> Result<()> {
        write_atomic(&self.dir.join(ANOMALY), &json_bytes(a))
    }

    /// Stores (replaces) the clustering, fitted with `seed`.
    pub fn save_clustering(&self, c: &Fitted, seed: u64) -> Result<()> {
        write_atomic(&self.dir.join(CLUSTERING), &clustering_bytes(c, seed))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::backend::Cpu;

    #[test]
    fn corrupt_weights_are_an_error_not_a_panic() {
        // found by the fuzzer (fuzz/corpus/modeldir/regression-tensor-shape: the first byte
        // picks weights.bin, the rest replaces it): burn panicked loading it
        let seed = Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz/seed-model");
        let d = tempfile::tempdir().unwrap();
        for f in std::fs::read_dir(&seed).unwrap() {
            let f = f.unwrap();
            std::fs::copy(f.path(), d.path().join(f.file_name())).unwrap();
        }
        assert!(load::<Cpu>(d.path(), &Default::default()).is_ok());
        // and fuzz/corpus/modeldir/regression-huge-length: 13 bytes whose length prefix
        // claimed exabytes, an abort allocating them before the bounded decoder
        for crash in [
            &include_bytes!("../fuzz/corpus/modeldir/regression-tensor-shape")[..],
            &include_bytes!("../fuzz/corpus/modeldir/regression-huge-length")[..],
        ] {
            std::fs::write(d.path().join("weights.bin"), &crash[1..]).unwrap();
            let e = load::<Cpu>(d.path(), &Default::default()).unwrap_err();
            assert!(
                matches!(e, VaeError::Model(_))
                    && e.to_string().contains("cannot load the weights"),
                "{e}"
            );
        }
    }

    #[test]
    fn a_stored_clustering_keeps_its_seed_and_files_without_one_still_read() {
        let moves = crate::augment::ReadMoves {
            shape: crate::data::ImageShape::new(1, 2, 3),
            moves: vec![crate::augment::Move {
                degrees: -2.5,
                dy: 0.25,
                dx: -0.125,
            }],
        };
        let fitted = Fitted::Dec {
            centers: vec![vec![0.5, -1.25], vec![3.0, 0.1]],
            moves: Some(moves.clone()),
        };
        let text = String::from_utf8(clustering_bytes(&fitted, 7)).unwrap();
        assert!(
            text.contains("\"method\": \"dec\"") && text.contains("\"seed\": 7"),
            "{text}"
        );
        let back: StoredClustering = serde_json::from_str(&text).unwrap();
        assert_eq!(back.seed, Some(7));
        let Fitted::Dec { centers, moves: m } = back.fitted else {
            panic!("not DEC")
        };
        assert_eq!(centers, vec![vec![0.5, -1.25], vec![3.0, 0.1]]);
        assert_eq!(m, Some(moves));
        // a DEC clustering written before the moves were stored: images read as they are
        let before: StoredClustering =
            serde_json::from_str(r#"{"method": "dec", "centers": [[1.0], [2.0]], "seed": 3}"#)
                .unwrap();
        assert!(before.fitted.read_moves().is_none());
        assert_eq!(before.fitted.k(), 2);
        // a file written before the seed was recorded: the plain clustering
        let old: StoredClustering =
            serde_json::from_str(&String::from_utf8(json_bytes(&fitted)).unwrap()).unwrap();
        assert_eq!(old.seed, None);
        assert_eq!(old.fitted.k(), 2);
    }
}
