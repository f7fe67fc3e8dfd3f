//! Fused plans against unfused ones on whole training steps of every zoo family: the loss,
//! the output, every parameter's gradient and BatchNorm's new running statistics are the
//! same bits whether the plan's pointwise groups run as one pass or node by node (fusion
//! moves values between memory and cache; the arithmetic, and its order, is the graph's).

use convnet_nn::autograd::{FUSED_OP, RunOptions};
use convnet_nn::{CrossEntropyLoss, Tensor, labels};
use convnet_zoo::{ZooConfig, build};

fn bits(t: &Tensor<f32>) -> Vec<u32> {
    t.to_vec().iter().map(|v| v.to_bits()).collect()
}

fn same_step_fused_and_unfused(name: &str, cfg: ZooConfig) {
    let model = build::<f32>(name, &cfg.classes(10)).unwrap();
    let mut shape = vec![4];
    shape.extend_from_slice(model.input_shape());
    let x = Tensor::<f32>::normal(&shape, 0.0, 1.0, 11).unwrap();
    let y = labels::<f32>(&[3, 1, 4, 1]);
    let mut outs = Vec::new();
    for unfused in [true, false] {
        let mut params = model.init_params(5).unwrap();
        let mut step = model.train_step(CrossEntropyLoss::new(), 2).unwrap();
        step.set_run_options(RunOptions {
            unfused,
            profile: true,
            ..RunOptions::default()
        });
        let out = step.run(&mut params, &x, &y).unwrap();
        let fused_groups = out.timings.iter().filter(|t| t.op == FUSED_OP).count();
        outs.push((out, params, fused_groups));
    }
    let (a, pa, unfused_groups) = &outs[0];
    let (b, pb, fused_groups) = &outs[1];
    println!("{name}: {fused_groups} fused groups");
    assert_eq!(*unfused_groups, 0, "{name}");
    assert!(*fused_groups > 0, "{name}: the training plan fused nothing");
    assert_eq!(a.loss.to_bits(), b.loss.to_bits(), "{name}: loss");
    assert_eq!(bits(&a.output), bits(&b.output), "{name}: output");
    assert_eq!(
        a.grads.keys().collect::<Vec<_>>(),
        b.grads.keys().collect::<Vec<_>>()
    );
    for (k, g) in &a.grads {
        assert_eq!(bits(g), bits(&b.grads[k]), "{name}: gradient of {k}");
    }
    for (k, v) in pa.iter() {
        assert_eq!(
            bits(v),
            bits(pb.get(k).unwrap()),
            "{name}: {k} after the step"
        );
    }
}

#[test]
fn lenet_and_alexnet_steps_are_the_same_bits_fused() {
    same_step_fused_and_unfused("lenet5", ZooConfig::default());
    same_step_fused_and_unfused("lenet5-paper", ZooConfig::default());
    same_step_fused_and_unfused(
        "alexnet",
        ZooConfig::default().width_divisor(8).input([3, 67, 67]),
    );
}

#[test]
fn batch_norm_networks_steps_are_the_same_bits_fused() {
    same_step_fused_and_unfused(
        "resnet20",
        ZooConfig::default().width_divisor(4).input([3, 16, 16]),
    );
    same_step_fused_and_unfused(
        "resnet18-cifar",
        ZooConfig::default().width_divisor(16).input([3, 16, 16]),
    );
    same_step_fused_and_unfused(
        "resnet50",
        ZooConfig::default().width_divisor(16).input([3, 32, 32]),
    );
    same_step_fused_and_unfused(
        "vgg11-bn",
        ZooConfig::default().width_divisor(16).input([3, 32, 32]),
    );
    same_step_fused_and_unfused(
        "googlenet-bn",
        ZooConfig::default().width_divisor(16).input([3, 32, 32]),
    );
}
