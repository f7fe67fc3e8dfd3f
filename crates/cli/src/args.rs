//! Command-line arguments.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};
use convnet_nn::tensor::Precision;

#[derive(Debug, Parser)]
#[command(
    name = "convnet",
    version,
    about = "Train, evaluate and inspect classic convolutional networks"
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Option<Command>,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Train a zoo model on a data set (default: LeNet-5 on MNIST).
    Train(Box<TrainArgs>),
    /// The learning-rate range test: train briefly with an exponentially growing learning
    /// rate and show where the loss falls fastest (too small / good / too large), with the
    /// weights put back afterwards. Takes `train`'s options.
    LrFind(Box<LrFindArgs>),
    /// Evaluate a checkpoint on a data set's test split.
    Eval(EvalArgs),
    /// Classify your own pictures (PNG or JPEG) with a trained checkpoint.
    Predict(PredictArgs),
    /// Print a model's layer-by-layer summary (no data needed).
    Summary(SummaryArgs),
    /// How fast a zoo model trains and infers on this machine (random data): training
    /// images/s, inference milliseconds at batch 1 and at the batch size, planned memory.
    Bench(BenchArgs),
    /// Show what a network does on a batch of test images: per-layer activation and
    /// gradient statistics, and PNG pictures of its filters, feature maps and training curves.
    Inspect(InspectArgs),
    /// Write a finished run's dashboard as one self-contained HTML file (curves, layer cards
    /// with activations and filters, predictions, confusion matrix), openable offline.
    Report(ReportArgs),
    /// List the models in the zoo.
    Models,
    /// List the data sets and whether they are present in the data directory.
    Datasets(DataDirArg),
    /// Download a data set's standard files and verify their checksums.
    Download(DownloadArgs),
}

impl Default for Command {
    fn default() -> Self {
        Command::Train(Box::default())
    }
}

#[derive(Debug, Clone, Args, Default)]
pub struct DataDirArg {
    /// Data directory (default: $CONVNET_DATA, else ./data). A data set not there is looked
    /// for in the per-user cache (~/.cache/convnet) and, if absent, downloaded into it.
    #[arg(long)]
    pub data_dir: Option<PathBuf>,
    /// Never download (also: CONVNET_OFFLINE=1).
    #[arg(long)]
    pub offline: bool,
}

/// `--precision`, shared by the commands that run a model.
#[derive(Debug, Clone, Copy, Args, Default)]
pub struct PrecisionArg {
    /// Precision of the convolutions' and matmuls' products: f32, or bf16 (operands rounded to
    /// bfloat16, f32 accumulation, on AMX or AVX512-BF16; weights, gradients, optimizer state
    /// and every other op stay f32). Without bf16 units, bf16 says so and runs f32.
    #[arg(long, default_value = "f32", value_parser = parse_precision)]
    pub precision: Precision,
}

fn parse_precision(s: &str) -> Result<Precision, String> {
    s.parse()
}

impl PrecisionArg {
    /// The setting, after one line saying what it runs on when it is not plain f32.
    pub fn announced(self) -> Precision {
        if self.precision != Precision::F32 {
            eprintln!("precision: {}", self.precision.effective().describe());
        }
        self.precision
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum OptimizerName {
    Sgd,
    Momentum,
    Nesterov,
    Adagrad,
    Rmsprop,
    Adadelta,
    Adam,
    Adamw,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ScheduleName {
    Constant,
    Step,
    Exponential,
    Cosine,
    WarmupCosine,
    Plateau,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ProgressName {
    Auto,
    Bar,
    Lines,
    None,
}

#[derive(Debug, Clone, Args)]
pub struct TrainArgs {
    /// Model from the zoo (see `convnet models`) [default: lenet5].
    #[arg(long)]
    pub model: Option<String>,
    /// Data set: mnist, fashion-mnist, cifar10, digits, or a folder of class sub-folders
    /// (PATH/cat/*.jpg, PATH/dog/*.png) [default: mnist].
    #[arg(long)]
    pub dataset: Option<String>,
    /// A folder data set's validation images, in the same class sub-folders (default: a
    /// seeded, stratified fifth of --dataset held out).
    #[arg(long)]
    pub val_dir: Option<PathBuf>,
    /// Train at SIZE×SIZE: folder images are resized to it (default: the model's usual
    /// input), built-in images stretched to it.
    #[arg(long)]
    pub image_size: Option<usize>,
    /// Refuse a folder holding a file that does not decode, instead of skipping it.
    #[arg(long)]
    pub strict_images: bool,
    /// Per-channel means for normalisation, e.g. 0.485,0.456,0.406 (default: the data set's
    /// own; folders: computed on the training split).
    #[arg(long)]
    pub mean: Option<String>,
    /// Per-channel standard deviations, e.g. 0.229,0.224,0.225.
    #[arg(long)]
    pub std: Option<String>,
    /// Start from these weights: torchvision's layout (safetensors) or a convnet checkpoint.
    /// A classifier head of another class count is replaced by a fresh one.
    #[arg(long)]
    pub pretrained: Option<PathBuf>,
    /// Keep the layers under these prefixes fixed (e.g. --freeze conv1 layer1): no updates,
    /// BatchNorm and Dropout in eval mode.
    #[arg(long, num_args = 1..)]
    pub freeze: Vec<String>,
    #[arg(long)]
    pub epochs: Option<u64>,
    #[arg(long)]
    pub batch_size: Option<usize>,
    #[arg(long, value_enum)]
    pub optimizer: Option<OptimizerName>,
    /// Initial learning rate.
    #[arg(long)]
    pub lr: Option<f64>,
    #[arg(long, value_enum)]
    pub schedule: Option<ScheduleName>,
    #[arg(long)]
    pub weight_decay: Option<f64>,
    /// Seed of initialisation, data order, augmentation and Dropout [default: 0].
    #[arg(long)]
    pub seed: Option<u64>,
    #[command(flatten)]
    pub data: DataDirArg,
    /// Output directory for checkpoints and the CSV log (default: `runs/<model>-<dataset>`).
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Continue exactly from a checkpoint (e.g. runs/lenet5-mnist/last.safetensors): the run's
    /// recorded model, data set, seed and recipe are adopted; an option given that differs
    /// from them is refused.
    #[arg(long)]
    pub resume: Option<PathBuf>,
    /// Train on at most this many batches per epoch (a quick run).
    #[arg(long)]
    pub limit_train_batches: Option<usize>,
    /// Validate on at most this many batches.
    #[arg(long)]
    pub limit_val_batches: Option<usize>,
    /// Use only the first N training images.
    #[arg(long)]
    pub train_subset: Option<usize>,
    /// Stop after this many optimizer steps in total (as if interrupted; resume later).
    #[arg(long)]
    pub stop_after_steps: Option<u64>,
    /// Write a checkpoint every N steps as well as every epoch.
    #[arg(long)]
    pub checkpoint_every: Option<u64>,
    /// Augment training images: built-in sets get a random crop of the 4-pixel-padded image
    /// (and, for CIFAR-10, a horizontal flip); folders a random-resized crop (25–100 % of the
    /// area), a horizontal flip and colour jitter. Default on for CIFAR-10, digits and folders.
    #[arg(long)]
    pub augment: Option<bool>,
    /// Stop when validation loss has not improved for this many epochs.
    #[arg(long)]
    pub early_stopping: Option<usize>,
    /// Serve a live dashboard of the run (curves, one card per layer with its activations,
    /// filters and gradients, sample predictions, confusion matrix) and print its address.
    #[arg(long)]
    pub dashboard: bool,
    /// The dashboard's port [default: a free one, printed].
    #[arg(long, requires = "dashboard")]
    pub port: Option<u16>,
    /// The address the dashboard listens on; anything but the default 127.0.0.1 exposes the
    /// run to the network.
    #[arg(long, requires = "dashboard", default_value = "127.0.0.1")]
    pub host: String,
    #[arg(long, value_enum, default_value_t = ProgressName::Auto)]
    pub progress: ProgressName,
    /// Number of threads (default: all cores; under mpirun, each rank its share of its host's).
    #[arg(long)]
    pub threads: Option<usize>,
    /// Under mpirun: compute BatchNorm's batch statistics over the global batch (all ranks'
    /// shards) instead of each rank's own, so N ranks train exactly as one process would.
    /// Needs a batch size divisible by the number of ranks.
    #[arg(long)]
    pub sync_bn: bool,
    /// Under mpirun: reduce gradients in buckets of this many MiB.
    #[arg(long, default_value_t = 4.0)]
    pub bucket_mib: f64,
    /// Check every value of every step for NaN and infinity; stop at the first, naming the
    /// layer, the op and its inputs (slower). Without it, a non-finite loss re-runs that one
    /// step this way to say where it broke.
    #[arg(long)]
    pub check_numerics: bool,
    #[command(flatten)]
    pub precision: PrecisionArg,
}

impl Default for TrainArgs {
    fn default() -> Self {
        TrainArgs::parse_from(["train"])
    }
}

#[derive(Debug, Clone, Parser)]
struct TrainOnly {
    #[command(flatten)]
    args: TrainArgs,
}

impl TrainArgs {
    fn parse_from<I: IntoIterator<Item = &'static str>>(it: I) -> Self {
        TrainOnly::parse_from(it).args
    }
}

#[derive(Debug, Clone, Args)]
pub struct EvalArgs {
    /// Checkpoint written by `convnet train`.
    #[arg(long)]
    pub checkpoint: PathBuf,
    /// Model (default: the one recorded in the checkpoint).
    #[arg(long)]
    pub model: Option<String>,
    /// Data set, or a folder of class sub-folders to evaluate all of (default: the one recorded
    /// in the checkpoint; for a folder run, its validation images).
    #[arg(long)]
    pub dataset: Option<String>,
    #[arg(long, default_value_t = 256)]
    pub batch_size: usize,
    #[command(flatten)]
    pub data: DataDirArg,
    /// Evaluate on at most this many batches.
    #[arg(long)]
    pub limit_batches: Option<usize>,
    #[command(flatten)]
    pub precision: PrecisionArg,
}

#[derive(Debug, Clone, Args)]
pub struct PredictArgs {
    /// Checkpoint written by `convnet train` (its model, data set and input size are used).
    #[arg(long)]
    pub checkpoint: PathBuf,
    /// PNG or JPEG files, or folders of them.
    #[arg(required = true)]
    pub images: Vec<PathBuf>,
    /// Classes to show per image.
    #[arg(long, default_value_t = 3)]
    pub top_k: usize,
    /// Print JSON instead of lines.
    #[arg(long)]
    pub json: bool,
    #[command(flatten)]
    pub precision: PrecisionArg,
}

#[derive(Debug, Clone, Args)]
pub struct InspectArgs {
    /// Checkpoint written by `convnet train` (default: a freshly initialised model).
    #[arg(long)]
    pub checkpoint: Option<PathBuf>,
    /// Model (default: the checkpoint's, else lenet5).
    #[arg(long)]
    pub model: Option<String>,
    /// Data set whose test images are fed (default: the checkpoint's, else mnist).
    #[arg(long)]
    pub dataset: Option<String>,
    /// Images in the inspected batch (the first ones of the test split).
    #[arg(long, default_value_t = 64)]
    pub batch_size: usize,
    /// Which image of the batch the feature-map pictures show.
    #[arg(long, default_value_t = 0)]
    pub image: usize,
    /// Directory for the pictures (default: the checkpoint's directory, else
    /// `runs/inspect-<model>-<dataset>`).
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Seed for fresh weights and for dropout in the inspected step.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    #[command(flatten)]
    pub data: DataDirArg,
}

#[derive(Debug, Clone, Args)]
pub struct LrFindArgs {
    /// The smallest learning rate of the sweep.
    #[arg(long, default_value_t = 1e-6)]
    pub start_lr: f64,
    /// The largest learning rate of the sweep.
    #[arg(long, default_value_t = 10.0)]
    pub end_lr: f64,
    /// Steps of the sweep (it stops early once the loss diverges).
    #[arg(long, default_value_t = 200)]
    pub steps: usize,
    #[command(flatten)]
    pub train: TrainArgs,
}

#[derive(Debug, Clone, Args)]
pub struct ReportArgs {
    /// A run's directory, as `convnet train` wrote it (`log.csv`, `last.safetensors`).
    pub run_dir: PathBuf,
    /// Where to write the page [default: RUN_DIR/report.html].
    #[arg(long)]
    pub out: Option<PathBuf>,
    #[command(flatten)]
    pub data: DataDirArg,
}

#[derive(Debug, Clone, Args)]
pub struct SummaryArgs {
    #[arg(long, default_value = "lenet5")]
    pub model: String,
    /// Input as CxHxW, e.g. 3x224x224 (default: the model's usual input).
    #[arg(long)]
    pub input: Option<String>,
    #[arg(long)]
    pub classes: Option<usize>,
    /// Batch size for the activation-memory column.
    #[arg(long, default_value_t = 1)]
    pub batch: usize,
    /// Print Markdown instead of a text table.
    #[arg(long)]
    pub markdown: bool,
    /// Also say which kernel runs each convolution's forward, input-gradient and
    /// weight-gradient pass at --batch on this machine.
    #[arg(long)]
    pub kernels: bool,
}

#[derive(Debug, Clone, Args)]
pub struct BenchArgs {
    /// Any zoo model (`convnet models`), e.g. resnet18-cifar.
    #[arg(long, default_value = "lenet5")]
    pub model: String,
    /// Training batch size (inference is timed at batch 1 and at this size).
    #[arg(long, default_value_t = 32)]
    pub batch_size: usize,
    /// Input as CxHxW (default: the model's usual input).
    #[arg(long)]
    pub input: Option<String>,
    #[arg(long)]
    pub classes: Option<usize>,
    /// Seconds of timed work per measurement (after two warm-up runs).
    #[arg(long, default_value_t = 3.0)]
    pub seconds: f64,
    /// Number of threads (default: all cores).
    #[arg(long)]
    pub threads: Option<usize>,
    /// Also profile training steps: time per kind of op (convolution, matmul, elementwise,
    /// reduction, …), executor overhead and the optimizer, and the slowest nodes.
    #[arg(long)]
    pub profile: bool,
    /// Run the plans' fused groups node by node, one pass over memory each, to see what
    /// fusion gains on this model (the results are the same bits).
    #[arg(long)]
    pub no_fusion: bool,
    #[command(flatten)]
    pub precision: PrecisionArg,
}

#[derive(Debug, Clone, Args)]
pub struct DownloadArgs {
    /// mnist or fashion-mnist.
    pub dataset: String,
    #[command(flatten)]
    pub data: DataDirArg,
    /// Fetch from this base URL instead of the standard mirror.
    #[arg(long)]
    pub base_url: Option<String>,
}

/// The name the command line uses (`nesterov`, `warmup-cosine`, …).
fn value_name(v: &impl ValueEnum, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
    match v.to_possible_value() {
        Some(p) => f.write_str(p.get_name()),
        None => Ok(()),
    }
}

impl std::fmt::Display for OptimizerName {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        value_name(self, f)
    }
}

impl std::fmt::Display for ScheduleName {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        value_name(self, f)
    }
}
