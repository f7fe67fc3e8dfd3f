//! Compiling a plan: the needed nodes in order, their concrete shapes, and their memory.
//!
//! Only the nodes the requested outputs depend on are kept, in insertion (= topological) order.
//! Liveness gives each buffer a release point (after its last reader, counting readers of views
//! of it), and the memory figures are computed here, before anything runs:
//!
//! - `peak_bytes`: the most intermediate memory live at once when each buffer is freed after
//!   its last reader — what the executor actually holds;
//! - `arena_bytes`: the total size of the buffers a size-keyed free list hands out, where a
//!   node takes a freed buffer of exactly its size when there is one (what a static arena
//!   would reserve; ≥ `peak_bytes`);
//! - `intermediate_bytes`: the sum of every intermediate buffer, i.e. memory without reuse.
//!
//! Views (reshape, permute, expand, narrow) allocate nothing and extend their source's life.
//! An elementwise node whose operand dies at that node writes into the operand's buffer
//! (in place), so it allocates nothing either.

use std::collections::{HashMap, HashSet};
use std::sync::Mutex;

use convnet_tensor::Element;
use convnet_tensor::buffers::{BufferPool, PoolStats};
use smallvec::SmallVec;

use crate::error::{AutogradError, Result};
use crate::fuse::{Fusion, plan_fusion};
use crate::graph::{Graph, NodeId};
use crate::op::Op;
use crate::rule::OutputBuffer;

/// How a step gets its output buffer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Alloc {
    /// Supplied from outside (feed, parameter, constant): not an intermediate.
    External,
    /// A view of operand 0: no buffer of its own.
    View,
    /// Overwrites the buffer of operand `pos`.
    InPlace(usize),
    /// A new buffer (possibly a recycled one of the same size).
    Fresh,
}

#[derive(Debug, Clone)]
pub(crate) struct Step<T: Element> {
    pub node: NodeId,
    pub op: Op<T>,
    pub name: String,
    pub inputs: SmallVec<[usize; 4]>,
    pub shape: Vec<usize>,
    pub alloc: Alloc,
    /// What the op runs on at these shapes, where it says (for profiles).
    pub kernel: Option<String>,
    /// Steps whose values are dropped after this step runs.
    pub release: Vec<usize>,
    /// Whether a fused group computes this step ([`crate::fuse`]).
    pub fusion: Fusion,
    /// For a fused group's leader: the group input (an index into its `inputs`) whose buffer,
    /// dying at the group, the leader's value is written into.
    pub group_in_place: Option<usize>,
}

impl<T: Element> Step<T> {
    /// The group this step belongs to runs at the returned step (itself when alone).
    fn runs_at(&self, own: usize) -> usize {
        match self.fusion {
            Fusion::Member { leader } => leader,
            Fusion::Alone | Fusion::Leader(_) => own,
        }
    }
}

/// A compiled, reusable execution plan for some outputs of a graph at one batch size.
#[derive(Debug, Clone)]
pub struct Plan<T: Element = f32> {
    pub(crate) steps: Vec<Step<T>>,
    pub(crate) outputs: Vec<usize>,
    pub(crate) batch: Option<usize>,
    pub(crate) graph_inputs: HashSet<String>,
    pub(crate) step_of: HashMap<NodeId, usize>,
    peak_bytes: usize,
    arena_bytes: usize,
    intermediate_bytes: usize,
    external_bytes: usize,
    /// The buffers this plan's intermediates free, kept for its next run.
    pub(crate) buffers: RunBuffers<T>,
}

/// A plan's pool of freed intermediate buffers ([`convnet_tensor::buffers`]), installed on the
/// running thread for each run and taken back after it. Runs of one plan on several threads
/// at once each get what is free at their start (the first takes it all, the others start
/// empty), and merge what they hand back.
#[derive(Debug, Default)]
pub(crate) struct RunBuffers<T: Element>(Mutex<BufferPool<T>>);

impl<T: Element> RunBuffers<T> {
    /// Everything now free, leaving the shared pool empty.
    pub(crate) fn take(&self) -> BufferPool<T> {
        std::mem::take(&mut *self.lock())
    }

    /// Returns a run's pool, merging it with what other runs returned meanwhile.
    pub(crate) fn put_back(&self, pool: BufferPool<T>) {
        self.lock().absorb(pool);
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, BufferPool<T>> {
        // A run that panicked holding the lock left a pool of plain buffers: still usable.
        self.0.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl<T: Element> Clone for RunBuffers<T> {
    /// A clone starts with no buffers of its own.
    fn clone(&self) -> Self {
        Self::default()
    }
}

/// The op may write into the buffer of an operand that dies at it.
fn is_elementwise<T: Element>(op: &Op<T>) -> bool {
    op.rule()
        .is_some_and(|r| r.output_buffer() == OutputBuffer::Elementwise)
}

impl<T: Element> Plan<T> {
    /// Compiles a plan for `outputs`, with neighbouring pointwise nodes fused into single
    /// passes ([`Plan::fused_groups`]). `batch` fixes the open batch size; it is required when
    /// a needed node's shape mentions it.
    pub fn compile(graph: &Graph<T>, outputs: &[NodeId], batch: Option<usize>) -> Result<Self> {
        Self::compile_with(graph, outputs, batch, true)
    }

    /// Compiles a plan that runs every node on its own, one pass over memory each, as the
    /// graph has them: the reference a fused plan is checked and measured against.
    pub fn compile_unfused(
        graph: &Graph<T>,
        outputs: &[NodeId],
        batch: Option<usize>,
    ) -> Result<Self> {
        Self::compile_with(graph, outputs, batch, false)
    }

    fn compile_with(
        graph: &Graph<T>,
        outputs: &[NodeId],
        batch: Option<usize>,
        fuse: bool,
    ) -> Result<Self> {
        for &o in outputs {
            graph.node(o)?;
        }
        // Needed nodes: everything the outputs depend on.
        let mut needed = vec![false; graph.len()];
        let mut stack: Vec<NodeId> = outputs.to_vec();
        while let Some(n) = stack.pop() {
            if !std::mem::replace(&mut needed[n.index()], true) {
                stack.extend(graph.inputs_unchecked(n));
            }
        }
        let mut steps: Vec<Step<T>> = Vec::new();
        let mut step_of = HashMap::new();
        for id in graph.node_ids().filter(|id| needed[id.index()]) {
            let node = graph.node_unchecked(id);
            let shape = match (node.shape.to_fixed(), batch) {
                (Some(s), _) => s,
                (None, Some(b)) => node.shape.resolve(b),
                (None, None) => {
                    return Err(AutogradError::BatchSize {
                        detail: format!(
                            "node `{}` has shape {} but the plan was compiled without a batch size",
                            node.name, node.shape
                        ),
                    });
                }
            };
            let inputs: SmallVec<[usize; 4]> = graph
                .inputs_unchecked(id)
                .iter()
                .map(|i| step_of[i])
                .collect();
            let alloc = match &node.op {
                Op::Input | Op::IndexInput | Op::Param(_) | Op::Constant(_) => Alloc::External,
                Op::Fill(_) => Alloc::Fresh,
                Op::Apply(rule) => match rule.output_buffer() {
                    OutputBuffer::View => Alloc::View,
                    OutputBuffer::Fresh | OutputBuffer::Elementwise => Alloc::Fresh,
                },
            };
            let kernel = node.op.rule().and_then(|rule| {
                let operand_shapes: SmallVec<[&[usize]; 4]> = inputs
                    .iter()
                    .map(|&p: &usize| steps[p].shape.as_slice())
                    .collect();
                rule.kernel(&operand_shapes)
            });
            step_of.insert(id, steps.len());
            steps.push(Step {
                node: id,
                op: node.op.clone(),
                name: node.name.clone(),
                inputs,
                shape,
                alloc,
                kernel,
                release: Vec::new(),
                fusion: Fusion::Alone,
                group_in_place: None,
            });
        }
        let outputs: Vec<usize> = outputs.iter().map(|o| step_of[o]).collect();
        let mut plan = Plan {
            steps,
            outputs,
            batch,
            graph_inputs: graph
                .node_ids()
                .filter(|&id| graph.node_unchecked(id).op.is_input())
                .map(|id| graph.node_unchecked(id).name.clone())
                .collect(),
            step_of,
            peak_bytes: 0,
            arena_bytes: 0,
            intermediate_bytes: 0,
            external_bytes: 0,
            buffers: RunBuffers::default(),
        };
        if fuse {
            plan_fusion(&mut plan.steps, &plan.outputs);
        }
        plan.schedule_memory();
        Ok(plan)
    }

    /// Liveness, in-place decisions, releases and the memory figures.
    #[allow(clippy::needless_range_loop)] // steps refer to each other by index
    fn schedule_memory(&mut self) {
        let n = self.steps.len();
        let elem = std::mem::size_of::<T>();
        // A fused member reads its operands when its group runs, at the leader; reads inside
        // a group never touch a stored value.
        let mut last_use: Vec<usize> = (0..n).collect();
        for (i, s) in self.steps.iter().enumerate() {
            let at = s.runs_at(i);
            for &p in &s.inputs {
                if self.steps[p].runs_at(p) != at || matches!(s.fusion, Fusion::Alone) {
                    last_use[p] = last_use[p].max(at);
                }
            }
        }
        for &o in &self.outputs {
            last_use[o] = usize::MAX;
        }
        // Every step's value is dropped after its last reader (outputs never).
        for i in 0..n {
            if last_use[i] != usize::MAX && last_use[i] > i {
                let at = last_use[i];
                self.steps[at].release.push(i);
            }
        }
        // Phase 1: views share their source's buffer and extend its life.
        let mut root: Vec<usize> = (0..n).collect();
        let mut death: Vec<usize> = last_use.clone();
        for i in 0..n {
            if self.steps[i].alloc == Alloc::View {
                root[i] = root[self.steps[i].inputs[0]];
                death[root[i]] = death[root[i]].max(death[i]);
            }
        }
        // Phase 2: an elementwise step (or a fused group, at its leader) whose operand's buffer
        // dies at that step takes it over.
        for i in 0..n {
            let ins: Vec<usize> = match &self.steps[i].fusion {
                Fusion::Alone if is_elementwise(&self.steps[i].op) => self.steps[i].inputs.to_vec(),
                Fusion::Leader(group) => group.inputs.clone(),
                _ => continue,
            };
            if ins.len() == 2 && ins[0] == ins[1] {
                continue;
            }
            let numel: usize = self.steps[i].shape.iter().product();
            let pick = ins.iter().position(|&p| {
                let r = root[p];
                self.steps[p].alloc != Alloc::View
                    && self.steps[r].alloc == Alloc::Fresh
                    && death[r] == i
                    && self.steps[r].shape.iter().product::<usize>() == numel
            });
            if let Some(pos) = pick {
                let r = root[ins[pos]];
                match self.steps[i].fusion {
                    Fusion::Leader(_) => self.steps[i].group_in_place = Some(pos),
                    _ => self.steps[i].alloc = Alloc::InPlace(pos),
                }
                root[i] = r;
                death[r] = death[i];
                // Views of this step now view `r`.
                for v in i + 1..n {
                    if self.steps[v].alloc == Alloc::View && root[self.steps[v].inputs[0]] == r {
                        root[v] = r;
                    }
                }
            }
        }
        let bytes = |s: &Step<T>| s.shape.iter().product::<usize>() * elem;
        let mut deaths_at: HashMap<usize, Vec<usize>> = HashMap::new();
        let (mut live, mut peak, mut total, mut external) = (0usize, 0usize, 0usize, 0usize);
        // Size-keyed free list for the arena figure.
        let mut free: HashMap<usize, usize> = HashMap::new();
        let mut arena = 0usize;
        // What each step brings into being: itself, or for a fused group's leader the
        // members it writes out (members kept in tiles take no memory at all).
        let born_at = |i: usize| -> Vec<usize> {
            match &self.steps[i].fusion {
                Fusion::Alone => vec![i],
                Fusion::Member { .. } => Vec::new(),
                Fusion::Leader(group) => group.outputs.clone(),
            }
        };
        for i in 0..n {
            for j in born_at(i) {
                let s = &self.steps[j];
                let alloc = match s.group_in_place {
                    Some(k) => Alloc::InPlace(k),
                    None => s.alloc,
                };
                match alloc {
                    Alloc::External => external += bytes(s),
                    Alloc::Fresh => {
                        let b = bytes(s);
                        total += b;
                        live += b;
                        match free.get_mut(&b) {
                            Some(k) if *k > 0 => *k -= 1,
                            _ => arena += b,
                        }
                        if death[j] != usize::MAX {
                            deaths_at.entry(death[j]).or_default().push(j);
                        }
                    }
                    // Counted in the no-reuse sum, but it allocates nothing.
                    Alloc::InPlace(_) => total += bytes(s),
                    Alloc::View => {}
                }
            }
            peak = peak.max(live);
            for r in deaths_at.remove(&i).unwrap_or_default() {
                let b = bytes(&self.steps[r]);
                live -= b;
                *free.entry(b).or_insert(0) += 1;
            }
        }
        self.peak_bytes = peak;
        self.arena_bytes = arena;
        self.intermediate_bytes = total;
        self.external_bytes = external;
    }

    /// Most intermediate memory live at once (bytes), known before anything runs.
    pub fn peak_bytes(&self) -> usize {
        self.peak_bytes
    }

    /// What the plan's buffer pool served over all runs so far. After the first run, a step of
    /// the same plan takes most intermediate buffers from the pool; it makes again those of the
    /// previous run's outputs (the caller kept them) and of values still shared with a live
    /// view when they were released.
    pub fn buffer_stats(&self) -> PoolStats {
        self.buffers.lock().stats()
    }

    /// Total size of buffers under size-keyed free-list reuse (what an arena would reserve).
    pub fn arena_bytes(&self) -> usize {
        self.arena_bytes
    }

    /// Sum of every intermediate buffer: the memory a step would need without any reuse.
    pub fn intermediate_bytes(&self) -> usize {
        self.intermediate_bytes
    }

    /// Feeds, parameters and constants the plan reads (not counted as intermediates).
    pub fn external_bytes(&self) -> usize {
        self.external_bytes
    }

    /// Number of nodes the plan runs (leaves included).
    pub fn len(&self) -> usize {
        self.steps.len()
    }

    /// True when the plan runs no nodes (it was compiled for no outputs).
    pub fn is_empty(&self) -> bool {
        self.steps.is_empty()
    }

    /// Number of steps (a fused group counting once) that write into a dying operand's
    /// buffer.
    pub fn in_place_steps(&self) -> usize {
        self.steps
            .iter()
            .filter(|s| matches!(s.alloc, Alloc::InPlace(_)) || s.group_in_place.is_some())
            .count()
    }

    /// Number of fused groups: runs of pointwise nodes the plan evaluates as one pass.
    pub fn fused_groups(&self) -> usize {
        self.steps
            .iter()
            .filter(|s| matches!(s.fusion, Fusion::Leader(_)))
            .count()
    }

    /// Number of nodes computed inside fused groups (their leaders included).
    pub fn fused_nodes(&self) -> usize {
        self.steps
            .iter()
            .filter(|s| !matches!(s.fusion, Fusion::Alone))
            .count()
    }

    /// The batch size the plan was compiled for.
    pub fn batch(&self) -> Option<usize> {
        self.batch
    }

    /// `(node name, kernel)` for every planned node whose op says what it runs on (each
    /// convolution pass and its chosen kernel), in execution order.
    pub fn kernels(&self) -> impl Iterator<Item = (&str, &str)> {
        self.steps
            .iter()
            .filter_map(|s| Some((s.name.as_str(), s.kernel.as_deref()?)))
    }

    /// Names of the planned nodes in execution order.
    pub fn node_names(&self) -> impl Iterator<Item = &str> {
        self.steps.iter().map(|s| s.name.as_str())
    }
}
