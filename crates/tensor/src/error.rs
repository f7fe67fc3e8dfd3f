//! The tensor crate's error type. Every message names the op and the shapes involved, so a
//! user can find the offending call without a debugger.

use thiserror::Error;

/// Errors returned by tensor constructors, views and kernels.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum TensorError {
    /// Operand shapes are incompatible, e.g.
    /// `matmul: [64, 400] × [120, 84]: inner dimensions 400 and 120 differ`.
    #[error("{op}: {detail}")]
    Shape { op: &'static str, detail: String },
    /// A buffer's length disagrees with the shape it is meant to fill.
    #[error("{op}: data has {len} elements but shape {shape:?} needs {expected}")]
    Length {
        op: &'static str,
        len: usize,
        shape: Vec<usize>,
        expected: usize,
    },
    /// An axis index is out of range for the tensor's rank.
    #[error("{op}: axis {axis} is out of range for a tensor of shape {shape:?}")]
    Axis {
        op: &'static str,
        axis: isize,
        shape: Vec<usize>,
    },
    /// A hyper-parameter or argument is invalid (zero stride, bad index, ...).
    #[error("{op}: {detail}")]
    Invalid { op: &'static str, detail: String },
}

impl TensorError {
    pub fn shape(op: &'static str, detail: impl Into<String>) -> Self {
        TensorError::Shape {
            op,
            detail: detail.into(),
        }
    }

    /// The message without its leading `op: ` (for wrapping in a more specific message).
    pub fn detail(&self) -> String {
        match self {
            TensorError::Shape { detail, .. } | TensorError::Invalid { detail, .. } => {
                detail.clone()
            }
            other => other.to_string(),
        }
    }

    pub fn invalid(op: &'static str, detail: impl Into<String>) -> Self {
        TensorError::Invalid {
            op,
            detail: detail.into(),
        }
    }
}

pub type Result<T, E = TensorError> = std::result::Result<T, E>;
