//! Named parameters, kept outside the graph.
//!
//! A graph refers to a parameter by name; the values live here, so one graph can be run with
//! many parameter sets and an optimizer can update values in place between steps. Names are
//! path-like (`features.0.weight`) and double as checkpoint keys. Iteration follows insertion
//! order, which is the order layers were built in, so listings and checkpoints are stable.

use std::collections::HashMap;

use convnet_tensor::{Element, Tensor};

use crate::error::{AutogradError, Result};

/// Whether the parameter or layer path `path` is `prefix` or lies below it: `layer1` covers
/// `layer1.0.conv1.weight`, not `layer10.weight`. Freezing and parameter groups select
/// parameters this way.
pub fn path_under(path: &str, prefix: &str) -> bool {
    path == prefix
        || path
            .strip_prefix(prefix)
            .is_some_and(|rest| rest.starts_with('.'))
}

/// An insertion-ordered map from parameter name to its current value.
#[derive(Debug, Clone, Default)]
pub struct ParamStore<T: Element = f32> {
    names: Vec<String>,
    values: Vec<Tensor<T>>,
    index: HashMap<String, usize>,
    /// Parameters that are state, not trained (BatchNorm running statistics): saved in
    /// checkpoints but skipped by optimizers.
    frozen: Vec<bool>,
}

impl<T: Element> ParamStore<T> {
    /// An empty store.
    pub fn new() -> Self {
        ParamStore {
            names: Vec::new(),
            values: Vec::new(),
            index: HashMap::new(),
            frozen: Vec::new(),
        }
    }

    /// Adds a trainable parameter; the name must be new.
    pub fn insert(&mut self, name: impl Into<String>, value: Tensor<T>) -> Result<()> {
        self.insert_with(name.into(), value, false)
    }

    /// Adds a non-trainable buffer (e.g. a running mean); the name must be new.
    pub fn insert_buffer(&mut self, name: impl Into<String>, value: Tensor<T>) -> Result<()> {
        self.insert_with(name.into(), value, true)
    }

    fn insert_with(&mut self, name: String, value: Tensor<T>, frozen: bool) -> Result<()> {
        if self.index.contains_key(&name) {
            return Err(AutogradError::DuplicateParameter { name });
        }
        self.index.insert(name.clone(), self.names.len());
        self.names.push(name);
        self.values.push(value);
        self.frozen.push(frozen);
        Ok(())
    }

    /// The value of a parameter or buffer, if the store holds it.
    pub fn get(&self, name: &str) -> Option<&Tensor<T>> {
        self.index.get(name).map(|&i| &self.values[i])
    }

    /// The value of a parameter or buffer, mutably (to update it in place; its shape is not
    /// checked again until a plan reads it).
    pub fn get_mut(&mut self, name: &str) -> Option<&mut Tensor<T>> {
        self.index.get(name).map(|&i| &mut self.values[i])
    }

    /// The value of a parameter, or an error naming it.
    pub fn require(&self, name: &str) -> Result<&Tensor<T>> {
        self.get(name)
            .ok_or_else(|| AutogradError::UnknownParameter {
                name: name.to_string(),
            })
    }

    /// Replaces a parameter's value; the shape must stay the same.
    pub fn set(&mut self, name: &str, value: Tensor<T>) -> Result<()> {
        let slot = self
            .get_mut(name)
            .ok_or_else(|| AutogradError::UnknownParameter {
                name: name.to_string(),
            })?;
        if slot.shape() != value.shape() {
            return Err(AutogradError::ParameterShape {
                name: name.to_string(),
                expected: slot.shape().to_vec(),
                got: value.shape().to_vec(),
            });
        }
        *slot = value;
        Ok(())
    }

    /// True when the store holds a parameter or buffer under `name`.
    pub fn contains(&self, name: &str) -> bool {
        self.index.contains_key(name)
    }

    /// True for buffers that optimizers must not update.
    pub fn is_buffer(&self, name: &str) -> bool {
        self.index.get(name).is_some_and(|&i| self.frozen[i])
    }

    /// Number of entries, buffers included.
    pub fn len(&self) -> usize {
        self.names.len()
    }

    /// True when the store holds nothing.
    pub fn is_empty(&self) -> bool {
        self.names.is_empty()
    }

    /// Names in insertion order.
    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.names.iter().map(String::as_str)
    }

    /// `(name, value)` pairs in insertion order, buffers included.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &Tensor<T>)> {
        self.names.iter().map(String::as_str).zip(&self.values)
    }

    /// `(name, value)` pairs of the trainable parameters only, mutably.
    pub fn trainable_mut(&mut self) -> impl Iterator<Item = (&str, &mut Tensor<T>)> {
        self.names
            .iter()
            .zip(self.values.iter_mut())
            .zip(&self.frozen)
            .filter(|(_, frozen)| !**frozen)
            .map(|((n, v), _)| (n.as_str(), v))
    }

    /// Total number of trainable scalars.
    pub fn num_trainable(&self) -> usize {
        self.values
            .iter()
            .zip(&self.frozen)
            .filter(|(_, f)| !**f)
            .map(|(v, _)| v.numel())
            .sum()
    }
}
