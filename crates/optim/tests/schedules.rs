//! Schedules equal their closed forms; reduce-on-plateau follows its rules; state round-trips.

use std::f64::consts::PI;

use convnet_optim::schedule::{
    Constant, CosineAnnealing, CosineWarmRestarts, Exponential, LinearWarmup, MultiStep,
    PlateauMode, ReduceOnPlateau, Schedule, Scheduled, Scheduler, Sequential, StepDecay,
    ThresholdMode, warmup_then,
};
use convnet_optim::{Optimizer, SgdConfig};

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() <= 1e-12 * b.abs().max(1.0)
}

#[track_caller]
fn check(s: &dyn Schedule, cases: &[(u64, f64)]) {
    for &(t, want) in cases {
        let got = s.lr(t);
        assert!(
            close(got, want),
            "{}: lr({t}) = {got}, closed form {want}",
            s.name()
        );
    }
}

#[test]
fn constant_step_multistep_exponential() {
    check(&Constant::new(0.3).unwrap(), &[(0, 0.3), (1000, 0.3)]);
    // η₀ γ^⌊t/s⌋ with s = 30, γ = 0.1.
    let step = StepDecay::new(0.1, 30, 0.1).unwrap();
    check(
        &step,
        &[
            (0, 0.1),
            (29, 0.1),
            (30, 0.01),
            (59, 0.01),
            (60, 0.001),
            (95, 1e-4),
        ],
    );
    // Milestones 10, 25: γ⁰ before 10, γ¹ on [10, 25), γ² from 25.
    let multi = MultiStep::new(1.0, vec![10, 25], 0.5).unwrap();
    check(
        &multi,
        &[
            (0, 1.0),
            (9, 1.0),
            (10, 0.5),
            (24, 0.5),
            (25, 0.25),
            (1000, 0.25),
        ],
    );
    // η₀ γᵗ.
    let exp = Exponential::new(0.2, 0.9).unwrap();
    check(
        &exp,
        &[(0, 0.2), (1, 0.18), (2, 0.162), (10, 0.2 * 0.9f64.powi(10))],
    );
}

#[test]
fn cosine_annealing_closed_form() {
    // η_min + ½(η₀ − η_min)(1 + cos(π t / T)) with η₀ = 0.1, η_min = 0.001, T = 100.
    let s = CosineAnnealing::new(0.1, 100, 0.001).unwrap();
    let f = |t: f64| 0.001 + 0.5 * (0.1 - 0.001) * (1.0 + (PI * t / 100.0).cos());
    check(
        &s,
        &[
            (0, 0.1),
            (25, f(25.0)),
            (50, 0.0505),
            (75, f(75.0)),
            (100, 0.001),
        ],
    );
    // Held at η_min after T.
    check(&s, &[(150, 0.001), (10_000, 0.001)]);
}

#[test]
fn sgdr_restarts() {
    // T₀ = 10, T_mult = 2: periods [0, 10), [10, 30), [30, 70), …
    let s = CosineWarmRestarts::new(1.0, 10, 2, 0.0).unwrap();
    let f = |t_cur: f64, t_i: f64| 0.5 * (1.0 + (PI * t_cur / t_i).cos());
    check(
        &s,
        &[
            (0, 1.0),
            (5, 0.5),
            (9, f(9.0, 10.0)),
            (10, 1.0),
            (20, 0.5),
            (29, f(19.0, 20.0)),
        ],
    );
    check(&s, &[(30, 1.0), (50, 0.5), (70, 1.0)]);
    assert_eq!(s.position(69), (39, 40));
    // T_mult = 1: a fixed period.
    let s = CosineWarmRestarts::new(0.5, 4, 1, 0.1).unwrap();
    check(&s, &[(0, 0.5), (2, 0.3), (4, 0.5), (6, 0.3), (402, 0.3)]);
}

#[test]
fn warmup_then_cosine() {
    // 5 warm-up steps from 0.1·η₀, then a cosine over 20 steps: lr(5 + t) = cosine(t).
    let cosine = CosineAnnealing::new(0.4, 20, 0.0).unwrap();
    let s = warmup_then(5, 0.1, cosine).unwrap();
    let ramp = |t: f64| 0.4 * (0.1 + 0.9 * t / 5.0);
    check(
        &s,
        &[
            (0, 0.04),
            (1, ramp(1.0)),
            (4, ramp(4.0)),
            (5, 0.4),
            (15, 0.2),
            (25, 0.0),
        ],
    );
    assert!(close(s.lr(12), cosine.lr(7)));
    // The ramp on its own stays at η₀ after warm-up.
    check(
        &LinearWarmup::new(1.0, 4, 0.0).unwrap(),
        &[(0, 0.0), (1, 0.25), (4, 1.0), (9, 1.0)],
    );
}

#[test]
fn sequential_restarts_each_schedule_count() {
    let parts: Vec<Box<dyn Schedule>> = vec![
        Box::new(Constant::new(0.01).unwrap()),
        Box::new(Exponential::new(0.1, 0.5).unwrap()),
        Box::new(StepDecay::new(0.02, 2, 0.1).unwrap()),
    ];
    let s = Sequential::new(parts, vec![3, 6]).unwrap();
    check(
        &s,
        &[
            (0, 0.01),
            (2, 0.01),
            (3, 0.1),
            (4, 0.05),
            (5, 0.025),
            (6, 0.02),
            (8, 0.002),
        ],
    );
}

#[test]
fn scheduled_drives_an_optimizer_and_resumes_exactly() {
    let schedule = || warmup_then(3, 0.0, CosineWarmRestarts::new(0.1, 4, 2, 0.0).unwrap());
    let mut straight = Scheduled::new(schedule().unwrap());
    let mut opt = SgdConfig::new(straight.lr()).build::<f32>().unwrap();
    let mut lrs = vec![];
    for _ in 0..20 {
        let lr = straight.step(None).unwrap();
        opt.set_learning_rate(lr);
        lrs.push(opt.learning_rate());
    }
    assert_eq!(lrs[2], 0.1); // after 3 steps warm-up is done

    let mut first = Scheduled::new(schedule().unwrap());
    for _ in 0..7 {
        first.step(None).unwrap();
    }
    let saved = first.state();
    let mut resumed = Scheduled::new(schedule().unwrap());
    resumed.load_state(&saved).unwrap();
    assert_eq!(resumed.lr().to_bits(), first.lr().to_bits());
    for want in &lrs[7..] {
        assert_eq!(resumed.step(None).unwrap().to_bits(), want.to_bits());
    }
    assert!(resumed.load_state(&Default::default()).is_err());
}

#[test]
fn plateau_reduces_after_patience_bad_epochs() {
    // Patience 2: the 3rd consecutive epoch without improvement reduces (PyTorch semantics).
    let mut p = ReduceOnPlateau::new(1.0, PlateauMode::Min)
        .unwrap()
        .factor(0.5)
        .unwrap()
        .patience(2);
    assert_eq!(p.step(Some(10.0)).unwrap(), 1.0); // best = 10
    assert_eq!(p.step(Some(9.0)).unwrap(), 1.0); // best = 9
    assert_eq!(p.step(Some(9.5)).unwrap(), 1.0); // bad 1
    assert_eq!(p.step(Some(9.0)).unwrap(), 1.0); // bad 2 (equal is not better)
    assert_eq!(p.step(Some(9.2)).unwrap(), 0.5); // bad 3 > patience: reduce
    assert_eq!(p.num_bad_epochs(), 0);
    assert_eq!(p.step(Some(8.0)).unwrap(), 0.5); // improvement resets
    assert_eq!(p.best(), 8.0);
    assert!(p.step(None).is_err());
}

#[test]
fn plateau_threshold_modes_and_max_mode() {
    // Relative threshold 10%: 9.5 is not better than 10 · 0.9 = 9.
    let mut p = ReduceOnPlateau::new(1.0, PlateauMode::Min)
        .unwrap()
        .threshold(0.1, ThresholdMode::Rel)
        .unwrap()
        .patience(0);
    p.step(Some(10.0)).unwrap();
    assert_eq!(p.step(Some(9.5)).unwrap(), 0.1);
    // Max mode, absolute threshold 0.01: 0.92 beats 0.9 + 0.01, then 0.925 does not beat 0.93.
    let mut p = ReduceOnPlateau::new(1.0, PlateauMode::Max)
        .unwrap()
        .threshold(0.01, ThresholdMode::Abs)
        .unwrap()
        .patience(0);
    p.step(Some(0.9)).unwrap();
    assert_eq!(p.step(Some(0.92)).unwrap(), 1.0);
    assert_eq!(p.step(Some(0.925)).unwrap(), 0.1);
    // NaN never counts as an improvement.
    let mut p = ReduceOnPlateau::new(1.0, PlateauMode::Min)
        .unwrap()
        .patience(0);
    p.step(Some(1.0)).unwrap();
    assert_eq!(p.step(Some(f64::NAN)).unwrap(), 0.1);
}

#[test]
fn plateau_respects_cooldown_and_min_lr() {
    let mut p = ReduceOnPlateau::new(1.0, PlateauMode::Min)
        .unwrap()
        .factor(0.1)
        .unwrap()
        .patience(1)
        .cooldown(2)
        .min_lr(0.005)
        .unwrap();
    let mut lrs = vec![];
    for _ in 0..12 {
        lrs.push(p.step(Some(1.0)).unwrap()); // never improves after the first epoch
    }
    // epoch 1: best; 2: bad 1; 3: bad 2 → 0.1, cooldown 2; 4, 5: cooldown (bad not counted);
    // 6: bad 1; 7: bad 2 → 0.01; 8, 9 cooldown; 10: bad 1; 11: bad 2 → max(0.001, 0.005).
    let want = [
        1.0, 1.0, 0.1, 0.1, 0.1, 0.1, 0.01, 0.01, 0.01, 0.01, 0.005, 0.005,
    ];
    for (got, want) in lrs.iter().zip(want) {
        assert!(close(*got, want), "{lrs:?}");
    }
    // At min_lr it stays there.
    for _ in 0..10 {
        assert_eq!(p.step(Some(1.0)).unwrap(), 0.005);
    }
}

#[test]
fn plateau_state_round_trips_exactly() {
    let make = || {
        ReduceOnPlateau::new(0.1, PlateauMode::Min)
            .unwrap()
            .patience(1)
            .cooldown(1)
            .factor(0.3)
    };
    let metrics = [3.0, 2.0, 2.5, 2.4, 2.6, 1.9, 2.0, 2.1, 2.2, 2.3, 1.0, 1.1];
    let mut straight = make().unwrap();
    let want: Vec<f64> = metrics
        .iter()
        .map(|&m| straight.step(Some(m)).unwrap())
        .collect();

    let mut first = make().unwrap();
    for &m in &metrics[..5] {
        first.step(Some(m)).unwrap();
    }
    let saved = first.state();
    let mut resumed = make().unwrap();
    resumed.load_state(&saved).unwrap();
    assert_eq!(resumed, first);
    for (&m, w) in metrics[5..].iter().zip(&want[5..]) {
        assert_eq!(resumed.step(Some(m)).unwrap().to_bits(), w.to_bits());
    }
    // The initial best (+∞) survives the round trip too.
    let fresh = make().unwrap();
    let mut copy = make().unwrap();
    copy.load_state(&fresh.state()).unwrap();
    assert_eq!(copy, fresh);
}
