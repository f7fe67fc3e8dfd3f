//! Shape arithmetic for 2-D convolution and pooling.
//!
//! Every kernel in this module takes one of these structs instead of a loose list of
//! integers, so the output-size rule, the validation and the buffer lengths are computed in
//! exactly one place and a Tensor-level wrapper can validate once and then call the forward
//! and backward kernels with the same value.

use crate::error::{Result, TensorError};

/// Output length of one spatial dim, or 0 when the window does not fit (so that `out_h()`
/// on an unvalidated geometry never panics; `validate` reports the real problem).
fn floor_out(input: usize, pad: usize, dilation: usize, kernel: usize, stride: usize) -> usize {
    if stride == 0 || kernel == 0 {
        return 0;
    }
    let padded = input.saturating_add(pad.saturating_mul(2));
    let span = dilation.saturating_mul(kernel - 1).saturating_add(1);
    match padded.checked_sub(span) {
        Some(room) => room / stride + 1,
        None => 0,
    }
}

/// `true` when the last window ends exactly at the end of the padded input, i.e. no input
/// rows/cols are silently dropped by the floor rule.
fn exact(input: usize, pad: usize, dilation: usize, kernel: usize, stride: usize) -> bool {
    if stride == 0 || kernel == 0 {
        return false;
    }
    let padded = input.saturating_add(pad.saturating_mul(2));
    let span = dilation.saturating_mul(kernel - 1).saturating_add(1);
    padded
        .checked_sub(span)
        .is_some_and(|room| room % stride == 0)
}

/// Product of a shape, or an error naming `op` when it overflows `usize`.
fn checked_len(op: &'static str, what: &str, dims: &[usize]) -> Result<usize> {
    dims.iter()
        .try_fold(1usize, |acc, &d| acc.checked_mul(d))
        .ok_or_else(|| TensorError::invalid(op, format!("{what} size {dims:?} overflows usize")))
}

/// Geometry of a 2-D convolution on NCHW input with OIHW weights (`I` = in_channels/groups).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Conv2dGeometry {
    /// Images in the batch (`N`).
    pub batch: usize,
    /// Input channels (`C`); a multiple of `groups`.
    pub in_channels: usize,
    /// Input height in pixels, before padding.
    pub in_h: usize,
    /// Input width in pixels, before padding.
    pub in_w: usize,
    /// Output channels, i.e. filters (`K`); a multiple of `groups`.
    pub out_channels: usize,
    /// Kernel height in taps (before dilation).
    pub kernel_h: usize,
    /// Kernel width in taps (before dilation).
    pub kernel_w: usize,
    /// Vertical step between consecutive windows, in input pixels; at least 1.
    pub stride_h: usize,
    /// Horizontal step between consecutive windows, in input pixels; at least 1.
    pub stride_w: usize,
    /// Zero rows added above and below the input.
    pub pad_h: usize,
    /// Zero columns added left and right of the input.
    pub pad_w: usize,
    /// Vertical spacing between kernel taps, in input pixels; 1 is an ordinary dense kernel.
    pub dilation_h: usize,
    /// Horizontal spacing between kernel taps, in input pixels; 1 is an ordinary dense kernel.
    pub dilation_w: usize,
    /// Number of independent channel groups: group `g` convolves input channels
    /// `g·C/groups..(g+1)·C/groups` into output channels `g·K/groups..(g+1)·K/groups`;
    /// 1 is an ordinary convolution.
    pub groups: usize,
}

impl Conv2dGeometry {
    /// The common case: `batch` square `hw × hw` images of `c` channels, `k` square
    /// `kernel × kernel` filters, stride 1, zero padding `pad`, no dilation, one group.
    pub fn square(batch: usize, c: usize, hw: usize, k: usize, kernel: usize, pad: usize) -> Self {
        Conv2dGeometry {
            batch,
            in_channels: c,
            in_h: hw,
            in_w: hw,
            out_channels: k,
            kernel_h: kernel,
            kernel_w: kernel,
            stride_h: 1,
            stride_w: 1,
            pad_h: pad,
            pad_w: pad,
            dilation_h: 1,
            dilation_w: 1,
            groups: 1,
        }
    }

    /// Output height: `(in_h + 2·pad_h − dilation_h·(kernel_h − 1) − 1) / stride_h + 1`.
    pub fn out_h(&self) -> usize {
        floor_out(
            self.in_h,
            self.pad_h,
            self.dilation_h,
            self.kernel_h,
            self.stride_h,
        )
    }

    /// Output width, same rule as [`Self::out_h`].
    pub fn out_w(&self) -> usize {
        floor_out(
            self.in_w,
            self.pad_w,
            self.dilation_w,
            self.kernel_w,
            self.stride_w,
        )
    }

    /// Input channels seen by one output channel.
    pub fn in_channels_per_group(&self) -> usize {
        self.in_channels / self.groups.max(1)
    }

    /// Output channels produced by one group.
    pub fn out_channels_per_group(&self) -> usize {
        self.out_channels / self.groups.max(1)
    }

    /// Rejects geometries no kernel can run: zero hyper-parameters, channels that do not
    /// split into `groups`, a dilated window larger than the padded input, or sizes whose
    /// buffer lengths overflow.
    pub fn validate(&self) -> Result<()> {
        const OP: &str = "conv2d";
        let zero = |what: &str, h: usize, w: usize| {
            TensorError::invalid(OP, format!("{what} must be positive, got {h}×{w}"))
        };
        if self.stride_h == 0 || self.stride_w == 0 {
            return Err(zero("stride", self.stride_h, self.stride_w));
        }
        if self.dilation_h == 0 || self.dilation_w == 0 {
            return Err(zero("dilation", self.dilation_h, self.dilation_w));
        }
        if self.kernel_h == 0 || self.kernel_w == 0 {
            return Err(zero("kernel", self.kernel_h, self.kernel_w));
        }
        if self.groups == 0 {
            return Err(TensorError::invalid(OP, "groups must be positive, got 0"));
        }
        if self.in_h == 0 || self.in_w == 0 {
            // Padding alone could still make windows fit, but they would convolve nothing but
            // zeros, and the kernels divide by the image area.
            return Err(TensorError::invalid(
                OP,
                format!("input must be non-empty, got {}×{}", self.in_h, self.in_w),
            ));
        }
        if !self.in_channels.is_multiple_of(self.groups)
            || !self.out_channels.is_multiple_of(self.groups)
        {
            return Err(TensorError::invalid(
                OP,
                format!(
                    "in_channels {} and out_channels {} must both be divisible by groups {}",
                    self.in_channels, self.out_channels, self.groups
                ),
            ));
        }
        let fits = |input: usize, pad: usize, dil: usize, k: usize| {
            let padded = input.checked_add(pad.checked_mul(2)?)?;
            let span = dil.checked_mul(k - 1)?.checked_add(1)?;
            Some(span <= padded)
        };
        let ok_h = fits(self.in_h, self.pad_h, self.dilation_h, self.kernel_h);
        let ok_w = fits(self.in_w, self.pad_w, self.dilation_w, self.kernel_w);
        if ok_h != Some(true) || ok_w != Some(true) {
            let dil = if self.dilation_h == self.dilation_w {
                format!("{}", self.dilation_h)
            } else {
                format!("{}×{}", self.dilation_h, self.dilation_w)
            };
            let pad = if self.pad_h == self.pad_w {
                format!("{}", self.pad_h)
            } else {
                format!("{}×{}", self.pad_h, self.pad_w)
            };
            return Err(TensorError::invalid(
                OP,
                format!(
                    "kernel {}×{} (dilation {dil}) does not fit input {}×{} with padding {pad}",
                    self.kernel_h, self.kernel_w, self.in_h, self.in_w
                ),
            ));
        }
        checked_len(
            OP,
            "input",
            &[self.batch, self.in_channels, self.in_h, self.in_w],
        )?;
        checked_len(
            OP,
            "weight",
            &[
                self.out_channels,
                self.in_channels_per_group(),
                self.kernel_h,
                self.kernel_w,
            ],
        )?;
        checked_len(
            OP,
            "output",
            &[self.batch, self.out_channels, self.out_h(), self.out_w()],
        )?;
        checked_len(
            OP,
            "work",
            &[
                self.output_len(),
                self.in_channels_per_group(),
                self.kernel_h,
                self.kernel_w,
                2,
            ],
        )?;
        Ok(())
    }

    /// `true` when the floor rule drops no trailing input rows or columns (used by a
    /// strict mode that refuses silently-ignored input).
    pub fn is_exact(&self) -> bool {
        exact(
            self.in_h,
            self.pad_h,
            self.dilation_h,
            self.kernel_h,
            self.stride_h,
        ) && exact(
            self.in_w,
            self.pad_w,
            self.dilation_w,
            self.kernel_w,
            self.stride_w,
        )
    }

    /// Elements in the NCHW input.
    pub fn input_len(&self) -> usize {
        self.batch * self.in_channels * self.in_h * self.in_w
    }

    /// Elements in the `[out_channels, in_channels/groups, kernel_h, kernel_w]` weight.
    pub fn weight_len(&self) -> usize {
        self.out_channels * self.in_channels_per_group() * self.kernel_h * self.kernel_w
    }

    /// Elements in the NCHW output.
    pub fn output_len(&self) -> usize {
        self.batch * self.out_channels * self.out_h() * self.out_w()
    }

    /// Floating-point operations of the forward pass, counting a multiply-add as 2 (each
    /// backward pass costs the same).
    pub fn flops(&self) -> u64 {
        2 * self.output_len() as u64
            * (self.in_channels_per_group() * self.kernel_h * self.kernel_w) as u64
    }

    /// Input dims `[N, C, H, W]`, for error messages.
    pub(crate) fn input_shape(&self) -> Vec<usize> {
        vec![self.batch, self.in_channels, self.in_h, self.in_w]
    }

    /// Weight dims `[K, C/groups, kh, kw]`, for error messages.
    pub(crate) fn weight_shape(&self) -> Vec<usize> {
        vec![
            self.out_channels,
            self.in_channels_per_group(),
            self.kernel_h,
            self.kernel_w,
        ]
    }

    /// Output dims `[N, K, Ho, Wo]`, for error messages.
    pub(crate) fn output_shape(&self) -> Vec<usize> {
        vec![self.batch, self.out_channels, self.out_h(), self.out_w()]
    }
}

/// Geometry of a 2-D max/avg pooling on NCHW input (no dilation).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Pool2dGeometry {
    /// Images in the batch (`N`).
    pub batch: usize,
    /// Channels (`C`), the same in the input and the output.
    pub channels: usize,
    /// Input height in pixels, before padding.
    pub in_h: usize,
    /// Input width in pixels, before padding.
    pub in_w: usize,
    /// Window height in pixels.
    pub kernel_h: usize,
    /// Window width in pixels.
    pub kernel_w: usize,
    /// Vertical step between consecutive windows, in input pixels; at least 1.
    pub stride_h: usize,
    /// Horizontal step between consecutive windows, in input pixels; at least 1.
    pub stride_w: usize,
    /// Implicit padding rows above and below the input (−∞ for max pooling); at most
    /// `kernel_h / 2`.
    pub pad_h: usize,
    /// Implicit padding columns left and right of the input; at most `kernel_w / 2`.
    pub pad_w: usize,
    /// Round the output size up rather than down, so a partial window at the bottom/right
    /// edge still produces an output (PyTorch's `ceil_mode`).
    pub ceil_mode: bool,
}

/// PyTorch's pooling output rule: floor or ceil of `(in + 2p − k)/s + 1`, and in ceil mode
/// the last window must start inside the input or the left padding (otherwise it would
/// cover only right padding and have nothing to pool).
fn pool_out(input: usize, pad: usize, kernel: usize, stride: usize, ceil: bool) -> usize {
    if stride == 0 || kernel == 0 {
        return 0;
    }
    let padded = input.saturating_add(pad.saturating_mul(2));
    let Some(room) = padded.checked_sub(kernel) else {
        return 0;
    };
    let mut out = if ceil {
        room.div_ceil(stride) + 1
    } else {
        room / stride + 1
    };
    if ceil && (out - 1).saturating_mul(stride) >= input.saturating_add(pad) {
        out -= 1;
    }
    out
}

impl Pool2dGeometry {
    /// Output height: PyTorch's rule, `(in_h + 2·pad_h − kernel_h) / stride_h + 1` rounded
    /// down, or up in [`ceil_mode`](Self::ceil_mode), where a last window that would start
    /// in the bottom padding is dropped.
    pub fn out_h(&self) -> usize {
        pool_out(
            self.in_h,
            self.pad_h,
            self.kernel_h,
            self.stride_h,
            self.ceil_mode,
        )
    }

    /// Output width, same rule as [`Self::out_h`].
    pub fn out_w(&self) -> usize {
        pool_out(
            self.in_w,
            self.pad_w,
            self.kernel_w,
            self.stride_w,
            self.ceil_mode,
        )
    }

    /// Same as [`Self::validate_as`] with the generic op name `"pool2d"`.
    pub fn validate(&self) -> Result<()> {
        self.validate_as("pool2d")
    }

    /// Rejects zero strides or kernels, an empty image, padding larger than half the kernel
    /// (PyTorch's rule: otherwise a window could lie entirely in padding), a window larger
    /// than the padded input, and sizes whose lengths overflow. Errors are reported under
    /// `op`.
    pub fn validate_as(&self, op: &'static str) -> Result<()> {
        if self.stride_h == 0 || self.stride_w == 0 {
            return Err(TensorError::invalid(
                op,
                format!(
                    "stride must be positive, got {}×{}",
                    self.stride_h, self.stride_w
                ),
            ));
        }
        if self.kernel_h == 0 || self.kernel_w == 0 {
            return Err(TensorError::invalid(
                op,
                format!(
                    "kernel must be positive, got {}×{}",
                    self.kernel_h, self.kernel_w
                ),
            ));
        }
        if self.in_h == 0 || self.in_w == 0 {
            // A window over an empty image would pool nothing but padding.
            return Err(TensorError::invalid(
                op,
                format!("input must be non-empty, got {}×{}", self.in_h, self.in_w),
            ));
        }
        if self.pad_h > self.kernel_h / 2 || self.pad_w > self.kernel_w / 2 {
            return Err(TensorError::invalid(
                op,
                format!(
                    "padding {}×{} must be at most half of kernel {}×{}",
                    self.pad_h, self.pad_w, self.kernel_h, self.kernel_w
                ),
            ));
        }
        // pad ≤ kernel/2 bounds the additions below, so they cannot overflow.
        if self.kernel_h > self.in_h + 2 * self.pad_h || self.kernel_w > self.in_w + 2 * self.pad_w
        {
            return Err(TensorError::invalid(
                op,
                format!(
                    "kernel {}×{} does not fit input {}×{} with padding {}×{}",
                    self.kernel_h, self.kernel_w, self.in_h, self.in_w, self.pad_h, self.pad_w
                ),
            ));
        }
        checked_len(
            op,
            "input",
            &[self.batch, self.channels, self.in_h, self.in_w],
        )?;
        checked_len(
            op,
            "work",
            &[
                self.batch,
                self.channels,
                self.out_h(),
                self.out_w(),
                self.kernel_h,
                self.kernel_w,
            ],
        )?;
        Ok(())
    }

    /// `true` when windows tile the padded input with nothing left over.
    pub fn is_exact(&self) -> bool {
        exact(self.in_h, self.pad_h, 1, self.kernel_h, self.stride_h)
            && exact(self.in_w, self.pad_w, 1, self.kernel_w, self.stride_w)
    }

    /// Elements in the NCHW input.
    pub fn input_len(&self) -> usize {
        self.batch * self.channels * self.in_h * self.in_w
    }

    /// Elements in the NCHW output.
    pub fn output_len(&self) -> usize {
        self.batch * self.channels * self.out_h() * self.out_w()
    }

    /// Input dims `[N, C, H, W]`, for error messages.
    pub(crate) fn input_shape(&self) -> Vec<usize> {
        vec![self.batch, self.channels, self.in_h, self.in_w]
    }

    /// Output dims `[N, C, Ho, Wo]`, for error messages.
    pub(crate) fn output_shape(&self) -> Vec<usize> {
        vec![self.batch, self.channels, self.out_h(), self.out_w()]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn conv(in_hw: usize, k: usize, s: usize, p: usize, d: usize) -> Conv2dGeometry {
        Conv2dGeometry {
            batch: 2,
            in_channels: 4,
            in_h: in_hw,
            in_w: in_hw,
            out_channels: 6,
            kernel_h: k,
            kernel_w: k,
            stride_h: s,
            stride_w: s,
            pad_h: p,
            pad_w: p,
            dilation_h: d,
            dilation_w: d,
            groups: 2,
        }
    }

    fn pool(in_hw: usize, k: usize, s: usize, p: usize, ceil: bool) -> Pool2dGeometry {
        Pool2dGeometry {
            batch: 1,
            channels: 1,
            in_h: in_hw,
            in_w: in_hw,
            kernel_h: k,
            kernel_w: k,
            stride_h: s,
            stride_w: s,
            pad_h: p,
            pad_w: p,
            ceil_mode: ceil,
        }
    }

    #[test]
    fn conv_output_sizes_follow_floor_rule() {
        assert_eq!(conv(32, 3, 1, 1, 1).out_h(), 32);
        assert_eq!(conv(32, 3, 2, 1, 1).out_h(), 16);
        assert_eq!(conv(28, 5, 1, 0, 1).out_h(), 24);
        assert_eq!(conv(7, 3, 1, 0, 2).out_h(), 3);
        assert_eq!(conv(8, 3, 2, 0, 1).out_h(), 3);
        assert!(!conv(8, 3, 2, 0, 1).is_exact());
        assert!(conv(7, 3, 2, 0, 1).is_exact());
        let g = conv(5, 3, 1, 1, 1);
        assert_eq!(g.input_len(), 2 * 4 * 25);
        assert_eq!(g.weight_len(), 6 * 2 * 9);
        assert_eq!(g.output_len(), 2 * 6 * 25);
        assert_eq!(g.flops(), 2 * (2 * 6 * 25) as u64 * 18);
    }

    #[test]
    fn conv_validate_rejects_bad_geometry() {
        assert!(conv(5, 3, 1, 1, 1).validate().is_ok());
        let msg = conv(3, 5, 1, 0, 1).validate().unwrap_err().to_string();
        assert_eq!(
            msg,
            "conv2d: kernel 5×5 (dilation 1) does not fit input 3×3 with padding 0"
        );
        assert!(conv(5, 3, 0, 1, 1).validate().is_err());
        assert!(conv(5, 3, 1, 1, 0).validate().is_err());
        assert!(conv(5, 0, 1, 1, 1).validate().is_err());
        assert!(conv(5, 3, 1, 0, 3).validate().is_err()); // span 7 > 5
        let mut g = conv(5, 3, 1, 1, 1);
        g.groups = 3;
        let msg = g.validate().unwrap_err().to_string();
        assert!(msg.contains("divisible by groups 3"), "{msg}");
        g.groups = 0;
        assert!(g.validate().is_err());
        g.groups = 1;
        g.batch = usize::MAX;
        assert!(g.validate().is_err());
    }

    #[test]
    fn pool_output_sizes_follow_pytorch() {
        assert_eq!(pool(32, 2, 2, 0, false).out_h(), 16);
        assert_eq!(pool(5, 2, 2, 0, false).out_h(), 2);
        assert_eq!(pool(5, 2, 2, 0, true).out_h(), 3);
        assert_eq!(pool(6, 3, 2, 0, true).out_h(), 3);
        assert_eq!(pool(6, 2, 2, 1, true).out_h(), 4);
        // ceil would give 4 windows, but the 4th would start at 6 = in + pad: dropped.
        assert_eq!(pool(5, 2, 2, 1, true).out_h(), 3);
        assert_eq!(pool(5, 3, 2, 1, true).out_h(), 3);
        assert_eq!(pool(4, 3, 3, 1, true).out_h(), 2);
        assert!(pool(6, 2, 2, 0, false).is_exact());
        assert!(!pool(5, 2, 2, 0, false).is_exact());
    }

    #[test]
    fn pool_validate_rejects_bad_geometry() {
        assert!(pool(5, 3, 2, 1, false).validate().is_ok());
        assert!(pool(5, 3, 0, 1, false).validate().is_err());
        assert!(pool(5, 0, 1, 0, false).validate().is_err());
        let msg = pool(5, 3, 1, 2, false)
            .validate_as("max_pool2d")
            .unwrap_err();
        assert!(
            msg.to_string().starts_with("max_pool2d: padding 2×2"),
            "{msg}"
        );
        assert!(pool(2, 5, 1, 1, false).validate().is_err());
    }
}
