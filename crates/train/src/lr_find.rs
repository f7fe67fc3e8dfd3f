//! The learning-rate range test (Smith, "Cyclical Learning Rates for Training Neural
//! Networks", 2017; fastai's `lr_find`): train for a few hundred steps while the learning rate
//! grows exponentially from tiny to huge, and watch the loss. Where it does not move yet the
//! rate is too small; where it falls fastest is a good rate; past its minimum, and when it
//! shoots up, the rate is too large. The run's weights and optimizer state are put back
//! afterwards, so the test costs nothing but time.

use convnet_datasets::DataLoader;

use crate::error::{Result, TrainError};
use crate::fit::Trainer;

/// Weight of the past in the loss's moving average (bias-corrected): a window of about ten
/// steps, short enough not to shift the curve by a decade of rate.
const BETA: f64 = 0.9;
/// The sweep stops once the smoothed loss exceeds this many times its minimum.
const DIVERGED: f64 = 4.0;

/// One step of the sweep.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LrPoint {
    /// The step's learning rate.
    pub lr: f64,
    /// Its loss.
    pub loss: f64,
    /// Bias-corrected exponential moving average of the loss (β = 0.9).
    pub smoothed: f64,
}

/// What the sweep found.
#[derive(Debug, Clone, PartialEq)]
pub struct LrRangeTest {
    /// Every step taken.
    pub points: Vec<LrPoint>,
    /// The rate where the smoothed loss falls fastest per decade of rate: a good rate.
    pub steepest: f64,
    /// The rate of the smoothed loss's minimum (a tenth of it is the usual choice).
    pub minimum: f64,
    /// Below this rate the loss has not yet fallen by 2 % of its start: too small.
    pub too_small_below: f64,
    /// Whether the sweep ended early because the loss diverged.
    pub diverged: bool,
}

impl LrRangeTest {
    /// The sweep as CSV: a header `lr,loss,smoothed`, then one line per step.
    pub fn to_csv(&self) -> String {
        let mut csv = String::from("lr,loss,smoothed\n");
        for p in &self.points {
            csv.push_str(&format!("{},{},{}\n", p.lr, p.loss, p.smoothed));
        }
        csv
    }

    /// Reads what [`LrRangeTest::to_csv`] wrote (a file named in errors as `path`) and finds
    /// the regions again.
    pub fn from_csv(text: &str, path: &std::path::Path) -> Result<Self> {
        let bad = |line: usize, what: &str| {
            TrainError::Invalid(format!("{}: line {line}: {what}", path.display()))
        };
        let mut lines = text.lines();
        if lines.next() != Some("lr,loss,smoothed") {
            return Err(bad(1, "expected the header `lr,loss,smoothed`"));
        }
        let mut points = Vec::new();
        for (i, line) in lines.enumerate().filter(|(_, l)| !l.trim().is_empty()) {
            let v: Vec<f64> = line
                .split(',')
                .map(|f| f.trim().parse::<f64>())
                .collect::<std::result::Result<_, _>>()
                .map_err(|_| bad(i + 2, "not three numbers"))?;
            let [lr, loss, smoothed] = v[..] else {
                return Err(bad(i + 2, "not three numbers"));
            };
            points.push(LrPoint { lr, loss, smoothed });
        }
        Ok(summarise(points, false))
    }
}

impl Trainer {
    /// Runs the range test over `steps` steps from `start` to `end` (exponentially), cycling
    /// through `train`'s epochs, then restores the weights, buffers and optimizer state.
    pub fn lr_range_test(
        &mut self,
        train: &DataLoader,
        start: f64,
        end: f64,
        steps: usize,
        seed: u64,
    ) -> Result<LrRangeTest> {
        if !(start > 0.0 && end > start && start.is_finite() && end.is_finite()) || steps < 2 {
            return Err(TrainError::Invalid(format!(
                "lr-find: needs 0 < start < end and at least 2 steps, got {start}, {end}, {steps}"
            )));
        }
        let saved_params = self.params.clone();
        let saved_optimizer = self.optimizer.state();
        let saved_lr = self.optimizer.learning_rate();
        let result = self.sweep(train, start, end, steps, seed);
        self.params = saved_params;
        self.optimizer.load_state(&saved_optimizer)?;
        self.optimizer.set_learning_rate(saved_lr);
        let (points, diverged) = result?;
        Ok(summarise(points, diverged))
    }

    fn sweep(
        &mut self,
        train: &DataLoader,
        start: f64,
        end: f64,
        steps: usize,
        seed: u64,
    ) -> Result<(Vec<LrPoint>, bool)> {
        // Data-parallel: this rank's shard of each batch, from rank 0's parameters.
        let train = &self.parallel_shard(train)?;
        let mut points = Vec::with_capacity(steps);
        let (mut avg, mut best) = (0.0, f64::INFINITY);
        let mut epoch = 0;
        let mut batches = train.epoch(epoch);
        for i in 0..steps {
            let lr = start * (end / start).powf(i as f64 / (steps - 1) as f64);
            self.optimizer.set_learning_rate(lr);
            let batch = match batches.next() {
                Some(b) => b?,
                None => {
                    epoch += 1;
                    batches = train.epoch(epoch);
                    batches
                        .next()
                        .ok_or_else(|| TrainError::Invalid("lr-find: no training data".into()))??
                }
            };
            let loss = match self.train_batch(&batch.images, &batch.labels, batch.global_len, seed)
            {
                Ok((loss, _)) => loss,
                // A non-finite loss is where the sweep was going: the rate is far too large.
                Err(TrainError::Training(_)) => return Ok((points, true)),
                Err(e) => return Err(e),
            };
            avg = BETA * avg + (1.0 - BETA) * loss;
            let smoothed = avg / (1.0 - BETA.powi(i as i32 + 1));
            points.push(LrPoint { lr, loss, smoothed });
            best = best.min(smoothed);
            if i > 10 && smoothed > DIVERGED * best {
                return Ok((points, true));
            }
        }
        Ok((points, false))
    }
}

fn summarise(points: Vec<LrPoint>, diverged: bool) -> LrRangeTest {
    let Some(first) = points.first().copied() else {
        return LrRangeTest {
            points,
            steepest: f64::NAN,
            minimum: f64::NAN,
            too_small_below: f64::NAN,
            diverged,
        };
    };
    // The first tenth of the sweep is the average warming up: no minimum is looked for there
    // (a loss flat at first and then diverging would otherwise put it at the second step).
    let skip = (points.len() / 10).min(points.len() - 1);
    let (min_at, min) = points
        .iter()
        .copied()
        .enumerate()
        .skip(skip)
        .min_by(|a, b| a.1.smoothed.total_cmp(&b.1.smoothed))
        .unwrap_or((0, first));
    // Steepest descent of the smoothed loss per unit of log₁₀(lr), up to the minimum, over a
    // window of a few steps (single steps are noise).
    let upto = &points[..=min_at];
    let w = (upto.len() / 10).max(1);
    let steepest = upto
        .windows(w + 1)
        .map(|win| {
            let (a, b) = (win[0], win[w]);
            (
                (b.smoothed - a.smoothed) / (b.lr.log10() - a.lr.log10()),
                a.lr,
            )
        })
        .min_by(|x, y| x.0.total_cmp(&y.0))
        .map_or(min.lr / 10.0, |(_, lr)| lr);
    // The loss starts to fall 2 % below its start; never past the good rate.
    let too_small_below = points
        .iter()
        .find(|p| p.smoothed < 0.98 * first.smoothed)
        .map_or(steepest, |p| p.lr)
        .min(steepest);
    LrRangeTest {
        steepest,
        minimum: min.lr,
        too_small_below,
        diverged,
        points,
    }
}
