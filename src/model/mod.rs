//! The VAE: its configuration and burn module ([`mlp`]), the image layers of the conv
//! architecture ([`conv`]), the priors ([`prior`]) and the loss terms ([`loss`]).

pub mod conv;
pub mod loss;
pub mod mlp;
pub mod prior;

pub use mlp::{
    default_conv_hidden, default_hidden, default_latent, permute_dims, Arch, Discriminator,
    Likelihood, Prior, Vae, VaeConfig, Variant, MAX_CLUSTERS, MAX_INPUTS, MAX_LATENT, MAX_LAYERS,
    MAX_PARAMETERS, MAX_WIDTH,
};
pub use prior::Objective;

/// Small tensors for the unit tests of the loss terms.
#[cfg(test)]
pub(crate) mod testutil {
    use crate::backend::Cpu;
    use burn::prelude::*;

    /// A `rows × (len / rows)` tensor from values.
    pub fn t2(rows: usize, v: &[f32]) -> Tensor<Cpu, 2> {
        Tensor::from_data(
            TensorData::new(v.to_vec(), [rows, v.len() / rows]),
            &Default::default(),
        )
    }

    /// The values of a 1-D tensor.
    pub fn v1(t: Tensor<Cpu, 1>) -> Vec<f32> {
        t.into_data().to_vec::<f32>().unwrap()
    }
}
