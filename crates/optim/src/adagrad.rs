//! Adagrad: per-coordinate learning rates from the accumulated squared gradients.
//!
//! Duchi, Hazan & Singer (2011), "Adaptive Subgradient Methods for Online Learning and
//! Stochastic Optimization", JMLR 12, the diagonal update of Figure 1:
//! θ ← θ − η · g / (δ + √(Σ_τ g_τ²)). Coordinates with rarely large gradients keep large
//! steps, which is why it suits sparse features; the ever-growing sum is also why its steps
//! shrink to nothing on long runs (the problem RMSProp and Adadelta fix).
//!
//! PyTorch's formulation, which we follow so hyper-parameters port unchanged:
//!
//! ```text
//! g ← g + λ θ                            (L2 weight decay)
//! η_t = η / (1 + (t − 1) · lr_decay)     (t: this parameter's update count)
//! s ← s + g²                             (s starts at initial_accumulator_value)
//! θ ← θ − η_t · g / (√s + ε)
//! ```

use convnet_autograd::ParamStore;
use convnet_tensor::Element;

use crate::error::Result;
use crate::optimizer::{
    Gradients, Optimizer, OptimizerState, SlotStore, check_kind, hyper, non_negative, slot_data,
    snapshot,
};

const NAME: &str = "Adagrad";

/// Adagrad's hyper-parameters (defaults: lr 0.01, ε 1e-10, as in PyTorch).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct AdagradConfig {
    /// Learning rate η; must be finite and ≥ 0.
    pub lr: f64,
    /// Learning-rate decay: a parameter's t-th update uses η / (1 + (t − 1) · lr_decay)
    /// (default 0); must be finite and ≥ 0.
    pub lr_decay: f64,
    /// L2 weight-decay coefficient λ, added to the gradient as λθ (default 0); must be finite
    /// and ≥ 0.
    pub weight_decay: f64,
    /// The value the squared-gradient sum s starts at (default 0); must be finite and ≥ 0.
    pub initial_accumulator_value: f64,
    /// ε added to √s in the denominator (default 1e-10); must be finite and ≥ 0.
    pub eps: f64,
}

impl Default for AdagradConfig {
    fn default() -> Self {
        AdagradConfig::new(0.01)
    }
}

impl AdagradConfig {
    /// Adagrad with learning rate `lr` and the other settings at their defaults.
    pub fn new(lr: f64) -> Self {
        AdagradConfig {
            lr,
            lr_decay: 0.0,
            weight_decay: 0.0,
            initial_accumulator_value: 0.0,
            eps: 1e-10,
        }
    }
    /// Sets the learning-rate decay, η_t = η / (1 + (t − 1) · lr_decay) (default 0; must be
    /// finite and ≥ 0).
    pub fn lr_decay(mut self, lr_decay: f64) -> Self {
        self.lr_decay = lr_decay;
        self
    }
    /// Sets the L2 weight-decay coefficient λ (default 0; must be finite and ≥ 0).
    pub fn weight_decay(mut self, weight_decay: f64) -> Self {
        self.weight_decay = weight_decay;
        self
    }
    /// Sets the value the squared-gradient sum s starts at (default 0; must be finite and ≥ 0).
    pub fn initial_accumulator_value(mut self, value: f64) -> Self {
        self.initial_accumulator_value = value;
        self
    }
    /// Sets ε, added to √s in the denominator (default 1e-10; must be finite and ≥ 0).
    pub fn eps(mut self, eps: f64) -> Self {
        self.eps = eps;
        self
    }

    /// Checks every hyper-parameter, naming the first bad one.
    pub fn validate(&self) -> Result<()> {
        non_negative(NAME, "lr", self.lr)?;
        non_negative(NAME, "lr_decay", self.lr_decay)?;
        non_negative(NAME, "weight_decay", self.weight_decay)?;
        non_negative(
            NAME,
            "initial_accumulator_value",
            self.initial_accumulator_value,
        )?;
        non_negative(NAME, "eps", self.eps)
    }

    /// Validates the settings and builds the optimizer, as [`Adagrad::new`] does.
    pub fn build<T: Element>(self) -> Result<Adagrad<T>> {
        Adagrad::new(self)
    }
}

/// Adagrad (see the module docs for the update rule).
#[derive(Debug, Clone)]
pub struct Adagrad<T: Element = f32> {
    config: AdagradConfig,
    step: u64,
    /// Slot 0: `sum` of squared gradients.
    slots: SlotStore<T, 1>,
}

impl<T: Element> Adagrad<T> {
    /// An optimizer with `config` and no state yet, or the first invalid hyper-parameter
    /// ([`AdagradConfig::validate`]).
    pub fn new(config: AdagradConfig) -> Result<Self> {
        config.validate()?;
        Ok(Adagrad {
            config,
            step: 0,
            slots: SlotStore::new(["sum"]),
        })
    }

    /// The current hyper-parameters, including the learning rate a schedule last set.
    pub fn config(&self) -> &AdagradConfig {
        &self.config
    }
}

impl<T: Element> Optimizer<T> for Adagrad<T> {
    fn step(&mut self, params: &mut ParamStore<T>, grads: &Gradients<T>) -> Result<()> {
        let c = self.config;
        c.validate()?;
        let wd = T::of_f64(c.weight_decay);
        let eps = T::of_f64(c.eps);
        self.slots.update(NAME, params, grads, |ps, shape, p, g| {
            let clr = T::of_f64(c.lr / (1.0 + (ps.step - 1) as f64 * c.lr_decay));
            ps.ensure(0, shape, c.initial_accumulator_value);
            let [sum] = &mut ps.slots;
            for ((p, s), &g) in p.iter_mut().zip(slot_data(sum)).zip(g) {
                let g = g + wd * *p;
                *s += g * g;
                *p -= clr * g / (s.sqrt() + eps);
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
            ("lr_decay", c.lr_decay),
            ("weight_decay", c.weight_decay),
            ("initial_accumulator_value", c.initial_accumulator_value),
            ("eps", c.eps),
        ];
        snapshot(NAME, self.step, &hyper, &self.slots)
    }

    fn load_state(&mut self, state: &OptimizerState<T>) -> Result<()> {
        check_kind(NAME, state)?;
        let config = AdagradConfig {
            lr: hyper(NAME, state, "lr")?,
            lr_decay: hyper(NAME, state, "lr_decay")?,
            weight_decay: hyper(NAME, state, "weight_decay")?,
            initial_accumulator_value: hyper(NAME, state, "initial_accumulator_value")?,
            eps: hyper(NAME, state, "eps")?,
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
