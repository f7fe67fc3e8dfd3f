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
        owner: &'static str,
        param: &'static str,
        value: f64,
        range: &'static str,
    },
    /// Hyper-parameters that are valid alone but not together (Nesterov without momentum, …).
    #[error("{owner}: {detail}")]
    Invalid { owner: &'static str, detail: String },
    /// A gradient names something that is not a parameter of the store.
    #[error("{owner}: gradient `{name}` does not name a parameter")]
    UnknownParameter { owner: &'static str, name: String },
    /// A gradient names a buffer (running statistics), which optimizers never update.
    #[error("{owner}: gradient `{name}` names a buffer, which optimizers do not update")]
    GradientForBuffer { owner: &'static str, name: String },
    /// A gradient (or a restored state slot) has a shape other than its parameter's.
    #[error("{owner}: {what} `{name}` has shape {got:?} but the parameter has shape {expected:?}")]
    Shape {
        owner: &'static str,
        what: &'static str,
        name: String,
        expected: Vec<usize>,
        got: Vec<usize>,
    },
    /// A saved state does not fit this optimizer or schedule (other kind, missing key, …).
    #[error("{owner}: cannot load state: {detail}")]
    State { owner: &'static str, detail: String },
    /// The gradients' global norm is NaN or infinite, so clipping cannot rescale them.
    #[error("clip_grad_norm: the gradients' global norm is {norm}; gradients left unchanged")]
    NonFiniteNorm { norm: f64 },
    /// A stateful schedule needed a metric (reduce-on-plateau) and got none.
    #[error("{owner}: step needs a metric (e.g. the validation loss)")]
    MissingMetric { owner: &'static str },
}

pub type Result<T, E = OptimError> = std::result::Result<T, E>;
