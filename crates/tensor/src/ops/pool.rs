//! Tensor-level pooling: shape checks, then the kernels in [`crate::kernels::pool`].

use crate::element::Element;
use crate::error::{Result, TensorError};
use crate::kernels::geometry::Pool2dGeometry;
use crate::kernels::pool;
use crate::tensor::Tensor;

/// Hyper-parameters of 2-D max or average pooling, as `[height, width]` pairs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Pool2dParams {
    /// Window size, in pixels.
    pub kernel: [usize; 2],
    /// Step between consecutive windows, in input pixels.
    pub stride: [usize; 2],
    /// Implicit padding on each side of the input (−∞ for max pooling); at most half the
    /// window.
    pub padding: [usize; 2],
    /// Round the output size up instead of down (the last window may be partial).
    pub ceil_mode: bool,
    /// Average pooling only: divide by the full window, padding included (PyTorch default).
    pub count_include_pad: bool,
}

impl Pool2dParams {
    /// Square window `f`, stride `s` and padding `p`: `(2, 2, 0)` is the classic pool,
    /// `(3, 2, 0)` AlexNet's overlapping pool.
    pub fn new(f: usize, s: usize, p: usize) -> Self {
        Pool2dParams {
            kernel: [f; 2],
            stride: [s; 2],
            padding: [p; 2],
            ceil_mode: false,
            count_include_pad: true,
        }
    }

    /// Output `[oh, ow]` for input `[N, C, H, W]`, or an error naming `op` and the shape.
    pub fn out_hw(&self, op: &'static str, input: &[usize]) -> Result<[usize; 2]> {
        let mut fixed = input.to_vec();
        if let Some(b) = fixed.first_mut() {
            *b = 1;
        }
        let g = self.geometry(op, &fixed)?;
        Ok([g.out_h(), g.out_w()])
    }

    /// The geometry for an input `[N, C, H, W]`, validated; errors name `op` and the shape.
    pub fn geometry(&self, op: &'static str, input: &[usize]) -> Result<Pool2dGeometry> {
        if input.len() != 4 {
            return Err(TensorError::shape(
                op,
                format!("input {input:?}: need [N, C, H, W]"),
            ));
        }
        let g = Pool2dGeometry {
            batch: input[0],
            channels: input[1],
            in_h: input[2],
            in_w: input[3],
            kernel_h: self.kernel[0],
            kernel_w: self.kernel[1],
            stride_h: self.stride[0],
            stride_w: self.stride[1],
            pad_h: self.padding[0],
            pad_w: self.padding[1],
            ceil_mode: self.ceil_mode,
        };
        g.validate_as(op)
            .map_err(|e| TensorError::shape(op, format!("input {input:?}: {}", e.detail())))?;
        Ok(g)
    }
}

fn out_shape(g: &Pool2dGeometry) -> [usize; 4] {
    [g.batch, g.channels, g.out_h(), g.out_w()]
}

fn check_grad(op: &'static str, g: &Pool2dGeometry, gy: &[usize]) -> Result<()> {
    if gy != out_shape(g) {
        return Err(TensorError::shape(
            op,
            format!(
                "grad has shape {gy:?}, the pooling produces {:?}",
                out_shape(g)
            ),
        ));
    }
    Ok(())
}

impl<T: Element> Tensor<T> {
    /// Max pooling of `[N, C, H, W]`; padding counts as −∞.
    pub fn max_pool2d(&self, p: Pool2dParams) -> Result<Tensor<T>> {
        let g = p.geometry("max_pool2d", self.shape())?;
        let mut y = crate::buffers::zeroed(g.output_len());
        pool::max_pool2d_forward(&g, &self.data(), &mut y)?;
        Ok(Tensor::from_kernel(y, &out_shape(&g)))
    }

    /// Gradient of `max_pool2d`: routes each `gy` element to the (first) maximum of its
    /// window in `x`, accumulating where windows overlap.
    pub fn max_pool2d_backward(
        x: &Tensor<T>,
        gy: &Tensor<T>,
        p: Pool2dParams,
    ) -> Result<Tensor<T>> {
        let g = p.geometry("max_pool2d_backward", x.shape())?;
        check_grad("max_pool2d_backward", &g, gy.shape())?;
        let mut gx = crate::buffers::zeroed(g.input_len());
        pool::max_pool2d_backward(&g, &x.data(), &gy.data(), &mut gx)?;
        Ok(Tensor::from_kernel(gx, x.shape()))
    }

    /// The adjoint of [`Tensor::max_pool2d_backward`] in its gradient argument: `v` (shaped
    /// like `x`) read at each window's maximum of `x`.
    pub fn max_pool2d_select(x: &Tensor<T>, v: &Tensor<T>, p: Pool2dParams) -> Result<Tensor<T>> {
        let g = p.geometry("max_pool2d_select", x.shape())?;
        if v.shape() != x.shape() {
            return Err(TensorError::shape(
                "max_pool2d_select",
                format!(
                    "values {:?} must have the input's shape {:?}",
                    v.shape(),
                    x.shape()
                ),
            ));
        }
        let mut y = crate::buffers::zeroed(g.output_len());
        pool::max_pool2d_select(&g, &x.data(), &v.data(), &mut y)?;
        Ok(Tensor::from_kernel(y, &out_shape(&g)))
    }

    /// Average pooling of `[N, C, H, W]`.
    pub fn avg_pool2d(&self, p: Pool2dParams) -> Result<Tensor<T>> {
        let g = p.geometry("avg_pool2d", self.shape())?;
        let mut y = crate::buffers::zeroed(g.output_len());
        pool::avg_pool2d_forward(&g, &self.data(), &mut y, p.count_include_pad)?;
        Ok(Tensor::from_kernel(y, &out_shape(&g)))
    }

    /// Gradient of `avg_pool2d` (its adjoint); `input_shape` is the forward input's shape.
    pub fn avg_pool2d_backward(
        gy: &Tensor<T>,
        input_shape: &[usize],
        p: Pool2dParams,
    ) -> Result<Tensor<T>> {
        let g = p.geometry("avg_pool2d_backward", input_shape)?;
        check_grad("avg_pool2d_backward", &g, gy.shape())?;
        let mut gx = crate::buffers::zeroed(g.input_len());
        pool::avg_pool2d_backward(&g, &gy.data(), &mut gx, p.count_include_pad)?;
        Ok(Tensor::from_kernel(gx, input_shape))
    }

    /// Mean over the spatial axes: `[N, C, H, W] → [N, C]`.
    pub fn global_avg_pool2d(&self) -> Result<Tensor<T>> {
        let s = self.shape();
        if s.len() != 4 {
            return Err(TensorError::shape(
                "global_avg_pool2d",
                format!("input {s:?}: need [N, C, H, W]"),
            ));
        }
        let mut y = crate::buffers::zeroed(s[0] * s[1]);
        pool::global_avg_pool2d_forward(s[0], s[1], s[2], s[3], &self.data(), &mut y)?;
        Ok(Tensor::from_kernel(y, &[s[0], s[1]]))
    }

    /// Gradient of `global_avg_pool2d`: spreads `gy` `[N, C]` evenly over `[N, C, h, w]`.
    pub fn global_avg_pool2d_backward(gy: &Tensor<T>, hw: [usize; 2]) -> Result<Tensor<T>> {
        let s = gy.shape();
        if s.len() != 2 {
            return Err(TensorError::shape(
                "global_avg_pool2d_backward",
                format!("grad {s:?}: need [N, C]"),
            ));
        }
        let mut gx = crate::buffers::zeroed(s[0] * s[1] * hw[0] * hw[1]);
        pool::global_avg_pool2d_backward(s[0], s[1], hw[0], hw[1], &gy.data(), &mut gx)?;
        Ok(Tensor::from_kernel(gx, &[s[0], s[1], hw[0], hw[1]]))
    }
}
