//! Values for input placeholders, keyed by node or by name, checked when a plan runs.
//!
//! Feeds are typed: a `Feeds<T>` holds `Tensor<T>` values for a `Graph<T>`, so a pipeline that
//! produces `f32` batches for an `f64` gradient-check graph does not compile, instead of
//! failing (or casting) at run time:
//!
//! ```compile_fail
//! use convnet_autograd::{Feeds, Graph, ParamStore, Plan};
//! use convnet_tensor::Tensor;
//! let mut g = Graph::<f32>::new();
//! let x = g.input("x", [2]).unwrap();
//! let y = g.exp(x).unwrap();
//! let plan = Plan::compile(&g, &[y], None).unwrap();
//! let feeds = Feeds::new().with(x, Tensor::<f64>::zeros(&[2]));
//! plan.run(&feeds, &ParamStore::new()).unwrap(); // f64 feeds for an f32 plan: type error
//! ```
//!
//! Index inputs ([`crate::Graph::index_input`], for class labels) are fed [`Indices`]: whole
//! numbers that reach the gather and one-hot kernels as they are, never as floats.

use std::collections::HashMap;
use std::sync::Arc;

use convnet_tensor::{Element, Tensor};

use crate::graph::NodeId;
use crate::rule::EvalError;

/// Whole-number indices with a shape (class labels `[B]`), shared cheaply between runs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Indices {
    values: Arc<[usize]>,
    shape: Vec<usize>,
}

impl Indices {
    /// Indices of a given shape; `None` when the count does not match the shape.
    pub fn new(values: impl Into<Arc<[usize]>>, shape: &[usize]) -> Option<Self> {
        let values = values.into();
        let numel = shape.iter().try_fold(1usize, |n, &d| n.checked_mul(d))?;
        (values.len() == numel).then(|| Indices {
            values,
            shape: shape.to_vec(),
        })
    }

    /// A list of indices, shape `[len]` (a batch of labels).
    pub fn vector(values: &[usize]) -> Self {
        Indices {
            values: values.into(),
            shape: vec![values.len()],
        }
    }

    /// The indices in row-major order.
    pub fn values(&self) -> &[usize] {
        &self.values
    }

    /// The shape the indices are laid out in.
    pub fn shape(&self) -> &[usize] {
        &self.shape
    }

    pub(crate) fn into_vec(self) -> Vec<usize> {
        self.values.to_vec()
    }

    /// Float index data (whole numbers stored as floats) to indices, rejecting a negative,
    /// fractional or huge value with its position.
    pub fn from_floats<T: Element>(t: &Tensor<T>) -> Result<Self, EvalError> {
        let values = t
            .data()
            .iter()
            .enumerate()
            .map(|(i, v)| {
                let f = v.as_f64();
                if f >= 0.0 && f.fract() == 0.0 && f < usize::MAX as f64 {
                    Ok(f as usize)
                } else {
                    Err(EvalError::Index(format!(
                        "index value {f} at position {i} is not a non-negative integer"
                    )))
                }
            })
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Indices {
            values: values.into(),
            shape: t.shape().to_vec(),
        })
    }

    /// The indices as a float tensor (for a requested output that holds indices).
    pub fn to_tensor<T: Element>(&self) -> Tensor<T> {
        Tensor::from_fn(&self.shape, |i| T::of_usize(self.values[i]))
    }
}

/// A value in a run: a float tensor or indices.
#[derive(Debug, Clone)]
pub enum Value<T: Element> {
    /// A float tensor: the value of a tensor input or of any computed node.
    Tensor(Tensor<T>),
    /// Whole-number indices, fed to an index input.
    Indices(Indices),
}

impl<T: Element> Value<T> {
    /// The shape of the tensor or of the indices.
    pub fn shape(&self) -> &[usize] {
        match self {
            Value::Tensor(t) => t.shape(),
            Value::Indices(ix) => ix.shape(),
        }
    }
}

impl<T: Element> From<Tensor<T>> for Value<T> {
    fn from(t: Tensor<T>) -> Self {
        Value::Tensor(t)
    }
}

impl<T: Element> From<Indices> for Value<T> {
    fn from(ix: Indices) -> Self {
        Value::Indices(ix)
    }
}

/// How a feed names its placeholder.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum FeedKey {
    /// The placeholder's node id.
    Node(NodeId),
    /// The placeholder's name, as given to [`Graph::input`](crate::Graph::input) or
    /// [`Graph::index_input`](crate::Graph::index_input).
    Name(String),
}

impl From<NodeId> for FeedKey {
    fn from(id: NodeId) -> Self {
        FeedKey::Node(id)
    }
}

impl From<&str> for FeedKey {
    fn from(s: &str) -> Self {
        FeedKey::Name(s.to_string())
    }
}

impl From<String> for FeedKey {
    fn from(s: String) -> Self {
        FeedKey::Name(s)
    }
}

/// Input values for one run of a `Graph<T>`.
#[derive(Debug, Clone)]
pub struct Feeds<T: Element = f32> {
    pub(crate) values: HashMap<FeedKey, Value<T>>,
}

impl<T: Element> Default for Feeds<T> {
    fn default() -> Self {
        Feeds {
            values: HashMap::new(),
        }
    }
}

impl<T: Element> Feeds<T> {
    /// No feeds yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// Sets a placeholder's value (by `NodeId` or name; a tensor, or [`Indices`] for an index
    /// input), replacing any earlier one.
    pub fn insert(&mut self, key: impl Into<FeedKey>, value: impl Into<Value<T>>) -> &mut Self {
        self.values.insert(key.into(), value.into());
        self
    }

    /// Builder form of [`Feeds::insert`].
    pub fn with(mut self, key: impl Into<FeedKey>, value: impl Into<Value<T>>) -> Self {
        self.insert(key, value);
        self
    }

    /// The value fed for `key`, if any.
    pub fn get(&self, key: impl Into<FeedKey>) -> Option<&Value<T>> {
        self.values.get(&key.into())
    }

    /// Number of values fed (a placeholder fed both by id and by name counts twice).
    pub fn len(&self) -> usize {
        self.values.len()
    }

    /// True when nothing has been fed.
    pub fn is_empty(&self) -> bool {
        self.values.is_empty()
    }
}
