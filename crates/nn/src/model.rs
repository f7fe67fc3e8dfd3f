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

use std::collections::HashMap;
use std::sync::Arc;

use convnet_autograd::{Feeds, Graph, GraphOptions, NodeId, ParamStore, Replicas, Shape};
use convnet_tensor::kernels::conv::{ConvAlgorithm, ConvKernel, choose_kernel};
use convnet_tensor::{ConvnetRng, Element, Tensor, rng_from_seed};

use crate::error::{NnError, Result};
use crate::loss::Loss;
use crate::module::{Ctx, LayerRecord, Mode, Module, ParamSpec, RandomInput, StateUpdate};
use crate::runners::{Inference, TrainStep};
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
    pub(crate) specs: Vec<ParamSpec>,
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
