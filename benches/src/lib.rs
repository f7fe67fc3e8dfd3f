//! Shared helpers for convnet's criterion benches (see `benches/`).
//!
//! Run all benches with `cargo bench -p convnet-benches`; one group with e.g.
//! `cargo bench -p convnet-benches --bench tensor_kernels -- matmul`.
//!
//! ```
//! // A 1024³ matmul is 2·1024³ floating-point operations; done in 10 ms that is 214.7 GFLOP/s.
//! let flops = 2.0 * 1024f64.powi(3);
//! assert!((convnet_benches::gflops(flops, 0.01) - 214.748).abs() < 1e-3);
//! ```

#![warn(missing_docs)]

/// GFLOP/s of `flops` floating-point operations done in `seconds`.
pub fn gflops(flops: f64, seconds: f64) -> f64 {
    flops / seconds / 1e9
}
