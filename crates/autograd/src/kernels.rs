//! Convolution and pooling kernels (forward and adjoints) with their geometry.
//!
//! Why here: the tensor crate's `ops::conv` / `ops::pool` were not available when autograd was
//! written, so these plain direct-loop kernels stand in, with the same signatures, parameter
//! structs and floor/ceil rules. They are correct references rather than fast kernels; when the
//! tensor crate exports its own, the `ops/conv.rs` and `ops/pool.rs` evaluations switch to them
//! and this file goes away.

use convnet_tensor::{Element, Result, Tensor, TensorError};

/// Convolution hyper-parameters (per spatial axis: `[height, width]`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Conv2dParams {
    pub stride: [usize; 2],
    pub padding: [usize; 2],
    pub dilation: [usize; 2],
    pub groups: usize,
}

impl Default for Conv2dParams {
    fn default() -> Self {
        Conv2dParams {
            stride: [1, 1],
            padding: [0, 0],
            dilation: [1, 1],
            groups: 1,
        }
    }
}

impl Conv2dParams {
    /// Stride and padding, square.
    pub fn new(stride: usize, padding: usize) -> Self {
        Conv2dParams {
            stride: [stride; 2],
            padding: [padding; 2],
            ..Self::default()
        }
    }

    /// Output `[oh, ow]` for input `[n, c, h, w]` and weight `[k, c/groups, kh, kw]` (floor rule).
    pub fn out_hw(&self, op: &'static str, x: &[usize], w: &[usize]) -> Result<[usize; 2]> {
        let bad = |d: String| Err(TensorError::shape(op, d));
        if x.len() != 4 || w.len() != 4 {
            return bad(format!(
                "input {x:?} and weight {w:?} must both have 4 axes"
            ));
        }
        let g = self.groups;
        if g == 0 || self.stride.contains(&0) || self.dilation.contains(&0) {
            return Err(TensorError::invalid(
                op,
                format!("{self:?}: stride, dilation and groups must be positive"),
            ));
        }
        if x[1] != w[1] * g || w[0] % g != 0 {
            return bad(format!(
                "input {x:?} and weight {w:?} do not fit {g} group(s): need C = {}·groups and K divisible by groups",
                w[1]
            ));
        }
        let mut out = [0; 2];
        for a in 0..2 {
            let span = self.dilation[a] * (w[2 + a].max(1) - 1) + 1;
            let room = x[2 + a] + 2 * self.padding[a];
            if w[2 + a] == 0 || span > room {
                return bad(format!(
                    "window {span} exceeds padded input {room} on axis {}",
                    2 + a
                ));
            }
            out[a] = (room - span) / self.stride[a] + 1;
        }
        Ok(out)
    }
}

/// Pooling hyper-parameters.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Pool2dParams {
    pub kernel: [usize; 2],
    pub stride: [usize; 2],
    pub padding: [usize; 2],
    /// Output size by `ceil` instead of `floor` (a last window must start inside the input).
    pub ceil_mode: bool,
    /// Average pooling divides by the whole window, padding included.
    pub count_include_pad: bool,
}

impl Pool2dParams {
    /// Square window, stride and padding.
    pub fn new(kernel: usize, stride: usize, padding: usize) -> Self {
        Pool2dParams {
            kernel: [kernel; 2],
            stride: [stride; 2],
            padding: [padding; 2],
            ceil_mode: false,
            count_include_pad: true,
        }
    }

    /// Output `[oh, ow]` for input `[n, c, h, w]`.
    pub fn out_hw(&self, op: &'static str, x: &[usize]) -> Result<[usize; 2]> {
        if x.len() != 4 {
            return Err(TensorError::shape(
                op,
                format!("input {x:?} must be [N, C, H, W]"),
            ));
        }
        let mut out = [0; 2];
        for a in 0..2 {
            let (n, k, s, p) = (x[2 + a], self.kernel[a], self.stride[a], self.padding[a]);
            if k == 0 || s == 0 || k > n + 2 * p || p > k / 2 {
                return Err(TensorError::invalid(
                    op,
                    format!(
                        "window {k}, stride {s}, padding {p} do not fit input size {n} (need k ≤ n + 2p, p ≤ k/2, s > 0)"
                    ),
                ));
            }
            let span = n + 2 * p - k;
            let mut o = if self.ceil_mode {
                span.div_ceil(s) + 1
            } else {
                span / s + 1
            };
            if self.ceil_mode && (o - 1) * s >= n + p {
                o -= 1;
            }
            out[a] = o;
        }
        Ok(out)
    }
}

fn dims4(t: &[usize]) -> [usize; 4] {
    [t[0], t[1], t[2], t[3]]
}

/// Visits every (input index, weight index, output index) triple of a convolution.
fn for_each_tap(
    x: [usize; 4],
    w: [usize; 4],
    y: [usize; 4],
    p: &Conv2dParams,
    mut f: impl FnMut(usize, usize, usize),
) {
    let [n, c, h, wd] = x;
    let [k, cg, kh, kw] = w;
    let [_, _, oh, ow] = y;
    let kg = k / p.groups;
    for b in 0..n {
        for ko in 0..k {
            let grp = ko / kg;
            for ci in 0..cg {
                let xc = grp * cg + ci;
                for i in 0..kh {
                    for j in 0..kw {
                        let wi = ((ko * cg + ci) * kh + i) * kw + j;
                        for r in 0..oh {
                            let ih = (r * p.stride[0] + i * p.dilation[0]) as isize
                                - p.padding[0] as isize;
                            if ih < 0 || ih >= h as isize {
                                continue;
                            }
                            let xrow = ((b * c + xc) * h + ih as usize) * wd;
                            let yrow = ((b * k + ko) * oh + r) * ow;
                            for q in 0..ow {
                                let iw = (q * p.stride[1] + j * p.dilation[1]) as isize
                                    - p.padding[1] as isize;
                                if iw >= 0 && iw < wd as isize {
                                    f(xrow + iw as usize, wi, yrow + q);
                                }
                            }
                        }
                    }
                }
            }
        }
    }
}

pub fn conv2d<T: Element>(x: &Tensor<T>, w: &Tensor<T>, p: Conv2dParams) -> Result<Tensor<T>> {
    let [oh, ow] = p.out_hw("conv2d", x.shape(), w.shape())?;
    let ys = [x.shape()[0], w.shape()[0], oh, ow];
    let (xd, wd) = (x.data(), w.data());
    let mut y = vec![T::zero(); ys.iter().product()];
    for_each_tap(dims4(x.shape()), dims4(w.shape()), ys, &p, |xi, wi, yi| {
        y[yi] += xd[xi] * wd[wi]
    });
    Tensor::from_vec(y, &ys)
}

pub fn conv2d_input_grad<T: Element>(
    gy: &Tensor<T>,
    w: &Tensor<T>,
    input_hw: [usize; 2],
    p: Conv2dParams,
) -> Result<Tensor<T>> {
    let xs = [
        gy.shape()[0],
        w.shape()[1] * p.groups,
        input_hw[0],
        input_hw[1],
    ];
    let [oh, ow] = p.out_hw("conv2d_input_grad", &xs, w.shape())?;
    if gy.shape() != [xs[0], w.shape()[0], oh, ow] {
        return Err(TensorError::shape(
            "conv2d_input_grad",
            format!("gradient {:?} for input {xs:?}", gy.shape()),
        ));
    }
    let (gd, wd) = (gy.data(), w.data());
    let mut gx = vec![T::zero(); xs.iter().product()];
    for_each_tap(xs, dims4(w.shape()), dims4(gy.shape()), &p, |xi, wi, yi| {
        gx[xi] += gd[yi] * wd[wi]
    });
    Tensor::from_vec(gx, &xs)
}

pub fn conv2d_weight_grad<T: Element>(
    x: &Tensor<T>,
    gy: &Tensor<T>,
    kernel_hw: [usize; 2],
    p: Conv2dParams,
) -> Result<Tensor<T>> {
    let groups = p.groups.max(1);
    let ws = [
        gy.shape()[1],
        x.shape()[1] / groups,
        kernel_hw[0],
        kernel_hw[1],
    ];
    let [oh, ow] = p.out_hw("conv2d_weight_grad", x.shape(), &ws)?;
    if gy.shape() != [x.shape()[0], ws[0], oh, ow] {
        return Err(TensorError::shape(
            "conv2d_weight_grad",
            format!("gradient {:?} for input {:?}", gy.shape(), x.shape()),
        ));
    }
    let (xd, gd) = (x.data(), gy.data());
    let mut gw = vec![T::zero(); ws.iter().product()];
    for_each_tap(dims4(x.shape()), ws, dims4(gy.shape()), &p, |xi, wi, yi| {
        gw[wi] += xd[xi] * gd[yi]
    });
    Tensor::from_vec(gw, &ws)
}

/// Visits each pooling window: `(plane base, output index, in-bounds input offsets, window size
/// counted for averaging)`.
fn for_each_window(
    x: &[usize],
    p: &Pool2dParams,
    out: [usize; 2],
    mut f: impl FnMut(usize, &[usize], usize),
) {
    let (h, w) = (x[2], x[3]);
    let mut taps = Vec::with_capacity(p.kernel[0] * p.kernel[1]);
    for plane in 0..x[0] * x[1] {
        for r in 0..out[0] {
            for q in 0..out[1] {
                taps.clear();
                let h0 = (r * p.stride[0]) as isize - p.padding[0] as isize;
                let w0 = (q * p.stride[1]) as isize - p.padding[1] as isize;
                let mut padded = 0;
                for i in 0..p.kernel[0] as isize {
                    for j in 0..p.kernel[1] as isize {
                        let (a, b) = (h0 + i, w0 + j);
                        if a < h as isize + p.padding[0] as isize
                            && b < w as isize + p.padding[1] as isize
                        {
                            padded += 1;
                        }
                        if a >= 0 && b >= 0 && a < h as isize && b < w as isize {
                            taps.push(plane * h * w + a as usize * w + b as usize);
                        }
                    }
                }
                let count = if p.count_include_pad {
                    padded
                } else {
                    taps.len()
                };
                f((plane * out[0] + r) * out[1] + q, &taps, count.max(1));
            }
        }
    }
}

/// Index of each window's first maximum (NaN wins), `None` for a window entirely in padding.
fn argmax_windows<T: Element>(
    x: &Tensor<T>,
    p: &Pool2dParams,
    out: [usize; 2],
) -> Vec<Option<usize>> {
    let d = x.data();
    let mut arg = vec![None; x.shape()[0] * x.shape()[1] * out[0] * out[1]];
    for_each_window(x.shape(), p, out, |yi, taps, _| {
        let mut best: Option<usize> = None;
        for &t in taps {
            if best.is_none_or(|b| d[t] > d[b] || (d[t].is_nan() && !d[b].is_nan())) {
                best = Some(t);
            }
        }
        arg[yi] = best;
    });
    arg
}

fn pooled_shape(x: &[usize], out: [usize; 2]) -> [usize; 4] {
    [x[0], x[1], out[0], out[1]]
}

pub fn max_pool2d<T: Element>(x: &Tensor<T>, p: Pool2dParams) -> Result<Tensor<T>> {
    let out = p.out_hw("max_pool2d", x.shape())?;
    let d = x.data();
    let y = argmax_windows(x, &p, out)
        .into_iter()
        .map(|a| a.map_or(T::zero(), |i| d[i]))
        .collect();
    Tensor::from_vec(y, &pooled_shape(x.shape(), out))
}

pub fn max_pool2d_backward<T: Element>(
    x: &Tensor<T>,
    gy: &Tensor<T>,
    p: Pool2dParams,
) -> Result<Tensor<T>> {
    let out = p.out_hw("max_pool2d_backward", x.shape())?;
    if gy.shape() != pooled_shape(x.shape(), out) {
        return Err(TensorError::shape(
            "max_pool2d_backward",
            format!("gradient {:?} for input {:?}", gy.shape(), x.shape()),
        ));
    }
    let g = gy.data();
    let mut gx = vec![T::zero(); x.numel()];
    for (yi, a) in argmax_windows(x, &p, out).into_iter().enumerate() {
        if let Some(i) = a {
            gx[i] += g[yi];
        }
    }
    Tensor::from_vec(gx, x.shape())
}

/// `v` read at each window's arg-max in `x`: the adjoint of `max_pool2d_backward` in `gy`.
pub fn max_pool2d_select<T: Element>(
    x: &Tensor<T>,
    v: &Tensor<T>,
    p: Pool2dParams,
) -> Result<Tensor<T>> {
    let out = p.out_hw("max_pool2d_select", x.shape())?;
    if v.shape() != x.shape() {
        return Err(TensorError::shape(
            "max_pool2d_select",
            format!("value {:?} for input {:?}", v.shape(), x.shape()),
        ));
    }
    let d = v.data();
    let y = argmax_windows(x, &p, out)
        .into_iter()
        .map(|a| a.map_or(T::zero(), |i| d[i]))
        .collect();
    Tensor::from_vec(y, &pooled_shape(x.shape(), out))
}

pub fn avg_pool2d<T: Element>(x: &Tensor<T>, p: Pool2dParams) -> Result<Tensor<T>> {
    let out = p.out_hw("avg_pool2d", x.shape())?;
    let d = x.data();
    let ys = pooled_shape(x.shape(), out);
    let mut y = vec![T::zero(); ys.iter().product()];
    for_each_window(x.shape(), &p, out, |yi, taps, count| {
        let s = taps.iter().fold(T::zero(), |acc, &t| acc + d[t]);
        y[yi] = s / T::of_usize(count);
    });
    Tensor::from_vec(y, &ys)
}

pub fn avg_pool2d_backward<T: Element>(
    gy: &Tensor<T>,
    input_shape: &[usize],
    p: Pool2dParams,
) -> Result<Tensor<T>> {
    let out = p.out_hw("avg_pool2d_backward", input_shape)?;
    if gy.shape() != pooled_shape(input_shape, out) {
        return Err(TensorError::shape(
            "avg_pool2d_backward",
            format!("gradient {:?} for input {input_shape:?}", gy.shape()),
        ));
    }
    let g = gy.data();
    let mut gx = vec![T::zero(); input_shape.iter().product()];
    for_each_window(input_shape, &p, out, |yi, taps, count| {
        let share = g[yi] / T::of_usize(count);
        for &t in taps {
            gx[t] += share;
        }
    });
    Tensor::from_vec(gx, input_shape)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn conv_of_ones_counts_taps() {
        let x = Tensor::<f64>::ones(&[1, 1, 4, 4]);
        let w = Tensor::<f64>::ones(&[1, 1, 3, 3]);
        let y = conv2d(&x, &w, Conv2dParams::new(1, 1)).unwrap();
        assert_eq!(y.shape(), &[1, 1, 4, 4]);
        assert_eq!(y.to_vec()[..4], [4.0, 6.0, 6.0, 4.0]);
    }

    #[test]
    fn pool_geometry_floor_and_ceil() {
        let p = Pool2dParams::new(3, 2, 0);
        assert_eq!(p.out_hw("t", &[1, 1, 8, 8]).unwrap(), [3, 3]);
        let c = Pool2dParams {
            ceil_mode: true,
            ..p
        };
        assert_eq!(c.out_hw("t", &[1, 1, 8, 8]).unwrap(), [4, 4]);
        let x = Tensor::<f64>::from_fn(&[1, 1, 2, 2], |i| i as f64);
        assert_eq!(
            max_pool2d(&x, Pool2dParams::new(2, 2, 0)).unwrap().to_vec(),
            vec![3.0]
        );
        assert_eq!(
            avg_pool2d(&x, Pool2dParams::new(2, 2, 0)).unwrap().to_vec(),
            vec![1.5]
        );
    }
}
