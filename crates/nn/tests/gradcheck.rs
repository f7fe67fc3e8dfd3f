//! Every layer and loss, gradient-checked through the graph's checker (f64, central
//! differences, w.r.t. the input and every trainable parameter).

mod common;

use common::gradcheck_module;
use convnet_nn::autograd::{GradCheckConfig, check_gradients};
use convnet_nn::prelude::*;
use convnet_nn::{Feeds, Graph, NodeId, loss};

#[test]
fn linear_and_maxout() {
    gradcheck_module(Linear::new("fc", 4, 3), &[4], 2, Mode::Train, 1);
    gradcheck_module(Linear::new("fc", 4, 3).bias(false), &[4], 2, Mode::Train, 2);
    gradcheck_module(Maxout::new("mo", 4, 3, 2), &[4], 2, Mode::Train, 3);
}

#[test]
fn conv2d_variants() {
    gradcheck_module(
        Conv2d::new("c", 2, 3, 3).padding(1),
        &[2, 5, 5],
        2,
        Mode::Train,
        4,
    );
    gradcheck_module(
        Conv2d::new("c", 2, 2, 3).stride(2).dilation(1),
        &[2, 6, 6],
        1,
        Mode::Train,
        5,
    );
    gradcheck_module(
        Conv2d::new("c", 4, 2, 3).groups(2).dilation(2).bias(false),
        &[4, 6, 6],
        1,
        Mode::Train,
        6,
    );
    gradcheck_module(
        Conv2d::new("c", 1, 2, 2).stride(2).padding(Padding::Same),
        &[1, 5, 5],
        1,
        Mode::Train,
        7,
    );
}

#[test]
fn pooling_including_overlapping_windows() {
    gradcheck_module(
        MaxPool2d::new("p", 3).stride(2),
        &[2, 7, 7],
        2,
        Mode::Train,
        8,
    );
    gradcheck_module(
        MaxPool2d::new("p", 3).stride(2).padding(1).ceil_mode(true),
        &[1, 6, 6],
        1,
        Mode::Train,
        9,
    );
    gradcheck_module(
        AvgPool2d::new("p", 3).stride(2),
        &[2, 7, 7],
        1,
        Mode::Train,
        10,
    );
    gradcheck_module(
        AvgPool2d::new("p", 2).padding(1).count_include_pad(false),
        &[1, 5, 5],
        1,
        Mode::Train,
        11,
    );
    gradcheck_module(GlobalAvgPool2d::new("gap"), &[3, 4, 4], 2, Mode::Train, 12);
}

#[test]
fn normalisation_layers_in_both_modes() {
    for mode in [Mode::Train, Mode::Eval] {
        gradcheck_module(BatchNorm::new_2d("bn", 3), &[3, 3, 3], 3, mode, 13);
        gradcheck_module(BatchNorm::new_1d("bn", 4), &[4], 5, mode, 14);
    }
    gradcheck_module(
        LocalResponseNorm::alexnet("lrn"),
        &[6, 3, 3],
        2,
        Mode::Train,
        15,
    );
    gradcheck_module(
        LocalResponseNorm::new("lrn", 4).alpha(0.5),
        &[6, 2, 2],
        2,
        Mode::Train,
        16,
    );
}

#[test]
fn activations_dropout_flatten() {
    for (i, a) in [
        Activation::relu("a"),
        Activation::leaky_relu("a", 0.1),
        Activation::elu("a", 1.0),
        Activation::gelu("a"),
        Activation::sigmoid("a"),
        Activation::tanh("a"),
        Activation::softmax("a"),
        Activation::log_softmax("a"),
    ]
    .into_iter()
    .enumerate()
    {
        gradcheck_module(a, &[5], 3, Mode::Train, 20 + i as u64);
    }
    gradcheck_module(Dropout::new("drop", 0.5), &[6], 3, Mode::Train, 30);
    gradcheck_module(
        Sequential::new("")
            .with(Flatten::new("flat"))
            .with(Linear::new("fc", 12, 2)),
        &[3, 2, 2],
        2,
        Mode::Train,
        31,
    );
}

#[test]
fn residual_blocks_and_concat() {
    gradcheck_module(
        Residual::basic("block", 2, 2, 1),
        &[2, 4, 4],
        2,
        Mode::Train,
        40,
    );
    gradcheck_module(
        Residual::basic("block", 2, 3, 2),
        &[2, 4, 4],
        2,
        Mode::Eval,
        41,
    );
    let inc = Concat::new("inc")
        .branch(Conv2d::new("inc.b1", 2, 2, 1))
        .branch(
            Sequential::new("inc.b2")
                .with(Conv2d::new("inc.b2.0", 2, 1, 1))
                .with(Activation::relu("inc.b2.1"))
                .with(Conv2d::new("inc.b2.2", 1, 2, 3).padding(1)),
        )
        .branch(
            Sequential::new("inc.b3")
                .with(MaxPool2d::new("inc.b3.0", 3).stride(1).padding(1))
                .with(Conv2d::new("inc.b3.1", 2, 1, 1)),
        );
    gradcheck_module(inc, &[2, 3, 3], 2, Mode::Train, 42);
}

type LossFn = fn(&mut Graph<f64>, NodeId, NodeId) -> convnet_nn::Result<NodeId>;

fn check_loss(name: &str, f: LossFn, targets: Tensor<f64>, wrt_targets: bool) {
    let mut g = Graph::<f64>::new();
    let x = g.input("x", [4, 3]).unwrap();
    let t = g.input("t", targets.shape()).unwrap();
    let l = f(&mut g, x, t).unwrap();
    let xv = Tensor::<f64>::normal(&[4, 3], 0.0, 1.0, 7).unwrap();
    let feeds = Feeds::new().with(x, xv).with(t, targets);
    let wrt: Vec<NodeId> = if wrt_targets { vec![x, t] } else { vec![x] };
    let cfg = GradCheckConfig::default();
    let r = check_gradients(&g, l, &wrt, &feeds, &ParamStore::new(), &cfg).unwrap();
    assert!(r.passed(), "{name}: {}", r.worst);
}

#[test]
fn every_loss() {
    let lbl = labels::<f64>(&[0, 2, 1, 2]);
    let dense = Tensor::<f64>::normal(&[4, 3], 0.0, 1.0, 8).unwrap();
    let probs = Tensor::<f64>::uniform(&[4, 3], 0.0, 1.0, 9).unwrap();
    check_loss(
        "cross_entropy",
        |g, x, t| loss::cross_entropy(g, x, t, 0.0),
        lbl.clone(),
        false,
    );
    check_loss(
        "cross_entropy smoothed",
        |g, x, t| loss::cross_entropy(g, x, t, 0.1),
        lbl.clone(),
        false,
    );
    check_loss(
        "nll",
        |g, x, t| {
            let lp = g.log_softmax(x, 1)?;
            loss::nll(g, lp, t)
        },
        lbl.clone(),
        false,
    );
    check_loss("hinge", loss::hinge, lbl, false);
    check_loss("mse", loss::mse, dense.clone(), true);
    check_loss("mae", loss::mae, dense.clone(), true);
    check_loss("mean_bias_error", loss::mean_bias_error, dense, true);
    check_loss("bce_with_logits", loss::bce_with_logits, probs, true);
}

#[test]
fn a_whole_small_cnn_with_loss() {
    let net = Sequential::new("")
        .with(Conv2d::new("conv", 1, 2, 3).padding(1))
        .with(BatchNorm::new_2d("bn", 2))
        .with(Activation::relu("relu"))
        .with(MaxPool2d::new("pool", 2))
        .with(Flatten::new("flat"))
        .with(Dropout::new("drop", 0.25))
        .with(Linear::new("fc", 8, 3));
    let model = Model::<f64>::new(net, &[1, 4, 4]).unwrap();
    let step = model
        .train_step(CrossEntropyLoss::new().label_smoothing(0.1), 3)
        .unwrap();
    let mg = step.graph();
    let params = model.init_params(4).unwrap();
    let x = Tensor::<f64>::normal(&[3, 1, 4, 4], 0.0, 1.0, 5).unwrap();
    let mut feeds = Feeds::new().with(mg.input, x).with(
        step.targets_node(),
        convnet_nn::autograd::Indices::vector(&[0, 1, 2]),
    );
    mg.fill_random_inputs(&mut feeds, 3, &mut convnet_nn::rng_from_seed(6))
        .unwrap();
    let wrt: Vec<NodeId> = model
        .param_specs()
        .iter()
        .filter(|p| p.trainable)
        .map(|p| mg.graph.param_node(&p.name).unwrap())
        .collect();
    let r = check_gradients(
        &mg.graph,
        step.loss_node(),
        &wrt,
        &feeds,
        &params,
        &GradCheckConfig::default(),
    )
    .unwrap();
    assert!(r.passed(), "{}", r.worst);
}
