//! Gradient clipping by global norm and by value.

use convnet_optim::{Gradients, OptimError, clip_grad_norm, clip_grad_value, global_norm};
use convnet_tensor::Tensor;
use proptest::prelude::*;

fn grads(a: Vec<f64>, b: Vec<f64>) -> Gradients<f64> {
    let (na, nb) = (a.len(), b.len());
    Gradients::from([
        ("a".to_string(), Tensor::from_vec(a, &[na]).unwrap()),
        ("b".to_string(), Tensor::from_vec(b, &[nb]).unwrap()),
    ])
}

#[test]
fn norm_clipping_rescales_all_gradients_together() {
    // ‖(3, 4, 12)‖ = 13.
    let mut g = grads(vec![3.0, 4.0], vec![12.0]);
    let norm = clip_grad_norm(&mut g, 6.5).unwrap();
    assert_eq!(norm, 13.0);
    let scale = 6.5 / (13.0 + 1e-6);
    assert_eq!(g["a"].to_vec(), vec![3.0 * scale, 4.0 * scale]);
    assert_eq!(g["b"].to_vec(), vec![12.0 * scale]);
    approx::assert_relative_eq!(global_norm(&g), 6.5, max_relative = 1e-6);
}

#[test]
fn norm_clipping_leaves_small_gradients_alone() {
    let mut g = grads(vec![3.0, 4.0], vec![12.0]);
    let before = g.clone();
    assert_eq!(clip_grad_norm(&mut g, 100.0).unwrap(), 13.0);
    assert_eq!(g, before);
}

#[test]
fn non_finite_norm_is_an_error_and_changes_nothing() {
    let mut g = grads(vec![f64::NAN, 1.0], vec![1.0]);
    let err = clip_grad_norm(&mut g, 1.0).unwrap_err();
    assert!(matches!(err, OptimError::NonFiniteNorm { .. }));
    assert_eq!(g["b"].to_vec(), vec![1.0]);
    let mut g = grads(vec![f64::INFINITY], vec![1.0]);
    assert!(clip_grad_norm(&mut g, 1.0).is_err());
}

#[test]
fn value_clipping_clamps_each_component() {
    let mut g = grads(vec![-3.0, 0.25], vec![2.0, f64::NAN]);
    clip_grad_value(&mut g, 0.5).unwrap();
    assert_eq!(g["a"].to_vec(), vec![-0.5, 0.25]);
    assert_eq!(g["b"].to_vec()[0], 0.5);
    assert!(g["b"].to_vec()[1].is_nan());
}

proptest! {
    #[test]
    fn clipped_norm_never_exceeds_the_bound(
        a in proptest::collection::vec(-100.0f64..100.0, 1..20),
        b in proptest::collection::vec(-100.0f64..100.0, 1..20),
        max_norm in 0.01f64..50.0,
    ) {
        let mut g = grads(a, b);
        let before = global_norm(&g);
        let reported = clip_grad_norm(&mut g, max_norm).unwrap();
        prop_assert_eq!(reported, before);
        prop_assert!(global_norm(&g) <= max_norm * (1.0 + 1e-9) || before <= max_norm + 1e-6);
        prop_assert!(global_norm(&g) <= before * (1.0 + 1e-12));
    }
}
