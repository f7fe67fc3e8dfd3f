//! The graph: nodes appended after their inputs, each with its op, inferred shape and name.
//!
//! Nodes are never removed, so a node's index is a topological position: the executor and
//! `grad` walk indices instead of sorting. The operand position of every input is stored on
//! its edge (petgraph's neighbour order is an implementation detail). Shapes are inferred in
//! [`Graph::push`], the single door through which every op enters, so a mistake is reported
//! while the model is being built and names the op, the node's layer path and the shapes.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::sync::Arc;

use convnet_tensor::{Element, Tensor};
use petgraph::Direction;
use petgraph::graph::{DiGraph, NodeIndex};
use petgraph::visit::EdgeRef;
use smallvec::SmallVec;

use crate::error::{AutogradError, Result};
use crate::op::Op;
use crate::rule::OpRule;
use crate::shape::Shape;

/// A handle to a node of one graph.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct NodeId(pub(crate) u32);

impl NodeId {
    /// The node's position in insertion (= topological) order.
    pub fn index(self) -> usize {
        self.0 as usize
    }

    fn ix(self) -> NodeIndex {
        NodeIndex::new(self.index())
    }
}

/// Operand lists: almost every op has at most three.
pub type Inputs = SmallVec<[NodeId; 4]>;

/// One node: what it computes, the shape it produces and its layer-path name.
#[derive(Debug, Clone)]
pub struct Node<T: Element> {
    /// What the node computes: a leaf or an applied op.
    pub op: Op<T>,
    /// The shape inferred when the node was added (may mention the open batch size).
    pub shape: Shape,
    /// The layer-path name: `scope/op` with a `:n` suffix when repeated, or as set by
    /// [`Graph::set_name`]. A placeholder's is the name it is fed by; a parameter's is its
    /// key unless renamed.
    pub name: String,
}

/// Options fixed when a graph is created.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct GraphOptions {
    /// Reject convolution and pooling geometry where `(N − F + 2P)/S` is not a whole number
    /// (naming the layer and suggesting a padding that fits). Off by default: the output size
    /// is then `floor((N − F + 2P)/S) + 1`, as in every mainstream framework, and the input rows
    /// and columns that no window reaches are ignored.
    pub strict_geometry: bool,
}

/// A symbolic computation graph over tensors of `T`.
#[derive(Debug, Clone)]
pub struct Graph<T: Element = f32> {
    g: DiGraph<Node<T>, usize>,
    scopes: Vec<String>,
    name_counts: HashMap<String, usize>,
    inputs_by_name: HashMap<String, NodeId>,
    options: GraphOptions,
}

impl<T: Element> Default for Graph<T> {
    fn default() -> Self {
        Self::new()
    }
}

impl<T: Element> Graph<T> {
    /// An empty graph with default [`GraphOptions`].
    pub fn new() -> Self {
        Self::with_options(GraphOptions::default())
    }

    /// An empty graph with the given options.
    pub fn with_options(options: GraphOptions) -> Self {
        Graph {
            g: DiGraph::new(),
            scopes: Vec::new(),
            name_counts: HashMap::new(),
            inputs_by_name: HashMap::new(),
            options,
        }
    }

    /// The options that nodes added from now on are checked with.
    pub fn options(&self) -> GraphOptions {
        self.options
    }

    /// Turns strict convolution/pooling geometry on or off for nodes added from now on.
    pub fn set_strict_geometry(&mut self, strict: bool) {
        self.options.strict_geometry = strict;
    }

    /// Number of nodes (leaves included).
    pub fn len(&self) -> usize {
        self.g.node_count()
    }

    /// True when the graph has no nodes.
    pub fn is_empty(&self) -> bool {
        self.g.node_count() == 0
    }

    /// All node ids in topological (insertion) order.
    pub fn node_ids(&self) -> impl Iterator<Item = NodeId> + use<T> {
        (0..self.len() as u32).map(NodeId)
    }

    /// The node, or an error when the id is not from this graph.
    pub fn node(&self, id: NodeId) -> Result<&Node<T>> {
        self.g
            .node_weight(id.ix())
            .ok_or(AutogradError::UnknownNode {
                id: id.index(),
                len: self.len(),
            })
    }

    pub(crate) fn node_unchecked(&self, id: NodeId) -> &Node<T> {
        &self.g[id.ix()]
    }

    /// The node's symbolic shape, or an error when the id is not from this graph.
    pub fn shape(&self, id: NodeId) -> Result<&Shape> {
        Ok(&self.node(id)?.shape)
    }

    /// The node's layer-path name, or an error when the id is not from this graph.
    pub fn name(&self, id: NodeId) -> Result<&str> {
        Ok(&self.node(id)?.name)
    }

    /// Operands in position order (read from the edges, not from neighbour order).
    pub fn inputs(&self, id: NodeId) -> Result<Inputs> {
        self.node(id)?;
        Ok(self.inputs_unchecked(id))
    }

    pub(crate) fn inputs_unchecked(&self, id: NodeId) -> Inputs {
        let mut edges: SmallVec<[(usize, NodeId); 4]> = self
            .g
            .edges_directed(id.ix(), Direction::Incoming)
            .map(|e| (*e.weight(), NodeId(e.source().index() as u32)))
            .collect();
        edges.sort_unstable_by_key(|&(pos, _)| pos);
        edges.into_iter().map(|(_, n)| n).collect()
    }

    /// The input placeholder with this name.
    pub fn input_named(&self, name: &str) -> Option<NodeId> {
        self.inputs_by_name.get(name).copied()
    }

    /// The first node whose name is exactly `name`.
    pub fn find(&self, name: &str) -> Option<NodeId> {
        self.node_ids()
            .find(|&id| self.node_unchecked(id).name == name)
    }

    // ---- names and scopes ------------------------------------------------------------------

    /// Enters a name scope: nodes added until [`Graph::pop_scope`] are named `scope/op`.
    pub fn push_scope(&mut self, name: &str) {
        self.scopes.push(name.to_string());
    }

    /// Leaves the innermost name scope (does nothing at top level).
    pub fn pop_scope(&mut self) {
        self.scopes.pop();
    }

    /// Runs `f` inside a name scope (`g.scope("features.0", |g| g.conv2d(..))`).
    pub fn scope<R>(&mut self, name: &str, f: impl FnOnce(&mut Self) -> R) -> R {
        self.push_scope(name);
        let r = f(self);
        self.pop_scope();
        r
    }

    /// The current scope path, `a/b/c`, empty at top level.
    pub fn scope_path(&self) -> String {
        self.scopes.join("/")
    }

    /// The name the next node of op `base` would get (for errors raised before it exists).
    pub(crate) fn next_name(&self, base: &str) -> String {
        let path = self.scope_path();
        let full = if path.is_empty() {
            base.to_string()
        } else {
            format!("{path}/{base}")
        };
        match self.name_counts.get(&full) {
            None | Some(0) => full,
            Some(&n) => format!("{full}:{n}"),
        }
    }

    fn fresh_name(&mut self, base: &str) -> String {
        let path = self.scope_path();
        let full = if path.is_empty() {
            base.to_string()
        } else {
            format!("{path}/{base}")
        };
        let count = self.name_counts.entry(full.clone()).or_insert(0);
        *count += 1;
        if *count == 1 {
            full
        } else {
            format!("{full}:{}", *count - 1)
        }
    }

    /// Renames a node (e.g. to give a layer's output a readable name). Not for placeholders,
    /// whose names are their feed keys.
    pub fn set_name(&mut self, id: NodeId, name: impl Into<String>) -> Result<()> {
        self.node(id)?;
        let name = name.into();
        let node = &mut self.g[id.ix()];
        if node.op.is_input() {
            return Err(AutogradError::Invalid {
                op: "set_name",
                node: node.name.clone(),
                detail: "input placeholders keep the name they are fed by".into(),
            });
        }
        node.name = name;
        Ok(())
    }

    // ---- leaves ----------------------------------------------------------------------------

    /// An input placeholder, fed by name at run time. `Shape::with_batch(&[1, 28, 28])` leaves
    /// the batch dimension open; a plain `&[usize]` fixes every dimension.
    pub fn input(&mut self, name: &str, shape: impl Into<Shape>) -> Result<NodeId> {
        self.placeholder(Op::Input, name, shape.into())
    }

    /// An input placeholder fed [`crate::Indices`] (class labels), which only the index
    /// operands of gather, scatter and one-hot accept.
    pub fn index_input(&mut self, name: &str, shape: impl Into<Shape>) -> Result<NodeId> {
        self.placeholder(Op::IndexInput, name, shape.into())
    }

    fn placeholder(&mut self, op: Op<T>, name: &str, shape: Shape) -> Result<NodeId> {
        if self.inputs_by_name.contains_key(name) {
            return Err(AutogradError::Invalid {
                op: op.name(),
                node: name.to_string(),
                detail: "an input with this name already exists".into(),
            });
        }
        let id = self.add_node(
            Node {
                op,
                shape,
                name: name.to_string(),
            },
            &[],
        );
        self.inputs_by_name.insert(name.to_string(), id);
        Ok(id)
    }

    /// A parameter read from the [`crate::ParamStore`] under `key` (its shape is declared here
    /// and checked against the store when a plan runs).
    pub fn param(&mut self, key: &str, shape: &[usize]) -> Result<NodeId> {
        if let Some(id) = self
            .node_ids()
            .find(|&id| matches!(&self.node_unchecked(id).op, Op::Param(k) if k == key))
        {
            let have = &self.node_unchecked(id).shape;
            if have != &Shape::fixed(shape) {
                return Err(AutogradError::Shape {
                    op: "param",
                    node: key.to_string(),
                    detail: format!(
                        "declared again as {} but first declared as {have}",
                        Shape::fixed(shape)
                    ),
                });
            }
            return Ok(id);
        }
        Ok(self.add_node(
            Node {
                op: Op::Param(key.to_string()),
                shape: Shape::fixed(shape),
                name: key.to_string(),
            },
            &[],
        ))
    }

    /// The parameter node for `key`, if declared.
    pub fn param_node(&self, key: &str) -> Option<NodeId> {
        self.node_ids()
            .find(|&id| matches!(&self.node_unchecked(id).op, Op::Param(k) if k == key))
    }

    /// All parameter nodes with their keys, in declaration order.
    pub fn params(&self) -> Vec<(NodeId, String)> {
        self.node_ids()
            .filter_map(|id| match &self.node_unchecked(id).op {
                Op::Param(k) => Some((id, k.clone())),
                _ => None,
            })
            .collect()
    }

    /// A constant tensor stored in the graph.
    pub fn constant(&mut self, value: Tensor<T>) -> NodeId {
        let name = self.fresh_name("constant");
        let shape = Shape::fixed(value.shape());
        self.add_node(
            Node {
                op: Op::Constant(value),
                shape,
                name,
            },
            &[],
        )
    }

    /// A tensor of `shape` filled with `value` (the shape may mention the batch size).
    pub fn fill(&mut self, shape: impl Into<Shape>, value: f64) -> NodeId {
        let name = self.fresh_name(if value == 0.0 { "zeros" } else { "fill" });
        self.add_node(
            Node {
                op: Op::Fill(value),
                shape: shape.into(),
                name,
            },
            &[],
        )
    }

    /// A scalar constant.
    pub fn scalar(&mut self, value: f64) -> NodeId {
        self.fill(Shape::scalar(), value)
    }

    // ---- the door every op goes through ----------------------------------------------------

    /// Applies an op — built-in or a user's [`OpRule`] — to operands, after checking them and
    /// inferring the output shape. Errors name the op, the node's layer path and the operand
    /// shapes.
    pub fn apply(&mut self, rule: impl OpRule<T>, inputs: &[NodeId]) -> Result<NodeId> {
        self.push(Op::Apply(Arc::new(rule)), inputs)
    }

    /// Adds an op node (see [`Graph::apply`]); leaves have their own constructors.
    pub fn push(&mut self, op: Op<T>, inputs: &[NodeId]) -> Result<NodeId> {
        for &i in inputs {
            self.node(i)?;
        }
        let name = self.fresh_name(op.name());
        let Op::Apply(rule) = &op else {
            return Err(AutogradError::Invalid {
                op: op.name(),
                node: name,
                detail: "leaves are added with input/index_input/param/constant/fill".into(),
            });
        };
        let index_operands = rule.index_operands();
        for (pos, &i) in inputs.iter().enumerate() {
            let operand = self.node_unchecked(i);
            if matches!(operand.op, Op::IndexInput) && !index_operands.contains(&pos) {
                return Err(AutogradError::Invalid {
                    op: rule.name(),
                    node: name,
                    detail: format!(
                        "operand {pos} `{}` holds indices; {} takes a float value there",
                        operand.name,
                        rule.name()
                    ),
                });
            }
        }
        let shape = {
            let shapes: SmallVec<[&Shape; 4]> = inputs
                .iter()
                .map(|&i| &self.node_unchecked(i).shape)
                .collect();
            rule.shape(&shapes, &self.options)
                .map_err(|e| e.at(rule.name(), &name))?
        };
        Ok(self.add_node(Node { op, shape, name }, inputs))
    }

    fn add_node(&mut self, node: Node<T>, inputs: &[NodeId]) -> NodeId {
        let ix = self.g.add_node(node);
        for (pos, &i) in inputs.iter().enumerate() {
            self.g.add_edge(i.ix(), ix, pos);
        }
        NodeId(ix.index() as u32)
    }

    // ---- inspection --------------------------------------------------------------------------

    /// Graphviz DOT with each node's name, op and shape; edges are labelled with the operand
    /// position.
    pub fn to_dot(&self) -> String {
        let mut s = String::from(
            "digraph convnet {\n  rankdir=TB;\n  node [shape=box, fontname=\"monospace\"];\n",
        );
        for id in self.node_ids() {
            let n = self.node_unchecked(id);
            let style = match n.op {
                Op::Input | Op::IndexInput => ", style=filled, fillcolor=\"#d8e8ff\"",
                Op::Param(_) => ", style=filled, fillcolor=\"#ffe8c8\"",
                _ => "",
            };
            let label = format!(
                "{}\\n{} {}",
                escape(&n.name),
                escape(&n.op.describe()),
                n.shape
            );
            let _ = writeln!(s, "  n{} [label=\"{label}\"{style}];", id.index());
        }
        for e in self.g.edge_references() {
            let _ = writeln!(
                s,
                "  n{} -> n{} [label=\"{}\"];",
                e.source().index(),
                e.target().index(),
                e.weight()
            );
        }
        s.push_str("}\n");
        s
    }
}

fn escape(s: &str) -> String {
    s.replace('\\', "\\\\").replace('"', "\\\"")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_follow_scopes_and_are_unique() {
        let mut g = Graph::<f32>::new();
        let x = g.input("x", Shape::with_batch(&[4])).unwrap();
        let (a, b) = g.scope("block.0", |g| (g.relu(x).unwrap(), g.relu(x).unwrap()));
        assert_eq!(g.name(a).unwrap(), "block.0/relu");
        assert_eq!(g.name(b).unwrap(), "block.0/relu:1");
        assert_eq!(g.input_named("x"), Some(x));
        assert!(g.input("x", [1]).is_err());
    }

    #[test]
    fn operand_order_comes_from_edges() {
        let mut g = Graph::<f32>::new();
        let a = g.input("a", [2]).unwrap();
        let b = g.input("b", [2]).unwrap();
        let d = g.sub(b, a).unwrap();
        assert_eq!(g.inputs(d).unwrap().as_slice(), &[b, a]);
    }

    #[test]
    fn dot_has_names_and_shapes() {
        let mut g = Graph::<f32>::new();
        let x = g.input("x", Shape::with_batch(&[3])).unwrap();
        let y = g.scope("fc", |g| g.exp(x)).unwrap();
        let dot = g.to_dot();
        assert!(dot.contains("fc/exp"), "{dot}");
        assert!(dot.contains("[B, 3]"), "{dot}");
        assert!(
            dot.contains(&format!("n{} -> n{}", x.index(), y.index())),
            "{dot}"
        );
    }
}
