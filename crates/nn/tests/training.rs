//! A small LeNet-5 trained a few dozen SGD steps on fixed random data reduces its loss.

mod common;

use convnet_nn::prelude::*;
use convnet_optim::{Optimizer, SgdConfig};

#[test]
fn lenet5_loss_goes_down_with_sgd() {
    let model = Model::<f32>::new(common::lenet5(), &[1, 28, 28]).unwrap();
    assert_eq!(model.num_params(), 61_706);
    let mut params = model.init_params(42).unwrap();
    let mut step = model.train_step(CrossEntropyLoss::new(), 1).unwrap();
    let mut sgd = SgdConfig::new(0.02).momentum(0.9).build::<f32>().unwrap();
    let x = Tensor::<f32>::normal(&[16, 1, 28, 28], 0.0, 1.0, 7).unwrap();
    let y: Vec<usize> = (0..16).map(|i| (i * 7) % 10).collect();
    let y = labels::<f32>(&y);
    let mut losses = Vec::new();
    for _ in 0..40 {
        let out = step.run(&mut params, &x, &y).unwrap();
        assert!(out.loss.is_finite());
        losses.push(out.loss);
        sgd.step(&mut params, &out.grads).unwrap();
    }
    let first = losses[0];
    // Mean of the last five steps, so one noisy step cannot decide the test.
    let last = losses[losses.len() - 5..].iter().sum::<f64>() / 5.0;
    assert!(
        (first - 10f64.ln()).abs() < 0.5,
        "initial loss {first} should be near ln 10"
    );
    assert!(
        last < 0.8 * first,
        "loss went from {first} to {last}: {losses:?}"
    );
}
