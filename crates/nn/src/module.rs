//! The `Module` abstraction: a layer (or a tree of layers) that appends its computation to a
//! symbolic graph, declares its parameters by stable path-like names, and knows how to describe
//! itself in a model summary.
//!
//! Why a build context ([`Ctx`]) instead of a bare `&mut Graph`: the one definition of a model
//! is built twice, once per [`Mode`], and the context carries what differs — BatchNorm's
//! running-statistics updates (nodes the training plan must also evaluate and write back) and
//! Dropout's random masks (placeholders the training step fills from its seeded generator).
//! A layer never sees anything else, so it cannot run in the wrong mode by accident: the mode
//! is fixed when the graph is built, and a graph built for inference has no masks and no
//! statistics updates to forget.
//!
//! Names: every layer has its full path (`features.0`, `layer1.0.conv1`), and
//! its parameters are `<path>.weight`, `<path>.bias`, `<path>.running_mean`, … — the keys of
//! torchvision's state dicts, so pretrained weights load by name. The graph nodes a layer adds
//! are named `<path>/<op>` (one scope per layer, never nested), which is what autograd's shape
//! errors print. A layer may be constructed without a name (`Linear::to(10)`, or any
//! constructor given `""`): when the model is built, [`Module::assign_default_names`] gives it
//! its position in its container, so `Sequential::new("features")`'s third unnamed child is
//! `features.2` — the name torchvision's `nn.Sequential` would give it.
//!
//! Sizes: `Linear::to(10)` and `Conv2d::to(16, 5)` leave their input size open; it is taken
//! from the first input the layer is built on ([`InferredSize`]) — Keras' deferred `build`, or
//! PyTorch's `LazyLinear` — and checked as a fixed size on every later build.

use std::fmt;
use std::sync::{Arc, OnceLock};

use convnet_autograd::{Graph, NodeId, ParamStore, Replicas, Shape};
use convnet_tensor::{ConvnetRng, Element};

use crate::error::{NnError, Result};
use crate::init::Init;

/// Training or inference behaviour, fixed when a graph is built.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Mode {
    /// Dropout drops; BatchNorm normalises with batch statistics and updates running ones.
    Train,
    /// Dropout is the identity; BatchNorm uses its running statistics.
    Eval,
}

/// A parameter (or non-trained buffer) a layer declares: its key, shape and initialiser.
#[derive(Debug, Clone, PartialEq)]
pub struct ParamSpec {
    /// Full key, e.g. `features.0.weight`.
    pub name: String,
    /// Its shape, e.g. `[out, in]` for a linear weight.
    pub shape: Vec<usize>,
    /// How its initial value is drawn.
    pub init: Init,
    /// The fans the initialiser uses (a bias takes its weight's).
    pub fans: (usize, usize),
    /// `false` for buffers (running statistics): saved, but not trained.
    pub trainable: bool,
    /// The layer path that declared it.
    pub owner: String,
}

impl ParamSpec {
    /// A trainable parameter with fans computed from its own shape.
    pub fn new(owner: &str, local: &str, shape: &[usize], init: Init) -> Self {
        ParamSpec {
            name: join(owner, local),
            shape: shape.to_vec(),
            init,
            fans: crate::init::fans(shape),
            trainable: true,
            owner: owner.to_string(),
        }
    }

    /// Overrides the fans (for a bias, pass its weight's).
    pub fn with_fans(mut self, fans: (usize, usize)) -> Self {
        self.fans = fans;
        self
    }

    /// Marks it as a non-trained buffer.
    pub fn buffer(mut self) -> Self {
        self.trainable = false;
        self
    }

    /// Number of scalars: the product of the shape.
    pub fn numel(&self) -> usize {
        self.shape.iter().product()
    }
}

/// `owner.local`, or `local` alone when the owner path is empty.
pub fn join(owner: &str, local: &str) -> String {
    if owner.is_empty() {
        local.to_string()
    } else {
        format!("{owner}.{local}")
    }
}

/// Gives an unnamed module (`name` empty) the default path `path`; a name given at
/// construction is kept.
pub fn default_name(name: &mut String, path: &str) {
    if name.is_empty() {
        *name = path.to_string();
    }
}

/// A layer's input size (features, channels): given at construction, or left open and taken
/// from the first input the layer is built on, then fixed.
///
/// Why interior mutability: parameter shapes must be known before parameters exist, but the
/// input size is only known once the graph reaches the layer. The model's first build (in
/// [`crate::ModelBuilder::build`]) settles it, before any parameter is declared or drawn; a
/// layer reused on an input of another size then fails with the ordinary size mismatch.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct InferredSize(OnceLock<usize>);

impl InferredSize {
    /// A size given at construction.
    pub fn fixed(n: usize) -> Self {
        InferredSize(OnceLock::from(n))
    }

    /// A size to take from the first input.
    pub fn open() -> Self {
        InferredSize(OnceLock::new())
    }

    /// The size, once known.
    pub fn get(&self) -> Option<usize> {
        self.0.get().copied()
    }

    /// The size, or 0 while still open (for parameter shapes reported before the first
    /// build; [`crate::Model`] never reports those).
    pub fn or_zero(&self) -> usize {
        self.get().unwrap_or(0)
    }

    /// The known size, or else `seen` (the input's size on that axis, when fixed), which
    /// becomes the size from now on.
    pub fn resolve(&self, seen: Option<usize>) -> Option<usize> {
        match self.get() {
            Some(n) => Some(n),
            None => seen.map(|n| *self.0.get_or_init(|| n)),
        }
    }
}

impl fmt::Display for InferredSize {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.get() {
            Some(n) => write!(f, "{n}"),
            None => f.write_str("?"),
        }
    }
}

/// What a layer contributes to a summary row, given its input and output shapes.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct LayerInfo {
    /// How the output size was computed, e.g. `(28 − 5 + 2·2)/1 + 1 = 28`.
    pub arithmetic: String,
    /// How the parameter count is computed, e.g. `(5·5·1 + 1)·6 = 156`.
    pub params_formula: String,
    /// Multiply-accumulates per sample.
    pub macs: u64,
}

/// One module call recorded while a graph was built: its output node and shapes.
#[derive(Debug, Clone)]
pub struct LayerRecord {
    /// The module's path ([`Module::name`]).
    pub name: String,
    /// The module's type ([`Module::kind`]).
    pub kind: &'static str,
    /// The node it was called on.
    pub input: NodeId,
    /// The node it returned.
    pub output: NodeId,
    /// The symbolic shape of `input`.
    pub input_shape: Shape,
    /// The symbolic shape of `output`.
    pub output_shape: Shape,
    /// `true` when the summary shows this call as a row (containers are not rows).
    pub row: bool,
    /// Nesting depth (0 for the model's root).
    pub depth: usize,
    /// Its summary details ([`Module::info`]).
    pub info: LayerInfo,
    /// Trainable parameters the module itself owns (children not included).
    pub own_params: usize,
}

/// A buffer's new value computed by a training graph (BatchNorm running statistics): the
/// training step evaluates `node` and writes it into the store under `name`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StateUpdate {
    /// The buffer's key, e.g. `bn1.running_mean`.
    pub name: String,
    /// The node computing its new value.
    pub node: NodeId,
}

/// A placeholder a training step fills with fresh random values on every run (Dropout's mask:
/// each element is `1/keep` with probability `keep`, else 0).
#[derive(Debug, Clone, PartialEq)]
pub struct RandomInput {
    /// The placeholder's name, `<layer path>/mask` for Dropout.
    pub name: String,
    /// The placeholder node.
    pub node: NodeId,
    /// Its symbolic shape; the batch axis is resolved on each run.
    pub shape: Shape,
    /// The probability of keeping an element (1 − p for Dropout).
    pub keep: f64,
}

/// The build context handed to [`Module::forward`].
pub struct Ctx<'g, T: Element = f32> {
    graph: &'g mut Graph<T>,
    mode: Mode,
    scope: Option<String>,
    depth: usize,
    pub(crate) records: Vec<LayerRecord>,
    pub(crate) state_updates: Vec<StateUpdate>,
    pub(crate) random_inputs: Vec<RandomInput>,
    /// Layer paths that run in eval mode even in a training graph (frozen layers).
    pub(crate) frozen: Vec<String>,
    /// An inference graph: eval-mode layers may fold into their neighbours (BatchNorm into
    /// the convolution before it), since nothing reads their intermediate values.
    pub(crate) fold_for_inference: bool,
    /// Replicas whose BatchNorm statistics are averaged in training (synchronised BatchNorm).
    pub(crate) batch_norm_replicas: Option<Arc<dyn Replicas>>,
}

impl<T: Element> fmt::Debug for Ctx<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Ctx")
            .field("mode", &self.mode)
            .field("nodes", &self.graph.len())
            .field("layers", &self.records.len())
            .finish()
    }
}

impl<'g, T: Element> Ctx<'g, T> {
    /// A context appending to `graph` in `mode`, with nothing recorded yet, no frozen
    /// layers and no folding for inference ([`Model`](crate::Model) makes these; a custom
    /// build or a test may too).
    pub fn new(graph: &'g mut Graph<T>, mode: Mode) -> Self {
        Ctx {
            graph,
            mode,
            scope: None,
            depth: 0,
            records: Vec::new(),
            state_updates: Vec::new(),
            random_inputs: Vec::new(),
            frozen: Vec::new(),
            fold_for_inference: false,
            batch_norm_replicas: None,
        }
    }

    /// The graph being built.
    pub fn graph(&mut self) -> &mut Graph<T> {
        self.graph
    }

    /// The graph being built, read-only.
    pub fn graph_ref(&self) -> &Graph<T> {
        self.graph
    }

    /// The mode the current layer builds in: the graph's, except [`Mode::Eval`] inside a
    /// frozen layer.
    pub fn mode(&self) -> Mode {
        self.mode
    }

    /// Whether the current layer builds in [`Mode::Train`] (see [`Ctx::mode`]).
    pub fn is_train(&self) -> bool {
        self.mode == Mode::Train
    }

    /// The replicas a training graph's BatchNorm averages its statistics over, when the
    /// model has [synchronised BatchNorm](crate::Model::sync_batch_norm).
    pub fn batch_norm_replicas(&self) -> Option<Arc<dyn Replicas>> {
        self.batch_norm_replicas.clone()
    }

    /// True while building an inference graph, where an eval-mode layer may fold into its
    /// neighbours (only outputs are read; layer activations are not inspected).
    pub fn folds_for_inference(&self) -> bool {
        self.fold_for_inference && self.mode == Mode::Eval
    }

    /// The symbolic shape of a node.
    pub fn shape(&self, x: NodeId) -> Result<Shape> {
        Ok(self.graph.shape(x)?.clone())
    }

    /// A parameter node for `key` (declared with `shape`; the value comes from the store).
    pub fn param(&mut self, key: &str, shape: &[usize]) -> Result<NodeId> {
        Ok(self.graph.param(key, shape)?)
    }

    /// Runs a child module: its nodes are named `<its path>/<op>`, and its output is recorded
    /// (for summaries and per-layer activations). Containers call their children through this.
    pub fn call(&mut self, module: &dyn Module<T>, x: NodeId) -> Result<NodeId> {
        module.validate()?;
        let input_shape = self.shape(x)?;
        let outer = self.scope.replace(module.name().to_string());
        if outer.is_some() {
            self.graph.pop_scope();
        }
        self.graph.push_scope(module.name());
        self.depth += 1;
        // A frozen layer, and everything inside it, builds as in evaluation.
        let mode = self.mode;
        if self
            .frozen
            .iter()
            .any(|p| crate::model::path_under(module.name(), p))
        {
            self.mode = Mode::Eval;
        }
        let result = module.forward(self, x);
        self.mode = mode;
        self.depth -= 1;
        self.graph.pop_scope();
        if let Some(o) = &outer {
            self.graph.push_scope(o);
        }
        self.scope = outer;
        let y = result?;
        let output_shape = self.shape(y)?;
        let info = module.info(&input_shape, &output_shape);
        let own_params = module
            .own_params()
            .iter()
            .filter(|p| p.trainable)
            .map(ParamSpec::numel)
            .sum();
        self.records.push(LayerRecord {
            name: module.name().to_string(),
            kind: module.kind(),
            input: x,
            output: y,
            input_shape,
            output_shape,
            row: module.summary_row(),
            depth: self.depth,
            info,
            own_params,
        });
        Ok(y)
    }

    /// Registers the new value of a buffer (training graphs only).
    pub fn state_update(&mut self, name: impl Into<String>, node: NodeId) {
        self.state_updates.push(StateUpdate {
            name: name.into(),
            node,
        });
    }

    /// A random keep-mask placeholder of `shape` (values `1/keep` or 0), filled on every
    /// training step.
    pub fn random_mask(&mut self, name: &str, shape: Shape, keep: f64) -> Result<NodeId> {
        let node = self.graph.input(name, shape.clone())?;
        self.random_inputs.push(RandomInput {
            name: name.to_string(),
            node,
            shape,
            keep,
        });
        Ok(node)
    }

    /// The records made so far, in completion order.
    pub fn records(&self) -> &[LayerRecord] {
        &self.records
    }
}

/// A layer or a tree of layers.
///
/// Implementors provide `name` (the full path), `kind`, `forward`, and their own parameters;
/// containers also list their `children`. Everything else has a default.
pub trait Module<T: Element = f32>: Send + Sync + fmt::Debug {
    /// The full path, e.g. `features.0`; parameter keys are `<name>.<local>`.
    fn name(&self) -> &str;

    /// The layer type shown in summaries and errors, e.g. `Conv2d`.
    fn kind(&self) -> &'static str;

    /// Appends this layer's computation on `x` and returns its output node. Check the input
    /// shape first and report a mismatch with [`NnError::Input`].
    fn forward(&self, ctx: &mut Ctx<'_, T>, x: NodeId) -> Result<NodeId>;

    /// Parameters and buffers this module declares itself (not its children's).
    fn own_params(&self) -> Vec<ParamSpec> {
        Vec::new()
    }

    /// Child modules, in the order their parameters are listed.
    fn children(&self) -> Vec<&dyn Module<T>> {
        Vec::new()
    }

    /// Rejects invalid hyper-parameters (zero stride, p outside [0, 1), …) with an error
    /// naming the layer. Called before every `forward`.
    fn validate(&self) -> Result<()> {
        Ok(())
    }

    /// Summary details for this call.
    fn info(&self, _input: &Shape, _output: &Shape) -> LayerInfo {
        LayerInfo::default()
    }

    /// Whether a summary shows this module as a row (containers such as `Sequential` do not).
    fn summary_row(&self) -> bool {
        true
    }

    /// Names this module `path` if it was constructed without a name, then its unnamed
    /// children after their place in it (containers: `<name>.<index>`). The model calls it
    /// on its root with `""` before anything else. The default does nothing: a module with a
    /// name of its own, and no unnamed children, needs no more. A module left unnamed is an
    /// error when the model is built.
    fn assign_default_names(&mut self, _path: &str) {}

    /// Every parameter and buffer of the tree: own first, then each child's, recursively.
    fn params(&self) -> Vec<ParamSpec> {
        let mut v = self.own_params();
        for c in self.children() {
            v.extend(c.params());
        }
        v
    }

    /// Draws every parameter and buffer of the tree into `store`, in [`Module::params`] order.
    fn init_params(&self, store: &mut ParamStore<T>, rng: &mut ConvnetRng) -> Result<()> {
        for p in self.params() {
            let value = p.init.sample::<T>(&p.shape, p.fans, rng)?;
            if p.trainable {
                store.insert(p.name, value)?;
            } else {
                store.insert_buffer(p.name, value)?;
            }
        }
        Ok(())
    }
}

impl<T: Element> Module<T> for Box<dyn Module<T>> {
    fn name(&self) -> &str {
        (**self).name()
    }
    fn kind(&self) -> &'static str {
        (**self).kind()
    }
    fn forward(&self, ctx: &mut Ctx<'_, T>, x: NodeId) -> Result<NodeId> {
        (**self).forward(ctx, x)
    }
    fn own_params(&self) -> Vec<ParamSpec> {
        (**self).own_params()
    }
    fn children(&self) -> Vec<&dyn Module<T>> {
        (**self).children()
    }
    fn validate(&self) -> Result<()> {
        (**self).validate()
    }
    fn info(&self, input: &Shape, output: &Shape) -> LayerInfo {
        (**self).info(input, output)
    }
    fn summary_row(&self) -> bool {
        (**self).summary_row()
    }
    fn assign_default_names(&mut self, path: &str) {
        (**self).assign_default_names(path)
    }
    fn params(&self) -> Vec<ParamSpec> {
        (**self).params()
    }
}

// ---- input checks shared by the layers --------------------------------------------------------

/// `[N, C, H, W]`-style description with the given channel count.
pub(crate) fn describe_nchw(c: usize) -> String {
    format!("[N, {c}, H, W]")
}

/// Checks the rank and (optionally) the size of one axis; the error names the layer, the
/// expected form and the actual shape.
pub(crate) fn expect_input(
    layer: &str,
    kind: &'static str,
    shape: &Shape,
    rank: &[usize],
    axis: Option<(usize, usize)>,
    expected: impl FnOnce() -> String,
) -> Result<()> {
    let rank_ok = rank.contains(&shape.rank());
    let axis_ok = axis.is_none_or(|(a, n)| shape.dims().get(a).and_then(|d| d.fixed()) == Some(n));
    if rank_ok && axis_ok {
        Ok(())
    } else {
        Err(NnError::input(layer, kind, expected(), shape))
    }
}

/// The fixed size of an axis (layers call this after [`expect_input`]).
pub(crate) fn fixed_dim(
    layer: &str,
    kind: &'static str,
    shape: &Shape,
    axis: usize,
) -> Result<usize> {
    shape
        .dims()
        .get(axis)
        .and_then(|d| d.fixed())
        .ok_or_else(|| NnError::input(layer, kind, format!("a fixed size on axis {axis}"), shape))
}
