//! The racing pictures' claims, checked numerically: SGD stalls at the saddle while the
//! adaptive methods escape, and on Rosenbrock's valley momentum and Adam get much closer to
//! the minimum than plain SGD.

use convnet_optim::race::{Rates, Surface, Trajectory, lineup, race};

fn by_label<'a>(trajectories: &'a [Trajectory], label: &str) -> &'a Trajectory {
    trajectories.iter().find(|t| t.label == label).unwrap()
}

#[test]
fn sgd_stalls_at_the_saddle_while_adaptive_methods_escape() {
    // f = x² − y² from (1, 1e-3), 100 steps, the same rate 0.01 for SGD, RMSProp and Adam.
    let s = Surface::Saddle;
    let mut contenders = lineup(Rates::for_surface(s)).unwrap();
    let t = race(s, [1.0, 1e-3], &mut contenders, 100).unwrap();
    // SGD: y ← y − η(−2y) = (1 + 2η) y, so |y| = 1e-3 · 1.02¹⁰⁰ ≈ 7.2e-3 — still at the saddle.
    let sgd = by_label(&t, "SGD").last();
    assert!((sgd[1] - 1e-3 * 1.02f64.powi(100)).abs() < 1e-15, "{sgd:?}");
    assert!(sgd[1].abs() < 0.01);
    for label in ["Adagrad", "RMSProp", "Adam"] {
        let y = by_label(&t, label).last()[1].abs();
        assert!(
            y > 100.0 * sgd[1].abs(),
            "{label}: |y| = {y}, SGD's |y| = {}",
            sgd[1]
        );
        assert!(y > 1.0, "{label}: |y| = {y}");
    }
}

#[test]
fn momentum_and_adam_beat_sgd_along_rosenbrocks_valley() {
    let s = Surface::Rosenbrock;
    let mut contenders = lineup(Rates::for_surface(s)).unwrap();
    let t = race(s, s.start(), &mut contenders, 2000).unwrap();
    let dist = |label: &str| {
        let [x, y] = by_label(&t, label).last();
        ((x - 1.0).powi(2) + (y - 1.0).powi(2)).sqrt()
    };
    let sgd = dist("SGD");
    assert!(
        sgd > 0.5,
        "SGD should still be crawling along the valley floor, is {sgd} away"
    );
    for label in ["Momentum", "Nesterov", "Adam", "AMSGrad"] {
        assert!(
            dist(label) < 0.01,
            "{label} ends {} from (1, 1)",
            dist(label)
        );
    }
    for label in ["RMSProp", "Adagrad", "Adadelta"] {
        assert!(
            dist(label) < sgd,
            "{label} ends {} from (1, 1), SGD {sgd}",
            dist(label)
        );
    }
    assert!(t.iter().all(|t| !t.escaped));
}

#[test]
fn analytic_gradients_match_finite_differences() {
    for s in [Surface::Saddle, Surface::Rosenbrock, Surface::Beale] {
        for &[x, y] in &[[0.3, -0.7], [1.2, 0.4], [-1.1, 1.9]] {
            let g = s.grad(x, y);
            let h = 1e-6;
            let dx = (s.value(x + h, y) - s.value(x - h, y)) / (2.0 * h);
            let dy = (s.value(x, y + h) - s.value(x, y - h)) / (2.0 * h);
            let tol = 1e-5 * (1.0 + g[0].abs().max(g[1].abs()));
            assert!(
                (g[0] - dx).abs() < tol && (g[1] - dy).abs() < tol,
                "{s:?} at ({x}, {y})"
            );
        }
        if let Some([x, y]) = s.minimum() {
            assert!(s.value(x, y).abs() < 1e-12 && s.grad(x, y).iter().all(|g| g.abs() < 1e-12));
        }
    }
}

#[test]
fn a_diverging_run_stops_early() {
    let s = Surface::Rosenbrock;
    let mut contenders = lineup(Rates {
        sgd: 0.1,
        ..Rates::for_surface(s)
    })
    .unwrap();
    let t = race(s, s.start(), &mut contenders[..1], 100).unwrap();
    assert!(t[0].escaped && t[0].points.len() < 10);
}
