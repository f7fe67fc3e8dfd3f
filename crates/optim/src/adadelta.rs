//! Adadelta: units-correct steps from running averages of squared gradients and updates.
//!
//! Zeiler (2012), "ADADELTA: An Adaptive Learning Rate Method", Algorithm 1:
//!
//! ```text
//! E[g²] ← ρ E[g²] + (1 − ρ) g²
//! Δθ    = −(√(E[Δθ²] + ε) / √(E[g²] + ε)) · g
//! E[Δθ²] ← ρ E[Δθ²] + (1 − ρ) Δθ²
//! θ     ← θ + Δθ
//! ```
//!
//! The ratio of RMS values gives the step the units of θ (a diagonal Hessian approximation,
//! §3.2), so the paper needs no learning rate. Following PyTorch we still scale the applied
//! step by η (default 1, which is exactly Algorithm 1) and add optional L2 weight decay
//! g ← g + λ θ, so schedules can drive it like any other optimizer. Note that E[Δθ²] records
//! the unscaled Δθ, as PyTorch does.

use convnet_autograd::ParamStore;
use convnet_tensor::Element;

use crate::error::Result;
use crate::optimizer::{
    Gradients, Optimizer, OptimizerState, SlotStore, check_kind, hyper, non_negative, slot_data,
    snapshot, unit_closed,
};

const NAME: &str = "Adadelta";

/// Adadelta's hyper-parameters (defaults: lr 1, ρ 0.9, ε 1e-6, as in PyTorch).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct AdadeltaConfig {
    /// Learning rate η scaling the applied step (1 is Algorithm 1 unscaled); must be finite
    /// and ≥ 0.
    pub lr: f64,
    /// Decay rate ρ of the running averages `E[g²]` and `E[Δθ²]` (default 0.9); must lie
    /// in [0, 1].
    pub rho: f64,
    /// ε added inside both square roots (default 1e-6); must be finite and ≥ 0.
    pub eps: f64,
    /// L2 weight-decay coefficient λ, added to the gradient as λθ (default 0); must be finite
    /// and ≥ 0.
    pub weight_decay: f64,
}

impl Default for AdadeltaConfig {
    fn default() -> Self {
        AdadeltaConfig::new(1.0)
    }
}

impl AdadeltaConfig {
    /// Adadelta with learning rate `lr` and the other settings at their defaults.
    pub fn new(lr: f64) -> Self {
        AdadeltaConfig {
            lr,
            rho: 0.9,
            eps: 1e-6,
            weight_decay: 0.0,
        }
    }
    /// Sets the decay rate ρ (default 0.9; must lie in [0, 1]).
    pub fn rho(mut self, rho: f64) -> Self {
        self.rho = rho;
        self
    }
    /// Sets ε, added inside both square roots (default 1e-6; must be finite and ≥ 0).
    pub fn eps(mut self, eps: f64) -> Self {
        self.eps = eps;
        self
    }
    /// Sets the L2 weight-decay coefficient λ (default 0; must be finite and ≥ 0).
    pub fn weight_decay(mut self, weight_decay: f64) -> Self {
        self.weight_decay = weight_decay;
        self
    }

    /// Checks every hyper-parameter, naming the first bad one.
    pub fn validate(&self) -> Result<()> {
        non_negative(NAME, "lr", self.lr)?;
        unit_closed(NAME, "rho", self.rho)?;
        non_negative(NAME, "eps", self.eps)?;
        non_negative(NAME, "weight_decay", self.weight_decay)
    }

    /// Validates the settings and builds the optimizer, as [`Adadelta::new`] does.
    pub fn build<T: Element>(self) -> Result<Adadelta<T>> {
        Adadelta::new(self)
    }
}

/// Adadelta (see the module docs for the update rule).
#[derive(Debug, Clone)]
pub struct Adadelta<T: Element = f32> {
    config: AdadeltaConfig,
    step: u64,
    /// Slots: `square_avg` (E[g²]), `acc_delta` (E[Δθ²]).
    slots: SlotStore<T, 2>,
}

impl<T: Element> Adadelta<T> {
    /// An optimizer with `config` and no state yet, or the first invalid hyper-parameter
    /// ([`AdadeltaConfig::validate`]).
    pub fn new(config: AdadeltaConfig) -> Result<Self> {
        config.validate()?;
        Ok(Adadelta {
            config,
            step: 0,
            slots: SlotStore::new(["square_avg", "acc_delta"]),
        })
    }

    /// The current hyper-parameters, including the learning rate a schedule last set.
    pub fn config(&self) -> &AdadeltaConfig {
        &self.config
    }
}

impl<T: Element> Optimizer<T> for Adadelta<T> {
    fn step(&mut self, params: &mut ParamStore<T>, grads: &Gradients<T>) -> Result<()> {
        let c = self.config;
        c.validate()?;
        let lr = T::of_f64(c.lr);
        let rho = T::of_f64(c.rho);
        let one_minus_rho = T::of_f64(1.0 - c.rho);
        let eps = T::of_f64(c.eps);
        let wd = T::of_f64(c.weight_decay);
        self.slots.update(NAME, params, grads, |ps, shape, p, g| {
            ps.ensure(0, shape, 0.0);
            ps.ensure(1, shape, 0.0);
            let [sq, acc] = &mut ps.slots;
            let (sq, acc) = (slot_data(sq), slot_data(acc));
            for (i, (p, &g)) in p.iter_mut().zip(g).enumerate() {
                let g = g + wd * *p;
                sq[i] = rho * sq[i] + one_minus_rho * g * g;
                let delta = (acc[i] + eps).sqrt() / (sq[i] + eps).sqrt() * g;
                acc[i] = rho * acc[i] + one_minus_rho * delta * delta;
                *p -= lr * delta;
            }
        })?;
        self.step += 1;
        Ok(())
    }

    fn learning_rate(&self) -> f64 {
        self.config.lr
    }

    fn set_learning_rate(&mut self, lr: f64) {
        self.config.lr = lr;
    }

    fn state(&self) -> OptimizerState<T> {
        let c = &self.config;
        let hyper = [
            ("lr", c.lr),
            ("rho", c.rho),
            ("eps", c.eps),
            ("weight_decay", c.weight_decay),
        ];
        snapshot(NAME, self.step, &hyper, &self.slots)
    }

    fn load_state(&mut self, state: &OptimizerState<T>) -> Result<()> {
        check_kind(NAME, state)?;
        let config = AdadeltaConfig {
            lr: hyper(NAME, state, "lr")?,
            rho: hyper(NAME, state, "rho")?,
            eps: hyper(NAME, state, "eps")?,
            weight_decay: hyper(NAME, state, "weight_decay")?,
        };
        config.validate()?;
        self.slots.import(NAME, state)?;
        self.config = config;
        self.step = state.step;
        Ok(())
    }

    fn name(&self) -> &'static str {
        NAME
    }
}
