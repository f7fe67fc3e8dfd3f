//! Reduce the learning rate when a metric stops improving.
//!
//! The rule AlexNet (Krizhevsky et al. 2012, §5) applied by hand — "divide the learning rate
//! by 10 when the validation error rate stopped improving" — made automatic, with PyTorch's
//! `ReduceLROnPlateau` semantics so settings port unchanged:
//!
//! - a metric is an improvement if it beats the best so far by more than `threshold`
//!   (relative: best·(1 ∓ threshold); absolute: best ∓ threshold);
//! - after more than `patience` consecutive epochs without improvement, lr ← max(lr·factor,
//!   min_lr), then `cooldown` epochs pass during which bad epochs are not counted;
//! - a reduction smaller than `eps` is skipped, so the rate does not creep at min_lr.

use std::collections::BTreeMap;

use super::{Scheduler, count, ensure, entry, rate};
use crate::error::{OptimError, Result};

const NAME: &str = "ReduceOnPlateau";

/// Whether lower (loss) or higher (accuracy) metrics are better.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PlateauMode {
    /// Lower is better (a loss).
    Min,
    /// Higher is better (an accuracy).
    Max,
}

/// How `threshold` is compared with the best metric.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ThresholdMode {
    /// Relative: an improvement must beat best·(1 − threshold) in [`PlateauMode::Min`], or
    /// best·(1 + threshold) in [`PlateauMode::Max`].
    Rel,
    /// Absolute: an improvement must beat best − threshold in [`PlateauMode::Min`], or
    /// best + threshold in [`PlateauMode::Max`].
    Abs,
}

/// Reduce-on-plateau scheduler (see the module docs).
#[derive(Debug, Clone, PartialEq)]
pub struct ReduceOnPlateau {
    mode: PlateauMode,
    factor: f64,
    patience: u64,
    threshold: f64,
    threshold_mode: ThresholdMode,
    cooldown: u64,
    min_lr: f64,
    eps: f64,
    // State.
    lr: f64,
    best: f64,
    num_bad_epochs: u64,
    cooldown_counter: u64,
    epoch: u64,
}

impl ReduceOnPlateau {
    /// PyTorch's defaults: factor 0.1, patience 10, relative threshold 1e-4, no cooldown,
    /// min_lr 0, eps 1e-8.
    pub fn new(lr: f64, mode: PlateauMode) -> Result<Self> {
        rate(NAME, "lr", lr)?;
        Ok(ReduceOnPlateau {
            mode,
            factor: 0.1,
            patience: 10,
            threshold: 1e-4,
            threshold_mode: ThresholdMode::Rel,
            cooldown: 0,
            min_lr: 0.0,
            eps: 1e-8,
            lr,
            best: Self::worst(mode),
            num_bad_epochs: 0,
            cooldown_counter: 0,
            epoch: 0,
        })
    }

    fn worst(mode: PlateauMode) -> f64 {
        match mode {
            PlateauMode::Min => f64::INFINITY,
            PlateauMode::Max => f64::NEG_INFINITY,
        }
    }

    /// Multiplier applied on a plateau; must lie in (0, 1).
    pub fn factor(mut self, factor: f64) -> Result<Self> {
        ensure(
            factor > 0.0 && factor < 1.0,
            NAME,
            "factor",
            factor,
            "(0, 1)",
        )?;
        self.factor = factor;
        Ok(self)
    }
    /// Epochs without improvement tolerated before reducing.
    pub fn patience(mut self, patience: u64) -> Self {
        self.patience = patience;
        self
    }
    /// Minimum improvement that counts, and how it is measured.
    pub fn threshold(mut self, threshold: f64, mode: ThresholdMode) -> Result<Self> {
        rate(NAME, "threshold", threshold)?;
        self.threshold = threshold;
        self.threshold_mode = mode;
        Ok(self)
    }
    /// Epochs after a reduction during which bad epochs are not counted.
    pub fn cooldown(mut self, cooldown: u64) -> Self {
        self.cooldown = cooldown;
        self
    }
    /// The rate is never reduced below `min_lr`.
    pub fn min_lr(mut self, min_lr: f64) -> Result<Self> {
        rate(NAME, "min_lr", min_lr)?;
        self.min_lr = min_lr;
        Ok(self)
    }
    /// Reductions smaller than `eps` are skipped.
    pub fn eps(mut self, eps: f64) -> Result<Self> {
        rate(NAME, "eps", eps)?;
        self.eps = eps;
        Ok(self)
    }

    /// The best metric seen so far.
    pub fn best(&self) -> f64 {
        self.best
    }
    /// Consecutive epochs without improvement (reset by a reduction and during cooldown).
    pub fn num_bad_epochs(&self) -> u64 {
        self.num_bad_epochs
    }
    /// Whether a reduction's cooldown is still running, so bad epochs are not counted.
    pub fn in_cooldown(&self) -> bool {
        self.cooldown_counter > 0
    }

    fn is_better(&self, a: f64) -> bool {
        let (best, th) = (self.best, self.threshold);
        match (self.mode, self.threshold_mode) {
            (PlateauMode::Min, ThresholdMode::Rel) => a < best * (1.0 - th),
            (PlateauMode::Min, ThresholdMode::Abs) => a < best - th,
            (PlateauMode::Max, ThresholdMode::Rel) => a > best * (1.0 + th),
            (PlateauMode::Max, ThresholdMode::Abs) => a > best + th,
        }
    }
}

impl Scheduler for ReduceOnPlateau {
    fn lr(&self) -> f64 {
        self.lr
    }

    /// Records one epoch's metric (NaN counts as no improvement) and returns the rate to use.
    fn step(&mut self, metric: Option<f64>) -> Result<f64> {
        let metric = metric.ok_or(OptimError::MissingMetric { owner: NAME })?;
        self.epoch += 1;
        if self.is_better(metric) {
            self.best = metric;
            self.num_bad_epochs = 0;
        } else {
            self.num_bad_epochs += 1;
        }
        if self.cooldown_counter > 0 {
            self.cooldown_counter -= 1;
            self.num_bad_epochs = 0;
        }
        if self.num_bad_epochs > self.patience {
            let new_lr = (self.lr * self.factor).max(self.min_lr);
            if self.lr - new_lr > self.eps {
                self.lr = new_lr;
            }
            self.cooldown_counter = self.cooldown;
            self.num_bad_epochs = 0;
        }
        Ok(self.lr)
    }

    fn state(&self) -> BTreeMap<String, f64> {
        BTreeMap::from([
            ("lr".to_string(), self.lr),
            ("best".to_string(), self.best),
            ("num_bad_epochs".to_string(), self.num_bad_epochs as f64),
            ("cooldown_counter".to_string(), self.cooldown_counter as f64),
            ("epoch".to_string(), self.epoch as f64),
        ])
    }

    fn load_state(&mut self, state: &BTreeMap<String, f64>) -> Result<()> {
        let lr = entry(NAME, state, "lr")?;
        rate(NAME, "lr", lr)?;
        let best = entry(NAME, state, "best")?;
        let num_bad_epochs = count(NAME, state, "num_bad_epochs")?;
        let cooldown_counter = count(NAME, state, "cooldown_counter")?;
        let epoch = count(NAME, state, "epoch")?;
        *self = ReduceOnPlateau {
            lr,
            best,
            num_bad_epochs,
            cooldown_counter,
            epoch,
            ..*self
        };
        Ok(())
    }
}
