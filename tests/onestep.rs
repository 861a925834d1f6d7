//! VaDE and Su's clustering VAE, with both prior initialisations, on three separated blobs, in a
//! test binary of its own: burn's CPU random numbers are process-global, and among the
//! library's parallel unit tests other tests' draws changed this test's training from run to
//! run (a fresh-clone run once got ACC 0.65 for VaDE with the N2D start); alone in its process
//! the run is the same every time.

use vaetool::backend::CpuTrain;
use vaetool::data::Matrix;
use vaetool::model::{Prior, VaeConfig};
use vaetool::onestep::{train_one_step, MixtureInit, OneStepConfig};
use vaetool::train::TrainConfig;

fn blobs() -> Matrix {
    let mut v = Vec::new();
    for i in 0..120 {
        let c = (i % 3) as f32;
        let a = ((i * 7 % 13) as f32 - 6.0) / 20.0;
        let b = ((i * 5 % 11) as f32 - 5.0) / 20.0;
        v.extend([c * 3.0 + a, -c * 2.0 + b, c + a - b, 1.0 - c + b]);
    }
    Matrix::new(120, 4, v)
}

#[test]
fn vade_and_su_separate_three_blobs() {
    let x = blobs();
    let truth: Vec<usize> = (0..120).map(|i| i % 3).collect();
    for (prior, init) in [
        (Prior::Mixture(3), MixtureInit::N2d),
        (Prior::Mixture(3), MixtureInit::Gmm),
        (Prior::Su(3), MixtureInit::N2d),
        (Prior::Su(3), MixtureInit::Gmm),
    ] {
        let vae = VaeConfig::new(4, vec![16], 2).with_prior(prior);
        let cfg = TrainConfig::new(30, 16);
        let one = OneStepConfig {
            pretrain_epochs: 20,
            restarts: 2,
            gmm_init: 3,
            init,
            neighbors: vaetool::manifold::DEFAULT_NEIGHBORS,
        };
        let r =
            train_one_step::<CpuTrain>(&x, &vae, &cfg, &one, &Default::default(), &mut |_, _| {})
                .unwrap();
        let acc = vaetool::metrics::clustering_accuracy(&truth, &r.labels);
        assert!(acc > 0.95, "{prior:?} {init:?}: ACC {acc}");
        assert_eq!(r.restart_elbos.len(), 2);
        assert!(r.restart_elbos[r.kept] <= r.restart_elbos[1 - r.kept]);
        assert_eq!(r.probabilities.cols, 3);
    }
}

/// The second phase of VaDE and Su trains the prior that the first phase's GMM set
/// (`Vae::set_mixture` on the plain backend): burn marks a parameter made from a tensor of
/// the plain backend as needing no gradient, and `from_inner` kept it so — the mixture stayed
/// where the GMM put it while the encoder and decoder trained around it.
#[test]
fn the_one_step_phase_trains_the_mixture_the_gmm_set() {
    use vaetool::backend::Cpu;
    use vaetool::model::Objective;
    use vaetool::train::train_from;
    let x = blobs();
    for prior in [Prior::Mixture(3), Prior::Su(3)] {
        let vae = VaeConfig::new(4, vec![16], 2).with_prior(prior);
        let device = Default::default();
        let mut model = vae.init::<Cpu>(&device);
        let means = [-1.0, 0.0, 0.0, 1.0, 1.0, 0.0];
        model.set_mixture(&[0.3, 0.3, 0.4], &means, &[1.0; 6], &device);
        let cfg = TrainConfig::new(5, 16).with_val_fraction(0.0);
        let before = model.prior_components().unwrap();
        let trained = train_from::<CpuTrain>(
            &x,
            &vae,
            &cfg,
            &device,
            Some(model),
            Objective::Elbo,
            &mut |_| {},
        )
        .unwrap();
        let after = trained.model.prior_components().unwrap();
        assert_ne!(before.1, after.1, "{prior:?}: the means did not move");
        if prior == Prior::Mixture(3) {
            assert_ne!(before.0, after.0, "the weights did not move");
            assert_ne!(before.2, after.2, "the variances did not move");
        }
    }
}
