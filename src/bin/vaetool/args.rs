//! Flags shared by several subcommands: how to read the data, and how to train a model.

use std::path::PathBuf;

use clap::{Args, ValueEnum};
use vaetool::data::{DataOptions, ImageShape, Impute, ReadOptions, Scale};
use vaetool::estimator::{defaults, TrainParams};
use vaetool::model::{Arch, Likelihood, Variant};

/// The kind of input file (`--format`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    /// Delimited text with a header row (pixels too, with `--image-shape`).
    Csv,
    /// An IDX file of images (MNIST style).
    Idx,
    /// A folder of PNG/JPEG files (recursive; the sub-folder is the label).
    Images,
}

impl From<Format> for vaetool::data::input::Format {
    fn from(f: Format) -> Self {
        match f {
            Format::Csv => Self::Csv,
            Format::Idx => Self::Idx,
            Format::Images => Self::Images,
        }
    }
}

fn parse_delimiter(s: &str) -> Result<u8, String> {
    match s {
        "\\t" | "tab" => Ok(b'\t'),
        _ if s.len() == 1 && s.is_ascii() => Ok(s.as_bytes()[0]),
        _ => Err(format!(
            "the delimiter must be one ASCII character or 'tab', got '{s}'"
        )),
    }
}

/// Reading the input file.
#[derive(Args, Debug, Clone)]
pub struct DataArgs {
    /// Input: a CSV file (`.csv.gz` is decompressed; `-` reads stdin), an IDX image file
    /// (`*-idx3-ubyte[.gz]`), or a folder of PNG/JPEG images.
    pub data: PathBuf,
    /// The input's kind when its name does not tell: csv, idx or images (a folder).
    #[arg(long, value_enum)]
    pub format: Option<Format>,
    /// IDX label file for IDX images (`*-labels-idx1-ubyte[.gz]`): the label column.
    #[arg(long, value_name = "FILE")]
    pub labels: Option<PathBuf>,
    /// Resize every image of a folder to N×N pixels (otherwise all must share one size).
    #[arg(long, value_name = "N")]
    pub image_size: Option<usize>,
    /// The CSV's feature columns are the pixels of HxW (grayscale) or CxHxW images, channel
    /// first, as values in 0..1 or 0..255 (divided by 255, or by the pixels' common maximum
    /// when at least a quarter of them reach it: 16 for the 8×8 digits). `cluster` assumes
    /// square grayscale images for a table that looks like pixels unless --scale is given.
    #[arg(long, value_name = "SHAPE")]
    pub image_shape: Option<ImageShape>,
    /// The file has no header row (columns are named c0, c1, …).
    #[arg(long)]
    pub no_header: bool,
    /// Field delimiter (one character, or `tab`).
    #[arg(long, default_value = ",", value_parser = parse_delimiter)]
    pub delimiter: u8,
    /// Column passed through to every output as the row id.
    #[arg(long)]
    pub id_column: Option<String>,
    /// Column of true labels: never trained on, used to print metrics.
    #[arg(long)]
    pub label_column: Option<String>,
}

impl DataArgs {
    /// The files this input reads (the data and the label file), for
    /// [`vaetool::output::check_not_an_input`].
    pub fn inputs(&self) -> Vec<&std::path::Path> {
        std::iter::once(self.data.as_path())
            .chain(self.labels.as_deref())
            .collect()
    }

    /// The library's reading options.
    pub fn input_options(&self) -> vaetool::data::input::InputOptions {
        vaetool::data::input::InputOptions {
            format: self.format.map(Format::into),
            labels: self.labels.clone(),
            image_size: self.image_size,
            image_shape: self.image_shape,
            read: self.read_options(),
            id_column: self.id_column.clone(),
            label_column: self.label_column.clone(),
        }
    }

    /// Reading options.
    pub fn read_options(&self) -> ReadOptions {
        ReadOptions {
            has_header: !self.no_header,
            delimiter: self.delimiter,
        }
    }
}

/// Choosing and preprocessing features (used when a model is trained).
#[derive(Args, Debug, Clone)]
pub struct FeatureArgs {
    /// Columns to leave out (comma-separated).
    #[arg(long, value_delimiter = ',')]
    pub exclude: Vec<String>,
    /// Use exactly these columns as features (comma-separated).
    #[arg(long, value_delimiter = ',')]
    pub columns: Option<Vec<String>>,
    /// One-hot encode these text columns (comma-separated).
    #[arg(long, value_delimiter = ',')]
    pub categorical: Vec<String>,
    /// Fill empty/NaN/inf cells with the training mean or median (default: they are errors).
    #[arg(long)]
    pub impute: Option<Impute>,
    /// Feature scaling: auto (the default: shared when the columns share one unit — pixels,
    /// binary indicators, counts on one range —, else standard), standard (each column to
    /// mean 0, deviation 1), shared (each column centred, one pooled deviation for all),
    /// robust (median/IQR), minmax or none. auto measured best on both development
    /// benchmarks (benches/RESULTS.md): anomalies mean ROC-AUC 0.8145 → 0.8284.
    #[arg(long, default_value = "auto")]
    pub scale: Scale,
}

impl FeatureArgs {
    /// Data options for fitting a schema.
    pub fn data_options(&self, d: &DataArgs) -> DataOptions {
        DataOptions {
            id_column: d.id_column.clone(),
            label_column: d.label_column.clone(),
            exclude: self.exclude.clone(),
            columns: self.columns.clone(),
            categorical: self.categorical.clone(),
            impute: self.impute,
            scale: self.scale,
        }
    }
}

/// The network and its training.
#[derive(Args, Debug, Clone)]
pub struct TrainArgs {
    /// Encoder hidden widths, comma-separated (default adapts to the number of inputs).
    #[arg(long, value_delimiter = ',')]
    pub hidden: Option<Vec<usize>>,
    /// Latent dimension (default: about a quarter of the inputs, 2 to 10).
    #[arg(long)]
    pub latent: Option<usize>,
    /// Network: mlp (fully connected, the default) or conv (convolutions; images of 16 to 256
    /// pixels a side). The MLP is the default for images too: on two CPU cores it trains
    /// ~18× faster (0.7 s against 12.5 s an epoch of 10,000 MNIST digits) and, at the budget a
    /// CPU run affords, clusters better (MNIST N2D ACC 0.9458 against 0.7976); on an H200 it
    /// trains 4× faster (benches/RESULTS.md).
    #[arg(long)]
    pub arch: Option<Arch>,
    /// Observation model: gaussian, gaussian-learned or bernoulli (default: bernoulli for
    /// images, except in `anomalies`, which scores images with the gaussian; gaussian for
    /// tables).
    #[arg(long)]
    pub likelihood: Option<Likelihood>,
    /// The VAE family member: vae, poor-man (deterministic encoder + unit noise, loss
    /// Σ(x − x̂)² + ‖z‖₂) or factor (FactorVAE: + γ·total correlation via a discriminator).
    #[arg(long, default_value = "vae")]
    pub variant: Variant,
    /// Weight of the KL term (β-VAE). Default 1, except `cluster --method n2d`: 0.1 (a
    /// sharper latent space for the manifold; MNIST ACC 0.9299 → 0.9458, median of 5 seeds).
    #[arg(long)]
    pub beta: Option<f64>,
    /// β-VAE capacity C_max: train recon + γ·|KL − C| with C rising linearly to C_max (0: off).
    #[arg(long, default_value_t = defaults::CAPACITY)]
    pub capacity: f64,
    /// Epochs over which the capacity rises to C_max (default: all epochs).
    #[arg(long, default_value_t = 0)]
    pub capacity_epochs: usize,
    /// γ of the capacity objective.
    #[arg(long, default_value_t = defaults::GAMMA)]
    pub gamma: f64,
    /// FactorVAE: weight of the total-correlation term.
    #[arg(long, default_value_t = defaults::TC_GAMMA)]
    pub tc_gamma: f64,
    /// FactorVAE: learning rate of the discriminator.
    #[arg(long, default_value_t = defaults::DISC_LR)]
    pub disc_lr: f64,
    /// Leave the highest-loss fraction of each batch out of the gradient (trimmed ELBO; keeps
    /// outliers in the training data from being learned), in [0, 0.5). Default 0, except
    /// `anomalies` on a table it trains on: 0.45.
    #[arg(long)]
    pub trim: Option<f64>,
    /// Epochs over which the KL weight rises from 0 to β.
    #[arg(long, default_value_t = 0)]
    pub kl_warmup: usize,
    /// Adam learning rate.
    #[arg(long, default_value_t = defaults::LR)]
    pub lr: f64,
    /// Training epochs (default: about 8,000 steps, 20 to 1,000 epochs).
    #[arg(long)]
    pub epochs: Option<usize>,
    /// Rows per step (default: a tenth of the rows, a power of two in 16..256).
    #[arg(long)]
    pub batch_size: Option<usize>,
    /// Seed: the same seed gives byte-identical results on the CPU [default: 42]. With
    /// `cluster --model`, a clustering stored with another seed is fitted again with this one.
    #[arg(long)]
    pub seed: Option<u64>,
    /// Fraction of rows held out for early stopping (0 = none).
    #[arg(long, default_value_t = defaults::VAL_FRACTION)]
    pub val_fraction: f64,
    /// Epochs without validation improvement before stopping.
    #[arg(long, default_value_t = defaults::PATIENCE)]
    pub patience: usize,
    /// Maximum gradient norm.
    #[arg(long, default_value_t = defaults::GRAD_CLIP)]
    pub grad_clip: f64,
    /// Where to train and score: auto (a CUDA GPU when this binary has CUDA support and one
    /// is usable, else the CPU), cpu, cuda or cuda:N.
    #[arg(long, default_value = "auto")]
    pub device: vaetool::device::DeviceRequest,
    /// The output variances of a Gaussian model in its anomaly scores: unit (1 for every input,
    /// the likelihood it trains with) or fitted after training (each input's mean squared
    /// reconstruction error on the training rows, floored at a tenth of their mean: an input
    /// the model reconstructs well weighs more). Default: fitted for `anomalies` on images
    /// (one-class Fashion-MNIST mean ROC-AUC 0.9218 against 0.9107, above IsolationForest's
    /// 0.9170; MNIST 0.8956 against 0.9068; medians of 5 seeds), unit otherwise (15 tables:
    /// 0.8226 against 0.8282) — benches/RESULTS.md.
    #[arg(long)]
    pub output_variance: Option<vaetool::estimator::OutputVariance>,
    /// Images: move every training image at random, SHIFT,DEGREES (the largest shift as a
    /// fraction of the image's size, the largest rotation), or none. Default none, except
    /// `cluster` with N2D (the default for images) on at most 5,000 images: 0.1,10, as DEC-DA
    /// (ACC, medians of seeds: 1,000 MNIST digits 0.7770 → 0.8140, the 1,797 8×8 digits
    /// 0.8336 → 0.8759; on 10,000 it costs accuracy; benches/RESULTS.md). Embedding and
    /// scoring read the images as they are; on a table it is an error.
    #[arg(long)]
    pub augment: Option<vaetool::augment::Augment>,
    /// No progress output.
    #[arg(long, short)]
    pub quiet: bool,
}

impl TrainArgs {
    /// `--seed`, or the default when it is not given.
    pub fn seed(&self) -> u64 {
        self.seed.unwrap_or(defaults::SEED)
    }

    /// The library's training parameters these flags name.
    pub fn params(&self) -> TrainParams {
        TrainParams {
            hidden: self.hidden.clone(),
            latent: self.latent,
            arch: self.arch,
            likelihood: self.likelihood,
            variant: self.variant,
            beta: self.beta,
            capacity: self.capacity,
            capacity_epochs: self.capacity_epochs,
            gamma: self.gamma,
            tc_gamma: self.tc_gamma,
            disc_lr: self.disc_lr,
            trim: self.trim,
            kl_warmup: self.kl_warmup,
            lr: self.lr,
            epochs: self.epochs,
            batch_size: self.batch_size,
            seed: self.seed(),
            val_fraction: self.val_fraction,
            patience: self.patience,
            grad_clip: self.grad_clip,
            device: self.device,
            output_variance: self.output_variance,
            augment: self.augment,
        }
    }
}
