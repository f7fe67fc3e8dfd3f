//! Containers: `Sequential` (children applied in order) and `Concat` (parallel branches on one
//! input, joined along the channel axis — the Inception module's shape).
//!
//! Children carry their own full paths; `Sequential::next_name` hands out torchvision-style
//! indexed names (`features.0`, `features.1`, …) so a definition reads like the PyTorch one
//! and its keys match torchvision's state dicts.

use convnet_autograd::{NodeId, Shape};
use convnet_tensor::Element;

use crate::error::{NnError, Result};
use crate::module::{Ctx, LayerInfo, Module, default_name, join};

/// Children applied one after another.
///
/// Children given without a name are named by position when the model is built:
///
/// ```
/// use convnet_nn::prelude::*;
///
/// let net = Sequential::new("features").with(Linear::to(4)).with(Activation::relu(""));
/// let model = Model::<f32>::new(net, &[3]).unwrap();
/// assert_eq!(model.layer_names().unwrap(), ["features.0", "features.1", "features"]);
/// assert_eq!(model.param_specs()[0].name, "features.0.weight");
/// ```
#[derive(Debug)]
pub struct Sequential<T: Element = f32> {
    name: String,
    children: Vec<Box<dyn Module<T>>>,
}

impl<T: Element> Default for Sequential<T> {
    /// An unnamed sequence: a model's root (children `0`, `1`, …), or a child named by its
    /// parent.
    fn default() -> Self {
        Sequential::new("")
    }
}

impl<T: Element> Sequential<T> {
    /// An empty sequence; `name` is its path (may be empty for a model's root).
    pub fn new(name: impl Into<String>) -> Self {
        Sequential {
            name: name.into(),
            children: Vec::new(),
        }
    }

    /// `<name>.<index of the next child>`, e.g. `features.3`.
    pub fn next_name(&self) -> String {
        join(&self.name, &self.children.len().to_string())
    }

    /// `<name>.<local>`, e.g. `classifier.fc`.
    pub fn child_name(&self, local: &str) -> String {
        join(&self.name, local)
    }

    /// Appends a child.
    pub fn push(&mut self, m: impl Module<T> + 'static) -> &mut Self {
        self.children.push(Box::new(m));
        self
    }

    /// Builder form of [`Sequential::push`].
    pub fn with(mut self, m: impl Module<T> + 'static) -> Self {
        self.children.push(Box::new(m));
        self
    }

    /// Appends a boxed child.
    pub fn push_boxed(&mut self, m: Box<dyn Module<T>>) -> &mut Self {
        self.children.push(m);
        self
    }

    /// Number of children.
    pub fn len(&self) -> usize {
        self.children.len()
    }

    /// Whether it has no children (it then passes its input through).
    pub fn is_empty(&self) -> bool {
        self.children.is_empty()
    }
}

impl<T: Element> Module<T> for Sequential<T> {
    fn name(&self) -> &str {
        &self.name
    }
    fn kind(&self) -> &'static str {
        "Sequential"
    }
    /// Unnamed children become `<name>.<index>` (PyTorch's `nn.Sequential` keys).
    fn assign_default_names(&mut self, path: &str) {
        default_name(&mut self.name, path);
        for (i, c) in self.children.iter_mut().enumerate() {
            c.assign_default_names(&join(&self.name, &i.to_string()));
        }
    }
    fn children(&self) -> Vec<&dyn Module<T>> {
        self.children.iter().map(|c| c.as_ref()).collect()
    }
    fn summary_row(&self) -> bool {
        false
    }
    fn forward(&self, ctx: &mut Ctx<'_, T>, x: NodeId) -> Result<NodeId> {
        let mut y = x;
        for c in &self.children {
            y = ctx.call(c.as_ref(), y)?;
        }
        Ok(y)
    }
}

/// Parallel branches applied to the same input, outputs concatenated along `axis` (1 by
/// default: channels). The branches' outputs must agree on every other axis.
#[derive(Debug)]
pub struct Concat<T: Element = f32> {
    name: String,
    branches: Vec<Box<dyn Module<T>>>,
    /// The axis the branch outputs are joined along (default 1, channels).
    pub axis: usize,
}

impl<T: Element> Concat<T> {
    /// A concat with no branches yet, joining on axis 1; `name` is its path (may be empty,
    /// to be named by its container). It needs at least one branch by the time the model is
    /// built.
    pub fn new(name: impl Into<String>) -> Self {
        Concat {
            name: name.into(),
            branches: Vec::new(),
            axis: 1,
        }
    }
    /// `<name>.<local>`, e.g. `inception3a.branch1`.
    pub fn child_name(&self, local: &str) -> String {
        join(&self.name, local)
    }
    /// Builder form of [`Concat::push`].
    pub fn branch(mut self, m: impl Module<T> + 'static) -> Self {
        self.branches.push(Box::new(m));
        self
    }
    /// Appends a branch; its output follows the earlier branches' along the axis.
    pub fn push(&mut self, m: impl Module<T> + 'static) -> &mut Self {
        self.branches.push(Box::new(m));
        self
    }
    /// Joins the branch outputs along `axis` instead of 1; it must be an axis of every output.
    pub fn axis(mut self, axis: usize) -> Self {
        self.axis = axis;
        self
    }
}

impl<T: Element> Module<T> for Concat<T> {
    fn name(&self) -> &str {
        &self.name
    }
    fn kind(&self) -> &'static str {
        "Concat"
    }
    /// Unnamed branches become `<name>.<index>`.
    fn assign_default_names(&mut self, path: &str) {
        default_name(&mut self.name, path);
        for (i, b) in self.branches.iter_mut().enumerate() {
            b.assign_default_names(&join(&self.name, &i.to_string()));
        }
    }
    fn children(&self) -> Vec<&dyn Module<T>> {
        self.branches.iter().map(|c| c.as_ref()).collect()
    }
    fn validate(&self) -> Result<()> {
        if self.branches.is_empty() {
            return Err(NnError::config(
                &self.name,
                "Concat",
                "needs at least one branch",
            ));
        }
        Ok(())
    }
    fn forward(&self, ctx: &mut Ctx<'_, T>, x: NodeId) -> Result<NodeId> {
        let mut outs = Vec::with_capacity(self.branches.len());
        for b in &self.branches {
            outs.push(ctx.call(b.as_ref(), x)?);
        }
        let shapes: Vec<Shape> = outs.iter().map(|&o| ctx.shape(o)).collect::<Result<_>>()?;
        let first = &shapes[0];
        let fits = shapes.iter().all(|s| {
            s.rank() == first.rank()
                && self.axis < s.rank()
                && (0..s.rank()).all(|a| a == self.axis || s.dims()[a] == first.dims()[a])
        });
        if !fits {
            let list: Vec<String> = self
                .branches
                .iter()
                .zip(&shapes)
                .map(|(b, s)| format!("`{}` {s}", b.name()))
                .collect();
            return Err(NnError::input(
                &self.name,
                "Concat",
                format!("branch outputs that agree on every axis but {}", self.axis),
                list.join(", "),
            ));
        }
        Ok(ctx.graph().concat(&outs, self.axis)?)
    }
    fn info(&self, _input: &Shape, output: &Shape) -> LayerInfo {
        LayerInfo {
            arithmetic: format!(
                "concat of {} branches on axis {} = {}",
                self.branches.len(),
                self.axis,
                output
                    .dims()
                    .get(self.axis)
                    .map(|d| d.to_string())
                    .unwrap_or_default()
            ),
            ..LayerInfo::default()
        }
    }
}
