//! Piecewise-constant and exponential decay: the classic schedules of the ImageNet papers
//! (AlexNet divided the rate by 10 when validation error plateaued; ResNet at fixed epochs).
//!
//! Closed forms, with t the number of steps taken and η₀ the base rate:
//! step: η₀ γ^⌊t / s⌋; multi-step: η₀ γ^(number of milestones ≤ t); exponential: η₀ γᵗ.

use super::{Schedule, ensure, positive, rate};
use crate::error::{OptimError, Result};

fn gamma(owner: &'static str, gamma: f64) -> Result<()> {
    ensure(gamma > 0.0 && gamma <= 1.0, owner, "gamma", gamma, "(0, 1]")
}

fn powu(gamma: f64, n: u64) -> f64 {
    gamma.powi(i32::try_from(n).unwrap_or(i32::MAX))
}

/// A constant learning rate.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Constant {
    lr: f64,
}

impl Constant {
    /// Always `lr`, which must be finite and ≥ 0.
    pub fn new(lr: f64) -> Result<Self> {
        rate("Constant", "lr", lr)?;
        Ok(Constant { lr })
    }
}

impl Schedule for Constant {
    fn lr(&self, _step: u64) -> f64 {
        self.lr
    }
    fn name(&self) -> &'static str {
        "Constant"
    }
}

/// Multiply by `gamma` every `step_size` steps: η₀ γ^⌊t / step_size⌋.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct StepDecay {
    base_lr: f64,
    step_size: u64,
    gamma: f64,
}

impl StepDecay {
    /// Starts at `base_lr` (η₀, finite and ≥ 0) and multiplies it by `gamma_` (γ, in (0, 1])
    /// every `step_size` steps (at least 1).
    pub fn new(base_lr: f64, step_size: u64, gamma_: f64) -> Result<Self> {
        rate("StepDecay", "base_lr", base_lr)?;
        positive("StepDecay", "step_size", step_size)?;
        gamma("StepDecay", gamma_)?;
        Ok(StepDecay {
            base_lr,
            step_size,
            gamma: gamma_,
        })
    }
}

impl Schedule for StepDecay {
    fn lr(&self, step: u64) -> f64 {
        self.base_lr * powu(self.gamma, step / self.step_size)
    }
    fn name(&self) -> &'static str {
        "StepDecay"
    }
}

/// Multiply by `gamma` at each milestone: η₀ γ^|{m ∈ milestones : m ≤ t}|.
#[derive(Debug, Clone, PartialEq)]
pub struct MultiStep {
    base_lr: f64,
    milestones: Vec<u64>,
    gamma: f64,
}

impl MultiStep {
    /// `milestones` must be strictly increasing.
    pub fn new(base_lr: f64, milestones: Vec<u64>, gamma_: f64) -> Result<Self> {
        rate("MultiStep", "base_lr", base_lr)?;
        gamma("MultiStep", gamma_)?;
        if milestones.windows(2).any(|w| w[0] >= w[1]) {
            return Err(OptimError::Invalid {
                owner: "MultiStep",
                detail: format!("milestones {milestones:?} are not strictly increasing"),
            });
        }
        Ok(MultiStep {
            base_lr,
            milestones,
            gamma: gamma_,
        })
    }
}

impl Schedule for MultiStep {
    fn lr(&self, step: u64) -> f64 {
        let passed = self.milestones.partition_point(|&m| m <= step);
        self.base_lr * powu(self.gamma, passed as u64)
    }
    fn name(&self) -> &'static str {
        "MultiStep"
    }
}

/// Multiply by `gamma` every step: η₀ γᵗ.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Exponential {
    base_lr: f64,
    gamma: f64,
}

impl Exponential {
    /// Starts at `base_lr` (η₀, finite and ≥ 0) and multiplies it by `gamma_` (γ, in (0, 1])
    /// every step.
    pub fn new(base_lr: f64, gamma_: f64) -> Result<Self> {
        rate("Exponential", "base_lr", base_lr)?;
        gamma("Exponential", gamma_)?;
        Ok(Exponential {
            base_lr,
            gamma: gamma_,
        })
    }
}

impl Schedule for Exponential {
    fn lr(&self, step: u64) -> f64 {
        self.base_lr * powu(self.gamma, step)
    }
    fn name(&self) -> &'static str {
        "Exponential"
    }
}
