//! Adam with each parameter's update done in one pass on the host, for the CPU backend.
//!
//! burn's [`Adam`] updates a parameter tensor with about a dozen tensor operations (the two
//! moments, the bias correction, the square root, the division, the step), each a separate
//! single-threaded pass over the parameter on the CPU backend. For the networks vaetool trains
//! on the CPU (a million parameters and batches of 64 rows) those passes are a large share of
//! every step. [`HostAdam`] computes the same update, element by element in the same order of
//! single-precision operations, in one pass split across threads ([`rayon`]), so the trained
//! weights are bit for bit those of burn's Adam (a test checks it), only sooner. On a GPU
//! backend it hands every step to burn's Adam: moving tensors to the host each step would cost
//! far more than it saves.

use burn::optim::{
    Adam, AdamConfig, AdamState, AdaptiveMomentumState, LearningRate, SimpleOptimizer,
};
use burn::prelude::*;
use burn::tensor::TensorData;
use rayon::prelude::*;

/// Elements per thread's share of a parameter; smaller tensors are updated on one thread.
const CHUNK: usize = 1 << 15;

/// One chunk of a parameter, its two moments and its gradient, as rayon's zips hand them out.
type Chunk<'a> = (((&'a mut [f32], &'a mut [f32]), &'a mut [f32]), &'a [f32]);

/// Adam (no weight decay, no AMSGrad), on the host when `host` is set, else burn's [`Adam`].
#[derive(Clone)]
pub struct HostAdam {
    beta_1: f32,
    beta_2: f32,
    epsilon: f32,
    host: bool,
    /// burn's Adam with the same constants: the device path.
    adam: Adam,
}

impl HostAdam {
    /// Adam with burn's β₁ = 0.9, β₂ = 0.999 unless told otherwise, the given ε, updated on
    /// the host when `host` is true.
    pub fn new(beta_1: f32, beta_2: f32, epsilon: f32, host: bool) -> Self {
        let adam = AdamConfig::new()
            .with_beta_1(beta_1)
            .with_beta_2(beta_2)
            .with_epsilon(epsilon)
            .build();
        Self {
            beta_1,
            beta_2,
            epsilon,
            host,
            adam,
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

/// The f32 values of data made by [`host_values`].
fn values(d: &mut TensorData) -> &mut [f32] {
    d.as_mut_slice::<f32>().expect("f32 data after convert")
}

impl<B: Backend> SimpleOptimizer<B> for HostAdam {
    type State<const D: usize> = AdamState<B, D>;

    fn step<const D: usize>(
        &self,
        lr: LearningRate,
        tensor: Tensor<B, D>,
        grad: Tensor<B, D>,
        state: Option<Self::State<D>>,
    ) -> (Tensor<B, D>, Option<Self::State<D>>) {
        if !self.host {
            return self.adam.step(lr, tensor, grad, state);
        }
        let device = tensor.device();
        let shape = tensor.shape();
        let dtype = tensor.dtype();
        let mut p = host_values(tensor);
        let g = host_values(grad);
        let (time, mut m, mut v, first) = match state {
            Some(s) => {
                let s = s.momentum;
                (
                    s.time + 1,
                    host_values(s.moment_1),
                    host_values(s.moment_2),
                    false,
                )
            }
            None => {
                let zeros = || TensorData::new(vec![0f32; g.num_elements()], shape.clone());
                (1, zeros(), zeros(), true)
            }
        };
        // The constants as burn's Adam computes them, in f32.
        let (b1, b2) = (self.beta_1, self.beta_2);
        let (f1, f2) = (1.0 - b1, 1.0 - b2);
        let bias_correction2_sqrt = (1.0 - b2.powi(time as i32)).sqrt();
        let combined_factor = bias_correction2_sqrt / (1.0 - b1.powi(time as i32));
        let eps = self.epsilon * bias_correction2_sqrt;
        let lr = lr as f32;
        // One element's update, operation for operation burn's: m·β₁ + g·(1−β₁) (g·(1−β₁) on
        // the first step), v·β₂ + g²·(1−β₂), then p − (m·c)/(√v + ε′)·lr.
        let step = move |p: &mut f32, m: f32, v: f32| {
            *p -= (m * combined_factor) / (v.sqrt() + eps) * lr;
        };
        // (branch-free loops over zipped slices, the constants copied in: the compiler
        // vectorizes them)
        let chunk = move |(((p, m), v), g): Chunk<'_>| {
            let all = p.iter_mut().zip(m.iter_mut()).zip(v.iter_mut()).zip(g);
            if first {
                for (((p, m), v), &g) in all {
                    *m = g * f1;
                    *v = (g * g) * f2;
                    step(p, *m, *v);
                }
            } else {
                for (((p, m), v), &g) in all {
                    *m = *m * b1 + g * f1;
                    *v = *v * b2 + (g * g) * f2;
                    step(p, *m, *v);
                }
            }
        };
        let g = g.as_slice::<f32>().expect("f32 data after convert");
        let (p_, m_, v_) = (values(&mut p), values(&mut m), values(&mut v));
        if p_.len() > CHUNK {
            p_.par_chunks_mut(CHUNK)
                .zip(m_.par_chunks_mut(CHUNK))
                .zip(v_.par_chunks_mut(CHUNK))
                .zip(g.par_chunks(CHUNK))
                .for_each(chunk);
        } else {
            chunk((((p_, m_), v_), g));
        }
        let back =
            |values: TensorData| Tensor::<B, D>::from_data(values.convert_dtype(dtype), &device);
        let state = AdamState::new(AdaptiveMomentumState::new(time, back(m), back(v)));
        (back(p), Some(state))
    }

    fn to_device<const D: usize>(state: Self::State<D>, device: &B::Device) -> Self::State<D> {
        <Adam as SimpleOptimizer<B>>::to_device(state, device)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::backend::CpuTrain;
    use burn::module::Module;
    use burn::module::Param;
    use burn::nn::{Linear, LinearConfig};
    use burn::optim::{GradientsParams, Optimizer};
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

    /// Trains the same network with burn's Adam and with [`HostAdam`] (clipping included)
    /// and returns both final weights.
    fn both(steps: usize, epsilon: f32) -> (Vec<f32>, Vec<f32>) {
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
        let xs: Vec<TensorData> = (0..steps).map(|_| draw([16, 300], 1.0)).collect();
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
        let clip = || burn::grad_clipping::GradientClippingConfig::Norm(1.0).init();
        let burns = AdamConfig::new()
            .with_epsilon(epsilon)
            .with_grad_clipping(Some(burn::grad_clipping::GradientClippingConfig::Norm(1.0)))
            .init::<CpuTrain, Net<CpuTrain>>();
        let ours =
            burn::optim::adaptor::OptimizerAdaptor::from(HostAdam::new(0.9, 0.999, epsilon, true))
                .with_grad_clipping(clip());
        fn run<O: Optimizer<Net<CpuTrain>, CpuTrain>>(
            mut net: Net<CpuTrain>,
            mut opt: O,
            xs: &[Tensor<CpuTrain, 2>],
        ) -> Vec<f32> {
            for x in xs {
                // a loss whose gradients are large early (clipped) and small late
                let loss = net.forward(x.clone()).powi_scalar(2).mean();
                let grads = GradientsParams::from_grads(loss.backward(), &net);
                net = opt.step(3e-3, net, grads);
            }
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
        }
        let first = run(init(), burns, &xs);
        let second = run(init(), ours, &xs);
        (first, second)
    }

    #[test]
    fn host_adam_is_bit_for_bit_burns_adam() {
        for eps in [1e-8, 1e-5] {
            let (burns, ours) = both(25, eps);
            assert_eq!(burns.len(), 300 * 200 + 200 * 3 + 3);
            let differ = burns
                .iter()
                .zip(&ours)
                .filter(|(a, b)| a.to_bits() != b.to_bits())
                .count();
            assert_eq!(differ, 0, "ε {eps}: {differ} weights differ");
        }
    }

    #[test]
    fn host_adam_moves_the_weights() {
        // the check above would pass if neither optimizer moved anything
        let device = Default::default();
        let p = Tensor::<crate::backend::Cpu, 1>::from_floats([1.0, -2.0, 0.5], &device);
        let g = Tensor::<crate::backend::Cpu, 1>::from_floats([0.5, -0.25, 0.0], &device);
        let (p1, state) = SimpleOptimizer::<crate::backend::Cpu>::step(
            &HostAdam::new(0.9, 0.999, 1e-8, true),
            0.1,
            p,
            g,
            None,
        );
        // the first Adam step moves each weight by lr·sign(g) (g ≠ 0)
        let p1 = p1.into_data().to_vec::<f32>().unwrap();
        assert!((p1[0] - 0.9).abs() < 1e-6, "{p1:?}");
        assert!((p1[1] + 1.9).abs() < 1e-6, "{p1:?}");
        assert_eq!(p1[2], 0.5);
        assert_eq!(state.unwrap().momentum.time, 1);
    }
}
