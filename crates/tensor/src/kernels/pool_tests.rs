//! Pooling tests: fast kernels against the references, the avg-pool adjoint identity, a
//! finite-difference check of max-pool backward, NaN/tie semantics and error paths.

use proptest::prelude::*;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use super::geometry::Pool2dGeometry;
use super::pool;
use super::pool_reference as pref;
use super::tests::{assert_close, dot, rand_vec, tol};
use crate::element::Element;
use crate::error::TensorError;

prop_compose! {
    fn pool_geometry()(
        batch in prop::sample::select(vec![1usize, 3]),
        channels in 1usize..=3,
        kernel in (1usize..=4, 1usize..=4),
        stride in (1usize..=3, 1usize..=3),
        pad_frac in (0usize..=2, 0usize..=2),
        extra in (0usize..=6, 0usize..=6),
        ceil_mode in any::<bool>(),
    ) -> Pool2dGeometry {
        let pad = (pad_frac.0.min(kernel.0 / 2), pad_frac.1.min(kernel.1 / 2));
        Pool2dGeometry {
            batch,
            channels,
            in_h: kernel.0.saturating_sub(2 * pad.0).max(1) + extra.0,
            in_w: kernel.1.saturating_sub(2 * pad.1).max(1) + extra.1,
            kernel_h: kernel.0,
            kernel_w: kernel.1,
            stride_h: stride.0,
            stride_w: stride.1,
            pad_h: pad.0,
            pad_w: pad.1,
            ceil_mode,
        }
    }
}

/// 2×2 windows at stride 2, unpadded: the most common max pooling.
fn two_by_two(
    batch: usize,
    channels: usize,
    in_h: usize,
    in_w: usize,
    ceil: bool,
) -> Pool2dGeometry {
    Pool2dGeometry {
        batch,
        channels,
        in_h,
        in_w,
        kernel_h: 2,
        kernel_w: 2,
        stride_h: 2,
        stride_w: 2,
        pad_h: 0,
        pad_w: 0,
        ceil_mode: ceil,
    }
}

fn check_pool<T: Element>(g: &Pool2dGeometry, seed: u64) {
    g.validate().unwrap();
    let x = rand_vec::<T>(g.input_len(), seed);
    let gy = rand_vec::<T>(g.output_len(), seed + 1);
    let (mut y, mut want_y) = (
        vec![T::zero(); g.output_len()],
        vec![T::zero(); g.output_len()],
    );
    let mut gx = vec![T::of_f64(7.0); g.input_len()];
    let mut want_gx = vec![T::zero(); g.input_len()];
    pool::max_pool2d_forward(g, &x, &mut y).unwrap();
    pref::max_pool2d_forward_reference(g, &x, &mut want_y).unwrap();
    assert_eq!(y, want_y, "max forward {g:?}");
    pool::max_pool2d_backward(g, &x, &gy, &mut gx).unwrap();
    pref::max_pool2d_backward_reference(g, &x, &gy, &mut want_gx).unwrap();
    assert_close(&format!("max backward {g:?}"), &gx, &want_gx, tol::<T>());
    for cip in [false, true] {
        pool::avg_pool2d_forward(g, &x, &mut y, cip).unwrap();
        pref::avg_pool2d_forward_reference(g, &x, &mut want_y, cip).unwrap();
        assert_close(&format!("avg forward {g:?} {cip}"), &y, &want_y, tol::<T>());
        gx.fill(T::of_f64(7.0));
        pool::avg_pool2d_backward(g, &gy, &mut gx, cip).unwrap();
        pref::avg_pool2d_backward_reference(g, &gy, &mut want_gx, cip).unwrap();
        assert_close(
            &format!("avg backward {g:?} {cip}"),
            &gx,
            &want_gx,
            tol::<T>(),
        );
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    #[test]
    fn pool_matches_reference_f64(g in pool_geometry(), seed in any::<u32>()) {
        check_pool::<f64>(&g, seed as u64);
    }

    #[test]
    fn pool_matches_reference_f32(g in pool_geometry(), seed in any::<u32>()) {
        check_pool::<f32>(&g, seed as u64);
    }

    #[test]
    fn avg_pool_adjoint_identity(g in pool_geometry(), seed in any::<u32>(), cip in any::<bool>()) {
        let x = rand_vec::<f64>(g.input_len(), seed as u64);
        let gy = rand_vec::<f64>(g.output_len(), seed as u64 + 1);
        let mut y = vec![0.0; g.output_len()];
        let mut gx = vec![0.0; g.input_len()];
        pool::avg_pool2d_forward(&g, &x, &mut y, cip).unwrap();
        pool::avg_pool2d_backward(&g, &gy, &mut gx, cip).unwrap();
        let (a, b) = (dot(&y, &gy), dot(&x, &gx));
        prop_assert!((a - b).abs() <= 1e-10 * (1.0 + a.abs()), "{a} vs {b}");
    }

    #[test]
    fn max_pool_backward_matches_finite_differences(g in pool_geometry(), seed in any::<u64>()) {
        // Distinct values 0.01 apart (a shuffled ramp): no ties, and a ±1e-4 nudge never
        // changes an argmax, so the loss is smooth at x.
        let n = g.input_len();
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let mut x: Vec<f64> = (0..n).map(|i| i as f64 * 0.01).collect();
        for i in (1..n).rev() {
            x.swap(i, rng.random_range(0..=i));
        }
        let gy = rand_vec::<f64>(g.output_len(), seed ^ 0x5eed);
        let loss = |x: &[f64]| {
            let mut y = vec![0.0; g.output_len()];
            pool::max_pool2d_forward(&g, x, &mut y).unwrap();
            dot(&y, &gy)
        };
        let mut gx = vec![0.0; n];
        pool::max_pool2d_backward(&g, &x, &gy, &mut gx).unwrap();
        let h = 1e-4;
        for i in 0..n {
            let mut xp = x.clone();
            xp[i] += h;
            let mut xm = x.clone();
            xm[i] -= h;
            let fd = (loss(&xp) - loss(&xm)) / (2.0 * h);
            prop_assert!((fd - gx[i]).abs() <= 1e-8, "x[{i}]: fd {fd} vs analytic {}", gx[i]);
        }
    }
}
#[test]
fn max_pool_propagates_nan_and_prefers_first_maximum() {
    let g = two_by_two(1, 1, 2, 4, false);
    let x = [1.0, 5.0, 2.0, f64::NAN, 5.0, 0.0, 3.0, 9.0];
    let mut y = [0.0; 2];
    pool::max_pool2d_forward(&g, &x, &mut y).unwrap();
    assert_eq!(y[0], 5.0);
    assert!(y[1].is_nan());
    let mut gx = [0.0; 8];
    pool::max_pool2d_backward(&g, &x, &[1.0, 2.0], &mut gx).unwrap();
    assert_eq!(gx, [0.0, 1.0, 0.0, 2.0, 0.0, 0.0, 0.0, 0.0]);
    let mut want = [0.0; 8];
    pref::max_pool2d_backward_reference(&g, &x, &[1.0, 2.0], &mut want).unwrap();
    assert_eq!(gx, want);
}

#[test]
fn global_avg_pool_matches_reference() {
    for (n, c, h, w) in [(2, 3, 4, 5), (3, 64, 16, 16), (1, 1, 1, 1)] {
        let x = rand_vec::<f64>(n * c * h * w, 9);
        let gy = rand_vec::<f64>(n * c, 10);
        let (mut y, mut want) = (vec![0.0; n * c], vec![0.0; n * c]);
        pool::global_avg_pool2d_forward(n, c, h, w, &x, &mut y).unwrap();
        pref::global_avg_pool2d_forward_reference(n, c, h, w, &x, &mut want).unwrap();
        assert_close("global forward", &y, &want, 1e-12);
        let (mut gx, mut want) = (vec![0.0; x.len()], vec![0.0; x.len()]);
        pool::global_avg_pool2d_backward(n, c, h, w, &gy, &mut gx).unwrap();
        pref::global_avg_pool2d_backward_reference(n, c, h, w, &gy, &mut want).unwrap();
        assert_close("global backward", &gx, &want, 1e-12);
        assert!((dot(&y, &gy) - dot(&x, &gx)).abs() < 1e-10);
    }
}

#[test]
fn large_pools_take_the_parallel_path() {
    // > PARALLEL_MIN_ELEMS inputs, overlapping 3×3/2 windows with padding and ceil mode.
    let g = Pool2dGeometry {
        batch: 4,
        channels: 16,
        in_h: 33,
        in_w: 31,
        kernel_h: 3,
        kernel_w: 3,
        stride_h: 2,
        stride_w: 2,
        pad_h: 1,
        pad_w: 1,
        ceil_mode: true,
    };
    assert!(g.input_len() > pool::PARALLEL_MIN_ELEMS);
    check_pool::<f32>(&g, 11);
}

#[test]
fn pool_bad_inputs_are_errors() {
    let g = two_by_two(1, 2, 4, 4, false);
    let x = vec![0.0f64; g.input_len()];
    let mut y = vec![0.0f64; g.output_len()];
    let mut gx = vec![0.0f64; g.input_len()];
    assert!(matches!(
        pool::max_pool2d_forward(&g, &x[1..], &mut y),
        Err(TensorError::Length {
            op: "max_pool2d",
            ..
        })
    ));
    assert!(pool::max_pool2d_backward(&g, &x, &y[1..], &mut gx).is_err());
    assert!(pool::avg_pool2d_forward(&g, &x, &mut y[1..], true).is_err());
    assert!(pool::avg_pool2d_backward(&g, &y, &mut gx[1..], false).is_err());
    let bad = [
        Pool2dGeometry { stride_w: 0, ..g },
        Pool2dGeometry { kernel_h: 0, ..g },
        Pool2dGeometry { kernel_h: 5, ..g },
        Pool2dGeometry { pad_h: 2, ..g },
        Pool2dGeometry { in_w: 0, ..g },
    ];
    for b in bad {
        let r = pool::max_pool2d_forward(&b, &x, &mut y);
        assert!(
            matches!(
                r,
                Err(TensorError::Invalid {
                    op: "max_pool2d",
                    ..
                })
            ),
            "{b:?}"
        );
        assert!(pool::avg_pool2d_forward(&b, &x, &mut y, true).is_err());
        assert!(pool::avg_pool2d_backward(&b, &y, &mut gx, true).is_err());
        assert!(pool::max_pool2d_backward(&b, &x, &y, &mut gx).is_err());
    }
    assert!(pool::global_avg_pool2d_forward(1, 2, 4, 4, &x, &mut y[..1]).is_err());
    assert!(pool::global_avg_pool2d_forward(1, 2, 0, 4, &[], &mut y[..2]).is_err());
    assert!(pool::global_avg_pool2d_backward(1, 2, 4, 4, &y[..2], &mut gx[1..]).is_err());
}

/// The 2×2/2 loops (`pool_2x2.rs`) against the reference, on even and odd sizes, with ties
/// (values from {−1, 0, 1}) and NaNs, in both element types; select against its adjoint.
#[test]
fn two_by_two_max_pool_matches_the_reference_with_ties_and_nans() {
    fn run<T: Element>(in_h: usize, in_w: usize, ceil_mode: bool, seed: u64) {
        let g = two_by_two(3, 5, in_h, in_w, ceil_mode);
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let x: Vec<T> = (0..g.input_len())
            .map(|_| match rng.random_range(0..20) {
                0 => T::of_f64(f64::NAN),
                k => T::of_f64((k % 3) as f64 - 1.0),
            })
            .collect();
        let gy = rand_vec::<T>(g.output_len(), seed + 1);
        let (mut y, mut want_y) = (
            vec![T::zero(); g.output_len()],
            vec![T::zero(); g.output_len()],
        );
        pool::max_pool2d_forward(&g, &x, &mut y).unwrap();
        pref::max_pool2d_forward_reference(&g, &x, &mut want_y).unwrap();
        let same = |a: &[T], b: &[T]| {
            a.iter()
                .zip(b)
                .all(|(p, q)| p == q || (p.is_nan() && q.is_nan()))
        };
        assert!(same(&y, &want_y), "forward {g:?}");
        let mut gx = vec![T::of_f64(7.0); g.input_len()];
        let mut want_gx = vec![T::zero(); g.input_len()];
        pool::max_pool2d_backward(&g, &x, &gy, &mut gx).unwrap();
        pref::max_pool2d_backward_reference(&g, &x, &gy, &mut want_gx).unwrap();
        assert_eq!(gx, want_gx, "backward {g:?}");
        // select is the backward pass's exact transpose: ⟨select(x, v), gy⟩ = ⟨v, gx⟩.
        let v = rand_vec::<T>(g.input_len(), seed + 2);
        let mut s = vec![T::zero(); g.output_len()];
        pool::max_pool2d_select(&g, &x, &v, &mut s).unwrap();
        let dot = |a: &[T], b: &[T]| {
            a.iter()
                .zip(b)
                .map(|(p, q)| p.as_f64() * q.as_f64())
                .sum::<f64>()
        };
        assert!((dot(&s, &gy) - dot(&v, &gx)).abs() < 1e-4, "select {g:?}");
    }
    for (h, w, ceil) in [
        (8, 8, false),
        (7, 9, false),
        (28, 28, false),
        (4, 70, false),
        (2, 6, false),
        (6, 6, true),
    ] {
        let g = two_by_two(1, 1, h, w, ceil);
        assert!(super::pool_2x2::applies(&g), "{g:?}");
        run::<f32>(h, w, ceil, (h * 100 + w) as u64);
        run::<f64>(h, w, ceil, (h * 100 + w + 1) as u64);
    }
    // Odd sizes in ceil mode have a partial last window: the general kernel takes them.
    assert!(!super::pool_2x2::applies(&two_by_two(1, 1, 7, 7, true)));
    run::<f32>(7, 7, true, 5);
}
