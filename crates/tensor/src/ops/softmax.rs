//! Softmax, log-softmax and log-sum-exp along one axis, computed stably by subtracting the
//! row maximum first (so large logits never overflow `exp`).

use crate::element::Element;
use crate::error::{Result, TensorError};
use crate::tensor::Tensor;

#[derive(Clone, Copy)]
enum Kind {
    Softmax,
    LogSoftmax,
}

impl<T: Element> Tensor<T> {
    /// Moves `axis` last (a view), makes it contiguous, applies `f` to each row, and moves the
    /// axis back (a view of the contiguous result).
    fn along_axis(&self, op: &'static str, axis: usize, kind: Kind) -> Result<Tensor<T>> {
        let rank = self.rank();
        if axis >= rank {
            return Err(TensorError::Axis {
                op,
                axis: axis as isize,
                shape: self.shape().to_vec(),
            });
        }
        let mut perm: Vec<usize> = (0..rank).filter(|&a| a != axis).collect();
        perm.push(axis);
        let moved = self.permute(&perm)?;
        let data = moved.data();
        let len = self.shape()[axis];
        let mut out = crate::buffers::zeroed(data.len());
        if len > 0 {
            for (src, dst) in data.chunks(len).zip(out.chunks_mut(len)) {
                softmax_row(src, dst, kind);
            }
        }
        let result = Tensor::from_kernel(out, moved.shape());
        // Inverse permutation: put the last axis back at `axis`.
        let mut inverse = vec![0; rank];
        for (i, &p) in perm.iter().enumerate() {
            inverse[p] = i;
        }
        result.permute(&inverse)
    }

    /// exp(x − max) / Σ exp(x − max) along `axis`.
    pub fn softmax(&self, axis: usize) -> Result<Tensor<T>> {
        self.along_axis("softmax", axis, Kind::Softmax)
    }

    /// x − max − ln Σ exp(x − max) along `axis`.
    pub fn log_softmax(&self, axis: usize) -> Result<Tensor<T>> {
        self.along_axis("log_softmax", axis, Kind::LogSoftmax)
    }

    /// ln Σ exp(x) along `axis`, keeping the axis as size 1.
    pub fn logsumexp(&self, axis: usize) -> Result<Tensor<T>> {
        let m = self.max(&[axis], true)?;
        // A row of −∞ would give NaN from (−∞) − (−∞); use 0 as the shift there.
        let shift = m.map(|v| if v.is_finite() { v } else { T::zero() });
        let s = self.sub(&shift)?.exp().sum(&[axis], true)?;
        s.ln().add(&shift)
    }
}

fn softmax_row<T: Element>(src: &[T], dst: &mut [T], kind: Kind) {
    let max = src.iter().fold(
        T::neg_infinity(),
        |a, &b| if b > a || b.is_nan() { b } else { a },
    );
    let shift = if max.is_finite() { max } else { T::zero() };
    let mut total = T::zero();
    for (d, &s) in dst.iter_mut().zip(src) {
        *d = (s - shift).exp();
        total += *d;
    }
    match kind {
        Kind::Softmax => {
            let inv = total.recip();
            dst.iter_mut().for_each(|d| *d *= inv);
        }
        Kind::LogSoftmax => {
            let log_total = total.ln();
            dst.iter_mut()
                .zip(src)
                .for_each(|(d, &s)| *d = s - shift - log_total);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn softmax_is_stable_and_normalised() {
        let x =
            Tensor::<f64>::from_vec(vec![1000.0, 1001.0, 1002.0, -5.0, 0.0, 5.0], &[2, 3]).unwrap();
        let s = x.softmax(1).unwrap();
        for row in s.to_vec().chunks(3) {
            assert!((row.iter().sum::<f64>() - 1.0).abs() < 1e-12);
        }
        let ls = x.log_softmax(1).unwrap().to_vec();
        assert!((ls[2] - (-0.40760596444438)).abs() < 1e-10, "{}", ls[2]);
        // Along axis 0 equals along axis 1 of the transpose.
        let a = x.softmax(0).unwrap();
        let b = x.t().unwrap().contiguous().softmax(1).unwrap().t().unwrap();
        assert!(a.max_abs_diff(&b).unwrap() < 1e-15);
        let lse = x.logsumexp(1).unwrap().to_vec();
        assert!((lse[0] - 1_002.407_605_964_444_4).abs() < 1e-9);
    }
}
