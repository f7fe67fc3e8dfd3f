//! The optim crate's one error type.
//!
//! Messages name the optimizer or schedule, the hyper-parameter or tensor involved and the
//! offending value, so a bad configuration or a mismatched checkpoint is fixed without a
//! debugger (`Adam: beta1 = 1.2 is outside [0, 1)`).

use thiserror::Error;

/// Errors from building optimizers and schedules, stepping them and restoring their state.
#[derive(Debug, Clone, PartialEq, Error)]
pub enum OptimError {
    /// A hyper-parameter is out of its valid range (NaN is out of every range).
    #[error("{owner}: {param} = {value} is outside {range}")]
    HyperParameter {
        /// The optimizer, schedule or function that rejected the value (`"Adam"`,
        /// `"StepDecay"`, `"clip_grad_norm"`, …).
        owner: &'static str,
        /// The hyper-parameter's name, as its configuration spells it (`"beta1"`).
        param: &'static str,
        /// The rejected value.
        value: f64,
        /// The valid range in interval notation (`"[0, 1)"`).
        range: &'static str,
    },
    /// A configuration that is wrong as a whole rather than in one value: hyper-parameters
    /// valid alone but not together (Nesterov without momentum), milestones out of order, a
    /// parameter group that names no parameter, …
    #[error("{owner}: {detail}")]
    Invalid {
        /// The optimizer, schedule or parameter grouping that refused it.
        owner: &'static str,
        /// What is wrong, as the message states it.
        detail: String,
    },
    /// A gradient names something that is not a parameter of the store.
    #[error("{owner}: gradient `{name}` does not name a parameter")]
    UnknownParameter {
        /// The optimizer that received the gradient.
        owner: &'static str,
        /// The gradient's key.
        name: String,
    },
    /// A gradient names a buffer (running statistics), which optimizers never update.
    #[error("{owner}: gradient `{name}` names a buffer, which optimizers do not update")]
    GradientForBuffer {
        /// The optimizer that received the gradient.
        owner: &'static str,
        /// The gradient's key, the buffer's name.
        name: String,
    },
    /// A gradient (or a restored state slot) has a shape other than its parameter's.
    #[error("{owner}: {what} `{name}` has shape {got:?} but the parameter has shape {expected:?}")]
    Shape {
        /// The optimizer that was stepped.
        owner: &'static str,
        /// What has the wrong shape: `"gradient"` or `"state slot"`.
        what: &'static str,
        /// The gradient's key, or the slot's `"<slot>/<parameter>"` key.
        name: String,
        /// The parameter's shape.
        expected: Vec<usize>,
        /// The gradient's or slot's shape.
        got: Vec<usize>,
    },
    /// A saved state does not fit this optimizer or schedule (other kind, missing key, …).
    #[error("{owner}: cannot load state: {detail}")]
    State {
        /// The optimizer or schedule the state was loaded into.
        owner: &'static str,
        /// What does not fit, as the message states it.
        detail: String,
    },
    /// The gradients' global norm is NaN or infinite, so clipping cannot rescale them.
    #[error("clip_grad_norm: the gradients' global norm is {norm}; gradients left unchanged")]
    NonFiniteNorm {
        /// The global norm computed (NaN or +∞).
        norm: f64,
    },
    /// A stateful schedule needed a metric (reduce-on-plateau) and got none.
    #[error("{owner}: step needs a metric (e.g. the validation loss)")]
    MissingMetric {
        /// The scheduler that needed the metric.
        owner: &'static str,
    },
}

/// [`std::result::Result`] with [`OptimError`] as the default error type.
pub type Result<T, E = OptimError> = std::result::Result<T, E>;
