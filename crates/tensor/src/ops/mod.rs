//! Tensor operations, one file per family.

pub mod conv;
pub mod elementwise;
pub mod fused;
pub mod index;
pub mod matmul;
pub mod pool;
pub mod reduce;
pub mod softmax;
pub(crate) mod strided;
