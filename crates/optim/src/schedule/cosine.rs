//! Cosine annealing, with and without warm restarts (SGDR).
//!
//! Loshchilov & Hutter (2017), "SGDR: Stochastic Gradient Descent with Warm Restarts",
//! eq. (5): η_t = η_min + ½ (η_max − η_min)(1 + cos(π T_cur / T_i)), where T_cur counts steps
//! since the last restart and the period T_i starts at T_0 and is multiplied by T_mult after
//! each restart. Plain cosine annealing is one period of it, held at η_min afterwards (rather
//! than rising again, which is what PyTorch's closed form does past T_max).

use std::f64::consts::PI;

use super::{Schedule, positive, rate};
use crate::error::Result;

fn cosine(base_lr: f64, eta_min: f64, t_cur: f64, t_i: f64) -> f64 {
    eta_min + 0.5 * (base_lr - eta_min) * (1.0 + (PI * t_cur / t_i).cos())
}

/// One cosine from `base_lr` at step 0 down to `eta_min` at step `t_max`, then constant.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct CosineAnnealing {
    base_lr: f64,
    t_max: u64,
    eta_min: f64,
}

impl CosineAnnealing {
    /// Anneals from `base_lr` (η_max) to `eta_min` (η_min) over `t_max` steps (T_max); both
    /// rates must be finite and ≥ 0, and `t_max` at least 1.
    pub fn new(base_lr: f64, t_max: u64, eta_min: f64) -> Result<Self> {
        rate("CosineAnnealing", "base_lr", base_lr)?;
        positive("CosineAnnealing", "t_max", t_max)?;
        rate("CosineAnnealing", "eta_min", eta_min)?;
        Ok(CosineAnnealing {
            base_lr,
            t_max,
            eta_min,
        })
    }
}

impl Schedule for CosineAnnealing {
    fn lr(&self, step: u64) -> f64 {
        let t = step.min(self.t_max);
        cosine(self.base_lr, self.eta_min, t as f64, self.t_max as f64)
    }
    fn name(&self) -> &'static str {
        "CosineAnnealing"
    }
}

/// SGDR: cosine periods of length T_0, T_0·T_mult, T_0·T_mult², …, each restarting at
/// `base_lr`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct CosineWarmRestarts {
    base_lr: f64,
    t_0: u64,
    t_mult: u64,
    eta_min: f64,
}

impl CosineWarmRestarts {
    /// Anneals from `base_lr` (η_max) to `eta_min` (η_min) in periods of `t_0` (T_0) steps,
    /// multiplied by `t_mult` (T_mult) after each restart; both rates must be finite and ≥ 0,
    /// and `t_0` and `t_mult` at least 1.
    pub fn new(base_lr: f64, t_0: u64, t_mult: u64, eta_min: f64) -> Result<Self> {
        const NAME: &str = "CosineWarmRestarts";
        rate(NAME, "base_lr", base_lr)?;
        positive(NAME, "t_0", t_0)?;
        positive(NAME, "t_mult", t_mult)?;
        rate(NAME, "eta_min", eta_min)?;
        Ok(CosineWarmRestarts {
            base_lr,
            t_0,
            t_mult,
            eta_min,
        })
    }

    /// `(T_cur, T_i)` at `step`: steps since the last restart and the current period.
    pub fn position(&self, step: u64) -> (u64, u64) {
        let (mut t_cur, mut t_i) = (step, self.t_0);
        while t_cur >= t_i {
            t_cur -= t_i;
            t_i = t_i.saturating_mul(self.t_mult);
        }
        (t_cur, t_i)
    }
}

impl Schedule for CosineWarmRestarts {
    fn lr(&self, step: u64) -> f64 {
        let (t_cur, t_i) = if self.t_mult == 1 {
            (step % self.t_0, self.t_0)
        } else {
            self.position(step)
        };
        cosine(self.base_lr, self.eta_min, t_cur as f64, t_i as f64)
    }
    fn name(&self) -> &'static str {
        "CosineWarmRestarts"
    }
}
