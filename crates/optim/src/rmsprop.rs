//! RMSProp: divide the step by a running root-mean-square of recent gradients.
//!
//! Tieleman & Hinton (2012), COURSERA "Neural Networks for Machine Learning", lecture 6.5:
//! v ← α v + (1 − α) g², θ ← θ − η g / √v. Unlike Adagrad's sum, the exponential average
//! forgets old gradients, so steps do not vanish on long runs. The centred variant is Graves
//! (2013), "Generating Sequences With Recurrent Neural Networks", eqs. (38)–(41): it also
//! tracks the mean gradient ḡ and normalises by the variance estimate v − ḡ², with momentum
//! applied to the normalised step.
//!
//! PyTorch's formulation (ε outside the square root, unlike Graves' eq. (40)):
//!
//! ```text
//! g ← g + λ θ                                   (L2 weight decay)
//! v ← α v + (1 − α) g²
//! centred: ḡ ← α ḡ + (1 − α) g,  d = √(v − ḡ²) + ε;   else d = √v + ε
//! momentum μ > 0: b ← μ b + g / d,  θ ← θ − η b;      else θ ← θ − η g / d
//! ```

use convnet_autograd::ParamStore;
use convnet_tensor::Element;

use crate::error::Result;
use crate::optimizer::{
    Gradients, Optimizer, OptimizerState, SlotStore, check_kind, flag, hyper, hyper_flag,
    non_negative, slot_data, snapshot, unit_closed,
};

const NAME: &str = "RMSProp";

/// RMSProp's hyper-parameters (defaults: lr 0.01, α 0.99, ε 1e-8, as in PyTorch).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RmsPropConfig {
    /// Learning rate η; must be finite and ≥ 0.
    pub lr: f64,
    /// Smoothing constant α of the running average v of g² (default 0.99); must lie in
    /// [0, 1].
    pub alpha: f64,
    /// ε added to the root mean square in the denominator d (default 1e-8); must be finite and
    /// ≥ 0.
    pub eps: f64,
    /// Momentum factor μ applied to the normalised step (default 0: no momentum buffer); must
    /// be finite and ≥ 0.
    pub momentum: f64,
    /// Centred RMSProp: normalise by √(v − ḡ²), the running variance, instead of √v (default
    /// false).
    pub centered: bool,
    /// L2 weight-decay coefficient λ, added to the gradient as λθ (default 0); must be finite
    /// and ≥ 0.
    pub weight_decay: f64,
}

impl Default for RmsPropConfig {
    fn default() -> Self {
        RmsPropConfig::new(0.01)
    }
}

impl RmsPropConfig {
    /// RMSProp with learning rate `lr` and the other settings at their defaults.
    pub fn new(lr: f64) -> Self {
        RmsPropConfig {
            lr,
            alpha: 0.99,
            eps: 1e-8,
            momentum: 0.0,
            centered: false,
            weight_decay: 0.0,
        }
    }
    /// Sets the smoothing constant α (default 0.99; must lie in [0, 1]).
    pub fn alpha(mut self, alpha: f64) -> Self {
        self.alpha = alpha;
        self
    }
    /// Sets ε, added to the root mean square in the denominator (default 1e-8; must be finite
    /// and ≥ 0).
    pub fn eps(mut self, eps: f64) -> Self {
        self.eps = eps;
        self
    }
    /// Sets the momentum factor μ (default 0, no momentum; must be finite and ≥ 0).
    pub fn momentum(mut self, momentum: f64) -> Self {
        self.momentum = momentum;
        self
    }
    /// Turns the centred variant on or off (default off).
    pub fn centered(mut self, centered: bool) -> Self {
        self.centered = centered;
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
        unit_closed(NAME, "alpha", self.alpha)?;
        non_negative(NAME, "eps", self.eps)?;
        non_negative(NAME, "momentum", self.momentum)?;
        non_negative(NAME, "weight_decay", self.weight_decay)
    }

    /// Validates the settings and builds the optimizer, as [`RmsProp::new`] does.
    pub fn build<T: Element>(self) -> Result<RmsProp<T>> {
        RmsProp::new(self)
    }
}

/// RMSProp (see the module docs for the update rule).
#[derive(Debug, Clone)]
pub struct RmsProp<T: Element = f32> {
    config: RmsPropConfig,
    step: u64,
    /// Slots: `square_avg`, `grad_avg` (centred only), `momentum_buffer` (momentum only).
    slots: SlotStore<T, 3>,
}

impl<T: Element> RmsProp<T> {
    /// An optimizer with `config` and no state yet, or the first invalid hyper-parameter
    /// ([`RmsPropConfig::validate`]).
    pub fn new(config: RmsPropConfig) -> Result<Self> {
        config.validate()?;
        let slots = SlotStore::new(["square_avg", "grad_avg", "momentum_buffer"]);
        Ok(RmsProp {
            config,
            step: 0,
            slots,
        })
    }

    /// The current hyper-parameters, including the learning rate a schedule last set.
    pub fn config(&self) -> &RmsPropConfig {
        &self.config
    }
}

impl<T: Element> Optimizer<T> for RmsProp<T> {
    fn step(&mut self, params: &mut ParamStore<T>, grads: &Gradients<T>) -> Result<()> {
        let c = self.config;
        c.validate()?;
        let lr = T::of_f64(c.lr);
        let alpha = T::of_f64(c.alpha);
        let one_minus_alpha = T::of_f64(1.0 - c.alpha);
        let eps = T::of_f64(c.eps);
        let mu = T::of_f64(c.momentum);
        let wd = T::of_f64(c.weight_decay);
        self.slots.update(NAME, params, grads, |ps, shape, p, g| {
            ps.ensure(0, shape, 0.0);
            if c.centered {
                ps.ensure(1, shape, 0.0);
            }
            if c.momentum > 0.0 {
                ps.ensure(2, shape, 0.0);
            }
            let [sq, gavg, buf] = &mut ps.slots;
            let (sq, gavg, buf) = (slot_data(sq), slot_data(gavg), slot_data(buf));
            for (i, (p, &g)) in p.iter_mut().zip(g).enumerate() {
                let g = g + wd * *p;
                sq[i] = alpha * sq[i] + one_minus_alpha * g * g;
                let d = if c.centered {
                    gavg[i] = alpha * gavg[i] + one_minus_alpha * g;
                    (sq[i] - gavg[i] * gavg[i]).sqrt() + eps
                } else {
                    sq[i].sqrt() + eps
                };
                if c.momentum > 0.0 {
                    buf[i] = mu * buf[i] + g / d;
                    *p -= lr * buf[i];
                } else {
                    *p -= lr * g / d;
                }
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
            ("alpha", c.alpha),
            ("eps", c.eps),
            ("momentum", c.momentum),
            ("centered", flag(c.centered)),
            ("weight_decay", c.weight_decay),
        ];
        snapshot(NAME, self.step, &hyper, &self.slots)
    }

    fn load_state(&mut self, state: &OptimizerState<T>) -> Result<()> {
        check_kind(NAME, state)?;
        let config = RmsPropConfig {
            lr: hyper(NAME, state, "lr")?,
            alpha: hyper(NAME, state, "alpha")?,
            eps: hyper(NAME, state, "eps")?,
            momentum: hyper(NAME, state, "momentum")?,
            centered: hyper_flag(NAME, state, "centered")?,
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
