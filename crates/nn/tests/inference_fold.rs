//! Inference graphs fold eval-mode BatchNorm: into the convolution before it
//! (`Conv(x, w)·s + t = Conv(x, w·s) + t`) or, after anything else, into one scale and shift.
//! The folded graph computes what the eval graph computes, to rounding.

use convnet_nn::autograd::{Feeds, Plan};
use convnet_nn::prelude::*;

/// Conv (no bias) → BN → ReLU → conv (bias) → BN → flatten → linear → BN1d, with running
/// statistics far from 0 and 1, so a fold that dropped a term would show.
fn net() -> Sequential<f64> {
    Sequential::new("")
        .with(Conv2d::new("c1", 3, 4, 3).padding(1).bias(false))
        .with(BatchNorm::new_2d("bn1", 4))
        .with(Activation::relu("r1"))
        .with(Conv2d::new("c2", 4, 5, 3))
        .with(BatchNorm::new_2d("bn2", 5))
        .with(Flatten::new("flat"))
        .with(Linear::new("fc", 5 * 4 * 4, 6))
        .with(BatchNorm::new_1d("bn3", 6))
}

fn with_statistics(model: &Model<f64>) -> ParamStore<f64> {
    let mut params = model.init_params(3).unwrap();
    let names: Vec<String> = params.names().map(str::to_string).collect();
    for (i, name) in names.iter().enumerate() {
        let shape = params.get(name).unwrap().shape().to_vec();
        let seed = 100 + i as u64;
        let value = if name.ends_with("running_var") {
            Tensor::uniform(&shape, 0.2, 3.0, seed).unwrap()
        } else if name.ends_with("running_mean") || name.contains("bn") {
            Tensor::uniform(&shape, -1.5, 1.5, seed).unwrap()
        } else {
            continue;
        };
        params.set(name, value).unwrap();
    }
    params
}

#[test]
fn folded_batch_norm_matches_the_eval_graph() {
    let model = Model::<f64>::new(net(), &[3, 6, 6]).unwrap();
    let params = with_statistics(&model);
    let x = Tensor::<f64>::normal(&[5, 3, 6, 6], 0.0, 1.0, 9).unwrap();
    let folded = model.inference().unwrap().forward(&params, &x).unwrap();

    let eval = model.build_graph(Mode::Eval).unwrap();
    let plan = Plan::compile(&eval.graph, &[eval.output], Some(5)).unwrap();
    let feeds = Feeds::new().with(eval.input, x.clone());
    let want = plan.run(&feeds, &params).unwrap().remove(0);
    let scale = want.to_vec().iter().fold(1.0f64, |m, v| m.max(v.abs()));
    let diff = folded.max_abs_diff(&want).unwrap();
    assert!(diff <= 1e-12 * scale, "folded vs eval graph: {diff}");

    // The folded plan does less: c1's and c2's BatchNorms went into the convolutions, so the
    // intermediate memory of a forward pass shrinks (compared node by node: fusion would keep
    // the eval graph's BatchNorm passes in cache too, and hide what the fold saves).
    let inference = model.build_inference_graph().unwrap();
    let folded_plan =
        Plan::compile_unfused(&inference.graph, &[inference.output], Some(5)).unwrap();
    let plan = Plan::compile_unfused(&eval.graph, &[eval.output], Some(5)).unwrap();
    assert!(
        folded_plan.intermediate_bytes() < plan.intermediate_bytes(),
        "{} vs {}",
        folded_plan.intermediate_bytes(),
        plan.intermediate_bytes()
    );
    let convs = |p: &Plan<f64>| p.node_names().filter(|n| n.ends_with("conv2d")).count();
    assert_eq!(convs(&folded_plan), 2, "each convolution runs once");
}

#[test]
fn folding_is_for_inference_only_training_and_summaries_see_the_layers() {
    let model = Model::<f64>::new(net(), &[3, 6, 6]).unwrap();
    // The eval graph of summaries and kernel listings keeps one conv node per layer.
    let eval = model.build_graph(Mode::Eval).unwrap();
    let convs = eval
        .graph
        .node_ids()
        .filter(|&id| eval.graph.name(id).unwrap().ends_with("conv2d"))
        .count();
    assert_eq!(convs, 2);
    assert_eq!(model.conv_kernels(2).unwrap().len(), 2);
    // A training step is unchanged: the loss through the train graph is finite and BatchNorm
    // still updates its running statistics.
    let mut params = with_statistics(&model);
    let before = params.get("bn1.running_mean").unwrap().clone();
    let x = Tensor::<f64>::normal(&[4, 3, 6, 6], 0.0, 1.0, 2).unwrap();
    let mut step = model.train_step(CrossEntropyLoss::new(), 0).unwrap();
    let out = step.run(&mut params, &x, &[0, 1, 2, 3]).unwrap();
    assert!(out.loss.is_finite());
    assert_ne!(params.get("bn1.running_mean").unwrap(), &before);
}
