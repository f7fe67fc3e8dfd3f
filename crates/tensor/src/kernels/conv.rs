//! Fast 2-D convolution kernels: im2col + GEMM, forward and both gradients.
//!
//! All three passes share one tiling scheme. The column space of a group's GEMM is the
//! concatenation, over images, of that image's `Ho·Wo` output positions; it is cut into
//! tiles that are either
//! * a block of `images_per_tile` whole images (small feature maps: batching images widens
//!   the GEMM so the weight panel packed by `gemm` is reused across more columns), or
//! * a band of output rows of one image (large feature maps: keeps the column buffer
//!   bounded — a whole-image im2col of a VGG 224×224 layer would be ~115 MB).
//!
//! A tile's column matrix `[C/g·kh·kw, cols]` is built and consumed in blocks of input
//! channels, each small enough to stay in L2 between im2col (or the GEMM that produces it,
//! for the input gradient) and its consumer; it lives in a per-worker scratch buffer, never
//! a whole-batch one. With at least as many images as rayon threads, the batch is split
//! into one contiguous image range per thread and every GEMM is single-threaded (no
//! fork/join per GEMM, no shared writes); with fewer images the tiles run in order and
//! each GEMM is parallel instead. A 1×1/stride-1/unpadded convolution of one image needs
//! no im2col: the image already is the `[C, H·W]` column matrix.
//!
//! Sizing policy (tile widths, when transposes pay) lives in `conv_plan`; the im2col loops
//! in `im2col`.
//!
//! Stride-1, single-group f32 convolutions on AVX-512 machines may take the direct kernels
//! of [`super::direct`] instead, pass by pass where `direct::preferred` measured them faster.
//! Which kernel runs a pass is one [`ConvKernel`] value from [`choose_kernel`] (in
//! `conv_kernel`); [`ConvAlgorithm`] forces a family.

use rayon::prelude::*;

use super::check_len;
pub use super::conv_kernel::{ConvKernel, choose_kernel};
use super::conv_kernel::{cannot_run, cannot_run_direct, choose};
pub(crate) use super::conv_plan::Tuning;
pub use super::conv_plan::{MIN_TILE_COLS, SCRATCH_BYTES, TILE_BYTES, WIDE_COLS};
use super::conv_plan::{Plan, Scratch, Tile, add_parts, sum_transposed};
use super::direct::{self, Pass};
use super::gemm::{MatMut, MatRef, gemm_into_with};
use super::geometry::Conv2dGeometry;
use super::im2col::{ColBlock, col2im, im2col};
use super::winograd;
use crate::buffers::ScratchBuf;
use crate::element::Element;
use crate::error::Result;
use crate::precision::Precision;

/// Which kernel family runs a convolution.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ConvAlgorithm {
    /// The direct kernels where they apply (f32, stride 1, one group, AVX-512F), else
    /// im2col + GEMM.
    #[default]
    Auto,
    /// Always im2col + GEMM (any dtype, stride, dilation, groups, CPU).
    Im2colGemm,
    /// The direct kernels, or an error saying why they cannot run this convolution.
    Direct,
    /// Winograd F(4×4, 3×3) for f32, 3×3, stride-1 convolutions, or an error saying why it
    /// cannot run this pass.
    Winograd,
}

/// How a convolution runs: the kernel family, and the precision of its products.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ConvOptions {
    /// Kernel family.
    pub algorithm: ConvAlgorithm,
    /// Precision of the GEMMs. With [`Precision::Bf16`] on a machine with bf16 units, an
    /// automatic choice runs im2col + the bf16 GEMM (the direct kernels are `f32`); a forced
    /// [`ConvAlgorithm::Direct`] still runs the `f32` direct kernels.
    pub precision: Precision,
}

impl ConvOptions {
    /// The defaults at `precision`.
    pub fn at(precision: Precision) -> Self {
        ConvOptions {
            precision,
            ..ConvOptions::default()
        }
    }

    fn tuning<T>(self) -> Tuning {
        Tuning {
            algorithm: self.algorithm,
            precision: self.precision,
            ..Tuning::default_for::<T>()
        }
    }
}

/// Runs the special kernel the choice named ([`ConvKernel::Winograd`] or
/// [`ConvKernel::Direct`]) into `out`: `Ok(true)` if it ran, `Ok(false)` to run im2col instead. The choice
/// already checked that it applies; should the kernel still decline, an automatic choice falls
/// back and a demanded one is an error.
fn ran_special<T>(
    kernel: ConvKernel,
    (pass, g, algorithm): (Pass, &Conv2dGeometry, ConvAlgorithm),
    out: &mut [T],
    winograd: impl FnOnce(&mut [T]) -> bool,
    direct: impl FnOnce(&mut [T]) -> bool,
) -> Result<bool> {
    let ran = match kernel {
        ConvKernel::Winograd => winograd(out),
        ConvKernel::Direct => direct(out),
        ConvKernel::Pointwise | ConvKernel::Im2col { .. } => return Ok(false),
    };
    if ran {
        return Ok(true);
    }
    match algorithm {
        ConvAlgorithm::Direct => Err(cannot_run_direct(pass, g, "the kernel declined")),
        ConvAlgorithm::Winograd => Err(cannot_run(pass, g, "Winograd", "the kernel declined")),
        ConvAlgorithm::Auto | ConvAlgorithm::Im2colGemm => Ok(false),
    }
}

/// Runs `body(images of a, same images of b, scratch, parallel_gemm)` once per worker
/// chunk (in parallel) or once for the whole batch.
fn run_chunks<T: Element>(
    plan: &Plan,
    (a, a_img): (&[T], usize),
    (b, b_img): (&mut [T], usize),
    body: impl Fn(&[T], &mut [T], &mut Scratch<T>, bool) + Sync,
) {
    if plan.par_images {
        let per = plan.images_per_chunk;
        a.par_chunks(per * a_img)
            .zip(b.par_chunks_mut(per * b_img))
            .for_each(|(ac, bc)| body(ac, bc, &mut Scratch::new(plan), false));
    } else {
        body(a, b, &mut Scratch::new(plan), plan.threads > 1);
    }
}

/// Forward convolution: `y = conv(x, w)` for NCHW `x`, OIHW `w`, NCHW `y` (overwritten).
pub fn conv2d_forward<T: Element>(g: &Conv2dGeometry, x: &[T], w: &[T], y: &mut [T]) -> Result<()> {
    conv2d_forward_tuned(g, x, w, y, Tuning::default_for::<T>())
}

/// [`conv2d_forward`] with an explicit choice of kernel family.
pub fn conv2d_forward_with<T: Element>(
    algorithm: ConvAlgorithm,
    g: &Conv2dGeometry,
    x: &[T],
    w: &[T],
    y: &mut [T],
) -> Result<()> {
    let tuning = Tuning {
        algorithm,
        ..Tuning::default_for::<T>()
    };
    conv2d_forward_tuned(g, x, w, y, tuning)
}

/// [`conv2d_forward`] with explicit options (kernel family, precision).
pub fn conv2d_forward_opts<T: Element>(
    options: ConvOptions,
    g: &Conv2dGeometry,
    x: &[T],
    w: &[T],
    y: &mut [T],
) -> Result<()> {
    conv2d_forward_tuned(g, x, w, y, options.tuning::<T>())
}

pub(crate) fn conv2d_forward_tuned<T: Element>(
    g: &Conv2dGeometry,
    x: &[T],
    w: &[T],
    y: &mut [T],
    tuning: Tuning,
) -> Result<()> {
    const OP: &str = "conv2d";
    g.validate()?;
    check_len(OP, x.len(), g.input_shape(), g.input_len())?;
    check_len(OP, w.len(), g.weight_shape(), g.weight_len())?;
    check_len(OP, y.len(), g.output_shape(), g.output_len())?;
    let plan = Plan::new(g, tuning);
    if y.is_empty() {
        return Ok(());
    }
    if plan.ckk == 0 {
        y.fill(T::zero()); // empty reduction
        return Ok(());
    }
    let kernel = choose(Pass::Forward, g, T::DTYPE, &tuning, &plan)?;
    let wino = |y: &mut [T]| match (T::f32_slice(x), T::f32_slice(w), T::f32_slice_mut(y)) {
        (Some(x), Some(w), Some(y)) => winograd::forward(g, x, w, y),
        _ => false,
    };
    let direct = |y: &mut [T]| match (T::f32_slice(x), T::f32_slice(w), T::f32_slice_mut(y)) {
        (Some(x), Some(w), Some(y)) => direct::forward(g, x, w, y),
        _ => false,
    };
    if ran_special(
        kernel,
        (Pass::Forward, g, tuning.algorithm),
        y,
        wino,
        direct,
    )? {
        return Ok(());
    }
    run_chunks(
        &plan,
        (x, plan.in_img),
        (y, plan.out_img),
        |xc, yc, s, par| {
            for t in plan.tiles(xc.len() / plan.in_img) {
                for gi in 0..plan.groups {
                    forward_tile(g, &plan, (t, gi), (xc, w, yc), s, par);
                }
            }
        },
    );
    Ok(())
}

/// Below this many column-matrix elements per image band, im2col/col2im stay on one
/// thread even when the caller runs parallel GEMMs.
const SPLIT_MIN_ELEMS: usize = 1 << 15;

/// Channels per piece when one band's im2col/col2im is split over the pool (`None`: run
/// it on this thread). Used only on the small-batch path, where the GEMMs are parallel and
/// a serial im2col would leave the other cores idle.
fn split_channels(b: &ColBlock, taps: usize, par: bool) -> Option<usize> {
    let threads = rayon::current_num_threads();
    let work = b.channels * taps * b.ld;
    (par && threads > 1 && b.channels > 1 && work >= SPLIT_MIN_ELEMS)
        .then(|| b.channels.div_ceil(threads))
}

/// [`im2col`], split by input channel over the pool when `par` and the band is large:
/// channels own disjoint row ranges of `cols`, so the pieces never overlap.
fn im2col_split<T: Element>(g: &Conv2dGeometry, xg: &[T], cols: &mut [T], b: ColBlock, par: bool) {
    let (taps, in_plane) = (g.kernel_h * g.kernel_w, g.in_h * g.in_w);
    match split_channels(&b, taps, par) {
        None => im2col(g, xg, cols, b),
        Some(per) => cols
            .par_chunks_mut(per * taps * b.ld)
            .zip(xg.par_chunks(per * in_plane))
            .for_each(|(c, x)| {
                im2col(
                    g,
                    x,
                    c,
                    ColBlock {
                        channels: x.len() / in_plane,
                        ..b
                    },
                )
            }),
    }
}

/// [`col2im`], split by input channel like [`im2col_split`]: channels own disjoint planes
/// of `gxg` as well as disjoint rows of `cols`.
fn col2im_split<T: Element>(
    g: &Conv2dGeometry,
    cols: &mut [T],
    b: ColBlock,
    gxg: &mut [T],
    par: bool,
) {
    let (taps, in_plane) = (g.kernel_h * g.kernel_w, g.in_h * g.in_w);
    match split_channels(&b, taps, par) {
        None => col2im(g, cols, b, gxg),
        Some(per) => cols
            .par_chunks_mut(per * taps * b.ld)
            .zip(gxg.par_chunks_mut(per * in_plane))
            .for_each(|(c, gx)| {
                col2im(
                    g,
                    c,
                    ColBlock {
                        channels: gx.len() / in_plane,
                        ..b
                    },
                    gx,
                )
            }),
    }
}

/// Channels `c0..c0+cc` of the column matrix of tile `t`, group `gi`: a strided view of
/// `x` for a one-image pointwise tile, else built by im2col into `cols`.
fn cols_block<'a, T: Element>(
    g: &Conv2dGeometry,
    plan: &Plan,
    (t, gi): (Tile, usize),
    (c0, cc): (usize, usize),
    x: &'a [T],
    (cols, par): (&'a mut [T], bool),
) -> MatRef<'a, T> {
    let xg = |b: usize| {
        let at = (t.n0 + b) * plan.in_img + (gi * plan.in_channels_per_group + c0) * plan.in_plane;
        &x[at..][..cc * plan.in_plane]
    };
    if plan.in_place(t.images) {
        return MatRef {
            data: &xg(0)[t.oh0 * plan.wo..],
            rows: cc,
            cols: t.cols_per_image(plan),
            rs: plan.in_plane,
            cs: 1,
        };
    }
    let (rows, ncols) = (cc * plan.taps, t.images * t.cols_per_image(plan));
    for b in 0..t.images {
        im2col_split(g, xg(b), cols, t.block(plan, b, cc), par);
    }
    MatRef::row_major(&cols[..rows * ncols], rows, ncols)
}

fn forward_tile<T: Element>(
    g: &Conv2dGeometry,
    plan: &Plan,
    (t, gi): (Tile, usize),
    (x, w, y): (&[T], &[T], &mut [T]),
    s: &mut Scratch<T>,
    par: bool,
) {
    let cols_per_image = t.cols_per_image(plan);
    let out_channels_per_group = plan.out_channels_per_group;
    let ncols = t.images * cols_per_image;
    let y_off = |b: usize| (t.n0 + b) * plan.out_img + gi * out_channels_per_group * plan.out_plane;
    // Summing over channel blocks: y = Σ_blocks W[:, block] · cols[block, :].
    for (c0, cc) in plan.chan_blocks(t.images) {
        let wb = MatRef {
            data: &w[gi * out_channels_per_group * plan.ckk + c0 * plan.taps..],
            rows: out_channels_per_group,
            cols: cc * plan.taps,
            rs: plan.ckk,
            cs: 1,
        };
        let cols = cols_block(g, plan, (t, gi), (c0, cc), x, (&mut s.cols, par));
        let mut dst = if t.images == 1 {
            // The band of this image's output is a strided [K/g, cols_per_image] view:
            // write in place.
            MatMut {
                data: &mut y[y_off(0) + t.oh0 * plan.wo..],
                rows: out_channels_per_group,
                cols: cols_per_image,
                rs: plan.out_plane,
                cs: 1,
            }
        } else {
            MatMut::row_major(
                &mut s.aux[..out_channels_per_group * ncols],
                out_channels_per_group,
                ncols,
            )
        };
        gemm_into_with(&mut dst, wb, cols, c0 > 0, par, plan.precision);
    }
    if t.images > 1 {
        // Several images: the product is [K/g, images·Ho·Wo] but y is image-major, so
        // scatter.
        for b in 0..t.images {
            let yb = &mut y[y_off(b)..][..out_channels_per_group * plan.out_plane];
            for (k, dst_row) in yb.chunks_exact_mut(plan.out_plane).enumerate() {
                dst_row.copy_from_slice(&s.aux[k * ncols + b * plan.out_plane..][..plan.out_plane]);
            }
        }
    }
}

/// The `[K/g, cols]` output-gradient matrix of tile `t`, group `gi`: a strided view of
/// `gy` for a one-image tile, else gathered into `aux`.
fn gy_tile<'a, T: Element>(
    plan: &Plan,
    (t, gi): (Tile, usize),
    gy: &'a [T],
    aux: &'a mut [T],
) -> MatRef<'a, T> {
    let cols_per_image = t.cols_per_image(plan);
    let gy_off =
        |b: usize| (t.n0 + b) * plan.out_img + gi * plan.out_channels_per_group * plan.out_plane;
    if t.images == 1 {
        return MatRef {
            data: &gy[gy_off(0) + t.oh0 * plan.wo..],
            rows: plan.out_channels_per_group,
            cols: cols_per_image,
            rs: plan.out_plane,
            cs: 1,
        };
    }
    let ncols = t.images * cols_per_image;
    for b in 0..t.images {
        let src = &gy[gy_off(b)..][..plan.out_channels_per_group * plan.out_plane];
        for (k, src_row) in src.chunks_exact(plan.out_plane).enumerate() {
            aux[k * ncols + b * plan.out_plane..][..plan.out_plane].copy_from_slice(src_row);
        }
    }
    MatRef::row_major(
        &aux[..plan.out_channels_per_group * ncols],
        plan.out_channels_per_group,
        ncols,
    )
}

/// Input gradient (a transposed convolution): `gx = convᵀ(gy, w)`, overwriting `gx`.
pub fn conv2d_input_grad<T: Element>(
    g: &Conv2dGeometry,
    gy: &[T],
    w: &[T],
    gx: &mut [T],
) -> Result<()> {
    conv2d_input_grad_tuned(g, gy, w, gx, Tuning::default_for::<T>())
}

/// [`conv2d_input_grad`] with an explicit choice of kernel family.
pub fn conv2d_input_grad_with<T: Element>(
    algorithm: ConvAlgorithm,
    g: &Conv2dGeometry,
    gy: &[T],
    w: &[T],
    gx: &mut [T],
) -> Result<()> {
    let tuning = Tuning {
        algorithm,
        ..Tuning::default_for::<T>()
    };
    conv2d_input_grad_tuned(g, gy, w, gx, tuning)
}

/// [`conv2d_input_grad`] with explicit options (kernel family, precision).
pub fn conv2d_input_grad_opts<T: Element>(
    options: ConvOptions,
    g: &Conv2dGeometry,
    gy: &[T],
    w: &[T],
    gx: &mut [T],
) -> Result<()> {
    conv2d_input_grad_tuned(g, gy, w, gx, options.tuning::<T>())
}

pub(crate) fn conv2d_input_grad_tuned<T: Element>(
    g: &Conv2dGeometry,
    gy: &[T],
    w: &[T],
    gx: &mut [T],
    tuning: Tuning,
) -> Result<()> {
    const OP: &str = "conv2d_input_grad";
    g.validate()?;
    check_len(OP, gy.len(), g.output_shape(), g.output_len())?;
    check_len(OP, w.len(), g.weight_shape(), g.weight_len())?;
    check_len(OP, gx.len(), g.input_shape(), g.input_len())?;
    let plan = Plan::new(g, tuning);
    if gx.is_empty() {
        return Ok(());
    }
    if plan.out_channels_per_group == 0 || plan.ckk == 0 {
        gx.fill(T::zero()); // nothing flows back
        return Ok(());
    }
    let kernel = choose(Pass::InputGrad, g, T::DTYPE, &tuning, &plan)?;
    let wino = |gx: &mut [T]| match (T::f32_slice(gy), T::f32_slice(w), T::f32_slice_mut(gx)) {
        (Some(gy), Some(w), Some(gx)) => winograd::input_grad(g, gy, w, gx),
        _ => false,
    };
    let direct = |gx: &mut [T]| match (T::f32_slice(gy), T::f32_slice(w), T::f32_slice_mut(gx)) {
        (Some(gy), Some(w), Some(gx)) => direct::input_grad(g, gy, w, gx),
        _ => false,
    };
    if ran_special(
        kernel,
        (Pass::InputGrad, g, tuning.algorithm),
        gx,
        wino,
        direct,
    )? {
        return Ok(());
    }
    // Wᵀ per group, [C/g·kh·kw, K/g] row-major: on wide problems the GEMM runs faster
    // with a row-major left operand than with a transposed view of w.
    let wt = if plan.wide {
        let mut wt = ScratchBuf::zeroed(w.len());
        sum_transposed(&[w], (plan.ckk, plan.out_channels_per_group), &mut wt);
        Some(wt)
    } else {
        None
    };
    let wt = wt.as_deref();
    run_chunks(
        &plan,
        (gy, plan.out_img),
        (gx, plan.in_img),
        |gyc, gxc, s, par| {
            gxc.fill(T::zero());
            for t in plan.tiles(gyc.len() / plan.out_img) {
                for gi in 0..plan.groups {
                    input_grad_tile(g, &plan, (t, gi), (gyc, w, wt, gxc), s, par);
                }
            }
        },
    );
    Ok(())
}

/// The per-group transposed weights `[C/g·kh·kw, K/g]`, when the plan made them.
type WeightsT<'a, T> = Option<&'a [T]>;

fn input_grad_tile<T: Element>(
    g: &Conv2dGeometry,
    plan: &Plan,
    (t, gi): (Tile, usize),
    (gy, w, wt, gx): (&[T], &[T], WeightsT<'_, T>, &mut [T]),
    s: &mut Scratch<T>,
    par: bool,
) {
    let cols_per_image = t.cols_per_image(plan);
    let (out_channels_per_group, taps) = (plan.out_channels_per_group, plan.taps);
    let ncols = t.images * cols_per_image;
    let wg = gi * out_channels_per_group * plan.ckk;
    let gyt = gy_tile(plan, (t, gi), gy, &mut s.aux);
    let gx_off = |b: usize, c0: usize| {
        (t.n0 + b) * plan.in_img + (gi * plan.in_channels_per_group + c0) * plan.in_plane
    };
    // Each channel block's rows of cols = Wᵀ·gy are scattered back before the next block
    // is computed, so the product never leaves cache.
    for (c0, cc) in plan.chan_blocks(t.images) {
        let rows = cc * taps;
        let wtb = match wt {
            Some(wt) => MatRef::row_major(
                &wt[wg + c0 * taps * out_channels_per_group..][..rows * out_channels_per_group],
                rows,
                out_channels_per_group,
            ),
            None => MatRef {
                data: &w[wg + c0 * taps..],
                rows,
                cols: out_channels_per_group,
                rs: 1,
                cs: plan.ckk,
            },
        };
        if plan.in_place(t.images) {
            // 1×1 stride 1: each input pixel feeds exactly one output, so the GEMM writes
            // the gradient in place.
            let dst = MatMut {
                data: &mut gx[gx_off(0, c0) + t.oh0 * plan.wo..],
                rows,
                cols: cols_per_image,
                rs: plan.in_plane,
                cs: 1,
            };
            weights_t_times_gy(dst, wtb, gyt, wt.is_some(), (par, plan.precision));
            continue;
        }
        let cols = &mut s.cols[..rows * ncols];
        let dst = MatMut::row_major(cols, rows, ncols);
        weights_t_times_gy(dst, wtb, gyt, wt.is_some(), (par, plan.precision));
        for b in 0..t.images {
            let gxb = &mut gx[gx_off(b, c0)..][..cc * plan.in_plane];
            col2im_split(g, cols, t.block(plan, b, cc), gxb, par);
        }
    }
}

/// `dst := wtb · gyt`. Without a row-major copy of Wᵀ (`copied`), `wtb` is a strided view
/// of `w`, and the product runs as `dstᵀ = gytᵀ · w`, which `gemm` runs as fast or up to
/// 30 % faster (one core, 512×1017×256: 138 vs 124 GFLOP/s; 1152×128×256: 120 vs 93).
fn weights_t_times_gy<T: Element>(
    mut dst: MatMut<'_, T>,
    wtb: MatRef<'_, T>,
    gyt: MatRef<'_, T>,
    copied: bool,
    (par, precision): (bool, Precision),
) {
    if copied {
        gemm_into_with(&mut dst, wtb, gyt, false, par, precision);
    } else {
        gemm_into_with(&mut dst.t(), gyt.t(), wtb.t(), false, par, precision);
    }
}

/// Weight gradient: `gw = Σ_n gy_n · col(x_n)ᵀ`, overwriting `gw`.
///
/// Each worker accumulates into a private buffer; the partials are summed in chunk order,
/// so the result is deterministic for a given thread count. The buffers hold gwᵀ
/// (`[C/g·kh·kw, K/g]` per group): `gemm` runs this product ~1.5–2× faster with a
/// column-major destination, and one final transpose costs little.
pub fn conv2d_weight_grad<T: Element>(
    g: &Conv2dGeometry,
    x: &[T],
    gy: &[T],
    gw: &mut [T],
) -> Result<()> {
    conv2d_weight_grad_tuned(g, x, gy, gw, Tuning::default_for::<T>())
}

/// [`conv2d_weight_grad`] with an explicit choice of kernel family.
pub fn conv2d_weight_grad_with<T: Element>(
    algorithm: ConvAlgorithm,
    g: &Conv2dGeometry,
    x: &[T],
    gy: &[T],
    gw: &mut [T],
) -> Result<()> {
    let tuning = Tuning {
        algorithm,
        ..Tuning::default_for::<T>()
    };
    conv2d_weight_grad_tuned(g, x, gy, gw, tuning)
}

/// [`conv2d_weight_grad`] with explicit options (kernel family, precision).
pub fn conv2d_weight_grad_opts<T: Element>(
    options: ConvOptions,
    g: &Conv2dGeometry,
    x: &[T],
    gy: &[T],
    gw: &mut [T],
) -> Result<()> {
    conv2d_weight_grad_tuned(g, x, gy, gw, options.tuning::<T>())
}

pub(crate) fn conv2d_weight_grad_tuned<T: Element>(
    g: &Conv2dGeometry,
    x: &[T],
    gy: &[T],
    gw: &mut [T],
    tuning: Tuning,
) -> Result<()> {
    const OP: &str = "conv2d_weight_grad";
    g.validate()?;
    check_len(OP, x.len(), g.input_shape(), g.input_len())?;
    check_len(OP, gy.len(), g.output_shape(), g.output_len())?;
    check_len(OP, gw.len(), g.weight_shape(), g.weight_len())?;
    let plan = Plan::new(g, tuning);
    if gw.is_empty() {
        return Ok(());
    }
    if gy.is_empty() || x.is_empty() {
        gw.fill(T::zero()); // empty batch (or image): empty sum
        return Ok(());
    }
    let kernel = choose(Pass::WeightGrad, g, T::DTYPE, &tuning, &plan)?;
    let wino = |gw: &mut [T]| match (T::f32_slice(x), T::f32_slice(gy), T::f32_slice_mut(gw)) {
        (Some(x), Some(gy), Some(gw)) => winograd::weight_grad(g, x, gy, gw),
        _ => false,
    };
    let direct = |gw: &mut [T]| match (T::f32_slice(x), T::f32_slice(gy), T::f32_slice_mut(gw)) {
        (Some(x), Some(gy), Some(gw)) => direct::weight_grad(g, x, gy, gw),
        _ => false,
    };
    if ran_special(
        kernel,
        (Pass::WeightGrad, g, tuning.algorithm),
        gw,
        wino,
        direct,
    )? {
        return Ok(());
    }
    // Wide problems accumulate gwᵀ (see `conv2d_weight_grad`), narrow ones gw itself.
    let body = |xc: &[T], gyc: &[T], acc: &mut [T], s: &mut Scratch<T>, par: bool| {
        for (i, t) in plan.tiles(xc.len() / plan.in_img).enumerate() {
            for gi in 0..plan.groups {
                weight_grad_tile(g, &plan, (t, gi), (xc, gyc, &mut *acc), s, (i > 0, par));
            }
        }
    };
    let gw_len = gw.len();
    let alloc_body = |xc: &[T], gyc: &[T], par: bool| {
        let mut acc = ScratchBuf::zeroed(gw_len);
        body(xc, gyc, &mut acc, &mut Scratch::new(&plan), par);
        acc
    };
    let chunk = |n: usize| (n * plan.in_img, n * plan.out_img);
    match (plan.par_images, plan.wide) {
        (false, false) => body(x, gy, gw, &mut Scratch::new(&plan), plan.threads > 1),
        (false, true) => {
            let acc = alloc_body(x, gy, plan.threads > 1);
            sum_transposed(&[&acc], (plan.out_channels_per_group, plan.ckk), gw);
        }
        (true, false) => {
            // Chunk 0 accumulates straight into gw; the others into private buffers that
            // are then added in chunk order (reproducible for a given thread count).
            let (x_len, gy_len) = chunk(plan.images_per_chunk);
            let ((x0, x_rest), (gy0, gy_rest)) = (x.split_at(x_len), gy.split_at(gy_len));
            let (_, rest): ((), Vec<ScratchBuf<T>>) = rayon::join(
                || body(x0, gy0, &mut *gw, &mut Scratch::new(&plan), false),
                || {
                    x_rest
                        .par_chunks(x_len)
                        .zip(gy_rest.par_chunks(gy_len))
                        .map(|(xc, gyc)| alloc_body(xc, gyc, false))
                        .collect()
                },
            );
            add_parts(&rest, gw);
        }
        (true, true) => {
            let (x_len, gy_len) = chunk(plan.images_per_chunk);
            let partials: Vec<ScratchBuf<T>> = x
                .par_chunks(x_len)
                .zip(gy.par_chunks(gy_len))
                .map(|(xc, gyc)| alloc_body(xc, gyc, false))
                .collect();
            // Summed in chunk order (0, 1, …): reproducible for a given thread count.
            let parts: Vec<&[T]> = partials.iter().map(|p| &**p).collect();
            sum_transposed(&parts, (plan.out_channels_per_group, plan.ckk), gw);
        }
    }
    Ok(())
}

fn weight_grad_tile<T: Element>(
    g: &Conv2dGeometry,
    plan: &Plan,
    (t, gi): (Tile, usize),
    (x, gy, acc): (&[T], &[T], &mut [T]),
    s: &mut Scratch<T>,
    (accumulate, par): (bool, bool),
) {
    let (out_channels_per_group, taps) = (plan.out_channels_per_group, plan.taps);
    let gyt = gy_tile(plan, (t, gi), gy, &mut s.aux);
    for (c0, cc) in plan.chan_blocks(t.images) {
        let cols = cols_block(g, plan, (t, gi), (c0, cc), x, (&mut s.cols, par));
        // Columns c0·taps.. of this group's [K/g, C/g·kh·kw] block of gw, stored
        // column-major (as gwᵀ) when wide.
        let at = gi * out_channels_per_group * plan.ckk
            + c0 * taps * if plan.wide { out_channels_per_group } else { 1 };
        if plan.wide {
            // gwᵀ block = cols · gyᵀ: the same memory as gw column-major, but with the
            // column matrix as the left operand `gemm` runs it 10–25 % faster.
            let mut dst = MatMut {
                data: &mut acc[at..],
                rows: cc * taps,
                cols: out_channels_per_group,
                rs: out_channels_per_group,
                cs: 1,
            };
            gemm_into_with(&mut dst, cols, gyt.t(), accumulate, par, plan.precision);
        } else {
            let mut dst = MatMut {
                data: &mut acc[at..],
                rows: out_channels_per_group,
                cols: cc * taps,
                rs: plan.ckk,
                cs: 1,
            };
            gemm_into_with(&mut dst, gyt, cols.t(), accumulate, par, plan.precision);
        }
    }
}
