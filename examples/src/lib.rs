//! Shared pieces of the course examples (`examples/*.rs`): a raster for pictures, line
//! charts, and the one-parameter regression the cost-function and learning-rate examples
//! both use. Each example's `run` prints what its slide shows and returns the figures its
//! test asserts.
//!
//! ```
//! use convnet_examples::line_fit::{LineFit, best_slope};
//!
//! // Gradient descent with the gradient from autograd reaches the closed-form slope.
//! let fit = LineFit::new().unwrap();
//! let path = fit.descend(0.0, 0.01, 40).unwrap();
//! assert!((path.last().unwrap().p - best_slope()).abs() < 1e-9);
//! ```

#![warn(missing_docs)]

pub mod canvas;
pub mod chart;
pub mod line_fit;

use std::path::PathBuf;

/// The folder an example writes its pictures to: its first command-line argument, or
/// `target/examples/<name>`.
pub fn out_dir(name: &str) -> std::io::Result<PathBuf> {
    let dir = std::env::args().nth(1).map_or_else(
        || PathBuf::from("target/examples").join(name),
        PathBuf::from,
    );
    std::fs::create_dir_all(&dir)?;
    Ok(dir)
}

/// The README's Rust examples, compiled and run by `cargo test` (`rust,no_run` ones compiled
/// only), so the front page cannot drift from the API.
#[cfg(doctest)]
#[doc = include_str!("../../README.md")]
pub struct ReadmeDoctests;
