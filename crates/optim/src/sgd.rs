//! Stochastic gradient descent with momentum, Nesterov momentum, dampening and weight decay.
//!
//! Plain SGD is Robbins & Monro (1951): θ ← θ − η g. Momentum is Polyak's heavy ball in the
//! form of Sutskever, Martens, Dahl & Hinton (2013), "On the importance of initialization and
//! momentum in deep learning", eqs. (1)–(2): v ← μ v − η ∇f(θ), θ ← θ + v; Nesterov's
//! accelerated gradient is their eqs. (3)–(4), v ← μ v − η ∇f(θ + μ v), θ ← θ + v.
//!
//! We implement PyTorch's formulation, which keeps the learning rate outside the buffer:
//!
//! ```text
//! g ← g + λ θ                                   (L2 weight decay)
//! b ← g on the first step, else b ← μ b + (1 − τ) g   (τ: dampening)
//! d ← g + μ b  (Nesterov)   or   d ← b
//! θ ← θ − η d
//! ```
//!
//! Why this form: with a constant η it is exactly Sutskever's momentum (v = −η b), and its
//! Nesterov variant is the reformulation of Bengio, Boulanger-Lewandowski & Pascanu (2013),
//! "Advances in optimizing recurrent networks", §3.5, which evaluates the gradient at the
//! stored parameters instead of a look-ahead point (Θ ← Θ + μ² v − (1 + μ) η ∇f(Θ)), so no
//! second forward pass is needed. Keeping η outside the buffer also makes a learning-rate
//! schedule take effect immediately rather than through the decaying velocity, and matches the
//! checkpoints and hyper-parameters people port from PyTorch.

use convnet_autograd::ParamStore;
use convnet_tensor::Element;

use crate::error::{OptimError, Result};
use crate::optimizer::{
    Gradients, Optimizer, OptimizerState, SlotStore, check_kind, flag, hyper, hyper_flag,
    non_negative, slot_data, snapshot, unit_closed,
};

const NAME: &str = "SGD";

/// SGD's hyper-parameters; a builder (`SgdConfig::new(0.1).momentum(0.9).build()`).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SgdConfig {
    /// Learning rate η; must be finite and ≥ 0.
    pub lr: f64,
    /// Momentum factor μ (default 0: no momentum buffer, plain SGD); must be finite and ≥ 0.
    pub momentum: f64,
    /// Dampening τ: after the first step the buffer adds (1 − τ) g (default 0); must lie in
    /// [0, 1], and be 0 with Nesterov.
    pub dampening: f64,
    /// Nesterov momentum: step along g + μ b instead of b (default false); needs momentum > 0
    /// and dampening 0.
    pub nesterov: bool,
    /// L2 weight-decay coefficient λ, added to the gradient as λθ (default 0); must be finite
    /// and ≥ 0.
    pub weight_decay: f64,
}

impl SgdConfig {
    /// Plain SGD with learning rate `lr`, no momentum, no weight decay.
    pub fn new(lr: f64) -> Self {
        SgdConfig {
            lr,
            momentum: 0.0,
            dampening: 0.0,
            nesterov: false,
            weight_decay: 0.0,
        }
    }
    /// Sets the momentum factor μ (default 0, plain SGD; must be finite and ≥ 0).
    pub fn momentum(mut self, momentum: f64) -> Self {
        self.momentum = momentum;
        self
    }
    /// Sets the dampening τ (default 0; must lie in [0, 1], and be 0 with Nesterov).
    pub fn dampening(mut self, dampening: f64) -> Self {
        self.dampening = dampening;
        self
    }
    /// Turns Nesterov momentum on or off (default off; on needs momentum > 0 and dampening 0).
    pub fn nesterov(mut self, nesterov: bool) -> Self {
        self.nesterov = nesterov;
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
        non_negative(NAME, "momentum", self.momentum)?;
        unit_closed(NAME, "dampening", self.dampening)?;
        non_negative(NAME, "weight_decay", self.weight_decay)?;
        if self.nesterov && self.momentum == 0.0 {
            return Err(OptimError::Invalid {
                owner: NAME,
                detail: "nesterov = true requires momentum > 0 (got momentum = 0)".into(),
            });
        }
        if self.nesterov && self.dampening != 0.0 {
            return Err(OptimError::Invalid {
                owner: NAME,
                detail: format!(
                    "nesterov = true requires dampening = 0 (got dampening = {})",
                    self.dampening
                ),
            });
        }
        Ok(())
    }

    /// Validates the settings and builds the optimizer, as [`Sgd::new`] does.
    pub fn build<T: Element>(self) -> Result<Sgd<T>> {
        Sgd::new(self)
    }
}

/// SGD (see the module docs for the update rule).
#[derive(Debug, Clone)]
pub struct Sgd<T: Element = f32> {
    config: SgdConfig,
    step: u64,
    /// Slot 0: `momentum_buffer`.
    slots: SlotStore<T, 1>,
}

impl<T: Element> Sgd<T> {
    /// An optimizer with `config` and no state yet, or the first invalid hyper-parameter
    /// ([`SgdConfig::validate`]).
    pub fn new(config: SgdConfig) -> Result<Self> {
        config.validate()?;
        Ok(Sgd {
            config,
            step: 0,
            slots: SlotStore::new(["momentum_buffer"]),
        })
    }

    /// The current hyper-parameters, including the learning rate a schedule last set.
    pub fn config(&self) -> &SgdConfig {
        &self.config
    }
}

impl<T: Element> Optimizer<T> for Sgd<T> {
    fn step(&mut self, params: &mut ParamStore<T>, grads: &Gradients<T>) -> Result<()> {
        let c = self.config;
        c.validate()?;
        let lr = T::of_f64(c.lr);
        let mu = T::of_f64(c.momentum);
        let keep = T::of_f64(1.0 - c.dampening);
        let wd = T::of_f64(c.weight_decay);
        self.slots.update(NAME, params, grads, |ps, shape, p, g| {
            if c.momentum == 0.0 {
                for (p, &g) in p.iter_mut().zip(g) {
                    *p -= lr * (g + wd * *p);
                }
                return;
            }
            let first = ps.ensure(0, shape, 0.0);
            let [buf] = &mut ps.slots;
            let buf = slot_data(buf);
            for ((p, b), &g) in p.iter_mut().zip(buf).zip(g) {
                let g = g + wd * *p;
                *b = if first { g } else { mu * *b + keep * g };
                let d = if c.nesterov { g + mu * *b } else { *b };
                *p -= lr * d;
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
            ("momentum", c.momentum),
            ("dampening", c.dampening),
            ("nesterov", flag(c.nesterov)),
            ("weight_decay", c.weight_decay),
        ];
        snapshot(NAME, self.step, &hyper, &self.slots)
    }

    fn load_state(&mut self, state: &OptimizerState<T>) -> Result<()> {
        check_kind(NAME, state)?;
        let config = SgdConfig {
            lr: hyper(NAME, state, "lr")?,
            momentum: hyper(NAME, state, "momentum")?,
            dampening: hyper(NAME, state, "dampening")?,
            nesterov: hyper_flag(NAME, state, "nesterov")?,
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
