//! Hooks into the fit loop, and early stopping (the one every run wants) built on them.

use std::collections::BTreeMap;

use convnet_autograd::ParamStore;

use crate::fit::EvalReport;
use crate::log::EpochRecord;

/// Where a run stands after one training step, for monitors that need more than the loss (a
/// live dashboard reads the weights and the throughput from it).
#[derive(Debug)]
pub struct StepInfo<'a> {
    /// 1-based epoch.
    pub epoch: u64,
    /// Epochs the run is to train in total.
    pub epochs: u64,
    /// The batch's 0-based index within its epoch.
    pub batch: usize,
    /// Batches this epoch trains on.
    pub batches_per_epoch: usize,
    /// Steps taken by the run so far, this one included.
    pub step: u64,
    /// This step's loss.
    pub loss: f64,
    /// Training accuracy of the epoch so far, in [0, 1].
    pub accuracy: f64,
    /// The learning rate this step used.
    pub learning_rate: f64,
    /// Training images per second in this epoch so far.
    pub images_per_second: f64,
    /// The parameters and buffers after the step's update.
    pub params: &'a ParamStore<f32>,
}

/// What the fit loop should do after a callback has seen an epoch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Control {
    /// Go on training.
    Continue,
    /// End the fit after this epoch (its report says it stopped early).
    Stop,
}

/// Called by the fit loop; every method has a default that does nothing.
pub trait Callback {
    /// Called after every epoch, once it is validated and logged; [`Control::Stop`] from any
    /// callback ends the fit after this epoch's checkpoints are written.
    fn on_epoch_end(&mut self, _record: &EpochRecord) -> Control {
        Control::Continue
    }
    /// Called after every training step with the 1-based epoch, the batch's 0-based index
    /// within it and the step's loss.
    fn on_batch_end(&mut self, _epoch: u64, _batch: usize, _loss: f64) {}
    /// Called after every training step, after [`Callback::on_batch_end`], with the run's
    /// position, throughput and weights. Keep it cheap: the next step waits for it.
    fn on_step(&mut self, _step: &StepInfo<'_>) {}
    /// Called after each epoch's validation with its report (confusion matrix included) and
    /// the parameters it evaluated, before [`Callback::on_epoch_end`].
    fn on_validation(&mut self, _epoch: u64, _report: &EvalReport, _params: &ParamStore<f32>) {}
    /// Values checkpoints keep so that a resumed run continues this callback exactly (e.g.
    /// early stopping's counters). Keys must be unique across callbacks: prefix them with
    /// the callback's name.
    fn state(&self) -> BTreeMap<String, f64> {
        BTreeMap::new()
    }
    /// Restores what [`Callback::state`] returned; called before the resumed run's first step
    /// with every callback's entries (each picks its own keys).
    fn load_state(&mut self, _state: &BTreeMap<String, f64>) {}
}

/// Stops when the monitored figure has not improved by `min_delta` for `patience` epochs.
/// Monitors validation loss when present, else training loss.
#[derive(Debug, Clone)]
pub struct EarlyStopping {
    /// Epochs in a row without improvement after which training stops.
    pub patience: usize,
    /// How far below the best value so far the figure must fall to count as an improvement.
    pub min_delta: f64,
    best: f64,
    bad_epochs: usize,
}

impl EarlyStopping {
    /// Stops after `patience` epochs in a row without an improvement of more than
    /// `min_delta`.
    pub fn new(patience: usize, min_delta: f64) -> Self {
        EarlyStopping {
            patience,
            min_delta,
            best: f64::INFINITY,
            bad_epochs: 0,
        }
    }

    /// Best monitored value so far.
    pub fn best(&self) -> f64 {
        self.best
    }
}

impl Callback for EarlyStopping {
    fn on_epoch_end(&mut self, r: &EpochRecord) -> Control {
        let value = r.val_loss.unwrap_or(r.train_loss);
        if value < self.best - self.min_delta {
            self.best = value;
            self.bad_epochs = 0;
        } else {
            self.bad_epochs += 1;
        }
        if self.bad_epochs >= self.patience {
            Control::Stop
        } else {
            Control::Continue
        }
    }

    fn state(&self) -> BTreeMap<String, f64> {
        BTreeMap::from([
            ("early_stopping.best".to_string(), self.best),
            (
                "early_stopping.bad_epochs".to_string(),
                self.bad_epochs as f64,
            ),
        ])
    }

    fn load_state(&mut self, state: &BTreeMap<String, f64>) {
        if let Some(&best) = state.get("early_stopping.best") {
            self.best = best;
        }
        if let Some(&bad) = state.get("early_stopping.bad_epochs") {
            // Stored from a usize, so a whole number below 2^53.
            self.bad_epochs = bad as usize;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rec(epoch: u64, val: f64) -> EpochRecord {
        EpochRecord {
            epoch,
            train_loss: 1.0,
            train_accuracy: 0.5,
            val_loss: Some(val),
            val_accuracy: None,
            val_top5: None,
            learning_rate: 0.1,
            seconds: 1.0,
            images_per_second: 1.0,
        }
    }

    #[test]
    fn stops_after_patience_epochs_without_improvement() {
        let mut es = EarlyStopping::new(2, 0.01);
        assert_eq!(es.on_epoch_end(&rec(1, 1.0)), Control::Continue);
        assert_eq!(
            es.on_epoch_end(&rec(2, 0.995)),
            Control::Continue,
            "below min_delta"
        );
        assert_eq!(es.on_epoch_end(&rec(3, 0.9)), Control::Continue);
        assert_eq!(es.on_epoch_end(&rec(4, 0.95)), Control::Continue);
        assert_eq!(es.on_epoch_end(&rec(5, 0.91)), Control::Stop);
        assert_eq!(es.best(), 0.9);
    }
}
