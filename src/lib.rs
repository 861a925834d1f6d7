//! vaetool: clusters and anomalies in tabular and image data with variational autoencoders.
//!
//! The library is organised by concern:
//! - [`data`]: reading CSV (whole or in chunks), IDX images and folders of PNG/JPEG, the data schema and its preprocessing
//!   (imputation, one-hot encoding, scaling), learned at training time and stored with the model;
//! - [`model`]: the VAE, MLP or conv (burn modules, generic over the backend), its priors (standard,
//!   VaDE mixture, Su), variants (poor man's, FactorVAE) and loss terms;
//! - [`train`]: the training loop (Adam, shuffling, early stopping, NaN guard, the β-VAE
//!   capacity objective, FactorVAE's discriminator);
//! - [`optim`]: Adam with gradient clipping; on the CPU two threaded host passes a parameter;
//! - [`onestep`]: one-step clustering (VaDE, Su): pretraining, GMM initialization, restarts;
//! - [`infer`]: embedding, cluster probabilities, anomaly scores (ELBO, IWAE, reconstruction)
//!   and explanations on the plain (non-autodiff) backend;
//! - [`estimator`]: what to train, decided once for every front end: training parameters
//!   and their defaults, [`estimator::AnomalyDetector`] and [`estimator::Clusterer`];
//! - [`device`]: `--device`: training and scoring on the CPU or a CUDA GPU;
//! - [`generate`]: sampling rows from the prior or one cluster;
//! - [`cluster`]: K-means and GMM on latent means (linfa), K by silhouette;
//! - [`latent_class`]: latent class analysis (a mixture of categorical distributions) for
//!   tables of categorical and few-valued columns;
//! - [`augment`]: random shifts and rotations of training images;
//! - [`anomaly`]: thresholds (absolute, contamination) and the stored reference scores;
//! - [`metrics`]: clustering ACC/NMI/ARI and anomaly ROC-AUC/AP;
//! - [`modeldir`]: the on-disk model directory;
//! - [`output`]: atomic CSV output;
//! - [`stream`]: scoring a CSV larger than memory chunk by chunk with a saved model;
//! - [`picture`]: image grids (samples, reconstructions, interpolations) as PNG;
//! - [`plot`]: latent scatter plots, score histograms and training curves (plotters), PCA.
//!
//! The math follows `ALGORITHMS.md` (Kingma & Welling 2014 for the VAE; Jiang et al. 2017 for
//! VaDE; Su 2018; Higgins et al. 2017 and Burgess et al. 2018 for β-VAE; Kim & Mnih 2018 for
//! FactorVAE; Burda et al. 2016 for importance weighting).

pub mod anomaly;
pub mod augment;
pub mod backend;
pub mod cluster;
pub mod data;
pub mod device;
pub mod error;
pub mod estimator;
pub mod generate;
pub mod infer;
pub mod latent_class;
pub mod manifold;
pub mod metrics;
pub mod model;
pub mod modeldir;
pub mod onestep;
pub mod optim;
pub mod output;
pub mod picture;
pub mod plot;
pub mod refine;
mod skeleton;
pub mod stream;
pub mod train;

pub use error::{Result, VaeError};
