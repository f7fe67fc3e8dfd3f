//! Movement ops: reshape, permute, expand, sum-to (expand's adjoint), narrow, pad, concat.
//!
//! All are linear, and each pair of adjoints differentiates into the other, so gradients of
//! any order stay inside this family: expand ↔ sum-to, pad ↔ narrow, concat ↔ narrows,
//! reshape ↔ reshape, permute ↔ inverse permute. Reshape, permute, expand and narrow evaluate
//! as views (no copy); the executor knows this when it plans memory. The open batch axis may be
//! moved and reshaped along, but not sliced, padded or concatenated along (its size is unknown
//! while the graph is built).

use std::ops::Range;

use convnet_tensor::{Element, Tensor};
use smallvec::SmallVec;

use crate::error::{AutogradError, Result};
use crate::graph::{Graph, GraphOptions, NodeId};
use crate::rule::{EvalArgs, EvalError, GradCtx, Grads, OpRule, OutputBuffer, RuleError, arity};
use crate::shape::{Dim, Shape};

/// A movement op. All take one operand except `Concat`, which takes any number; `Reshape`,
/// `Permute`, `Expand` and `Narrow` evaluate as views of it.
#[derive(Debug, Clone, PartialEq)]
pub enum MoveOp {
    /// The same elements in row-major order with a new shape (same element count, same power
    /// of the batch size).
    Reshape(Shape),
    /// Output axis `i` is input axis `axes[i]`.
    Permute(Vec<usize>),
    /// Broadcast to a shape (NumPy rules: new leading axes, size-1 axes stretched).
    Expand(Shape),
    /// Sums a broadcast value back to a shape: the adjoint of `Expand`.
    SumTo(Shape),
    /// `start..start + len` along `axis`.
    Narrow {
        /// The axis sliced (not the batch axis).
        axis: usize,
        /// The first index kept.
        start: usize,
        /// How many indices are kept.
        len: usize,
    },
    /// `(before, after)` copies of `value` on every axis.
    Pad {
        /// `(before, after)` for each axis, one pair per axis of the operand.
        pads: Vec<(usize, usize)>,
        /// The value the new positions are filled with.
        value: f64,
    },
    /// Joins the operands along `axis`.
    Concat {
        /// The axis joined along (not the batch axis); every other axis must agree.
        axis: usize,
    },
}

/// True when `from` broadcasts to `to`.
fn expands_to(from: &Shape, to: &Shape) -> bool {
    from.rank() <= to.rank()
        && from
            .dims()
            .iter()
            .rev()
            .zip(to.dims().iter().rev())
            .all(|(f, t)| f == t || *f == Dim::Fixed(1))
}

fn fixed_axis(shape: &Shape, axis: usize, what: &str) -> Result<usize, RuleError> {
    match shape.dims().get(axis) {
        Some(Dim::Fixed(n)) => Ok(*n),
        Some(Dim::Batch) => Err(RuleError::Shape(format!(
            "cannot {what} along the batch axis {axis} of {shape}"
        ))),
        None => Err(RuleError::Invalid(format!(
            "axis {axis} is out of range for shape {shape}"
        ))),
    }
}

impl MoveOp {
    /// Short name used in node names and errors (`"reshape"`, `"narrow"`, ...).
    pub fn name(&self) -> &'static str {
        match self {
            MoveOp::Reshape(_) => "reshape",
            MoveOp::Permute(_) => "permute",
            MoveOp::Expand(_) => "expand",
            MoveOp::SumTo(_) => "sum_to",
            MoveOp::Narrow { .. } => "narrow",
            MoveOp::Pad { .. } => "pad",
            MoveOp::Concat { .. } => "concat",
        }
    }

    /// True when evaluation returns a view of operand 0 rather than a new buffer.
    pub fn is_view(&self) -> bool {
        matches!(
            self,
            MoveOp::Reshape(_) | MoveOp::Permute(_) | MoveOp::Expand(_) | MoveOp::Narrow { .. }
        )
    }
}

impl<T: Element> OpRule<T> for MoveOp {
    fn name(&self) -> &'static str {
        MoveOp::name(self)
    }

    fn describe(&self) -> String {
        format!("{self:?}")
    }

    fn output_buffer(&self) -> OutputBuffer {
        if self.is_view() {
            OutputBuffer::View
        } else {
            OutputBuffer::Fresh
        }
    }

    fn shape(&self, inputs: &[&Shape], _: &GraphOptions) -> Result<Shape, RuleError> {
        if let MoveOp::Concat { axis } = self {
            return concat_shape(inputs, *axis);
        }
        arity(inputs, 1)?;
        let x = inputs[0];
        match self {
            MoveOp::Reshape(to) => {
                if x.numel_parts() != to.numel_parts() {
                    return Err(RuleError::Shape(format!(
                        "{x} cannot be reshaped to {to}: element counts differ"
                    )));
                }
                Ok(to.clone())
            }
            MoveOp::Permute(axes) => {
                let mut seen = vec![false; x.rank()];
                for &a in axes {
                    if a >= x.rank() || std::mem::replace(&mut seen[a], true) {
                        return Err(RuleError::Invalid(format!(
                            "{axes:?} is not a permutation of the axes of {x}"
                        )));
                    }
                }
                if axes.len() != x.rank() {
                    return Err(RuleError::Invalid(format!(
                        "{axes:?} is not a permutation of the axes of {x}"
                    )));
                }
                Ok(Shape(axes.iter().map(|&a| x.dims()[a]).collect()))
            }
            MoveOp::Expand(to) => {
                if !expands_to(x, to) {
                    return Err(RuleError::Shape(format!("{x} cannot be expanded to {to}")));
                }
                Ok(to.clone())
            }
            MoveOp::SumTo(to) => {
                if !expands_to(to, x) {
                    return Err(RuleError::Shape(format!("{x} is not a broadcast of {to}")));
                }
                Ok(to.clone())
            }
            MoveOp::Narrow { axis, start, len } => {
                let n = fixed_axis(x, *axis, "slice")?;
                if start + len > n {
                    return Err(RuleError::Invalid(format!(
                        "range {start}..{} exceeds axis {axis} of {x}",
                        start + len
                    )));
                }
                Ok(x.with_dim(*axis, Dim::Fixed(*len)))
            }
            MoveOp::Pad { pads, .. } => {
                if pads.len() != x.rank() {
                    return Err(RuleError::Shape(format!(
                        "{} (before, after) pairs for shape {x}",
                        pads.len()
                    )));
                }
                let mut out = x.clone();
                for (axis, &(b, a)) in pads.iter().enumerate() {
                    if b + a > 0 {
                        out.0[axis] = Dim::Fixed(fixed_axis(x, axis, "pad")? + b + a);
                    }
                }
                Ok(out)
            }
            MoveOp::Concat { .. } => unreachable!("handled above"),
        }
    }

    fn eval(&self, args: &EvalArgs<'_, T>) -> Result<Tensor<T>, EvalError> {
        let (x, out) = (args.tensors()?, args.out_shape());
        Ok(match self {
            MoveOp::Reshape(_) => x[0].reshape(out)?,
            MoveOp::Permute(axes) => x[0].permute(axes)?,
            MoveOp::Expand(_) => x[0].broadcast_to(out)?,
            MoveOp::SumTo(_) => x[0].sum_to_shape(out)?,
            MoveOp::Narrow { axis, start, len } => x[0].narrow(*axis, *start, *len)?,
            MoveOp::Pad { pads, value } => x[0].pad(pads, *value)?,
            MoveOp::Concat { axis } => Tensor::concat(&x, *axis)?,
        })
    }

    fn grad(&self, cx: &mut GradCtx<'_, T>) -> Result<Grads> {
        let (xs, gy) = (cx.inputs().to_vec(), cx.grad_output());
        let g = cx.graph();
        let x_shape = g.shape(xs[0])?.clone();
        let one = |n: NodeId| -> Grads { smallvec::smallvec![Some(n)] };
        Ok(match self {
            MoveOp::Reshape(_) => one(g.reshape(gy, x_shape)?),
            MoveOp::Permute(axes) => {
                let mut inverse = vec![0; axes.len()];
                for (i, &a) in axes.iter().enumerate() {
                    inverse[a] = i;
                }
                one(g.permute(gy, &inverse)?)
            }
            MoveOp::Expand(_) => one(g.sum_to(gy, x_shape)?),
            MoveOp::SumTo(_) => one(g.expand(gy, x_shape)?),
            MoveOp::Narrow { axis, start, len } => {
                let n = x_shape.dims()[*axis].resolve(0);
                let mut pads = vec![(0, 0); x_shape.rank()];
                pads[*axis] = (*start, n - start - len);
                one(g.pad(gy, &pads, 0.0)?)
            }
            MoveOp::Pad { pads, .. } => {
                let mut v = gy;
                for (axis, &(b, _)) in pads.iter().enumerate() {
                    let n = x_shape.dims()[axis];
                    if let Dim::Fixed(n) = n
                        && pads[axis] != (0, 0)
                    {
                        v = g.narrow(v, axis, b, n)?;
                    }
                }
                one(v)
            }
            MoveOp::Concat { axis } => {
                let mut out = Grads::new();
                let mut start = 0;
                for &x in &xs {
                    let len = g.shape(x)?.dims()[*axis].resolve(0);
                    out.push(Some(g.narrow(gy, *axis, start, len)?));
                    start += len;
                }
                out
            }
        })
    }
}

fn concat_shape(inputs: &[&Shape], axis: usize) -> Result<Shape, RuleError> {
    let Some(first) = inputs.first() else {
        return Err(RuleError::Invalid("needs at least one operand".into()));
    };
    let mut total = 0;
    for s in inputs {
        let same = s.rank() == first.rank()
            && (0..s.rank()).all(|a| a == axis || s.dims()[a] == first.dims()[a]);
        if !same {
            let list: Vec<String> = inputs.iter().map(|s| s.to_string()).collect();
            return Err(RuleError::Shape(format!(
                "shapes {} differ outside axis {axis}",
                list.join(", ")
            )));
        }
        total += fixed_axis(s, axis, "concatenate")?;
    }
    Ok(first.with_dim(axis, Dim::Fixed(total)))
}

impl<T: Element> Graph<T> {
    /// Adds any movement op applied to `x`: always a new node, whereas [`Graph::reshape`],
    /// [`Graph::permute`], [`Graph::expand`] and [`Graph::sum_to`] return `x` for a no-op.
    pub fn movement(&mut self, op: MoveOp, x: NodeId) -> Result<NodeId> {
        self.apply(op, &[x])
    }

    /// Reshape to `shape` (no node when the shape is already that).
    pub fn reshape(&mut self, x: NodeId, shape: impl Into<Shape>) -> Result<NodeId> {
        let shape = shape.into();
        if self.shape(x)? == &shape {
            return Ok(x);
        }
        self.movement(MoveOp::Reshape(shape), x)
    }

    /// Merges axes `start..` into one: `[B, 16, 5, 5]` with `start = 1` gives `[B, 400]`.
    pub fn flatten(&mut self, x: NodeId, start: usize) -> Result<NodeId> {
        let s = self.shape(x)?.clone();
        let mut n = 1;
        for (axis, d) in s.dims().iter().enumerate().skip(start) {
            match d {
                Dim::Fixed(k) => n *= k,
                Dim::Batch => {
                    return Err(AutogradError::Shape {
                        op: "flatten",
                        node: self.next_name("reshape"),
                        detail: format!("cannot merge the batch axis {axis} of {s}"),
                    });
                }
            }
        }
        let mut to: SmallVec<[Dim; 6]> = s.dims()[..start.min(s.rank())].iter().copied().collect();
        to.push(Dim::Fixed(n));
        self.reshape(x, Shape(to))
    }

    /// Reorders the axes: output axis `i` is input axis `axes[i]` (no node for the identity).
    pub fn permute(&mut self, x: NodeId, axes: &[usize]) -> Result<NodeId> {
        if axes.iter().enumerate().all(|(i, &a)| i == a) && axes.len() == self.shape(x)?.rank() {
            return Ok(x);
        }
        self.movement(MoveOp::Permute(axes.to_vec()), x)
    }

    /// Swaps two axes.
    pub fn transpose(&mut self, x: NodeId, a: usize, b: usize) -> Result<NodeId> {
        let rank = self.shape(x)?.rank();
        let mut axes: Vec<usize> = (0..rank).collect();
        if a >= rank || b >= rank {
            return Err(AutogradError::Invalid {
                op: "transpose",
                node: self.next_name("permute"),
                detail: format!("axes {a} and {b} for rank {rank}"),
            });
        }
        axes.swap(a, b);
        self.permute(x, &axes)
    }

    /// Broadcast to `shape` (no node when already that shape).
    pub fn expand(&mut self, x: NodeId, shape: impl Into<Shape>) -> Result<NodeId> {
        let shape = shape.into();
        if self.shape(x)? == &shape {
            return Ok(x);
        }
        self.movement(MoveOp::Expand(shape), x)
    }

    /// Sums a broadcast value back to `shape` (no node when already that shape).
    pub fn sum_to(&mut self, x: NodeId, shape: impl Into<Shape>) -> Result<NodeId> {
        let shape = shape.into();
        if self.shape(x)? == &shape {
            return Ok(x);
        }
        self.movement(MoveOp::SumTo(shape), x)
    }

    /// The `len` indices from `start` along `axis`, as a view (not along the batch axis).
    pub fn narrow(&mut self, x: NodeId, axis: usize, start: usize, len: usize) -> Result<NodeId> {
        self.movement(MoveOp::Narrow { axis, start, len }, x)
    }

    /// Restricts leading axes to ranges (one `narrow` node per axis that changes).
    pub fn slice(&mut self, x: NodeId, ranges: &[Range<usize>]) -> Result<NodeId> {
        let shape = self.shape(x)?.clone();
        let mut v = x;
        for (axis, r) in ranges.iter().enumerate() {
            if r.start > r.end {
                return Err(AutogradError::Invalid {
                    op: "narrow",
                    node: self.next_name("narrow"),
                    detail: format!("reversed range {r:?} on axis {axis}"),
                });
            }
            if shape.dims().get(axis) != Some(&Dim::Fixed(r.end)) || r.start != 0 {
                v = self.narrow(v, axis, r.start, r.end - r.start)?;
            }
        }
        Ok(v)
    }

    /// Pads every axis with `(before, after)` copies of `value`.
    pub fn pad(&mut self, x: NodeId, pads: &[(usize, usize)], value: f64) -> Result<NodeId> {
        self.movement(
            MoveOp::Pad {
                pads: pads.to_vec(),
                value,
            },
            x,
        )
    }

    /// Joins `xs` along `axis`; their shapes must agree on every other axis, and `axis` must
    /// not be the batch axis.
    pub fn concat(&mut self, xs: &[NodeId], axis: usize) -> Result<NodeId> {
        self.apply(MoveOp::Concat { axis }, xs)
    }
}
