//! The MLP VAE (Kingma & Welling 2014, "Auto-Encoding Variational Bayes"): an encoder of
//! ReLU layers with μ and log σ² heads, and a mirror decoder whose output is the Gaussian mean
//! or the Bernoulli logits of p(x|z). Generic over burn's `Backend`.

use burn::module::Param;
use burn::nn::{Linear, LinearConfig};
use burn::prelude::*;
use burn::tensor::activation::relu;
use burn::tensor::Distribution;

/// Bounds on the encoder's log σ² so that `exp` never overflows (ALGORITHMS.md §1).
pub const LOGVAR_MIN: f64 = -30.0;
/// Upper bound on the encoder's log σ².
pub const LOGVAR_MAX: f64 = 20.0;
/// Bounds on a learned output log-variance: keeps a near-constant feature from driving the
/// likelihood to infinity.
pub const OUT_LOGVAR_MIN: f64 = -6.0;
/// Upper bound on a learned output log-variance.
pub const OUT_LOGVAR_MAX: f64 = 6.0;

/// The observation model p(x|z).
#[derive(Config, Debug, PartialEq, Eq, Copy)]
pub enum Likelihood {
    /// Gaussian with unit variance: for standardized data.
    Gaussian,
    /// Gaussian with a learned per-feature log-variance.
    GaussianLearned,
    /// Bernoulli on decoder logits: for data in [0, 1].
    Bernoulli,
}

impl std::str::FromStr for Likelihood {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "gaussian" => Ok(Self::Gaussian),
            "gaussian-learned" => Ok(Self::GaussianLearned),
            "bernoulli" => Ok(Self::Bernoulli),
            _ => Err(format!(
                "unknown likelihood '{s}' (expected gaussian, gaussian-learned or bernoulli)"
            )),
        }
    }
}

impl Likelihood {
    /// The name used on the command line.
    pub fn name(&self) -> &'static str {
        match self {
            Self::Gaussian => "gaussian",
            Self::GaussianLearned => "gaussian-learned",
            Self::Bernoulli => "bernoulli",
        }
    }
}

/// Hidden layer widths that suit `input_dim` columns (the `--hidden` default).
pub fn default_hidden(input_dim: usize) -> Vec<usize> {
    match input_dim {
        0..=16 => vec![64, 32],
        17..=64 => vec![256, 128],
        _ => vec![512, 256],
    }
}

/// Latent size that suits `input_dim` columns (the `--latent` default): about a quarter of
/// the inputs, between 2 and 10.
pub fn default_latent(input_dim: usize) -> usize {
    input_dim.div_ceil(4).clamp(2, 10)
}

/// Shape of the network; saved as part of `config.json`.
#[derive(Config, Debug)]
pub struct VaeConfig {
    /// Number of model inputs (after one-hot encoding).
    pub input_dim: usize,
    /// Encoder hidden widths; the decoder mirrors them.
    pub hidden: Vec<usize>,
    /// Latent dimension d.
    pub latent: usize,
    /// Observation model.
    #[config(default = "Likelihood::Gaussian")]
    pub likelihood: Likelihood,
}

impl VaeConfig {
    /// Builds the module with freshly initialized weights.
    pub fn init<B: Backend>(&self, device: &B::Device) -> MlpVae<B> {
        let mut encoder = Vec::new();
        let mut prev = self.input_dim;
        for &h in &self.hidden {
            encoder.push(LinearConfig::new(prev, h).init(device));
            prev = h;
        }
        let mu = LinearConfig::new(prev, self.latent).init(device);
        let logvar = LinearConfig::new(prev, self.latent).init(device);
        let mut decoder = Vec::new();
        let mut prev = self.latent;
        for &h in self.hidden.iter().rev() {
            decoder.push(LinearConfig::new(prev, h).init(device));
            prev = h;
        }
        let output = LinearConfig::new(prev, self.input_dim).init(device);
        MlpVae {
            encoder,
            mu,
            logvar,
            decoder,
            output,
            out_logvar: Param::from_tensor(Tensor::zeros([self.input_dim], device)),
        }
    }
}

/// The MLP VAE module.
#[derive(Module, Debug)]
pub struct MlpVae<B: Backend> {
    encoder: Vec<Linear<B>>,
    mu: Linear<B>,
    logvar: Linear<B>,
    decoder: Vec<Linear<B>>,
    output: Linear<B>,
    /// Per-feature output log-variance (used by the gaussian-learned likelihood only).
    out_logvar: Param<Tensor<B, 1>>,
}

impl<B: Backend> MlpVae<B> {
    /// The posterior q(z|x): mean and clamped log-variance.
    pub fn encode(&self, x: Tensor<B, 2>) -> (Tensor<B, 2>, Tensor<B, 2>) {
        let mut h = x; // [batch, input]
        for layer in &self.encoder {
            h = relu(layer.forward(h)); // [batch, hidden_i]
        }
        let mu = self.mu.forward(h.clone()); // [batch, latent]
        let logvar = self.logvar.forward(h).clamp(LOGVAR_MIN, LOGVAR_MAX); // [batch, latent]
        (mu, logvar)
    }

    /// The decoder: Gaussian means or Bernoulli logits of p(x|z).
    pub fn decode(&self, z: Tensor<B, 2>) -> Tensor<B, 2> {
        let mut h = z; // [batch, latent]
        for layer in &self.decoder {
            h = relu(layer.forward(h)); // [batch, hidden_i]
        }
        self.output.forward(h) // [batch, input]
    }

    /// The learned per-feature output log-variance, clamped, for the likelihoods that use
    /// it (`None` otherwise: building it anyway would leave a dangling autodiff graph every
    /// step, which burn 0.21 scans on every backward pass).
    pub fn out_logvar(&self, likelihood: Likelihood) -> Option<Tensor<B, 1>> {
        (likelihood == Likelihood::GaussianLearned)
            .then(|| self.out_logvar.val().clamp(OUT_LOGVAR_MIN, OUT_LOGVAR_MAX))
        // [input]
    }

    /// Reparameterized sample z = μ + exp(½ log σ²) ⊙ ε with ε ~ N(0, I) drawn on the device.
    pub fn sample_z(mu: Tensor<B, 2>, logvar: Tensor<B, 2>) -> Tensor<B, 2> {
        let eps = Tensor::random(mu.shape(), Distribution::Normal(0.0, 1.0), &mu.device());
        mu + (logvar * 0.5).exp() * eps // [batch, latent]
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::backend::Cpu;

    #[test]
    fn shapes() {
        let cfg = VaeConfig::new(7, vec![16, 8], 3);
        let m = cfg.init::<Cpu>(&Default::default());
        let x = Tensor::<Cpu, 2>::ones([5, 7], &Default::default());
        let (mu, lv) = m.encode(x);
        assert_eq!(mu.dims(), [5, 3]);
        assert_eq!(lv.dims(), [5, 3]);
        let z = MlpVae::sample_z(mu, lv);
        assert_eq!(m.decode(z).dims(), [5, 7]);
        assert_eq!(
            m.out_logvar(Likelihood::GaussianLearned).unwrap().dims(),
            [7]
        );
        assert!(m.out_logvar(Likelihood::Gaussian).is_none());
    }

    #[test]
    fn defaults_adapt_to_width() {
        assert_eq!(default_hidden(4), vec![64, 32]);
        assert_eq!(default_hidden(64), vec![256, 128]);
        assert_eq!(default_hidden(100), vec![512, 256]);
        assert_eq!(default_hidden(784), vec![512, 256]);
        assert_eq!(default_latent(4), 2);
        assert_eq!(default_latent(30), 8);
        assert_eq!(default_latent(64), 10);
    }
}
