//! Convolution tests: every fast kernel against its nested-loop reference under tunings
//! that force each tiling path, adjoint identities, and error paths. Shared helpers for
//! the pooling tests (`pool_tests`) live here too.

use proptest::prelude::*;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use super::conv::{self, ConvAlgorithm, Tuning};
use super::conv_reference as cref;
use super::geometry::Conv2dGeometry;
use crate::element::Element;
use crate::error::TensorError;

/// Runs `f` on a rayon pool of `threads` threads.
pub(super) fn on_threads(threads: usize, f: impl FnOnce() + Send) {
    rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build()
        .unwrap()
        .install(f);
}

pub(super) fn rand_vec<T: Element>(len: usize, seed: u64) -> Vec<T> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    (0..len)
        .map(|_| T::of_f64(rng.random_range(-1.0..1.0)))
        .collect()
}

/// Asserts `|got − want| ≤ tol · max(1, max|want|)` elementwise (NaNs must match).
pub(super) fn assert_close<T: Element>(what: &str, got: &[T], want: &[T], tol: f64) {
    assert_eq!(got.len(), want.len(), "{what}: lengths differ");
    let scale = want
        .iter()
        .map(|v| v.as_f64().abs())
        .filter(|v| v.is_finite())
        .fold(1.0, f64::max);
    for (i, (g, w)) in got.iter().zip(want).enumerate() {
        let (g, w) = (g.as_f64(), w.as_f64());
        if w.is_nan() {
            assert!(g.is_nan(), "{what}[{i}]: got {g}, want NaN");
            continue;
        }
        assert!(
            (g - w).abs() <= tol * scale,
            "{what}[{i}]: got {g}, want {w} (tol {tol} × {scale})"
        );
    }
}

pub(super) fn tol<T: Element>() -> f64 {
    if std::mem::size_of::<T>() == 4 {
        1e-4
    } else {
        1e-10
    }
}

pub(super) fn dot(a: &[f64], b: &[f64]) -> f64 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

/// Tunings that between them force every path: default (which may take the direct
/// kernels), and for im2col one-row bands on one thread, whole-batch image blocks on one
/// and two threads, and two-row bands on two threads.
fn tunings(g: &Conv2dGeometry) -> Vec<Tuning> {
    let big = 1 << 22;
    // wide_cols 0 / big: weight-sized transposes always / never.
    let t = |min_cols, scratch_elems, threads, wide_cols| Tuning {
        min_cols,
        tile_elems: 0,
        scratch_elems,
        threads,
        wide_cols,
        algorithm: ConvAlgorithm::Im2colGemm,
        precision: crate::precision::Precision::F32,
    };
    vec![
        Tuning::default_for::<f64>(),
        t(0, 1, 1, 0),
        t(0, 1, 1, big),
        t(big, big, 1, 0),
        t(big, big, 2, big),
        t(2 * g.out_w(), big, 2, 0),
        t(2 * g.out_w(), big, 2, big),
    ]
}

fn check_conv<T: Element>(g: &Conv2dGeometry, seed: u64) {
    for t in tunings(g) {
        check_conv_with::<T>(g, seed, t);
    }
}

fn check_conv_with<T: Element>(g: &Conv2dGeometry, seed: u64, t: Tuning) {
    let x = rand_vec::<T>(g.input_len(), seed);
    let w = rand_vec::<T>(g.weight_len(), seed + 1);
    let gy = rand_vec::<T>(g.output_len(), seed + 2);
    let mut want_y = vec![T::zero(); g.output_len()];
    let mut want_gx = vec![T::zero(); g.input_len()];
    let mut want_gw = vec![T::zero(); g.weight_len()];
    cref::conv2d_forward_reference(g, &x, &w, &mut want_y).unwrap();
    cref::conv2d_input_grad_reference(g, &gy, &w, &mut want_gx).unwrap();
    cref::conv2d_weight_grad_reference(g, &x, &gy, &mut want_gw).unwrap();
    {
        // Poison the outputs: every kernel must overwrite, not accumulate.
        let mut y = vec![T::of_f64(7.0); g.output_len()];
        let mut gx = vec![T::of_f64(7.0); g.input_len()];
        let mut gw = vec![T::of_f64(7.0); g.weight_len()];
        conv::conv2d_forward_tuned(g, &x, &w, &mut y, t).unwrap();
        conv::conv2d_input_grad_tuned(g, &gy, &w, &mut gx, t).unwrap();
        conv::conv2d_weight_grad_tuned(g, &x, &gy, &mut gw, t).unwrap();
        let ctx = format!("{g:?} {t:?}");
        assert_close(&format!("forward {ctx}"), &y, &want_y, tol::<T>());
        assert_close(&format!("input_grad {ctx}"), &gx, &want_gx, tol::<T>());
        assert_close(&format!("weight_grad {ctx}"), &gw, &want_gw, tol::<T>());
    }
}

prop_compose! {
    fn conv_geometry()(
        batch in prop::sample::select(vec![1usize, 3]),
        groups in 1usize..=3,
        cg in 1usize..=3,
        kg in 1usize..=3,
        kernel in (1usize..=5, 1usize..=5),
        stride in (1usize..=3, 1usize..=3),
        pad in (0usize..=2, 0usize..=2),
        dil in (1usize..=2, 1usize..=2),
        extra in (0usize..=6, 0usize..=6),
    ) -> Conv2dGeometry {
        // Smallest input the dilated window fits in, plus some slack (odd sizes included).
        let min_in = |k: usize, d: usize, p: usize| (d * (k - 1) + 1).saturating_sub(2 * p).max(1);
        Conv2dGeometry {
            batch,
            in_channels: groups * cg,
            in_h: min_in(kernel.0, dil.0, pad.0) + extra.0,
            in_w: min_in(kernel.1, dil.1, pad.1) + extra.1,
            out_channels: groups * kg,
            kernel_h: kernel.0,
            kernel_w: kernel.1,
            stride_h: stride.0,
            stride_w: stride.1,
            pad_h: pad.0,
            pad_w: pad.1,
            dilation_h: dil.0,
            dilation_w: dil.1,
            groups,
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    #[test]
    fn conv_matches_reference_f64(g in conv_geometry(), seed in any::<u32>()) {
        check_conv::<f64>(&g, seed as u64);
    }

    #[test]
    fn conv_matches_reference_f32(g in conv_geometry(), seed in any::<u32>()) {
        check_conv::<f32>(&g, seed as u64);
    }

    #[test]
    fn pointwise_conv_matches_reference(
        g in conv_geometry(), seed in any::<u32>(), f32_too in any::<bool>()
    ) {
        let g = Conv2dGeometry {
            kernel_h: 1, kernel_w: 1, stride_h: 1, stride_w: 1, pad_h: 0, pad_w: 0, ..g
        };
        check_conv::<f64>(&g, seed as u64);
        if f32_too {
            check_conv::<f32>(&g, seed as u64);
        }
    }

    #[test]
    fn same_width_conv_matches_reference(
        g in conv_geometry(), kw in prop::sample::select(vec![1usize, 3, 5]), seed in any::<u32>()
    ) {
        // Stride 1 with out_w == in_w takes im2col's flat (whole-band memcpy) form.
        let pad_w = g.dilation_w * (kw - 1) / 2;
        let g = Conv2dGeometry { kernel_w: kw, pad_w, stride_h: 1, stride_w: 1, ..g };
        prop_assume!(g.validate().is_ok());
        prop_assert_eq!(g.out_w(), g.in_w);
        check_conv::<f64>(&g, seed as u64);
        check_conv::<f32>(&g, seed as u64);
    }

    #[test]
    fn conv_adjoint_identities(g in conv_geometry(), seed in any::<u32>()) {
        let seed = seed as u64;
        let x = rand_vec::<f64>(g.input_len(), seed);
        let w = rand_vec::<f64>(g.weight_len(), seed + 1);
        let gy = rand_vec::<f64>(g.output_len(), seed + 2);
        let mut y = vec![0.0; g.output_len()];
        let mut gx = vec![0.0; g.input_len()];
        let mut gw = vec![0.0; g.weight_len()];
        conv::conv2d_forward(&g, &x, &w, &mut y).unwrap();
        conv::conv2d_input_grad(&g, &gy, &w, &mut gx).unwrap();
        conv::conv2d_weight_grad(&g, &x, &gy, &mut gw).unwrap();
        let (a, b, c) = (dot(&y, &gy), dot(&x, &gx), dot(&w, &gw));
        let scale = 1.0 + a.abs();
        prop_assert!((a - b).abs() <= 1e-10 * scale, "⟨y,gy⟩={a} ⟨x,gx⟩={b}");
        prop_assert!((a - c).abs() <= 1e-10 * scale, "⟨y,gy⟩={a} ⟨w,gw⟩={c}");
    }
}

#[test]
fn row_tiled_path_with_uneven_bands() {
    // 7-row bands over a 40-row output: the last band is short.
    let g = Conv2dGeometry {
        stride_h: 1,
        ..Conv2dGeometry::square(2, 8, 40, 5, 3, 1)
    };
    for (threads, hard_cap) in [(1, false), (2, false), (1, true), (2, true)] {
        // Either the preferred width or the hard scratch cap asks for 7-row bands.
        let band = 7 * g.out_w();
        let t = if hard_cap {
            Tuning {
                min_cols: usize::MAX / 2,
                tile_elems: 0,
                scratch_elems: 8 * 9 * band + 5,
                threads,
                wide_cols: 0,
                algorithm: ConvAlgorithm::Im2colGemm,
                precision: crate::precision::Precision::F32,
            }
        } else {
            Tuning {
                min_cols: band,
                tile_elems: 0,
                scratch_elems: usize::MAX / 2,
                threads,
                wide_cols: usize::MAX,
                algorithm: ConvAlgorithm::Im2colGemm,
                precision: crate::precision::Precision::F32,
            }
        };
        let x = rand_vec::<f64>(g.input_len(), 1);
        let w = rand_vec::<f64>(g.weight_len(), 2);
        let gy = rand_vec::<f64>(g.output_len(), 3);
        let (mut y, mut want) = (vec![0.0; g.output_len()], vec![0.0; g.output_len()]);
        conv::conv2d_forward_tuned(&g, &x, &w, &mut y, t).unwrap();
        cref::conv2d_forward_reference(&g, &x, &w, &mut want).unwrap();
        assert_close("tiled forward", &y, &want, 1e-10);
        let (mut gx, mut want) = (vec![0.0; g.input_len()], vec![0.0; g.input_len()]);
        conv::conv2d_input_grad_tuned(&g, &gy, &w, &mut gx, t).unwrap();
        cref::conv2d_input_grad_reference(&g, &gy, &w, &mut want).unwrap();
        assert_close("tiled input grad", &gx, &want, 1e-10);
        let (mut gw, mut want) = (vec![0.0; g.weight_len()], vec![0.0; g.weight_len()]);
        conv::conv2d_weight_grad_tuned(&g, &x, &gy, &mut gw, t).unwrap();
        cref::conv2d_weight_grad_reference(&g, &x, &gy, &mut want).unwrap();
        assert_close("tiled weight grad", &gw, &want, 1e-10);
    }
}

#[test]
fn large_image_tiles_with_default_tuning() {
    // 64·9 × 64·64 f32 columns = 9 MiB > SCRATCH_BYTES: the default plan must band rows.
    let g = Conv2dGeometry::square(1, 64, 64, 4, 3, 1);
    assert!(g.in_channels * 9 * g.out_h() * g.out_w() * 4 > conv::SCRATCH_BYTES);
    assert!(g.in_channels * 9 * g.out_h() * g.out_w() * 4 > conv::TILE_BYTES);
    let x = rand_vec::<f32>(g.input_len(), 4);
    let w = rand_vec::<f32>(g.weight_len(), 5);
    let gy = rand_vec::<f32>(g.output_len(), 6);
    let (mut y, mut want) = (vec![0.0; g.output_len()], vec![0.0; g.output_len()]);
    conv::conv2d_forward(&g, &x, &w, &mut y).unwrap();
    cref::conv2d_forward_reference(&g, &x, &w, &mut want).unwrap();
    assert_close("large forward", &y, &want, 1e-4);
    let (mut gx, mut want) = (vec![0.0; g.input_len()], vec![0.0; g.input_len()]);
    conv::conv2d_input_grad(&g, &gy, &w, &mut gx).unwrap();
    cref::conv2d_input_grad_reference(&g, &gy, &w, &mut want).unwrap();
    assert_close("large input grad", &gx, &want, 1e-4);
    let (mut gw, mut want) = (vec![0.0; g.weight_len()], vec![0.0; g.weight_len()]);
    conv::conv2d_weight_grad(&g, &x, &gy, &mut gw).unwrap();
    cref::conv2d_weight_grad_reference(&g, &x, &gy, &mut want).unwrap();
    assert_close("large weight grad", &gw, &want, 1e-3);
}

#[test]
fn small_batch_splits_im2col_over_channels() {
    // Batch 1 on a multi-thread plan: parallel GEMMs, and im2col/col2im split by channel
    // (bands are large enough); grouped, strided and dilated so the general form runs too.
    for (stride, dilation) in [(1, 1), (2, 2)] {
        let g = Conv2dGeometry {
            stride_h: stride,
            stride_w: stride,
            dilation_h: dilation,
            dilation_w: dilation,
            groups: 2,
            ..Conv2dGeometry::square(1, 2 * 11, 40, 6, 3, 1)
        };
        for threads in [1, 2] {
            check_conv_with::<f64>(
                &g,
                12,
                Tuning {
                    threads,
                    ..Tuning::default_for::<f64>()
                },
            );
        }
    }
}

#[test]
fn weight_grad_is_deterministic() {
    let g = Conv2dGeometry::square(8, 6, 9, 5, 3, 1);
    let x = rand_vec::<f32>(g.input_len(), 7);
    let gy = rand_vec::<f32>(g.output_len(), 8);
    let mut a = vec![0.0; g.weight_len()];
    let mut b = vec![1.0; g.weight_len()];
    conv::conv2d_weight_grad(&g, &x, &gy, &mut a).unwrap();
    conv::conv2d_weight_grad(&g, &x, &gy, &mut b).unwrap();
    assert_eq!(a, b);
}

#[test]
fn empty_batch_gives_zero_weight_grad() {
    let g = Conv2dGeometry::square(0, 2, 5, 3, 3, 1);
    let mut gw = vec![1.0f64; g.weight_len()];
    conv::conv2d_weight_grad(&g, &[], &[], &mut gw).unwrap();
    assert!(gw.iter().all(|&v| v == 0.0));
    let mut y: Vec<f64> = vec![];
    conv::conv2d_forward(&g, &[], &vec![0.0; g.weight_len()], &mut y).unwrap();
}

#[test]
fn an_empty_image_is_refused_even_when_padding_would_make_windows_fit() {
    // 0×0 input, 1×1 kernel, padding 1: windows fit the padded 2×2, but there is no image.
    // Every pass refuses it with the shape in the message (it used to divide by zero).
    let g = Conv2dGeometry::square(2, 3, 0, 4, 1, 1);
    let w = vec![0.0f32; g.weight_len()];
    let mut y = vec![0.0f32; g.output_len()];
    let mut gw = vec![0.0f32; g.weight_len()];
    let e = conv::conv2d_forward(&g, &[], &w, &mut y)
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("conv2d") && e.contains("non-empty, got 0×0"),
        "{e}"
    );
    let e = conv::conv2d_input_grad(&g, &y, &w, &mut [])
        .unwrap_err()
        .to_string();
    assert!(e.contains("non-empty"), "{e}");
    let e = conv::conv2d_weight_grad(&g, &[], &y, &mut gw)
        .unwrap_err()
        .to_string();
    assert!(e.contains("non-empty"), "{e}");
}

#[test]
fn conv_bad_inputs_are_errors() {
    let g = Conv2dGeometry::square(2, 4, 6, 3, 3, 1);
    let x = vec![0.0f32; g.input_len()];
    let w = vec![0.0f32; g.weight_len()];
    let mut y = vec![0.0f32; g.output_len()];
    let mut gx = vec![0.0f32; g.input_len()];
    let mut gw = vec![0.0f32; g.weight_len()];
    let short = &x[1..];
    assert!(matches!(
        conv::conv2d_forward(&g, short, &w, &mut y),
        Err(TensorError::Length { op: "conv2d", .. })
    ));
    assert!(matches!(
        conv::conv2d_forward(&g, &x, &w[1..], &mut y),
        Err(TensorError::Length { .. })
    ));
    assert!(matches!(
        conv::conv2d_forward(&g, &x, &w, &mut y[1..]),
        Err(TensorError::Length { .. })
    ));
    assert!(matches!(
        conv::conv2d_input_grad(&g, &y[1..], &w, &mut gx),
        Err(TensorError::Length {
            op: "conv2d_input_grad",
            ..
        })
    ));
    assert!(matches!(
        conv::conv2d_input_grad(&g, &y, &w, &mut gx[1..]),
        Err(TensorError::Length { .. })
    ));
    assert!(matches!(
        conv::conv2d_weight_grad(&g, &x, &y, &mut gw[1..]),
        Err(TensorError::Length {
            op: "conv2d_weight_grad",
            ..
        })
    ));
    let msg = conv::conv2d_forward(&g, short, &w, &mut y)
        .unwrap_err()
        .to_string();
    assert!(msg.contains("287") && msg.contains("288"), "{msg}");
    let bad = [
        Conv2dGeometry { stride_h: 0, ..g },
        Conv2dGeometry { dilation_w: 0, ..g },
        Conv2dGeometry { kernel_h: 9, ..g },
        Conv2dGeometry { groups: 3, ..g },
        Conv2dGeometry { groups: 0, ..g },
    ];
    for b in bad {
        let r = conv::conv2d_forward(&b, &x, &w, &mut y);
        assert!(
            matches!(r, Err(TensorError::Invalid { op: "conv2d", .. })),
            "{b:?}: {r:?}"
        );
        assert!(conv::conv2d_input_grad(&b, &y, &w, &mut gx).is_err());
        assert!(conv::conv2d_weight_grad(&b, &x, &y, &mut gw).is_err());
        assert!(cref::conv2d_forward_reference(&b, &x, &w, &mut y).is_err());
    }
}
