//! What the page shows, as plain data: serialised to JSON for `/state`, for the events that
//! update it, and for the static report.

use serde::Serialize;

/// The run being watched.
#[derive(Debug, Clone, Default, Serialize, PartialEq)]
pub struct RunInfo {
    /// Model name, e.g. `lenet5`.
    pub model: String,
    /// Data set name, e.g. `mnist`.
    pub dataset: String,
    /// Per-sample input shape, e.g. `[1, 28, 28]`.
    pub input: Vec<usize>,
    /// Trainable parameters.
    pub params: u64,
    /// Class names, in label order.
    pub classes: Vec<String>,
    /// Training batch size.
    pub batch_size: usize,
}

/// One training step on the loss curve.
#[derive(Debug, Clone, Copy, Default, Serialize, PartialEq)]
pub struct StepPoint {
    /// Steps taken so far (1-based).
    pub step: u64,
    /// The step's loss.
    pub loss: f64,
    /// Exponential moving average of the loss (α = 0.05), what the curve's eye follows.
    pub smoothed: f64,
    /// Training accuracy of the epoch so far, in [0, 1].
    pub accuracy: f64,
    /// The learning rate of the step.
    pub lr: f64,
}

/// One epoch's validation.
#[derive(Debug, Clone, Copy, Default, Serialize, PartialEq)]
pub struct ValPoint {
    /// 1-based epoch.
    pub epoch: u64,
    /// Steps taken when it ran.
    pub step: u64,
    /// Validation loss.
    pub loss: f64,
    /// Validation accuracy in [0, 1].
    pub accuracy: f64,
}

/// Where the run stands.
#[derive(Debug, Clone, Copy, Default, Serialize, PartialEq)]
pub struct Progress {
    /// 1-based epoch.
    pub epoch: u64,
    /// Epochs in total.
    pub epochs: u64,
    /// 1-based batch within the epoch.
    pub batch: usize,
    /// Batches per epoch.
    pub batches_per_epoch: usize,
    /// Steps taken.
    pub step: u64,
    /// Training images per second in this epoch.
    pub images_per_second: f64,
    /// Seconds since the dashboard started.
    pub elapsed_seconds: f64,
    /// Estimated seconds to the end of the run, from this epoch's pace.
    pub eta_seconds: f64,
    /// The run has ended.
    pub finished: bool,
}

/// Summary statistics of a tensor, as the cards print them.
#[derive(Debug, Clone, Copy, Default, Serialize, PartialEq)]
pub struct Stats {
    /// Smallest value.
    pub min: f64,
    /// Largest value.
    pub max: f64,
    /// Mean.
    pub mean: f64,
    /// Population standard deviation.
    pub std: f64,
}

/// A layer's figures on the sample batch, refreshed every few seconds.
#[derive(Debug, Clone, Default, Serialize, PartialEq)]
pub struct LayerLive {
    /// The layer's output activations.
    pub activation: Stats,
    /// Fraction of exactly-zero outputs: dead units after a ReLU.
    pub zero_fraction: f64,
    /// The loss gradient with respect to the layer's output.
    pub gradient: Option<Stats>,
    /// `lr·‖∇W‖ / ‖W‖` of the layer's weight: the relative size of the next SGD update
    /// (around 1e-3 is healthy; much larger diverges, much smaller learns nothing).
    pub update_ratio: Option<f64>,
    /// Step the figures were taken at.
    pub step: u64,
}

/// One layer, as a ConvNetJS card: what it is (from the model's summary) and how it is doing.
#[derive(Debug, Clone, Default, Serialize, PartialEq)]
pub struct LayerCard {
    /// Path, e.g. `features.0`.
    pub name: String,
    /// Type, e.g. `Conv2d`.
    pub kind: String,
    /// Output shape, e.g. `[B, 6, 28, 28]`.
    pub output_shape: String,
    /// How the output size follows from window, stride and padding.
    pub arithmetic: String,
    /// Trainable parameters.
    pub params: u64,
    /// How the parameter count is computed, e.g. `(5·5·1 + 1)·6 = 156`.
    pub params_formula: String,
    /// Live figures, once the first snapshot is taken.
    pub live: Option<LayerLive>,
    /// URL of the sample image's activation maps (4-D outputs).
    pub activation_image: Option<String>,
    /// URL of the layer's filters (the first convolutions).
    pub filter_image: Option<String>,
    /// URL of the filters' gradients.
    pub filter_grad_image: Option<String>,
}

/// An image with the model's verdict.
#[derive(Debug, Clone, Default, Serialize, PartialEq)]
pub struct Sample {
    /// URL of the picture.
    pub image: String,
    /// True class index.
    pub label: usize,
    /// Predicted class index.
    pub predicted: usize,
    /// Probability the model gives its prediction.
    pub probability: f64,
}

/// The learning-rate range test of the run's directory (`convnet lr-find`), as charted.
#[derive(Debug, Clone, Default, Serialize, PartialEq)]
pub struct LrFindChart {
    /// `[lr, smoothed loss]` per step.
    pub points: Vec<[f64; 2]>,
    /// Below this the rate is too small.
    pub too_small_below: f64,
    /// The steepest fall: a good rate.
    pub steepest: f64,
    /// Past the minimum the rate is too large.
    pub minimum: f64,
}

impl From<&convnet_train::LrRangeTest> for LrFindChart {
    fn from(t: &convnet_train::LrRangeTest) -> Self {
        LrFindChart {
            points: t.points.iter().map(|p| [p.lr, p.smoothed]).collect(),
            too_small_below: t.too_small_below,
            steepest: t.steepest,
            minimum: t.minimum,
        }
    }
}

/// One optimizer's path on a test surface.
#[derive(Debug, Clone, Default, Serialize, PartialEq)]
pub struct RaceTrack {
    /// The optimizer, e.g. `Adam`.
    pub label: String,
    /// `[x, y]` after each step (thinned to a few hundred), the start first.
    pub points: Vec<[f64; 2]>,
    /// It left the plot and was stopped.
    pub escaped: bool,
}

/// The optimizer race on one of `convnet_optim::race`'s surfaces.
#[derive(Debug, Clone, Default, Serialize, PartialEq)]
pub struct RaceChart {
    /// The surface, e.g. `saddle`.
    pub surface: String,
    /// `[x0, x1, y0, y1]` of the plot.
    pub view: [f64; 4],
    /// The minimum, where the surface has one.
    pub minimum: Option<[f64; 2]>,
    /// One path per optimizer.
    pub tracks: Vec<RaceTrack>,
}

/// Every optimizer of the crate raced on the saddle, Rosenbrock's and Beale's surfaces from
/// their usual starts (the course's pictures), thinned for drawing.
pub fn race_charts() -> Vec<RaceChart> {
    use convnet_optim::race::{Rates, Surface, lineup, race};
    [Surface::Saddle, Surface::Rosenbrock, Surface::Beale]
        .into_iter()
        .filter_map(|surface| {
            let mut contenders = lineup(Rates::for_surface(surface)).ok()?;
            let paths = race(surface, surface.start(), &mut contenders, surface.steps()).ok()?;
            let tracks = paths
                .into_iter()
                .map(|t| {
                    let k = t.points.len().div_ceil(300).max(1);
                    let last = t.points.len().saturating_sub(1);
                    RaceTrack {
                        points: t
                            .points
                            .iter()
                            .enumerate()
                            .filter(|(i, _)| i % k == 0 || *i == last)
                            .map(|(_, p)| *p)
                            .collect(),
                        label: t.label,
                        escaped: t.escaped,
                    }
                })
                .collect();
            Some(RaceChart {
                surface: surface.name().to_string(),
                view: surface.view(),
                minimum: surface.minimum(),
                tracks,
            })
        })
        .collect()
}

/// Everything on the page.
#[derive(Debug, Clone, Default, Serialize, PartialEq)]
pub struct DashState {
    /// The run.
    pub run: RunInfo,
    /// Where it stands.
    pub progress: Progress,
    /// Every training step.
    pub train: Vec<StepPoint>,
    /// Every validation.
    pub val: Vec<ValPoint>,
    /// The layers in network order.
    pub layers: Vec<LayerCard>,
    /// The sample strip: images of the sample batch with their predictions.
    pub samples: Vec<Sample>,
    /// Misclassified validation images after the last epoch.
    pub misclassified: Vec<Sample>,
    /// `confusion[true][predicted]` of the last validation.
    pub confusion: Option<Vec<Vec<usize>>>,
    /// The range test, when the run's directory has one.
    pub lr_find: Option<LrFindChart>,
    /// The optimizer race (the course's pictures, the same for every run).
    pub race: Vec<RaceChart>,
}
