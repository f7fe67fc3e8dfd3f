//! Train vs eval behaviour from one definition: Dropout drops (seeded) in training and is the
//! identity in evaluation; BatchNorm uses batch statistics and updates its running statistics
//! (momentum 0.1, unbiased variance) in training, and uses the running statistics in evaluation.

use approx::assert_abs_diff_eq;
use convnet_nn::prelude::*;

#[test]
fn dropout_is_identity_in_eval_and_drops_in_train() {
    let model = Model::<f64>::new(Dropout::new("drop", 0.5), &[1000]).unwrap();
    let params = model.init_params(0).unwrap();
    let x = Tensor::<f64>::ones(&[2, 1000]);
    let y = model.inference().unwrap().forward(&params, &x).unwrap();
    assert_eq!(y, x);

    let run = |seed: u64| {
        let mut p = params.clone();
        let mut step = model.train_step(MseLoss, seed).unwrap();
        step.run(&mut p, &x, &Tensor::zeros(&[2, 1000]))
            .unwrap()
            .output
    };
    let y = run(7).to_vec();
    let zeros = y.iter().filter(|&&v| v == 0.0).count();
    assert!(
        y.iter().all(|&v| v == 0.0 || v == 2.0),
        "kept values are scaled by 1/(1 − p)"
    );
    assert!((800..1200).contains(&zeros), "{zeros} of 2000 dropped");
    assert_eq!(run(7).to_vec(), y, "same seed, same mask");
    assert_ne!(run(8).to_vec(), y, "another seed, another mask");
    // Masks differ from step to step.
    let mut p = params.clone();
    let mut step = model.train_step(MseLoss, 7).unwrap();
    let a = step
        .run(&mut p, &x, &Tensor::zeros(&[2, 1000]))
        .unwrap()
        .output;
    let b = step
        .run(&mut p, &x, &Tensor::zeros(&[2, 1000]))
        .unwrap()
        .output;
    assert_ne!(a, b);
}

fn bn_input() -> Tensor<f64> {
    // [N = 2, C = 2, H = 1, W = 2]: channel 0 holds 1, 2, 3, 4; channel 1 holds 10, 10, 20, 20.
    Tensor::from_vec(
        vec![1.0, 2.0, 10.0, 10.0, 3.0, 4.0, 20.0, 20.0],
        &[2, 2, 1, 2],
    )
    .unwrap()
}

#[test]
fn batchnorm_train_uses_batch_stats_and_updates_running_stats() {
    let model = Model::<f64>::new(BatchNorm::new_2d("bn", 2), &[2, 1, 2]).unwrap();
    let mut params = model.init_params(0).unwrap();
    assert!(params.is_buffer("bn.running_mean") && params.is_buffer("bn.running_var"));
    let mut step = model.train_step(MseLoss, 0).unwrap();
    let x = bn_input();
    let out = step
        .run(&mut params, &x, &Tensor::zeros(&[2, 2, 1, 2]))
        .unwrap();
    // Channel 0: mean 2.5, biased var 1.25 → (1 − 2.5)/√(1.25 + 1e-5) ≈ −1.3416.
    let y = out.output.to_vec();
    assert_abs_diff_eq!(y[0], -1.5 / (1.25f64 + 1e-5).sqrt(), epsilon = 1e-9);
    // Running stats: 0.9·0 + 0.1·2.5 and 0.9·1 + 0.1·(1.25·4/3).
    let rm = params.get("bn.running_mean").unwrap().to_vec();
    let rv = params.get("bn.running_var").unwrap().to_vec();
    assert_abs_diff_eq!(rm[0], 0.25, epsilon = 1e-12);
    assert_abs_diff_eq!(rm[1], 1.5, epsilon = 1e-12);
    assert_abs_diff_eq!(rv[0], 0.9 + 0.1 * 1.25 * 4.0 / 3.0, epsilon = 1e-12);
    assert_abs_diff_eq!(rv[1], 0.9 + 0.1 * 25.0 * 4.0 / 3.0, epsilon = 1e-12);
    // Running stats are not trained: no gradient is reported for them.
    assert!(!out.grads.contains_key("bn.running_mean"));
    assert!(out.grads.contains_key("bn.weight") && out.grads.contains_key("bn.bias"));
    // A second step moves them again.
    step.run(&mut params, &x, &Tensor::zeros(&[2, 2, 1, 2]))
        .unwrap();
    let rm2 = params.get("bn.running_mean").unwrap().to_vec();
    assert_abs_diff_eq!(rm2[0], 0.9 * 0.25 + 0.25, epsilon = 1e-12);
}

#[test]
fn batchnorm_eval_uses_running_stats() {
    let model = Model::<f64>::new(BatchNorm::new_2d("bn", 2), &[2, 1, 2]).unwrap();
    let mut params = model.init_params(0).unwrap();
    params
        .set(
            "bn.running_mean",
            Tensor::from_vec(vec![1.0, 10.0], &[2]).unwrap(),
        )
        .unwrap();
    params
        .set(
            "bn.running_var",
            Tensor::from_vec(vec![4.0, 25.0], &[2]).unwrap(),
        )
        .unwrap();
    params
        .set("bn.weight", Tensor::from_vec(vec![2.0, 1.0], &[2]).unwrap())
        .unwrap();
    params
        .set("bn.bias", Tensor::from_vec(vec![0.5, -1.0], &[2]).unwrap())
        .unwrap();
    let y = model
        .inference()
        .unwrap()
        .forward(&params, &bn_input())
        .unwrap()
        .to_vec();
    let e = |v: f64, m: f64, var: f64, w: f64, b: f64| (v - m) / (var + 1e-5f64).sqrt() * w + b;
    assert_abs_diff_eq!(y[1], e(2.0, 1.0, 4.0, 2.0, 0.5), epsilon = 1e-12);
    assert_abs_diff_eq!(y[6], e(20.0, 10.0, 25.0, 1.0, -1.0), epsilon = 1e-12);
    // Eval does not touch the statistics and works at batch size 1.
    let one = Tensor::from_vec(vec![1.0, 2.0, 10.0, 10.0], &[1, 2, 1, 2]).unwrap();
    let y1 = model
        .inference()
        .unwrap()
        .forward(&params, &one)
        .unwrap()
        .to_vec();
    assert_abs_diff_eq!(y1[0], 0.5, epsilon = 1e-12);
}

#[test]
fn one_definition_gives_different_graphs_per_mode() {
    let net = Sequential::<f32>::new("")
        .with(Linear::new("fc", 4, 4))
        .with(BatchNorm::new_1d("bn", 4))
        .with(Dropout::new("drop", 0.3));
    let model = Model::new(net, &[4]).unwrap();
    let train = model.build_graph(Mode::Train).unwrap();
    let eval = model.build_graph(Mode::Eval).unwrap();
    assert_eq!(train.random_inputs.len(), 1);
    assert_eq!(train.state_updates.len(), 2);
    assert!(eval.random_inputs.is_empty() && eval.state_updates.is_empty());
    assert_eq!(
        train.graph.shape(train.output).unwrap(),
        eval.graph.shape(eval.output).unwrap()
    );
}

#[test]
fn per_layer_activations_and_gradients_by_name() {
    let net = Sequential::<f64>::new("")
        .with(Linear::new("fc1", 3, 4))
        .with(Activation::relu("act"))
        .with(Linear::new("fc2", 4, 2));
    let model = Model::new(net, &[3]).unwrap();
    assert_eq!(model.layer_names().unwrap(), vec!["fc1", "act", "fc2", ""]);
    let mut params = model.init_params(1).unwrap();
    let x = Tensor::<f64>::normal(&[5, 3], 0.0, 1.0, 2).unwrap();
    let mut step = model.train_step(CrossEntropyLoss::new(), 0).unwrap();
    let out = step
        .run_inspect(&mut params, &x, &labels(&[0, 1, 0, 1, 1]))
        .unwrap();
    let names: Vec<&str> = out.layers.iter().map(|l| l.name.as_str()).collect();
    assert_eq!(names, vec!["fc1", "act", "fc2"]);
    let act = &out.layers[1];
    assert_eq!(act.activation.shape(), &[5, 4]);
    assert!(act.activation.to_vec().iter().all(|&v| v >= 0.0));
    assert_eq!(act.gradient.as_ref().unwrap().shape(), &[5, 4]);
    assert_eq!(out.layers[2].activation, out.output);
    let (y, traces) = model
        .inference()
        .unwrap()
        .forward_inspect(&params, &x)
        .unwrap();
    assert_eq!(traces.len(), 3);
    assert_eq!(traces[2].activation, y);
    let (loss, _) = model
        .evaluator(CrossEntropyLoss::new())
        .unwrap()
        .evaluate(&params, &x, &labels(&[0, 1, 0, 1, 1]))
        .unwrap();
    assert!(loss.is_finite() && loss > 0.0);
}
