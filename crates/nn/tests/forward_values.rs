//! Forward values of the compositions whose gradients are checked elsewhere, against an
//! independent plain-loop computation of their textbook formulas: local response
//! normalisation (both α conventions), the multiclass hinge loss, mean absolute error and mean
//! bias error. A gradient check alone would pass a wrong formula with a consistent gradient.

use convnet_nn::autograd::Plan;
use convnet_nn::prelude::*;
use convnet_nn::{Feeds, Graph, NodeId, loss};

/// Evaluates `f(pred, target)` on a fresh graph.
fn eval_loss(
    f: impl Fn(&mut Graph<f64>, NodeId, NodeId) -> convnet_nn::Result<NodeId>,
    pred: &Tensor<f64>,
    target: &Tensor<f64>,
) -> f64 {
    let mut g = Graph::<f64>::new();
    let x = g.input("pred", pred.shape()).unwrap();
    let t = g.input("target", target.shape()).unwrap();
    let l = f(&mut g, x, t).unwrap();
    let feeds = Feeds::new().with(x, pred.clone()).with(t, target.clone());
    let out = Plan::compile(&g, &[l], None)
        .unwrap()
        .run(&feeds, &ParamStore::new())
        .unwrap();
    out[0].item().unwrap()
}

#[test]
fn hinge_is_the_cs231n_multiclass_svm_loss() {
    let scores = Tensor::<f64>::normal(&[5, 4], 0.0, 1.5, 3).unwrap();
    let classes = [0usize, 3, 1, 1, 2];
    let s = scores.to_vec();
    let mut want = 0.0;
    for (i, &y) in classes.iter().enumerate() {
        for j in 0..4 {
            if j != y {
                want += (s[i * 4 + j] - s[i * 4 + y] + 1.0).max(0.0);
            }
        }
    }
    want /= 5.0;
    let got = eval_loss(loss::hinge, &scores, &loss::labels::<f64>(&classes));
    assert!((got - want).abs() < 1e-12, "hinge {got}, expected {want}");
    // The CS231n worked example: scores (3.2, 5.1, −1.7) for a cat (class 0) give 2.9.
    let cat = Tensor::<f64>::from_vec(vec![3.2, 5.1, -1.7], &[1, 3]).unwrap();
    let got = eval_loss(loss::hinge, &cat, &loss::labels::<f64>(&[0]));
    assert!((got - 2.9).abs() < 1e-12, "hinge {got}, expected 2.9");
}

#[test]
fn mae_and_mean_bias_error_follow_their_definitions() {
    let pred = Tensor::<f64>::normal(&[3, 7], 0.0, 1.0, 5).unwrap();
    let target = Tensor::<f64>::normal(&[3, 7], 0.5, 1.0, 6).unwrap();
    let (p, t) = (pred.to_vec(), target.to_vec());
    let n = p.len() as f64;
    let mae: f64 = p.iter().zip(&t).map(|(a, b)| (a - b).abs()).sum::<f64>() / n;
    let mbe: f64 = p.iter().zip(&t).map(|(a, b)| b - a).sum::<f64>() / n;
    let got = eval_loss(loss::mae, &pred, &target);
    assert!((got - mae).abs() < 1e-12, "mae {got}, expected {mae}");
    let got = eval_loss(loss::mean_bias_error, &pred, &target);
    assert!(
        (got - mbe).abs() < 1e-12,
        "mean bias error {got}, expected {mbe}"
    );
    // Signed: a model that predicts too low everywhere by 0.25 has a bias of +0.25.
    let low = target.map(|v| v - 0.25);
    let got = eval_loss(loss::mean_bias_error, &low, &target);
    assert!((got - 0.25).abs() < 1e-12, "{got}");
}

/// `b_c = a_c / (k + α'·Σ_{c' ∈ window(c)} a_{c'}²)^β`, the window of `n` channels centred on
/// `c` (⌊n/2⌋ before, ⌊(n−1)/2⌋ after, zero beyond the edges), α' = α/n or α.
fn lrn_reference(x: &Tensor<f64>, lrn: &LocalResponseNorm) -> Vec<f64> {
    let [b, c, h, w] = <[usize; 4]>::try_from(x.shape()).unwrap();
    let v = x.to_vec();
    let at = |i: usize, ch: usize, p: usize| v[(i * c + ch) * h * w + p];
    let (before, after) = (lrn.size / 2, (lrn.size - 1) / 2);
    let alpha = if lrn.alpha_over_size {
        lrn.alpha / lrn.size as f64
    } else {
        lrn.alpha
    };
    let mut out = vec![0.0; v.len()];
    for i in 0..b {
        for ch in 0..c {
            for p in 0..h * w {
                let lo = ch.saturating_sub(before);
                let hi = (ch + after).min(c - 1);
                let sum: f64 = (lo..=hi).map(|q| at(i, q, p).powi(2)).sum();
                out[(i * c + ch) * h * w + p] = at(i, ch, p) / (lrn.k + alpha * sum).powf(lrn.beta);
            }
        }
    }
    out
}

#[test]
fn local_response_norm_matches_the_formula_in_both_conventions() {
    // Large α so the normalisation is far from the identity and a wrong window shows.
    for lrn in [
        LocalResponseNorm::alexnet("lrn").alpha(0.3),
        LocalResponseNorm::new("lrn", 4).alpha(0.8).k(1.5),
        LocalResponseNorm::new("lrn", 3).alpha(2.0).beta(0.5),
    ] {
        let model = Model::<f64>::new(lrn.clone(), &[7, 2, 3]).unwrap();
        let mg = model.build_graph(Mode::Eval).unwrap();
        let x = Tensor::<f64>::normal(&[2, 7, 2, 3], 0.0, 2.0, 11).unwrap();
        let want = lrn_reference(&x, &lrn);
        let input = x.to_vec();
        let feeds = Feeds::new().with(mg.input, x);
        let got = Plan::compile(&mg.graph, &[mg.output], Some(2))
            .unwrap()
            .run(&feeds, &model.init_params(1).unwrap())
            .unwrap()[0]
            .to_vec();
        for (i, (g, w)) in got.iter().zip(&want).enumerate() {
            assert!((g - w).abs() < 1e-12, "{lrn:?}[{i}]: {g} against {w}");
        }
        // The normalisation really acted: some outputs differ from their inputs by over 10 %.
        assert!(
            got.iter()
                .zip(&input)
                .any(|(g, a)| (g - a).abs() > 0.1 * a.abs()),
            "{lrn:?} left its input almost unchanged"
        );
    }
}
