//! Reductions over axes: sum, mean, max, min, and `MeanGrad`, the adjoint of mean.
//!
//! Sum's gradient is an `Expand` of the (keep-dims) gradient; mean's is `MeanGrad`, which
//! expands and divides by the count *at run time*, because the count may involve the open batch
//! size. `Mean` and `MeanGrad` are each other's adjoint, so higher derivatives close. Max and
//! min route the gradient to the elements equal to the extreme, split evenly between ties.
//! Variance is a composition (`var` below), so BatchNorm needs no gradient code of its own.

use convnet_tensor::{Element, Tensor};

use crate::error::{AutogradError, Result};
use smallvec::smallvec;

use crate::graph::{Graph, GraphOptions, NodeId};
use crate::rule::{EvalArgs, EvalError, GradCtx, Grads, OpRule, RuleError, arity};
use crate::shape::{Dim, Shape};

/// A reduction over some axes of its one operand.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReduceOp {
    /// The sum over `axes`.
    Sum {
        /// The reduced axes (the builders pass them sorted and de-duplicated, all axes for an
        /// empty list).
        axes: Vec<usize>,
        /// Keep the reduced axes as size 1 instead of removing them.
        keep_dims: bool,
    },
    /// The mean over `axes`; the count is taken at run time, so it may include the batch size.
    Mean {
        /// The reduced axes (the builders pass them sorted and de-duplicated, all axes for an
        /// empty list).
        axes: Vec<usize>,
        /// Keep the reduced axes as size 1 instead of removing them.
        keep_dims: bool,
    },
    /// The maximum over `axes`; the gradient is split evenly between tied maxima.
    Max {
        /// The reduced axes (the builders pass them sorted and de-duplicated, all axes for an
        /// empty list).
        axes: Vec<usize>,
        /// Keep the reduced axes as size 1 instead of removing them.
        keep_dims: bool,
    },
    /// The minimum over `axes`; the gradient is split evenly between tied minima.
    Min {
        /// The reduced axes (the builders pass them sorted and de-duplicated, all axes for an
        /// empty list).
        axes: Vec<usize>,
        /// Keep the reduced axes as size 1 instead of removing them.
        keep_dims: bool,
    },
    /// Adjoint of `Mean`: broadcasts `g` back to `shape` and divides by the reduced count.
    MeanGrad {
        /// The axes the mean being differentiated reduced.
        axes: Vec<usize>,
        /// Whether that mean kept them as size 1 (the shape `g` arrives in).
        keep_dims: bool,
        /// The shape of that mean's operand, which this op produces.
        shape: Shape,
    },
}

impl ReduceOp {
    /// Short name used in node names and errors (`"sum"`, `"mean"`, ...).
    pub fn name(&self) -> &'static str {
        match self {
            ReduceOp::Sum { .. } => "sum",
            ReduceOp::Mean { .. } => "mean",
            ReduceOp::Max { .. } => "max",
            ReduceOp::Min { .. } => "min",
            ReduceOp::MeanGrad { .. } => "mean_grad",
        }
    }

    fn axes(&self) -> (&[usize], bool) {
        match self {
            ReduceOp::Sum { axes, keep_dims }
            | ReduceOp::Mean { axes, keep_dims }
            | ReduceOp::Max { axes, keep_dims }
            | ReduceOp::Min { axes, keep_dims }
            | ReduceOp::MeanGrad {
                axes, keep_dims, ..
            } => (axes, *keep_dims),
        }
    }
}

impl<T: Element> OpRule<T> for ReduceOp {
    fn name(&self) -> &'static str {
        ReduceOp::name(self)
    }

    fn describe(&self) -> String {
        format!("{self:?}")
    }

    fn shape(&self, inputs: &[&Shape], _: &GraphOptions) -> Result<Shape, RuleError> {
        arity(inputs, 1)?;
        let (axes, keep) = self.axes();
        if let ReduceOp::MeanGrad { shape, .. } = self {
            let want = shape.reduced(axes, keep);
            if inputs[0] != &want {
                return Err(RuleError::Shape(format!(
                    "gradient {} does not reduce {shape} (expected {want})",
                    inputs[0]
                )));
            }
            return Ok(shape.clone());
        }
        check_axes(axes, inputs[0])?;
        Ok(inputs[0].reduced(axes, keep))
    }

    fn eval(&self, args: &EvalArgs<'_, T>) -> Result<Tensor<T>, EvalError> {
        let (x, out) = (args.tensor(0)?, args.out_shape());
        Ok(match self {
            ReduceOp::Sum { axes, keep_dims } => x.sum(axes, *keep_dims)?,
            ReduceOp::Mean { axes, keep_dims } => x.mean(axes, *keep_dims)?,
            ReduceOp::Max { axes, keep_dims } => x.max(axes, *keep_dims)?,
            ReduceOp::Min { axes, keep_dims } => x.min(axes, *keep_dims)?,
            ReduceOp::MeanGrad { axes, .. } => {
                let keep: Vec<usize> = out
                    .iter()
                    .enumerate()
                    .map(|(i, &d)| if axes.contains(&i) { 1 } else { d })
                    .collect();
                let count: usize = axes.iter().map(|&a| out[a]).product();
                // Scaled before it is broadcast: the same product per element, computed once
                // per reduced value. The broadcast stays a view (stride 0 on the reduced axes):
                // its readers — a fused group, an elementwise kernel — read it as such, where
                // a materialised copy cost a full pass of writes (12 ms of a ResNet-18 step).
                x.scale(1.0 / count.max(1) as f64)
                    .reshape(&keep)?
                    .broadcast_to(out)?
            }
        })
    }

    fn grad(&self, cx: &mut GradCtx<'_, T>) -> Result<Grads> {
        let (x, y, gy) = (cx.input(0), cx.output(), cx.grad_output());
        let g = cx.graph();
        let (axes, keep) = self.axes();
        let axes = axes.to_vec();
        let x_shape = g.shape(x)?.clone();
        Ok(smallvec![Some(match self {
            ReduceOp::Sum { .. } => {
                let k = keep_shape(g, gy, &x_shape, &axes, keep)?;
                g.expand(k, x_shape)?
            }
            ReduceOp::Mean { .. } => g.apply(
                ReduceOp::MeanGrad {
                    axes,
                    keep_dims: keep,
                    shape: x_shape,
                },
                &[gy],
            )?,
            ReduceOp::MeanGrad { .. } => g.apply(
                ReduceOp::Mean {
                    axes,
                    keep_dims: keep,
                },
                &[gy],
            )?,
            ReduceOp::Max { .. } | ReduceOp::Min { .. } => {
                // mask of the extreme elements, each getting g / (number of ties)
                let yk = keep_shape(g, y, &x_shape, &axes, keep)?;
                let mask = g.eq(x, yk)?;
                let ties = g.sum_keep(mask, &axes)?;
                let gk = keep_shape(g, gy, &x_shape, &axes, keep)?;
                let share = g.div(gk, ties)?;
                g.mul(mask, share)?
            }
        })])
    }
}

fn check_axes(axes: &[usize], shape: &Shape) -> Result<(), RuleError> {
    if let Some(&a) = axes.iter().find(|&&a| a >= shape.rank()) {
        return Err(RuleError::Invalid(format!(
            "axis {a} is out of range for shape {shape}"
        )));
    }
    Ok(())
}

/// Reshapes a reduced value to its keep-dims shape (a no-op when it already has it).
fn keep_shape<T: Element>(
    g: &mut Graph<T>,
    v: NodeId,
    x: &Shape,
    axes: &[usize],
    keep: bool,
) -> Result<NodeId> {
    if keep {
        Ok(v)
    } else {
        g.reshape(v, x.reduced(axes, true))
    }
}

/// Sorted, de-duplicated axes; an empty list means every axis.
fn normalize(rank: usize, axes: &[usize]) -> Vec<usize> {
    let mut v: Vec<usize> = if axes.is_empty() {
        (0..rank).collect()
    } else {
        axes.to_vec()
    };
    v.sort_unstable();
    v.dedup();
    v
}

impl<T: Element> Graph<T> {
    fn reduce_with(
        &mut self,
        x: NodeId,
        axes: &[usize],
        make: impl FnOnce(Vec<usize>) -> ReduceOp,
    ) -> Result<NodeId> {
        let axes = normalize(self.shape(x)?.rank(), axes);
        self.apply(make(axes), &[x])
    }

    /// Sum over `axes` (all when empty).
    pub fn sum(&mut self, x: NodeId, axes: &[usize], keep_dims: bool) -> Result<NodeId> {
        self.reduce_with(x, axes, |axes| ReduceOp::Sum { axes, keep_dims })
    }
    /// Sum over `axes`, keeping them as size 1.
    pub fn sum_keep(&mut self, x: NodeId, axes: &[usize]) -> Result<NodeId> {
        self.sum(x, axes, true)
    }
    /// Sum of every element, as a scalar.
    pub fn sum_all(&mut self, x: NodeId) -> Result<NodeId> {
        self.sum(x, &[], false)
    }
    /// Mean over `axes` (all when empty); the count may include the batch size.
    pub fn mean(&mut self, x: NodeId, axes: &[usize], keep_dims: bool) -> Result<NodeId> {
        self.reduce_with(x, axes, |axes| ReduceOp::Mean { axes, keep_dims })
    }
    /// Maximum over `axes` (all when empty); ties share the gradient evenly.
    pub fn max(&mut self, x: NodeId, axes: &[usize], keep_dims: bool) -> Result<NodeId> {
        self.reduce_with(x, axes, |axes| ReduceOp::Max { axes, keep_dims })
    }
    /// Minimum over `axes` (all when empty); ties share the gradient evenly.
    pub fn min(&mut self, x: NodeId, axes: &[usize], keep_dims: bool) -> Result<NodeId> {
        self.reduce_with(x, axes, |axes| ReduceOp::Min { axes, keep_dims })
    }

    /// Variance over `axes`, two-pass (`mean((x − mean x)²)`), scaled by `n/(n − correction)`.
    /// A composition, so it is differentiable to any order. `correction > 0` needs the reduced
    /// count to be fixed (not the open batch size).
    pub fn var(
        &mut self,
        x: NodeId,
        axes: &[usize],
        keep_dims: bool,
        correction: usize,
    ) -> Result<NodeId> {
        let shape = self.shape(x)?.clone();
        let axes = normalize(shape.rank(), axes);
        let m = self.mean(x, &axes, true)?;
        let d = self.sub(x, m)?;
        let d2 = self.square(d)?;
        let v = self.mean(d2, &axes, keep_dims)?;
        if correction == 0 {
            return Ok(v);
        }
        let mut count = 1usize;
        for &a in &axes {
            match shape.dims().get(a) {
                Some(Dim::Fixed(n)) => count *= n,
                _ => {
                    return Err(AutogradError::Invalid {
                        op: "var",
                        node: self.next_name("var"),
                        detail: format!(
                            "correction {correction} over axes {axes:?} of {shape} needs fixed sizes"
                        ),
                    });
                }
            }
        }
        if count <= correction {
            return Err(AutogradError::Invalid {
                op: "var",
                node: self.next_name("var"),
                detail: format!("{count} elements per reduction, correction {correction}"),
            });
        }
        self.scale(v, count as f64 / (count - correction) as f64)
    }
}
