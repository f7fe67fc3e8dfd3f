//! Bad hyper-parameters are rejected with a message naming the optimizer or schedule, the
//! parameter and the value.

use convnet_optim::schedule::{
    CosineAnnealing, CosineWarmRestarts, Exponential, LinearWarmup, MultiStep, PlateauMode,
    ReduceOnPlateau, Schedule, Sequential, StepDecay,
};
use convnet_optim::{
    AdadeltaConfig, AdagradConfig, AdamConfig, Gradients, RmsPropConfig, Sgd, SgdConfig,
    clip_grad_norm, clip_grad_value,
};

fn msg<T: std::fmt::Debug>(r: convnet_optim::Result<T>) -> String {
    r.expect_err("expected an error").to_string()
}

#[test]
fn optimizer_hyper_parameters() {
    let cases: Vec<(String, &str)> = vec![
        (
            msg(AdamConfig::new(1e-3).betas(1.2, 0.999).build::<f32>()),
            "Adam: beta1 = 1.2 is outside [0, 1)",
        ),
        (
            msg(AdamConfig::new(1e-3).betas(0.9, 1.0).build::<f32>()),
            "Adam: beta2 = 1 is outside [0, 1)",
        ),
        (
            msg(AdamConfig::adamw(1e-3).betas(-0.1, 0.9).build::<f32>()),
            "AdamW: beta1 = -0.1 is outside [0, 1)",
        ),
        (
            msg(AdamConfig::new(1e-3).eps(-1e-8).build::<f32>()),
            "Adam: eps = -0.00000001 is outside [0, ∞)",
        ),
        (
            msg(AdamConfig::new(f64::NAN).build::<f32>()),
            "Adam: lr = NaN is outside [0, ∞)",
        ),
        (
            msg(SgdConfig::new(-0.1).build::<f32>()),
            "SGD: lr = -0.1 is outside [0, ∞)",
        ),
        (
            msg(SgdConfig::new(0.1).momentum(-0.9).build::<f32>()),
            "SGD: momentum = -0.9 is outside [0, ∞)",
        ),
        (
            msg(SgdConfig::new(0.1).weight_decay(-1.0).build::<f32>()),
            "SGD: weight_decay = -1 is outside [0, ∞)",
        ),
        (
            msg(SgdConfig::new(0.1)
                .momentum(0.9)
                .dampening(1.5)
                .build::<f32>()),
            "SGD: dampening = 1.5 is outside [0, 1]",
        ),
        (
            msg(SgdConfig::new(0.1).nesterov(true).build::<f32>()),
            "SGD: nesterov = true requires momentum > 0 (got momentum = 0)",
        ),
        (
            msg(SgdConfig::new(0.1)
                .momentum(0.9)
                .dampening(0.1)
                .nesterov(true)
                .build::<f32>()),
            "SGD: nesterov = true requires dampening = 0 (got dampening = 0.1)",
        ),
        (
            msg(AdagradConfig::new(0.1).lr_decay(-0.5).build::<f32>()),
            "Adagrad: lr_decay = -0.5 is outside [0, ∞)",
        ),
        (
            msg(AdagradConfig::new(0.1)
                .initial_accumulator_value(-1.0)
                .build::<f32>()),
            "Adagrad: initial_accumulator_value = -1 is outside [0, ∞)",
        ),
        (
            msg(RmsPropConfig::new(0.01).alpha(1.5).build::<f32>()),
            "RMSProp: alpha = 1.5 is outside [0, 1]",
        ),
        (
            msg(RmsPropConfig::new(0.01).momentum(f64::NAN).build::<f32>()),
            "RMSProp: momentum = NaN is outside [0, ∞)",
        ),
        (
            msg(AdadeltaConfig::new(1.0).rho(-0.1).build::<f32>()),
            "Adadelta: rho = -0.1 is outside [0, 1]",
        ),
        (
            msg(AdadeltaConfig::new(f64::INFINITY).build::<f32>()),
            "Adadelta: lr = inf is outside [0, ∞)",
        ),
    ];
    for (got, want) in cases {
        assert_eq!(got, want);
    }
    // Edge values that are allowed.
    assert!(
        AdamConfig::new(0.0)
            .betas(0.0, 0.0)
            .eps(0.0)
            .build::<f32>()
            .is_ok()
    );
    assert!(RmsPropConfig::new(0.01).alpha(1.0).build::<f32>().is_ok());
    assert!(AdadeltaConfig::new(1.0).rho(0.0).build::<f32>().is_ok());
    assert!(Sgd::<f64>::new(SgdConfig::new(0.1).momentum(0.9).nesterov(true)).is_ok());
}

#[test]
fn schedule_parameters() {
    let cases: Vec<(String, &str)> = vec![
        (
            msg(StepDecay::new(0.1, 0, 0.1)),
            "StepDecay: step_size = 0 is outside [1, ∞)",
        ),
        (
            msg(StepDecay::new(0.1, 10, 0.0)),
            "StepDecay: gamma = 0 is outside (0, 1]",
        ),
        (
            msg(Exponential::new(0.1, 1.5)),
            "Exponential: gamma = 1.5 is outside (0, 1]",
        ),
        (
            msg(Exponential::new(-0.1, 0.9)),
            "Exponential: base_lr = -0.1 is outside [0, ∞)",
        ),
        (
            msg(MultiStep::new(0.1, vec![30, 10], 0.1)),
            "MultiStep: milestones [30, 10] are not strictly increasing",
        ),
        (
            msg(CosineAnnealing::new(0.1, 0, 0.0)),
            "CosineAnnealing: t_max = 0 is outside [1, ∞)",
        ),
        (
            msg(CosineAnnealing::new(0.1, 10, -1e-3)),
            "CosineAnnealing: eta_min = -0.001 is outside [0, ∞)",
        ),
        (
            msg(CosineWarmRestarts::new(0.1, 10, 0, 0.0)),
            "CosineWarmRestarts: t_mult = 0 is outside [1, ∞)",
        ),
        (
            msg(LinearWarmup::new(0.1, 5, 1.5)),
            "LinearWarmup: start_factor = 1.5 is outside [0, 1]",
        ),
        (
            msg(LinearWarmup::new(0.1, 0, 0.1)),
            "LinearWarmup: warmup_steps = 0 is outside [1, ∞)",
        ),
        (
            msg(ReduceOnPlateau::new(0.1, PlateauMode::Min).and_then(|p| p.factor(1.5))),
            "ReduceOnPlateau: factor = 1.5 is outside (0, 1)",
        ),
        (
            msg(ReduceOnPlateau::new(0.1, PlateauMode::Min).and_then(|p| p.factor(1.0))),
            "ReduceOnPlateau: factor = 1 is outside (0, 1)",
        ),
        (
            msg(ReduceOnPlateau::new(0.1, PlateauMode::Min).and_then(|p| p.min_lr(-1.0))),
            "ReduceOnPlateau: min_lr = -1 is outside [0, ∞)",
        ),
    ];
    for (got, want) in cases {
        assert_eq!(got, want);
    }
    let parts: Vec<Box<dyn Schedule>> = vec![Box::new(StepDecay::new(0.1, 1, 0.5).unwrap())];
    assert_eq!(
        msg(Sequential::new(parts, vec![5])),
        "Sequential: 1 schedules need 0 milestones, got 1"
    );
}

#[test]
fn clipping_parameters() {
    let mut g = Gradients::<f32>::new();
    assert_eq!(
        msg(clip_grad_norm(&mut g, -1.0)),
        "clip_grad_norm: max_norm = -1 is outside [0, ∞)"
    );
    assert_eq!(
        msg(clip_grad_value(&mut g, f64::NAN)),
        "clip_grad_value: clip_value = NaN is outside [0, ∞)"
    );
}
