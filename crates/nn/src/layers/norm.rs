//! Batch normalisation (Ioffe & Szegedy, 2015), 1-D (`[N, C]`, `[N, C, L]`) and 2-D
//! (`[N, C, H, W]`), as a composition of autograd primitives (no gradient code of its own).
//!
//! Train mode normalises with the batch's mean and biased variance over every axis but the
//! channel axis, and emits state updates for the running statistics, PyTorch's rule with
//! momentum m (default 0.1):
//! `running_mean ← (1 − m)·running_mean + m·mean`,
//! `running_var ← (1 − m)·running_var + m·var·n/(n − 1)` (unbiased; n = values per channel,
//! which involves the batch size and so is computed in the graph). Eval mode normalises with
//! the running statistics; in the graphs of inference and evaluation runners it is one
//! per-channel scale and shift, the scale folded into the weight of a convolution just before
//! it where that is cheaper than a pass over the activation (see `inference_forward`). Keys: `weight` (γ), `bias` (β), `running_mean`, `running_var` —
//! torchvision's names; `num_batches_tracked` is not kept.
//!
//! Synchronised ([`Model::sync_batch_norm`](crate::Model::sync_batch_norm)), train mode takes
//! the replica mean of the shard's mean and of its squared deviations from the global mean,
//! and n counts every replica's values: with equal shards these are the global batch's
//! statistics, so R data-parallel replicas train as one process would.

use std::sync::Arc;

use convnet_autograd::{Graph, NodeId, Shape};
use convnet_tensor::Element;

use crate::error::{NnError, Result};
use crate::init::Init;
use crate::module::{Ctx, InferredSize, LayerInfo, Module, ParamSpec, default_name, expect_input};
use crate::summary::fmt_count;

/// Batch normalisation over the channel axis 1.
#[derive(Debug, Clone, PartialEq)]
pub struct BatchNorm {
    name: String,
    channels: InferredSize,
    /// ε, added to the variance before the square root (default 1e-5).
    pub eps: f64,
    /// Weight m of the batch statistic in the running averages (default 0.1).
    pub momentum: f64,
    /// Whether the layer has a learnable scale γ (`weight`) and shift β (`bias`) (default
    /// true).
    pub affine: bool,
    two_d: bool,
}

impl BatchNorm {
    /// For `[N, C]` or `[N, C, L]` inputs; eps 1e-5, momentum 0.1, affine.
    pub fn new_1d(name: impl Into<String>, channels: usize) -> Self {
        BatchNorm {
            name: name.into(),
            channels: InferredSize::fixed(channels),
            eps: 1e-5,
            momentum: 0.1,
            affine: true,
            two_d: false,
        }
    }
    /// For `[N, C, H, W]` inputs; eps 1e-5, momentum 0.1, affine.
    pub fn new_2d(name: impl Into<String>, channels: usize) -> Self {
        BatchNorm {
            two_d: true,
            ..Self::new_1d(name, channels)
        }
    }
    /// An unnamed 2-D BatchNorm whose channel count comes from the graph when the model is
    /// built (Keras' `BatchNormalization()`).
    pub fn infer_2d() -> Self {
        BatchNorm {
            channels: InferredSize::open(),
            ..Self::new_2d("", 0)
        }
    }
    /// An unnamed 1-D BatchNorm whose channel count comes from the graph.
    pub fn infer_1d() -> Self {
        BatchNorm {
            channels: InferredSize::open(),
            ..Self::new_1d("", 0)
        }
    }
    /// Channels C: given, or taken from the first input it was built on (`None` before that).
    pub fn channels(&self) -> Option<usize> {
        self.channels.get()
    }
    /// Gives the layer its full path (`classifier.fc`) instead of a position in its container.
    pub fn named(mut self, name: impl Into<String>) -> Self {
        self.name = name.into();
        self
    }
    /// Sets ε, added to the variance before the square root (default 1e-5; must be
    /// positive).
    pub fn eps(mut self, eps: f64) -> Self {
        self.eps = eps;
        self
    }
    /// Weight of the new batch statistic in the running average, in [0, 1].
    pub fn momentum(mut self, m: f64) -> Self {
        self.momentum = m;
        self
    }
    /// With learnable γ and β (default true).
    pub fn affine(mut self, on: bool) -> Self {
        self.affine = on;
        self
    }

    fn kind_name(&self) -> &'static str {
        if self.two_d {
            "BatchNorm2d"
        } else {
            "BatchNorm1d"
        }
    }
}

impl BatchNorm {
    /// Eval-mode BatchNorm in an inference graph, as one per-channel scale and shift
    /// `y = x·s + t` with `s = γ/√(running_var + ε)` and `t = β − running_mean·s` (computed on
    /// `[C]` vectors, so two passes over the activation instead of four). Directly after a
    /// 2-D convolution whose filters are no larger than its output plane, the scale goes into
    /// the convolution's weight instead, `Conv(x, w)·s + t = Conv(x, w·s) + t`, which leaves
    /// one pass (the shift). The convolution node it replaces stays in the graph but no plan
    /// for the output runs it.
    fn inference_forward<T: Element>(
        &self,
        ctx: &mut Ctx<'_, T>,
        x: NodeId,
        rm: NodeId,
        rv: NodeId,
        bshape: &[usize],
    ) -> Result<NodeId> {
        let c = self.channels.or_zero();
        let key = |local: &str| format!("{}.{local}", self.name);
        let affine = if self.affine {
            Some((
                ctx.param(&key("weight"), &[c])?,
                ctx.param(&key("bias"), &[c])?,
            ))
        } else {
            None
        };
        // Scaling the weight is a pass over it on every run, so the fold pays only where it
        // is smaller than the pass over the activation it saves, even at batch 1: an output
        // plane at least as large as one filter (ResNet's stem and first stage, not the
        // 512-channel 4×4 stage, whose weights dwarf its activations).
        let out_plane: usize = ctx.shape(x)?.dims()[2..]
            .iter()
            .map(|d| d.fixed().unwrap_or(1))
            .product();
        let producer = if self.two_d {
            conv_producer(ctx.graph_ref(), x, c)?
                .filter(|conv| conv.kernel[1..].iter().product::<usize>() <= out_plane)
        } else {
            None
        };
        let g = ctx.graph();
        let var_eps = g.add_scalar(rv, self.eps)?;
        let inv = g.rsqrt(var_eps)?;
        let (scale, shift) = match affine {
            Some((w, b)) => {
                let s = g.mul(w, inv)?;
                let ms = g.mul(rm, s)?;
                (s, g.sub(b, ms)?)
            }
            None => {
                let ms = g.mul(rm, inv)?;
                (inv, g.neg(ms)?)
            }
        };
        let shift = g.reshape(shift, bshape.to_vec())?;
        let scaled = match producer {
            Some(conv) => {
                let mut per_filter = vec![1; conv.kernel.len()];
                per_filter[0] = c;
                let s = g.reshape(scale, per_filter)?;
                let folded = g.mul(conv.weight, s)?;
                g.conv2d(conv.input, folded, conv.params)?
            }
            None => {
                let s = g.reshape(scale, bshape.to_vec())?;
                g.mul(x, s)?
            }
        };
        Ok(g.add(scaled, shift)?)
    }
}

/// A plain 2-D convolution node's operands, parameters and weight shape.
struct ConvProducer {
    input: NodeId,
    weight: NodeId,
    params: convnet_autograd::Conv2dParams,
    kernel: Vec<usize>,
}

/// The convolution that computes `x`, when `x` is a plain 2-D convolution with `c` output
/// channels.
fn conv_producer<T: Element>(
    g: &convnet_autograd::Graph<T>,
    x: NodeId,
    c: usize,
) -> Result<Option<ConvProducer>> {
    let Some(convnet_autograd::ConvOp::Conv2d(params)) =
        g.node(x)?.op.rule_as::<convnet_autograd::ConvOp>()
    else {
        return Ok(None);
    };
    let inputs = g.inputs(x)?;
    let (input, weight) = (inputs[0], inputs[1]);
    let Some(kernel) = g.shape(weight)?.to_fixed() else {
        return Ok(None);
    };
    Ok((kernel.first() == Some(&c)).then_some(ConvProducer {
        input,
        weight,
        params: *params,
        kernel,
    }))
}

impl<T: Element> Module<T> for BatchNorm {
    fn name(&self) -> &str {
        &self.name
    }
    fn assign_default_names(&mut self, path: &str) {
        default_name(&mut self.name, path);
    }
    fn kind(&self) -> &'static str {
        self.kind_name()
    }

    fn validate(&self) -> Result<()> {
        let bad = |d: String| Err(NnError::config(&self.name, self.kind_name(), d));
        if self.channels.get() == Some(0) {
            return bad("channels must be positive".into());
        }
        if !(self.eps.is_finite() && self.eps > 0.0) {
            return bad(format!("eps must be positive, got {}", self.eps));
        }
        if !(0.0..=1.0).contains(&self.momentum) {
            return bad(format!("momentum must be in [0, 1], got {}", self.momentum));
        }
        Ok(())
    }

    fn own_params(&self) -> Vec<ParamSpec> {
        let c = [self.channels.or_zero()];
        let mut v = Vec::new();
        if self.affine {
            v.push(ParamSpec::new(&self.name, "weight", &c, Init::ONES));
            v.push(ParamSpec::new(&self.name, "bias", &c, Init::ZEROS));
        }
        v.push(ParamSpec::new(&self.name, "running_mean", &c, Init::ZEROS).buffer());
        v.push(ParamSpec::new(&self.name, "running_var", &c, Init::ONES).buffer());
        v
    }

    fn forward(&self, ctx: &mut Ctx<'_, T>, x: NodeId) -> Result<NodeId> {
        let s = ctx.shape(x)?;
        let ranks: &[usize] = if self.two_d { &[4] } else { &[2, 3] };
        // As in `Linear`: an open channel count is settled by an input of an accepted rank.
        let seen = ranks
            .contains(&s.rank())
            .then(|| s.dims()[1].fixed())
            .flatten()
            .filter(|&n| n > 0);
        let resolved = self.channels.resolve(seen);
        let c = resolved.unwrap_or(0);
        expect_input(
            &self.name,
            self.kind_name(),
            &s,
            ranks,
            Some((1, resolved.unwrap_or(usize::MAX))),
            || {
                let c = &self.channels;
                if self.two_d {
                    format!("[N, {c}, H, W]")
                } else {
                    format!("[N, {c}] or [N, {c}, L]")
                }
            },
        )?;
        let rank = s.rank();
        let axes: Vec<usize> = (0..rank).filter(|&a| a != 1).collect();
        // [1, C, 1, ...] for broadcasting per-channel values.
        let mut bshape = vec![1; rank];
        bshape[1] = c;
        let key = |local: &str| format!("{}.{local}", self.name);
        let rm = ctx.param(&key("running_mean"), &[c])?;
        let rv = ctx.param(&key("running_var"), &[c])?;
        if ctx.folds_for_inference() {
            return self.inference_forward(ctx, x, rm, rv, &bshape);
        }
        let train = ctx.is_train();
        // Synchronised BatchNorm: the statistics of the global batch, as the mean over the
        // replicas of each replica's statistics (equal shards make that the global mean).
        let replicas = if train {
            ctx.batch_norm_replicas()
        } else {
            None
        };
        let g = ctx.graph();
        // x − mean: in train mode the variance's deviations are the same values, one node.
        let (mean, var, centred) = if train {
            let over_replicas = |g: &mut Graph<T>, v: NodeId| match &replicas {
                Some(r) => g.replica_mean(v, Arc::clone(r)),
                None => Ok(v),
            };
            let mean = g.mean(x, &axes, true)?;
            let mean = over_replicas(g, mean)?;
            let d = g.sub(x, mean)?;
            let d2 = g.square(d)?;
            let var = g.mean(d2, &axes, true)?;
            let var = over_replicas(g, var)?;
            (mean, var, d)
        } else {
            let mean = g.reshape(rm, bshape.clone())?;
            let var = g.reshape(rv, bshape.clone())?;
            (mean, var, g.sub(x, mean)?)
        };
        let std_eps = g.add_scalar(var, self.eps)?;
        let inv = g.rsqrt(std_eps)?;
        // (x − mean)·(γ/σ) + β: the per-channel scale is formed first, so the normalised x̂
        // is never an activation-sized node. Its backward then needs only x − mean, which
        // the variance already keeps, instead of storing both x − mean and x̂.
        let y = if self.affine {
            let w = g.param(&key("weight"), &[c])?;
            let b = g.param(&key("bias"), &[c])?;
            let w = g.reshape(w, bshape.clone())?;
            let b = g.reshape(b, bshape.clone())?;
            let scale = g.mul(inv, w)?;
            let scaled = g.mul(centred, scale)?;
            g.add(scaled, b)?
        } else {
            g.mul(centred, inv)?
        };
        if train {
            // n/(n − 1) from a ones tensor shaped like one channel of x (n may involve B);
            // synchronised, n counts the values of all replicas.
            let mut one_channel: Vec<_> = s.dims().to_vec();
            one_channel[1] = convnet_autograd::Dim::Fixed(1);
            let ones = g.fill(Shape::from(one_channel), 1.0);
            let n = g.sum_all(ones)?;
            let n = match &replicas {
                Some(r) => g.scale(n, r.count() as f64)?,
                None => n,
            };
            let nm1 = g.add_scalar(n, -1.0)?;
            let one = g.scalar(1.0);
            let nm1 = g.maximum(nm1, one)?;
            let unbiased = g.div(n, nm1)?;
            let m = self.momentum;
            let mean_c = g.reshape(mean, [c])?;
            let var_c = g.reshape(var, [c])?;
            let var_c = g.mul(var_c, unbiased)?;
            let new_mean = {
                let a = g.scale(rm, 1.0 - m)?;
                let b = g.scale(mean_c, m)?;
                g.add(a, b)?
            };
            let new_var = {
                let a = g.scale(rv, 1.0 - m)?;
                let b = g.scale(var_c, m)?;
                g.add(a, b)?
            };
            ctx.state_update(key("running_mean"), new_mean);
            ctx.state_update(key("running_var"), new_var);
        }
        Ok(y)
    }

    fn info(&self, _input: &Shape, _output: &Shape) -> LayerInfo {
        let c = self.channels.or_zero();
        LayerInfo {
            arithmetic: String::new(),
            params_formula: if self.affine {
                format!("2·{c} = {}", fmt_count(2 * c as u64))
            } else {
                String::new()
            },
            macs: 0,
        }
    }
}
