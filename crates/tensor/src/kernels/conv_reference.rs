//! Plain nested-loop convolutions: the oracle the fast kernels in `conv` are tested
//! against. Written to be obviously correct, not fast — each is the textbook definition
//! with an explicit bounds test for padding, accumulating in f64 so that f32 comparisons
//! measure only the fast kernel's rounding.

use super::check_len as check;
use super::geometry::Conv2dGeometry;
use crate::element::Element;
use crate::error::Result;

/// Calls `f(n, k, oh, ow, c, ki, kj, ih, iw)` for every term of the convolution sum whose
/// input position is inside the image (padding contributes zero, so it is skipped).
fn for_each_term(g: &Conv2dGeometry, mut f: impl FnMut([usize; 9])) {
    let cg = g.in_channels_per_group();
    for n in 0..g.batch {
        for k in 0..g.out_channels {
            for oh in 0..g.out_h() {
                for ow in 0..g.out_w() {
                    for cl in 0..cg {
                        for ki in 0..g.kernel_h {
                            for kj in 0..g.kernel_w {
                                let ih = (oh * g.stride_h + ki * g.dilation_h) as isize
                                    - g.pad_h as isize;
                                let iw = (ow * g.stride_w + kj * g.dilation_w) as isize
                                    - g.pad_w as isize;
                                if ih < 0
                                    || iw < 0
                                    || ih >= g.in_h as isize
                                    || iw >= g.in_w as isize
                                {
                                    continue;
                                }
                                f([n, k, oh, ow, cl, ki, kj, ih as usize, iw as usize]);
                            }
                        }
                    }
                }
            }
        }
    }
}

fn x_index(g: &Conv2dGeometry, n: usize, k: usize, cl: usize, ih: usize, iw: usize) -> usize {
    let c = (k / g.out_channels_per_group()) * g.in_channels_per_group() + cl;
    ((n * g.in_channels + c) * g.in_h + ih) * g.in_w + iw
}

fn w_index(g: &Conv2dGeometry, k: usize, cl: usize, ki: usize, kj: usize) -> usize {
    ((k * g.in_channels_per_group() + cl) * g.kernel_h + ki) * g.kernel_w + kj
}

fn y_index(g: &Conv2dGeometry, n: usize, k: usize, oh: usize, ow: usize) -> usize {
    ((n * g.out_channels + k) * g.out_h() + oh) * g.out_w() + ow
}

/// Reference forward convolution (see `conv::conv2d_forward`).
pub fn conv2d_forward_reference<T: Element>(
    g: &Conv2dGeometry,
    x: &[T],
    w: &[T],
    y: &mut [T],
) -> Result<()> {
    g.validate()?;
    check("conv2d", x.len(), g.input_shape(), g.input_len())?;
    check("conv2d", w.len(), g.weight_shape(), g.weight_len())?;
    check("conv2d", y.len(), g.output_shape(), g.output_len())?;
    let mut acc = vec![0.0f64; y.len()];
    for_each_term(g, |[n, k, oh, ow, cl, ki, kj, ih, iw]| {
        acc[y_index(g, n, k, oh, ow)] +=
            x[x_index(g, n, k, cl, ih, iw)].as_f64() * w[w_index(g, k, cl, ki, kj)].as_f64();
    });
    for (d, a) in y.iter_mut().zip(acc) {
        *d = T::of_f64(a);
    }
    Ok(())
}

/// Reference input gradient (see `conv::conv2d_input_grad`).
pub fn conv2d_input_grad_reference<T: Element>(
    g: &Conv2dGeometry,
    gy: &[T],
    w: &[T],
    gx: &mut [T],
) -> Result<()> {
    g.validate()?;
    check(
        "conv2d_input_grad",
        gy.len(),
        g.output_shape(),
        g.output_len(),
    )?;
    check(
        "conv2d_input_grad",
        w.len(),
        g.weight_shape(),
        g.weight_len(),
    )?;
    check(
        "conv2d_input_grad",
        gx.len(),
        g.input_shape(),
        g.input_len(),
    )?;
    let mut acc = vec![0.0f64; gx.len()];
    for_each_term(g, |[n, k, oh, ow, cl, ki, kj, ih, iw]| {
        acc[x_index(g, n, k, cl, ih, iw)] +=
            gy[y_index(g, n, k, oh, ow)].as_f64() * w[w_index(g, k, cl, ki, kj)].as_f64();
    });
    for (d, a) in gx.iter_mut().zip(acc) {
        *d = T::of_f64(a);
    }
    Ok(())
}

/// Reference weight gradient (see `conv::conv2d_weight_grad`).
pub fn conv2d_weight_grad_reference<T: Element>(
    g: &Conv2dGeometry,
    x: &[T],
    gy: &[T],
    gw: &mut [T],
) -> Result<()> {
    g.validate()?;
    check(
        "conv2d_weight_grad",
        x.len(),
        g.input_shape(),
        g.input_len(),
    )?;
    check(
        "conv2d_weight_grad",
        gy.len(),
        g.output_shape(),
        g.output_len(),
    )?;
    check(
        "conv2d_weight_grad",
        gw.len(),
        g.weight_shape(),
        g.weight_len(),
    )?;
    let mut acc = vec![0.0f64; gw.len()];
    for_each_term(g, |[n, k, oh, ow, cl, ki, kj, ih, iw]| {
        acc[w_index(g, k, cl, ki, kj)] +=
            gy[y_index(g, n, k, oh, ow)].as_f64() * x[x_index(g, n, k, cl, ih, iw)].as_f64();
    });
    for (d, a) in gw.iter_mut().zip(acc) {
        *d = T::of_f64(a);
    }
    Ok(())
}
