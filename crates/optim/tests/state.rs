//! Saving and restoring optimizer state is exact: 3 steps, save, restore into a fresh
//! optimizer, and the following steps are bit-identical to an uninterrupted run. Also the
//! errors a step or a load reports for gradients and states that do not fit.

use convnet_autograd::ParamStore;
use convnet_optim::{
    AdadeltaConfig, AdagradConfig, AdamConfig, Gradients, OptimError, Optimizer, RmsPropConfig,
    SgdConfig,
};
use convnet_tensor::{Element, Tensor};

fn store<T: Element>() -> ParamStore<T> {
    let mut p = ParamStore::new();
    let a = Tensor::from_fn(&[2, 3], |i| T::of_f64(0.3 * i as f64 - 0.7));
    let b = Tensor::from_fn(&[4], |i| T::of_f64(1.0 - 0.4 * i as f64));
    p.insert("layer.weight", a).unwrap();
    p.insert("layer.bias", b).unwrap();
    p.insert_buffer(
        "bn.running_mean",
        Tensor::from_fn(&[3], |i| T::of_f64(i as f64)),
    )
    .unwrap();
    p
}

/// A deterministic gradient of a non-quadratic function; `layer.bias` gets none on step 2, so
/// per-parameter step counts differ from the optimizer's.
fn grads<T: Element>(params: &ParamStore<T>, step: usize) -> Gradients<T> {
    let mut g = Gradients::new();
    for (name, w) in params.iter() {
        if params.is_buffer(name) || (step == 2 && name == "layer.bias") {
            continue;
        }
        let grad = w.map(|v| v * v * v + T::of_f64(0.1 * (step as f64 + 1.0)) * v.sin());
        g.insert(name.to_string(), grad);
    }
    g
}

fn bits<T: Element>(params: &ParamStore<T>) -> Vec<u64> {
    params
        .iter()
        .flat_map(|(_, t)| t.to_f64_vec())
        .map(f64::to_bits)
        .collect()
}

/// `make` builds the optimizer under test; `fresh` builds the same kind with other
/// hyper-parameters, which `load_state` must overwrite.
fn check_resume<T: Element, O: Optimizer<T>>(make: impl Fn() -> O, fresh: impl Fn() -> O) {
    let mut straight = make();
    let mut p_straight = store::<T>();
    for step in 0..6 {
        let g = grads(&p_straight, step);
        straight.step(&mut p_straight, &g).unwrap();
    }

    let mut first = make();
    let mut p = store::<T>();
    for step in 0..3 {
        let g = grads(&p, step);
        first.step(&mut p, &g).unwrap();
    }
    let saved = first.state();
    assert_eq!(saved.kind, first.name());
    assert_eq!(saved.step, 3);
    assert_eq!(saved.param_steps["layer.bias"], 2);
    assert!(saved.slots.keys().all(|k| !k.contains("running_mean")));
    drop(first);

    let mut resumed = fresh();
    resumed.load_state(&saved).unwrap();
    assert_eq!(
        resumed.state(),
        saved,
        "{}: state differs right after load",
        saved.kind
    );
    for step in 3..6 {
        let g = grads(&p, step);
        resumed.step(&mut p, &g).unwrap();
    }
    assert_eq!(
        bits(&p),
        bits(&p_straight),
        "{}: resumed run differs",
        saved.kind
    );
    // The saved snapshot is not disturbed by the steps that followed it.
    assert_eq!(saved.step, 3);
}

fn all_optimizers<T: Element>() {
    check_resume::<T, _>(
        || {
            SgdConfig::new(0.05)
                .momentum(0.9)
                .nesterov(true)
                .weight_decay(1e-3)
                .build()
                .unwrap()
        },
        || SgdConfig::new(1.0).build().unwrap(),
    );
    check_resume::<T, _>(
        || {
            SgdConfig::new(0.05)
                .momentum(0.8)
                .dampening(0.2)
                .build()
                .unwrap()
        },
        || SgdConfig::new(1.0).build().unwrap(),
    );
    check_resume::<T, _>(
        || {
            AdagradConfig::new(0.1)
                .lr_decay(0.1)
                .initial_accumulator_value(0.1)
                .build()
                .unwrap()
        },
        || AdagradConfig::default().build().unwrap(),
    );
    check_resume::<T, _>(
        || {
            RmsPropConfig::new(0.01)
                .momentum(0.9)
                .centered(true)
                .weight_decay(1e-2)
                .build()
                .unwrap()
        },
        || RmsPropConfig::default().build().unwrap(),
    );
    check_resume::<T, _>(
        || {
            AdadeltaConfig::new(0.5)
                .rho(0.95)
                .weight_decay(1e-3)
                .build()
                .unwrap()
        },
        || AdadeltaConfig::default().build().unwrap(),
    );
    check_resume::<T, _>(
        || {
            AdamConfig::new(0.01)
                .amsgrad(true)
                .weight_decay(1e-2)
                .build()
                .unwrap()
        },
        || AdamConfig::default().build().unwrap(),
    );
    check_resume::<T, _>(
        || AdamConfig::adamw(0.01).betas(0.8, 0.99).build().unwrap(),
        || AdamConfig::adamw(1.0).build().unwrap(),
    );
}

#[test]
fn resume_is_bit_identical_f64() {
    all_optimizers::<f64>();
}

#[test]
fn resume_is_bit_identical_f32() {
    all_optimizers::<f32>();
}

#[test]
fn slot_keys_name_slot_and_parameter() {
    let mut opt = AdamConfig::new(0.01).amsgrad(true).build::<f64>().unwrap();
    let mut p = store();
    let g = grads(&p, 0);
    opt.step(&mut p, &g).unwrap();
    let keys: Vec<_> = opt.state().slots.into_keys().collect();
    for want in [
        "exp_avg/layer.weight",
        "exp_avg_sq/layer.bias",
        "max_exp_avg_sq/layer.weight",
    ] {
        assert!(
            keys.iter().any(|k| k == want),
            "{want} missing from {keys:?}"
        );
    }
    assert_eq!(keys.len(), 6);
}

#[test]
fn parameter_without_gradient_is_unchanged() {
    let mut opt = SgdConfig::new(0.1).momentum(0.9).build::<f64>().unwrap();
    let mut p = store();
    let before = p.get("layer.bias").unwrap().clone();
    let mut g = grads(&p, 0);
    g.remove("layer.bias");
    opt.step(&mut p, &g).unwrap();
    assert_eq!(p.get("layer.bias").unwrap(), &before);
    assert_ne!(
        p.get("layer.weight").unwrap(),
        &store::<f64>().get("layer.weight").unwrap().clone()
    );
    assert!(!opt.state().slots.contains_key("momentum_buffer/layer.bias"));
}

#[test]
fn bad_gradients_are_errors_naming_them_and_change_nothing() {
    let mut opt = AdamConfig::new(0.1).build::<f64>().unwrap();
    let mut p = store();
    let before = bits(&p);

    let mut g = grads(&p, 0);
    g.insert("layer.wieght".into(), Tensor::zeros(&[2, 3]));
    let err = opt.step(&mut p, &g).unwrap_err();
    assert_eq!(
        err.to_string(),
        "Adam: gradient `layer.wieght` does not name a parameter"
    );

    let mut g = grads(&p, 0);
    g.insert("layer.bias".into(), Tensor::zeros(&[2, 2]));
    let err = opt.step(&mut p, &g).unwrap_err();
    assert_eq!(
        err.to_string(),
        "Adam: gradient `layer.bias` has shape [2, 2] but the parameter has shape [4]"
    );

    let mut g = grads(&p, 0);
    g.insert("bn.running_mean".into(), Tensor::zeros(&[3]));
    let err = opt.step(&mut p, &g).unwrap_err();
    assert!(matches!(err, OptimError::GradientForBuffer { .. }), "{err}");

    assert_eq!(
        bits(&p),
        before,
        "a rejected step must not touch any parameter"
    );
    assert_eq!(opt.state().step, 0);
}

#[test]
fn load_state_rejects_a_state_that_does_not_fit() {
    let mut sgd = SgdConfig::new(0.1).momentum(0.9).build::<f64>().unwrap();
    let mut p = store();
    let g = grads(&p, 0);
    sgd.step(&mut p, &g).unwrap();
    let state = sgd.state();

    let mut adam = AdamConfig::new(0.1).build::<f64>().unwrap();
    let err = adam.load_state(&state).unwrap_err();
    assert_eq!(
        err.to_string(),
        "Adam: cannot load state: it was saved by SGD"
    );

    let mut missing = state.clone();
    missing.hyper.remove("momentum");
    let err = sgd.load_state(&missing).unwrap_err();
    assert!(err.to_string().contains("`momentum` is missing"), "{err}");

    let mut unknown = state.clone();
    let t = unknown.slots.remove("momentum_buffer/layer.bias").unwrap();
    unknown.slots.insert("velocity/layer.bias".into(), t);
    let err = sgd.load_state(&unknown).unwrap_err();
    assert!(err.to_string().contains("unknown slot `velocity`"), "{err}");

    // A slot of the wrong shape is caught on the next step, naming the slot.
    let mut wrong = state.clone();
    wrong
        .slots
        .insert("momentum_buffer/layer.bias".into(), Tensor::zeros(&[5]));
    sgd.load_state(&wrong).unwrap();
    let err = sgd.step(&mut p, &g).unwrap_err();
    assert_eq!(
        err.to_string(),
        "SGD: state slot `momentum_buffer/layer.bias` has shape [5] but the parameter has shape [4]"
    );
}

#[test]
fn learning_rate_can_be_changed_between_steps() {
    let mut opt = SgdConfig::new(0.1).build::<f64>().unwrap();
    assert_eq!(opt.learning_rate(), 0.1);
    opt.set_learning_rate(0.0);
    let mut p = store();
    let before = bits(&p);
    let g = grads(&p, 0);
    opt.step(&mut p, &g).unwrap();
    assert_eq!(bits(&p), before);
    opt.set_learning_rate(-1.0);
    let err = opt.step(&mut p, &g).unwrap_err();
    assert_eq!(err.to_string(), "SGD: lr = -1 is outside [0, ∞)");
}
