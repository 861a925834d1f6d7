//! vaetool: clusters and anomalies in tabular data with variational autoencoders.
//!
//! The library is organised by concern:
//! - [`data`]: reading CSV, the data schema and its preprocessing (imputation, one-hot
//!   encoding, scaling), learned at training time and stored with the model;
//! - [`model`]: the MLP VAE (burn modules, generic over the backend) and its loss terms;
//! - [`train`]: the training loop (Adam, shuffling, early stopping, NaN guard);
//! - [`infer`]: embedding and anomaly scoring on the plain (non-autodiff) backend;
//! - [`cluster`]: K-means and GMM on latent means (linfa), BIC model selection;
//! - [`anomaly`]: thresholds (absolute, contamination) and the stored reference scores;
//! - [`metrics`]: clustering ACC/NMI/ARI and anomaly ROC-AUC/AP;
//! - [`modeldir`]: the on-disk model directory;
//! - [`output`]: atomic CSV output.
//!
//! The math follows `ALGORITHMS.md` (Kingma & Welling 2014 for the VAE; Burda et al. 2016
//! for importance weighting).

pub mod anomaly;
pub mod backend;
pub mod cluster;
pub mod data;
pub mod error;
pub mod generate;
pub mod infer;
pub mod metrics;
pub mod model;
pub mod modeldir;
pub mod onestep;
pub mod output;
pub mod train;

pub use error::{Result, VaeError};
