//! Parameter groups: a grouped optimizer is exactly one optimizer per group at its scaled
//! rate, moved together by a schedule, restored exactly from its state, and refuses what
//! would silently change the grouping.

use convnet_autograd::ParamStore;
use convnet_optim::{
    AdamConfig, Gradients, OptimError, Optimizer, OptimizerConfig, ParamGroups, SgdConfig,
};
use convnet_tensor::Tensor;

const NAMES: [&str; 4] = [
    "features.0.weight",
    "features.12.weight",
    "classifier.weight",
    "layer10.weight",
];

fn store() -> ParamStore<f64> {
    let mut p = ParamStore::new();
    for (i, n) in NAMES.iter().enumerate() {
        let v: Vec<f64> = (0..3).map(|j| 0.5 + i as f64 - 0.3 * j as f64).collect();
        p.insert(*n, Tensor::from_vec(v, &[3]).unwrap()).unwrap();
    }
    p.insert_buffer("features.0.running_mean", Tensor::zeros(&[3]))
        .unwrap();
    p
}

/// ∇ of Σ cᵢ·w³/3 for each parameter, so every step's gradient differs.
fn grads(p: &ParamStore<f64>, only: Option<&[&str]>) -> Gradients<f64> {
    NAMES
        .iter()
        .enumerate()
        .filter(|(_, n)| only.is_none_or(|o| o.contains(n)))
        .map(|(i, n)| {
            let w = p.get(n).unwrap();
            let c = 1.0 + i as f64;
            (n.to_string(), w.map(move |v| c * v * v))
        })
        .collect()
}

fn values(p: &ParamStore<f64>, n: &str) -> Vec<f64> {
    p.get(n).unwrap().to_vec()
}

/// Runs `steps` steps with the learning rate of step t set to `lr(t)` before it.
fn run(opt: &mut dyn Optimizer<f64>, p: &mut ParamStore<f64>, steps: usize, only: Option<&[&str]>) {
    for t in 0..steps {
        opt.set_learning_rate(0.1 / (1.0 + t as f64));
        let g = grads(p, only);
        opt.step(p, &g).unwrap();
    }
}

fn grouped_equals_separate<C: OptimizerConfig>(config: C) {
    let mut grouped = ParamGroups::builder(config.clone())
        .group("features", 0.1)
        .group("features.12", 2.0)
        .build::<f64>()
        .unwrap();
    let mut p = store();
    run(&mut grouped, &mut p, 5, None);

    // Each parameter, alone, under an optimizer at its group's scale of the same schedule.
    let cases: [(&str, f64); 4] = [
        ("features.0.weight", 0.1),
        ("features.12.weight", 2.0),
        ("classifier.weight", 1.0),
        ("layer10.weight", 1.0),
    ];
    for (name, scale) in cases {
        let mut alone = Scaled(config.build_boxed::<f64>().unwrap(), scale);
        let mut q = store();
        run(&mut alone, &mut q, 5, Some(&[name]));
        assert_eq!(values(&p, name), values(&q, name), "{name}");
        assert_eq!(grouped.learning_rate_of(name), 0.1 / 5.0 * scale, "{name}");
    }
    assert_eq!(grouped.learning_rate(), 0.1 / 5.0);
}

/// An optimizer whose learning rate is always `scale ×` the one it is set to.
#[derive(Debug)]
struct Scaled(Box<dyn Optimizer<f64>>, f64);

impl Optimizer<f64> for Scaled {
    fn step(&mut self, p: &mut ParamStore<f64>, g: &Gradients<f64>) -> convnet_optim::Result<()> {
        self.0.step(p, g)
    }
    fn learning_rate(&self) -> f64 {
        self.0.learning_rate()
    }
    fn set_learning_rate(&mut self, lr: f64) {
        self.0.set_learning_rate(lr * self.1)
    }
    fn state(&self) -> convnet_optim::OptimizerState<f64> {
        self.0.state()
    }
    fn load_state(&mut self, s: &convnet_optim::OptimizerState<f64>) -> convnet_optim::Result<()> {
        self.0.load_state(s)
    }
    fn name(&self) -> &'static str {
        self.0.name()
    }
}

#[test]
fn sgd_momentum_groups_are_separate_optimizers_at_scaled_rates() {
    grouped_equals_separate(SgdConfig::new(0.1).momentum(0.9).weight_decay(1e-3));
}

#[test]
fn adam_groups_are_separate_optimizers_at_scaled_rates() {
    grouped_equals_separate(AdamConfig::adamw(0.1).amsgrad(true));
}

#[test]
fn the_longest_prefix_wins_and_prefixes_are_whole_path_components() {
    let opt = ParamGroups::builder(SgdConfig::new(0.1))
        .group("features", 0.1)
        .group("features.12", 2.0)
        .group("layer1", 5.0)
        .build::<f64>()
        .unwrap();
    assert_eq!(opt.group_of("features.0.weight"), Some(0));
    assert_eq!(opt.group_of("features.12.weight"), Some(1));
    assert_eq!(opt.group_of("features.120.weight"), Some(0));
    assert_eq!(opt.group_of("layer1.0.conv1.weight"), Some(2));
    assert_eq!(opt.group_of("layer10.weight"), None);
    assert_eq!(opt.learning_rate_of("layer10.weight"), 0.1);
    assert!((opt.learning_rate_of("features.12.weight") - 0.2).abs() < 1e-15);
}

fn grouped() -> ParamGroups<f64> {
    ParamGroups::builder(AdamConfig::new(0.1))
        .group("features", 0.1)
        .group("classifier", 3.0)
        .build::<f64>()
        .unwrap()
}

#[test]
fn state_round_trip_resumes_exactly() {
    let mut straight = grouped();
    let mut p = store();
    run(&mut straight, &mut p, 5, None);

    let mut first = grouped();
    let mut q = store();
    run(&mut first, &mut q, 3, None);
    let saved = first.state();
    assert_eq!(saved.kind, "Adam with parameter groups");
    assert_eq!(saved.hyper["lr_scale/features"], 0.1);
    assert_eq!(saved.hyper["lr_scale/classifier"], 3.0);
    assert!(saved.slots.contains_key("exp_avg/features.0.weight"));
    assert!(saved.slots.contains_key("exp_avg/layer10.weight"));

    let mut resumed = grouped();
    resumed.load_state(&saved).unwrap();
    for t in 3..5 {
        resumed.set_learning_rate(0.1 / (1.0 + t as f64));
        let g = grads(&q, None);
        resumed.step(&mut q, &g).unwrap();
    }
    for n in NAMES {
        assert_eq!(values(&p, n), values(&q, n), "{n}");
    }
}

#[test]
fn a_state_from_another_grouping_is_refused() {
    let mut opt = grouped();
    let mut p = store();
    run(&mut opt, &mut p, 2, None);
    let saved = opt.state();

    // A plain Adam would drop the scales.
    let mut plain = AdamConfig::new(0.1).build::<f64>().unwrap();
    let err = plain.load_state(&saved).unwrap_err().to_string();
    assert!(err.contains("saved by Adam with parameter groups"), "{err}");

    // Other scales, or other prefixes.
    let mut other = ParamGroups::builder(AdamConfig::new(0.1))
        .group("features", 0.5)
        .group("classifier", 3.0)
        .build::<f64>()
        .unwrap();
    let before = other.state();
    let err = other.load_state(&saved).unwrap_err().to_string();
    assert!(err.contains("saved with parameter groups"), "{err}");
    assert!(err.contains("\"features\": 0.1"), "{err}");
    assert_eq!(other.state(), before);

    // A grouped state of another kind.
    let mut sgd = ParamGroups::builder(SgdConfig::new(0.1))
        .group("features", 0.1)
        .group("classifier", 3.0)
        .build::<f64>()
        .unwrap();
    let err = sgd.load_state(&saved).unwrap_err().to_string();
    assert!(err.contains("this is SGD with parameter groups"), "{err}");
}

#[test]
fn a_bad_gradient_in_any_group_changes_nothing() {
    let mut opt = grouped();
    let mut p = store();
    let mut g = grads(&p, None);
    g.insert("layer10.weight".into(), Tensor::zeros(&[4]));
    let before: Vec<Vec<f64>> = NAMES.iter().map(|n| values(&p, n)).collect();
    let err = opt.step(&mut p, &g).unwrap_err();
    assert!(matches!(err, OptimError::Shape { ref name, .. } if name == "layer10.weight"));
    let after: Vec<Vec<f64>> = NAMES.iter().map(|n| values(&p, n)).collect();
    assert_eq!(before, after);

    let mut g = grads(&p, None);
    g.insert("features.0.running_mean".into(), Tensor::zeros(&[3]));
    let err = opt.step(&mut p, &g).unwrap_err();
    assert!(matches!(err, OptimError::GradientForBuffer { .. }), "{err}");
    assert_eq!(opt.state().step, 0);
}

#[test]
fn groups_that_cannot_be_meant_are_errors() {
    let mut opt = ParamGroups::builder(SgdConfig::new(0.1))
        .group("backbone", 0.1)
        .build::<f64>()
        .unwrap();
    let mut p = store();
    let g = grads(&p, None);
    let err = opt.step(&mut p, &g).unwrap_err().to_string();
    assert!(
        err.contains("group `backbone` names no parameter")
            && err.contains("features, classifier, layer10"),
        "{err}"
    );

    let bad_scale = ParamGroups::builder(SgdConfig::new(0.1))
        .group("features", f64::NAN)
        .build::<f64>()
        .unwrap_err();
    assert!(matches!(
        bad_scale,
        OptimError::HyperParameter {
            param: "lr_scale",
            ..
        }
    ));
    let twice = ParamGroups::builder(SgdConfig::new(0.1))
        .group("features", 0.1)
        .group("features", 0.2)
        .build::<f64>()
        .unwrap_err()
        .to_string();
    assert!(twice.contains("given twice"), "{twice}");
    let empty = ParamGroups::builder(SgdConfig::new(0.1))
        .group("features.", 0.1)
        .build::<f64>()
        .unwrap_err()
        .to_string();
    assert!(empty.contains("not a layer path"), "{empty}");
    // The configuration's own checks still apply.
    let lr = ParamGroups::builder(SgdConfig::new(-1.0))
        .build::<f64>()
        .unwrap_err();
    assert!(matches!(lr, OptimError::HyperParameter { param: "lr", .. }));
}
