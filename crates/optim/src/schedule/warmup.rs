//! Linear warm-up and sequencing of schedules.
//!
//! Warm-up is Goyal et al. (2017), "Accurate, Large Minibatch SGD: Training ImageNet in 1
//! Hour", §2.2 (gradual warm-up): ramp the rate linearly from a small value to the target over
//! the first k steps, because large rates on randomly initialised networks diverge before
//! the adaptive statistics (or BatchNorm's) settle. [`Sequential`] chains schedules at
//! milestones, each restarting its own count (PyTorch's `SequentialLR`), and
//! [`warmup_then`] is the common "linear warm-up for k steps, then cosine" built from it.

use super::{Schedule, ensure, positive, rate};
use crate::error::{OptimError, Result};

/// Linear ramp from `start_factor · base_lr` at step 0 to `base_lr` at step `warmup_steps`,
/// then constant: η₀ (s + (1 − s) min(t, k) / k).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LinearWarmup {
    base_lr: f64,
    warmup_steps: u64,
    start_factor: f64,
}

impl LinearWarmup {
    /// Ramps over `warmup_steps` steps (k, at least 1) from `start_factor` (s, in [0, 1]) times
    /// `base_lr` (η₀, finite and ≥ 0) up to `base_lr`.
    pub fn new(base_lr: f64, warmup_steps: u64, start_factor: f64) -> Result<Self> {
        const NAME: &str = "LinearWarmup";
        rate(NAME, "base_lr", base_lr)?;
        positive(NAME, "warmup_steps", warmup_steps)?;
        ensure(
            (0.0..=1.0).contains(&start_factor),
            NAME,
            "start_factor",
            start_factor,
            "[0, 1]",
        )?;
        Ok(LinearWarmup {
            base_lr,
            warmup_steps,
            start_factor,
        })
    }
}

impl Schedule for LinearWarmup {
    fn lr(&self, step: u64) -> f64 {
        let frac = step.min(self.warmup_steps) as f64 / self.warmup_steps as f64;
        self.base_lr * (self.start_factor + (1.0 - self.start_factor) * frac)
    }
    fn name(&self) -> &'static str {
        "LinearWarmup"
    }
}

/// Schedule `i` runs from `milestones[i - 1]` (0 for the first) with its count restarted:
/// `lr(t) = schedules[i].lr(t − milestones[i − 1])`.
#[derive(Debug)]
pub struct Sequential {
    schedules: Vec<Box<dyn Schedule>>,
    milestones: Vec<u64>,
}

impl Sequential {
    /// Needs one milestone fewer than schedules, strictly increasing and positive.
    pub fn new(schedules: Vec<Box<dyn Schedule>>, milestones: Vec<u64>) -> Result<Self> {
        let bad = |detail: String| {
            Err(OptimError::Invalid {
                owner: "Sequential",
                detail,
            })
        };
        if schedules.is_empty() {
            return bad("needs at least one schedule".into());
        }
        if milestones.len() + 1 != schedules.len() {
            return bad(format!(
                "{} schedules need {} milestones, got {}",
                schedules.len(),
                schedules.len() - 1,
                milestones.len()
            ));
        }
        if milestones.first() == Some(&0) || milestones.windows(2).any(|w| w[0] >= w[1]) {
            return bad(format!(
                "milestones {milestones:?} are not positive and strictly increasing"
            ));
        }
        Ok(Sequential {
            schedules,
            milestones,
        })
    }
}

impl Schedule for Sequential {
    fn lr(&self, step: u64) -> f64 {
        let i = self.milestones.partition_point(|&m| m <= step);
        let start = if i == 0 { 0 } else { self.milestones[i - 1] };
        self.schedules[i].lr(step - start)
    }
    fn name(&self) -> &'static str {
        "Sequential"
    }
}

/// Linear warm-up over `warmup_steps` from `start_factor` times `after`'s initial rate, then
/// `after` from its step 0 (so the rate is continuous at the switch).
pub fn warmup_then(
    warmup_steps: u64,
    start_factor: f64,
    after: impl Schedule + 'static,
) -> Result<Sequential> {
    let warmup = LinearWarmup::new(after.lr(0), warmup_steps, start_factor)?;
    Sequential::new(vec![Box::new(warmup), Box::new(after)], vec![warmup_steps])
}
