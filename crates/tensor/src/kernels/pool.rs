//! Max, average and global-average pooling on NCHW slices, forward and backward.
//!
//! Pooling windows never cross (n, c) planes, so every kernel works plane by plane and
//! parallelises over planes once the tensor is large enough to pay for rayon's fork/join.
//! Window bounds are clipped to the image once per output row and column (they factor into
//! independent h and w ranges), so the inner loops carry no padding tests.
//!
//! 2×2/2 unpadded max pooling, the common case, has its own loops (`pool_2x2.rs`).
//!
//! Semantics follow PyTorch: max pooling treats padding as −∞ and routes the gradient to
//! the first maximum in row-major window order; a NaN in a window wins and propagates;
//! average pooling divides by the window clipped to the padded input (ceil-mode windows
//! hanging past it shrink), or by the in-image part only when `count_include_pad` is false.

use rayon::prelude::*;

use super::geometry::Pool2dGeometry;
use super::{check_len, pool_2x2};
use crate::element::Element;
use crate::error::{Result, TensorError};

/// Below this many input elements pooling stays on the calling thread.
pub const PARALLEL_MIN_ELEMS: usize = 32 * 1024;

/// One spatial dim of one window: the in-image index range, and the window's length
/// clipped to the padded input (PyTorch's `pool_size` factor).
#[derive(Debug, Clone, Copy)]
struct Span {
    lo: usize,
    hi: usize,
    padded: usize,
}

/// The window spans of every output position along one dim.
fn spans(input: usize, kernel: usize, stride: usize, pad: usize, out: usize) -> Vec<Span> {
    (0..out)
        .map(|o| {
            let start = (o * stride) as isize - pad as isize;
            let end = (start + kernel as isize).min((input + pad) as isize);
            Span {
                lo: start.max(0) as usize,
                hi: end.clamp(0, input as isize) as usize,
                padded: (end - start) as usize,
            }
        })
        .collect()
}

/// Both dims' spans plus the plane sizes, computed once per call.
struct Windows {
    rows: Vec<Span>,
    cols: Vec<Span>,
    in_w: usize,
    in_plane: usize,
    out_plane: usize,
}

impl Windows {
    fn new(g: &Pool2dGeometry) -> Self {
        let (ho, wo) = (g.out_h(), g.out_w());
        Windows {
            rows: spans(g.in_h, g.kernel_h, g.stride_h, g.pad_h, ho),
            cols: spans(g.in_w, g.kernel_w, g.stride_w, g.pad_w, wo),
            in_w: g.in_w,
            in_plane: g.in_h * g.in_w,
            out_plane: ho * wo,
        }
    }

    /// Index (within the plane) and value of the window maximum: the first maximum in
    /// row-major order, or the first NaN if any (NaN compares false, so it needs its own
    /// test to win and must then never be displaced).
    #[inline]
    fn argmax<T: Element>(&self, plane: &[T], r: Span, c: Span) -> (usize, T) {
        let mut best_i = r.lo * self.in_w + c.lo;
        let mut best = plane[best_i];
        if best.is_nan() {
            return (best_i, best);
        }
        for ih in r.lo..r.hi {
            let row = &plane[ih * self.in_w..][..self.in_w];
            for (iw, &v) in row.iter().enumerate().take(c.hi).skip(c.lo) {
                if v > best || v.is_nan() {
                    best = v;
                    best_i = ih * self.in_w + iw;
                    if v.is_nan() {
                        return (best_i, best);
                    }
                }
            }
        }
        (best_i, best)
    }

    fn divisor<T: Element>(&self, r: Span, c: Span, count_include_pad: bool) -> T {
        if count_include_pad {
            T::of_usize(r.padded * c.padded)
        } else {
            T::of_usize((r.hi - r.lo) * (c.hi - c.lo))
        }
    }
}

/// Runs `f(a_plane, b_plane)` over matching planes, in parallel when large.
fn planes2<T: Element>(
    par: bool,
    (a, a_plane): (&[T], usize),
    (b, b_plane): (&mut [T], usize),
    f: impl Fn(&[T], &mut [T]) + Sync,
) {
    if a_plane == 0 || b_plane == 0 {
        return;
    }
    if par {
        a.par_chunks(a_plane)
            .zip(b.par_chunks_mut(b_plane))
            .for_each(|(a, b)| f(a, b));
    } else {
        a.chunks(a_plane)
            .zip(b.chunks_mut(b_plane))
            .for_each(|(a, b)| f(a, b));
    }
}

/// Runs `f(a_plane, b_plane, c_plane)` over matching planes, in parallel when large.
fn planes3<T: Element>(
    par: bool,
    (a, a_plane): (&[T], usize),
    (b, b_plane): (&[T], usize),
    (c, c_plane): (&mut [T], usize),
    f: impl Fn(&[T], &[T], &mut [T]) + Sync,
) {
    if a_plane == 0 || b_plane == 0 || c_plane == 0 {
        return;
    }
    if par {
        a.par_chunks(a_plane)
            .zip(b.par_chunks(b_plane))
            .zip(c.par_chunks_mut(c_plane))
            .for_each(|((a, b), c)| f(a, b, c));
    } else {
        a.chunks(a_plane)
            .zip(b.chunks(b_plane))
            .zip(c.chunks_mut(c_plane))
            .for_each(|((a, b), c)| f(a, b, c));
    }
}

fn parallel(len: usize) -> bool {
    len > PARALLEL_MIN_ELEMS && rayon::current_num_threads() > 1
}

/// Max pooling forward. Padding acts as −∞ (it never wins).
pub fn max_pool2d_forward<T: Element>(g: &Pool2dGeometry, x: &[T], y: &mut [T]) -> Result<()> {
    const OP: &str = "max_pool2d";
    g.validate_as(OP)?;
    check_len(OP, x.len(), g.input_shape(), g.input_len())?;
    check_len(OP, y.len(), g.output_shape(), g.output_len())?;
    let win = Windows::new(g);
    if pool_2x2::applies(g) {
        planes2(
            parallel(x.len()),
            (x, win.in_plane),
            (y, win.out_plane),
            |xp, yp| pool_2x2::forward_plane(g, xp, yp),
        );
        return Ok(());
    }
    planes2(
        parallel(x.len()),
        (x, win.in_plane),
        (y, win.out_plane),
        |xp, yp| {
            let mut out = yp.iter_mut();
            for &r in &win.rows {
                for (&c, o) in win.cols.iter().zip(out.by_ref()) {
                    *o = win.argmax(xp, r, c).1;
                }
            }
        },
    );
    Ok(())
}

/// Max pooling backward: recomputes each window's argmax from `x` and routes `gy` there;
/// overlapping windows accumulate. Overwrites `gx`.
pub fn max_pool2d_backward<T: Element>(
    g: &Pool2dGeometry,
    x: &[T],
    gy: &[T],
    gx: &mut [T],
) -> Result<()> {
    const OP: &str = "max_pool2d_backward";
    g.validate_as(OP)?;
    check_len(OP, x.len(), g.input_shape(), g.input_len())?;
    check_len(OP, gy.len(), g.output_shape(), g.output_len())?;
    check_len(OP, gx.len(), g.input_shape(), g.input_len())?;
    let win = Windows::new(g);
    if pool_2x2::applies(g) {
        // Every element of `gx` is written by its plane's pass: no zero fill first.
        planes3(
            parallel(x.len()),
            (x, win.in_plane),
            (gy, win.out_plane),
            (gx, win.in_plane),
            |xp, gyp, gxp| pool_2x2::backward_plane(g, xp, gyp, gxp),
        );
        return Ok(());
    }
    gx.fill(T::zero());
    planes3(
        parallel(x.len()),
        (x, win.in_plane),
        (gy, win.out_plane),
        (gx, win.in_plane),
        |xp, gyp, gxp| {
            let mut grads = gyp.iter();
            for &r in &win.rows {
                for (&c, &gv) in win.cols.iter().zip(grads.by_ref()) {
                    gxp[win.argmax(xp, r, c).0] += gv;
                }
            }
        },
    );
    Ok(())
}

/// The adjoint of [`max_pool2d_backward`] in `gy`: reads `v` (shaped like `x`) at each
/// window's argmax in `x`, giving a pooled-shape output. Uses the same argmax as the backward
/// kernel, so the pair are exact transposes (what second-order gradients through max pooling
/// need).
pub fn max_pool2d_select<T: Element>(
    g: &Pool2dGeometry,
    x: &[T],
    v: &[T],
    y: &mut [T],
) -> Result<()> {
    const OP: &str = "max_pool2d_select";
    g.validate_as(OP)?;
    check_len(OP, x.len(), g.input_shape(), g.input_len())?;
    check_len(OP, v.len(), g.input_shape(), g.input_len())?;
    check_len(OP, y.len(), g.output_shape(), g.output_len())?;
    let win = Windows::new(g);
    let (in_plane, out_plane) = (win.in_plane, win.out_plane);
    if in_plane == 0 || out_plane == 0 {
        return Ok(());
    }
    let fast = pool_2x2::applies(g);
    let one = |((xp, vp), yp): ((&[T], &[T]), &mut [T])| {
        if fast {
            return pool_2x2::select_plane(g, xp, vp, yp);
        }
        let mut out = yp.iter_mut();
        for &r in &win.rows {
            for (&c, o) in win.cols.iter().zip(out.by_ref()) {
                *o = vp[win.argmax(xp, r, c).0];
            }
        }
    };
    if parallel(x.len()) {
        x.par_chunks(in_plane)
            .zip(v.par_chunks(in_plane))
            .zip(y.par_chunks_mut(out_plane))
            .for_each(one);
    } else {
        x.chunks(in_plane)
            .zip(v.chunks(in_plane))
            .zip(y.chunks_mut(out_plane))
            .for_each(one);
    }
    Ok(())
}

/// Average pooling forward (see the module docs for the divisor).
pub fn avg_pool2d_forward<T: Element>(
    g: &Pool2dGeometry,
    x: &[T],
    y: &mut [T],
    count_include_pad: bool,
) -> Result<()> {
    const OP: &str = "avg_pool2d";
    g.validate_as(OP)?;
    check_len(OP, x.len(), g.input_shape(), g.input_len())?;
    check_len(OP, y.len(), g.output_shape(), g.output_len())?;
    let win = Windows::new(g);
    planes2(
        parallel(x.len()),
        (x, win.in_plane),
        (y, win.out_plane),
        |xp, yp| {
            let mut out = yp.iter_mut();
            for &r in &win.rows {
                for (&c, o) in win.cols.iter().zip(out.by_ref()) {
                    let mut sum = T::zero();
                    for ih in r.lo..r.hi {
                        for &v in &xp[ih * win.in_w + c.lo..ih * win.in_w + c.hi] {
                            sum += v;
                        }
                    }
                    *o = sum / win.divisor::<T>(r, c, count_include_pad);
                }
            }
        },
    );
    Ok(())
}

/// Average pooling backward: spreads each `gy` evenly over its window's in-image part
/// (divided by the same divisor as the forward pass). Overwrites `gx`.
pub fn avg_pool2d_backward<T: Element>(
    g: &Pool2dGeometry,
    gy: &[T],
    gx: &mut [T],
    count_include_pad: bool,
) -> Result<()> {
    const OP: &str = "avg_pool2d_backward";
    g.validate_as(OP)?;
    check_len(OP, gy.len(), g.output_shape(), g.output_len())?;
    check_len(OP, gx.len(), g.input_shape(), g.input_len())?;
    let win = Windows::new(g);
    gx.fill(T::zero());
    planes2(
        parallel(gx.len()),
        (gy, win.out_plane),
        (gx, win.in_plane),
        |gyp, gxp| {
            let mut grads = gyp.iter();
            for &r in &win.rows {
                for (&c, &gv) in win.cols.iter().zip(grads.by_ref()) {
                    let share = gv / win.divisor::<T>(r, c, count_include_pad);
                    for ih in r.lo..r.hi {
                        for d in &mut gxp[ih * win.in_w + c.lo..ih * win.in_w + c.hi] {
                            *d += share;
                        }
                    }
                }
            }
        },
    );
    Ok(())
}

fn global_checks(
    op: &'static str,
    (batch, channels, h, w): (usize, usize, usize, usize),
    in_len: usize,
    out_len: usize,
) -> Result<usize> {
    if h == 0 || w == 0 {
        return Err(TensorError::invalid(
            op,
            format!("input must be non-empty, got {h}×{w}"),
        ));
    }
    let plane = h
        .checked_mul(w)
        .ok_or_else(|| TensorError::invalid(op, format!("plane {h}×{w} overflows usize")))?;
    let planes = batch.checked_mul(channels).ok_or_else(|| {
        TensorError::invalid(op, format!("{batch}×{channels} planes overflow usize"))
    })?;
    let total = planes.checked_mul(plane).ok_or_else(|| {
        TensorError::invalid(op, format!("input {batch}×{channels}×{h}×{w} overflows"))
    })?;
    check_len(op, in_len, vec![batch, channels, h, w], total)?;
    check_len(op, out_len, vec![batch, channels], planes)?;
    Ok(plane)
}

/// Global average pooling: `[N, C, H, W]` → `[N, C]`, the mean of each plane.
pub fn global_avg_pool2d_forward<T: Element>(
    batch: usize,
    channels: usize,
    h: usize,
    w: usize,
    x: &[T],
    y: &mut [T],
) -> Result<()> {
    let dims = (batch, channels, h, w);
    let plane = global_checks("global_avg_pool2d", dims, x.len(), y.len())?;
    let n = T::of_usize(plane);
    let mean = |(xp, o): (&[T], &mut T)| *o = xp.iter().fold(T::zero(), |s, &v| s + v) / n;
    if parallel(x.len()) {
        x.par_chunks(plane).zip(y.par_iter_mut()).for_each(mean);
    } else {
        x.chunks(plane).zip(y.iter_mut()).for_each(mean);
    }
    Ok(())
}

/// Global average pooling backward: every input element of plane `(n, c)` receives
/// `gy[n, c] / (H·W)`. Overwrites `gx`.
pub fn global_avg_pool2d_backward<T: Element>(
    batch: usize,
    channels: usize,
    h: usize,
    w: usize,
    gy: &[T],
    gx: &mut [T],
) -> Result<()> {
    let dims = (batch, channels, h, w);
    let plane = global_checks("global_avg_pool2d_backward", dims, gx.len(), gy.len())?;
    let n = T::of_usize(plane);
    let spread = |(gxp, &gv): (&mut [T], &T)| gxp.fill(gv / n);
    if parallel(gx.len()) {
        gx.par_chunks_mut(plane).zip(gy.par_iter()).for_each(spread);
    } else {
        gx.chunks_mut(plane).zip(gy.iter()).for_each(spread);
    }
    Ok(())
}
