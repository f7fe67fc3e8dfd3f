//! The runners a [`Model`] makes: [`TrainStep`] (forward, loss, gradients and running-statistics
//! updates in one plan) and [`Inference`] (eval-mode forward passes), with what they return.
//! Each compiles its plans per batch size on first use and caches them.

use std::collections::BTreeMap;
use std::sync::Arc;

use convnet_autograd::{Feeds, NodeId, NodeTiming, ParamStore, Plan, PlanCache, RunOptions, grad};
use convnet_tensor::{ConvnetRng, Element, Precision, Tensor, rng_from_seed};

use crate::error::{NnError, Result};
use crate::loss::{Loss, TargetKind, Targets};
use crate::model::{Model, ModelGraph, TARGETS};
use crate::module::LayerRecord;

/// Adds the targets placeholder (an index input for class labels) and the loss to a model
/// graph.
fn attach_loss<T: Element>(mg: &mut ModelGraph<T>, loss: &dyn Loss<T>) -> Result<AttachedLoss> {
    let ts = loss.targets_shape(mg.graph.shape(mg.output)?)?;
    let targets = match loss.target_kind() {
        TargetKind::Classes => mg.graph.index_input(TARGETS, ts)?,
        TargetKind::Values => mg.graph.input(TARGETS, ts)?,
    };
    let l = mg
        .graph
        .scope("loss", |g| loss.build(g, mg.output, targets))?;
    Ok(AttachedLoss {
        targets,
        loss: l,
        kind: loss.target_kind(),
        name: loss.name(),
    })
}

/// A loss added to a graph: its targets placeholder, its output, and how it is fed.
#[derive(Debug, Clone, Copy)]
struct AttachedLoss {
    targets: NodeId,
    loss: NodeId,
    kind: TargetKind,
    name: &'static str,
}

/// Checks an input batch against the model's per-sample shape; returns the batch size.
fn batch_of<T: Element>(mg: &ModelGraph<T>, x: &Tensor<T>) -> Result<usize> {
    let want = mg.graph.shape(mg.input)?.clone();
    if x.rank() != want.rank() || x.shape().is_empty() || x.shape()[0] == 0 {
        return Err(NnError::Usage(format!(
            "input batch has shape {:?}, the model takes {want}",
            x.shape()
        )));
    }
    Ok(x.shape()[0])
}

/// A per-layer value captured by an inspecting run.
#[derive(Debug, Clone)]
pub struct LayerTrace<T: Element = f32> {
    /// The layer's path, e.g. `features.0`.
    pub name: String,
    /// The layer's type, e.g. `Conv2d`.
    pub kind: &'static str,
    /// The layer's output for the batch.
    pub activation: Tensor<T>,
    /// The loss gradient w.r.t. this output (training runs only).
    pub gradient: Option<Tensor<T>>,
}

/// What one training step produced.
#[derive(Debug, Clone)]
pub struct StepOutput<T: Element = f32> {
    /// The loss on the batch.
    pub loss: f64,
    /// The model output (logits) for the batch.
    pub output: Tensor<T>,
    /// Gradient of every trainable parameter, by name (the optimizers' `Gradients`).
    pub grads: BTreeMap<String, Tensor<T>>,
    /// Per-layer activations and gradients, when run with [`TrainStep::run_inspect`].
    pub layers: Vec<LayerTrace<T>>,
    /// Every node's time, with the kernel it ran on, when profiling is switched on
    /// ([`TrainStep::set_run_options`]); empty otherwise.
    pub timings: Vec<NodeTiming>,
    /// Wall time of the plan's run (feeds, every node, bookkeeping).
    pub run_time: std::time::Duration,
}

/// Forward, loss, gradients and running-statistics updates, compiled once per batch size.
#[derive(Debug)]
pub struct TrainStep<T: Element = f32> {
    mg: ModelGraph<T>,
    targets: NodeId,
    loss: NodeId,
    target_kind: TargetKind,
    loss_name: &'static str,
    /// (parameter name, gradient node).
    param_grads: Vec<(String, NodeId)>,
    /// Row layers with the gradient node of their output.
    layer_grads: Vec<(usize, NodeId)>,
    rng: ConvnetRng,
    plans: PlanCache<T>,
    options: RunOptions,
}

impl<T: Element> TrainStep<T> {
    pub(crate) fn new(
        model: &Model<T>,
        mut mg: ModelGraph<T>,
        loss: &dyn Loss<T>,
        seed: u64,
    ) -> Result<Self> {
        let attached = attach_loss(&mut mg, loss)?;
        let (targets, l) = (attached.targets, attached.loss);
        let mut wrt = Vec::new();
        let mut names = Vec::new();
        for p in model
            .specs
            .iter()
            .filter(|p| p.trainable && !model.is_frozen(&p.name))
        {
            if let Some(id) = mg.graph.param_node(&p.name) {
                wrt.push(id);
                names.push(p.name.clone());
            }
        }
        let layer_idx: Vec<usize> = (0..mg.layers.len()).filter(|&i| mg.layers[i].row).collect();
        wrt.extend(layer_idx.iter().map(|&i| mg.layers[i].output));
        let grads = grad(&mut mg.graph, l, &wrt)?;
        let n_params = names.len();
        let param_grads = names.into_iter().zip(grads.iter().copied()).collect();
        let layer_grads = layer_idx
            .into_iter()
            .zip(grads[n_params..].iter().copied())
            .collect();
        Ok(TrainStep {
            mg,
            targets,
            loss: l,
            target_kind: attached.kind,
            loss_name: attached.name,
            param_grads,
            layer_grads,
            rng: rng_from_seed(seed),
            plans: PlanCache::new(),
            options: RunOptions::default(),
        })
    }

    /// Restarts the Dropout-mask generator from `seed`. A training loop that reseeds before
    /// every step from (run seed, step number) draws masks that depend only on the step, so a
    /// run resumed from a checkpoint sees exactly the masks an uninterrupted run would have.
    pub fn reseed(&mut self, seed: u64) {
        self.rng = rng_from_seed(seed);
    }

    /// The training graph and its records.
    pub fn graph(&self) -> &ModelGraph<T> {
        &self.mg
    }

    /// The scalar loss node of the training graph.
    pub fn loss_node(&self) -> NodeId {
        self.loss
    }

    /// The targets placeholder, named [`TARGETS`] (an index input for class labels).
    pub fn targets_node(&self) -> NodeId {
        self.targets
    }

    /// Check mode (NaN/∞ naming the node) and profiling for later runs.
    pub fn set_run_options(&mut self, options: RunOptions) {
        self.options = options;
    }

    /// The options later runs use.
    pub fn run_options(&self) -> RunOptions {
        self.options
    }

    /// Precision of the convolutions' and matmuls' products in later runs.
    pub fn set_precision(&mut self, precision: Precision) {
        self.options.precision = precision;
    }

    /// Peak intermediate memory of a step at `batch`, known before it runs.
    pub fn peak_bytes(&mut self, batch: usize) -> Result<usize> {
        Ok(self.plan(batch, false)?.peak_bytes())
    }

    fn outputs(&self, inspect: bool) -> Vec<NodeId> {
        let mut v = vec![self.loss, self.mg.output];
        v.extend(self.param_grads.iter().map(|(_, g)| *g));
        v.extend(self.mg.state_updates.iter().map(|s| s.node));
        if inspect {
            for &(i, g) in &self.layer_grads {
                v.push(self.mg.layers[i].output);
                v.push(g);
            }
        }
        v
    }

    fn plan(&self, batch: usize, inspect: bool) -> Result<Arc<Plan<T>>> {
        Ok(self
            .plans
            .get(&self.mg.graph, &self.outputs(inspect), Some(batch))?)
    }

    /// One step on a batch: returns loss, output and gradients, and writes BatchNorm's new
    /// running statistics into `params`. `targets` as the loss expects (labels `[B]` of class
    /// indices for classification losses; see [`crate::loss`]).
    pub fn run<'t>(
        &mut self,
        params: &mut ParamStore<T>,
        input: &Tensor<T>,
        targets: impl Into<Targets<'t, T>>,
    ) -> Result<StepOutput<T>> {
        self.run_impl(params, input, targets.into(), false)
    }

    /// Like [`TrainStep::run`], also returning every layer's output and its gradient.
    pub fn run_inspect<'t>(
        &mut self,
        params: &mut ParamStore<T>,
        input: &Tensor<T>,
        targets: impl Into<Targets<'t, T>>,
    ) -> Result<StepOutput<T>> {
        self.run_impl(params, input, targets.into(), true)
    }

    fn run_impl(
        &mut self,
        params: &mut ParamStore<T>,
        input: &Tensor<T>,
        targets: Targets<'_, T>,
        inspect: bool,
    ) -> Result<StepOutput<T>> {
        let batch = batch_of(&self.mg, input)?;
        let mut feeds = Feeds::new().with(self.mg.input, input.clone()).with(
            self.targets,
            targets.to_feed(self.target_kind, self.loss_name)?,
        );
        self.mg
            .fill_random_inputs(&mut feeds, batch, &mut self.rng)?;
        let options = self.options;
        let run = self
            .plan(batch, inspect)?
            .run_with(&feeds, params, options)?;
        let (timings, run_time) = (run.timings, run.total);
        let mut it = run.outputs.into_iter();
        let mut next = || {
            it.next()
                .ok_or_else(|| NnError::Usage("missing plan output".into()))
        };
        let loss = next()?.data()[0].as_f64();
        let output = next()?;
        let mut grads = BTreeMap::new();
        for (name, _) in &self.param_grads {
            grads.insert(name.clone(), next()?);
        }
        // A step whose loss is not finite leaves the running statistics as they were: a bad
        // batch never poisons them, and the step can be re-run (in check mode) as it was.
        let mut updates = Vec::with_capacity(self.mg.state_updates.len());
        for s in &self.mg.state_updates {
            updates.push((&s.name, next()?));
        }
        if loss.is_finite() {
            for (name, value) in updates {
                params.set(name, value)?;
            }
        }
        let mut layers = Vec::new();
        if inspect {
            for &(i, _) in &self.layer_grads {
                let r = &self.mg.layers[i];
                let activation = next()?;
                let gradient = Some(next()?);
                layers.push(LayerTrace {
                    name: r.name.clone(),
                    kind: r.kind,
                    activation,
                    gradient,
                });
            }
        }
        Ok(StepOutput {
            loss,
            output,
            grads,
            layers,
            timings,
            run_time,
        })
    }
}

/// Eval-mode forward passes (optionally with a loss for validation).
#[derive(Debug)]
pub struct Inference<T: Element = f32> {
    mg: ModelGraph<T>,
    loss: Option<AttachedLoss>,
    plans: PlanCache<T>,
    options: RunOptions,
}

impl<T: Element> Inference<T> {
    pub(crate) fn new(mut mg: ModelGraph<T>, loss: Option<&dyn Loss<T>>) -> Result<Self> {
        let loss = match loss {
            Some(l) => Some(attach_loss(&mut mg, l)?),
            None => None,
        };
        Ok(Inference {
            mg,
            loss,
            plans: PlanCache::new(),
            options: RunOptions::default(),
        })
    }

    /// The eval graph and its records.
    pub fn graph(&self) -> &ModelGraph<T> {
        &self.mg
    }

    /// Precision of the convolutions' and matmuls' products in later runs.
    pub fn set_precision(&mut self, precision: Precision) {
        self.options.precision = precision;
    }

    /// Precision, fusion and check mode of later runs (profiling is not reported here).
    pub fn set_run_options(&mut self, options: RunOptions) {
        self.options = options;
    }

    fn run_nodes(
        &self,
        nodes: &[NodeId],
        params: &ParamStore<T>,
        feeds: &Feeds<T>,
        batch: usize,
    ) -> Result<Vec<Tensor<T>>> {
        let plan = self.plans.get(&self.mg.graph, nodes, Some(batch))?;
        Ok(plan.run_with(feeds, params, self.options)?.outputs)
    }

    /// The model output for a batch.
    pub fn forward(&self, params: &ParamStore<T>, input: &Tensor<T>) -> Result<Tensor<T>> {
        let batch = batch_of(&self.mg, input)?;
        let feeds = Feeds::new().with(self.mg.input, input.clone());
        let mut out = self.run_nodes(&[self.mg.output], params, &feeds, batch)?;
        out.pop()
            .ok_or_else(|| NnError::Usage("missing output".into()))
    }

    /// The output and every summary-row layer's activation for a batch.
    pub fn forward_inspect(
        &self,
        params: &ParamStore<T>,
        input: &Tensor<T>,
    ) -> Result<(Tensor<T>, Vec<LayerTrace<T>>)> {
        let batch = batch_of(&self.mg, input)?;
        let feeds = Feeds::new().with(self.mg.input, input.clone());
        let rows: Vec<&LayerRecord> = self.mg.layers.iter().filter(|r| r.row).collect();
        let mut nodes = vec![self.mg.output];
        nodes.extend(rows.iter().map(|r| r.output));
        let mut out = self.run_nodes(&nodes, params, &feeds, batch)?.into_iter();
        let y = out
            .next()
            .ok_or_else(|| NnError::Usage("missing output".into()))?;
        let traces = rows
            .iter()
            .zip(out)
            .map(|(r, activation)| LayerTrace {
                name: r.name.clone(),
                kind: r.kind,
                activation,
                gradient: None,
            })
            .collect();
        Ok((y, traces))
    }

    /// `(loss, output)` against targets; only for runners made by [`Model::evaluator`].
    pub fn evaluate<'t>(
        &self,
        params: &ParamStore<T>,
        input: &Tensor<T>,
        targets: impl Into<Targets<'t, T>>,
    ) -> Result<(f64, Tensor<T>)> {
        let attached = self.loss.as_ref().ok_or_else(|| {
            NnError::Usage("this runner has no loss; build it with Model::evaluator".into())
        })?;
        let batch = batch_of(&self.mg, input)?;
        let targets = targets.into().to_feed(attached.kind, attached.name)?;
        let (tnode, lnode) = (attached.targets, attached.loss);
        let feeds = Feeds::new()
            .with(self.mg.input, input.clone())
            .with(tnode, targets);
        let mut out = self
            .run_nodes(&[lnode, self.mg.output], params, &feeds, batch)?
            .into_iter();
        let loss = out
            .next()
            .ok_or_else(|| NnError::Usage("missing loss".into()))?;
        let y = out
            .next()
            .ok_or_else(|| NnError::Usage("missing output".into()))?;
        Ok((loss.data()[0].as_f64(), y))
    }
}
