//! The VAE: its configuration and burn module ([`mlp`]) and the loss terms ([`loss`]).

pub mod loss;
pub mod mlp;
pub mod prior;

pub use mlp::{
    default_hidden, default_latent, permute_dims, Discriminator, Likelihood, MlpVae, Prior,
    VaeConfig, Variant,
};
pub use prior::Objective;
