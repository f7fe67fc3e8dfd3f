//! Winograd against the f64 nested-loop reference, forward and input gradient: every
//! padding it accepts, maps whose sides are and are not multiples of 4, channel counts
//! around the 16-lane groups, chunks that end inside an image and span images, batches
//! below and above the thread count, on one thread and on two.
//!
//! Bound: Winograd does not sum an output's own terms. Its transforms mix the whole 6×6
//! input patch of the output's tile with weights scaled by up to 1/4 and outputs scaled by
//! up to 8, and the values that do not belong to an output cancel only up to rounding. So
//! an output's error scales with its tile's magnitude `T = Σ_c Σ_patch |d| · max|g_kc|`,
//! not with its own `Σ|terms|` (which at a corner can be a small part of `T`). Every output
//! is held to `err ≤ KAPPA · u · T + u·|want|`. Across these tests the worst ratio seen is
//! about 6.5 (7.5 for the weight gradient), a ninth of [`KAPPA`], while a lost term, tile or channel errs by about `T / (36·C)`,
//! hundreds of times the bound for the channel counts here.

use proptest::prelude::*;

use super::super::conv::{self, ConvAlgorithm, Tuning};
use super::super::conv_reference as cref;
use super::super::geometry::Conv2dGeometry;
use super::super::tests::{on_threads, rand_vec};
use super::{forward_chunked, input_grad_chunked, weight_grad_chunked};

/// `err ≤ KAPPA · u · T + u·|want|` (see the module docs).
const KAPPA: f64 = 64.0;

/// One convolution Winograd computes, described as a forward pass: `cin` channels of
/// `h × w` (padded by `pad`) → `cout` channels of `ho × wo`, filters read by `tap`.
struct Case<'a> {
    input: &'a [f32],
    cin: usize,
    cout: usize,
    hw: (usize, usize),
    pad: (usize, usize),
    out: (usize, usize),
    tap: &'a dyn Fn(usize, usize, usize, usize) -> f32,
}

impl Case<'_> {
    /// The exact result (f64) and every output's tile magnitude `T`.
    fn reference(&self, batch: usize) -> (Vec<f64>, Vec<f64>) {
        let ((h, w), (ph, pw), (ho, wo)) = (self.hw, self.pad, self.out);
        let len = batch * self.cout * ho * wo;
        let (mut want, mut scale) = (vec![0.0; len], vec![0.0; len]);
        let at = |b: usize, c: usize, iy: isize, ix: isize| -> f64 {
            if iy < 0 || ix < 0 || iy as usize >= h || ix as usize >= w {
                return 0.0;
            }
            self.input[((b * self.cin + c) * h + iy as usize) * w + ix as usize] as f64
        };
        for b in 0..batch {
            for k in 0..self.cout {
                for oy in 0..ho {
                    for ox in 0..wo {
                        let o = ((b * self.cout + k) * ho + oy) * wo + ox;
                        let (ty, tx) = ((oy / 4 * 4) as isize, (ox / 4 * 4) as isize);
                        for c in 0..self.cin {
                            let mut gmax = 0.0f64;
                            for r in 0..3 {
                                for q in 0..3 {
                                    let g = (self.tap)(k, c, r, q) as f64;
                                    gmax = gmax.max(g.abs());
                                    let (iy, ix) = (oy + r, ox + q);
                                    want[o] += g * at(
                                        b,
                                        c,
                                        iy as isize - ph as isize,
                                        ix as isize - pw as isize,
                                    );
                                }
                            }
                            let mut patch = 0.0;
                            for r in 0..6 {
                                for q in 0..6 {
                                    patch +=
                                        at(b, c, ty + r - ph as isize, tx + q - pw as isize).abs();
                                }
                            }
                            scale[o] += patch * gmax;
                        }
                    }
                }
            }
        }
        (want, scale)
    }

    fn check(&self, what: &str, batch: usize, got: &[f32]) {
        let u = f32::EPSILON as f64 / 2.0;
        let (want, scale) = self.reference(batch);
        assert_eq!(got.len(), want.len(), "{what}: lengths differ");
        for (i, ((&g, &w), &t)) in got.iter().zip(&want).zip(&scale).enumerate() {
            let bound = KAPPA * u * t + u * w.abs();
            let err = (g as f64 - w).abs();
            assert!(
                err <= bound,
                "{what}[{i}]: got {g}, want {w}: error {err:.3e} over the bound {bound:.3e} \
                 (tile magnitude {t:.3e})"
            );
        }
    }
}

fn check(g: &Conv2dGeometry, seed: u64, chunk: Option<usize>) {
    let x = rand_vec::<f32>(g.input_len(), seed);
    let w = rand_vec::<f32>(g.weight_len(), seed + 1);
    let gy = rand_vec::<f32>(g.output_len(), seed + 2);
    let ctx = format!("{g:?}, chunk {chunk:?}");
    let (c, k) = (g.in_channels, g.out_channels);
    let mut y = vec![7.0f32; g.output_len()];
    assert!(forward_chunked(g, &x, &w, &mut y, chunk), "{ctx}");
    let forward = Case {
        input: &x,
        cin: c,
        cout: k,
        hw: (g.in_h, g.in_w),
        pad: (g.pad_h, g.pad_w),
        out: (g.out_h(), g.out_w()),
        tap: &|k, c_, r, q| w[((k * c + c_) * 3 + r) * 3 + q],
    };
    forward.check(&format!("winograd forward {ctx}"), g.batch, &y);
    // The input gradient is the forward pass of gy with flipped, channel-swapped filters,
    // as Winograd computes it; the nested-loop reference checks that identity too.
    let mut gx = vec![7.0f32; g.input_len()];
    assert!(input_grad_chunked(g, &gy, &w, &mut gx, chunk), "{ctx}");
    let input = Case {
        input: &gy,
        cin: k,
        cout: c,
        hw: (g.out_h(), g.out_w()),
        pad: (2 - g.pad_h, 2 - g.pad_w),
        out: (g.in_h, g.in_w),
        tap: &|c_, k_, r, q| w[((k_ * c + c_) * 3 + 2 - r) * 3 + 2 - q],
    };
    input.check(&format!("winograd input_grad {ctx}"), g.batch, &gx);
    let mut gw = vec![7.0f32; g.weight_len()];
    assert!(weight_grad_chunked(g, &x, &gy, &mut gw, chunk), "{ctx}");
    check_weight_grad(g, (&x, &gy), &gw, &ctx);
    let wide = |v: &[f32]| v.iter().map(|&a| a as f64).collect::<Vec<_>>();
    let mut gx_ref = vec![0.0f64; g.input_len()];
    cref::conv2d_input_grad_reference(g, &wide(&gy), &wide(&w), &mut gx_ref).unwrap();
    let (want, _) = input.reference(g.batch);
    for (a, b) in want.iter().zip(&gx_ref) {
        assert!(
            (a - b).abs() <= 1e-9 * (1.0 + b.abs()),
            "{ctx}: flipped forward {a} vs {b}"
        );
    }
}

/// The weight gradient against the reference, each entry `gw[k][c]` held to
/// `KAPPA · u · T_w` with `T_w = Σ_tiles max|e_k| · Σ_patch |d_c|`: the same tile magnitude
/// as the forward bound, with the output-gradient block in the filter's place.
fn check_weight_grad(g: &Conv2dGeometry, (x, gy): (&[f32], &[f32]), gw: &[f32], ctx: &str) {
    let wide = |v: &[f32]| v.iter().map(|&a| a as f64).collect::<Vec<_>>();
    let mut want = vec![0.0f64; g.weight_len()];
    cref::conv2d_weight_grad_reference(g, &wide(x), &wide(gy), &mut want).unwrap();
    let (c, k, h, w) = (g.in_channels, g.out_channels, g.in_h, g.in_w);
    let (ho, wo) = (g.out_h(), g.out_w());
    let (ph, pw) = (g.pad_h as isize, g.pad_w as isize);
    let u = f32::EPSILON as f64 / 2.0;
    for kk in 0..k {
        for cc in 0..c {
            let mut scale = 0.0;
            for b in 0..g.batch {
                for ty in (0..ho).step_by(4) {
                    for tx in (0..wo).step_by(4) {
                        let mut emax = 0.0f64;
                        for oy in ty..(ty + 4).min(ho) {
                            for ox in tx..(tx + 4).min(wo) {
                                emax =
                                    emax.max(gy[((b * k + kk) * ho + oy) * wo + ox].abs() as f64);
                            }
                        }
                        let mut patch = 0.0;
                        for r in 0..6isize {
                            for q in 0..6isize {
                                let (iy, ix) = (ty as isize + r - ph, tx as isize + q - pw);
                                if iy >= 0 && ix >= 0 && (iy as usize) < h && (ix as usize) < w {
                                    patch += x[((b * c + cc) * h + iy as usize) * w + ix as usize]
                                        .abs() as f64;
                                }
                            }
                        }
                        scale += emax * patch;
                    }
                }
            }
            for tap in 0..9 {
                let i = (kk * c + cc) * 9 + tap;
                let err = (gw[i] as f64 - want[i]).abs();
                let bound = KAPPA * u * scale + u * want[i].abs();
                assert!(
                    err <= bound,
                    "winograd weight_grad {ctx}[{i}]: got {}, want {}: error {err:.3e} over the \
                     bound {bound:.3e} (tile magnitude {scale:.3e})",
                    gw[i],
                    want[i]
                );
            }
        }
    }
}

prop_compose! {
    fn winograd_geometry()(
        batch in 1usize..=3,
        c in prop_oneof![1usize..=5, 15usize..=18, 31usize..=34],
        k in prop_oneof![1usize..=5, 15usize..=18, 31usize..=34],
        pad in (0usize..=2, 0usize..=2),
        extra in (0usize..=10, 0usize..=10),
    ) -> Conv2dGeometry {
        // The smallest input with a 1×1 output is 3 − 2p (at least 1).
        let side = |p: usize, e: usize| (3usize.saturating_sub(2 * p)).max(1) + e;
        Conv2dGeometry {
            pad_h: pad.0,
            pad_w: pad.1,
            in_h: side(pad.0, extra.0),
            in_w: side(pad.1, extra.1),
            ..Conv2dGeometry::square(batch, c, 1, k, 3, 0)
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 40, ..ProptestConfig::default() })]

    #[test]
    fn winograd_matches_reference(
        g in winograd_geometry(),
        seed in any::<u32>(),
        threads in 1usize..=2,
        chunk in prop_oneof![Just(None), Just(Some(16)), Just(Some(32))],
    ) {
        on_threads(threads, || check(&g, seed as u64, chunk));
    }
}

#[test]
fn winograd_runs_resnet_shapes_in_cache_sized_chunks() {
    // A 32×32 map of 64 channels is 64 tiles per image: the default chunk ends inside the
    // second image; batch 1 takes the split-by-channel path on two threads.
    for (batch, c, hw) in [(3, 64, 32), (1, 64, 32), (2, 128, 8), (5, 40, 4)] {
        let g = Conv2dGeometry::square(batch, c, hw, c, 3, 1);
        on_threads(2, || check(&g, 11, None));
    }
}

#[test]
fn winograd_is_chosen_for_resnet_layers_and_refuses_what_it_cannot_run() {
    let g = Conv2dGeometry::square(4, 64, 16, 64, 3, 1);
    for pass in [super::Pass::Forward, super::Pass::InputGrad] {
        let k = conv::choose_kernel::<f32>(pass, &g, ConvAlgorithm::Auto).unwrap();
        assert_eq!(k, conv::ConvKernel::Winograd, "{pass:?}");
    }
    let forced = Tuning {
        algorithm: ConvAlgorithm::Winograd,
        ..Tuning::default_for::<f32>()
    };
    let refused = |g: &Conv2dGeometry, pass_is_input: bool| {
        let (x, w) = (vec![0.0f32; g.input_len()], vec![0.0f32; g.weight_len()]);
        let mut y = vec![0.0f32; g.output_len()];
        let mut gx = vec![0.0f32; g.input_len()];
        if pass_is_input {
            conv::conv2d_input_grad_tuned(g, &y, &w, &mut gx, forced)
                .unwrap_err()
                .to_string()
        } else {
            conv::conv2d_forward_tuned(g, &x, &w, &mut y, forced)
                .unwrap_err()
                .to_string()
        }
    };
    let stride2 = Conv2dGeometry {
        stride_h: 2,
        stride_w: 2,
        ..Conv2dGeometry::square(2, 8, 9, 8, 3, 1)
    };
    let msg = refused(&stride2, false);
    assert!(
        msg.contains("conv2d") && msg.contains("Winograd") && msg.contains("stride 2×2"),
        "{msg}"
    );
    let five = Conv2dGeometry::square(2, 8, 9, 8, 5, 2);
    assert!(refused(&five, false).contains("5×5"));
    let wide_pad = Conv2dGeometry::square(2, 8, 9, 8, 3, 3);
    let msg = refused(&wide_pad, true);
    assert!(
        msg.contains("conv2d_input_grad") && msg.contains("p ≤ 2"),
        "{msg}"
    );
    // f64 data is refused by name, not silently run another way.
    let g64 = Conv2dGeometry::square(1, 2, 5, 2, 3, 1);
    let (x, w) = (
        vec![0.0f64; g64.input_len()],
        vec![0.0f64; g64.weight_len()],
    );
    let mut y = vec![0.0f64; g64.output_len()];
    let e = conv::conv2d_forward_tuned(&g64, &x, &w, &mut y, forced).unwrap_err();
    assert!(e.to_string().contains("f64"), "{e}");
    // Forced through the public entry point, it runs and gives the Winograd results.
    let g = Conv2dGeometry::square(2, 9, 11, 7, 3, 1);
    let x = rand_vec::<f32>(g.input_len(), 5);
    let w = rand_vec::<f32>(g.weight_len(), 6);
    let (mut y, mut y_direct) = (vec![0.0f32; g.output_len()], vec![1.0f32; g.output_len()]);
    conv::conv2d_forward_with(ConvAlgorithm::Winograd, &g, &x, &w, &mut y).unwrap();
    assert!(forward_chunked(&g, &x, &w, &mut y_direct, None));
    assert_eq!(y, y_direct);
}
