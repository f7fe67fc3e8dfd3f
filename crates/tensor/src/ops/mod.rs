//! Tensor operations, one file per family.

pub mod elementwise;
pub mod index;
pub mod matmul;
pub mod reduce;
pub mod softmax;
pub(crate) mod strided;
