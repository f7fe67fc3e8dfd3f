//! The worked two-layer network from the lectures, forward and one backpropagation step,
//! against the hand computation.
//!
//! Inputs x₁ = x₂ = 1; hidden weights (0.8, 0.6), (0.2, 0.9), (0.7, 0.1); output weights
//! (0.2, 0.8, 0.5); sigmoid everywhere; no biases.
//!
//! Forward, by hand:
//!   z_h = (0.8 + 0.6, 0.2 + 0.9, 0.7 + 0.1) = (1.4, 1.1, 0.8)
//!   h   = σ(z_h) = (0.8022, 0.7503, 0.6900)                       → 0.80, 0.75, 0.69
//!   z_o = 0.2·0.8022 + 0.8·0.7503 + 0.5·0.6900 = 1.1056
//!   o   = σ(1.1056) = 0.7513                                      → 0.75
//!
//! Backward, squared error L = (o − t)² with target t = 1:
//!   L      = (0.7513 − 1)² = 0.06184
//!   δ_o    = ∂L/∂z_o = 2(o − t)·o(1 − o) = 2·(−0.2487)·0.7513·0.2487 = −0.092930
//!   ∂L/∂w₂ = δ_o·h = (−0.074547, −0.069721, −0.064119)
//!   δ_h    = δ_o·w₂ ⊙ h(1 − h) = (−0.0029493, −0.0139298, −0.0099393)
//!   ∂L/∂W₁ = δ_h ⊗ x = each row's two entries equal to its δ_h (x = (1, 1))
//! One SGD step with η = 1: w ← w − η·∂L/∂w
//!   w₂ = (0.274547, 0.869721, 0.564119)
//!   W₁ = (0.802949, 0.602949), (0.213930, 0.913930), (0.709939, 0.109939)

use approx::assert_abs_diff_eq;
use convnet_nn::prelude::*;
use convnet_optim::{Optimizer, SgdConfig};

fn net() -> Sequential<f64> {
    Sequential::new("")
        .with(Linear::new("hidden", 2, 3).bias(false))
        .with(Activation::sigmoid("hidden_act"))
        .with(Linear::new("out", 3, 1).bias(false))
        .with(Activation::sigmoid("out_act"))
}

fn params() -> ParamStore<f64> {
    let mut p = ParamStore::new();
    p.insert(
        "hidden.weight",
        Tensor::from_vec(vec![0.8, 0.6, 0.2, 0.9, 0.7, 0.1], &[3, 2]).unwrap(),
    )
    .unwrap();
    p.insert(
        "out.weight",
        Tensor::from_vec(vec![0.2, 0.8, 0.5], &[1, 3]).unwrap(),
    )
    .unwrap();
    p
}

#[test]
fn forward_matches_the_worked_numbers() {
    let model = Model::<f64>::new(net(), &[2]).unwrap();
    let x = Tensor::from_vec(vec![1.0, 1.0], &[1, 2]).unwrap();
    let (y, layers) = model
        .inference()
        .unwrap()
        .forward_inspect(&params(), &x)
        .unwrap();
    let hidden = &layers
        .iter()
        .find(|l| l.name == "hidden_act")
        .unwrap()
        .activation;
    let h = hidden.to_vec();
    let round2 = |v: f64| (v * 100.0).round() / 100.0;
    assert_eq!(
        h.iter().map(|&v| round2(v)).collect::<Vec<_>>(),
        vec![0.80, 0.75, 0.69]
    );
    let o = y.item().unwrap();
    assert_eq!(round2(o), 0.75);
    assert_abs_diff_eq!(
        o,
        1.0 / (1.0 + (-1.105632102751617f64).exp()),
        epsilon = 1e-12
    );
    assert_abs_diff_eq!(o, 0.7513139, epsilon = 1e-6);
}

#[test]
fn one_backprop_step_matches_the_hand_computation() {
    let model = Model::<f64>::new(net(), &[2]).unwrap();
    let mut p = params();
    let mut step = model.train_step(MseLoss, 0).unwrap();
    let x = Tensor::from_vec(vec![1.0, 1.0], &[1, 2]).unwrap();
    let t = Tensor::from_vec(vec![1.0], &[1, 1]).unwrap();
    let out = step.run(&mut p, &x, &t).unwrap();
    assert_abs_diff_eq!(out.loss, 0.06184477, epsilon = 1e-7);

    let dw2 = out.grads["out.weight"].to_vec();
    for (a, b) in dw2.iter().zip([-0.074547, -0.069721, -0.064119]) {
        assert_abs_diff_eq!(*a, b, epsilon = 1e-6);
    }
    let dw1 = out.grads["hidden.weight"].to_vec();
    let dh = [-0.0029493, -0.0139298, -0.0099393];
    for j in 0..3 {
        for k in 0..2 {
            assert_abs_diff_eq!(dw1[2 * j + k], dh[j], epsilon = 1e-7);
        }
    }

    let mut sgd = SgdConfig::new(1.0).build::<f64>().unwrap();
    sgd.step(&mut p, &out.grads).unwrap();
    let w2 = p.get("out.weight").unwrap().to_vec();
    for (a, b) in w2.iter().zip([0.274547, 0.869721, 0.564119]) {
        assert_abs_diff_eq!(*a, b, epsilon = 1e-6);
    }
    let w1 = p.get("hidden.weight").unwrap().to_vec();
    let want = [0.802949, 0.602949, 0.213930, 0.913930, 0.709939, 0.109939];
    for (a, b) in w1.iter().zip(want) {
        assert_abs_diff_eq!(*a, b, epsilon = 1e-6);
    }
    // The step moved the output towards the target.
    let after = model
        .inference()
        .unwrap()
        .forward(&p, &x)
        .unwrap()
        .item()
        .unwrap();
    assert!(after > 0.7513139, "{after}");
}
