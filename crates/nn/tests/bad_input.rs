//! Mistakes are reported while the model is built, naming the layer path, what it expected
//! and what it got; invalid hyper-parameters are rejected with a clear error.

mod common;

use convnet_nn::prelude::*;

fn err(m: impl Module<f32> + 'static, input: &[usize]) -> String {
    Model::<f32>::new(m, input).unwrap_err().to_string()
}

#[test]
fn wrong_rank_names_layer_expected_and_got() {
    // LeNet without the Flatten: fc sees [B, 16, 5, 5].
    let mut f = Sequential::new("features");
    f.push(Conv2d::new(f.next_name(), 1, 6, 5).padding(2));
    f.push(MaxPool2d::new(f.next_name(), 2));
    f.push(Conv2d::new(f.next_name(), 6, 16, 5));
    f.push(MaxPool2d::new(f.next_name(), 2));
    let net = Sequential::new("")
        .with(f)
        .with(Linear::new("classifier.0", 400, 120));
    let e = err(net, &[1, 28, 28]);
    assert_eq!(
        e,
        "layer `classifier.0` (Linear): expected input [N, 400] (add a Flatten layer before it), got [B, 16, 5, 5]"
    );
    let e = err(Conv2d::new("conv1", 1, 6, 5), &[28, 28]);
    assert_eq!(
        e,
        "layer `conv1` (Conv2d): expected input [N, 1, H, W], got [B, 28, 28]"
    );
    let e = err(BatchNorm::new_2d("bn1", 4), &[4]);
    assert!(
        e.contains("`bn1`") && e.contains("[N, 4, H, W]") && e.contains("[B, 4]"),
        "{e}"
    );
}

#[test]
fn wrong_channel_count_names_layer_expected_and_got() {
    let net = Sequential::new("features")
        .with(Conv2d::new("features.0", 3, 16, 3))
        .with(Conv2d::new("features.1", 8, 16, 3));
    let e = err(net, &[3, 32, 32]);
    assert_eq!(
        e,
        "layer `features.1` (Conv2d): expected input [N, 8, H, W], got [B, 16, 30, 30]"
    );
    let e = err(Conv2d::new("conv1", 3, 6, 5), &[1, 28, 28]);
    assert!(
        e.contains("[N, 3, H, W]") && e.contains("[B, 1, 28, 28]"),
        "{e}"
    );
    let e = err(Linear::new("fc", 10, 2), &[12]);
    assert_eq!(
        e,
        "layer `fc` (Linear): expected input [N, 10], got [B, 12]"
    );
    let e = err(
        Residual::<f32>::new("block").push(Conv2d::new("block.conv1", 2, 4, 1)),
        &[2, 4, 4],
    );
    assert!(e.contains("`block`") && e.contains("projection"), "{e}");
}

#[test]
fn invalid_hyper_parameters_are_rejected() {
    let e = err(Conv2d::new("conv", 1, 1, 3).stride(0), &[1, 8, 8]);
    assert!(
        e.contains("`conv`") && e.contains("stride must be positive"),
        "{e}"
    );
    let e = err(MaxPool2d::new("pool", 2).stride(0), &[1, 8, 8]);
    assert!(
        e.contains("`pool`") && e.contains("stride must be positive"),
        "{e}"
    );
    for p in [1.0, -0.1, 1.5, f64::NAN] {
        let e = err(Dropout::new("drop", p), &[4]);
        assert!(
            e.contains("`drop`") && e.contains("must be in [0, 1)"),
            "{e}"
        );
    }
    let e = err(BatchNorm::new_1d("bn", 4).momentum(1.5), &[4]);
    assert!(e.contains("momentum must be in [0, 1]"), "{e}");
    let e = err(Conv2d::new("conv", 3, 4, 3).groups(2), &[3, 8, 8]);
    assert!(e.contains("groups 2 must divide"), "{e}");
    let e = err(MaxPool2d::new("pool", 2).padding(2), &[1, 8, 8]);
    assert!(e.contains("at most half the window"), "{e}");
    let model = Model::<f32>::new(Linear::new("fc", 2, 3), &[2]).unwrap();
    let e = model
        .train_step(CrossEntropyLoss::new().label_smoothing(1.0), 0)
        .unwrap_err()
        .to_string();
    assert!(e.contains("label smoothing must be in [0, 1)"), "{e}");
    // Optimizer hyper-parameters are validated by convnet-optim.
    assert!(convnet_optim::SgdConfig::new(-0.1).build::<f32>().is_err());
    assert!(
        convnet_optim::AdamConfig::new(0.1)
            .betas(1.0, 0.999)
            .build::<f32>()
            .is_err()
    );
}

#[test]
fn duplicate_names_and_bad_runs_are_reported() {
    let net = Sequential::new("")
        .with(Linear::new("fc", 2, 2))
        .with(Linear::new("fc", 2, 2));
    let e = err(net, &[2]);
    assert!(e.contains("`fc.weight` is declared twice"), "{e}");

    let model = Model::<f32>::new(Linear::new("fc", 2, 3), &[2]).unwrap();
    let params = model.init_params(0).unwrap();
    let e = model
        .inference()
        .unwrap()
        .forward(&params, &Tensor::zeros(&[4, 5]))
        .unwrap_err()
        .to_string();
    assert!(e.contains("[4, 5]") && e.contains("input"), "{e}");
    // A label outside the classes names the node.
    let mut p = params.clone();
    let mut step = model.train_step(CrossEntropyLoss::new(), 0).unwrap();
    let e = step
        .run(&mut p, &Tensor::zeros(&[2, 2]), &labels(&[0, 7]))
        .unwrap_err()
        .to_string();
    assert!(e.contains("take_along_axis"), "{e}");
}

#[test]
fn strict_geometry_names_the_layer() {
    let net = Sequential::new("features").with(MaxPool2d::new("features.0", 3).stride(2));
    let e = Model::<f32>::builder(net, &[1, 8, 8])
        .strict_geometry(true)
        .build()
        .unwrap_err()
        .to_string();
    assert!(e.contains("features.0") && e.contains("3.50"), "{e}");
    let _ = common::lenet5::<f32>;
}
