//! A model: one module tree plus its input shape, from which the training graph and the
//! inference graph are both built — so the two cannot disagree, and neither can be run in the
//! other's mode by accident.
//!
//! - [`TrainStep`] is built in [`Mode::Train`]: forward, loss, every trainable parameter's
//!   gradient and the BatchNorm running-statistics updates in one graph. `run` fills the Dropout
//!   masks from the step's own seeded generator, evaluates everything in one plan, writes the
//!   new running statistics into the [`ParamStore`] and returns the loss, output and gradients
//!   (ready for an optimizer's `step`).
//! - [`Inference`] is built in [`Mode::Eval`]: no masks, BatchNorm with running statistics.
//!   It has no way to update statistics or draw masks.
//! - Both expose the per-layer outputs by layer name (and `TrainStep` their gradients) for
//!   inspection tools.
//!
//! Plans are compiled per batch size on first use and cached (a last, smaller batch gets its own).

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use convnet_autograd::{
    Feeds, Graph, GraphOptions, NodeId, NodeTiming, ParamStore, Plan, PlanCache, Replicas,
    RunOptions, Shape, grad,
};
use convnet_tensor::kernels::conv::{ConvAlgorithm, ConvKernel, choose_kernel};
use convnet_tensor::{ConvnetRng, Element, Precision, Tensor, rng_from_seed};

use crate::error::{NnError, Result};
use crate::loss::{Loss, TargetKind, Targets};
use crate::module::{Ctx, LayerRecord, Mode, Module, ParamSpec, RandomInput, StateUpdate};
use crate::summary::Summary;

/// The name of the input placeholder of every model graph.
pub const INPUT: &str = "input";
/// The name of the targets (labels) placeholder of training and evaluation graphs.
pub const TARGETS: &str = "targets";

/// Builder for a [`Model`] (strict geometry lives here).
#[derive(Debug)]
pub struct ModelBuilder<T: Element = f32> {
    root: Box<dyn Module<T>>,
    input_shape: Vec<usize>,
    options: GraphOptions,
}

impl<T: Element> ModelBuilder<T> {
    /// Reject convolution/pooling geometry where `(N − F + 2P)/S` is not whole (default off:
    /// the floor rule).
    pub fn strict_geometry(mut self, on: bool) -> Self {
        self.options.strict_geometry = on;
        self
    }

    /// Validates the definition by building its graphs symbolically: every shape mistake and
    /// invalid hyper-parameter is reported here, naming the layer.
    pub fn build(mut self) -> Result<Model<T>> {
        self.root.assign_default_names("");
        let root_name = match self.root.name() {
            "" => "the model's root".to_string(),
            name => format!("`{name}`"),
        };
        check_named(self.root.as_ref(), &root_name)?;
        // Names are known now, sizes not yet: the duplicate check needs only the names.
        let names = self.root.params();
        let mut seen: HashMap<&str, &str> = HashMap::new();
        for p in &names {
            if let Some(first) = seen.insert(&p.name, &p.owner) {
                return Err(NnError::DuplicateParameter {
                    name: p.name.clone(),
                    first: first.to_string(),
                    second: p.owner.clone(),
                });
            }
        }
        let mut model = Model {
            root: self.root,
            input_shape: self.input_shape,
            options: self.options,
            specs: Vec::new(),
            output_shape: Shape::scalar(),
            frozen: Vec::new(),
            batch_norm_replicas: None,
        };
        // The first build settles every input size left open (`Linear::to`), so the
        // parameter shapes are read after it.
        let eval = model.build_graph(Mode::Eval)?;
        model.specs = model.root.params();
        model.build_graph(Mode::Train)?;
        model.output_shape = eval.graph.shape(eval.output)?.clone();
        Ok(model)
    }
}

/// Every layer below `m` has a name once default names are assigned: its parameter keys and
/// its summary row need one. An unnamed container that is no row and owns no parameters is a
/// pure grouping (its children carry full paths, as in the zoo's GoogLeNet) and may stay
/// unnamed. A nameless layer sits in a custom container that does not name its children.
fn check_named<T: Element>(m: &dyn Module<T>, parent: &str) -> Result<()> {
    for c in m.children() {
        if c.name().is_empty() && (c.summary_row() || !c.own_params().is_empty()) {
            return Err(NnError::Usage(format!(
                "a {} inside {parent} has no name; give it one, or put it in a container that \
                 names its children by position (Sequential, Concat, Residual)",
                c.kind()
            )));
        }
        let here = match c.name() {
            "" => parent.to_string(),
            name => format!("`{name}`"),
        };
        check_named(c, &here)?;
    }
    Ok(())
}

/// A module tree with its per-sample input shape.
#[derive(Debug)]
pub struct Model<T: Element = f32> {
    root: Box<dyn Module<T>>,
    input_shape: Vec<usize>,
    options: GraphOptions,
    specs: Vec<ParamSpec>,
    output_shape: Shape,
    /// Layer-path prefixes kept fixed in training (see [`Model::freeze`]).
    frozen: Vec<String>,
    /// Training graphs' BatchNorm statistics are averaged over these (see
    /// [`Model::sync_batch_norm`]).
    batch_norm_replicas: Option<Arc<dyn Replicas>>,
}

/// The kernels of a convolution's forward, input-gradient and weight-gradient passes.
pub type PassKernels = [Option<ConvKernel>; 3];

pub use convnet_autograd::path_under;

/// A graph built from a model in one mode, with everything needed to run or inspect it.
#[derive(Debug, Clone)]
pub struct ModelGraph<T: Element = f32> {
    /// The graph itself.
    pub graph: Graph<T>,
    /// The mode it was built in.
    pub mode: Mode,
    /// The `[B, …input_shape]` placeholder, named [`INPUT`].
    pub input: NodeId,
    /// The model's output node: the root module's output, before any loss.
    pub output: NodeId,
    /// Every module call, in completion order.
    pub layers: Vec<LayerRecord>,
    /// Train mode: buffers' new values.
    pub state_updates: Vec<StateUpdate>,
    /// Train mode: Dropout masks to fill before each run.
    pub random_inputs: Vec<RandomInput>,
}

impl<T: Element> ModelGraph<T> {
    /// The output node of the layer named `name` (its first call).
    pub fn layer_output(&self, name: &str) -> Option<NodeId> {
        self.layers
            .iter()
            .find(|r| r.name == name)
            .map(|r| r.output)
    }

    /// Fresh Dropout masks for a batch, drawn from `rng`, added to `feeds`.
    pub fn fill_random_inputs(
        &self,
        feeds: &mut Feeds<T>,
        batch: usize,
        rng: &mut ConvnetRng,
    ) -> Result<()> {
        for r in &self.random_inputs {
            let keep = r.keep;
            let scale = T::of_f64(1.0 / keep);
            let u = Tensor::<T>::uniform_with(&r.shape.resolve(batch), 0.0, 1.0, rng)?;
            let k = T::of_f64(keep);
            feeds.insert(
                r.node,
                u.map(move |v| if v < k { scale } else { T::zero() }),
            );
        }
        Ok(())
    }
}

impl<T: Element> Model<T> {
    /// A builder for `root` taking inputs of per-sample shape `input_shape` (e.g. `[1, 28, 28]`).
    pub fn builder(root: impl Module<T> + 'static, input_shape: &[usize]) -> ModelBuilder<T> {
        ModelBuilder {
            root: Box::new(root),
            input_shape: input_shape.to_vec(),
            options: GraphOptions::default(),
        }
    }

    /// `Model::builder(root, input_shape).build()`.
    pub fn new(root: impl Module<T> + 'static, input_shape: &[usize]) -> Result<Self> {
        Self::builder(root, input_shape).build()
    }

    /// The root module, its default names assigned and its open input sizes settled.
    pub fn module(&self) -> &dyn Module<T> {
        self.root.as_ref()
    }

    /// Per-sample input shape.
    pub fn input_shape(&self) -> &[usize] {
        &self.input_shape
    }

    /// The size of the output's last axis when it is fixed (the class count of a classifier).
    pub fn num_classes(&self) -> Option<usize> {
        self.output_shape.dims().last().and_then(|d| d.fixed())
    }

    /// Symbolic output shape, e.g. `[B, 10]`.
    pub fn output_shape(&self) -> &Shape {
        &self.output_shape
    }

    /// The options every graph of the model is built with (see
    /// [`ModelBuilder::strict_geometry`]).
    pub fn options(&self) -> GraphOptions {
        self.options
    }

    /// Every parameter and buffer, in initialisation (and checkpoint) order.
    pub fn param_specs(&self) -> &[ParamSpec] {
        &self.specs
    }

    /// Number of trainable scalars.
    pub fn num_params(&self) -> usize {
        self.specs
            .iter()
            .filter(|p| p.trainable)
            .map(ParamSpec::numel)
            .sum()
    }

    /// Names of the module calls in completion order (the keys for per-layer activations).
    pub fn layer_names(&self) -> Result<Vec<String>> {
        Ok(self
            .build_graph(Mode::Eval)?
            .layers
            .into_iter()
            .map(|r| r.name)
            .collect())
    }

    /// Synchronised BatchNorm for data-parallel training: in training graphs built from now
    /// on, every BatchNorm layer computes its batch mean and variance over the global batch —
    /// the union of all replicas' shards, through [`Graph::replica_mean`] — instead of over
    /// this replica's shard, so that R replicas with equal shards normalise (and update their
    /// running statistics) exactly as one process on the whole batch does. Evaluation graphs,
    /// which use the running statistics, are unchanged. `None` goes back to per-replica
    /// statistics.
    pub fn sync_batch_norm(&mut self, replicas: Option<Arc<dyn Replicas>>) {
        self.batch_norm_replicas = replicas;
    }

    /// Whether training graphs synchronise BatchNorm (see [`Model::sync_batch_norm`]).
    pub fn batch_norm_synchronised(&self) -> bool {
        self.batch_norm_replicas.is_some()
    }

    /// Keeps the layers under each of `prefixes` (layer paths such as `conv1`, `layer1` or
    /// `features.0`) fixed in training: training steps compute no gradient for their
    /// parameters (so no optimizer changes them), and they run in eval mode — BatchNorm
    /// normalises with, and leaves unchanged, its running statistics; Dropout is off. This is
    /// fine-tuning's "frozen backbone". Returns the parameters and buffers now frozen; a
    /// prefix that names no layer is an error listing the top-level layers.
    pub fn freeze<S: AsRef<str>>(&mut self, prefixes: &[S]) -> Result<Vec<String>> {
        for p in prefixes {
            let p = p.as_ref();
            if !self.specs.iter().any(|s| path_under(&s.name, p)) {
                let mut tops: Vec<&str> = self
                    .specs
                    .iter()
                    .filter_map(|s| s.name.split('.').next())
                    .collect();
                tops.dedup();
                return Err(NnError::Usage(format!(
                    "freeze: no layer with parameters is called '{p}' or lies under it; the \
                     model's top-level layers are {}",
                    tops.join(", ")
                )));
            }
            if !self.frozen.iter().any(|f| f == p) {
                self.frozen.push(p.to_string());
            }
        }
        Ok(self
            .specs
            .iter()
            .filter(|s| self.is_frozen(&s.name))
            .map(|s| s.name.clone())
            .collect())
    }

    /// The prefixes given to [`Model::freeze`].
    pub fn frozen_prefixes(&self) -> &[String] {
        &self.frozen
    }

    /// Whether a layer or parameter path is frozen.
    pub fn is_frozen(&self, path: &str) -> bool {
        self.frozen.iter().any(|p| path_under(path, p))
    }

    /// Number of scalars training changes: the trainable parameters that are not frozen.
    pub fn num_trainable(&self) -> usize {
        self.specs
            .iter()
            .filter(|p| p.trainable && !self.is_frozen(&p.name))
            .map(ParamSpec::numel)
            .sum()
    }

    /// Fresh parameters and buffers drawn with a seeded generator.
    pub fn init_params(&self, seed: u64) -> Result<ParamStore<T>> {
        let mut store = ParamStore::new();
        self.root
            .init_params(&mut store, &mut rng_from_seed(seed))?;
        Ok(store)
    }

    /// Builds the graph for one mode (for custom runs and gradient checks).
    pub fn build_graph(&self, mode: Mode) -> Result<ModelGraph<T>> {
        self.build(mode, false)
    }

    /// The eval graph that inference and evaluation runners use: BatchNorm after a
    /// convolution is folded into it (`Conv(x, w)·s + t = Conv(x, w·s) + t`).
    pub fn build_inference_graph(&self) -> Result<ModelGraph<T>> {
        self.build(Mode::Eval, true)
    }

    fn build(&self, mode: Mode, fold_for_inference: bool) -> Result<ModelGraph<T>> {
        let mut graph = Graph::with_options(self.options);
        let input = graph.input(INPUT, Shape::with_batch(&self.input_shape))?;
        let mut ctx = Ctx::new(&mut graph, mode);
        ctx.frozen = self.frozen.clone();
        ctx.fold_for_inference = fold_for_inference;
        ctx.batch_norm_replicas = self.batch_norm_replicas.clone();
        let output = ctx.call(self.root.as_ref(), input)?;
        let Ctx {
            records,
            state_updates,
            random_inputs,
            ..
        } = ctx;
        Ok(ModelGraph {
            graph,
            mode,
            input,
            output,
            layers: records,
            state_updates,
            random_inputs,
        })
    }

    /// An inference runner (eval mode).
    pub fn inference(&self) -> Result<Inference<T>> {
        Inference::new(self.build_inference_graph()?, None)
    }

    /// An inference runner that also computes `loss` against fed targets (validation).
    pub fn evaluator(&self, loss: impl Loss<T> + 'static) -> Result<Inference<T>> {
        Inference::new(self.build_inference_graph()?, Some(&loss))
    }

    /// A training step (train mode) minimising `loss`; Dropout masks come from a generator
    /// seeded with `seed`.
    pub fn train_step(&self, loss: impl Loss<T> + 'static, seed: u64) -> Result<TrainStep<T>> {
        TrainStep::new(self, self.build_graph(Mode::Train)?, &loss, seed)
    }

    /// Which kernel runs each pass of every convolution at batch `batch` on this machine:
    /// `(layer, [forward, input gradient, weight gradient])`, the input gradient `None` for a
    /// convolution reading the model's input (training never computes it).
    pub fn conv_kernels(&self, batch: usize) -> Result<Vec<(String, PassKernels)>> {
        use convnet_autograd::ops::conv::ConvOp;
        use convnet_tensor::kernels::direct::Pass;
        let mg = self.build_graph(Mode::Eval)?;
        let g = &mg.graph;
        let mut out = Vec::new();
        for id in g.node_ids() {
            let Some(ConvOp::Conv2d(p)) = g.node(id)?.op.rule_as::<ConvOp>() else {
                continue;
            };
            let inputs = g.inputs(id)?;
            let (x, w) = (inputs[0], inputs[1]);
            let geometry = p.geometry(
                "conv2d",
                &g.shape(x)?.resolve(batch),
                &g.shape(w)?.resolve(batch),
            )?;
            let pick = |pass| {
                choose_kernel::<T>(pass, &geometry, ConvAlgorithm::Auto).map_err(NnError::from)
            };
            let input_grad = if x == mg.input {
                None
            } else {
                Some(pick(Pass::InputGrad)?)
            };
            let name = g.name(id)?;
            let layer = name.split('/').next().unwrap_or(name).to_string();
            out.push((
                layer,
                [
                    Some(pick(Pass::Forward)?),
                    input_grad,
                    Some(pick(Pass::WeightGrad)?),
                ],
            ));
        }
        Ok(out)
    }

    /// The summary at batch size `batch`, computed symbolically (no data, no parameters).
    pub fn summary(&self, batch: usize) -> Result<Summary> {
        let g = self.build_graph(Mode::Eval)?;
        let trainable = self.num_params() as u64;
        let buffers: u64 = self
            .specs
            .iter()
            .filter(|p| !p.trainable)
            .map(|p| p.numel() as u64)
            .sum();
        Summary::from_records(
            Shape::with_batch(&self.input_shape),
            &g.layers,
            batch,
            trainable,
            buffers,
            std::mem::size_of::<T>(),
        )
    }
}

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
    fn new(model: &Model<T>, mut mg: ModelGraph<T>, loss: &dyn Loss<T>, seed: u64) -> Result<Self> {
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
    fn new(mut mg: ModelGraph<T>, loss: Option<&dyn Loss<T>>) -> Result<Self> {
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
