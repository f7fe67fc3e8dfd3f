//! Every family, at reduced width, overfits one small fixed batch: the loss falls by at least
//! half within a few dozen Adam steps (8 random images, random labels out of 10 classes).
//!
//! "The loss" is the training loss (mean of the last three steps) or, for the networks whose
//! dropout makes the training loss noisy at these tiny widths, the same batch's loss in
//! evaluation mode (dropout off) — whichever halves first.

use convnet_nn::{CrossEntropyLoss, Tensor, labels};
use convnet_optim::{AdamConfig, Optimizer};
use convnet_zoo::{AuxClassifierLoss, ZooConfig, build};

fn overfits(name: &str, cfg: ZooConfig, steps: usize, lr: f64) {
    let start = std::time::Instant::now();
    let model = build::<f32>(name, &cfg.classes(10)).unwrap();
    let mut params = model.init_params(1).unwrap();
    let mut step = model.train_step(AuxClassifierLoss::new(), 2).unwrap();
    let mut adam = AdamConfig::new(lr).build::<f32>().unwrap();
    let mut shape = vec![8];
    shape.extend_from_slice(model.input_shape());
    // Noise plus a per-image, per-channel offset: images that differ after global pooling
    // too (pure noise all averages to the same, which GoogLeNet and ResNet rely on).
    let noise = Tensor::<f32>::normal(&shape, 0.0, 1.0, 3).unwrap().to_vec();
    let offset = Tensor::<f32>::normal(&shape[..2], 0.0, 1.0, 4)
        .unwrap()
        .to_vec();
    let plane: usize = shape[2..].iter().product();
    let x = Tensor::from_fn(&shape, |i| noise[i] + offset[i / plane]);
    let y = labels::<f32>(&[3, 1, 4, 1, 5, 9, 2, 6]);
    // BatchNorm's running statistics lag behind on eight images, so only networks without
    // buffers are judged in evaluation mode.
    let no_buffers = model.param_specs().iter().all(|p| p.trainable);
    let eval = model.evaluator(CrossEntropyLoss::new()).unwrap();
    let eval0 = eval.evaluate(&params, &x, &y).unwrap().0;
    let mut eval_loss = eval0;
    let mut losses = Vec::new();
    for _ in 0..steps {
        let out = step.run(&mut params, &x, &y).unwrap();
        assert!(out.loss.is_finite(), "{name}: {losses:?}");
        losses.push(out.loss);
        adam.step(&mut params, &out.grads).unwrap();
        // Stop as soon as the criterion holds (mean of the last three steps).
        let n = losses.len();
        if n >= 3 && losses[n - 3..].iter().sum::<f64>() / 3.0 <= 0.5 * losses[0] {
            break;
        }
        if no_buffers {
            eval_loss = eval.evaluate(&params, &x, &y).unwrap().0;
            if eval_loss <= 0.5 * eval0 {
                break;
            }
        }
    }
    let n = losses.len();
    let recent = losses[n.saturating_sub(3)..].iter().sum::<f64>() / n.min(3) as f64;
    println!(
        "{name}: {n} steps, train {:.2} → {recent:.3}, eval {eval0:.2} → {eval_loss:.3} in {:?}",
        losses[0],
        start.elapsed()
    );
    assert!(
        recent <= 0.5 * losses[0] || (no_buffers && eval_loss <= 0.5 * eval0),
        "{name}: eval {eval0} → {eval_loss}, train {losses:?}"
    );
}

#[test]
fn lenet_overfits() {
    overfits("lenet5", ZooConfig::default(), 40, 3e-3);
    overfits("lenet5-paper", ZooConfig::default(), 40, 3e-3);
}

#[test]
fn alexnet_overfits() {
    overfits(
        "alexnet",
        ZooConfig::default().width_divisor(4).input([3, 67, 67]),
        80,
        1e-3,
    );
    overfits(
        "alexnet-torchvision",
        ZooConfig::default().width_divisor(4).input([3, 63, 63]),
        80,
        1e-3,
    );
}

#[test]
fn vgg_overfits() {
    overfits(
        "vgg11",
        ZooConfig::default().width_divisor(8).input([3, 32, 32]),
        80,
        1e-3,
    );
    overfits(
        "vgg11-bn",
        ZooConfig::default().width_divisor(16).input([3, 32, 32]),
        60,
        3e-3,
    );
}

#[test]
fn googlenet_overfits() {
    // Published, at the smallest input of its main trunk (the auxiliary heads need 79×79;
    // `googlenet_aux_losses_join_the_training_loss` covers them).
    let cfg = ZooConfig::default().aux_classifiers(false);
    overfits(
        "googlenet",
        cfg.width_divisor(8).input([3, 47, 47]),
        100,
        1e-3,
    );
    overfits(
        "googlenet-bn",
        ZooConfig::default().width_divisor(16).input([3, 32, 32]),
        60,
        3e-3,
    );
}

#[test]
fn resnet_overfits() {
    overfits(
        "resnet20",
        ZooConfig::default().width_divisor(4).input([3, 16, 16]),
        40,
        3e-3,
    );
    overfits(
        "resnet18",
        ZooConfig::default().width_divisor(16).input([3, 32, 32]),
        40,
        3e-3,
    );
    overfits(
        "resnet50",
        ZooConfig::default().width_divisor(16).input([3, 32, 32]),
        40,
        3e-3,
    );
}

#[test]
fn googlenet_aux_losses_join_the_training_loss() {
    let cfg = ZooConfig::default().width_divisor(16).classes(10);
    let model = build::<f32>("googlenet", &cfg).unwrap();
    let params = model.init_params(5).unwrap();
    let x = Tensor::<f32>::normal(&[2, 3, 224, 224], 0.0, 1.0, 6).unwrap();
    let y = labels::<f32>(&[1, 7]);
    let run = |loss: AuxClassifierLoss| {
        let mut p = params.clone();
        let mut step = model.train_step(loss, 9).unwrap();
        step.run(&mut p, &x, &y).unwrap()
    };
    let with = run(AuxClassifierLoss::new());
    let without = run(AuxClassifierLoss::new().aux_weight(0.0));
    // Each cross-entropy starts near ln 10, so the total is about (1 + 2·0.3)× the main one.
    let ratio = with.loss / without.loss;
    assert!(
        (ratio - 1.6).abs() < 0.2,
        "{} vs {}",
        with.loss,
        without.loss
    );
    let norm = |o: &convnet_nn::StepOutput<f32>, k: &str| {
        o.grads[k].to_vec().iter().map(|v| v.abs()).sum::<f32>()
    };
    assert!(norm(&with, "aux1.fc2.weight") > 0.0 && norm(&with, "aux2.fc2.weight") > 0.0);
    assert_eq!(norm(&without, "aux1.fc2.weight"), 0.0);
    assert_eq!(with.output.shape(), &[2, 10]);
}
