//! The op rule: everything the graph, the planner, the executor and `grad` need to know about
//! one op, in one trait.
//!
//! An op is a value implementing [`OpRule`]: its name, its shape rule, its evaluation (and its
//! in-place evaluation when it may overwrite a dying operand), how its output buffer is
//! obtained ([`OutputBuffer`]), and its gradient, written as new graph nodes through one
//! [`GradCtx`]. Every built-in family (`ops/*.rs`) implements it, and so can a user crate:
//! the op set is open. Because a gradient rule appends ordinary nodes, a rule that writes its
//! gradient with differentiable ops gets second and higher derivatives for free.
//!
//! ```
//! use convnet_autograd::{
//!     EvalArgs, EvalError, GradCheckConfig, GradCtx, Grads, Graph, GraphOptions, OpRule,
//!     ParamStore, Result, RuleError, Shape, check_gradients,
//! };
//! use convnet_tensor::{Element, Tensor};
//!
//! /// `y = x³`, an op a user crate defines with its gradient `3x²·g`.
//! #[derive(Debug)]
//! struct Cube;
//!
//! impl<T: Element> OpRule<T> for Cube {
//!     fn name(&self) -> &'static str {
//!         "cube"
//!     }
//!     fn shape(&self, x: &[&Shape], _: &GraphOptions) -> Result<Shape, RuleError> {
//!         convnet_autograd::rule::arity(x, 1)?;
//!         Ok(x[0].clone())
//!     }
//!     fn eval(&self, args: &EvalArgs<'_, T>) -> Result<Tensor<T>, EvalError> {
//!         Ok(args.tensor(0)?.map(|v| v * v * v))
//!     }
//!     fn grad(&self, cx: &mut GradCtx<'_, T>) -> Result<Grads> {
//!         let (x, gy) = (cx.input(0), cx.grad_output());
//!         let g = cx.graph();
//!         let x2 = g.square(x)?;
//!         let slope = g.scale(x2, 3.0)?;
//!         Ok(Grads::from_elem(Some(g.mul(slope, gy)?), 1))
//!     }
//! }
//!
//! let mut g = Graph::<f64>::new();
//! let x = g.input("x", [4]).unwrap();
//! let y = g.apply(Cube, &[x]).unwrap();
//! let feeds = convnet_autograd::Feeds::new()
//!     .with(x, Tensor::from_vec(vec![-1.5, -0.2, 0.4, 2.0], &[4]).unwrap());
//! let cfg = GradCheckConfig { second_order: true, ..Default::default() };
//! check_gradients(&g, y, &[x], &feeds, &ParamStore::new(), &cfg).unwrap().ensure().unwrap();
//! ```

use std::any::Any;
use std::borrow::Cow;
use std::fmt;

use convnet_tensor::ops::fused::Pointwise;
use convnet_tensor::{Element, Precision, Tensor, TensorError};
use smallvec::SmallVec;

use crate::error::{AutogradError, Result};
use crate::feeds::{Indices, Value};
use crate::graph::{Graph, GraphOptions, Inputs, NodeId};
use crate::shape::Shape;

/// Per-operand gradients of one node (`None`: no gradient flows to that operand).
pub type Grads = SmallVec<[Option<NodeId>; 4]>;

/// How a node gets its output buffer; the planner reads it to schedule memory.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OutputBuffer {
    /// A new buffer (the default).
    Fresh,
    /// A view of operand 0: no buffer of its own, and operand 0 lives as long as the view.
    View,
    /// Elementwise with output shape equal to its operands': the node may write into the buffer
    /// of an operand that dies at this node, through [`OpRule::eval_in_place`].
    Elementwise,
}

/// One op: its shape rule, evaluation and gradient. See the [module docs](self) for an example
/// of a user-defined op.
pub trait OpRule<T: Element>: Any + fmt::Debug + Send + Sync {
    /// Short name used in node names, errors and profiles (`"conv2d"`).
    fn name(&self) -> &'static str;

    /// The op with its attributes, for graph dumps (defaults to the name).
    fn describe(&self) -> String {
        self.name().to_string()
    }

    /// The output shape for these operand shapes, or what is wrong with them (the graph adds
    /// the op and node names).
    fn shape(&self, inputs: &[&Shape], options: &GraphOptions) -> Result<Shape, RuleError>;

    /// Operand positions that hold indices (class labels): they accept an index input as well
    /// as a float tensor of whole numbers. Every other operand must be a float value.
    fn index_operands(&self) -> &[usize] {
        &[]
    }

    /// How the output buffer is obtained.
    fn output_buffer(&self) -> OutputBuffer {
        OutputBuffer::Fresh
    }

    /// The elementwise function this op applies, when it is one the planner may fuse with its
    /// neighbours into one pass over memory ([`convnet_tensor::ops::fused`]). A fusible op's
    /// operands and output all have one shape, and its [`OpRule::eval`] must give, bit for
    /// bit, what the function gives element by element. `None` (the default): never fused.
    fn pointwise(&self) -> Option<Pointwise> {
        None
    }

    /// Evaluates the node.
    fn eval(&self, args: &EvalArgs<'_, T>) -> Result<Tensor<T>, EvalError>;

    /// For [`OutputBuffer::Elementwise`] ops: computes the node into `target`, which holds
    /// operand `pos` (its last use) and may be overwritten. `args` holds every operand,
    /// `target`'s position included, which must not be read. The default evaluates afresh.
    fn eval_in_place(
        &self,
        target: &mut Tensor<T>,
        pos: usize,
        args: &EvalArgs<'_, T>,
    ) -> Result<(), EvalError> {
        let _ = pos;
        *target = self.eval(args)?;
        Ok(())
    }

    /// The gradient of every operand, as new nodes, given the gradient of the output.
    fn grad(&self, cx: &mut GradCtx<'_, T>) -> Result<Grads>;

    /// What this node runs on, for profiles and summaries (e.g. the convolution kernel chosen
    /// for these concrete operand shapes). `None` when there is nothing to say.
    fn kernel(&self, inputs: &[&[usize]]) -> Option<String> {
        let _ = inputs;
        None
    }
}

/// What a shape rule found wrong, before it knows its op and node.
#[derive(Debug, Clone)]
pub enum RuleError {
    /// The operand shapes do not fit the op; becomes [`AutogradError::Shape`].
    Shape(String),
    /// An attribute or the operand count is invalid; becomes [`AutogradError::Invalid`].
    Invalid(String),
    /// Convolution or pooling geometry does not fit; becomes [`AutogradError::Geometry`].
    Geometry(String),
}

impl RuleError {
    pub(crate) fn at(self, op: &'static str, node: &str) -> AutogradError {
        let node = node.to_string();
        match self {
            RuleError::Shape(detail) => AutogradError::Shape { op, node, detail },
            RuleError::Invalid(detail) => AutogradError::Invalid { op, node, detail },
            RuleError::Geometry(detail) => AutogradError::Geometry { op, node, detail },
        }
    }
}

/// An evaluation failure, before it knows its node.
#[derive(Debug, Clone)]
pub enum EvalError {
    /// A tensor kernel failed; becomes [`AutogradError::Tensor`].
    Tensor(TensorError),
    /// Index data is invalid, or an operand could not be read as needed (indices where a
    /// tensor is needed, or the buffer being overwritten); becomes [`AutogradError::Index`].
    Index(String),
    /// A reduction across data-parallel replicas failed (another rank went away, the ranks
    /// disagree); becomes [`AutogradError::Collective`].
    Collective(String),
}

impl fmt::Display for EvalError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            EvalError::Tensor(e) => e.fmt(f),
            EvalError::Index(detail) | EvalError::Collective(detail) => f.write_str(detail),
        }
    }
}

impl From<TensorError> for EvalError {
    fn from(e: TensorError) -> Self {
        EvalError::Tensor(e)
    }
}

impl EvalError {
    pub(crate) fn at(self, op: &'static str, node: &str) -> AutogradError {
        let node = node.to_string();
        match self {
            EvalError::Tensor(source) => AutogradError::Tensor { op, node, source },
            EvalError::Index(detail) => AutogradError::Index { op, node, detail },
            EvalError::Collective(detail) => AutogradError::Collective { op, node, detail },
        }
    }
}

/// Requires exactly `n` operands (for shape rules).
pub fn arity(shapes: &[&Shape], n: usize) -> Result<(), RuleError> {
    if shapes.len() == n {
        Ok(())
    } else {
        Err(RuleError::Invalid(format!(
            "takes {n} operand(s), got {}",
            shapes.len()
        )))
    }
}

/// The operand values of one evaluation and the node's concrete output shape.
#[derive(Debug)]
pub struct EvalArgs<'a, T: Element> {
    /// `None` at the operand an in-place evaluation is overwriting.
    values: &'a [Option<&'a Value<T>>],
    out: &'a [usize],
    precision: Precision,
}

impl<'a, T: Element> EvalArgs<'a, T> {
    pub(crate) fn new(
        values: &'a [Option<&'a Value<T>>],
        out: &'a [usize],
        precision: Precision,
    ) -> Self {
        EvalArgs {
            values,
            out,
            precision,
        }
    }

    /// The precision this run's matrix products are asked to run at ([`crate::RunOptions`]);
    /// ops with convolutions or matmuls pass it to their kernels.
    pub fn precision(&self) -> Precision {
        self.precision
    }

    /// Number of operands.
    pub fn len(&self) -> usize {
        self.values.len()
    }

    /// True when the node has no operands.
    pub fn is_empty(&self) -> bool {
        self.values.is_empty()
    }

    /// The node's output shape, with the batch size resolved.
    pub fn out_shape(&self) -> &'a [usize] {
        self.out
    }

    /// Operand `i` as a float tensor.
    pub fn tensor(&self, i: usize) -> Result<&'a Tensor<T>, EvalError> {
        match self.values.get(i) {
            Some(Some(Value::Tensor(t))) => Ok(t),
            Some(Some(Value::Indices(_))) => Err(EvalError::Index(format!(
                "operand {i} holds indices where a float tensor is needed"
            ))),
            Some(None) => Err(self.overwritten(i)),
            None => Err(self.missing(i)),
        }
    }

    /// Every operand as a float tensor (for ops taking any number, like concat).
    pub fn tensors(&self) -> Result<SmallVec<[&'a Tensor<T>; 4]>, EvalError> {
        (0..self.values.len()).map(|i| self.tensor(i)).collect()
    }

    /// Operand `i` as indices: an index input as fed, or a float tensor whose every value is a
    /// non-negative whole number (anything else is an error giving the value and position).
    pub fn indices(&self, i: usize) -> Result<Cow<'a, [usize]>, EvalError> {
        match self.values.get(i) {
            Some(Some(Value::Indices(ix))) => Ok(Cow::Borrowed(ix.values())),
            Some(Some(Value::Tensor(t))) => {
                Indices::from_floats(t).map(|ix| Cow::Owned(ix.into_vec()))
            }
            Some(None) => Err(self.overwritten(i)),
            None => Err(self.missing(i)),
        }
    }

    fn missing(&self, i: usize) -> EvalError {
        EvalError::Index(format!(
            "operand {i} of {} does not exist",
            self.values.len()
        ))
    }

    fn overwritten(&self, i: usize) -> EvalError {
        EvalError::Index(format!(
            "operand {i} is the buffer being overwritten in place; read the target instead"
        ))
    }
}

/// What a gradient rule works with: the graph to append to, the node's operands and output,
/// and the gradient of its output.
#[derive(Debug)]
pub struct GradCtx<'a, T: Element> {
    graph: &'a mut Graph<T>,
    inputs: Inputs,
    output: NodeId,
    grad_output: NodeId,
}

impl<'a, T: Element> GradCtx<'a, T> {
    pub(crate) fn new(
        graph: &'a mut Graph<T>,
        inputs: Inputs,
        output: NodeId,
        grad_output: NodeId,
    ) -> Self {
        GradCtx {
            graph,
            inputs,
            output,
            grad_output,
        }
    }

    /// The graph the gradient nodes are appended to.
    pub fn graph(&mut self) -> &mut Graph<T> {
        self.graph
    }

    /// Operand `i` of the node.
    pub fn input(&self, i: usize) -> NodeId {
        self.inputs[i]
    }

    /// All operands of the node, in position order.
    pub fn inputs(&self) -> &[NodeId] {
        &self.inputs
    }

    /// The node itself (its value, for rules written with the output, like `exp`'s).
    pub fn output(&self) -> NodeId {
        self.output
    }

    /// The gradient flowing into the node's output.
    pub fn grad_output(&self) -> NodeId {
        self.grad_output
    }

    /// The symbolic shape of a node.
    pub fn shape(&self, id: NodeId) -> Result<Shape> {
        Ok(self.graph.shape(id)?.clone())
    }

    /// No gradient to any operand.
    pub fn none(&self) -> Grads {
        Grads::from_elem(None, self.inputs.len())
    }
}
