//! Adam with per-parameter gradient-norm clipping, for the training loop: on the CPU each
//! parameter's whole update in two passes on the host, elsewhere burn's optimizer.
//!
//! burn's [`Adam`] behind its [`OptimizerAdaptor`] updates a parameter with about a dozen
//! tensor operations — summing the gradients of a step split in halves, the clipping's square,
//! sum and product, the two moments, the bias correction, the square root, the division, the
//! step —, each a separate pass over the parameter, most of them on one thread on the CPU
//! backend, and the moments are turned into tensors and back every step. For the networks
//! vaetool trains on the CPU (up to a few million parameters, steps of a few milliseconds)
//! those passes are memory-bound and a large share of every step. [`HostAdam`] keeps the
//! moments in host memory and updates a parameter from the sum of one or two gradients in two
//! threaded passes ([`rayon`]): one for the clipping's norm, one for the whole update, element
//! for element the single-precision operations of burn's accumulator, clipping and Adam in
//! the same order. Only the norm's sum is added up in another order than burn's; so the
//! weights are bit for bit burn's where the clipping leaves a gradient alone (its norm under
//! the limit) and within rounding where it scales one (tests check both). On a GPU backend
//! [`ModelAdam`] hands every step to burn's Adam: moving tensors to the host each step would
//! cost far more than it saves.

use std::collections::HashMap;

use burn::module::{AutodiffModule, ModuleMapper, Param, ParamId};
use burn::optim::adaptor::OptimizerAdaptor;
use burn::optim::{Adam, AdamConfig, GradientsAccumulator, GradientsParams, Optimizer};
use burn::prelude::*;
use burn::tensor::backend::AutodiffBackend;
use burn::tensor::TensorData;
use rayon::prelude::*;

/// Elements per thread's share of a parameter; smaller tensors are updated on one thread.
/// The norm's partial sums are taken over these chunks, whatever the number of threads, so a
/// step gives the same bits on any thread count.
const CHUNK: usize = 1 << 15;

/// Independent partial sums of a chunk's squares: the compiler vectorizes the loop.
const LANES: usize = 16;

/// Adam's state of one parameter: its step count and the two moments, in host memory.
struct Moments {
    time: i32,
    m: Vec<f32>,
    v: Vec<f32>,
}

/// Adam (no weight decay, no AMSGrad) with each parameter's gradient clipped to an L2 norm of
/// at most `clip` (burn's `GradientClipping::Norm`), its moments and updates on the host.
pub struct HostAdam {
    beta_1: f32,
    beta_2: f32,
    epsilon: f32,
    clip: f32,
    moments: HashMap<ParamId, Moments>,
}

impl HostAdam {
    /// Adam with the given β₁, β₂ and ε, each parameter's gradient clipped to the norm `clip`.
    pub fn new(beta_1: f32, beta_2: f32, epsilon: f32, clip: f32) -> Self {
        Self {
            beta_1,
            beta_2,
            epsilon,
            clip,
            moments: HashMap::new(),
        }
    }

    /// One step of `module` with learning rate `lr` on the gradients `grads`, summed with
    /// `more` when given (the other half of a split step).
    pub fn step<B: AutodiffBackend, M: AutodiffModule<B>>(
        &mut self,
        lr: f64,
        module: M,
        grads: GradientsParams,
        more: Option<GradientsParams>,
    ) -> M {
        module.map(&mut HostMapper {
            adam: self,
            grads: [Some(grads), more],
            lr: lr as f32,
        })
    }

    /// Updates the parameter `p` (with id `id`) from the gradient `a` (+ `b`).
    fn update(&mut self, id: ParamId, p: &mut [f32], a: &[f32], b: Option<&[f32]>, lr: f32) {
        let n = p.len();
        let state = self.moments.entry(id).or_insert_with(|| Moments {
            time: 0,
            m: vec![0.0; n],
            v: vec![0.0; n],
        });
        state.time += 1;
        let (time, first, two) = (state.time, state.time == 1, b.is_some());
        // the clipping's factor, as burn's: clip / (‖g‖ + min_positive), at most 1
        let partial = |(i, a): (usize, &[f32])| {
            let b = b.map(|b| &b[i * CHUNK..i * CHUNK + a.len()]);
            sum_of_squares(a, b)
        };
        let parts: Vec<f32> = if n > CHUNK {
            a.par_chunks(CHUNK).enumerate().map(partial).collect()
        } else {
            vec![partial((0, a))]
        };
        let norm = parts.iter().sum::<f32>().sqrt();
        let coef = (self.clip / (norm + f32::MIN_POSITIVE)).min(1.0);
        // The constants as burn's Adam computes them, in f32.
        let (b1, b2) = (self.beta_1, self.beta_2);
        let (f1, f2) = (1.0 - b1, 1.0 - b2);
        let bias_correction2_sqrt = (1.0 - b2.powi(time)).sqrt();
        let combined_factor = bias_correction2_sqrt / (1.0 - b1.powi(time));
        let eps = self.epsilon * bias_correction2_sqrt;
        let c = Constants {
            coef,
            b1,
            b2,
            f1,
            f2,
            combined_factor,
            eps,
            lr,
        };
        let chunk = |i: usize, p: &mut [f32], m: &mut [f32], v: &mut [f32]| {
            let from = i * CHUNK;
            let a = &a[from..from + p.len()];
            // (`a` again in place of a missing `b`: the loops without `b` do not read it)
            let b = b.map_or(a, |b| &b[from..from + a.len()]);
            match (first, two) {
                (true, true) => adam_chunk::<true, true>(&c, p, m, v, a, b),
                (true, false) => adam_chunk::<true, false>(&c, p, m, v, a, b),
                (false, true) => adam_chunk::<false, true>(&c, p, m, v, a, b),
                (false, false) => adam_chunk::<false, false>(&c, p, m, v, a, b),
            }
        };
        let (m, v) = (&mut state.m[..], &mut state.v[..]);
        if n > CHUNK {
            p.par_chunks_mut(CHUNK)
                .zip(m.par_chunks_mut(CHUNK))
                .zip(v.par_chunks_mut(CHUNK))
                .enumerate()
                .for_each(|(i, ((p, m), v))| chunk(i, p, m, v));
        } else {
            chunk(0, p, m, v);
        }
    }
}

/// The constants of one parameter's step: the clipping's factor, Adam's as burn computes
/// them in f32, the learning rate.
struct Constants {
    coef: f32,
    b1: f32,
    b2: f32,
    f1: f32,
    f2: f32,
    combined_factor: f32,
    eps: f32,
    lr: f32,
}

/// Adam's update of a chunk of a parameter `p` and its moments from the gradient `a` (+ `b`
/// when `TWO`), operation for operation burn's: g = (a + b)·coef, then m·β₁ + g·(1−β₁)
/// (g·(1−β₁) on the `FIRST` step), v·β₂ + g²·(1−β₂), and p − (m·c)/(√v + ε′)·lr. (Branch-free
/// loops over zipped slices, one per case: the compiler vectorizes them.)
fn adam_chunk<const FIRST: bool, const TWO: bool>(
    c: &Constants,
    p: &mut [f32],
    m: &mut [f32],
    v: &mut [f32],
    a: &[f32],
    b: &[f32],
) {
    let all = p
        .iter_mut()
        .zip(m.iter_mut())
        .zip(v.iter_mut())
        .zip(a.iter().zip(b));
    for (((p, m), v), (&a, &b)) in all {
        let g = if TWO { a + b } else { a } * c.coef;
        if FIRST {
            *m = g * c.f1;
            *v = (g * g) * c.f2;
        } else {
            *m = *m * c.b1 + g * c.f1;
            *v = *v * c.b2 + (g * g) * c.f2;
        }
        *p -= (*m * c.combined_factor) / (v.sqrt() + c.eps) * c.lr;
    }
}

/// Σ (a + b)² (Σ a² without `b`), in [`LANES`] partial sums.
fn sum_of_squares(a: &[f32], b: Option<&[f32]>) -> f32 {
    let mut lanes = [0f32; LANES];
    let mut rest = 0f32;
    match b {
        Some(b) => {
            for (a, b) in a.chunks_exact(LANES).zip(b.chunks_exact(LANES)) {
                for j in 0..LANES {
                    let g = a[j] + b[j];
                    lanes[j] += g * g;
                }
            }
            let tail = a.len() - a.len() % LANES;
            for (a, b) in a[tail..].iter().zip(&b[tail..]) {
                rest += (a + b) * (a + b);
            }
        }
        None => {
            for a in a.chunks_exact(LANES) {
                for j in 0..LANES {
                    lanes[j] += a[j] * a[j];
                }
            }
            let tail = a.len() - a.len() % LANES;
            for a in &a[tail..] {
                rest += a * a;
            }
        }
    }
    lanes.iter().sum::<f32>() + rest
}

/// Maps a module's parameters through [`HostAdam::update`].
struct HostMapper<'a> {
    adam: &'a mut HostAdam,
    grads: [Option<GradientsParams>; 2],
    lr: f32,
}

impl<B: AutodiffBackend> ModuleMapper<B> for HostMapper<'_> {
    fn map_float<const D: usize>(&mut self, param: Param<Tensor<B, D>>) -> Param<Tensor<B, D>> {
        let (id, tensor, mapper) = param.consume();
        let mut grads = self
            .grads
            .iter_mut()
            .flatten()
            .filter_map(|g| g.remove::<B::InnerBackend, D>(id))
            .map(host_values);
        let Some(a) = grads.next() else {
            return Param::from_mapped_value(id, tensor, mapper);
        };
        let b = grads.next();
        let require_grad = tensor.is_require_grad();
        let device = tensor.device();
        let dtype = tensor.dtype();
        let mut p = host_values(tensor.inner());
        self.adam.update(
            id,
            values(&mut p),
            floats(&a),
            b.as_ref().map(floats),
            self.lr,
        );
        let mut tensor = Tensor::from_inner(Tensor::from_data(p.convert_dtype(dtype), &device));
        if require_grad {
            tensor = tensor.require_grad();
        }
        Param::from_mapped_value(id, tensor, mapper)
    }
}

/// The training loop's optimizer: [`HostAdam`] on a backend whose tensors live in host memory
/// ([`host_backend`]), burn's Adam with the same clipping elsewhere.
pub enum ModelAdam<B: AutodiffBackend, M: AutodiffModule<B>> {
    /// Updates on the host.
    Host(HostAdam),
    /// burn's Adam and clipping, on the device.
    Device(OptimizerAdaptor<Adam, M, B>),
}

impl<B: AutodiffBackend, M: AutodiffModule<B>> ModelAdam<B, M> {
    /// Adam with burn's β₁ = 0.9, β₂ = 0.999, the given ε, each parameter's gradient clipped
    /// to the norm `clip`; on the host when `host` is true.
    pub fn new(epsilon: f32, clip: f32, host: bool) -> Self {
        if host {
            ModelAdam::Host(HostAdam::new(0.9, 0.999, epsilon, clip))
        } else {
            ModelAdam::Device(
                AdamConfig::new()
                    .with_epsilon(epsilon)
                    .with_grad_clipping(Some(burn::grad_clipping::GradientClippingConfig::Norm(
                        clip,
                    )))
                    .init(),
            )
        }
    }

    /// One step of `module` on `grads`, summed with `more` when given.
    pub fn step(
        &mut self,
        lr: f64,
        module: M,
        grads: GradientsParams,
        more: Option<GradientsParams>,
    ) -> M {
        match self {
            ModelAdam::Host(adam) => adam.step(lr, module, grads, more),
            ModelAdam::Device(adam) => {
                let grads = match more {
                    Some(more) => {
                        let mut sum = GradientsAccumulator::<M>::new();
                        sum.accumulate(&module, grads);
                        sum.accumulate(&module, more);
                        sum.grads()
                    }
                    None => grads,
                };
                adam.step(lr, module, grads)
            }
        }
    }
}

/// Whether `B` is a backend whose tensors live in host memory, where [`HostAdam`] updates on
/// the host (`VAETOOL_HOST_ADAM=0|1` overrides, for measurements and tests).
pub fn host_backend<B: Backend>(device: &B::Device) -> bool {
    match std::env::var("VAETOOL_HOST_ADAM").as_deref() {
        Ok("0") => false,
        Ok("1") => true,
        _ => {
            let name = B::name(device);
            !(name.contains("cubecl") || name.contains("fusion") || name.contains("cuda"))
        }
    }
}

/// A tensor's values in host memory, as f32 (no copy on the CPU backend when the tensor is
/// its buffer's only user).
fn host_values<B: Backend, const D: usize>(t: Tensor<B, D>) -> TensorData {
    t.into_data().convert::<f32>()
}

/// The f32 values of data made by [`host_values`], to read.
fn floats(d: &TensorData) -> &[f32] {
    d.as_slice::<f32>().expect("f32 data after convert")
}

/// The f32 values of data made by [`host_values`].
fn values(d: &mut TensorData) -> &mut [f32] {
    d.as_mut_slice::<f32>().expect("f32 data after convert")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::backend::CpuTrain;
    use burn::module::Module;
    use burn::module::Param;
    use burn::nn::{Linear, LinearConfig};
    use rand::SeedableRng;
    use rand_distr::Distribution;

    /// Two layers, one large enough to be split across threads.
    #[derive(Module, Debug)]
    struct Net<B: Backend> {
        a: Linear<B>,
        b: Linear<B>,
    }

    impl<B: Backend> Net<B> {
        fn forward(&self, x: Tensor<B, 2>) -> Tensor<B, 2> {
            // [batch, 300] -> [batch, 200] -> [batch, 3]
            self.b
                .forward(burn::tensor::activation::tanh(self.a.forward(x)))
        }
    }

    /// Trains the same network `steps` steps with burn's Adam, clipping and accumulator and
    /// with [`HostAdam`], each step on the gradients of one batch or (`halves`) the sum of two
    /// batches' gradients, and returns both final weights.
    fn both(steps: usize, epsilon: f32, clip: f32, halves: bool) -> (Vec<f32>, Vec<f32>) {
        let device = Default::default();
        // Weights and inputs come from a seeded generator of this test's own, never from
        // burn's global RNG, which the other tests of this binary draw from in parallel.
        let mut rng = rand_xoshiro::Xoshiro256PlusPlus::seed_from_u64(7);
        let mut draw = |shape: [usize; 2], scale: f32| {
            let values: Vec<f32> = (0..shape[0] * shape[1])
                .map(|_| {
                    let z: f32 = rand_distr::StandardNormal.sample(&mut rng);
                    scale * z
                })
                .collect();
            TensorData::new(values, shape)
        };
        let (wa, ba, wb, bb) = (
            draw([300, 200], 0.06),
            draw([1, 200], 0.06),
            draw([200, 3], 0.07),
            draw([1, 3], 0.07),
        );
        let xs: Vec<TensorData> = (0..2 * steps).map(|_| draw([16, 300], 1.0)).collect();
        // two networks built from the same numbers (not clones: no buffer shared between runs)
        let init = || {
            let param2 = |d: &TensorData| Param::from_tensor(Tensor::from_data(d.clone(), &device));
            let param1 = |d: &TensorData| {
                Param::from_tensor(
                    Tensor::<CpuTrain, 2>::from_data(d.clone(), &device).flatten(0, 1),
                )
            };
            let mut a = LinearConfig::new(300, 200).init(&device);
            let mut b = LinearConfig::new(200, 3).init(&device);
            a.weight = param2(&wa);
            a.bias = Some(param1(&ba));
            b.weight = param2(&wb);
            b.bias = Some(param1(&bb));
            Net::<CpuTrain> { a, b }
        };
        let xs: Vec<Tensor<CpuTrain, 2>> = xs
            .into_iter()
            .map(|d| Tensor::from_data(d, &device))
            .collect();
        // a loss whose gradients are large early (clipped when `clip` is small) and small late
        let grads = |net: &Net<CpuTrain>, x: &Tensor<CpuTrain, 2>| {
            let loss = net.forward(x.clone()).powi_scalar(2).mean();
            GradientsParams::from_grads(loss.backward(), net)
        };
        let weights = |net: Net<CpuTrain>| {
            let mut w = net.a.weight.val().into_data().to_vec::<f32>().unwrap();
            w.extend(net.b.weight.val().into_data().to_vec::<f32>().unwrap());
            w.extend(
                net.b
                    .bias
                    .unwrap()
                    .val()
                    .into_data()
                    .to_vec::<f32>()
                    .unwrap(),
            );
            w
        };
        let mut burns = AdamConfig::new()
            .with_epsilon(epsilon)
            .with_grad_clipping(Some(burn::grad_clipping::GradientClippingConfig::Norm(
                clip,
            )))
            .init::<CpuTrain, Net<CpuTrain>>();
        let mut net = init();
        for pair in xs.chunks(2) {
            let g = if halves {
                let mut sum = GradientsAccumulator::<Net<CpuTrain>>::new();
                sum.accumulate(&net, grads(&net, &pair[0]));
                sum.accumulate(&net, grads(&net, &pair[1]));
                sum.grads()
            } else {
                grads(&net, &pair[0])
            };
            net = burns.step(3e-3, net, g);
        }
        let first = weights(net);
        let mut ours = HostAdam::new(0.9, 0.999, epsilon, clip);
        let mut net = init();
        for pair in xs.chunks(2) {
            let more = halves.then(|| grads(&net, &pair[1]));
            let g = grads(&net, &pair[0]);
            net = ours.step(3e-3, net, g, more);
        }
        (first, weights(net))
    }

    #[test]
    fn host_adam_is_bit_for_bit_burns_adam_where_the_clipping_leaves_gradients_alone() {
        for (eps, halves) in [(1e-8, false), (1e-5, false), (1e-8, true)] {
            let (burns, ours) = both(25, eps, 1e30, halves);
            assert_eq!(burns.len(), 300 * 200 + 200 * 3 + 3);
            let differ = burns
                .iter()
                .zip(&ours)
                .filter(|(a, b)| a.to_bits() != b.to_bits())
                .count();
            assert_eq!(
                differ, 0,
                "ε {eps}, halves {halves}: {differ} weights differ"
            );
        }
    }

    #[test]
    fn host_adam_clips_as_burn_does_within_rounding() {
        for halves in [false, true] {
            // a norm of 0.05: the first steps' gradients are scaled down
            let (burns, ours) = both(25, 1e-8, 0.05, halves);
            let unclipped = both(25, 1e-8, 1e30, halves).0;
            let moved = burns
                .iter()
                .zip(&unclipped)
                .filter(|(a, b)| (*a - *b).abs() > 1e-4)
                .count();
            assert!(moved > 1000, "the clipping changed only {moved} weights");
            for (a, b) in burns.iter().zip(&ours) {
                assert!(
                    (a - b).abs() <= 1e-5 * (1.0 + a.abs()),
                    "burn {a}, ours {b}"
                );
            }
        }
    }

    #[test]
    fn host_adam_moves_the_weights() {
        // the checks above would pass if neither optimizer moved anything
        let device = Default::default();
        let mut net = Net::<CpuTrain> {
            a: LinearConfig::new(2, 1).init(&device),
            b: LinearConfig::new(1, 1).init(&device),
        };
        net.a.weight = Param::from_tensor(Tensor::from_floats([[1.0], [-2.0]], &device));
        let x = Tensor::<CpuTrain, 2>::from_floats([[0.5, -0.25]], &device);
        let w0 = net.a.weight.val().into_data().to_vec::<f32>().unwrap();
        let loss = net.a.forward(x).sum();
        let g = GradientsParams::from_grads(loss.backward(), &net);
        let net = HostAdam::new(0.9, 0.999, 1e-8, 10.0).step(0.1, net, g, None);
        // the first Adam step moves each weight by lr·sign(g): here g = x
        let w1 = net.a.weight.val().into_data().to_vec::<f32>().unwrap();
        assert!((w1[0] - (w0[0] - 0.1)).abs() < 1e-6, "{w1:?}");
        assert!((w1[1] - (w0[1] + 0.1)).abs() < 1e-6, "{w1:?}");
    }
}
