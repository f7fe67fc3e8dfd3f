//! The direct kernels against the nested-loop reference: stride-1 shapes whose channel
//! counts leave partial weight panels (K mod 8), partial tap tiles (C·kh·kw mod 12) and
//! several weight-gradient column tiles (K > 32), every padding up to and past the kernel's
//! reach, dilation, several bands per image, batch below and above the thread count, on one
//! thread and on two. On a CPU without AVX-512F the same tests check that `Direct` refuses
//! with a reason and `Auto` falls back, and say on the terminal that the kernels did not run.
//!
//! Each output is held to a bound built from its own terms: with `S = Σ|terms|` (the
//! reference run on |x|, |w|) and `n` terms, an f32 sum in any order errs by at most
//! `λ·√n·u·S` with probability ≥ 1 − 2·exp(−λ²/2) under Higham and Mary's probabilistic
//! model (SIAM J. Sci. Comput. 41(5), 2019); λ = 8 makes a spurious failure a 1e-14 event,
//! while a lost term, row or band shows up as an error of the size of a term.

use proptest::prelude::*;

use super::conv::{self, ConvAlgorithm, Tuning};
use super::conv_reference as cref;
use super::direct;
use super::geometry::Conv2dGeometry;
use super::tests::{assert_close, on_threads, rand_vec};
use crate::error::TensorError;

fn direct_tuning() -> Tuning {
    Tuning {
        algorithm: ConvAlgorithm::Direct,
        ..Tuning::default_for::<f32>()
    }
}

/// The f64 reference of one pass on the given operands and on their magnitudes: the exact
/// values and, element by element, `S = Σ|terms|`.
struct Reference {
    want: Vec<f64>,
    abs_sum: Vec<f64>,
}

impl Reference {
    fn of(
        len: usize,
        (a, b): (&[f32], &[f32]),
        pass: impl Fn(&[f64], &[f64], &mut [f64]),
    ) -> Reference {
        let wide = |v: &[f32], abs: bool| {
            v.iter()
                .map(|&x| if abs { x.abs() as f64 } else { x as f64 })
                .collect::<Vec<_>>()
        };
        let mut want = vec![0.0; len];
        let mut abs_sum = vec![0.0; len];
        pass(&wide(a, false), &wide(b, false), &mut want);
        pass(&wide(a, true), &wide(b, true), &mut abs_sum);
        Reference { want, abs_sum }
    }

    /// Every element of `got` within `λ·√n·u·S + u·|want|` of the reference (the second term
    /// is the rounding of the exact value to f32).
    fn check(&self, what: &str, got: &[f32], terms: usize) {
        const LAMBDA: f64 = 8.0;
        let u = f32::EPSILON as f64 / 2.0;
        let spread = LAMBDA * (terms as f64).sqrt() * u;
        assert_eq!(got.len(), self.want.len(), "{what}: lengths differ");
        for (i, ((&g, &w), &s)) in got.iter().zip(&self.want).zip(&self.abs_sum).enumerate() {
            let bound = spread * s + u * w.abs();
            let err = (g as f64 - w).abs();
            assert!(
                err <= bound,
                "{what}[{i}]: got {g}, want {w}: error {err:.3e} over the bound {bound:.3e} \
                 (Σ|terms| = {s:.3e}, {terms} terms)"
            );
        }
    }
}

/// Says on the terminal, past the test harness's capture and once per test binary, that the
/// direct kernels could not run here: a refusal checked is not the kernels checked.
fn report_skipped(why: &str) {
    use std::io::Write;
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        let _ = writeln!(
            std::io::stderr().lock(),
            "skipped: the direct AVX-512 convolution kernels did not run ({why}); only their \
             refusal and the fallback were checked"
        );
    });
}

/// Runs all three passes with `Direct` (where the padding allows the input gradient) and
/// compares them with the f64 reference; on a CPU without AVX-512F checks the refusal.
fn check_direct(g: &Conv2dGeometry, seed: u64) {
    let x = rand_vec::<f32>(g.input_len(), seed);
    let w = rand_vec::<f32>(g.weight_len(), seed + 1);
    let gy = rand_vec::<f32>(g.output_len(), seed + 2);
    let t = direct_tuning();
    let mut y = vec![7.0f32; g.output_len()];
    let mut gx = vec![7.0f32; g.input_len()];
    let mut gw = vec![7.0f32; g.weight_len()];
    let fwd = conv::conv2d_forward_tuned(g, &x, &w, &mut y, t);
    if !direct::available(g) {
        assert!(
            matches!(fwd, Err(TensorError::Invalid { op: "conv2d", .. })),
            "{fwd:?}"
        );
        report_skipped("this CPU has no AVX-512F");
        return;
    }
    fwd.unwrap();
    conv::conv2d_weight_grad_tuned(g, &x, &gy, &mut gw, t).unwrap();
    let ctx = format!("{g:?}");
    let forward = Reference::of(g.output_len(), (&x, &w), |a, b, out| {
        cref::conv2d_forward_reference(g, a, b, out).unwrap()
    });
    let taps = g.kernel_h * g.kernel_w;
    forward.check(&format!("direct forward {ctx}"), &y, g.in_channels * taps);
    let weight = Reference::of(g.weight_len(), (&x, &gy), |a, b, out| {
        cref::conv2d_weight_grad_reference(g, a, b, out).unwrap()
    });
    let cells = g.batch * g.out_h() * g.out_w();
    weight.check(&format!("direct weight_grad {ctx}"), &gw, cells);
    let input = Reference::of(g.input_len(), (&gy, &w), |a, b, out| {
        cref::conv2d_input_grad_reference(g, a, b, out).unwrap()
    });
    let ig = conv::conv2d_input_grad_tuned(g, &gy, &w, &mut gx, t);
    let fits =
        g.pad_h <= (g.kernel_h - 1) * g.dilation_h && g.pad_w <= (g.kernel_w - 1) * g.dilation_w;
    if fits {
        ig.unwrap();
        input.check(
            &format!("direct input_grad {ctx}"),
            &gx,
            g.out_channels * taps,
        );
    } else {
        let msg = ig.unwrap_err().to_string();
        assert!(
            msg.contains("conv2d_input_grad") && msg.contains("padding"),
            "{msg}"
        );
        // Auto falls back to im2col for that pass.
        conv::conv2d_input_grad(g, &gy, &w, &mut gx).unwrap();
        input.check(
            &format!("fallback input_grad {ctx}"),
            &gx,
            g.out_channels * taps,
        );
    }
}

prop_compose! {
    fn stride1_geometry()(
        batch in 1usize..=3,
        c in 1usize..=11,
        k in prop_oneof![1usize..=19, 33usize..=41],
        kernel in (1usize..=5, 1usize..=5),
        pad in (0usize..=3, 0usize..=3),
        dil in (1usize..=2, 1usize..=2),
        extra in (0usize..=9, 0usize..=9),
    ) -> Conv2dGeometry {
        let min_in = |k: usize, d: usize, p: usize| (d * (k - 1) + 1).saturating_sub(2 * p).max(1);
        Conv2dGeometry {
            batch,
            in_channels: c,
            in_h: min_in(kernel.0, dil.0, pad.0) + extra.0,
            in_w: min_in(kernel.1, dil.1, pad.1) + extra.1,
            out_channels: k,
            kernel_h: kernel.0,
            kernel_w: kernel.1,
            stride_h: 1,
            stride_w: 1,
            pad_h: pad.0,
            pad_w: pad.1,
            dilation_h: dil.0,
            dilation_w: dil.1,
            groups: 1,
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    #[test]
    fn direct_matches_reference(g in stride1_geometry(), seed in any::<u32>(), threads in 1usize..=2) {
        on_threads(threads, || check_direct(&g, seed as u64));
    }
}

#[test]
fn direct_handles_several_bands_per_image() {
    // 64 channels of 64×64 exceed one band (~1 MiB), so the image is cut into row bands,
    // and the last one is short; batch 1 and 3 take both parallel splits.
    for batch in [1, 3] {
        let g = Conv2dGeometry {
            batch,
            in_channels: 64,
            in_h: 66,
            in_w: 64,
            out_channels: 10,
            kernel_h: 3,
            kernel_w: 3,
            stride_h: 1,
            stride_w: 1,
            pad_h: 1,
            pad_w: 1,
            dilation_h: 1,
            dilation_w: 1,
            groups: 1,
        };
        check_direct(&g, 40 + batch as u64);
    }
}

#[test]
fn direct_weight_grad_covers_several_column_tiles() {
    // K = 40 needs two 32-column tiles of the transposed gradient and C·kh·kw = 45 four tap
    // tiles; batch 1 splits the column tiles over the pool, batch 3 the images.
    for (batch, threads) in [(1, 2), (3, 2), (2, 1)] {
        let g = Conv2dGeometry {
            batch,
            in_channels: 5,
            in_h: 11,
            in_w: 9,
            out_channels: 40,
            kernel_h: 3,
            kernel_w: 3,
            stride_h: 1,
            stride_w: 1,
            pad_h: 1,
            pad_w: 0,
            dilation_h: 1,
            dilation_w: 1,
            groups: 1,
        };
        on_threads(threads, || check_direct(&g, 70 + batch as u64));
    }
}

#[test]
fn direct_refuses_what_it_cannot_run_and_auto_falls_back() {
    let base = Conv2dGeometry {
        batch: 2,
        in_channels: 4,
        in_h: 9,
        in_w: 9,
        out_channels: 6,
        kernel_h: 3,
        kernel_w: 3,
        stride_h: 2,
        stride_w: 2,
        pad_h: 1,
        pad_w: 1,
        dilation_h: 1,
        dilation_w: 1,
        groups: 1,
    };
    let grouped = Conv2dGeometry {
        stride_h: 1,
        stride_w: 1,
        groups: 2,
        ..base
    };
    for (g, why) in [(base, "stride 2×2"), (grouped, "2 groups")] {
        let x = rand_vec::<f32>(g.input_len(), 1);
        let w = rand_vec::<f32>(g.weight_len(), 2);
        let mut y = vec![0.0f32; g.output_len()];
        let err = conv::conv2d_forward_with(ConvAlgorithm::Direct, &g, &x, &w, &mut y)
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("conv2d") && err.contains(why) && err.contains("[2, 4, 9, 9]"),
            "{err}"
        );
        // Auto runs im2col and matches the reference.
        conv::conv2d_forward(&g, &x, &w, &mut y).unwrap();
        let mut want = vec![0.0f32; g.output_len()];
        cref::conv2d_forward_reference(&g, &x, &w, &mut want).unwrap();
        assert_close("auto fallback", &y, &want, 1e-4);
    }
    // f64 data never takes the direct kernels.
    let g = Conv2dGeometry {
        stride_h: 1,
        stride_w: 1,
        ..base
    };
    let x = rand_vec::<f64>(g.input_len(), 1);
    let w = rand_vec::<f64>(g.weight_len(), 2);
    let mut y = vec![0.0f64; g.output_len()];
    let err = conv::conv2d_forward_with(ConvAlgorithm::Direct, &g, &x, &w, &mut y)
        .unwrap_err()
        .to_string();
    assert!(err.contains("f64"), "{err}");
}

#[test]
fn direct_weight_grad_is_deterministic() {
    let g = Conv2dGeometry {
        batch: 5,
        in_channels: 7,
        in_h: 12,
        in_w: 12,
        out_channels: 9,
        kernel_h: 3,
        kernel_w: 3,
        stride_h: 1,
        stride_w: 1,
        pad_h: 1,
        pad_w: 1,
        dilation_h: 1,
        dilation_w: 1,
        groups: 1,
    };
    let x = rand_vec::<f32>(g.input_len(), 3);
    let gy = rand_vec::<f32>(g.output_len(), 4);
    let run = || {
        let mut gw = vec![0.0f32; g.weight_len()];
        conv::conv2d_weight_grad_tuned(&g, &x, &gy, &mut gw, direct_tuning())
            .ok()
            .map(|_| gw)
    };
    assert_eq!(run(), run());
}
