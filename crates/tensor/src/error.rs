//! The tensor crate's error type. Every message names the op and the shapes involved, so a
//! user can find the offending call without a debugger.

use thiserror::Error;

/// Errors returned by tensor constructors, views and kernels.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum TensorError {
    /// Operand shapes are incompatible, e.g.
    /// `matmul: [64, 400] × [120, 84]: inner dimensions 400 and 120 differ`.
    #[error("{op}: {detail}")]
    Shape {
        /// The op that rejected its operands, e.g. `"matmul"`.
        op: &'static str,
        /// What does not fit, with the shapes involved.
        detail: String,
    },
    /// A buffer's length disagrees with the shape it is meant to fill.
    #[error("{op}: data has {len} elements but shape {shape:?} needs {expected}")]
    Length {
        /// The constructor or kernel that checked the buffer.
        op: &'static str,
        /// How many elements the buffer actually holds.
        len: usize,
        /// The shape the buffer was meant to fill.
        shape: Vec<usize>,
        /// How many elements `shape` needs.
        expected: usize,
    },
    /// An axis index is out of range for the tensor's rank.
    #[error("{op}: axis {axis} is out of range for a tensor of shape {shape:?}")]
    Axis {
        /// The op that was given the axis.
        op: &'static str,
        /// The offending axis as the caller gave it (signed, so a negative axis can be
        /// reported as given).
        axis: isize,
        /// The shape of the tensor the axis was meant to index.
        shape: Vec<usize>,
    },
    /// A hyper-parameter or argument is invalid (zero stride, bad index, ...).
    #[error("{op}: {detail}")]
    Invalid {
        /// The op that rejected the argument.
        op: &'static str,
        /// Which argument is wrong and why.
        detail: String,
    },
}

impl TensorError {
    /// A [`TensorError::Shape`] for `op`; `detail` should name the shapes that clash.
    pub fn shape(op: &'static str, detail: impl Into<String>) -> Self {
        TensorError::Shape {
            op,
            detail: detail.into(),
        }
    }

    /// The message without its leading `op: ` (for wrapping in a more specific message).
    ///
    /// Only [`TensorError::Shape`] and [`TensorError::Invalid`] carry a separate detail;
    /// for [`TensorError::Length`] and [`TensorError::Axis`] this is the whole message,
    /// op included.
    pub fn detail(&self) -> String {
        match self {
            TensorError::Shape { detail, .. } | TensorError::Invalid { detail, .. } => {
                detail.clone()
            }
            other => other.to_string(),
        }
    }

    /// A [`TensorError::Invalid`] for `op`; `detail` should say which argument is wrong and
    /// why.
    pub fn invalid(op: &'static str, detail: impl Into<String>) -> Self {
        TensorError::Invalid {
            op,
            detail: detail.into(),
        }
    }
}

/// The crate's result type: `E` defaults to [`TensorError`].
pub type Result<T, E = TensorError> = std::result::Result<T, E>;
