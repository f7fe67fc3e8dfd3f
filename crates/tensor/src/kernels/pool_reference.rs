//! Plain nested-loop pooling: the oracle the kernels in `pool` are tested against.
//!
//! Each function walks every window position in padded coordinates and tests it against
//! the image explicitly, transcribing PyTorch's definitions as literally as possible.

use super::check_len as check;
use super::geometry::Pool2dGeometry;
use crate::element::Element;
use crate::error::{Result, TensorError};

/// In-image flat indices of the window of output `(oh, ow)` in plane `nc`, row-major.
fn window(g: &Pool2dGeometry, nc: usize, oh: usize, ow: usize) -> Vec<usize> {
    let mut idx = Vec::new();
    for ki in 0..g.kernel_h {
        for kj in 0..g.kernel_w {
            let ih = (oh * g.stride_h + ki) as isize - g.pad_h as isize;
            let iw = (ow * g.stride_w + kj) as isize - g.pad_w as isize;
            if ih >= 0 && iw >= 0 && (ih as usize) < g.in_h && (iw as usize) < g.in_w {
                idx.push((nc * g.in_h + ih as usize) * g.in_w + iw as usize);
            }
        }
    }
    idx
}

/// PyTorch's avg-pool divisor for output `(oh, ow)`.
fn divisor(g: &Pool2dGeometry, oh: usize, ow: usize, count_include_pad: bool) -> f64 {
    let dim = |o: usize, s: usize, p: usize, k: usize, input: usize| {
        let start = (o * s) as isize - p as isize;
        let end = (start + k as isize).min((input + p) as isize);
        let pool = end - start;
        let inside = end.min(input as isize) - start.max(0);
        (pool, inside)
    };
    let (ph, ih) = dim(oh, g.stride_h, g.pad_h, g.kernel_h, g.in_h);
    let (pw, iw) = dim(ow, g.stride_w, g.pad_w, g.kernel_w, g.in_w);
    if count_include_pad {
        (ph * pw) as f64
    } else {
        (ih * iw) as f64
    }
}

/// Calls `f(nc, oh, ow, flat output index)` for every output element.
fn for_each_output(g: &Pool2dGeometry, mut f: impl FnMut(usize, usize, usize, usize)) {
    let (ho, wo) = (g.out_h(), g.out_w());
    for nc in 0..g.batch * g.channels {
        for oh in 0..ho {
            for ow in 0..wo {
                f(nc, oh, ow, (nc * ho + oh) * wo + ow);
            }
        }
    }
}

/// Index of the first maximum of the window (the first NaN if there is one).
fn argmax<T: Element>(x: &[T], idx: &[usize]) -> usize {
    let mut best = idx[0];
    for &i in idx {
        if x[best].is_nan() {
            break;
        }
        if x[i].is_nan() || x[i] > x[best] {
            best = i;
        }
    }
    best
}

/// Reference max pooling forward.
pub fn max_pool2d_forward_reference<T: Element>(
    g: &Pool2dGeometry,
    x: &[T],
    y: &mut [T],
) -> Result<()> {
    g.validate_as("max_pool2d")?;
    check("max_pool2d", x.len(), g.input_shape(), g.input_len())?;
    check("max_pool2d", y.len(), g.output_shape(), g.output_len())?;
    for_each_output(g, |nc, oh, ow, o| {
        y[o] = x[argmax(x, &window(g, nc, oh, ow))];
    });
    Ok(())
}

/// Reference max pooling backward (overwrites `gx`).
pub fn max_pool2d_backward_reference<T: Element>(
    g: &Pool2dGeometry,
    x: &[T],
    gy: &[T],
    gx: &mut [T],
) -> Result<()> {
    g.validate_as("max_pool2d_backward")?;
    check(
        "max_pool2d_backward",
        x.len(),
        g.input_shape(),
        g.input_len(),
    )?;
    check(
        "max_pool2d_backward",
        gy.len(),
        g.output_shape(),
        g.output_len(),
    )?;
    check(
        "max_pool2d_backward",
        gx.len(),
        g.input_shape(),
        g.input_len(),
    )?;
    gx.fill(T::zero());
    for_each_output(g, |nc, oh, ow, o| {
        gx[argmax(x, &window(g, nc, oh, ow))] += gy[o];
    });
    Ok(())
}

/// Reference average pooling forward.
pub fn avg_pool2d_forward_reference<T: Element>(
    g: &Pool2dGeometry,
    x: &[T],
    y: &mut [T],
    count_include_pad: bool,
) -> Result<()> {
    g.validate_as("avg_pool2d")?;
    check("avg_pool2d", x.len(), g.input_shape(), g.input_len())?;
    check("avg_pool2d", y.len(), g.output_shape(), g.output_len())?;
    for_each_output(g, |nc, oh, ow, o| {
        let sum: f64 = window(g, nc, oh, ow).iter().map(|&i| x[i].as_f64()).sum();
        y[o] = T::of_f64(sum / divisor(g, oh, ow, count_include_pad));
    });
    Ok(())
}

/// Reference average pooling backward (overwrites `gx`).
pub fn avg_pool2d_backward_reference<T: Element>(
    g: &Pool2dGeometry,
    gy: &[T],
    gx: &mut [T],
    count_include_pad: bool,
) -> Result<()> {
    g.validate_as("avg_pool2d_backward")?;
    check(
        "avg_pool2d_backward",
        gy.len(),
        g.output_shape(),
        g.output_len(),
    )?;
    check(
        "avg_pool2d_backward",
        gx.len(),
        g.input_shape(),
        g.input_len(),
    )?;
    let mut acc = vec![0.0f64; gx.len()];
    for_each_output(g, |nc, oh, ow, o| {
        let share = gy[o].as_f64() / divisor(g, oh, ow, count_include_pad);
        for i in window(g, nc, oh, ow) {
            acc[i] += share;
        }
    });
    for (d, a) in gx.iter_mut().zip(acc) {
        *d = T::of_f64(a);
    }
    Ok(())
}

/// Reference global average pooling: `[N, C, H, W]` → `[N, C]`.
pub fn global_avg_pool2d_forward_reference<T: Element>(
    batch: usize,
    channels: usize,
    h: usize,
    w: usize,
    x: &[T],
    y: &mut [T],
) -> Result<()> {
    let op = "global_avg_pool2d";
    if h == 0 || w == 0 {
        return Err(TensorError::invalid(op, "input must be non-empty"));
    }
    check(
        op,
        x.len(),
        vec![batch, channels, h, w],
        batch * channels * h * w,
    )?;
    check(op, y.len(), vec![batch, channels], batch * channels)?;
    for (nc, out) in y.iter_mut().enumerate() {
        let mut sum = 0.0;
        for i in 0..h * w {
            sum += x[nc * h * w + i].as_f64();
        }
        *out = T::of_f64(sum / (h * w) as f64);
    }
    Ok(())
}

/// Reference global average pooling backward (overwrites `gx`).
pub fn global_avg_pool2d_backward_reference<T: Element>(
    batch: usize,
    channels: usize,
    h: usize,
    w: usize,
    gy: &[T],
    gx: &mut [T],
) -> Result<()> {
    let op = "global_avg_pool2d_backward";
    if h == 0 || w == 0 {
        return Err(TensorError::invalid(op, "input must be non-empty"));
    }
    check(
        op,
        gx.len(),
        vec![batch, channels, h, w],
        batch * channels * h * w,
    )?;
    check(op, gy.len(), vec![batch, channels], batch * channels)?;
    for (i, d) in gx.iter_mut().enumerate() {
        *d = T::of_f64(gy[i / (h * w)].as_f64() / (h * w) as f64);
    }
    Ok(())
}
