//! Estimators: what to train and how, decided once for every front end.
//!
//! The command line and any other front end (a Python package) only parse, print and map
//! errors; the decisions live here:
//! - [`TrainParams`]: the training parameters with the command line's defaults (`None` for
//!   the ones computed from the data), checked once ([`TrainParams::check`]) and resolved
//!   against the data into a [`Plan`] (network sizes, likelihood, epochs, batch size);
//! - [`fit_vae`] / [`fit_one_step`]: training on the chosen device into a [`TrainedModel`],
//!   which saves itself as a model directory;
//! - the defaults of `anomalies` ([`anomaly_training`]) and of `cluster` ([`default_method`],
//!   [`cluster_training`]);
//! - [`AnomalyDetector`] and [`Clusterer`]: fit on a table with the defaults, score or assign
//!   new rows, save and load the same model directories as the command line.

use std::path::Path;

use rand::SeedableRng;
use rand_xoshiro::Xoshiro256PlusPlus;

use crate::anomaly::{
    contamination_threshold, fpr_threshold, reference_scores, AnomalyState, Threshold,
};
use crate::augment::{Augment, ReadMoves};
use crate::backend::Cpu;
use crate::cluster::{Assignment, ClusterMethod, ClusterParams, Fitted, Space};
use crate::data::{DataOptions, Matrix, Prepared, Schema, Table};
use crate::device::{
    resolve_for, score_on, train_on, train_one_step_on, Compute, DeviceRequest, Workload,
};
use crate::infer::{self, ScoreKind};
use crate::model::{
    default_conv_hidden, default_hidden, default_latent, Arch, Likelihood, Prior, Vae, VaeConfig,
    Variant,
};
use crate::modeldir::{self, ModelConfig, ModelTarget, NewModel, Summary};
use crate::onestep::{MixtureInit, OneStepConfig, Phase};
use crate::train::{
    default_batch_size, default_epochs, default_one_step_epochs, EpochStats, TrainConfig, Trained,
};
use crate::{Result, VaeError};

/// The defaults of the parameters that have a fixed default (the command line's flags show
/// the same values).
pub mod defaults {
    /// Adam's learning rate.
    pub const LR: f64 = 1e-3;
    /// The seed.
    pub const SEED: u64 = 42;
    /// Fraction of rows held out for early stopping.
    pub const VAL_FRACTION: f64 = 0.0;
    /// Epochs without validation improvement before stopping.
    pub const PATIENCE: usize = 20;
    /// Maximum gradient norm.
    pub const GRAD_CLIP: f64 = 10.0;
    /// β-VAE capacity C_max (0: off).
    pub const CAPACITY: f64 = 0.0;
    /// γ of the capacity objective.
    pub const GAMMA: f64 = 100.0;
    /// FactorVAE: weight of the total-correlation term.
    pub const TC_GAMMA: f64 = 10.0;
    /// FactorVAE: learning rate of the discriminator.
    pub const DISC_LR: f64 = 1e-4;
    /// Restarts of K-means/GMM (and of VaDE's initial GMM): 30, where 10 left one of five
    /// digits runs in a poorer optimum of the manifold's GMM (digits median ACC 0.8203 →
    /// 0.8503; MNIST and Fashion-MNIST the same on all five seeds; 15 tables 0.7444 → 0.7448,
    /// 3 seeds; benches/RESULTS.md).
    pub const N_INIT: usize = 30;
    /// The range of K tried by `--k auto`.
    pub const K_RANGE: (usize, usize) = (2, 10);
    /// Posterior draws per score with a saved model that records neither its training-score
    /// reference nor its training rows.
    pub const MODEL_SAMPLES: usize = 10;
    /// Fraction of each batch trimmed by default when `anomalies` trains on the table it
    /// scores.
    pub const CONTAMINATED_TRIM: f64 = 0.45;
    /// Epochs by default when `anomalies` trains on the table it scores.
    pub const CONTAMINATED_EPOCHS: usize = 10;
    /// The KL weight of the VAE that N2D clusters unless told: a β below 1 keeps more of each
    /// row in its latent mean, which the manifold's neighbourhoods need (benches/RESULTS.md:
    /// MNIST N2D ACC median 0.9299 at β = 1, 0.9458 at β = 0.1).
    pub const N2D_BETA: f64 = 0.1;
    /// The most images whose training images N2D moves at random unless told
    /// ([`super::cluster_training`]): on few images, which the step budget passes over 400
    /// times or more, training on moved copies clustered better (ACC, medians of seeds: the
    /// 1,797 digits 0.8336 → 0.8759, 1,000 MNIST digits 0.7770 → 0.8140; 5,000 MNIST digits
    /// even, 0.9123 → 0.9146 in mean); on 10,000 they cost accuracy at the same budget (MNIST
    /// 0.9451 → 0.9419; Fashion-MNIST lower on both seeds run, 0.6253 → 0.6138 and 0.6062 →
    /// 0.5757; benches/RESULTS.md).
    pub const AUGMENT_MAX_IMAGES: usize = 5_000;
    /// The fewest images `cluster` refines N2D's clusters of by DEC unless told
    /// ([`super::image_method`]): those whose VAE trained on the images as they are
    /// (above [`AUGMENT_MAX_IMAGES`]). DEC's gain comes from training on moved images (MNIST
    /// 10k seed 1 without the moves: 0.9482 → 0.9491, with them 0.9664); where the VAE has
    /// already trained on moved images it added nothing (medians: 1,000 MNIST digits 0.8140 →
    /// 0.8150, the 8×8 digits 0.8759 → 0.8742) for a quarter more time.
    pub const DEC_MIN_IMAGES: usize = AUGMENT_MAX_IMAGES + 1;
    /// How many fixed moves (drawn from DEC's training moves, the same for every image) DEC
    /// reads each image with besides as it is, assigning it by the mean of its soft
    /// assignments. Five seeds, 0 / 8 / 16 moves: MNIST 10k median ACC 0.9691 / 0.9706 /
    /// 0.9709 (every seed up), Fashion-MNIST t10k 0.5895 / 0.5878 / 0.5878 (three seeds of
    /// five up, the mean over seeds up); 16 has the best mean and mean rank of the two sets'
    /// medians (benches/RESULTS.md, "DEC: images read moved").
    pub const DEC_READ_MOVES: usize = 16;
    /// The widest table (in numeric model inputs) that `cluster` clusters by a GMM on its
    /// scaled inputs unless told ([`super::gaussian_table`]): the widest of the benchmark's
    /// tables on which that GMM beat K-means on the latent means (breast cancer, 30); the
    /// EM's cost grows with the square of the columns (benches/RESULTS.md).
    pub const GMM_INPUTS_MAX_COLUMNS: usize = 30;
    /// The largest share of a column's rows that one value may hold in a table `cluster`
    /// clusters by a GMM on its inputs ([`super::gaussian_table`]): a mixture collapses
    /// components onto such point masses (zeros standing for missing values, binary columns).
    /// On the benchmark the tables where the GMM won have at most 0.19, those where it lost at
    /// least 0.49 (benches/RESULTS.md).
    pub const GMM_INPUTS_MAX_MODE_SHARE: f64 = 0.25;
    /// The most values a numeric column may take in a table that `cluster` clusters by a
    /// latent class model unless told ([`super::discrete_table`]): codes, counts of a few,
    /// answers on a scale. On the benchmark the few-valued tables have at most 7 (soybean's
    /// codes, zoo's legs 6), the others at least 17 (digits, pima).
    pub const LCA_MAX_LEVELS: usize = 10;
}

/// The network and its training, with the command line's defaults. `None` means "computed
/// from the data" (see each field).
#[derive(Debug, Clone, PartialEq)]
pub struct TrainParams {
    /// Encoder hidden widths (default adapts to the number of inputs).
    pub hidden: Option<Vec<usize>>,
    /// Latent dimension (default: about a quarter of the inputs, 2 to 10).
    pub latent: Option<usize>,
    /// The network (default: the MLP, for images too).
    pub arch: Option<Arch>,
    /// Observation model (default: Bernoulli for images, Gaussian otherwise).
    pub likelihood: Option<Likelihood>,
    /// The VAE family member.
    pub variant: Variant,
    /// Weight of the KL term (default 1).
    pub beta: Option<f64>,
    /// β-VAE capacity C_max (0: off).
    pub capacity: f64,
    /// Epochs over which the capacity rises (0: all).
    pub capacity_epochs: usize,
    /// γ of the capacity objective.
    pub gamma: f64,
    /// FactorVAE: weight of the total-correlation term.
    pub tc_gamma: f64,
    /// FactorVAE: learning rate of the discriminator.
    pub disc_lr: f64,
    /// Trimmed fraction of each batch (default 0).
    pub trim: Option<f64>,
    /// Epochs of KL warm-up.
    pub kl_warmup: usize,
    /// Adam's learning rate.
    pub lr: f64,
    /// Epochs (default: about 8,000 steps, 20 to 1,000 epochs).
    pub epochs: Option<usize>,
    /// Rows per step (default: a tenth of the rows, a power of two in 16..256).
    pub batch_size: Option<usize>,
    /// The seed: the same seed gives byte-identical results on the CPU.
    pub seed: u64,
    /// Fraction held out for early stopping (0: none).
    pub val_fraction: f64,
    /// Epochs without validation improvement before stopping.
    pub patience: usize,
    /// Maximum gradient norm.
    pub grad_clip: f64,
    /// Where to train and score.
    pub device: DeviceRequest,
    /// The Gaussian's output variances in the anomaly scores (default: unit, except
    /// `anomalies` on images: fitted, see [`anomaly_training`]).
    pub output_variance: Option<OutputVariance>,
    /// Random shifts and rotations of training images (default: none, except `cluster`'s
    /// N2D on few images: [`Augment::IMAGES`], see [`cluster_training`]); asked for on a
    /// table, an error.
    pub augment: Option<Augment>,
}

/// The output variances of a Gaussian model's anomaly scores (`--output-variance`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OutputVariance {
    /// 1 for every input: the likelihood the model trains with.
    Unit,
    /// Each input's mean squared reconstruction error on the training rows, fitted after
    /// training ([`crate::infer::fitted_output_logvar`]).
    Fitted,
}

impl std::str::FromStr for OutputVariance {
    type Err = String;
    fn from_str(s: &str) -> std::result::Result<Self, String> {
        match s {
            "unit" => Ok(Self::Unit),
            "fitted" => Ok(Self::Fitted),
            _ => Err(format!(
                "unknown output variance '{s}' (expected unit or fitted)"
            )),
        }
    }
}

/// The error for fitted output variances on a likelihood without fixed Gaussian variances.
fn fitted_variance_error(l: Likelihood) -> VaeError {
    VaeError::Usage(format!(
        "--output-variance fitted needs the gaussian likelihood, not {} (gaussian-learned \
         learns its variances; bernoulli has none)",
        l.name()
    ))
}

impl Default for TrainParams {
    fn default() -> Self {
        Self {
            hidden: None,
            latent: None,
            arch: None,
            likelihood: None,
            variant: Variant::Standard,
            beta: None,
            capacity: defaults::CAPACITY,
            capacity_epochs: 0,
            gamma: defaults::GAMMA,
            tc_gamma: defaults::TC_GAMMA,
            disc_lr: defaults::DISC_LR,
            trim: None,
            kl_warmup: 0,
            lr: defaults::LR,
            epochs: None,
            batch_size: None,
            seed: defaults::SEED,
            val_fraction: defaults::VAL_FRACTION,
            patience: defaults::PATIENCE,
            augment: None,
            grad_clip: defaults::GRAD_CLIP,
            device: DeviceRequest::Auto,
            output_variance: None,
        }
    }
}

/// Which default number of epochs a training takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EpochRule {
    /// A plain VAE: about 8,000 steps ([`default_epochs`]).
    Plain,
    /// The clustering phase of VaDE/Su: about 3,000 steps ([`default_one_step_epochs`]).
    OneStep,
}

/// A training resolved against its data: the network and the training settings.
#[derive(Debug, Clone)]
pub struct Plan {
    /// The network.
    pub vae: VaeConfig,
    /// The training settings.
    pub cfg: TrainConfig,
}

impl TrainParams {
    /// The training settings for `epochs` epochs of `batch` rows.
    pub fn train_config(&self, epochs: usize, batch: usize) -> TrainConfig {
        TrainConfig::new(epochs, batch)
            .with_lr(self.lr)
            .with_seed(self.seed)
            .with_val_fraction(self.val_fraction)
            .with_patience(self.patience)
            .with_beta(self.beta.unwrap_or(1.0))
            .with_kl_warmup(self.kl_warmup)
            .with_grad_clip(self.grad_clip)
            .with_capacity(self.capacity)
            .with_capacity_epochs(self.capacity_epochs)
            .with_gamma(self.gamma)
            .with_tc_gamma(self.tc_gamma)
            .with_disc_lr(self.disc_lr)
            .with_trim(self.trim.unwrap_or(0.0))
            .with_augment_shift(self.augment.map_or(0.0, |a| a.shift))
            .with_augment_degrees(self.augment.map_or(0.0, |a| a.degrees))
    }

    /// Checks the parameters and their combinations before any data is read.
    pub fn check(&self, prior: Prior) -> Result<()> {
        let probe = VaeConfig::new(
            1,
            self.hidden.clone().unwrap_or_else(|| vec![1]),
            self.latent.unwrap_or(1),
        )
        .with_likelihood(self.likelihood.unwrap_or(Likelihood::Gaussian))
        .with_prior(prior)
        .with_variant(self.variant);
        // the sizes the parameters name, before any data is read
        probe.check()?;
        match self.likelihood {
            Some(l) if l != Likelihood::Gaussian && self.fitted() => {
                return Err(fitted_variance_error(l))
            }
            _ => {}
        }
        let cfg = self.train_config(self.epochs.unwrap_or(1), self.batch_size.unwrap_or(1));
        cfg.check()?;
        crate::train::check_variant(&probe, &cfg)?;
        Ok(())
    }

    /// Whether the output variances are to be fitted.
    fn fitted(&self) -> bool {
        self.output_variance == Some(OutputVariance::Fitted)
    }

    /// Resolves the defaults against the prepared data (`x`, laid out by `schema`): network
    /// sizes, likelihood, batch size and epochs; checks the result.
    pub fn plan(&self, schema: &Schema, x: &Matrix, prior: Prior, rule: EpochRule) -> Result<Plan> {
        self.check(prior)?;
        let inputs = schema.input_dim();
        let image = schema.image;
        // the MLP also for images: faster and, at the budgets measured, more accurate than the
        // conv VAE on the CPU and faster on a GPU (see --arch)
        let arch = self.arch.unwrap_or(Arch::Mlp);
        let likelihood = self.likelihood.unwrap_or(if image.is_some() {
            Likelihood::Bernoulli
        } else {
            Likelihood::Gaussian
        });
        if likelihood != Likelihood::Gaussian && self.fitted() {
            return Err(fitted_variance_error(likelihood));
        }
        let hidden = self.hidden.clone().unwrap_or_else(|| match arch {
            Arch::Conv => default_conv_hidden(),
            Arch::Mlp => default_hidden(inputs),
        });
        if hidden.contains(&0) {
            return Err(VaeError::Usage("--hidden widths must be at least 1".into()));
        }
        let latent = self.latent.unwrap_or_else(|| default_latent(inputs));
        if latent == 0 {
            return Err(VaeError::Usage("--latent must be at least 1".into()));
        }
        let vae = VaeConfig::new(inputs, hidden, latent)
            .with_likelihood(likelihood)
            .with_prior(prior)
            .with_variant(self.variant)
            .with_arch(arch)
            .with_image(image)
            .with_fitted_variance(self.fitted());
        let batch = self
            .batch_size
            .unwrap_or_else(|| default_batch_size(x.rows));
        let epochs = self.epochs.unwrap_or_else(|| match rule {
            EpochRule::Plain => default_epochs(x.rows, batch),
            EpochRule::OneStep => default_one_step_epochs(x.rows, batch).1,
        });
        let cfg = self.train_config(epochs, batch);
        if image.is_none() && cfg.augment().is_active() {
            return Err(VaeError::Usage(
                "--augment moves training images, and this data is a table (use --image-shape \
                 for a CSV of pixels, or --augment none)"
                    .into(),
            ));
        }
        cfg.check()?;
        crate::train::check_variant(&vae, &cfg)?;
        crate::train::check_inputs(x, &vae)?;
        Ok(Plan { vae, cfg })
    }
}

impl Plan {
    /// One line saying what will be trained on `rows` rows, e.g. "training a VAE on 150 rows
    /// × 4 inputs: mlp network, hidden [64, 32], latent 2, gaussian likelihood, 54 epochs of
    /// batch 16".
    pub fn describe(&self, rows: usize) -> String {
        let (vae, cfg) = (&self.vae, &self.cfg);
        let kind = match vae.prior {
            Prior::Standard => match vae.variant {
                Variant::Standard if cfg.capacity > 0.0 => {
                    format!("a β-VAE (capacity {} nats, γ {})", cfg.capacity, cfg.gamma)
                }
                Variant::Standard => "a VAE".to_string(),
                Variant::PoorMan => "a poor man's VAE".to_string(),
                Variant::Factor => format!("a FactorVAE (TC weight {})", cfg.tc_gamma),
            },
            Prior::Mixture(k) => format!("a VaDE (Gaussian-mixture prior, K={k})"),
            Prior::Su(k) => format!("Su's clustering VAE (K={k})"),
        };
        let what = match vae.image {
            Some(s) => format!("{rows} images of {s}"),
            None => format!("{rows} rows × {} inputs", vae.input_dim),
        };
        format!(
            "training {kind} on {what}: {} network, hidden {:?}, latent {}, {} likelihood{}, {} \
             epochs of batch {}",
            vae.arch.name(),
            vae.hidden,
            vae.latent,
            vae.likelihood.name(),
            if vae.fitted_variance {
                " (output variances fitted after training)"
            } else {
                ""
            },
            cfg.epochs,
            cfg.batch_size
        ) + &match vae.image.filter(|_| cfg.augment().is_active()) {
            Some(_) => format!(", images moved at random ({})", cfg.augment().describe()),
            None => String::new(),
        }
    }
}

/// A freshly trained model with the data it was trained on.
pub struct TrainedModel {
    /// What the model directory's `config.json` holds.
    pub config: ModelConfig,
    /// The network, on the CPU backend.
    pub model: Vae<Cpu>,
    /// One entry per epoch run.
    pub history: Vec<EpochStats>,
    /// The epoch whose weights were kept.
    pub best_epoch: usize,
    /// The training data, prepared.
    pub data: Prepared,
}

impl TrainedModel {
    /// The trained network with its configuration; the output variances fitted on `data` when
    /// the plan says so.
    fn new(plan: Plan, schema: Schema, data: Prepared, mut trained: Trained<Cpu>) -> Self {
        if plan.vae.fitted_variance {
            let device = Default::default();
            let logvar = infer::fitted_output_logvar(&trained.model, &data.x, &device);
            trained.model.set_out_logvar(&logvar, &device);
        }
        TrainedModel {
            config: ModelConfig {
                format_version: modeldir::FORMAT_VERSION,
                vaetool_version: env!("CARGO_PKG_VERSION").to_string(),
                model: plan.vae,
                train: plan.cfg,
                schema,
            },
            model: trained.model,
            history: trained.history,
            best_epoch: trained.best_epoch,
            data,
        }
    }

    /// One line on the finished training, e.g. "trained 54 epochs in 1.2s: loss …".
    pub fn describe(&self) -> Option<String> {
        let last = self.history.last()?;
        Some(format!(
            "trained {} epochs in {:.1}s: loss {:.4} (recon {:.4}, {} {:.4}){}",
            self.history.len(),
            last.seconds,
            last.train_loss,
            last.recon,
            if self.config.model.prior == Prior::Standard {
                "KL"
            } else {
                "prior term"
            },
            last.kl,
            if self.best_epoch != self.history.len() {
                format!("; kept the weights of epoch {}", self.best_epoch)
            } else {
                String::new()
            }
        ))
    }

    /// The anomaly reference of the model: its training rows' scores with the model's
    /// default score, reproducible for `seed`.
    pub fn anomaly_reference(&self, compute: &Compute, seed: u64) -> Result<AnomalyState> {
        let kind = infer::default_score(&self.config.model);
        let samples = infer::default_samples(&self.config.model, self.data.x.rows);
        let s = score_on(
            compute,
            &self.model,
            &self.config.model,
            &self.data.x,
            kind,
            samples,
            seed,
        )?;
        Ok(AnomalyState {
            score: kind,
            samples,
            reference: reference_scores(&s),
            threshold: None,
        })
    }

    /// The training's `summary.json`.
    pub fn summary(&self) -> Summary {
        let last = self.history.last().expect("at least one epoch");
        Summary {
            rows: self.data.x.rows,
            inputs: self.data.x.cols,
            epochs_run: self.history.len(),
            best_epoch: self.best_epoch,
            train_loss: last.train_loss,
            recon: last.recon,
            kl: last.kl,
            val_loss: last.val_loss,
            seconds: last.seconds,
        }
    }

    /// Writes the model directory claimed by `target`.
    pub fn save(
        &self,
        target: &ModelTarget,
        anomaly: Option<&AnomalyState>,
        clustering: Option<&Fitted>,
    ) -> Result<()> {
        target.save(NewModel {
            config: &self.config,
            model: &self.model,
            history: &self.history,
            summary: &self.summary(),
            anomaly,
            clustering,
        })
    }
}

/// A trained network without its training data, as the fitted estimators keep it: enough to
/// score, assign and write a model directory.
struct Kept {
    config: ModelConfig,
    model: Vae<Cpu>,
    history: Vec<EpochStats>,
    summary: Summary,
}

impl Kept {
    fn of(m: TrainedModel) -> Self {
        let summary = m.summary();
        Kept {
            config: m.config,
            model: m.model,
            history: m.history,
            summary,
        }
    }

    /// A model directory: its history and summary kept for a later save.
    fn load(dir: &Path) -> Result<(Self, modeldir::LoadedModel<Cpu>)> {
        let m = modeldir::load::<Cpu>(dir, &Default::default())?;
        let history = modeldir::load_history(dir).unwrap_or_default();
        let summary = modeldir::load_summary(dir)?
            .ok_or_else(|| VaeError::Model(format!("{}: has no summary.json", dir.display())))?;
        let kept = Kept {
            config: m.config.clone(),
            model: m.model.clone(),
            history,
            summary,
        };
        Ok((kept, m))
    }

    fn save(
        &self,
        dir: &Path,
        anomaly: Option<&AnomalyState>,
        clustering: Option<&Fitted>,
    ) -> Result<()> {
        self.save_to(&ModelTarget::claim(dir)?, anomaly, clustering)
    }

    fn save_to(
        &self,
        target: &ModelTarget,
        anomaly: Option<&AnomalyState>,
        clustering: Option<&Fitted>,
    ) -> Result<()> {
        target.save(NewModel {
            config: &self.config,
            model: &self.model,
            history: &self.history,
            summary: &self.summary,
            anomaly,
            clustering,
        })
    }
}

/// Trains a plain VAE by `plan` on the prepared `data` on `compute`, calling `on_epoch` after
/// every epoch.
pub fn fit_vae(
    compute: &Compute,
    plan: Plan,
    schema: Schema,
    data: Prepared,
    on_epoch: &mut dyn FnMut(&EpochStats),
) -> Result<TrainedModel> {
    let trained = train_on(compute, &data.x, &plan.vae, &plan.cfg, on_epoch)?;
    Ok(TrainedModel::new(plan, schema, data, trained))
}

/// The one-step clustering parameters (VaDE, Su).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct OneStepParams {
    /// Pretraining epochs (default: about 6,000 steps).
    pub pretrain_epochs: Option<usize>,
    /// Independent runs; the lowest negative ELBO is kept.
    pub restarts: usize,
    /// Restarts of the initial GMM.
    pub gmm_init: usize,
    /// How the prior starts from the pretrained latents.
    pub init: MixtureInit,
    /// Neighbourhood size of the N2D start.
    pub neighbors: usize,
}

impl Default for OneStepParams {
    fn default() -> Self {
        Self {
            pretrain_epochs: None,
            restarts: 1,
            gmm_init: defaults::N_INIT,
            init: MixtureInit::default(),
            neighbors: crate::manifold::DEFAULT_NEIGHBORS,
        }
    }
}

impl OneStepParams {
    /// The one-step configuration for `plan` on its data of `rows` rows.
    pub fn resolve(&self, plan: &Plan, rows: usize) -> OneStepConfig {
        OneStepConfig {
            pretrain_epochs: self
                .pretrain_epochs
                .unwrap_or_else(|| default_one_step_epochs(rows, plan.cfg.batch_size).0),
            restarts: self.restarts,
            gmm_init: self.gmm_init,
            init: self.init,
            neighbors: self.neighbors,
        }
    }
}

/// A one-step clustering model and the clusters of its training rows.
pub struct OneStepModel {
    /// The trained model.
    pub model: TrainedModel,
    /// Each training row's cluster.
    pub labels: Vec<usize>,
    /// Each training row's cluster probabilities.
    pub probabilities: Matrix,
    /// The mean negative ELBO of every restart.
    pub restart_elbos: Vec<f64>,
    /// The restart kept (lowest negative ELBO).
    pub kept: usize,
    /// Warnings of the run (e.g. an empty cluster).
    pub warnings: Vec<String>,
}

/// Trains a VaDE or Su model by `plan` (pretraining, mixture initialization, restarts).
pub fn fit_one_step(
    compute: &Compute,
    plan: Plan,
    one: &OneStepConfig,
    schema: Schema,
    data: Prepared,
    on_epoch: &mut dyn FnMut(Phase, &EpochStats),
) -> Result<OneStepModel> {
    let r = train_one_step_on(compute, &data.x, &plan.vae, &plan.cfg, one, on_epoch)?;
    Ok(OneStepModel {
        model: TrainedModel::new(plan, schema, data, r.trained),
        labels: r.labels,
        probabilities: r.probabilities,
        restart_elbos: r.restart_elbos,
        kept: r.kept,
        warnings: r.warnings,
    })
}

/// What the data is, as the defaults see it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InputKind {
    /// A table.
    Table,
    /// A CSV table of pixels (`--image-shape`).
    PixelTable,
    /// Images from IDX files or a folder.
    Images,
}

impl InputKind {
    /// What an input read with options `o` is: images, a table of pixels (an image shape), or
    /// a table.
    pub fn of(input: &crate::data::input::Input, o: &crate::data::input::InputOptions) -> Self {
        use crate::data::input::Input;
        match input {
            Input::Images(_) => InputKind::Images,
            Input::Table(_) if o.image_shape.is_some() => InputKind::PixelTable,
            Input::Table(_) => InputKind::Table,
        }
    }

    /// Images, read as such or from a table of pixels.
    pub fn is_images(self) -> bool {
        self != InputKind::Table
    }
}

/// The training parameters of `anomalies`, unless `t` says otherwise:
/// - images (IDX, a folder, a CSV of pixels) score with the unit-variance Gaussian likelihood
///   (squared error) instead of the Bernoulli one: the Bernoulli ELBO rates simple images of
///   other classes (sandals, trousers) as likelier than the training class's own, so the
///   one-class protocol's mean ROC-AUC is 0.7693 on Fashion-MNIST; the Gaussian gives 0.9068,
///   and MNIST 0.8948 → 0.9018 (benches/RESULTS.md, MLP, 20 epochs); and its scores use
///   output variances fitted after training ([`OutputVariance::Fitted`]: each pixel's mean
///   squared error on the training images), which weigh a pixel the class reconstructs well
///   (its empty background) above one it never gets right: Fashion-MNIST 0.9107 → 0.9218,
///   above IsolationForest's 0.9170, at a cost to MNIST (0.9068 → 0.8956, above its 0.8595;
///   medians of 5 seeds); on the 15 tables they measured worse (mean ROC-AUC 0.8282 →
///   0.8226), so tables keep unit variances;
/// - a model that scores the very rows it learns from, outliers included (`contaminated`,
///   read from a CSV): a trimmed ELBO (the worst-fitting 45% of each batch left out of the
///   gradient) and a short run (10 epochs), so that the model learns the bulk of the rows
///   before it can learn the rare ones. Measured on shuttle, cardio and breastw
///   (benches/RESULTS.md, medians of seeds 1–5): mean ROC-AUC 0.9327 → 0.9736 and AP 0.7019 →
///   0.8327 against untrimmed full-length training.
pub fn anomaly_training(t: &TrainParams, kind: InputKind, contaminated: bool) -> TrainParams {
    let mut t = t.clone();
    if kind.is_images() && *t.likelihood.get_or_insert(Likelihood::Gaussian) == Likelihood::Gaussian
    {
        t.output_variance.get_or_insert(OutputVariance::Fitted);
    }
    if contaminated && kind != InputKind::Images {
        if t.capacity == 0.0 {
            t.trim.get_or_insert(defaults::CONTAMINATED_TRIM);
        }
        t.epochs.get_or_insert(defaults::CONTAMINATED_EPOCHS);
    }
    t
}

/// How `cluster` clusters.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    /// K-means on the latent means.
    Kmeans,
    /// A diagonal GMM on the latent means.
    Gmm,
    /// N2D: a GMM on a UMAP manifold of the latent means.
    N2d,
    /// N2D's clusters refined by deep embedded clustering on moved images ([`crate::refine`]):
    /// the encoder and the cluster centres are trained further.
    Dec,
    /// A full-covariance GMM on the scaled inputs (the VAE is trained all the same, for the
    /// saved model): the default for tables of a few continuous columns ([`gaussian_table`]).
    GmmInputs,
    /// A latent class model on the table's columns (the VAE is trained all the same): the
    /// default for tables of categorical and few-valued columns ([`discrete_table`]).
    Lca,
    /// VaDE: a VAE with a Gaussian-mixture prior (one step).
    Vade,
    /// Su's clustering VAE (one step).
    Su,
}

impl std::str::FromStr for Method {
    type Err = String;
    fn from_str(s: &str) -> std::result::Result<Self, String> {
        match s {
            "kmeans" => Ok(Method::Kmeans),
            "gmm" => Ok(Method::Gmm),
            "n2d" => Ok(Method::N2d),
            "dec" => Ok(Method::Dec),
            "gmm-inputs" => Ok(Method::GmmInputs),
            "lca" => Ok(Method::Lca),
            "vade" => Ok(Method::Vade),
            "su" => Ok(Method::Su),
            _ => Err(format!(
                "unknown clustering method '{s}' (expected kmeans, gmm, n2d, dec, gmm-inputs, \
                 lca, vade or su)"
            )),
        }
    }
}

impl Method {
    /// The method that fits a clustering of latent means.
    pub fn of_latent(m: ClusterMethod) -> Self {
        match m {
            ClusterMethod::Kmeans => Method::Kmeans,
            ClusterMethod::Gmm => Method::Gmm,
            ClusterMethod::N2d => Method::N2d,
            ClusterMethod::Dec => Method::Dec,
            ClusterMethod::GmmInputs => Method::GmmInputs,
            ClusterMethod::Lca => Method::Lca,
        }
    }

    /// The clustering this method fits after training (of the latent means, or of the inputs
    /// for [`Method::GmmInputs`]), `None` for the one-step methods.
    pub fn latent(self) -> Option<ClusterMethod> {
        match self {
            Method::Kmeans => Some(ClusterMethod::Kmeans),
            Method::Gmm => Some(ClusterMethod::Gmm),
            Method::N2d => Some(ClusterMethod::N2d),
            Method::Dec => Some(ClusterMethod::Dec),
            Method::GmmInputs => Some(ClusterMethod::GmmInputs),
            Method::Lca => Some(ClusterMethod::Lca),
            Method::Vade | Method::Su => None,
        }
    }

    /// The method's name in messages ("K-means", "VaDE", …).
    pub fn display_name(self) -> &'static str {
        match self {
            Method::Kmeans => "K-means",
            Method::Gmm => "GMM",
            Method::N2d => "N2D",
            Method::Dec => "DEC",
            Method::GmmInputs => "GMM on the inputs",
            Method::Lca => "latent classes",
            Method::Vade => "VaDE",
            Method::Su => "Su",
        }
    }

    /// The prior of a one-step method with `k` clusters (`None` for the latent methods).
    pub fn prior(self, k: usize) -> Option<Prior> {
        match self {
            Method::Vade => Some(Prior::Mixture(k)),
            Method::Su => Some(Prior::Su(k)),
            _ => None,
        }
    }
}

/// The clustering method of `cluster` unless told: N2D for images (IDX, folders, a CSV of
/// pixels: MNIST ACC 0.9451 against 0.7892 for gmm and 0.7281 for kmeans, five seeds), which
/// [`image_method`] refines by DEC on many images, K-means for tables (best of the four on the
/// 16-table benchmark; benches/RESULTS.md) — which [`Clusterer::fit_input`] turns into
/// [`Method::GmmInputs`] for a [`gaussian_table`].
pub fn default_method(kind: InputKind) -> Method {
    if kind.is_images() {
        Method::N2d
    } else {
        Method::Kmeans
    }
}

/// The clustering method of `cluster` for `images` images unless told: N2D's clusters refined
/// by DEC from [`defaults::DEC_MIN_IMAGES`] images (MNIST 10k median ACC 0.9711 against N2D's
/// 0.9451, five seeds; benches/RESULTS.md "DEC after N2D"), N2D alone below.
pub fn image_method(images: usize) -> Method {
    if images >= defaults::DEC_MIN_IMAGES {
        Method::Dec
    } else {
        Method::N2d
    }
}

/// Whether `cluster` clusters a table by a GMM on its scaled inputs `x` unless told: there
/// are [`gaussian_columns`] to cluster.
pub fn gaussian_table(schema: &Schema, x: &Matrix) -> bool {
    gaussian_columns(schema, x).is_some()
}

/// The input columns `cluster` clusters by a GMM unless told, if any: a table's (not images')
/// numeric columns, at most [`defaults::GMM_INPUTS_MAX_COLUMNS`] of them, none but constant
/// ones with one value in more than [`defaults::GMM_INPUTS_MAX_MODE_SHARE`] of the rows (on at
/// most 20,000 rows, evenly spaced); categorical columns, when there are some, are left out
/// of the mixture, and must be fewer than the numeric ones (of which there are at least two).
/// There a full-covariance mixture follows each cluster's shape, which a VAE's latent means
/// lose: iris 0.9667 against 0.8600, diabetes 0.8621 against 0.7103, vowel 0.3101 against
/// 0.2646; penguins (four measurements, an island and a sex) 0.9797 against 0.8081 (ACC,
/// benches/RESULTS.md).
pub fn gaussian_columns(schema: &Schema, x: &Matrix) -> Option<Vec<usize>> {
    if schema.image.is_some() {
        return None;
    }
    let columns = numeric_columns(schema);
    let categorical = schema.features.len() - columns.len();
    let fits = !columns.is_empty()
        && columns.len() <= defaults::GMM_INPUTS_MAX_COLUMNS
        && (categorical == 0 || (columns.len() >= 2 && columns.len() > categorical));
    if !fits {
        return None;
    }
    let numeric = if categorical == 0 {
        std::borrow::Cow::Borrowed(x)
    } else {
        std::borrow::Cow::Owned(x.select_columns(&columns))
    };
    (largest_mode_share(&numeric, 20_000) <= defaults::GMM_INPUTS_MAX_MODE_SHARE).then_some(columns)
}

/// The model inputs of a table's numeric columns (a categorical column is one-hot over several
/// inputs), in order.
pub fn numeric_columns(schema: &Schema) -> Vec<usize> {
    schema
        .features_at()
        .filter(|(_, f)| matches!(f, crate::data::schema::Feature::Numeric { .. }))
        .map(|(at, _)| at)
        .collect()
}

/// Whether `cluster` clusters a table by a latent class model on its columns unless told: a
/// table (not images) whose every column is categorical or numeric with at most
/// [`defaults::LCA_MAX_LEVELS`] values in the prepared rows `x` (indicators, codes, answers on
/// a scale). A mixture of categorical distributions models such columns as they are, where a
/// VAE's latent means and K-means lose the few columns that tell the classes apart: dna
/// 0.9018 against 0.7558, zoo 0.8812 against 0.7624 (ACC, benches/RESULTS.md).
pub fn discrete_table(schema: &Schema, x: &Matrix) -> bool {
    crate::latent_class::variables_of(schema, x, defaults::LCA_MAX_LEVELS).is_ok()
}

/// The largest share of rows that one value holds in any column of `x` that is not constant,
/// on at most `max_rows` evenly spaced rows. (A constant column is no point mass to a mixture:
/// every component sees it alike.)
pub fn largest_mode_share(x: &Matrix, max_rows: usize) -> f64 {
    let step = x.rows.div_ceil(max_rows.max(1)).max(1);
    let rows: Vec<usize> = (0..x.rows).step_by(step).collect();
    if rows.is_empty() {
        return 0.0;
    }
    let mut col = Vec::with_capacity(rows.len());
    (0..x.cols)
        .map(|c| {
            col.clear();
            col.extend(rows.iter().map(|&r| x.data[r * x.cols + c].to_bits()));
            col.sort_unstable();
            let longest = col
                .chunk_by(|a, b| a == b)
                .map(<[u32]>::len)
                .max()
                .unwrap_or(0);
            if longest == rows.len() {
                0.0
            } else {
                longest as f64 / rows.len() as f64
            }
        })
        .fold(0.0, f64::max)
}

/// The clustering a saved model without a stored one gets unless told, as [`Clusterer`]
/// would choose for the prepared rows `x`: N2D for a model of images, a GMM on the inputs for
/// a [`gaussian_table`], a latent class model for a [`discrete_table`], K-means on the latent
/// means otherwise.
pub fn model_default_method(schema: &Schema, x: &Matrix) -> ClusterMethod {
    if schema.image.is_some() {
        ClusterMethod::N2d
    } else if discrete_table(schema, x) {
        ClusterMethod::Lca
    } else if gaussian_table(schema, x) {
        ClusterMethod::GmmInputs
    } else {
        ClusterMethod::Kmeans
    }
}

/// The training parameters of `cluster` by `method`, unless `t` says otherwise; `images` is
/// the number of images when the data are images (`None` for a table): N2D trains with β =
/// [`defaults::N2D_BETA`] and, on at most [`defaults::AUGMENT_MAX_IMAGES`] images, moves
/// each training image at random ([`Augment::IMAGES`]: shifts of up to a tenth of its size,
/// rotations of up to 10°, as DEC-DA).
pub fn cluster_training(t: &TrainParams, method: Method, images: Option<usize>) -> TrainParams {
    let mut t = t.clone();
    if matches!(method, Method::N2d | Method::Dec) {
        t.beta.get_or_insert(defaults::N2D_BETA);
        if images.is_some_and(|n| n <= defaults::AUGMENT_MAX_IMAGES) {
            t.augment.get_or_insert(Augment::IMAGES);
        }
    }
    t
}

/// The number of clusters: fixed, or chosen in a range by the silhouette of K-means on the
/// latent means (`--k auto`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NClusters {
    /// This many clusters.
    Fixed(usize),
    /// The K in `lo..=hi` (lo at least 2) with the highest mean silhouette of K-means on the
    /// latent means ([`crate::cluster::select_k_silhouette`]).
    Auto(usize, usize),
}

impl NClusters {
    /// `--k auto` over the default range [`defaults::K_RANGE`].
    pub fn auto() -> Self {
        NClusters::Auto(defaults::K_RANGE.0, defaults::K_RANGE.1)
    }
}

/// How the latent means are clustered (K-means, GMM, N2D).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LatentClustering {
    /// The number of clusters.
    pub k: NClusters,
    /// The clustering.
    pub method: ClusterMethod,
    /// Restarts of K-means/GMM.
    pub n_init: usize,
    /// The seed.
    pub seed: u64,
    /// N2D: neighbourhood size of the manifold.
    pub neighbors: usize,
}

/// A clustering of latent means, with the (K, silhouette) pairs tried when K was chosen.
pub struct LatentFit {
    /// The fitted clustering.
    pub fitted: Fitted,
    /// Every (K, silhouette) tried by `--k auto`, empty for a fixed K.
    pub tried: Vec<(usize, f64)>,
}

impl LatentClustering {
    /// [`LatentClustering::fit`], telling `watch` the choices it makes (a subsample of rows
    /// for N2D's manifold, K chosen by silhouette).
    pub fn fit_watched(
        &self,
        mu: &Matrix,
        x: &Matrix,
        schema: &Schema,
        watch: &mut dyn Watch,
    ) -> Result<Fitted> {
        if matches!(self.method, ClusterMethod::N2d | ClusterMethod::Dec)
            && mu.rows > crate::cluster::N2D_MAX_FIT_ROWS
        {
            watch.note(&format!(
                "n2d: the manifold is laid out on a random {} of the {} rows; the others are \
                 placed on it like new rows",
                crate::cluster::N2D_MAX_FIT_ROWS,
                mu.rows
            ));
        }
        if self.method == ClusterMethod::GmmInputs
            && x.rows > crate::cluster::GMM_INPUTS_MAX_FIT_ROWS
        {
            watch.note(&format!(
                "gmm-inputs: the mixture is fitted on a random {} of the {} rows; every row is \
                 then assigned to it",
                crate::cluster::GMM_INPUTS_MAX_FIT_ROWS,
                x.rows
            ));
        }
        if self.method == ClusterMethod::Lca && x.rows > crate::cluster::LCA_MAX_FIT_ROWS {
            watch.note(&format!(
                "lca: the latent class model is fitted on a random {} of the {} rows; every row \
                 is then assigned to it",
                crate::cluster::LCA_MAX_FIT_ROWS,
                x.rows
            ));
        }
        let f = self.fit(mu, x, schema)?;
        if !f.tried.is_empty() {
            let list: Vec<String> = f
                .tried
                .iter()
                .map(|(k, v)| format!("K={k}: {v:.3}"))
                .collect();
            watch.note(&format!(
                "--k auto chose K={} by the silhouette of K-means ({})",
                f.fitted.k(),
                list.join(", ")
            ));
        }
        Ok(f.fitted)
    }

    /// The parameters for a fixed `k`.
    fn params(&self, k: usize) -> ClusterParams {
        ClusterParams {
            k,
            method: self.method,
            n_init: self.n_init,
            seed: self.seed,
            neighbors: self.neighbors,
        }
    }

    /// Checks the parameters before any data is read, and K against the `rows` rows of
    /// `source` (`usize::MAX` before the data is read).
    pub fn check(&self, rows: usize, source: &str) -> Result<()> {
        match self.k {
            NClusters::Fixed(k) => self.params(k).check(rows),
            NClusters::Auto(lo, hi) if lo < 2 || hi < lo => Err(VaeError::Usage(format!(
                "--k-range {lo}..{hi}: expected 2 <= A <= B (a silhouette needs two clusters)"
            ))),
            NClusters::Auto(lo, hi) if lo > rows => Err(VaeError::Usage(format!(
                "--k-range {lo}..{hi}: K must be at most the {rows} rows of {source}"
            ))),
            NClusters::Auto(..) => self.params(1).check(usize::MAX),
        }
    }

    /// Clusters the latent means `latents`, or for [`ClusterMethod::GmmInputs`] and
    /// [`ClusterMethod::Lca`] the scaled inputs `inputs` they came from (whose columns
    /// `schema` describes), choosing K first for [`NClusters::Auto`] (on the latent means,
    /// whatever the method).
    pub fn fit(&self, latents: &Matrix, inputs: &Matrix, schema: &Schema) -> Result<LatentFit> {
        let (k, tried) = match self.k {
            NClusters::Fixed(k) => (k, vec![]),
            NClusters::Auto(lo, hi) => {
                crate::cluster::select_k_silhouette(latents, lo..=hi, self.n_init, self.seed)?
            }
        };
        let params = self.params(k);
        params.check(latents.rows)?;
        let fitted = match self.method {
            ClusterMethod::Lca => {
                Fitted::fit_latent_class(inputs, lca_variables(schema, inputs)?, &params)?
            }
            ClusterMethod::GmmInputs => {
                Fitted::fit_gmm_inputs(inputs, gmm_input_columns(schema)?, &params)?
            }
            m => Fitted::fit(
                match m.space() {
                    Space::Latent => latents,
                    Space::Inputs => inputs,
                },
                &params,
            )?,
        };
        Ok(LatentFit { fitted, tried })
    }
}

/// The columns of the prepared rows `x` as a latent class model reads them, or why `--method
/// lca` cannot cluster them (a usage error naming the column).
fn lca_variables(schema: &Schema, x: &Matrix) -> Result<Vec<crate::latent_class::Variable>> {
    crate::latent_class::variables_of(schema, x, defaults::LCA_MAX_LEVELS).map_err(|why| {
        VaeError::Usage(format!(
            "--method lca clusters categorical columns and numeric ones of at most {} values: \
             {why} (--method gmm-inputs or kmeans cluster such data)",
            defaults::LCA_MAX_LEVELS
        ))
    })
}

/// The input columns a GMM on the inputs reads: every column (`None`) of a table without
/// categorical columns or of images, else the numeric ones — a Gaussian does not model a
/// one-hot code — or, when there are none, a usage error.
fn gmm_input_columns(schema: &Schema) -> Result<Option<Vec<usize>>> {
    let numeric = numeric_columns(schema);
    if numeric.len() == schema.features.len() {
        Ok(None)
    } else if numeric.is_empty() {
        Err(VaeError::Usage(
            "--method gmm-inputs clusters the numeric columns, and every column here is \
             categorical (--method lca or kmeans cluster such data)"
                .into(),
        ))
    } else {
        Ok(Some(numeric))
    }
}

/// The prior of a one-step `method` (VaDE, Su) with `k` clusters: a fixed K of at least 2.
pub fn one_step_prior(method: Method, k: NClusters) -> Result<Prior> {
    match k {
        NClusters::Fixed(k) if k >= 2 => method.prior(k).ok_or_else(|| {
            VaeError::Usage(format!(
                "{} clusters the latent means; it has no clustering prior",
                method.display_name()
            ))
        }),
        NClusters::Fixed(k) => Err(VaeError::Usage(format!(
            "--k must be at least 2 for --method vade or su, got {k}"
        ))),
        NClusters::Auto(..) => Err(VaeError::Usage(
            "--k auto works with --method kmeans, gmm or n2d; vade and su need a number".into(),
        )),
    }
}

/// The clustering `first`, or — when it failed and `by_rule` (a GMM on the inputs that
/// [`gaussian_table`] chose, not one asked for) — K-means on the latent means from `kmeans`,
/// with a warning saying why: a default never fails where K-means would not.
fn or_kmeans(
    first: Result<Fitted>,
    by_rule: bool,
    watch: &mut dyn Watch,
    kmeans: impl FnOnce(&mut dyn Watch) -> Result<Fitted>,
) -> Result<Fitted> {
    match first {
        Err(VaeError::Clustering(e)) if by_rule => {
            watch.warning(&format!(
                "{e}: clustered by K-means on the latent means instead"
            ));
            kmeans(watch)
        }
        r => r,
    }
}

/// The rows `fitted` assigns: the latent means `mu`, or the inputs `x` they came from.
pub fn rows_of<'a>(fitted: &Fitted, mu: &'a Matrix, x: &'a Matrix) -> &'a Matrix {
    match fitted.space() {
        Space::Latent => mu,
        Space::Inputs => x,
    }
}

/// The clusters of the prepared inputs `x` by a clustering stored with the VAE `model`
/// (of their latent means, or of `x` itself).
pub fn predict_rows(fitted: &Fitted, model: &Vae<Cpu>, x: &Matrix) -> Result<Assignment> {
    match fitted.space() {
        Space::Latent => predict_embedded(
            fitted,
            model,
            x,
            &infer::embed(model, x, &Default::default()).0,
        ),
        Space::Inputs => fitted.predict(x),
    }
}

/// [`predict_rows`] given the latent means `mu` of `x` already: DEC with stored moves reads
/// each image as it is (`mu`) and moved by each move, and assigns it by the mean of its soft
/// assignments.
pub fn predict_embedded(
    fitted: &Fitted,
    model: &Vae<Cpu>,
    x: &Matrix,
    mu: &Matrix,
) -> Result<Assignment> {
    let Some(moves) = fitted.read_moves() else {
        return fitted.predict(rows_of(fitted, mu, x));
    };
    let mut views = vec![mu.clone()];
    for moved in moves.copies(x)? {
        views.push(infer::embed(model, &moved, &Default::default()).0); // [rows, latent]
    }
    fitted.predict_mean(&views)
}

/// Fits the schema on a table by the data options and prepares it (warnings returned).
fn prepare_table(table: &Table, data: &DataOptions) -> Result<(Schema, Prepared, Vec<String>)> {
    let (schema, mut warnings) = Schema::fit(table, data)?;
    let prepared = schema.transform(table)?;
    warnings.extend(prepared.warnings.iter().cloned());
    Ok((schema, prepared, warnings))
}

/// The quantile threshold of a training-score `reference`: flag the `contamination` fraction
/// of the training rows, or keep a false-positive rate `fpr` on data like them (the (1 − p)
/// quantile either way; `contamination` wins when both are given); `None` without either.
pub fn quantile_threshold(
    reference: &[f64],
    contamination: Option<f64>,
    fpr: Option<f64>,
) -> Result<Option<Threshold>> {
    Ok(match (contamination, fpr) {
        (Some(p), _) => Some(contamination_threshold(reference, p)?),
        (None, Some(p)) => Some(fpr_threshold(reference, p)?),
        (None, None) => None,
    })
}

/// The device of `req` for `w`, the notice dropped (the estimators print nothing).
fn device_for(req: DeviceRequest, w: Workload) -> Result<Compute> {
    Ok(resolve_for(req, w)?.0)
}

/// An anomaly detector with the command line's defaults (`vaetool anomalies DATA`): a VAE
/// trained on the rows it scores (trimmed, short), each row's score its negative ELBO.
///
/// ```
/// use vaetool::data::read_table;
/// use vaetool::estimator::AnomalyDetector;
///
/// let table = read_table(std::path::Path::new("datasets/breastw.csv"), &Default::default())?;
/// let mut detector = AnomalyDetector::default();
/// detector.data.label_column = Some("outlier".into());
/// detector.contamination = Some(0.3);
/// detector.train.seed = 1;
/// let fitted = detector.fit(&table)?;
/// let scores = fitted.score(&table)?;
/// assert_eq!(scores.len(), table.n_rows());
/// // the training rows' scores are the ones `fit` computed
/// assert_eq!(scores, fitted.training_scores());
/// let flagged = fitted.predict(&table)?.iter().filter(|&&a| a).count();
/// assert!(flagged > 150 && flagged < 260, "{flagged}");
/// # Ok::<(), vaetool::VaeError>(())
/// ```
#[derive(Debug, Clone, PartialEq, Default)]
pub struct AnomalyDetector {
    /// Which columns are features and how they are prepared.
    pub data: DataOptions,
    /// The network and its training (the `anomalies` defaults are applied on top:
    /// [`anomaly_training`]).
    pub train: TrainParams,
    /// The score (default: the model's, [`infer::default_score`]).
    pub score: Option<ScoreKind>,
    /// Posterior draws per score (default: [`infer::default_samples`]).
    pub samples: Option<usize>,
    /// The fraction of the training rows flagged: sets the stored threshold.
    pub contamination: Option<f64>,
    /// Or a target false-positive rate on rows like the training rows (the same quantile,
    /// named for clean training data).
    pub fpr: Option<f64>,
    /// Train this many models from consecutive seeds and average each row's percentile among
    /// every model's training scores (default 1: one model).
    pub ensemble: Option<usize>,
}

/// A fitted [`AnomalyDetector`]: the model (or the models of an ensemble), its training-score
/// reference and threshold.
pub struct FittedAnomalyDetector {
    members: Vec<Member>,
    /// One model's stored state; for an ensemble, the score and draws of its models with the
    /// reference and threshold of the combined (percentile) scores.
    state: AnomalyState,
    training_scores: Vec<f64>,
    device: DeviceRequest,
}

/// One model of a fitted detector, with its own training-score reference and seed.
struct Member {
    kept: Kept,
    reference: Vec<f64>,
    seed: u64,
}

/// What a front end sees of a fit, and how it picks the device. Every method does nothing
/// (and the device is chosen silently for each workload) unless the front end says otherwise.
pub trait Watch {
    /// A warning about the data or the result (a constant column, an empty cluster, …).
    fn warning(&mut self, _warning: &str) {}
    /// Progress information: the plan, the phases, the result of a training.
    fn info(&mut self, _line: &str) {}
    /// A choice made for the user (K chosen by silhouette, a subsample, the restart kept).
    fn note(&mut self, _line: &str) {}
    /// A training phase of `epochs` epochs starts.
    fn phase(&mut self, _epochs: usize) {}
    /// An epoch of the current phase finished.
    fn epoch(&mut self, _stats: &EpochStats) {}
    /// The current phase ended (finished or failed).
    fn phase_end(&mut self) {}
    /// The device for a workload.
    fn device(&mut self, request: DeviceRequest, work: Workload) -> Result<Compute> {
        device_for(request, work)
    }
}

/// A [`Watch`] that sees nothing: the estimators' own fits.
pub struct Unwatched;

impl Watch for Unwatched {}

/// Trains a plain VAE by the training parameters `t` on prepared rows (the schema fitted on
/// them), telling `watch` the plan, every epoch and the result.
pub fn train_prepared(
    schema: Schema,
    data: Prepared,
    t: &TrainParams,
    watch: &mut dyn Watch,
) -> Result<TrainedModel> {
    let plan = t.plan(&schema, &data.x, Prior::Standard, EpochRule::Plain)?;
    watch.info(&plan.describe(data.x.rows));
    let compute = watch.device(t.device, Workload::training(&plan.vae, plan.cfg.batch_size))?;
    watch.phase(plan.cfg.epochs);
    let result = fit_vae(&compute, plan, schema, data, &mut |e| watch.epoch(e));
    watch.phase_end();
    let m = result?;
    if let Some(line) = m.describe() {
        watch.info(&line);
    }
    Ok(m)
}

/// Trains a VaDE or Su model with the clustering `prior` by the training parameters `t` and
/// the one-step parameters (pretraining, mixture initialization, restarts) on prepared rows,
/// telling `watch` the plan, each phase and its epochs, and the result.
pub fn train_one_step_prepared(
    schema: Schema,
    data: Prepared,
    t: &TrainParams,
    prior: Prior,
    params: &OneStepParams,
    watch: &mut dyn Watch,
) -> Result<OneStepModel> {
    let plan = t.plan(&schema, &data.x, prior, EpochRule::OneStep)?;
    watch.info(&plan.describe(data.x.rows));
    let one = &params.resolve(&plan, data.x.rows);
    watch.info(&format!(
        "autoencoder pretraining: {} epochs; {} restart(s)",
        one.pretrain_epochs, one.restarts
    ));
    let epochs = plan.cfg.epochs;
    let compute = watch.device(t.device, Workload::training(&plan.vae, plan.cfg.batch_size))?;
    let mut current: Option<Phase> = None;
    let result = fit_one_step(&compute, plan, one, schema, data, &mut |phase, e| {
        if current != Some(phase) {
            if current.is_some() {
                watch.phase_end();
            }
            let (label, n) = match phase {
                Phase::Pretrain(r) => (
                    format!("restart {}/{}: pretraining", r + 1, one.restarts),
                    one.pretrain_epochs,
                ),
                Phase::Train(r) => (
                    format!("restart {}/{}: training", r + 1, one.restarts),
                    epochs,
                ),
            };
            watch.info(&label);
            watch.phase(n);
            current = Some(phase);
        }
        watch.epoch(e);
    });
    if current.is_some() {
        watch.phase_end();
    }
    let r = result?;
    for w in &r.warnings {
        watch.warning(w);
    }
    if one.restarts > 1 {
        let list: Vec<String> = r.restart_elbos.iter().map(|e| format!("{e:.3}")).collect();
        watch.note(&format!(
            "restarts' mean negative ELBO: {}; kept restart {} (lowest)",
            list.join(", "),
            r.kept + 1
        ));
    }
    if let Some(line) = r.model.describe() {
        watch.info(&line);
    }
    Ok(r)
}

impl AnomalyDetector {
    /// Checks the parameters before any data is read.
    pub fn check(&self) -> Result<()> {
        self.train.check(Prior::Standard)?;
        if let Some(p) = self.contamination {
            crate::anomaly::check_contamination(p)?;
        }
        if let Some(p) = self.fpr {
            fpr_threshold(&[0.0], p)?;
        }
        if self.samples == Some(0) {
            return Err(VaeError::Usage("--samples must be at least 1".into()));
        }
        if self.ensemble == Some(0) {
            return Err(VaeError::Usage("--ensemble must be at least 1".into()));
        }
        Ok(())
    }

    /// Trains on `table` (the rows to score, outliers included: trimmed and short, as
    /// `vaetool anomalies DATA`) and scores its rows.
    pub fn fit(&self, table: &Table) -> Result<FittedAnomalyDetector> {
        self.fit_with(table, true)
    }

    /// Trains on known-good rows (`vaetool anomalies DATA --train CLEAN`: the full training,
    /// untrimmed); the threshold is then a quantile of the clean rows' scores (`fpr`).
    pub fn fit_clean(&self, clean: &Table) -> Result<FittedAnomalyDetector> {
        self.fit_with(clean, false)
    }

    fn fit_with(&self, table: &Table, contaminated: bool) -> Result<FittedAnomalyDetector> {
        self.check()?;
        let (schema, data, _) = prepare_table(table, &self.data)?;
        let (fitted, _) =
            self.fit_prepared(schema, data, InputKind::Table, contaminated, &mut Unwatched)?;
        Ok(fitted)
    }

    /// Trains on an input (a table, a table of pixels, images) read with `o`: its rows, or
    /// known-good rows when `clean`. `watch` sees the training. Returns the fitted detector
    /// and the training rows as prepared (ids, labels).
    pub fn fit_input(
        &self,
        input: &crate::data::input::Input,
        o: &crate::data::input::InputOptions,
        clean: bool,
        watch: &mut dyn Watch,
    ) -> Result<(FittedAnomalyDetector, Prepared)> {
        self.check()?;
        let (schema, data) = crate::data::input::fit_input(input, o, &self.data)?;
        for w in &data.warnings {
            watch.warning(w);
        }
        self.fit_prepared(schema, data, InputKind::of(input, o), !clean, watch)
    }

    fn fit_prepared(
        &self,
        schema: Schema,
        data: Prepared,
        kind: InputKind,
        contaminated: bool,
        watch: &mut dyn Watch,
    ) -> Result<(FittedAnomalyDetector, Prepared)> {
        let t = anomaly_training(&self.train, kind, contaminated);
        // the score is checked on the network the plan describes, before any training
        let probe = t.plan(&schema, &data.x, Prior::Standard, EpochRule::Plain)?;
        let score = self
            .score
            .unwrap_or_else(|| infer::default_score(&probe.vae));
        infer::check_score(&probe.vae, score)?;
        let n = self.ensemble.unwrap_or(1).max(1);
        let (mut members, mut scores) = (Vec::with_capacity(n), Vec::with_capacity(n));
        let mut training = None;
        let mut samples = 0;
        for i in 0..n {
            let mut ti = t.clone();
            ti.seed = t.seed.wrapping_add(i as u64);
            if n > 1 {
                watch.info(&format!("ensemble model {}/{n} (seed {})", i + 1, ti.seed));
            }
            let m = train_prepared(schema.clone(), data.clone(), &ti, watch)?;
            samples = self
                .samples
                .unwrap_or_else(|| infer::default_samples(&m.config.model, m.data.x.rows));
            let compute = watch.device(
                ti.device,
                Workload::Score {
                    rows: m.data.x.rows,
                },
            )?;
            let s = score_on(
                &compute,
                &m.model,
                &m.config.model,
                &m.data.x,
                score,
                samples,
                ti.seed,
            )?;
            if training.is_none() {
                training = Some(m.data.clone());
            }
            members.push(Member {
                kept: Kept::of(m),
                reference: reference_scores(&s),
                seed: ti.seed,
            });
            scores.push(s);
        }
        let training_scores = if n == 1 {
            scores.pop().expect("one model")
        } else {
            let refs: Vec<Vec<f64>> = members.iter().map(|m| m.reference.clone()).collect();
            crate::anomaly::ensemble_scores(&scores, &refs)
        };
        let reference = if n == 1 {
            members[0].reference.clone()
        } else {
            reference_scores(&training_scores)
        };
        let threshold = quantile_threshold(&reference, self.contamination, self.fpr)?;
        let fitted = FittedAnomalyDetector {
            members,
            state: AnomalyState {
                score,
                samples,
                reference,
                threshold,
            },
            training_scores,
            device: t.device,
        };
        Ok((fitted, training.expect("at least one model")))
    }
}

impl FittedAnomalyDetector {
    /// The training rows' scores, as `fit` computed them (higher: more anomalous; for an
    /// ensemble, mean percentiles in [0, 1]).
    pub fn training_scores(&self) -> &[f64] {
        &self.training_scores
    }

    /// The stored threshold: rows scoring above it are anomalies.
    pub fn threshold(&self) -> Option<f64> {
        self.state.threshold.map(|t| t.value)
    }

    /// The stored threshold, with how it was set.
    pub fn threshold_info(&self) -> Option<Threshold> {
        self.state.threshold
    }

    /// The score the detector computes (for an ensemble, each model's).
    pub fn score_kind(&self) -> ScoreKind {
        self.state.score
    }

    /// The schema the model reads its columns by.
    pub fn schema(&self) -> &Schema {
        &self.members[0].kept.config.schema
    }

    /// The (first) model's network, on the CPU.
    pub fn network(&self) -> &Vae<Cpu> {
        &self.members[0].kept.model
    }

    /// The (first) model's configuration (`config.json`).
    pub fn config(&self) -> &ModelConfig {
        &self.members[0].kept.config
    }

    /// Scores the rows of `table` (its columns checked against the schema), reproducible for
    /// the training seed.
    pub fn score(&self, table: &Table) -> Result<Vec<f64>> {
        let p = self.schema().transform(table)?;
        self.score_prepared(&p.x)
    }

    /// Scores an input: a table (its columns checked against the schema), or images of the
    /// model's shape.
    pub fn score_input(&self, input: &crate::data::input::Input) -> Result<Vec<f64>> {
        let p = crate::data::input::prepare_with(self.schema(), input, &Default::default())?;
        self.score_prepared(&p.x)
    }

    /// Scores rows already prepared by the schema (an ensemble: each row's mean percentile
    /// among its models' training scores).
    pub fn score_prepared(&self, x: &Matrix) -> Result<Vec<f64>> {
        let compute = device_for(self.device, Workload::Score { rows: x.rows })?;
        let mut scores = Vec::with_capacity(self.members.len());
        for m in &self.members {
            scores.push(score_on(
                &compute,
                &m.kept.model,
                &m.kept.config.model,
                x,
                self.state.score,
                self.state.samples,
                m.seed,
            )?);
        }
        if scores.len() == 1 {
            return Ok(scores.pop().expect("one model"));
        }
        let refs: Vec<Vec<f64>> = self.members.iter().map(|m| m.reference.clone()).collect();
        Ok(crate::anomaly::ensemble_scores(&scores, &refs))
    }

    /// Whether each row of `table` is an anomaly (scores above the threshold); an error when
    /// no threshold is set (fit with a contamination).
    pub fn predict(&self, table: &Table) -> Result<Vec<bool>> {
        let t = self.threshold().ok_or_else(|| {
            VaeError::Usage(
                "no threshold: fit with a contamination to flag rows (or compare the scores \
                 with a threshold of your own)"
                    .into(),
            )
        })?;
        Ok(self.score(table)?.into_iter().map(|s| s > t).collect())
    }

    /// Writes the model directory (the command line's format): `vaetool anomalies DATA
    /// --model DIR` then scores with it. An ensemble is several models: an error.
    pub fn save(&self, dir: &Path) -> Result<()> {
        self.save_to(&ModelTarget::claim(dir)?)
    }

    /// [`FittedAnomalyDetector::save`] into a target claimed before training.
    pub fn save_to(&self, target: &ModelTarget) -> Result<()> {
        if self.members.len() > 1 {
            return Err(VaeError::Usage(format!(
                "an ensemble of {} models is not one model directory: fit one model \
                 (ensemble 1) to save it",
                self.members.len()
            )));
        }
        self.members[0]
            .kept
            .save_to(target, Some(&self.state), None)
    }

    /// Loads a model directory written by [`FittedAnomalyDetector::save`] or the command
    /// line; scores are then reproducible for `seed` (the command line's `--seed`).
    pub fn load(dir: &Path, seed: u64) -> Result<Self> {
        let (kept, m) = Kept::load(dir)?;
        let state = m.anomaly()?.ok_or_else(|| {
            VaeError::Model(format!(
                "{}: has no training-score reference (anomaly.json)",
                dir.display()
            ))
        })?;
        Ok(Self {
            members: vec![Member {
                kept,
                reference: state.reference.clone(),
                seed,
            }],
            state,
            training_scores: vec![],
            device: DeviceRequest::Auto,
        })
    }
}

/// What `vaetool cluster DATA --model DIR` asks of a saved model: its clusters for new rows —
/// by its clustering prior (VaDE, Su) or by the clustering stored with it, fitted again on the
/// rows' latent means (and stored) when the request differs from the stored one.
#[derive(Debug, Clone, PartialEq)]
pub struct ModelClustering {
    /// The number of clusters asked for (`None`: the stored one).
    pub k: Option<NClusters>,
    /// The method asked for (`None`: the stored one, or the model's prior).
    pub method: Option<Method>,
    /// Restarts of a refit.
    pub n_init: usize,
    /// N2D: neighbourhood size of the manifold.
    pub neighbors: usize,
    /// The seed asked for: a stored clustering fitted with another seed is refitted with
    /// this one (`None`: any stored clustering serves; a refit uses [`defaults::SEED`]).
    pub seed: Option<u64>,
}

/// The clusters of rows assigned with a saved model.
pub struct ModelAssignment {
    /// Each row's cluster (and probabilities, for GMM, N2D, VaDE, Su).
    pub assignment: Assignment,
    /// The number of clusters.
    pub k: usize,
    /// The method's name in messages.
    pub name: &'static str,
    /// The rows, as the model's schema prepared them.
    pub prepared: Prepared,
}

impl ModelClustering {
    /// Whether `stored` (fitted with `stored_seed`) answers this request. DEC's clusters were
    /// trained with the network, so no seed refits them (`watch` hears so).
    fn same_request(&self, stored: &Fitted, stored_seed: u64, watch: &mut dyn Watch) -> bool {
        let k_ok = match self.k {
            None => true,
            Some(NClusters::Fixed(k)) => k == stored.k(),
            Some(NClusters::Auto(..)) => false,
        };
        let neighbors_ok = match stored {
            Fitted::N2d { umap, .. } => umap.n_neighbors == self.neighbors,
            _ => true,
        };
        let method_ok = self
            .method
            .is_none_or(|m| m.latent() == Some(stored.method()));
        if !(k_ok && neighbors_ok && method_ok) {
            return false;
        }
        match self.seed {
            Some(s) if s != stored_seed => {
                let dec = matches!(stored, Fitted::Dec { .. });
                if dec {
                    watch.note(&format!(
                        "the stored DEC clustering was trained with the network (seed \
                         {stored_seed}); --seed {s} does not refit it"
                    ));
                }
                dec
            }
            _ => true,
        }
    }

    /// Assigns the rows of `input` (read with `o`) with the model in `dir`, loaded as `m`;
    /// `watch` hears of a refit and where it was stored.
    pub fn assign(
        &self,
        m: &modeldir::LoadedModel<Cpu>,
        input: &crate::data::input::Input,
        o: &crate::data::input::InputOptions,
        watch: &mut dyn Watch,
    ) -> Result<ModelAssignment> {
        let dir = &m.dir;
        let p = crate::data::input::prepare_with(&m.config.schema, input, o)?;
        for w in &p.warnings {
            watch.warning(w);
        }
        let device = Default::default();
        let prior = m.config.model.prior;
        let one_step = match self.method {
            Some(Method::Vade | Method::Su) => true,
            Some(_) => false,
            None => prior != Prior::Standard,
        };
        if one_step {
            let wanted = self.method.unwrap_or(if matches!(prior, Prior::Su(_)) {
                Method::Su
            } else {
                Method::Vade
            });
            let fits = matches!(
                (wanted, prior),
                (Method::Vade, Prior::Mixture(_)) | (Method::Su, Prior::Su(_))
            );
            if !fits {
                let flag = if wanted == Method::Vade { "vade" } else { "su" };
                return Err(VaeError::Model(format!(
                    "{}: this model was trained without {} (--method {flag} needs one); train \
                     one with `vaetool cluster DATA --method {flag} --k K --save-model DIR`",
                    dir.display(),
                    if wanted == Method::Vade {
                        "a Gaussian-mixture prior"
                    } else {
                        "Su's clustering prior"
                    },
                )));
            }
            let k = prior.k().expect("clustering prior");
            if let Some(NClusters::Fixed(kk)) = self.k {
                if kk != k {
                    return Err(VaeError::Usage(format!(
                        "{}: the model's prior has K={k} clusters, not --k {kk}",
                        dir.display()
                    )));
                }
            }
            let probabilities =
                infer::cluster_probabilities(&m.model, &p.x, &device).expect("clustering prior");
            return Ok(ModelAssignment {
                assignment: Assignment {
                    labels: crate::onestep::argmax_rows(&probabilities),
                    probabilities: Some(probabilities),
                },
                k,
                name: wanted.display_name(),
                prepared: p,
            });
        }
        let (mu, _) = infer::embed(&m.model, &p.x, &device);
        let seed = self.seed.unwrap_or(defaults::SEED);
        let fitted = match m.clustering_with_seed()? {
            Some((stored, stored_seed)) if self.same_request(&stored, stored_seed, watch) => stored,
            stored => {
                let stored = stored.map(|(f, _)| f);
                // without a method, a refit (another K, neighbourhood or seed) keeps the
                // stored one;
                // a model without one is clustered as `cluster DATA` would cluster its data
                let (method, by_rule) = match self
                    .method
                    .and_then(Method::latent)
                    .or(stored.as_ref().map(Fitted::method))
                {
                    Some(method) => (method, false),
                    None => {
                        let method = model_default_method(&m.config.schema, &p.x);
                        let what = match method {
                            ClusterMethod::N2d => Some(("images".to_string(), "n2d")),
                            ClusterMethod::GmmInputs => Some((
                                format!(
                                    "{} numeric columns",
                                    numeric_columns(&m.config.schema).len()
                                ),
                                "gmm-inputs",
                            )),
                            ClusterMethod::Lca => Some((
                                format!(
                                    "{} categorical or few-valued columns",
                                    m.config.schema.features.len()
                                ),
                                "lca",
                            )),
                            _ => None,
                        };
                        if let Some((data, flag)) = what {
                            watch.note(&format!(
                                "{}: a model of {data}: clustered by {} (--method {flag}), as \
                                 `vaetool cluster` clusters such data (--method kmeans for \
                                 K-means on the latent means)",
                                dir.display(),
                                Method::of_latent(method).display_name(),
                            ));
                        }
                        (method, method.space() == Space::Inputs)
                    }
                };
                // a refit for another seed or neighbourhood keeps the stored K
                let k = self.k.or(stored.as_ref().map(|f| NClusters::Fixed(f.k())));
                let k = k.ok_or_else(|| {
                    VaeError::Usage(
                        "--k is required (a number of clusters, or auto) unless --model has a \
                         stored clustering"
                            .into(),
                    )
                })?;
                let clustering = |method| LatentClustering {
                    k,
                    method,
                    n_init: self.n_init,
                    seed,
                    neighbors: self.neighbors,
                };
                let schema = &m.config.schema;
                let first = clustering(method).fit_watched(&mu, &p.x, schema, watch);
                let f = or_kmeans(first, by_rule, watch, |w| {
                    clustering(ClusterMethod::Kmeans).fit_watched(&mu, &p.x, schema, w)
                })?;
                m.save_clustering(&f, seed)?;
                watch.note(&format!(
                    "{} {}",
                    if stored.is_some() {
                        "replaced the clustering stored in"
                    } else {
                        "stored the clustering in"
                    },
                    dir.display()
                ));
                f
            }
        };
        Ok(ModelAssignment {
            assignment: predict_embedded(&fitted, &m.model, &p.x, &mu)?,
            k: fitted.k(),
            name: Method::of_latent(fitted.method()).display_name(),
            prepared: p,
        })
    }
}

/// `--explain K` names the K columns behind each score: a model of images read from IDX files
/// or folders has none, and K is at most the number of feature columns.
pub fn check_explain(schema: &Schema, k: usize) -> Result<()> {
    if schema.image.is_some() && schema.features.is_empty() {
        return Err(VaeError::Usage(
            "--explain names the columns behind a score; a model of images read from IDX files \
             or a folder has pixels, not columns"
                .into(),
        ));
    }
    let n = schema.features.len();
    if k > n {
        return Err(VaeError::Usage(format!(
            "--explain {k} is larger than the number of feature columns ({n})"
        )));
    }
    Ok(())
}

/// What `vaetool anomalies DATA --model DIR` asks of a saved model: the score, the draws, the
/// threshold — an absolute one, a quantile of the stored training-score reference (then
/// stored in the model for later runs), or the stored one — and the explanations.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ModelScoring {
    /// The score (default: the model's).
    pub score: Option<ScoreKind>,
    /// Posterior draws (default: [`modeldir::LoadedModel::score_samples`]).
    pub samples: Option<usize>,
    /// An absolute threshold for this run.
    pub threshold: Option<f64>,
    /// A contamination rate: the threshold at that quantile of the stored reference.
    pub contamination: Option<f64>,
    /// Or a false-positive rate (the same quantile).
    pub fpr: Option<f64>,
    /// The number of columns that explain each score.
    pub explain: Option<usize>,
}

/// How a saved model scores: [`ModelScoring::resolve`]'s answer.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ResolvedScoring {
    /// The score.
    pub score: ScoreKind,
    /// Posterior draws per score.
    pub samples: usize,
    /// The threshold rows are flagged by, if any.
    pub threshold: Option<Threshold>,
}

impl ModelScoring {
    /// Resolves the score, draws and threshold of the model `m` (storing a quantile threshold
    /// when asked, which `watch` hears of) after checking the request against the model.
    pub fn resolve(
        &self,
        m: &modeldir::LoadedModel<Cpu>,
        watch: &mut dyn Watch,
    ) -> Result<ResolvedScoring> {
        let dir = &m.dir;
        let score = self
            .score
            .unwrap_or_else(|| infer::default_score(&m.config.model));
        infer::check_score(&m.config.model, score)?;
        if let Some(k) = self.explain {
            check_explain(&m.config.schema, k)?;
        }
        let mut state = m.anomaly()?;
        let samples = match self.samples {
            Some(n) => n,
            None => m.score_samples_with(state.as_ref())?,
        };
        let threshold = if let Some(value) = self.threshold {
            Some(Threshold {
                value,
                source: crate::anomaly::ThresholdSource::Absolute,
            })
        } else if self.contamination.is_some() || self.fpr.is_some() {
            let s = state.as_mut().ok_or_else(|| {
                VaeError::Model(format!(
                    "{}: has no training-score reference (anomaly.json); retrain it with \
                     vaetool train",
                    dir.display()
                ))
            })?;
            if s.score != score {
                return Err(VaeError::Usage(format!(
                    "{}: the training-score reference was computed with --score {}; a \
                     quantile threshold needs the same score (or use --threshold)",
                    dir.display(),
                    s.score.name()
                )));
            }
            let t = quantile_threshold(&s.reference, self.contamination, self.fpr)?;
            s.threshold = t;
            m.save_anomaly(s)?;
            watch.note(&format!("stored the threshold in {}", dir.display()));
            t
        } else {
            match state {
                Some(s) if s.threshold.is_some() && s.score != score => {
                    watch.warning(&format!(
                        "the stored threshold is for --score {}; rows are not flagged",
                        s.score.name()
                    ));
                    None
                }
                Some(s) => s.threshold,
                None => None,
            }
        };
        Ok(ResolvedScoring {
            score,
            samples,
            threshold,
        })
    }
}

/// A clusterer with the command line's defaults (`vaetool cluster DATA --k K`): a VAE, then
/// K-means on the latent means (tables), or the method named: GMM, N2D, or one step with VaDE
/// or Su's clustering VAE.
///
/// ```
/// use vaetool::data::read_table;
/// use vaetool::estimator::Clusterer;
///
/// let table = read_table(std::path::Path::new("datasets/iris.csv"), &Default::default())?;
/// let mut clusterer = Clusterer::new(3);
/// clusterer.data.label_column = Some("species".into());
/// clusterer.train.epochs = Some(60);
/// let fitted = clusterer.fit(&table)?;
/// let labels = fitted.predict(&table)?;
/// assert_eq!(labels.len(), 150);
/// assert_eq!(labels, fitted.training_labels());
/// # Ok::<(), vaetool::VaeError>(())
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct Clusterer {
    /// The number of clusters.
    pub k: NClusters,
    /// The method (default: [`default_method`] of the input: K-means for a table, a GMM on
    /// the inputs for a [`gaussian_table`], [`image_method`] for images).
    pub method: Option<Method>,
    /// Restarts of K-means/GMM (and of VaDE's initial GMM).
    pub n_init: usize,
    /// N2D: neighbourhood size of the manifold.
    pub neighbors: usize,
    /// VaDE/Su: pretraining, restarts and the start of the prior (`pretrain_epochs`,
    /// `restarts`, `init`; `gmm_init` and `neighbors` are taken from `n_init` and `neighbors`).
    pub one_step: OneStepParams,
    /// Which columns are features and how they are prepared.
    pub data: DataOptions,
    /// The network and its training ([`cluster_training`] applied on top).
    pub train: TrainParams,
}

/// A fitted [`Clusterer`]: the model and the clustering of its latent means.
pub struct FittedClusterer {
    kept: Kept,
    /// The clustering of the latent means; `None` for VaDE/Su, whose prior holds the clusters.
    fitted: Option<Fitted>,
    training: Assignment,
    /// The training rows' anomaly scores, saved with the model (`anomaly.json`), if computed.
    anomaly: Option<AnomalyState>,
}

/// What a clusterer's fit does with the model's anomaly reference — its training rows' scores,
/// which `vaetool anomalies --model` needs —: skip it, keep it for a later save, or save the
/// model with it at once.
pub enum Reference<'a> {
    /// Not computed: a later save writes no `anomaly.json`.
    Skip,
    /// Computed and kept for [`FittedClusterer::save`].
    Keep,
    /// Computed and saved, with the model, into the target.
    SaveTo(&'a ModelTarget),
}

impl Clusterer {
    /// A clusterer of `k` clusters with the defaults.
    pub fn new(k: usize) -> Self {
        Self::with_k(NClusters::Fixed(k))
    }

    /// A clusterer with the defaults, K fixed or chosen by silhouette.
    pub fn with_k(k: NClusters) -> Self {
        Self {
            k,
            method: None,
            n_init: defaults::N_INIT,
            neighbors: crate::manifold::DEFAULT_NEIGHBORS,
            one_step: OneStepParams::default(),
            data: DataOptions::default(),
            train: TrainParams::default(),
        }
    }

    fn method(&self) -> Method {
        self.method.unwrap_or(default_method(InputKind::Table))
    }

    fn latent_clustering(&self, latent: ClusterMethod) -> LatentClustering {
        LatentClustering {
            k: self.k,
            method: latent,
            n_init: self.n_init,
            seed: self.train.seed,
            neighbors: self.neighbors,
        }
    }

    /// The prior of a one-step method (VaDE, Su) with a fixed K of at least 2.
    fn one_step_prior(&self, method: Method) -> Result<Prior> {
        one_step_prior(method, self.k)
    }

    /// Checks the parameters before any data is read.
    pub fn check(&self) -> Result<()> {
        let method = self.method();
        match method.latent() {
            Some(latent) => {
                cluster_training(&self.train, method, None).check(Prior::Standard)?;
                self.latent_clustering(latent).check(usize::MAX, "")
            }
            None => {
                let prior = self.one_step_prior(method)?;
                self.train.check(prior)
            }
        }
    }

    /// Trains on `table` and clusters its rows: a VAE and a clustering of its latent means,
    /// or a one-step model (VaDE, Su) whose prior holds the clusters. A table that looks like
    /// pixels is clustered as images, as by [`Clusterer::fit_input`].
    pub fn fit(&self, table: &Table) -> Result<FittedClusterer> {
        let input = crate::data::input::Input::Table(table.clone());
        let o = crate::data::input::InputOptions::default();
        let (fitted, _) = self.fit_input(&input, &o, Reference::Keep, &mut Unwatched)?;
        Ok(fitted)
    }

    /// Trains on an input (a table, a table of pixels, images) read with `o` and clusters its
    /// rows, with the method for that kind of input ([`image_method`] for images, K-means for
    /// tables, unless `method` says otherwise); `reference` says what becomes of the anomaly
    /// reference (see [`Reference`]: saving writes the model directory at once). `watch` sees
    /// the training. Returns the fitted clusterer and the training rows as prepared.
    pub fn fit_input(
        &self,
        input: &crate::data::input::Input,
        o: &crate::data::input::InputOptions,
        reference: Reference<'_>,
        watch: &mut dyn Watch,
    ) -> Result<(FittedClusterer, Prepared)> {
        let pixels = match input {
            crate::data::input::Input::Table(t) if o.image_shape.is_none() => {
                crate::data::pixel_table_shape(t, &self.data)
            }
            _ => None,
        };
        let o = &match pixels {
            Some(shape) => {
                watch.note(&format!(
                    "{}: its {} columns look like the pixels of {shape} images (whole numbers on \
                     one range): clustered as images, as with --image-shape {shape} (--scale \
                     standard clusters it as a table)",
                    input.source_name(),
                    shape.len()
                ));
                crate::data::input::InputOptions {
                    image_shape: Some(shape),
                    ..o.clone()
                }
            }
            None => o.clone(),
        };
        let method = self
            .method
            .unwrap_or(default_method(InputKind::of(input, o)));
        let this = Clusterer {
            method: Some(method),
            ..self.clone()
        };
        this.check()?;
        if let Some(latent) = method.latent() {
            // known before training: say so now, not after it
            this.latent_clustering(latent)
                .check(input.n_rows(), &input.source_name())?;
        }
        let (schema, data) = crate::data::input::fit_input(input, o, &self.data)?;
        for w in &data.warnings {
            watch.warning(w);
        }
        // known before training: say so now, not after it
        if method == Method::Lca {
            lca_variables(&schema, &data.x)?;
        }
        if method == Method::GmmInputs {
            gmm_input_columns(&schema)?;
        }
        let by_default = self.method.is_none() && method == Method::Kmeans;
        let (method, by_rule) = if self.method.is_none() && schema.image.is_some() {
            let method = image_method(data.x.rows);
            if method == Method::Dec {
                watch.note(&format!(
                    "{}: {} images: N2D's clusters refined by DEC on moved images (--method \
                     dec; --method n2d for N2D alone, the default up to {} images)",
                    input.source_name(),
                    data.x.rows,
                    defaults::AUGMENT_MAX_IMAGES
                ));
            }
            (method, false)
        } else if by_default && discrete_table(&schema, &data.x) {
            watch.note(&format!(
                "{}: {} columns, each categorical or of at most {} values: clustered by a latent \
                 class model on the columns (--method lca), a mixture of one categorical \
                 distribution per column (--method kmeans for K-means on a VAE's latent means)",
                input.source_name(),
                schema.features.len(),
                defaults::LCA_MAX_LEVELS
            ));
            (Method::Lca, true)
        } else if let Some(columns) = by_default
            .then(|| gaussian_columns(&schema, &data.x))
            .flatten()
        {
            let categorical: Vec<&str> = schema
                .features
                .iter()
                .filter(|f| matches!(f, crate::data::schema::Feature::Categorical { .. }))
                .map(|f| f.name())
                .collect();
            let (mixed, columns_of, kmeans_on) = if categorical.is_empty() {
                (String::new(), "columns", "")
            } else {
                (
                    format!(
                        ", and {} categorical ({})",
                        categorical.len(),
                        categorical.join(", ")
                    ),
                    "numeric columns alone",
                    ", on every column",
                )
            };
            watch.note(&format!(
                "{}: {} numeric columns, none with one value in more than a quarter of the \
                 rows{mixed}: clustered by a full-covariance GMM on the scaled {columns_of} \
                 (--method gmm-inputs), which follows each cluster's shape where K-means on a \
                 VAE's latent means cannot (--method kmeans for those{kmeans_on})",
                input.source_name(),
                columns.len()
            ));
            (Method::GmmInputs, true)
        } else {
            (method, false)
        };
        this.fit_prepared(schema, data, (method, by_rule), reference, watch)
    }

    /// Trains and clusters with `method`; `by_rule` says the GMM on the inputs was chosen by
    /// [`gaussian_table`] rather than asked for, so that K-means on the latent means may stand
    /// in when that GMM cannot be fitted.
    fn fit_prepared(
        &self,
        schema: Schema,
        data: Prepared,
        (method, by_rule): (Method, bool),
        reference: Reference<'_>,
        watch: &mut dyn Watch,
    ) -> Result<(FittedClusterer, Prepared)> {
        let images = schema.image.map(|_| data.x.rows);
        let t = cluster_training(&self.train, method, images);
        let Some(latent) = method.latent() else {
            let prior = self.one_step_prior(method)?;
            let params = OneStepParams {
                gmm_init: self.n_init,
                neighbors: self.neighbors,
                ..self.one_step
            };
            let r = train_one_step_prepared(schema, data, &t, prior, &params, watch)?;
            let anomaly = reference_of(&r.model, &t, &reference, None, watch)?;
            let training = r.model.data.clone();
            let fitted = FittedClusterer {
                kept: Kept::of(r.model),
                fitted: None,
                training: Assignment {
                    labels: r.labels,
                    probabilities: Some(r.probabilities),
                },
                anomaly,
            };
            return Ok((fitted, training));
        };
        let refined = latent == ClusterMethod::Dec;
        // DEC starts from N2D's clusters
        let clustering = self.latent_clustering(if refined { ClusterMethod::N2d } else { latent });
        let mut m = train_prepared(schema, data, &t, watch)?;
        let (mut mu, _) = infer::embed(&m.model, &m.data.x, &Default::default());
        let schema = &m.config.schema;
        let first = clustering.fit_watched(&mu, &m.data.x, schema, watch);
        let mut fitted = or_kmeans(first, by_rule, watch, |w| {
            self.latent_clustering(ClusterMethod::Kmeans)
                .fit_watched(&mu, &m.data.x, schema, w)
        })?;
        if refined {
            let start = fitted.predict(&mu)?.labels;
            let tc = &m.config.train;
            let cfg = crate::refine::RefineConfig::for_training(
                m.data.x.rows,
                tc.epochs * m.data.x.rows.div_ceil(tc.batch_size),
                m.config.schema.image,
                t.seed,
            );
            let (model, f) = refine_watched(&m, &start, fitted.k(), &cfg, &t, watch)?;
            m.model = model;
            fitted = f;
            mu = infer::embed(&m.model, &m.data.x, &Default::default()).0;
        }
        let training = predict_embedded(&fitted, &m.model, &m.data.x, &mu)?;
        let anomaly = reference_of(&m, &t, &reference, Some(&fitted), watch)?;
        let data = m.data.clone();
        Ok((
            FittedClusterer {
                kept: Kept::of(m),
                fitted: Some(fitted),
                training,
                anomaly,
            },
            data,
        ))
    }
}

/// DEC's refinement of the trained model `m` from the clusters `start` (of `k`), on the device
/// `t` asks for, telling `watch` its plan and epochs: the refined network and its clustering.
fn refine_watched(
    m: &TrainedModel,
    start: &[usize],
    k: usize,
    cfg: &crate::refine::RefineConfig,
    t: &TrainParams,
    watch: &mut dyn Watch,
) -> Result<(Vae<Cpu>, Fitted)> {
    watch.info(&format!(
        "dec: refining the encoder from N2D's {k} clusters: {} epochs of batch {} ({} with \
         N2D's clusters as targets, then DEC's), {}",
        cfg.epochs,
        cfg.batch_size,
        cfg.warm_epochs,
        match cfg.image {
            Some(_) => format!("images moved: {}", cfg.augment.describe()),
            None => "rows as they are".into(),
        }
    ));
    let compute = watch.device(
        t.device,
        Workload::training(&m.config.model, cfg.batch_size),
    )?;
    let start_time = std::time::Instant::now();
    // about ten lines, the last epoch's among them
    let every = cfg.epochs.div_ceil(10);
    let r = crate::device::refine_on(
        &compute,
        &m.model,
        &m.config.model,
        &m.data.x,
        start,
        k,
        cfg,
        &mut |e| {
            if e.epoch % every == 0 || e.epoch == cfg.epochs {
                watch.info(&format!(
                    "dec: epoch {}/{}: loss {:.4}, {:.2}% of the rows changed cluster [{:.1}s]",
                    e.epoch,
                    cfg.epochs,
                    e.loss,
                    100.0 * e.changed,
                    start_time.elapsed().as_secs_f64()
                ));
            }
        },
    )?;
    let centers = (0..r.centers.rows)
        .map(|j| r.centers.row(j).to_vec())
        .collect();
    let moves = cfg
        .image
        .filter(|_| cfg.augment.is_active() && defaults::DEC_READ_MOVES > 0)
        .map(|shape| {
            let mut rng = Xoshiro256PlusPlus::seed_from_u64(cfg.seed ^ 0x7265_6164);
            ReadMoves::draw(&cfg.augment, shape, defaults::DEC_READ_MOVES, &mut rng)
        });
    if let Some(m) = &moves {
        watch.info(&format!(
            "dec: each image is assigned by its mean soft assignment as it is and moved {} \
             ways (the same moves for every image)",
            m.moves.len()
        ));
    }
    Ok((r.model, Fitted::Dec { centers, moves }))
}

/// The anomaly reference of a clusterer's model as `reference` asks (saving the model with it
/// and its clustering when asked to).
fn reference_of(
    m: &TrainedModel,
    t: &TrainParams,
    reference: &Reference<'_>,
    clustering: Option<&Fitted>,
    watch: &mut dyn Watch,
) -> Result<Option<AnomalyState>> {
    if let Reference::Skip = reference {
        return Ok(None);
    }
    let compute = watch.device(
        t.device,
        Workload::Score {
            rows: m.data.x.rows,
        },
    )?;
    let anomaly = m.anomaly_reference(&compute, t.seed)?;
    if let Reference::SaveTo(target) = reference {
        m.save(target, Some(&anomaly), clustering)?;
    }
    Ok(Some(anomaly))
}

impl FittedClusterer {
    /// The clusters of the training rows, with their probabilities (GMM, N2D, VaDE, Su).
    pub fn training_assignment(&self) -> &Assignment {
        &self.training
    }

    /// The clustering method's name in messages (K-means, GMM, N2D, VaDE, Su).
    pub fn method_name(&self) -> &'static str {
        match (&self.fitted, self.kept.config.model.prior) {
            (Some(f), _) => Method::of_latent(f.method()).display_name(),
            (None, Prior::Su(_)) => Method::Su.display_name(),
            (None, _) => Method::Vade.display_name(),
        }
    }

    /// The schema the model reads its columns by.
    pub fn schema(&self) -> &Schema {
        &self.kept.config.schema
    }

    /// The clusters of the training rows.
    pub fn training_labels(&self) -> Vec<usize> {
        self.training.labels.clone()
    }

    /// The number of clusters.
    pub fn k(&self) -> usize {
        match &self.fitted {
            Some(f) => f.k(),
            None => self
                .kept
                .config
                .model
                .prior
                .k()
                .expect("a clustering prior"),
        }
    }

    /// The clusters of the rows of `table`.
    pub fn predict(&self, table: &Table) -> Result<Vec<usize>> {
        Ok(self.assign(table)?.labels)
    }

    /// Each row's cluster probabilities (GMM, N2D, VaDE, Su; `None` for K-means).
    pub fn predict_proba(&self, table: &Table) -> Result<Option<Matrix>> {
        Ok(self.assign(table)?.probabilities)
    }

    fn assign(&self, table: &Table) -> Result<Assignment> {
        let p = self.kept.config.schema.transform(table)?;
        self.assign_prepared(&p)
    }

    /// The clusters (and probabilities, but for K-means) of an input: a table, or images of
    /// the model's shape.
    pub fn assign_input(&self, input: &crate::data::input::Input) -> Result<Assignment> {
        let p =
            crate::data::input::prepare_with(&self.kept.config.schema, input, &Default::default())?;
        self.assign_prepared(&p)
    }

    fn assign_prepared(&self, p: &Prepared) -> Result<Assignment> {
        let device = Default::default();
        match &self.fitted {
            Some(f) => predict_rows(f, &self.kept.model, &p.x),
            None => {
                let probabilities = infer::cluster_probabilities(&self.kept.model, &p.x, &device)
                    .expect("a clustering prior");
                Ok(Assignment {
                    labels: crate::onestep::argmax_rows(&probabilities),
                    probabilities: Some(probabilities),
                })
            }
        }
    }

    /// Writes the model directory (the command line's format): `vaetool cluster DATA --model
    /// DIR` then assigns with it.
    pub fn save(&self, dir: &Path) -> Result<()> {
        self.kept
            .save(dir, self.anomaly.as_ref(), self.fitted.as_ref())
    }

    /// Loads a model directory with a stored clustering or a clustering prior (written by
    /// [`FittedClusterer::save`] or the command line).
    pub fn load(dir: &Path) -> Result<Self> {
        let (kept, m) = Kept::load(dir)?;
        let fitted = match m.clustering()? {
            Some(f) => Some(f),
            None if kept.config.model.prior != Prior::Standard => None,
            None => {
                return Err(VaeError::Model(format!(
                    "{}: has no stored clustering (clustering.json)",
                    dir.display()
                )))
            }
        };
        Ok(Self {
            kept,
            fitted,
            training: Assignment {
                labels: vec![],
                probabilities: None,
            },
            anomaly: m.anomaly()?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dec_with_read_moves_assigns_each_image_by_its_mean_over_the_moves() {
        let shape = crate::data::ImageShape::new(1, 4, 5);
        let model = VaeConfig::new(20, vec![8], 2).init::<Cpu>(&Default::default());
        let x = Matrix::new(
            9,
            20,
            (0..180).map(|v| ((v * 13) % 17) as f32 / 16.0).collect(),
        );
        let mut rng = Xoshiro256PlusPlus::seed_from_u64(3);
        let moves = ReadMoves::draw(&Augment::IMAGES, shape, 4, &mut rng);
        let (mu, _) = infer::embed(&model, &x, &Default::default());
        let centers = vec![mu.row(0).to_vec(), mu.row(4).to_vec(), mu.row(8).to_vec()];
        let plain = Fitted::Dec {
            centers: centers.clone(),
            moves: None,
        };
        let dec = Fitted::Dec {
            centers,
            moves: Some(moves.clone()),
        };
        let all = predict_rows(&dec, &model, &x).unwrap();
        let p = all.probabilities.clone().unwrap();
        // the mean of Student's t over the image as it is and its four moved copies
        let c = Matrix::new(3, 2, [mu.row(0), mu.row(4), mu.row(8)].concat());
        let mut views = vec![mu.clone()];
        views.extend(
            moves
                .copies(&x)
                .unwrap()
                .map(|m| infer::embed(&model, &m, &Default::default()).0),
        );
        for i in 0..x.rows {
            for j in 0..3 {
                let mean: f32 = views
                    .iter()
                    .map(|v| crate::refine::soft_assignments(v, &c).row(i)[j])
                    .sum::<f32>()
                    / 5.0;
                assert!((p.row(i)[j] - mean).abs() < 1e-6, "row {i} cluster {j}");
            }
        }
        // not the assignment of the images as they are alone
        let alone = predict_rows(&plain, &model, &x).unwrap();
        assert_ne!(alone.probabilities.unwrap().data, p.data);
        // an image's cluster depends on the image alone: the rows in two parts agree
        let head = predict_rows(&dec, &model, &Matrix::new(4, 20, x.data[..80].to_vec())).unwrap();
        let tail = predict_rows(&dec, &model, &Matrix::new(5, 20, x.data[80..].to_vec())).unwrap();
        assert_eq!([head.labels, tail.labels].concat(), all.labels);
        let parts = [
            head.probabilities.unwrap().data,
            tail.probabilities.unwrap().data,
        ]
        .concat();
        assert!(parts.iter().zip(&p.data).all(|(a, b)| (a - b).abs() < 1e-6));
    }

    #[test]
    fn dec_refines_the_clusters_of_sets_whose_images_were_not_moved() {
        assert_eq!(default_method(InputKind::Images), Method::N2d);
        assert_eq!(image_method(1_797), Method::N2d);
        assert_eq!(image_method(defaults::AUGMENT_MAX_IMAGES), Method::N2d);
        assert_eq!(image_method(defaults::AUGMENT_MAX_IMAGES + 1), Method::Dec);
        assert_eq!(image_method(10_000), Method::Dec);
        // the sets DEC refines are those N2D's training does not move
        let t = TrainParams::default();
        for n in [5_000, 5_001] {
            let moved = cluster_training(&t, Method::N2d, Some(n)).augment.is_some();
            assert_eq!(moved, image_method(n) == Method::N2d, "{n}");
        }
    }

    #[test]
    fn n2d_moves_the_training_images_of_small_sets_only() {
        let t = TrainParams::default();
        let few = cluster_training(&t, Method::N2d, Some(defaults::AUGMENT_MAX_IMAGES));
        assert_eq!(few.augment, Some(Augment::IMAGES));
        assert_eq!(few.beta, Some(defaults::N2D_BETA));
        let many = cluster_training(&t, Method::N2d, Some(defaults::AUGMENT_MAX_IMAGES + 1));
        assert_eq!(many.augment, None);
        // a table is not images: N2D on it moves nothing
        let table = cluster_training(&t, Method::N2d, None);
        assert_eq!(table.augment, None);
        assert_eq!(table.beta, Some(defaults::N2D_BETA));
        assert_eq!(
            cluster_training(&t, Method::Kmeans, Some(100)).augment,
            None
        );
        // the user's word stands either way
        let none = TrainParams {
            augment: Some("none".parse().unwrap()),
            ..TrainParams::default()
        };
        assert_eq!(
            cluster_training(&none, Method::N2d, Some(100)).augment,
            none.augment
        );
        let asked = TrainParams {
            augment: Some(Augment::IMAGES),
            ..TrainParams::default()
        };
        assert_eq!(
            cluster_training(&asked, Method::N2d, Some(1_000_000)).augment,
            Some(Augment::IMAGES)
        );
    }

    #[test]
    fn anomalies_fit_the_output_variances_of_gaussian_image_models_only() {
        let t = TrainParams::default();
        let images = anomaly_training(&t, InputKind::Images, false);
        assert_eq!(images.likelihood, Some(Likelihood::Gaussian));
        assert_eq!(images.output_variance, Some(OutputVariance::Fitted));
        let pixels = anomaly_training(&t, InputKind::PixelTable, true);
        assert_eq!(pixels.output_variance, Some(OutputVariance::Fitted));
        assert_eq!(
            anomaly_training(&t, InputKind::Table, true).output_variance,
            None
        );
        // a likelihood or a variance the user names is kept
        for l in [Likelihood::Bernoulli, Likelihood::GaussianLearned] {
            let named = TrainParams {
                likelihood: Some(l),
                ..TrainParams::default()
            };
            assert_eq!(
                anomaly_training(&named, InputKind::Images, false).output_variance,
                None
            );
        }
        let unit = TrainParams {
            output_variance: Some(OutputVariance::Unit),
            ..TrainParams::default()
        };
        assert_eq!(
            anomaly_training(&unit, InputKind::Images, false).output_variance,
            Some(OutputVariance::Unit)
        );
        assert_eq!("fitted".parse(), Ok(OutputVariance::Fitted));
        assert_eq!("unit".parse(), Ok(OutputVariance::Unit));
    }

    /// A table of `rows` rows and `cols` columns of distinct values (column 0 holding one
    /// value in `repeated` of its rows), the columns named in `categorical` one-hot, and its
    /// prepared inputs.
    fn table_of(
        rows: usize,
        cols: usize,
        repeated: usize,
        categorical: &[&str],
    ) -> (Schema, Matrix) {
        let mut columns = vec![crate::data::Column::default(); cols];
        for r in 0..rows {
            for (c, col) in columns.iter_mut().enumerate() {
                let v = if c == 0 && r < repeated {
                    0.0
                } else {
                    (r * (c + 2) % 97) as f64 + 0.5 * c as f64 + r as f64 / 1000.0
                };
                col.push(&format!("{v}"));
            }
        }
        let table = Table {
            source: "t.csv".into(),
            headers: (0..cols).map(|c| format!("c{c}")).collect(),
            columns,
            lines: (2..rows as u64 + 2).collect(),
        };
        let data = DataOptions {
            categorical: categorical.iter().map(|c| c.to_string()).collect(),
            ..DataOptions::default()
        };
        let (schema, _) = Schema::fit(&table, &data).unwrap();
        let x = schema.transform(&table).unwrap().x;
        (schema, x)
    }

    /// A table of `rows` rows from `cell(row, column)` over the named columns.
    fn table_from(
        headers: &[&str],
        rows: usize,
        cell: impl Fn(usize, usize) -> String,
        categorical: &[&str],
    ) -> (Schema, Matrix) {
        let mut columns = vec![crate::data::Column::default(); headers.len()];
        for r in 0..rows {
            for (c, col) in columns.iter_mut().enumerate() {
                col.push(&cell(r, c));
            }
        }
        let table = Table {
            source: "t.csv".into(),
            headers: headers.iter().map(|h| h.to_string()).collect(),
            columns,
            lines: (2..rows as u64 + 2).collect(),
        };
        let data = DataOptions {
            categorical: categorical.iter().map(|c| c.to_string()).collect(),
            ..DataOptions::default()
        };
        let (schema, _) = Schema::fit(&table, &data).unwrap();
        let x = schema.transform(&table).unwrap().x;
        (schema, x)
    }

    #[test]
    fn tables_of_categorical_and_few_valued_columns_are_clustered_by_latent_classes() {
        use crate::latent_class::{variables_of, Variable};
        assert_eq!(defaults::LCA_MAX_LEVELS, 10);
        // a binary column, one of 10 levels, and a categorical one whose "?" is a missing cell
        let answers = ["y", "n", "?"];
        let (schema, x) = table_from(
            &["flag", "legs", "vote"],
            60,
            |r, c| match c {
                0 => (r % 2).to_string(),
                1 => (r % 10).to_string(),
                _ => answers[r % 3].to_string(),
            },
            &["vote"],
        );
        assert!(discrete_table(&schema, &x));
        assert!(!gaussian_table(&schema, &x));
        assert_eq!(model_default_method(&schema, &x), ClusterMethod::Lca);
        let v = variables_of(&schema, &x, defaults::LCA_MAX_LEVELS).unwrap();
        assert!(matches!(&v[0], Variable::Levels { input: 0, levels } if levels.len() == 2));
        assert!(matches!(&v[1], Variable::Levels { input: 1, levels } if levels.len() == 10));
        // the categories sort as "?", "n", "y": the first is read as missing
        assert_eq!(
            v[2],
            Variable::Onehot {
                start: 2,
                width: 3,
                skip: vec![0]
            }
        );
        // eleven values in one numeric column: a continuous table, named in the reason
        let (schema, x) = table_from(
            &["flag", "size"],
            60,
            |r, c| if c == 0 { r % 2 } else { r % 11 }.to_string(),
            &[],
        );
        assert!(!discrete_table(&schema, &x));
        assert_eq!(
            variables_of(&schema, &x, defaults::LCA_MAX_LEVELS),
            Err("column 'size' takes more than 10 values".to_string())
        );
        assert_eq!(model_default_method(&schema, &x), ClusterMethod::Kmeans);
        // a table of a few values per column that a GMM would also take: latent classes first
        let (schema, x) = table_from(&["a", "b"], 40, |r, c| ((r + c) % 5).to_string(), &[]);
        assert!(gaussian_table(&schema, &x) && discrete_table(&schema, &x));
        assert_eq!(model_default_method(&schema, &x), ClusterMethod::Lca);
        // images never
        let (mut schema, x) = table_from(&["a", "b"], 40, |r, _| (r % 2).to_string(), &[]);
        schema.image = Some("1x1x2".parse().unwrap());
        assert!(!discrete_table(&schema, &x));
        assert_eq!("lca".parse(), Ok(Method::Lca));
        assert_eq!(
            Method::Lca.latent().map(ClusterMethod::space),
            Some(Space::Inputs)
        );
    }

    #[test]
    fn tables_of_a_few_continuous_columns_are_clustered_on_their_inputs() {
        assert_eq!(defaults::GMM_INPUTS_MAX_COLUMNS, 30);
        assert_eq!(defaults::GMM_INPUTS_MAX_MODE_SHARE, 0.25);
        for cols in [1, 4, 13, 30] {
            let (schema, x) = table_of(40, cols, 0, &[]);
            assert_eq!(largest_mode_share(&x, 20_000), 1.0 / 40.0);
            assert!(gaussian_table(&schema, &x), "{cols} columns");
            assert_eq!(model_default_method(&schema, &x), ClusterMethod::GmmInputs);
        }
        let (schema, x) = table_of(40, 31, 0, &[]);
        assert!(!gaussian_table(&schema, &x), "31 columns");
        assert_eq!(model_default_method(&schema, &x), ClusterMethod::Kmeans);
        // one value in 10 of 40 rows is a quarter: still Gaussian; in 11, a point mass
        let (schema, x) = table_of(40, 3, 10, &[]);
        assert_eq!(largest_mode_share(&x, 20_000), 0.25);
        assert!(gaussian_table(&schema, &x));
        let (schema, x) = table_of(40, 3, 11, &[]);
        assert_eq!(largest_mode_share(&x, 20_000), 11.0 / 40.0);
        assert!(!gaussian_table(&schema, &x));
        // measured on evenly spaced rows: every other row of the 40 (rows 0, 2, …, 10 of the
        // first 11 repeated: 6 of 20)
        assert_eq!(largest_mode_share(&x, 20), 6.0 / 20.0);
        // a constant column is no point mass
        let (schema, x) = table_of(40, 3, 40, &[]);
        assert_eq!(largest_mode_share(&x, 20_000), 1.0 / 40.0);
        assert!(gaussian_table(&schema, &x));
        // categorical columns are left out of the mixture (c1 is one-hot over inputs 1..=40),
        // when the numeric columns are at least two and more than the categorical ones
        let (schema, x) = table_of(40, 3, 0, &["c1"]);
        assert_eq!(x.cols, 42);
        assert_eq!(numeric_columns(&schema), vec![0, 41]);
        assert_eq!(gaussian_columns(&schema, &x), Some(vec![0, 41]));
        assert_eq!(model_default_method(&schema, &x), ClusterMethod::GmmInputs);
        assert_eq!(gmm_input_columns(&schema).unwrap(), Some(vec![0, 41]));
        let (schema, x) = table_of(40, 4, 0, &["c1", "c2"]);
        assert!(!gaussian_table(&schema, &x), "two numeric, two categorical");
        assert_eq!(model_default_method(&schema, &x), ClusterMethod::Kmeans);
        let (schema, x) = table_of(40, 2, 0, &["c1"]);
        assert!(!gaussian_table(&schema, &x), "one numeric, one categorical");
        // a point mass among the numeric columns still rules the mixture out
        let (schema, x) = table_of(40, 3, 11, &["c1"]);
        assert!(!gaussian_table(&schema, &x));
        // a table without categorical columns: every input; without numeric ones: refused
        let (schema, _) = table_of(40, 3, 0, &[]);
        assert_eq!(gmm_input_columns(&schema).unwrap(), None);
        let (schema, _) = table_of(40, 2, 0, &["c0", "c1"]);
        assert_eq!(
            gmm_input_columns(&schema).unwrap_err().to_string(),
            "--method gmm-inputs clusters the numeric columns, and every column here is \
             categorical (--method lca or kmeans cluster such data)"
        );
        // images never; their model is clustered by N2D
        let (mut schema, x) = table_of(40, 4, 0, &[]);
        schema.image = Some("1x2x2".parse().unwrap());
        assert!(!gaussian_table(&schema, &x));
        assert_eq!(model_default_method(&schema, &x), ClusterMethod::N2d);
        assert_eq!("gmm-inputs".parse(), Ok(Method::GmmInputs));
        assert_eq!(
            Method::GmmInputs.latent().map(ClusterMethod::space),
            Some(Space::Inputs)
        );
        assert_eq!(
            Method::Kmeans.latent().map(ClusterMethod::space),
            Some(Space::Latent)
        );
    }

    #[test]
    fn a_gmm_the_rule_chose_falls_back_to_k_means_when_it_cannot_be_fitted() {
        #[derive(Default)]
        struct Warnings(Vec<String>);
        impl Watch for Warnings {
            fn warning(&mut self, w: &str) {
                self.0.push(w.to_string());
            }
        }
        let x = Matrix::new(4, 1, vec![0.0, 0.1, 5.0, 5.1]);
        let params = ClusterParams {
            k: 2,
            method: ClusterMethod::Kmeans,
            n_init: 1,
            seed: 0,
            neighbors: 2,
        };
        let kmeans = |_: &mut dyn Watch| Fitted::fit(&x, &params);
        let failed = || Err(VaeError::Clustering("the Gaussian mixture failed".into()));
        // chosen by the rule: K-means stands in, and the user is told why
        let mut w = Warnings::default();
        let f = or_kmeans(failed(), true, &mut w, kmeans).unwrap();
        assert_eq!(f.method(), ClusterMethod::Kmeans);
        assert_eq!(
            w.0,
            ["the Gaussian mixture failed: clustered by K-means on the latent means instead"]
        );
        // asked for: the error stands
        let mut w = Warnings::default();
        let e = or_kmeans(failed(), false, &mut w, kmeans).unwrap_err();
        assert_eq!(e.to_string(), "the Gaussian mixture failed");
        assert!(w.0.is_empty());
        // a fit that worked is kept
        let gmm = ClusterParams {
            method: ClusterMethod::GmmInputs,
            ..params.clone()
        };
        let f = or_kmeans(Fitted::fit(&x, &gmm), true, &mut w, kmeans).unwrap();
        assert_eq!(f.method(), ClusterMethod::GmmInputs);
        assert!(w.0.is_empty());
    }

    #[test]
    fn fitted_variances_need_the_gaussian_likelihood() {
        let bad = TrainParams {
            likelihood: Some(Likelihood::Bernoulli),
            output_variance: Some(OutputVariance::Fitted),
            ..TrainParams::default()
        };
        assert_eq!(
            bad.check(Prior::Standard).unwrap_err().to_string(),
            "--output-variance fitted needs the gaussian likelihood, not bernoulli \
             (gaussian-learned learns its variances; bernoulli has none)"
        );
        // the plan says whether the variances are fitted
        let mut columns = vec![crate::data::Column::default(); 2];
        for (a, b) in [("0", "1"), ("1", "0"), ("0.5", "0.5"), ("0.2", "0.8")] {
            columns[0].push(a);
            columns[1].push(b);
        }
        let table = crate::data::Table {
            source: "t.csv".into(),
            headers: vec!["a".into(), "b".into()],
            columns,
            lines: vec![2, 3, 4, 5],
        };
        let (schema, _) = crate::data::Schema::fit(&table, &Default::default()).unwrap();
        let x = schema.transform(&table).unwrap().x;
        for (v, want) in [
            (None, false),
            (Some(OutputVariance::Unit), false),
            (Some(OutputVariance::Fitted), true),
        ] {
            let t = TrainParams {
                output_variance: v,
                ..TrainParams::default()
            };
            let plan = t
                .plan(&schema, &x, Prior::Standard, EpochRule::Plain)
                .unwrap();
            assert_eq!(plan.vae.fitted_variance, want);
        }
    }
}
