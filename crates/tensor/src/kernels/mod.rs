//! Compute kernels on contiguous row-major NCHW slices.
//!
//! These functions know nothing about `Tensor`: they take a geometry struct plus slices,
//! check the slice lengths against the geometry, and return an error rather than panic on
//! a mismatch. Tensor-level wrappers make inputs contiguous and call them.
//!
//! * [`geometry`] — output sizes, validation and buffer lengths for conv and pooling.
//! * [`gemm`] — the safe wrapper over the `gemm` crate, shared with matmul.
//! * [`bf16`] — bf16 products with f32 accumulation on AMX or AVX512-BF16.
//! * [`conv`] — im2col + GEMM convolution: forward, input gradient, weight gradient.
//! * [`direct`] — direct AVX-512 kernels for stride-1 f32 convolutions; which kernel runs
//!   a pass is one [`conv::ConvKernel`] from [`conv::choose_kernel`].
//! * `winograd` — Winograd F(4×4, 3×3) for stride-1 3×3 f32 forward and input-gradient
//!   passes.
//! * [`pool`] — max / average / global-average pooling and their gradients.
//! * [`conv_reference`], [`pool_reference`] — plain nested-loop versions, the test oracle.

pub mod bf16;
pub mod conv;
mod conv_kernel;
mod conv_plan;
pub mod conv_reference;
pub mod direct;
pub mod gemm;
pub mod geometry;
mod im2col;
pub mod pool;
mod pool_2x2;
#[cfg(target_arch = "x86_64")]
mod pool_2x2_avx512;
pub mod pool_reference;
mod winograd;

#[cfg(test)]
mod direct_tests;
#[cfg(test)]
mod pool_tests;
#[cfg(test)]
mod tests;

pub use geometry::{Conv2dGeometry, Pool2dGeometry};

use crate::error::{Result, TensorError};

/// Every kernel checks each slice against the length its geometry implies before touching it.
pub(crate) fn check_len(
    op: &'static str,
    len: usize,
    shape: Vec<usize>,
    expected: usize,
) -> Result<()> {
    if len == expected {
        Ok(())
    } else {
        Err(TensorError::Length {
            op,
            len,
            shape,
            expected,
        })
    }
}
