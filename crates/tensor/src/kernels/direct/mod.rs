//! Direct ("implicit GEMM") convolution: f32, stride 1, one group, on CPUs with AVX-512.
//!
//! The im2col + GEMM path spends a third of a 64-channel 3×3 forward pass writing a column
//! matrix nine times the size of the input, and the `gemm` crate reaches only ~70 % of its
//! square-matrix speed on these skinny products (measured, single-threaded: 64×576×1024
//! at 109 GFLOP/s against 160 for n = 1024). Here the column matrix is never built: see
//! `band.rs` for the layout in which every im2col row is a contiguous slice of a padded
//! input band, read by register-blocked micro-kernels (`avx512.rs`).
//!
//! * **forward** — tiles of 8 output channels × 48 grid cells, 24 accumulators; for each
//!   group of 4 tiles every panel of packed weights sweeps the same cache-resident band.
//! * **input gradient** — for stride 1 it *is* a forward convolution of `gy` with the
//!   kernel flipped and its channel axes swapped, padded by `d·(k − 1) − p`.
//! * **weight gradient** — `gw[k, j] = Σ_q gy[k, q] · x[off(j) + q]`: dot products along
//!   the grid, 4 output channels × 6 taps per tile, with `gy` zero on the junk cells.
//!
//! Batches are split over the rayon pool by image; with fewer images than threads the
//! output channels are split instead. Weight-gradient partials are summed in a fixed
//! chunk order, so results are reproducible for a given thread count.
//!
//! One difference from the reference is documented rather than avoided: junk cells of the
//! weight gradient multiply real input values by zero, so a NaN or infinity in `x` can
//! reach weight-gradient entries that the reference computes from other inputs only.

#[cfg(target_arch = "x86_64")]
mod avx512;
#[cfg(target_arch = "x86_64")]
mod band;

use super::geometry::Conv2dGeometry;

/// Whether the direct kernels can run `g` on this machine (stride 1, one group, a
/// non-empty output, f32 data and AVX-512F).
pub fn available(g: &Conv2dGeometry) -> bool {
    imp::eligible(g).is_some()
}

/// The three passes of a convolution.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pass {
    /// `y = conv(x, w)`: the output from the input and the weights.
    Forward,
    /// `gx`: the gradient with respect to the input, from `gy` and the weights.
    InputGrad,
    /// `gw`: the gradient with respect to the weights, from `gy` and the input.
    WeightGrad,
}

/// Whether [`ConvAlgorithm::Auto`](super::conv::ConvAlgorithm::Auto) picks the direct
/// kernels for `pass` of `g` (when they are available).
///
/// The rules come from the `conv_speed` example, which times both paths in the same rounds
/// (`cargo run -p convnet-tensor --release --example conv_speed`): the direct kernels compute `Wp − Wo` junk cells per output row and
/// fill panels of 8 output channels, so they win where rows are long and lose on 8×8 and
/// 4×4 maps; im2col + GEMM suffers most with few output channels.
/// * never for 1×1 kernels, which im2col runs as one GEMM on the input in place;
/// * forward — with ≤ 16 output channels (LeNet's layers: 1.3–2× faster than im2col
///   there), or when at least 9/10 of the grid cells are real outputs (32×32 maps and up
///   with 3×3 kernels; at 16×16, 8/9 real, the two paths tie) and each output sums at least
///   64 products (VGG's 3-channel first layer, 27 products, ties or loses);
/// * input gradient — a forward pass with `C` output channels over rows of `W + 2·p'`:
///   when `C ≥ 32` and at least 9/10 of the cells are real;
/// * weight gradient — with at least 4 input channels, when the output has ≤ 16 channels
///   or rows at least 24 wide. Measured on AMD Zen 5 (2 threads): 433 against 340 GFLOP/s
///   for ResNet's 64-channel 32² layer at batch 32, 341 against 197 at batch 1, 127 against
///   99 for LeNet's 6→16 layer; im2col wins at 16² (441 against 392), on smaller maps and
///   with 1–3 input channels (LeNet's first layer: 110 against 42). On the Intel machine
///   these rules were first tuned on, im2col won or tied everywhere with ≥ 32 channels.
pub fn preferred(pass: Pass, g: &Conv2dGeometry) -> bool {
    let (wo, wp) = (g.out_w(), g.in_w + 2 * g.pad_w);
    if g.kernel_h * g.kernel_w == 1 {
        return false; // im2col uses a 1×1 input in place: a plain GEMM is hard to beat
    }
    match pass {
        Pass::Forward => {
            let taps = g.in_channels * g.kernel_h * g.kernel_w;
            g.out_channels <= 16 || (10 * wo >= 9 * wp && taps >= 64)
        }
        Pass::InputGrad => {
            let reach = (g.kernel_w - 1) * g.dilation_w;
            let wp_flipped = wo + 2 * reach.saturating_sub(g.pad_w);
            g.in_channels >= 32 && 10 * g.in_w >= 9 * wp_flipped
        }
        Pass::WeightGrad => g.in_channels >= 4 && (g.out_channels <= 16 || wo >= 24),
    }
}

/// Why the direct kernels cannot run `g`, or `None` if they can.
pub(crate) fn unavailable_reason(g: &Conv2dGeometry, input_grad: bool) -> Option<String> {
    if g.stride_h != 1 || g.stride_w != 1 {
        return Some(format!("stride {}×{} (needs 1×1)", g.stride_h, g.stride_w));
    }
    if g.groups != 1 {
        return Some(format!("{} groups (needs 1)", g.groups));
    }
    if input_grad && !imp::flip_padding_fits(g) {
        return Some(format!(
            "padding {}×{} exceeds the kernel's reach (the input gradient needs p ≤ d·(k − 1))",
            g.pad_h, g.pad_w
        ));
    }
    if !available(g) {
        return Some("this CPU lacks AVX-512F or the output is empty".into());
    }
    None
}

pub(crate) use imp::{forward, input_grad, weight_grad};

#[cfg(not(target_arch = "x86_64"))]
mod imp {
    use super::Conv2dGeometry;

    pub(crate) fn eligible(_: &Conv2dGeometry) -> Option<()> {
        None
    }
    pub(crate) fn flip_padding_fits(_: &Conv2dGeometry) -> bool {
        false
    }
    pub(crate) fn forward(_: &Conv2dGeometry, _: &[f32], _: &[f32], _: &mut [f32]) -> bool {
        false
    }
    pub(crate) fn input_grad(_: &Conv2dGeometry, _: &[f32], _: &[f32], _: &mut [f32]) -> bool {
        false
    }
    pub(crate) fn weight_grad(_: &Conv2dGeometry, _: &[f32], _: &[f32], _: &mut [f32]) -> bool {
        false
    }
}

#[cfg(target_arch = "x86_64")]
mod imp {
    use std::ops::Range;

    use rayon::prelude::*;

    use super::Conv2dGeometry;
    use super::avx512::{Avx512, PANEL, WG_COLS, WG_TAPS, forward_tiles, weight_grad_tile};
    use super::band::{Bands, TILE_COLS};

    /// Forward tiles swept by every weight panel before moving on: 4 × 48 grid cells keep
    /// the band's slice of input in L1 while all panels use it.
    const TILES_PER_SWEEP: usize = 4;

    /// Grid cells per weight-gradient pass: the transposed gradient of 128 cells (32 KiB
    /// at 64 channels) stays in L1 while every tile of taps reuses it.
    const WG_CELLS: usize = 1024;

    pub(crate) fn eligible(g: &Conv2dGeometry) -> Option<Avx512> {
        let ok = g.stride_h == 1
            && g.stride_w == 1
            && g.groups == 1
            && g.batch > 0
            && g.in_channels > 0
            && g.out_channels > 0
            && g.out_h() > 0
            && g.out_w() > 0;
        if ok { Avx512::detect() } else { None }
    }

    pub(crate) fn flip_padding_fits(g: &Conv2dGeometry) -> bool {
        g.pad_h <= (g.kernel_h - 1) * g.dilation_h && g.pad_w <= (g.kernel_w - 1) * g.dilation_w
    }

    /// Packs weights into panels of [`PANEL`] output channels: `[panel][tap][8]`, with zero
    /// rows past the last channel.
    fn pack_panels(k: usize, taps: usize, weight: impl Fn(usize, usize) -> f32) -> Vec<f32> {
        let mut packed = vec![0.0; k.div_ceil(PANEL) * taps * PANEL];
        for o in 0..k {
            let panel = &mut packed[(o / PANEL) * taps * PANEL..][..taps * PANEL];
            for j in 0..taps {
                panel[j * PANEL + o % PANEL] = weight(o, j);
            }
        }
        packed
    }

    /// `y = conv(x, w)` if the direct kernels apply to `g` (else `false`, nothing written).
    pub(crate) fn forward(g: &Conv2dGeometry, x: &[f32], w: &[f32], y: &mut [f32]) -> bool {
        let Some(cpu) = eligible(g) else {
            return false;
        };
        let taps = g.in_channels * g.kernel_h * g.kernel_w;
        let packed = pack_panels(g.out_channels, taps, |o, j| w[o * taps + j]);
        run_forward(cpu, g, x, &packed, y);
        true
    }

    /// `gx = convᵀ(gy, w)` as the forward convolution of `gy` with the flipped, transposed
    /// kernel (else `false`, nothing written).
    pub(crate) fn input_grad(g: &Conv2dGeometry, gy: &[f32], w: &[f32], gx: &mut [f32]) -> bool {
        if !flip_padding_fits(g) {
            return false;
        }
        let (kh, kw) = (g.kernel_h, g.kernel_w);
        let flipped = Conv2dGeometry {
            in_channels: g.out_channels,
            in_h: g.out_h(),
            in_w: g.out_w(),
            out_channels: g.in_channels,
            pad_h: (kh - 1) * g.dilation_h - g.pad_h,
            pad_w: (kw - 1) * g.dilation_w - g.pad_w,
            ..*g
        };
        let Some(cpu) = eligible(&flipped) else {
            return false;
        };
        debug_assert_eq!((flipped.out_h(), flipped.out_w()), (g.in_h, g.in_w));
        let (c, k_taps, taps) = (g.in_channels, kh * kw, g.out_channels * kh * kw);
        // w̃[c][k][ki][kj] = w[k][c][kh−1−ki][kw−1−kj]
        let packed = pack_panels(c, taps, |ci, j| {
            let (ko, t) = (j / k_taps, j % k_taps);
            let (ki, kj) = (t / kw, t % kw);
            w[((ko * c + ci) * kh + (kh - 1 - ki)) * kw + (kw - 1 - kj)]
        });
        run_forward(cpu, &flipped, gy, &packed, gx);
        true
    }

    fn run_forward(cpu: Avx512, g: &Conv2dGeometry, x: &[f32], packed: &[f32], y: &mut [f32]) {
        let b = Bands::new(g);
        let panels = b.k.div_ceil(PANEL);
        let grid_len = panels * PANEL * b.ld;
        let (in_img, out_img) = (b.c * b.h * b.w, b.k * b.ho * b.wo);
        let buffers = || (vec![0.0f32; b.x_len], vec![0.0f32; grid_len]);
        let threads = rayon::current_num_threads();
        if threads > 1 && g.batch >= threads {
            // One contiguous run of images per thread, buffers allocated once per run.
            let per = g.batch.div_ceil(threads);
            x.par_chunks(per * in_img)
                .zip(y.par_chunks_mut(per * out_img))
                .for_each(|(xs, ys)| {
                    let (mut xbuf, mut grid) = buffers();
                    for (xi, yi) in xs.chunks_exact(in_img).zip(ys.chunks_exact_mut(out_img)) {
                        forward_image(cpu, &b, packed, (xi, yi), (&mut xbuf, &mut grid), 1);
                    }
                });
        } else {
            let (mut xbuf, mut grid) = buffers();
            for (xi, yi) in x.chunks_exact(in_img).zip(y.chunks_exact_mut(out_img)) {
                forward_image(cpu, &b, packed, (xi, yi), (&mut xbuf, &mut grid), threads);
            }
        }
    }

    /// One image, band by band; with `threads > 1` the weight panels are split over the pool.
    fn forward_image(
        cpu: Avx512,
        b: &Bands,
        packed: &[f32],
        (x, y): (&[f32], &mut [f32]),
        (xbuf, grid): (&mut [f32], &mut [f32]),
        threads: usize,
    ) {
        let taps = b.offsets.len();
        let panel_len = taps * PANEL;
        let rows_len = PANEL * b.ld;
        for (oh0, count) in b.bands() {
            b.fill_input(x, oh0, xbuf);
            let tiles = (count * b.wp).div_ceil(TILE_COLS);
            let xbuf = &*xbuf;
            // Panels `first..` of this chunk of grid rows, tile group by tile group.
            let sweep = |first: usize, out: &mut [f32]| {
                for t0 in (0..tiles).step_by(TILES_PER_SWEEP) {
                    let ts = t0..(t0 + TILES_PER_SWEEP).min(tiles);
                    for (i, rows) in out.chunks_exact_mut(rows_len).enumerate() {
                        let panel = &packed[(first + i) * panel_len..][..panel_len];
                        forward_tiles(cpu, xbuf, &b.offsets, panel, (rows, b.ld), ts.clone());
                    }
                }
            };
            let panels = grid.len() / rows_len;
            if threads > 1 && panels > 1 {
                let per = panels.div_ceil(threads);
                grid.par_chunks_mut(per * rows_len)
                    .enumerate()
                    .for_each(|(i, out)| sweep(i * per, out));
            } else {
                sweep(0, grid);
            }
            b.store_output(grid, (oh0, count), y);
        }
    }

    /// `gw = Σ_n gy_n ⋆ x_n` if the direct kernels apply to `g` (else `false`).
    pub(crate) fn weight_grad(g: &Conv2dGeometry, x: &[f32], gy: &[f32], gw: &mut [f32]) -> bool {
        let Some(cpu) = eligible(g) else {
            return false;
        };
        let b = Bands::new(g);
        let taps = b.offsets.len();
        let ldk = b.k.div_ceil(WG_COLS) * WG_COLS;
        let (in_img, out_img) = (b.c * b.h * b.w, b.k * b.ho * b.wo);
        // Output-channel tiles `ks` (in units of WG_COLS) summed over the images of (x, gy):
        // a transposed partial `[taps, ldk]`.
        let partial = |xs: &[f32], gys: &[f32], ks: Range<usize>| {
            let mut xbuf = vec![0.0f32; b.x_len];
            let mut gyt = vec![0.0f32; b.ld * ldk];
            let mut acc = vec![0.0f32; taps * ldk];
            for (xi, gyi) in xs.chunks_exact(in_img).zip(gys.chunks_exact(out_img)) {
                for band in b.bands() {
                    b.fill_input(xi, band.0, &mut xbuf);
                    b.fill_grad_transposed(gyi, band, (&mut gyt, ldk));
                    let cells = band.1 * b.wp;
                    weight_grad_band(cpu, &b, (&xbuf, &gyt, ldk), (cells, ks.clone()), &mut acc);
                }
            }
            (ks, acc)
        };
        let threads = rayon::current_num_threads();
        let k_tiles = ldk / WG_COLS;
        let parts: Vec<(Range<usize>, Vec<f32>)> = if threads > 1 && g.batch >= threads {
            // Fixed image chunks, partials summed in chunk order: reproducible.
            let per = g.batch.div_ceil(threads);
            x.par_chunks(per * in_img)
                .zip(gy.par_chunks(per * out_img))
                .map(|(xs, gys)| partial(xs, gys, 0..k_tiles))
                .collect()
        } else if threads > 1 && k_tiles > 1 {
            // Few images: split the output-channel tiles over the pool instead.
            let per = k_tiles.div_ceil(threads);
            (0..k_tiles)
                .step_by(per)
                .collect::<Vec<_>>()
                .into_par_iter()
                .map(|t0| partial(x, gy, t0..(t0 + per).min(k_tiles)))
                .collect()
        } else {
            vec![partial(x, gy, 0..k_tiles)]
        };
        gw.fill(0.0);
        for (ks, part) in &parts {
            for ko in (ks.start * WG_COLS)..(ks.end * WG_COLS).min(b.k) {
                let row = &mut gw[ko * taps..][..taps];
                for (j, d) in row.iter_mut().enumerate() {
                    *d += part[j * ldk + ko];
                }
            }
        }
        true
    }

    /// Adds one band's contribution to output-channel tiles `ks` of the transposed partial
    /// `acc` (`[taps, ldk]`).
    fn weight_grad_band(
        cpu: Avx512,
        b: &Bands,
        (xbuf, gyt, ldk): (&[f32], &[f32], usize),
        (cells, ks): (usize, Range<usize>),
        acc: &mut [f32],
    ) {
        let taps = b.offsets.len();
        for q0 in (0..cells).step_by(WG_CELLS) {
            let q = q0..(q0 + WG_CELLS).min(cells);
            for j0 in (0..taps).step_by(WG_TAPS) {
                let offs = &b.offsets[j0..(j0 + WG_TAPS).min(taps)];
                for kt in ks.clone() {
                    let k0 = kt * WG_COLS;
                    let acc = &mut acc[j0 * ldk + k0..];
                    weight_grad_tile(cpu, xbuf, offs, (&gyt[k0..], ldk), q.clone(), acc);
                }
            }
        }
    }
}
