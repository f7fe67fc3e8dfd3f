//! Local response normalisation across channels, as AlexNet used it (Krizhevsky et al., 2012,
//! §3.3): `b_c = a_c / (k + α·Σ a_{c'}²)^β`, the sum over the `n` channels centred on `c`
//! (zero beyond the edges), with k = 2, n = 5, α = 10⁻⁴, β = 0.75.
//!
//! Two conventions exist for α: the paper multiplies the sum by α ([`LocalResponseNorm::alexnet`]);
//! PyTorch and Caffe multiply the *mean* by α, i.e. use α/n ([`LocalResponseNorm::new`], PyTorch's
//! defaults). Both are one composition: square, a channel-window average as an average pool
//! over a `[N, 1, C, H·W]` view with an `n × 1` window, power −β, multiply.

use convnet_autograd::{NodeId, Pool2dParams};
use convnet_tensor::Element;

use crate::error::{NnError, Result};
use crate::module::{Ctx, Module, default_name, expect_input, fixed_dim};

/// Local response normalisation across the channels of `[N, C, H, W]` inputs:
/// `b_c = a_c / (k + α·S_c)^β`, `S_c` the mean (or sum) of the squares over a window of
/// `size` channels around `c`. No parameters.
#[derive(Debug, Clone, PartialEq)]
pub struct LocalResponseNorm {
    name: String,
    /// The window n, in channels: `n/2` before `c` and `(n − 1)/2` after, zeros beyond the
    /// edges.
    pub size: usize,
    /// α, the scale of the window's mean or sum of squares (see `alpha_over_size`).
    pub alpha: f64,
    /// β, the exponent.
    pub beta: f64,
    /// k, the constant added before the power.
    pub k: f64,
    /// `true`: α multiplies the window mean (PyTorch/Caffe); `false`: the sum (the paper).
    pub alpha_over_size: bool,
}

impl LocalResponseNorm {
    /// PyTorch's `nn.LocalResponseNorm(size)`: α = 1e-4 on the mean, β = 0.75, k = 1.
    pub fn new(name: impl Into<String>, size: usize) -> Self {
        LocalResponseNorm {
            name: name.into(),
            size,
            alpha: 1e-4,
            beta: 0.75,
            k: 1.0,
            alpha_over_size: true,
        }
    }
    /// The AlexNet paper's setting: n = 5, k = 2, α = 1e-4 on the sum, β = 0.75.
    pub fn alexnet(name: impl Into<String>) -> Self {
        LocalResponseNorm {
            name: name.into(),
            size: 5,
            alpha: 1e-4,
            beta: 0.75,
            k: 2.0,
            alpha_over_size: false,
        }
    }
    /// Sets α (default 1e-4; must be finite and ≥ 0).
    pub fn alpha(mut self, a: f64) -> Self {
        self.alpha = a;
        self
    }
    /// Sets β (default 0.75; must be finite).
    pub fn beta(mut self, b: f64) -> Self {
        self.beta = b;
        self
    }
    /// Sets k (default 1 from [`LocalResponseNorm::new`], 2 from
    /// [`LocalResponseNorm::alexnet`]; must be positive).
    pub fn k(mut self, k: f64) -> Self {
        self.k = k;
        self
    }
    /// Whether α multiplies the window mean (true, PyTorch's and Caffe's convention, the
    /// default from [`LocalResponseNorm::new`]) or the sum (false, the paper's, the default
    /// from [`LocalResponseNorm::alexnet`]).
    pub fn alpha_over_size(mut self, on: bool) -> Self {
        self.alpha_over_size = on;
        self
    }
}

impl<T: Element> Module<T> for LocalResponseNorm {
    fn name(&self) -> &str {
        &self.name
    }
    fn assign_default_names(&mut self, path: &str) {
        default_name(&mut self.name, path);
    }
    fn kind(&self) -> &'static str {
        "LocalResponseNorm"
    }
    fn validate(&self) -> Result<()> {
        let bad = |d: String| Err(NnError::config(&self.name, "LocalResponseNorm", d));
        if self.size == 0 {
            return bad("size must be positive".into());
        }
        if !(self.k.is_finite() && self.k > 0.0) {
            return bad(format!("k must be positive, got {}", self.k));
        }
        if !(self.alpha.is_finite() && self.alpha >= 0.0 && self.beta.is_finite()) {
            return bad(format!(
                "α must be ≥ 0 and β finite, got α = {}, β = {}",
                self.alpha, self.beta
            ));
        }
        Ok(())
    }
    fn forward(&self, ctx: &mut Ctx<'_, T>, x: NodeId) -> Result<NodeId> {
        let kind = "LocalResponseNorm";
        let s = ctx.shape(x)?;
        expect_input(&self.name, kind, &s, &[4], None, || "[N, C, H, W]".into())?;
        let c = fixed_dim(&self.name, kind, &s, 1)?;
        let h = fixed_dim(&self.name, kind, &s, 2)?;
        let w = fixed_dim(&self.name, kind, &s, 3)?;
        let n = self.size;
        let (before, after) = (n / 2, (n - 1) / 2);
        let batch = s.dims()[0];
        let g = ctx.graph();
        let sq = g.square(x)?;
        let padded = g.pad(sq, &[(0, 0), (before, after), (0, 0), (0, 0)], 0.0)?;
        let view = g.reshape(
            padded,
            convnet_autograd::Shape::from(vec![
                batch,
                1.into(),
                (c + n - 1).into(),
                (h * w).into(),
            ]),
        )?;
        let mean = g.avg_pool2d(
            view,
            Pool2dParams {
                kernel: [n, 1],
                stride: [1, 1],
                padding: [0, 0],
                ceil_mode: false,
                count_include_pad: true,
            },
        )?;
        let mean = g.reshape(mean, s.clone())?;
        let a = if self.alpha_over_size {
            self.alpha
        } else {
            self.alpha * n as f64
        };
        let scaled = g.scale(mean, a)?;
        let base = g.add_scalar(scaled, self.k)?;
        let factor = g.powf(base, -self.beta)?;
        Ok(g.mul(x, factor)?)
    }
}
