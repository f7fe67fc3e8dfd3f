//! Numeric kernels on contiguous slices. The Tensor-level ops check shapes and layouts, then
//! call these tight loops.

pub mod gemm;
