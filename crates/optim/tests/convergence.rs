//! Every optimizer drives a convex quadratic to its minimum in a bounded number of steps.
//!
//! f(w) = ½ Σ aᵢ wᵢ² with a = (1, 10, 0.5, 4) (condition number 20), w₀ = (1, −1, 2, 0.5).

use convnet_autograd::ParamStore;
use convnet_optim::{
    AdadeltaConfig, AdagradConfig, AdamConfig, Gradients, Optimizer, RmsPropConfig, SgdConfig,
};
use convnet_tensor::Tensor;

const A: [f64; 4] = [1.0, 10.0, 0.5, 4.0];

fn loss(w: &[f64]) -> f64 {
    w.iter().zip(A).map(|(w, a)| 0.5 * a * w * w).sum()
}

/// Steps until the loss is below `target`, or `None` after `max_steps`.
fn steps_to(opt: &mut dyn Optimizer<f64>, target: f64, max_steps: usize) -> Option<usize> {
    let mut params = ParamStore::new();
    params
        .insert(
            "w",
            Tensor::from_vec(vec![1.0, -1.0, 2.0, 0.5], &[2, 2]).unwrap(),
        )
        .unwrap();
    for step in 0..max_steps {
        let w = params.get("w").unwrap().to_vec();
        if loss(&w) < target {
            return Some(step);
        }
        let g: Vec<f64> = w.iter().zip(A).map(|(w, a)| a * w).collect();
        let grads = Gradients::from([("w".to_string(), Tensor::from_vec(g, &[2, 2]).unwrap())]);
        opt.step(&mut params, &grads).unwrap();
    }
    None
}

fn converges(label: &str, mut opt: impl Optimizer<f64>, target: f64, max_steps: usize) {
    let steps = steps_to(&mut opt, target, max_steps);
    assert!(
        steps.is_some(),
        "{label} did not reach loss {target} in {max_steps} steps"
    );
}

#[test]
fn sgd_converges() {
    converges("SGD", SgdConfig::new(0.1).build().unwrap(), 1e-10, 500);
}

#[test]
fn momentum_and_nesterov_converge() {
    converges(
        "momentum",
        SgdConfig::new(0.02).momentum(0.9).build().unwrap(),
        1e-10,
        500,
    );
    let nesterov = SgdConfig::new(0.02)
        .momentum(0.9)
        .nesterov(true)
        .build()
        .unwrap();
    converges("Nesterov", nesterov, 1e-10, 500);
}

#[test]
fn adagrad_converges() {
    converges(
        "Adagrad",
        AdagradConfig::new(0.5).build().unwrap(),
        1e-10,
        2000,
    );
}

#[test]
fn rmsprop_converges() {
    converges(
        "RMSProp",
        RmsPropConfig::new(0.01).build().unwrap(),
        1e-6,
        2000,
    );
    let centred = RmsPropConfig::new(0.01)
        .centered(true)
        .momentum(0.5)
        .build()
        .unwrap();
    converges("centred RMSProp", centred, 1e-6, 2000);
}

#[test]
fn adadelta_converges() {
    // With the paper's ε = 1e-6 the first steps are ~√ε and, near the minimum, Adadelta acts
    // like gradient descent with a rate ≈ 1 (too large for a = 10), so it stalls around
    // |g| ~ √ε; a larger ε and longer memory make it converge further.
    converges(
        "Adadelta",
        AdadeltaConfig::new(1.0).build().unwrap(),
        1e-2,
        1000,
    );
    let tuned = AdadeltaConfig::new(1.0)
        .rho(0.95)
        .eps(1e-4)
        .build()
        .unwrap();
    converges("Adadelta (ρ 0.95, ε 1e-4)", tuned, 1e-6, 2000);
}

#[test]
fn adam_family_converges() {
    converges("Adam", AdamConfig::new(0.05).build().unwrap(), 1e-8, 2000);
    converges(
        "AMSGrad",
        AdamConfig::new(0.05).amsgrad(true).build().unwrap(),
        1e-8,
        2000,
    );
    let adamw = AdamConfig::adamw(0.05).weight_decay(0.01).build().unwrap();
    converges("AdamW", adamw, 1e-8, 2000);
}
