//! Losses as graph compositions, each a mean over the batch (PyTorch's default reduction).
//!
//! How targets are fed ([`Targets`]): classification losses ([`CrossEntropyLoss`], [`NllLoss`],
//! [`HingeLoss`]) take class labels `[B]` as indices (`&[usize]`), which reach the gather kernel
//! as they are, through an index input of the graph. A label ≥ the class count is reported at
//! run time naming the node. Regression losses ([`MseLoss`], [`MaeLoss`], [`MeanBiasError`])
//! and [`BceWithLogitsLoss`] take a tensor shaped like the output. [`Loss::target_kind`] and
//! [`Loss::targets_shape`] say which.

use std::fmt::Debug;

use convnet_autograd::{Graph, Indices, NodeId, Shape, Value};
use convnet_tensor::{Element, Tensor};

use crate::error::{NnError, Result};

/// Class indices as a `[B]` float tensor (whole numbers as floats). Classification losses
/// are best fed the indices themselves ([`Targets::Classes`]); this float form is accepted too.
pub fn labels<T: Element>(classes: &[usize]) -> Tensor<T> {
    Tensor::from_fn(&[classes.len()], |i| T::of_usize(classes[i]))
}

/// What a loss compares the model output with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TargetKind {
    /// Class labels `[B]`, fed as indices.
    Classes,
    /// A tensor (shaped like the output, for the losses here).
    Values,
}

/// The targets of one batch: class labels or a tensor. `&[usize]`, `&Vec<usize>` and
/// `&Tensor<T>` convert into it, so `step.run(&mut params, &x, &labels)` reads naturally.
#[derive(Debug, Clone, Copy)]
pub enum Targets<'a, T: Element> {
    /// Class labels, one index per sample (`[B]`).
    Classes(&'a [usize]),
    /// A target tensor (shaped like the output, for the losses here).
    Values(&'a Tensor<T>),
}

impl<'a, T: Element> From<&'a [usize]> for Targets<'a, T> {
    fn from(c: &'a [usize]) -> Self {
        Targets::Classes(c)
    }
}

impl<'a, T: Element> From<&'a Vec<usize>> for Targets<'a, T> {
    fn from(c: &'a Vec<usize>) -> Self {
        Targets::Classes(c)
    }
}

impl<'a, T: Element, const N: usize> From<&'a [usize; N]> for Targets<'a, T> {
    fn from(c: &'a [usize; N]) -> Self {
        Targets::Classes(c)
    }
}

impl<'a, T: Element> From<&'a Tensor<T>> for Targets<'a, T> {
    fn from(t: &'a Tensor<T>) -> Self {
        Targets::Values(t)
    }
}

impl<T: Element> Targets<'_, T> {
    /// The feed for a loss of `kind`: labels as indices (a float tensor of whole numbers is
    /// converted once here), values as the tensor. Classes given to a loss of values is an
    /// error naming the loss.
    pub fn to_feed(self, kind: TargetKind, loss: &'static str) -> Result<Value<T>> {
        match (self, kind) {
            (Targets::Classes(c), TargetKind::Classes) => Ok(Indices::vector(c).into()),
            (Targets::Values(t), TargetKind::Classes) => Indices::from_floats(t)
                .map(Value::from)
                .map_err(|e| NnError::Loss {
                    loss,
                    detail: format!("labels: {e}"),
                }),
            (Targets::Values(t), TargetKind::Values) => Ok(t.clone().into()),
            (Targets::Classes(_), TargetKind::Values) => Err(NnError::Loss {
                loss,
                detail: "takes a target tensor shaped like the output, not class labels".into(),
            }),
        }
    }
}

/// A loss: how its targets are shaped and how it is computed from the model output.
pub trait Loss<T: Element = f32>: Send + Sync + Debug {
    /// The loss's name in error messages, e.g. `cross_entropy`.
    fn name(&self) -> &'static str;
    /// Whether the targets are class labels (fed as indices) or a tensor.
    fn target_kind(&self) -> TargetKind;
    /// The shape of the targets placeholder for a model output of shape `output`.
    fn targets_shape(&self, output: &Shape) -> Result<Shape>;
    /// Appends the scalar loss.
    fn build(&self, g: &mut Graph<T>, output: NodeId, targets: NodeId) -> Result<NodeId>;
}

fn need_rank2<T: Element>(g: &Graph<T>, x: NodeId, loss: &'static str) -> Result<Shape> {
    let s = g.shape(x)?.clone();
    if s.rank() != 2 {
        return Err(NnError::Loss {
            loss,
            detail: format!("expects scores [N, classes], got {s}"),
        });
    }
    Ok(s)
}

/// `[N, C]` → labels `[N]`.
fn label_shape(output: &Shape, loss: &'static str) -> Result<Shape> {
    if output.rank() != 2 {
        return Err(NnError::Loss {
            loss,
            detail: format!("expects model outputs [N, classes], got {output}"),
        });
    }
    Ok(output.without(1))
}

fn same_shape<T: Element>(g: &Graph<T>, a: NodeId, b: NodeId, loss: &'static str) -> Result<()> {
    let (sa, sb) = (g.shape(a)?, g.shape(b)?);
    if sa != sb {
        return Err(NnError::Loss {
            loss,
            detail: format!("outputs {sa} and targets {sb} differ in shape"),
        });
    }
    Ok(())
}

/// Softmax cross-entropy from logits `[N, C]` and labels `[N]`, computed through log-softmax
/// (stable for any logit size). With label smoothing ε the target is `(1 − ε)·onehot + ε/C`:
/// `loss = mean((1 − ε)·(−log p_y) + ε·mean_c(−log p_c))`.
pub fn cross_entropy<T: Element>(
    g: &mut Graph<T>,
    logits: NodeId,
    labels: NodeId,
    label_smoothing: f64,
) -> Result<NodeId> {
    need_rank2(g, logits, "cross_entropy")?;
    if !(0.0..1.0).contains(&label_smoothing) {
        return Err(NnError::Loss {
            loss: "cross_entropy",
            detail: format!("label smoothing must be in [0, 1), got {label_smoothing}"),
        });
    }
    let lp = g.log_softmax(logits, 1)?;
    let picked = g.take_along_axis(lp, labels, 1)?;
    let nll = g.mean(picked, &[], false)?;
    let nll = g.neg(nll)?;
    if label_smoothing == 0.0 {
        return Ok(nll);
    }
    let uniform = g.mean(lp, &[], false)?; // mean over N and C of log p
    let a = g.scale(nll, 1.0 - label_smoothing)?;
    let b = g.scale(uniform, -label_smoothing)?;
    Ok(g.add(a, b)?)
}

/// Negative log-likelihood of log-probabilities `[N, C]` at labels `[N]`.
pub fn nll<T: Element>(g: &mut Graph<T>, log_probs: NodeId, labels: NodeId) -> Result<NodeId> {
    need_rank2(g, log_probs, "nll")?;
    let picked = g.take_along_axis(log_probs, labels, 1)?;
    let m = g.mean(picked, &[], false)?;
    Ok(g.neg(m)?)
}

/// Multiclass SVM hinge loss, CS231n form with margin Δ = 1:
/// `Lᵢ = Σ_{j ≠ yᵢ} max(0, s_j − s_{yᵢ} + 1)`, averaged over the batch.
pub fn hinge<T: Element>(g: &mut Graph<T>, scores: NodeId, labels: NodeId) -> Result<NodeId> {
    let s = need_rank2(g, scores, "hinge")?;
    let classes = s.dims()[1].fixed().ok_or_else(|| NnError::Loss {
        loss: "hinge",
        detail: format!("the class axis of {s} must be fixed"),
    })?;
    let sy = g.take_along_axis(scores, labels, 1)?;
    let sy = g.reshape(sy, Shape::from(vec![s.dims()[0], 1.into()]))?;
    let diff = g.sub(scores, sy)?;
    let diff = g.add_scalar(diff, 1.0)?;
    let margins = g.relu(diff)?;
    // Zero the j = yᵢ terms (each would contribute max(0, 1) = 1 and no gradient).
    let onehot = g.one_hot(labels, classes)?;
    let neg = g.neg(onehot)?;
    let keep = g.add_scalar(neg, 1.0)?;
    let margins = g.mul(margins, keep)?;
    let per = g.sum(margins, &[1], false)?;
    Ok(g.mean(per, &[], false)?)
}

/// Mean squared error `mean((ŷ − y)²)`.
pub fn mse<T: Element>(g: &mut Graph<T>, pred: NodeId, target: NodeId) -> Result<NodeId> {
    same_shape(g, pred, target, "mse")?;
    let d = g.sub(pred, target)?;
    let d2 = g.square(d)?;
    Ok(g.mean(d2, &[], false)?)
}

/// Mean absolute error `mean(|ŷ − y|)`.
pub fn mae<T: Element>(g: &mut Graph<T>, pred: NodeId, target: NodeId) -> Result<NodeId> {
    same_shape(g, pred, target, "mae")?;
    let d = g.sub(pred, target)?;
    let a = g.abs(d)?;
    Ok(g.mean(a, &[], false)?)
}

/// Mean bias error `mean(y − ŷ)` (target minus prediction): positive when the model
/// under-predicts on average. Signed, so errors cancel — a diagnostic more than a loss to
/// minimise.
pub fn mean_bias_error<T: Element>(
    g: &mut Graph<T>,
    pred: NodeId,
    target: NodeId,
) -> Result<NodeId> {
    same_shape(g, pred, target, "mean_bias_error")?;
    let d = g.sub(target, pred)?;
    Ok(g.mean(d, &[], false)?)
}

/// Binary cross-entropy from logits `x` and targets `t` ∈ [0, 1] of the same shape, in the
/// stable form `mean(softplus(x) − x·t)` (= `max(x, 0) − x·t + log(1 + e^{−|x|})`).
pub fn bce_with_logits<T: Element>(
    g: &mut Graph<T>,
    logits: NodeId,
    target: NodeId,
) -> Result<NodeId> {
    same_shape(g, logits, target, "bce_with_logits")?;
    let sp = g.softplus(logits)?;
    let xt = g.mul(logits, target)?;
    let l = g.sub(sp, xt)?;
    Ok(g.mean(l, &[], false)?)
}

macro_rules! elementwise_loss {
    ($(#[$doc:meta])* $ty:ident, $name:literal, $f:ident) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, Default, PartialEq)]
        pub struct $ty;

        impl<T: Element> Loss<T> for $ty {
            fn name(&self) -> &'static str {
                $name
            }
            fn target_kind(&self) -> TargetKind {
                TargetKind::Values
            }
            fn targets_shape(&self, output: &Shape) -> Result<Shape> {
                Ok(output.clone())
            }
            fn build(&self, g: &mut Graph<T>, output: NodeId, targets: NodeId) -> Result<NodeId> {
                $f(g, output, targets)
            }
        }
    };
}

elementwise_loss!(
    /// [`mse`]; targets shaped like the output.
    MseLoss, "mse", mse
);
elementwise_loss!(
    /// [`mae`]; targets shaped like the output.
    MaeLoss, "mae", mae
);
elementwise_loss!(
    /// [`mean_bias_error`]; targets shaped like the output.
    MeanBiasError, "mean_bias_error", mean_bias_error
);
elementwise_loss!(
    /// [`bce_with_logits`]; targets (probabilities) shaped like the output.
    BceWithLogitsLoss, "bce_with_logits", bce_with_logits
);

/// [`cross_entropy`]; labels `[N]`.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct CrossEntropyLoss {
    /// Label smoothing ε (default 0: none); outside [0, 1) it is an error when the loss is
    /// added to a graph.
    pub label_smoothing: f64,
}

impl CrossEntropyLoss {
    /// Cross-entropy without label smoothing.
    pub fn new() -> Self {
        Self::default()
    }
    /// ε ∈ [0, 1).
    pub fn label_smoothing(mut self, eps: f64) -> Self {
        self.label_smoothing = eps;
        self
    }
}

impl<T: Element> Loss<T> for CrossEntropyLoss {
    fn name(&self) -> &'static str {
        "cross_entropy"
    }
    fn target_kind(&self) -> TargetKind {
        TargetKind::Classes
    }
    fn targets_shape(&self, output: &Shape) -> Result<Shape> {
        label_shape(output, "cross_entropy")
    }
    fn build(&self, g: &mut Graph<T>, output: NodeId, targets: NodeId) -> Result<NodeId> {
        cross_entropy(g, output, targets, self.label_smoothing)
    }
}

/// [`nll`] on log-probabilities (put a log-softmax last in the model); labels `[N]`.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct NllLoss;

impl<T: Element> Loss<T> for NllLoss {
    fn name(&self) -> &'static str {
        "nll"
    }
    fn target_kind(&self) -> TargetKind {
        TargetKind::Classes
    }
    fn targets_shape(&self, output: &Shape) -> Result<Shape> {
        label_shape(output, "nll")
    }
    fn build(&self, g: &mut Graph<T>, output: NodeId, targets: NodeId) -> Result<NodeId> {
        nll(g, output, targets)
    }
}

/// [`hinge`] (multiclass SVM, margin 1); labels `[N]`.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct HingeLoss;

impl<T: Element> Loss<T> for HingeLoss {
    fn name(&self) -> &'static str {
        "hinge"
    }
    fn target_kind(&self) -> TargetKind {
        TargetKind::Classes
    }
    fn targets_shape(&self, output: &Shape) -> Result<Shape> {
        label_shape(output, "hinge")
    }
    fn build(&self, g: &mut Graph<T>, output: NodeId, targets: NodeId) -> Result<NodeId> {
        hinge(g, output, targets)
    }
}
