//! The VAE (Kingma & Welling 2014, "Auto-Encoding Variational Bayes"): an encoder of ReLU
//! layers with μ and log σ² heads, and a mirror decoder whose output is the Gaussian mean or the
//! Bernoulli logits of p(x|z). With `--arch conv` the encoder starts and the decoder ends with
//! the image layers of [`super::conv`]. Generic over burn's `Backend`.

use burn::module::Param;
use burn::nn::{Linear, LinearConfig};
use burn::prelude::*;
use burn::tensor::activation::relu;
use burn::tensor::Distribution;

use super::conv::{flat_features, ConvDecoder, ConvEncoder};
use crate::data::ImageShape;

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

/// Hidden layer widths that suit `input_dim` columns (the `--hidden` default). Up to 32
/// columns the widths stay at 4–8 times the input: on cardio (21 columns) [128, 64] detects
/// anomalies as well as [256, 128] (median ROC-AUC 0.9367 vs 0.9354, seeds 1–5) and scores
/// with a quarter of the decoder's multiply-adds (benches/RESULTS.md, vaetool 7).
pub fn default_hidden(input_dim: usize) -> Vec<usize> {
    match input_dim {
        0..=16 => vec![64, 32],
        17..=32 => vec![128, 64],
        33..=64 => vec![256, 128],
        _ => vec![512, 256],
    }
}

/// Latent size that suits `input_dim` columns (the `--latent` default): about a quarter of
/// the inputs, between 2 and 10.
pub fn default_latent(input_dim: usize) -> usize {
    input_dim.div_ceil(4).clamp(2, 10)
}

/// The network kind (`--arch`).
#[derive(Config, Debug, PartialEq, Eq, Copy)]
pub enum Arch {
    /// Fully connected layers: for tables (and small images).
    Mlp,
    /// Convolutions in front of the encoder, transposed convolutions at the end of the
    /// decoder: for images.
    Conv,
}

impl Arch {
    /// The name used on the command line.
    pub fn name(&self) -> &'static str {
        match self {
            Self::Mlp => "mlp",
            Self::Conv => "conv",
        }
    }
}

impl std::str::FromStr for Arch {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "mlp" => Ok(Self::Mlp),
            "conv" => Ok(Self::Conv),
            _ => Err(format!("unknown architecture '{s}' (expected mlp or conv)")),
        }
    }
}

/// Hidden widths of the conv VAE's fully connected part (between the flattened feature maps
/// and the latent heads).
pub fn default_conv_hidden() -> Vec<usize> {
    vec![256]
}

/// The prior p(z) and, for the clustering VAEs, how clusters are read off.
#[derive(Config, Debug, PartialEq, Eq, Copy)]
pub enum Prior {
    /// N(0, I): the plain VAE.
    Standard,
    /// A learned mixture of K diagonal Gaussians (VaDE, Jiang et al. 2017).
    Mixture(usize),
    /// Su Jianlin's one-step clustering VAE (2018): K class means with unit variance and a
    /// classifier q(y|z).
    Su(usize),
}

impl Prior {
    /// Number of clusters of a clustering prior.
    pub fn k(&self) -> Option<usize> {
        match self {
            Prior::Standard => None,
            Prior::Mixture(k) | Prior::Su(k) => Some(*k),
        }
    }
}

/// The member of the VAE family (ALGORITHMS.md §2).
#[derive(Config, Debug, PartialEq, Eq, Copy)]
pub enum Variant {
    /// The VAE (with `--beta`, KL warm-up and the capacity schedule as training options).
    Standard,
    /// The "poor man's VAE": a deterministic encoder z₀ = f(x), z = z₀ + ε with ε ~ N(0, I),
    /// loss Σ(x − x̂)² + ‖z‖₂.
    PoorMan,
    /// FactorVAE (Kim & Mnih 2018): VAE loss + γ·TC(z), the total correlation estimated by a
    /// discriminator trained in alternation.
    Factor,
}

impl Variant {
    /// The name used on the command line.
    pub fn name(&self) -> &'static str {
        match self {
            Self::Standard => "vae",
            Self::PoorMan => "poor-man",
            Self::Factor => "factor",
        }
    }
}

impl std::str::FromStr for Variant {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "vae" | "standard" => Ok(Self::Standard),
            "poor-man" => Ok(Self::PoorMan),
            "factor" => Ok(Self::Factor),
            _ => Err(format!(
                "unknown variant '{s}' (expected vae, poor-man or factor)"
            )),
        }
    }
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
    /// The prior.
    #[config(default = "Prior::Standard")]
    pub prior: Prior,
    /// The member of the VAE family.
    #[config(default = "Variant::Standard")]
    pub variant: Variant,
    /// The network kind.
    #[config(default = "Arch::Mlp")]
    pub arch: Arch,
    /// Shape of one image (image models only; required by the conv architecture).
    #[config(default = "None")]
    pub image: Option<ImageShape>,
    /// Gaussian likelihood only: the output log-variances (`out_logvar`) were fitted after
    /// training to each input's mean squared reconstruction error on the training rows
    /// ([`crate::infer::fitted_output_logvar`]), and the anomaly scores use them; `false`:
    /// unit variances, the training likelihood's (`--output-variance`).
    #[config(default = false)]
    pub fitted_variance: bool,
}

/// The largest number of model inputs (2²⁴: a 4096×4096 image).
pub const MAX_INPUTS: usize = 1 << 24;
/// The widest hidden layer.
pub const MAX_WIDTH: usize = 1 << 16;
/// The most hidden layers.
pub const MAX_LAYERS: usize = 16;
/// The largest latent dimension.
pub const MAX_LATENT: usize = 4096;
/// The most clusters of a mixture or Su prior.
pub const MAX_CLUSTERS: usize = 10_000;
/// The most parameters a network may have (4 GB of weights; a network this size would not
/// train in any reasonable time on the machines vaetool runs on).
pub const MAX_PARAMETERS: u64 = 1_000_000_000;

impl VaeConfig {
    /// Checks the sizes before anything is allocated: each within its limit above, and the
    /// parameter count (counted without overflow) at most [`MAX_PARAMETERS`]. A flag such as
    /// `--hidden 4000000000` or a `config.json` with `"input_dim": 400000000` is a clear error
    /// here instead of an abort while allocating.
    pub fn check(&self) -> crate::error::Result<()> {
        let bad = |m: String| Err(crate::error::VaeError::Usage(m));
        if !(1..=MAX_INPUTS).contains(&self.input_dim) {
            return bad(format!(
                "the network would have {} inputs; vaetool takes 1 to {MAX_INPUTS}",
                self.input_dim
            ));
        }
        if self.hidden.len() > MAX_LAYERS {
            return bad(format!(
                "--hidden names {} layers; at most {MAX_LAYERS}",
                self.hidden.len()
            ));
        }
        if let Some(&w) = self.hidden.iter().find(|&&w| !(1..=MAX_WIDTH).contains(&w)) {
            return bad(format!(
                "--hidden: a layer of width {w}; widths run from 1 to {MAX_WIDTH}"
            ));
        }
        if !(1..=MAX_LATENT).contains(&self.latent) {
            return bad(format!(
                "--latent {}: the latent dimension runs from 1 to {MAX_LATENT}",
                self.latent
            ));
        }
        if let Some(k) = self.prior.k().filter(|&k| k > MAX_CLUSTERS) {
            return bad(format!("--k {k}: at most {MAX_CLUSTERS} clusters"));
        }
        if let Some(s) = self.image {
            if s.channels
                .checked_mul(s.height)
                .and_then(|p| p.checked_mul(s.width))
                != Some(self.input_dim)
            {
                return bad(format!(
                    "the image shape {s} does not give the network's {} inputs",
                    self.input_dim
                ));
            }
        }
        match self.mlp_parameters() {
            Some(p) if p <= MAX_PARAMETERS => Ok(()),
            _ => bad(format!(
                "a network of {} inputs, hidden {:?} and latent {} would have more than \
                 {MAX_PARAMETERS} parameters; choose smaller --hidden widths",
                self.input_dim, self.hidden, self.latent
            )),
        }
    }

    /// Parameters of the MLP network of these sizes (encoder, the two heads, the mirrored
    /// decoder, weights and biases, and the per-input output log-variance), counted without
    /// overflow; `None` past u64. A conv network of the same sizes has fewer (its MLP part
    /// starts from the conv features).
    pub fn mlp_parameters(&self) -> Option<u64> {
        let mut widths = vec![self.input_dim as u64];
        widths.extend(self.hidden.iter().map(|&w| w as u64));
        widths.push(self.latent as u64);
        // a layer a → b has (a + 1)·b parameters; the decoder runs the widths backwards
        let layer = |a: u64, b: u64| a.checked_add(1)?.checked_mul(b);
        let mut total = self.input_dim as u64;
        for w in widths.windows(2) {
            total = total
                .checked_add(layer(w[0], w[1])?)?
                .checked_add(layer(w[1], w[0])?)?;
        }
        // the second head (log-variance) beside the mean
        let n = widths.len();
        total.checked_add(layer(widths[n - 2], widths[n - 1])?)
    }

    /// Builds the module with freshly initialized weights.
    ///
    /// # Panics
    /// When the conv architecture has no image shape (checked before training by
    /// `train::check_inputs`).
    pub fn init<B: Backend>(&self, device: &B::Device) -> Vae<B> {
        let image = match self.arch {
            Arch::Mlp => None,
            Arch::Conv => Some(
                self.image
                    .expect("the conv architecture needs an image shape"),
            ),
        };
        let body = image.as_ref().map_or(self.input_dim, flat_features);
        let mut encoder = Vec::new();
        let mut prev = body;
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
        let output = LinearConfig::new(prev, body).init(device);
        let (k, d) = (self.prior.k().unwrap_or(0), self.latent);
        let means = || {
            Param::from_tensor(Tensor::random(
                [k, d],
                Distribution::Normal(0.0, 1.0),
                device,
            ))
        };
        Vae {
            conv_encoder: image.as_ref().map(|s| ConvEncoder::new(s, device)),
            conv_decoder: image.as_ref().map(|s| ConvDecoder::new(s, device)),
            encoder,
            mu,
            logvar,
            decoder,
            output,
            out_logvar: Param::from_tensor(Tensor::zeros([self.input_dim], device)),
            prior_logits: matches!(self.prior, Prior::Mixture(_))
                .then(|| Param::from_tensor(Tensor::zeros([k], device))),
            prior_mu: self.prior.k().map(|_| means()),
            prior_logvar: matches!(self.prior, Prior::Mixture(_))
                .then(|| Param::from_tensor(Tensor::zeros([k, d], device))),
            classifier: matches!(self.prior, Prior::Su(_))
                .then(|| LinearConfig::new(d, k).init(device)),
        }
    }
}

/// The VAE module.
#[derive(Module, Debug)]
pub struct Vae<B: Backend> {
    /// Conv architecture: image layers in front of `encoder`.
    conv_encoder: Option<ConvEncoder<B>>,
    /// Conv architecture: image layers after `output`.
    conv_decoder: Option<ConvDecoder<B>>,
    encoder: Vec<Linear<B>>,
    mu: Linear<B>,
    logvar: Linear<B>,
    decoder: Vec<Linear<B>>,
    output: Linear<B>,
    /// Per-feature output log-variance (used by the gaussian-learned likelihood only).
    out_logvar: Param<Tensor<B, 1>>,
    /// Mixture prior: free logits of the weights π (softmax keeps them on the simplex).
    pub(crate) prior_logits: Option<Param<Tensor<B, 1>>>,
    /// Mixture prior or Su's class means μ_c, `[K, latent]`.
    pub(crate) prior_mu: Option<Param<Tensor<B, 2>>>,
    /// Mixture prior: free log-variances log σ_c², `[K, latent]`.
    pub(crate) prior_logvar: Option<Param<Tensor<B, 2>>>,
    /// Su's classifier q(y|z): latent → K logits.
    pub(crate) classifier: Option<Linear<B>>,
}

impl<B: Backend> Vae<B> {
    /// The posterior q(z|x): mean and clamped log-variance.
    pub fn encode(&self, x: Tensor<B, 2>) -> (Tensor<B, 2>, Tensor<B, 2>) {
        let h = self.encoder_body(x); // [batch, last hidden]
        let mu = self.mu.forward(h.clone()); // [batch, latent]
        let logvar = self.logvar.forward(h).clamp(LOGVAR_MIN, LOGVAR_MAX); // [batch, latent]
        (mu, logvar)
    }

    /// The encoder's mean head only (the poor man's VAE's deterministic code z₀ = f(x)):
    /// computing the unused variance head would leave a dangling autodiff graph.
    pub fn encode_mean(&self, x: Tensor<B, 2>) -> Tensor<B, 2> {
        self.mu.forward(self.encoder_body(x)) // [batch, latent]
    }

    /// The encoder up to the latent heads.
    fn encoder_body(&self, x: Tensor<B, 2>) -> Tensor<B, 2> {
        let mut h = match &self.conv_encoder {
            Some(c) => c.forward(x), // [batch, 128·h/8·w/8]
            None => x,               // [batch, input]
        };
        for layer in &self.encoder {
            h = relu(layer.forward(h)); // [batch, hidden_i]
        }
        h
    }

    /// The decoder: Gaussian means or Bernoulli logits of p(x|z).
    pub fn decode(&self, z: Tensor<B, 2>) -> Tensor<B, 2> {
        let mut h = z; // [batch, latent]
        for layer in &self.decoder {
            h = relu(layer.forward(h)); // [batch, hidden_i]
        }
        match &self.conv_decoder {
            // [batch, 128·h/8·w/8] → [batch, input]
            Some(c) => c.forward(relu(self.output.forward(h))),
            None => self.output.forward(h), // [batch, input]
        }
    }

    /// The learned per-feature output log-variance, clamped, for the likelihoods that use
    /// it (`None` otherwise: building it anyway would leave a dangling autodiff graph every
    /// step, which burn 0.21 scans on every backward pass).
    pub fn out_logvar(&self, likelihood: Likelihood) -> Option<Tensor<B, 1>> {
        (likelihood == Likelihood::GaussianLearned)
            .then(|| self.out_logvar.val().clamp(OUT_LOGVAR_MIN, OUT_LOGVAR_MAX))
        // [input]
    }

    /// The output log-variances the anomaly scores use: the learned ones (clamped) of a
    /// `gaussian-learned` model, the fitted ones of a Gaussian model with
    /// [`VaeConfig::fitted_variance`], none (unit variances, or a Bernoulli model) otherwise.
    pub fn score_logvar(&self, vae: &VaeConfig) -> Option<Tensor<B, 1>> {
        match vae.likelihood {
            Likelihood::Gaussian if vae.fitted_variance => Some(self.out_logvar.val()), // [input]
            l => self.out_logvar(l),
        }
    }

    /// Replaces the output log-variances (`[input]`): the fitted variances of
    /// [`VaeConfig::fitted_variance`].
    pub fn set_out_logvar(&mut self, logvar: &[f32], device: &B::Device) {
        self.out_logvar = Param::from_tensor(Tensor::from_data(
            TensorData::new(logvar.to_vec(), [logvar.len()]),
            device,
        ));
    }

    /// Replaces the mixture prior's parameters (VaDE initialization from a GMM fitted on the
    /// pretrained latents): weights `[K]`, means and variances `[K, latent]`, row-major.
    pub fn set_mixture(
        &mut self,
        weights: &[f32],
        means: &[f32],
        variances: &[f32],
        device: &B::Device,
    ) {
        let k = weights.len();
        let d = means.len() / k;
        let t2 = |v: Vec<f32>| Tensor::<B, 2>::from_data(TensorData::new(v, [k, d]), device);
        if self.prior_logits.is_some() {
            let logits: Vec<f32> = weights.iter().map(|w| w.max(1e-6).ln()).collect();
            self.prior_logits = Some(Param::from_tensor(Tensor::from_data(
                TensorData::new(logits, [k]),
                device,
            )));
            let lv = variances.iter().map(|v| v.max(1e-6).ln()).collect();
            self.prior_logvar = Some(Param::from_tensor(t2(lv)));
        }
        self.prior_mu = Some(Param::from_tensor(t2(means.to_vec())));
        if let Some(c) = &mut self.classifier {
            // Su's optimal q(y|z) ∝ exp(−½‖z − μ_y‖²) is a softmax of μ_yᵀz − ½‖μ_y‖²: start
            // the classifier there, from the fitted means, instead of at random.
            let mut wt = vec![0f32; d * k]; // [latent, K]
            let mut bias = vec![0f32; k];
            for c_ in 0..k {
                for j in 0..d {
                    wt[j * k + c_] = means[c_ * d + j];
                    bias[c_] -= 0.5 * means[c_ * d + j].powi(2);
                }
            }
            c.weight = Param::from_tensor(Tensor::from_data(TensorData::new(wt, [d, k]), device));
            c.bias = Some(Param::from_tensor(Tensor::from_data(
                TensorData::new(bias, [k]),
                device,
            )));
        }
    }

    /// Reparameterized sample z = μ + exp(½ log σ²) ⊙ ε with ε ~ N(0, I) drawn on the device.
    pub fn sample_z(mu: Tensor<B, 2>, logvar: Tensor<B, 2>) -> Tensor<B, 2> {
        let eps = Tensor::random(mu.shape(), Distribution::Normal(0.0, 1.0), &mu.device());
        Self::sample_z_with(mu, logvar, eps)
    }

    /// [`Vae::sample_z`] with the noise ε given. `[batch, latent]`
    pub fn sample_z_with(
        mu: Tensor<B, 2>,
        logvar: Tensor<B, 2>,
        eps: Tensor<B, 2>,
    ) -> Tensor<B, 2> {
        mu + (logvar * 0.5).exp() * eps // [batch, latent]
    }
}

/// FactorVAE's discriminator D(z): the logit of "z comes from q(z)" against "z has its
/// dimensions permuted independently across the batch". Not part of the saved model.
#[derive(Module, Debug)]
pub struct Discriminator<B: Backend> {
    layers: Vec<Linear<B>>,
    out: Linear<B>,
}

impl<B: Backend> Discriminator<B> {
    /// A discriminator for `latent` dimensions with two hidden layers of `width`.
    pub fn new(latent: usize, width: usize, device: &B::Device) -> Self {
        Self {
            layers: vec![
                LinearConfig::new(latent, width).init(device),
                LinearConfig::new(width, width).init(device),
            ],
            out: LinearConfig::new(width, 1).init(device),
        }
    }

    /// Logits of D. `[batch]`
    pub fn forward(&self, z: Tensor<B, 2>) -> Tensor<B, 1> {
        let mut h = z; // [batch, latent]
        for l in &self.layers {
            h = burn::tensor::activation::leaky_relu(l.forward(h), 0.2); // [batch, width]
        }
        self.out.forward(h).squeeze_dim::<1>(1) // [batch]
    }
}

/// Permutes every latent column independently across the batch (FactorVAE's samples from the
/// product of marginals). `perms[j]` is the permutation of column j. `[batch, latent]`
pub fn permute_dims<B: Backend>(z: Tensor<B, 2>, perms: &[Vec<usize>]) -> Tensor<B, 2> {
    let [b, d] = z.dims();
    let mut idx = vec![0i32; b * d];
    for (j, p) in perms.iter().enumerate() {
        for (i, &src) in p.iter().enumerate() {
            idx[i * d + j] = src as i32;
        }
    }
    let idx = Tensor::<B, 2, Int>::from_data(TensorData::new(idx, [b, d]), &z.device());
    z.gather(0, idx)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::backend::Cpu;

    #[test]
    fn permutation_keeps_each_column_a_permutation() {
        let z = Tensor::<Cpu, 2>::from_data(
            TensorData::new((0..12).map(|v| v as f32).collect::<Vec<_>>(), [4, 3]),
            &Default::default(),
        );
        let perms = vec![vec![3, 2, 1, 0], vec![0, 1, 2, 3], vec![1, 3, 0, 2]];
        let p: Vec<f32> = permute_dims(z.clone(), &perms)
            .into_data()
            .to_vec()
            .unwrap();
        let orig: Vec<f32> = z.into_data().to_vec().unwrap();
        for j in 0..3 {
            let mut a: Vec<f32> = (0..4).map(|i| orig[i * 3 + j]).collect();
            let mut b: Vec<f32> = (0..4).map(|i| p[i * 3 + j]).collect();
            assert_eq!(b[0], orig[perms[j][0] * 3 + j]);
            a.sort_by(f32::total_cmp);
            b.sort_by(f32::total_cmp);
            assert_eq!(a, b, "column {j}");
        }
        // rows are mixed: row 0 now holds values from three different rows
        assert_eq!(&p[0..3], &[9.0, 1.0, 5.0]);
    }

    #[test]
    fn shapes() {
        let cfg = VaeConfig::new(7, vec![16, 8], 3);
        let m = cfg.init::<Cpu>(&Default::default());
        let x = Tensor::<Cpu, 2>::ones([5, 7], &Default::default());
        let (mu, lv) = m.encode(x);
        assert_eq!(mu.dims(), [5, 3]);
        assert_eq!(lv.dims(), [5, 3]);
        let z = Vae::sample_z(mu, lv);
        assert_eq!(m.decode(z).dims(), [5, 7]);
        assert_eq!(
            m.out_logvar(Likelihood::GaussianLearned).unwrap().dims(),
            [7]
        );
        assert!(m.out_logvar(Likelihood::Gaussian).is_none());
    }

    #[test]
    fn conv_shapes_for_gray_and_rgb() {
        let dev = Default::default();
        for (c, h, w) in [
            (1, 28, 28),
            (3, 28, 28),
            (1, 32, 32),
            (3, 32, 32),
            (1, 64, 64),
            (3, 64, 64),
            (3, 20, 36),
        ] {
            let shape = ImageShape::new(c, h, w);
            let cfg = VaeConfig::new(shape.len(), vec![32], 4)
                .with_arch(Arch::Conv)
                .with_image(Some(shape));
            let m = cfg.init::<Cpu>(&dev);
            let x = Tensor::<Cpu, 2>::random([2, shape.len()], Distribution::Default, &dev);
            let (mu, lv) = m.encode(x);
            assert_eq!(mu.dims(), [2, 4], "{shape}");
            assert_eq!(lv.dims(), [2, 4], "{shape}");
            assert_eq!(m.decode(mu).dims(), [2, shape.len()], "{shape}");
        }
    }

    #[test]
    fn defaults_adapt_to_width() {
        assert_eq!(default_hidden(4), vec![64, 32]);
        assert_eq!(default_hidden(20), vec![128, 64]);
        assert_eq!(default_hidden(33), vec![256, 128]);
        assert_eq!(default_hidden(64), vec![256, 128]);
        assert_eq!(default_hidden(100), vec![512, 256]);
        assert_eq!(default_hidden(784), vec![512, 256]);
        assert_eq!(default_latent(4), 2);
        assert_eq!(default_latent(30), 8);
        assert_eq!(default_latent(64), 10);
    }
}

#[cfg(test)]
mod discriminator_tests {
    use super::*;
    use crate::backend::CpuTrain;
    use crate::model::loss::discriminator_loss;
    use burn::optim::{AdamConfig, GradientsParams, Optimizer};
    use rand::seq::SliceRandom;
    use rand::SeedableRng;
    use rand_distr::{Distribution as _, StandardNormal};

    #[test]
    fn discriminator_learns_to_tell_dependent_codes_from_permuted_ones() {
        // z₂ = z₁ + 0.1·n: correlation 0.995, total correlation −½·ln(1 − ρ²) ≈ 2.3 nats
        type B = CpuTrain;
        let dev = Default::default();
        let mut rng = rand_xoshiro::Xoshiro256PlusPlus::seed_from_u64(3);
        let mut d = Discriminator::<B>::new(2, 64, &dev);
        let mut opt = AdamConfig::new()
            .with_beta_1(0.5)
            .with_beta_2(0.9)
            .init::<B, Discriminator<B>>();
        let mut tc = 0.0;
        for _ in 0..300 {
            let b = 256;
            let mut z = Vec::with_capacity(2 * b);
            for _ in 0..b {
                let z1: f32 = StandardNormal.sample(&mut rng);
                let n: f32 = StandardNormal.sample(&mut rng);
                z.extend([z1, z1 + 0.1 * n]);
            }
            let z = Tensor::<B, 2>::from_data(TensorData::new(z, [b, 2]), &dev);
            let perms: Vec<Vec<usize>> = (0..2)
                .map(|_| {
                    let mut p: Vec<usize> = (0..b).collect();
                    p.shuffle(&mut rng);
                    p
                })
                .collect();
            let permuted = permute_dims(z.clone(), &perms);
            let real = d.forward(z);
            tc = real.clone().mean().into_scalar().elem::<f64>();
            let loss = discriminator_loss(real, d.forward(permuted));
            let grads = GradientsParams::from_grads(loss.backward(), &d);
            d = opt.step(1e-3, d, grads);
        }
        assert!(tc > 1.0, "TC estimate {tc}");
    }
}
