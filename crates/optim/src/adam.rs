//! Adam, AMSGrad and AdamW: bias-corrected moment estimates, one implementation.
//!
//! Adam is Kingma & Ba (2015), "Adam: A Method for Stochastic Optimization", Algorithm 1:
//!
//! ```text
//! m ← β₁ m + (1 − β₁) g          v ← β₂ v + (1 − β₂) g²
//! m̂ = m / (1 − β₁ᵗ)              v̂ = v / (1 − β₂ᵗ)
//! θ ← θ − α m̂ / (√v̂ + ε)
//! ```
//!
//! AMSGrad is Reddi, Kale & Kumar (2018), "On the Convergence of Adam and Beyond",
//! Algorithm 2: normalise by the running maximum v̂ₘₐₓ ← max(v̂ₘₐₓ, v) instead of v, which
//! restores convergence on the counter-examples of their §3. (Like PyTorch we bias-correct the
//! maximum by (1 − β₂ᵗ), which the paper omits.)
//!
//! AdamW is Loshchilov & Hutter (2019), "Decoupled Weight Decay Regularization", Algorithm 2:
//! weight decay shrinks θ directly, θ ← θ − ηλθ, instead of being added to the gradient where
//! Adam's normalisation would rescale it per coordinate. Plain Adam here applies L2 decay the
//! coupled way, g ← g + λθ, as PyTorch's `Adam` does. Both share everything else, so they are
//! one type whose `name()` says which it is.
//!
//! Computation follows PyTorch's order (step size α / (1 − β₁ᵗ), denominator
//! √v / √(1 − β₂ᵗ) + ε), which is algebraically Algorithm 1. The bias-correction exponent t is
//! the parameter's own update count, so a parameter that joins training late is corrected
//! from its first update.

use convnet_autograd::ParamStore;
use convnet_tensor::Element;

use crate::error::Result;
use crate::optimizer::{
    Gradients, Optimizer, OptimizerState, SlotStore, check_kind, flag, hyper, hyper_flag,
    non_negative, slot_data, snapshot, unit_half_open,
};

/// Adam/AdamW hyper-parameters. `AdamConfig::new(lr)` is Adam (defaults: β = (0.9, 0.999),
/// ε 1e-8, no weight decay); `AdamConfig::adamw(lr)` is AdamW (weight decay 0.01).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct AdamConfig {
    /// Learning rate α (also the η of AdamW's decay θ ← θ − ηλθ); must be finite and ≥ 0.
    pub lr: f64,
    /// Decay rate β₁ of the first-moment estimate m (default 0.9); must lie in [0, 1).
    pub beta1: f64,
    /// Decay rate β₂ of the second-moment estimate v (default 0.999); must lie in [0, 1).
    pub beta2: f64,
    /// ε added to √v̂ in the denominator (default 1e-8); must be finite and ≥ 0.
    pub eps: f64,
    /// Weight-decay coefficient λ: coupled L2 (g ← g + λθ) for Adam, decoupled
    /// (θ ← θ − ηλθ) for AdamW (default 0 for Adam, 0.01 for AdamW); must be finite and ≥ 0.
    pub weight_decay: f64,
    /// AMSGrad: normalise by the running maximum of v instead of v (default false).
    pub amsgrad: bool,
    /// AdamW: decay θ directly instead of adding λθ to the gradient.
    pub decoupled_weight_decay: bool,
}

impl Default for AdamConfig {
    fn default() -> Self {
        AdamConfig::new(1e-3)
    }
}

impl AdamConfig {
    /// Adam with learning rate `lr`.
    pub fn new(lr: f64) -> Self {
        AdamConfig {
            lr,
            beta1: 0.9,
            beta2: 0.999,
            eps: 1e-8,
            weight_decay: 0.0,
            amsgrad: false,
            decoupled_weight_decay: false,
        }
    }
    /// AdamW with learning rate `lr` and PyTorch's default weight decay 0.01.
    pub fn adamw(lr: f64) -> Self {
        AdamConfig {
            weight_decay: 0.01,
            decoupled_weight_decay: true,
            ..AdamConfig::new(lr)
        }
    }
    /// Sets the moment decay rates β₁ and β₂ (defaults 0.9 and 0.999; each must lie in [0, 1)).
    pub fn betas(mut self, beta1: f64, beta2: f64) -> Self {
        self.beta1 = beta1;
        self.beta2 = beta2;
        self
    }
    /// Sets ε, added to √v̂ in the denominator (default 1e-8; must be finite and ≥ 0).
    pub fn eps(mut self, eps: f64) -> Self {
        self.eps = eps;
        self
    }
    /// Sets the weight-decay coefficient λ, coupled for Adam and decoupled for AdamW (must be
    /// finite and ≥ 0); it does not switch between the two.
    pub fn weight_decay(mut self, weight_decay: f64) -> Self {
        self.weight_decay = weight_decay;
        self
    }
    /// Turns AMSGrad on or off (default off).
    pub fn amsgrad(mut self, amsgrad: bool) -> Self {
        self.amsgrad = amsgrad;
        self
    }

    fn name(&self) -> &'static str {
        if self.decoupled_weight_decay {
            "AdamW"
        } else {
            "Adam"
        }
    }

    /// Checks every hyper-parameter, naming the first bad one (and `Adam` or `AdamW`).
    pub fn validate(&self) -> Result<()> {
        let name = self.name();
        non_negative(name, "lr", self.lr)?;
        unit_half_open(name, "beta1", self.beta1)?;
        unit_half_open(name, "beta2", self.beta2)?;
        non_negative(name, "eps", self.eps)?;
        non_negative(name, "weight_decay", self.weight_decay)
    }

    /// Validates the settings and builds the optimizer, as [`Adam::new`] does.
    pub fn build<T: Element>(self) -> Result<Adam<T>> {
        Adam::new(self)
    }
}

/// Adam or AdamW (see the module docs for the update rules).
#[derive(Debug, Clone)]
pub struct Adam<T: Element = f32> {
    config: AdamConfig,
    step: u64,
    /// Slots: `exp_avg` (m), `exp_avg_sq` (v), `max_exp_avg_sq` (AMSGrad only).
    slots: SlotStore<T, 3>,
}

impl<T: Element> Adam<T> {
    /// An optimizer with `config` and no state yet, or the first invalid hyper-parameter
    /// ([`AdamConfig::validate`]).
    pub fn new(config: AdamConfig) -> Result<Self> {
        config.validate()?;
        let slots = SlotStore::new(["exp_avg", "exp_avg_sq", "max_exp_avg_sq"]);
        Ok(Adam {
            config,
            step: 0,
            slots,
        })
    }

    /// The current hyper-parameters, including the learning rate a schedule last set.
    pub fn config(&self) -> &AdamConfig {
        &self.config
    }
}

impl<T: Element> Optimizer<T> for Adam<T> {
    fn step(&mut self, params: &mut ParamStore<T>, grads: &Gradients<T>) -> Result<()> {
        let c = self.config;
        c.validate()?;
        let (b1, b2) = (T::of_f64(c.beta1), T::of_f64(c.beta2));
        let (one_minus_b1, one_minus_b2) = (T::of_f64(1.0 - c.beta1), T::of_f64(1.0 - c.beta2));
        let eps = T::of_f64(c.eps);
        let (coupled_wd, decay) = if c.decoupled_weight_decay {
            (T::zero(), T::of_f64(1.0 - c.lr * c.weight_decay))
        } else {
            (T::of_f64(c.weight_decay), T::one())
        };
        self.slots
            .update(c.name(), params, grads, |ps, shape, p, g| {
                let t = i32::try_from(ps.step).unwrap_or(i32::MAX);
                let step_size = T::of_f64(c.lr / (1.0 - c.beta1.powi(t)));
                let bc2_sqrt = T::of_f64((1.0 - c.beta2.powi(t)).sqrt());
                ps.ensure(0, shape, 0.0);
                ps.ensure(1, shape, 0.0);
                if c.amsgrad {
                    ps.ensure(2, shape, 0.0);
                }
                let [m, v, vmax] = &mut ps.slots;
                let (m, v, vmax) = (slot_data(m), slot_data(v), slot_data(vmax));
                for (i, (p, &g)) in p.iter_mut().zip(g).enumerate() {
                    *p *= decay;
                    let g = g + coupled_wd * *p;
                    m[i] = b1 * m[i] + one_minus_b1 * g;
                    v[i] = b2 * v[i] + one_minus_b2 * g * g;
                    let second = if c.amsgrad {
                        vmax[i] = vmax[i].max(v[i]);
                        vmax[i]
                    } else {
                        v[i]
                    };
                    *p -= step_size * m[i] / (second.sqrt() / bc2_sqrt + eps);
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
            ("beta1", c.beta1),
            ("beta2", c.beta2),
            ("eps", c.eps),
            ("weight_decay", c.weight_decay),
            ("amsgrad", flag(c.amsgrad)),
        ];
        snapshot(c.name(), self.step, &hyper, &self.slots)
    }

    fn load_state(&mut self, state: &OptimizerState<T>) -> Result<()> {
        let name = self.config.name();
        check_kind(name, state)?;
        let config = AdamConfig {
            lr: hyper(name, state, "lr")?,
            beta1: hyper(name, state, "beta1")?,
            beta2: hyper(name, state, "beta2")?,
            eps: hyper(name, state, "eps")?,
            weight_decay: hyper(name, state, "weight_decay")?,
            amsgrad: hyper_flag(name, state, "amsgrad")?,
            decoupled_weight_decay: self.config.decoupled_weight_decay,
        };
        config.validate()?;
        self.slots.import(name, state)?;
        self.config = config;
        self.step = state.step;
        Ok(())
    }

    fn name(&self) -> &'static str {
        self.config.name()
    }
}
