//! Seeded random tensors.
//!
//! Values are drawn sequentially from ChaCha8 (a portable, versioned generator), so the same
//! seed gives the same bits on every machine, every run and every rayon thread count.
//! `rand`'s `StdRng` is not used because its algorithm may change between releases.

use std::sync::Arc;

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use crate::element::Element;
use crate::error::{Result, TensorError};
use crate::layout::{Layout, numel};
use crate::tensor::Tensor;

/// The random generator used across convnet (initialisers, dropout, shuffling).
pub type ConvnetRng = ChaCha8Rng;

/// A generator from a seed.
pub fn rng_from_seed(seed: u64) -> ConvnetRng {
    ChaCha8Rng::seed_from_u64(seed)
}

/// splitmix64's finaliser: turns related seeds (run seed, epoch, step, …) into decorrelated
/// ones, so streams derived from (seed, position) do not overlap.
pub fn mix_seed(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// One standard normal sample (Box–Muller; uses two uniforms, discards the sine half so the
/// stream position depends only on the number of samples drawn).
pub fn standard_normal(rng: &mut ConvnetRng) -> f64 {
    // 1 − u keeps the logarithm's argument in (0, 1].
    let u1: f64 = 1.0 - rng.random::<f64>();
    let u2: f64 = rng.random::<f64>();
    (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()
}

impl<T: Element> Tensor<T> {
    /// Uniform samples in `[low, high)` drawn from `rng`.
    pub fn uniform_with(
        shape: &[usize],
        low: f64,
        high: f64,
        rng: &mut ConvnetRng,
    ) -> Result<Self> {
        if !(low.is_finite() && high.is_finite() && low < high) {
            return Err(TensorError::invalid(
                "uniform",
                format!("need finite low < high, got low {low}, high {high}"),
            ));
        }
        let data = (0..numel(shape))
            .map(|_| T::of_f64(low + (high - low) * rng.random::<f64>()))
            .collect();
        Ok(Self::from_parts(Arc::new(data), Layout::contiguous(shape)))
    }

    /// Normal samples with the given mean and standard deviation drawn from `rng`.
    pub fn normal_with(shape: &[usize], mean: f64, std: f64, rng: &mut ConvnetRng) -> Result<Self> {
        if !(mean.is_finite() && std.is_finite() && std >= 0.0) {
            return Err(TensorError::invalid(
                "normal",
                format!("need finite mean and std ≥ 0, got mean {mean}, std {std}"),
            ));
        }
        let data = (0..numel(shape))
            .map(|_| T::of_f64(mean + std * standard_normal(rng)))
            .collect();
        Ok(Self::from_parts(Arc::new(data), Layout::contiguous(shape)))
    }

    /// Uniform samples in `[low, high)` from a fresh generator seeded with `seed`.
    pub fn uniform(shape: &[usize], low: f64, high: f64, seed: u64) -> Result<Self> {
        Self::uniform_with(shape, low, high, &mut rng_from_seed(seed))
    }

    /// Normal samples from a fresh generator seeded with `seed`.
    pub fn normal(shape: &[usize], mean: f64, std: f64, seed: u64) -> Result<Self> {
        Self::normal_with(shape, mean, std, &mut rng_from_seed(seed))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_seed_same_bits_different_seed_different_bits() {
        let a = Tensor::<f32>::normal(&[1000], 0.0, 1.0, 7).unwrap();
        let b = Tensor::<f32>::normal(&[1000], 0.0, 1.0, 7).unwrap();
        let c = Tensor::<f32>::normal(&[1000], 0.0, 1.0, 8).unwrap();
        assert_eq!(
            a.to_vec().iter().map(|v| v.to_bits()).collect::<Vec<_>>(),
            b.to_vec().iter().map(|v| v.to_bits()).collect::<Vec<_>>()
        );
        assert_ne!(a, c);
    }

    #[test]
    fn moments_are_close_to_the_requested_ones() {
        let n = 200_000;
        let x = Tensor::<f64>::normal(&[n], 2.0, 3.0, 1).unwrap().to_vec();
        let mean = x.iter().sum::<f64>() / n as f64;
        let var = x.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / n as f64;
        assert!((mean - 2.0).abs() < 0.03, "{mean}");
        assert!((var.sqrt() - 3.0).abs() < 0.03, "{var}");
        let u = Tensor::<f64>::uniform(&[n], -1.0, 1.0, 2).unwrap().to_vec();
        assert!(u.iter().all(|&v| (-1.0..1.0).contains(&v)));
        assert!((u.iter().sum::<f64>() / n as f64).abs() < 0.01);
    }

    #[test]
    fn bad_parameters_are_rejected() {
        assert!(Tensor::<f32>::uniform(&[2], 1.0, 1.0, 0).is_err());
        assert!(Tensor::<f32>::normal(&[2], 0.0, -1.0, 0).is_err());
    }
}
