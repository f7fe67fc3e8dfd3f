//! Values for input placeholders, keyed by node or by name, checked when a plan runs.
//!
//! Feeds carry their element type at run time ([`AnyTensor`]) so that a data pipeline that
//! produces `f32` batches for an `f64` gradient-check graph gets an error naming the input,
//! not a silent cast.

use std::collections::HashMap;

use convnet_tensor::{DType, Element, Tensor};

use crate::graph::NodeId;

/// A tensor of either element type.
#[derive(Debug, Clone)]
pub enum AnyTensor {
    F32(Tensor<f32>),
    F64(Tensor<f64>),
}

impl AnyTensor {
    pub fn dtype(&self) -> DType {
        match self {
            AnyTensor::F32(_) => DType::F32,
            AnyTensor::F64(_) => DType::F64,
        }
    }

    pub fn shape(&self) -> &[usize] {
        match self {
            AnyTensor::F32(t) => t.shape(),
            AnyTensor::F64(t) => t.shape(),
        }
    }

    /// The tensor as `Tensor<T>` when it has that element type.
    pub fn as_type<T: Element>(&self) -> Option<Tensor<T>> {
        let any: &dyn std::any::Any = match self {
            AnyTensor::F32(t) => t,
            AnyTensor::F64(t) => t,
        };
        any.downcast_ref::<Tensor<T>>().cloned()
    }
}

impl From<Tensor<f32>> for AnyTensor {
    fn from(t: Tensor<f32>) -> Self {
        AnyTensor::F32(t)
    }
}

impl From<Tensor<f64>> for AnyTensor {
    fn from(t: Tensor<f64>) -> Self {
        AnyTensor::F64(t)
    }
}

/// How a feed names its placeholder.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum FeedKey {
    Node(NodeId),
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

/// Input values for one run.
#[derive(Debug, Clone, Default)]
pub struct Feeds {
    pub(crate) values: HashMap<FeedKey, AnyTensor>,
}

impl Feeds {
    pub fn new() -> Self {
        Self::default()
    }

    /// Sets a placeholder's value (by `NodeId` or name), replacing any earlier one.
    pub fn insert(&mut self, key: impl Into<FeedKey>, value: impl Into<AnyTensor>) -> &mut Self {
        self.values.insert(key.into(), value.into());
        self
    }

    /// Builder form of [`Feeds::insert`].
    pub fn with(mut self, key: impl Into<FeedKey>, value: impl Into<AnyTensor>) -> Self {
        self.insert(key, value);
        self
    }

    pub fn len(&self) -> usize {
        self.values.len()
    }

    pub fn is_empty(&self) -> bool {
        self.values.is_empty()
    }
}
