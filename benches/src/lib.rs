//! Shared helpers for convnet's criterion benches (see `benches/`).
//!
//! Run all benches with `cargo bench -p convnet-benches`; one group with e.g.
//! `cargo bench -p convnet-benches --bench tensor_kernels -- matmul`.

#![warn(missing_docs)]

/// GFLOP/s of `flops` floating-point operations done in `seconds`.
pub fn gflops(flops: f64, seconds: f64) -> f64 {
    flops / seconds / 1e9
}
