//! Learning-rate schedules.
//!
//! Two layers. A [`Schedule`] is a pure function from a step (or epoch) count to a learning
//! rate, given by its closed form, so it is trivially testable and composable
//! ([`Sequential`], [`warmup_then`]) and has no state beyond the counter. A [`Scheduler`] is
//! what a training loop drives once per step or epoch: [`Scheduled`] wraps a `Schedule` with
//! its counter, and [`ReduceOnPlateau`] reacts to a metric. A scheduler's state is a small map
//! of f64s saved with the checkpoint and restored exactly.
//!
//! ```
//! use convnet_optim::schedule::{CosineAnnealing, Scheduled, Scheduler, warmup_then};
//! let cosine = CosineAnnealing::new(0.1, 90, 0.0).unwrap();
//! let mut sched = Scheduled::new(warmup_then(10, 0.01, cosine).unwrap());
//! let lr0 = sched.lr();                  // 0.001: warm-up starts at 1% of 0.1
//! let lr1 = sched.step(None).unwrap();   // apply with optimizer.set_learning_rate(lr1)
//! assert!(lr1 > lr0);
//! ```

mod cosine;
mod decay;
mod plateau;
mod warmup;

use std::collections::BTreeMap;
use std::fmt::Debug;

pub use cosine::{CosineAnnealing, CosineWarmRestarts};
pub use decay::{Constant, Exponential, MultiStep, StepDecay};
pub use plateau::{PlateauMode, ReduceOnPlateau, ThresholdMode};
pub use warmup::{LinearWarmup, Sequential, warmup_then};

use crate::error::{OptimError, Result};

/// A learning rate as a closed-form function of the number of steps (or epochs) taken.
pub trait Schedule: Debug + Send + Sync {
    /// The learning rate after `step` scheduler steps; `lr(0)` is the initial rate.
    fn lr(&self, step: u64) -> f64;
    /// The schedule's name (its type's, e.g. `"CosineAnnealing"`), used in error messages.
    fn name(&self) -> &'static str;
}

impl Schedule for Box<dyn Schedule> {
    fn lr(&self, step: u64) -> f64 {
        (**self).lr(step)
    }
    fn name(&self) -> &'static str {
        (**self).name()
    }
}

/// A stateful learning-rate driver, stepped once per step or epoch by the training loop.
pub trait Scheduler: Debug + Send {
    /// The current learning rate.
    fn lr(&self) -> f64;
    /// Advances one step and returns the new learning rate (to pass to
    /// `Optimizer::set_learning_rate`). `metric` is required by [`ReduceOnPlateau`] and
    /// ignored by closed-form schedules.
    fn step(&mut self, metric: Option<f64>) -> Result<f64>;
    /// Everything needed to resume exactly.
    fn state(&self) -> BTreeMap<String, f64>;
    /// Restores a state taken by [`Scheduler::state`] into a scheduler configured the same
    /// way (the configuration itself is not part of the state); a missing or malformed entry
    /// is an error that leaves the scheduler unchanged.
    fn load_state(&mut self, state: &BTreeMap<String, f64>) -> Result<()>;
}

/// A closed-form [`Schedule`] with its step counter.
#[derive(Debug, Clone)]
pub struct Scheduled<S: Schedule> {
    schedule: S,
    step: u64,
}

impl<S: Schedule> Scheduled<S> {
    /// Drives `schedule` from step 0.
    pub fn new(schedule: S) -> Self {
        Scheduled { schedule, step: 0 }
    }
    /// The wrapped schedule.
    pub fn schedule(&self) -> &S {
        &self.schedule
    }
    /// Steps taken so far.
    pub fn steps(&self) -> u64 {
        self.step
    }
}

impl<S: Schedule> Scheduler for Scheduled<S> {
    fn lr(&self) -> f64 {
        self.schedule.lr(self.step)
    }

    fn step(&mut self, _metric: Option<f64>) -> Result<f64> {
        self.step += 1;
        Ok(self.lr())
    }

    fn state(&self) -> BTreeMap<String, f64> {
        BTreeMap::from([("step".to_string(), self.step as f64)])
    }

    fn load_state(&mut self, state: &BTreeMap<String, f64>) -> Result<()> {
        self.step = count(self.schedule.name(), state, "step")?;
        Ok(())
    }
}

// ---------------------------------------------------------------------------------------------
// Validation and state helpers shared by the schedules.

/// `Err` naming `param` and `value` unless `ok`; `range` is how the message states the domain.
pub(crate) fn ensure(
    ok: bool,
    owner: &'static str,
    param: &'static str,
    value: f64,
    range: &'static str,
) -> Result<()> {
    if ok {
        Ok(())
    } else {
        Err(OptimError::HyperParameter {
            owner,
            param,
            value,
            range,
        })
    }
}

/// A finite, non-negative learning rate (base_lr, eta_min, min_lr).
pub(crate) fn rate(owner: &'static str, param: &'static str, value: f64) -> Result<()> {
    ensure(
        value.is_finite() && value >= 0.0,
        owner,
        param,
        value,
        "[0, ∞)",
    )
}

/// A count that must be at least 1 (step sizes, periods).
pub(crate) fn positive(owner: &'static str, param: &'static str, value: u64) -> Result<()> {
    ensure(value >= 1, owner, param, value as f64, "[1, ∞)")
}

/// A state entry, or an error naming the missing key.
pub(crate) fn entry(owner: &'static str, state: &BTreeMap<String, f64>, key: &str) -> Result<f64> {
    state.get(key).copied().ok_or_else(|| OptimError::State {
        owner,
        detail: format!("`{key}` is missing"),
    })
}

/// A state entry that must be a non-negative integer.
pub(crate) fn count(owner: &'static str, state: &BTreeMap<String, f64>, key: &str) -> Result<u64> {
    let v = entry(owner, state, key)?;
    if v >= 0.0 && v.fract() == 0.0 && v < 2f64.powi(53) {
        Ok(v as u64)
    } else {
        Err(OptimError::State {
            owner,
            detail: format!("`{key}` = {v} is not a step count"),
        })
    }
}
