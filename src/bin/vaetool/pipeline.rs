//! Glue shared by the subcommands: reading data, training with a progress display, loading a
//! model and applying its schema, and printing warnings and metrics.

use std::io::IsTerminal;
use std::path::{Path, PathBuf};

use anyhow::Result;
use indicatif::{ProgressBar, ProgressStyle};
use vaetool::anomaly::AnomalyState;
use vaetool::backend::Cpu;
use vaetool::data::image::ImageShape;
use vaetool::data::input;
use vaetool::data::{Prepared, Schema};
use vaetool::device::{resolve_for, score_on, Compute, DeviceRequest, Workload};
use vaetool::estimator::{train_prepared, TrainParams, TrainedModel, Watch};
use vaetool::metrics;
use vaetool::model::{Prior, Vae, VaeConfig};
use vaetool::modeldir::{self, LoadedModel};
use vaetool::train::EpochStats;

use crate::args::{DataArgs, FeatureArgs, Format, TrainArgs};

/// Prints warnings to stderr.
pub fn warn_all(warnings: &[String]) {
    for w in warnings {
        eprintln!("warning: {w}");
    }
}

pub use vaetool::data::input::Input;

/// The input's format: `--format`, else a folder is images, an IDX name is IDX, anything
/// else CSV.
pub fn format_of(d: &DataArgs) -> input::Format {
    input::format_of(&d.data, d.format.map(Format::into))
}

/// Reads DATA (a table or images).
pub fn read(d: &DataArgs) -> Result<Input> {
    read_for(d, None)
}

/// Reads DATA for a model trained on images of `target` (folders are resized and converted
/// to it; IDX images must have it).
pub fn read_for(d: &DataArgs, target: Option<ImageShape>) -> Result<Input> {
    Ok(input::read_input(&d.data, &d.input_options(), target)?)
}

/// Fits the schema on the training input and applies it, printing its warnings.
fn fit_input(input: &Input, d: &DataArgs, f: &FeatureArgs) -> Result<(Schema, Prepared)> {
    let (schema, data) = input::fit_input(input, &d.input_options(), &f.data_options(d))?;
    warn_all(&data.warnings);
    Ok((schema, data))
}

struct Progress {
    bar: Option<ProgressBar>,
    plain: bool,
    epochs: usize,
}

impl Progress {
    fn new(epochs: usize, quiet: bool) -> Self {
        let tty = std::io::stderr().is_terminal();
        let bar = (!quiet && tty).then(|| {
            let b = ProgressBar::new(epochs as u64);
            b.set_style(
                ProgressStyle::with_template(
                    "{spinner} epoch {pos}/{len} [{bar:30}] {msg} (ETA {eta})",
                )
                .expect("valid template")
                .progress_chars("=> "),
            );
            b
        });
        Self {
            bar,
            plain: !quiet && !tty,
            epochs,
        }
    }

    fn update(&mut self, s: &EpochStats) {
        let val = s
            .val_loss
            .map(|v| format!(" val {v:.4}"))
            .unwrap_or_default();
        let msg = format!(
            "loss {:.4} (recon {:.4}, KL {:.4}){val}",
            s.train_loss, s.recon, s.kl
        );
        if let Some(b) = &self.bar {
            b.set_position(s.epoch as u64);
            b.set_message(msg);
        } else if self.plain {
            eprintln!(
                "epoch {}/{}: {msg} [{:.1}s]",
                s.epoch, self.epochs, s.seconds
            );
        }
    }

    fn finish(&self) {
        if let Some(b) = &self.bar {
            b.finish_and_clear();
        }
    }
}

/// What the command line shows of a library fit: warnings and choices always, the plan, a
/// progress display and the result lines unless quiet; the device is the run's.
pub struct CliWatch {
    quiet: bool,
    progress: Option<Progress>,
}

impl CliWatch {
    pub fn new(quiet: bool) -> Self {
        Self {
            quiet,
            progress: None,
        }
    }
}

impl Watch for CliWatch {
    fn warning(&mut self, w: &str) {
        eprintln!("warning: {w}");
    }

    fn info(&mut self, line: &str) {
        if !self.quiet {
            eprintln!("{line}");
        }
    }

    fn note(&mut self, line: &str) {
        eprintln!("{line}");
    }

    fn phase(&mut self, epochs: usize) {
        self.progress = Some(Progress::new(epochs, self.quiet));
    }

    fn epoch(&mut self, e: &EpochStats) {
        if let Some(p) = &mut self.progress {
            p.update(e);
        }
    }

    fn phase_end(&mut self) {
        if let Some(p) = self.progress.take() {
            p.finish();
        }
    }

    fn device(&mut self, req: DeviceRequest, w: Workload) -> vaetool::Result<Compute> {
        compute(req, w).cloned()
    }
}

/// Fits the schema on `input` and trains a plain VAE by the training parameters, with a
/// progress display unless `quiet`.
pub fn train_model(
    input: &Input,
    d: &DataArgs,
    f: &FeatureArgs,
    t: &TrainParams,
    quiet: bool,
) -> Result<TrainedModel> {
    t.check(Prior::Standard)?;
    let (schema, data) = fit_input(input, d, f)?;
    Ok(train_prepared(schema, data, t, &mut CliWatch::new(quiet))?)
}

static COMPUTE: std::sync::OnceLock<Compute> = std::sync::OnceLock::new();
static REQUEST: std::sync::OnceLock<DeviceRequest> = std::sync::OnceLock::new();

/// Checks `--device` at once (a missing driver or `cuda:7` on a one-GPU machine fails before
/// any work) and remembers it; `auto` is decided later, by the work ([`compute`]).
pub fn check_device(t: &TrainArgs) -> Result<()> {
    REQUEST.get_or_init(|| t.device);
    if t.device != DeviceRequest::Auto {
        compute(t.device, Workload::Score { rows: usize::MAX })?;
    }
    Ok(())
}

/// The device of this run, resolved once, for its first workload; `auto` staying on the CPU
/// in a CUDA build says why in one line.
pub fn compute(req: DeviceRequest, w: Workload) -> vaetool::Result<&'static Compute> {
    if let Some(c) = COMPUTE.get() {
        return Ok(c);
    }
    REQUEST.get_or_init(|| req);
    let (c, notice) = resolve_for(req, w)?;
    if let Some(n) = notice {
        eprintln!("note: {n}");
    }
    Ok(COMPUTE.get_or_init(|| c))
}

/// Anomaly scores of the chosen kind, on the run's device (the CPU unless [`compute`] chose
/// another), reproducible for a seed.
pub fn scores_of(
    model: &Vae<Cpu>,
    vae: &VaeConfig,
    x: &vaetool::data::Matrix,
    kind: vaetool::infer::ScoreKind,
    samples: usize,
    seed: u64,
) -> Result<Vec<f64>> {
    let req = REQUEST.get().copied().unwrap_or(DeviceRequest::Cpu);
    let c = compute(req, Workload::Score { rows: x.rows })?;
    Ok(score_on(c, model, vae, x, kind, samples, seed)?)
}

/// The anomaly reference of a freshly trained model: its training rows' scores (the model's
/// default score) on the run's device.
pub fn anomaly_reference(t: &TrainedModel, seed: u64) -> Result<AnomalyState> {
    let req = REQUEST.get().copied().unwrap_or(DeviceRequest::Cpu);
    let c = compute(
        req,
        Workload::Score {
            rows: t.data.x.rows,
        },
    )?;
    Ok(t.anomaly_reference(c, seed)?)
}

/// Refuses an output (`-o`) that would replace one of the command's inputs: the data and its
/// label file, a model directory's files, or other input files.
pub fn guard_output(
    output: Option<&Path>,
    data: Option<&DataArgs>,
    model: Option<&Path>,
    other: &[&Path],
) -> Result<()> {
    let model_files = model.map(modeldir::own_files).unwrap_or_default();
    let mut inputs: Vec<&Path> = data.map(DataArgs::inputs).unwrap_or_default();
    inputs.extend(model_files.iter().map(PathBuf::as_path));
    inputs.extend(other);
    Ok(vaetool::output::check_not_an_input(output, &inputs)?)
}

/// Loads a model directory.
pub fn load(dir: &Path) -> Result<LoadedModel<Cpu>> {
    Ok(modeldir::load::<Cpu>(dir, &Default::default())?)
}

/// True when the output path names a PNG file (a picture rather than CSV).
pub fn wants_png(output: Option<&Path>) -> bool {
    output.is_some_and(|p| p.extension().is_some_and(|e| e.eq_ignore_ascii_case("png")))
}

/// The image shape of an image model; a clear error for a tabular one.
pub fn image_shape(m: &LoadedModel<Cpu>) -> Result<ImageShape> {
    m.config.schema.image.ok_or_else(|| {
        vaetool::VaeError::Usage(format!(
            "{} was trained on a table, not on images: pictures of rows need an image model \
             (write CSV with -o FILE.csv)",
            m.dir.display()
        ))
        .into()
    })
}

/// The image shape to draw with when the output names a PNG (`None` for CSV output); a clear
/// error for a picture asked of a tabular model.
pub fn picture_shape(m: &LoadedModel<Cpu>, output: Option<&Path>) -> Result<Option<ImageShape>> {
    if wants_png(output) {
        Ok(Some(image_shape(m)?))
    } else {
        Ok(None)
    }
}

/// Loads a model directory, reads DATA for it (a folder's images resized to the model's
/// size) and applies the model's schema.
pub fn load_and_prepare(dir: &Path, d: &DataArgs) -> Result<(LoadedModel<Cpu>, Input, Prepared)> {
    let m = load(dir)?;
    let input = read_for(d, m.config.schema.image)?;
    let p = prepare_with(&m.config.schema, &input, d)?;
    Ok((m, input, p))
}

/// Applies a stored schema to the input, printing its warnings; `--id-column`/`--label-column`
/// override the stored ones.
pub fn prepare_with(schema: &Schema, input: &Input, d: &DataArgs) -> Result<Prepared> {
    let p = input::prepare_with(schema, input, &d.input_options())?;
    warn_all(&p.warnings);
    Ok(p)
}

/// Prints ACC, NMI and ARI of a clustering against the labels.
pub fn print_cluster_metrics(labels: &[String], pred: &[usize]) {
    let (truth, _) = metrics::encode_labels(labels);
    eprintln!(
        "against the labels: ACC {:.4}  NMI {:.4}  ARI {:.4}",
        metrics::clustering_accuracy(&truth, pred),
        metrics::nmi(&truth, pred),
        metrics::ari(&truth, pred)
    );
}
