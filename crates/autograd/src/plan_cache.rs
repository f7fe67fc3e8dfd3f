//! Compiled plans, kept per (outputs, batch size): one cache for every runner — a training
//! step, an evaluation, an inference, an inspecting run — so that a plan is compiled once per
//! shape of the question asked, never keyed by a caller's private numbering.
//!
//! The cache hands out shared plans and holds its lock only to look one up or insert it, so
//! runs on the same cache (an `Inference` used from several threads) do not wait for each
//! other. Plans are immutable once compiled (`Plan::run` takes `&self`).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use convnet_tensor::Element;

use crate::error::{AutogradError, Result};
use crate::graph::{Graph, NodeId};
use crate::plan::Plan;

/// What a plan is compiled for: the nodes it computes, in order, and the batch size.
type Key = (Vec<NodeId>, Option<usize>);

/// Plans of one graph, compiled on first use.
pub struct PlanCache<T: Element> {
    plans: Mutex<HashMap<Key, Arc<Plan<T>>>>,
}

impl<T: Element> std::fmt::Debug for PlanCache<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "PlanCache({} plans)", self.len())
    }
}

impl<T: Element> Default for PlanCache<T> {
    fn default() -> Self {
        Self::new()
    }
}

impl<T: Element> PlanCache<T> {
    /// An empty cache.
    pub fn new() -> Self {
        PlanCache {
            plans: Mutex::new(HashMap::new()),
        }
    }

    /// The plan computing `outputs` of `graph` at `batch`, compiled now if it is the first
    /// request of its kind. `graph` must be the graph every earlier request named.
    pub fn get(
        &self,
        graph: &Graph<T>,
        outputs: &[NodeId],
        batch: Option<usize>,
    ) -> Result<Arc<Plan<T>>> {
        let key = (outputs.to_vec(), batch);
        if let Some(p) = self.lock()?.get(&key) {
            return Ok(Arc::clone(p));
        }
        // Compiled outside the lock; a racing thread may compile the same plan, and the
        // first to insert wins (both are identical).
        let plan = Arc::new(Plan::compile(graph, outputs, batch)?);
        Ok(Arc::clone(self.lock()?.entry(key).or_insert(plan)))
    }

    /// Plans compiled so far.
    pub fn len(&self) -> usize {
        self.plans.lock().map_or(0, |p| p.len())
    }

    /// True when no plan has been compiled yet.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn lock(&self) -> Result<std::sync::MutexGuard<'_, HashMap<Key, Arc<Plan<T>>>>> {
        self.plans.lock().map_err(|_| AutogradError::Invalid {
            op: "plan cache",
            node: String::new(),
            detail: "a run panicked while holding the plan cache".into(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::shape::Shape;

    #[test]
    fn one_plan_per_outputs_and_batch() {
        let mut g = Graph::<f32>::new();
        let x = g.input("x", Shape::with_batch(&[3])).unwrap();
        let y = g.relu(x).unwrap();
        let z = g.exp(x).unwrap();
        let cache = PlanCache::new();
        let a = cache.get(&g, &[y], Some(2)).unwrap();
        let b = cache.get(&g, &[y], Some(2)).unwrap();
        assert!(Arc::ptr_eq(&a, &b));
        cache.get(&g, &[y], Some(3)).unwrap();
        cache.get(&g, &[y, z], Some(2)).unwrap();
        assert_eq!(cache.len(), 3);
    }
}
