//! Reductions over any set of axes: sum, mean, max, min, variance, argmax.
//!
//! The input is made contiguous, runs of adjacent reduced axes are merged, and each run is
//! reduced as a `[outer, reduced, inner]` block, innermost run first. With `inner == 1` a row is
//! folded (contiguous); with `inner > 1` whole inner rows are combined, which vectorises. That
//! covers the common cases (softmax rows, bias gradients over the batch, BatchNorm over N·H·W)
//! without a transposing copy.

use rayon::prelude::*;

use crate::element::Element;
use crate::error::{Result, TensorError};
use crate::tensor::{PARALLEL_THRESHOLD, Tensor};

/// How a reduction combines values.
#[derive(Clone, Copy, Debug)]
enum Fold {
    Sum,
    Max,
    Min,
}

impl Fold {
    #[inline(always)]
    fn combine<T: Element>(self, acc: T, v: T) -> T {
        match self {
            Fold::Sum => acc + v,
            // NaN propagates: once acc is NaN it stays NaN; a NaN v replaces acc.
            Fold::Max => {
                if acc.is_nan() || acc >= v {
                    acc
                } else {
                    v
                }
            }
            Fold::Min => {
                if acc.is_nan() || acc <= v {
                    acc
                } else {
                    v
                }
            }
        }
    }
}

/// Checks and sorts the axes; an empty list means "all axes".
fn normalize_axes(op: &'static str, shape: &[usize], axes: &[usize]) -> Result<Vec<usize>> {
    if axes.is_empty() {
        return Ok((0..shape.len()).collect());
    }
    let mut sorted = axes.to_vec();
    sorted.sort_unstable();
    sorted.dedup();
    if let Some(&bad) = sorted.iter().find(|&&a| a >= shape.len()) {
        return Err(TensorError::Axis {
            op,
            axis: bad as isize,
            shape: shape.to_vec(),
        });
    }
    Ok(sorted)
}

/// Output shape of a reduction.
fn reduced_shape(shape: &[usize], axes: &[usize], keep_dims: bool) -> Vec<usize> {
    shape
        .iter()
        .enumerate()
        .filter_map(|(i, &d)| match (axes.contains(&i), keep_dims) {
            (false, _) => Some(d),
            (true, true) => Some(1),
            (true, false) => None,
        })
        .collect()
}

/// Reduces the middle axis of a contiguous `[outer, len, inner]` block.
fn fold_block<T: Element>(
    data: &[T],
    outer: usize,
    len: usize,
    inner: usize,
    fold: Fold,
) -> Vec<T> {
    let mut out = crate::buffers::zeroed(outer * inner);
    if len == 0 {
        // An empty sum is 0; an empty max/min is rejected before we get here.
        return out;
    }
    let one = |(o, dst): (usize, &mut [T])| {
        let block = &data[o * len * inner..(o + 1) * len * inner];
        if inner == 1 {
            dst[0] = fold_row(block, fold);
        } else {
            dst.copy_from_slice(&block[..inner]);
            for r in 1..len {
                let row = &block[r * inner..(r + 1) * inner];
                dst.iter_mut()
                    .zip(row)
                    .for_each(|(d, &v)| *d = fold.combine(*d, v));
            }
        }
    };
    if outer > 1 && data.len() >= PARALLEL_THRESHOLD {
        out.par_chunks_mut(inner).enumerate().for_each(one);
    } else if outer == 1 && inner == 1 && data.len() >= PARALLEL_THRESHOLD {
        // One long row: reduce chunks in parallel, then the partials in order.
        let partials: Vec<T> = data
            .par_chunks(1 << 14)
            .map(|c| fold_row(c, fold))
            .collect();
        out[0] = fold_row(&partials, fold);
    } else {
        out.chunks_mut(inner).enumerate().for_each(one);
    }
    out
}

/// Folds a contiguous row. Sums use eight independent accumulators, which vectorises and
/// keeps f32 rounding error lower than one running total.
fn fold_row<T: Element>(row: &[T], fold: Fold) -> T {
    match fold {
        Fold::Sum => {
            let mut acc = [T::zero(); 8];
            let chunks = row.chunks_exact(8);
            let rest = chunks.remainder();
            for c in chunks {
                for k in 0..8 {
                    acc[k] += c[k];
                }
            }
            let mut total = acc.iter().fold(T::zero(), |a, &b| a + b);
            for &v in rest {
                total += v;
            }
            total
        }
        _ => row[1..].iter().fold(row[0], |a, &v| fold.combine(a, v)),
    }
}

impl<T: Element> Tensor<T> {
    fn reduce(
        &self,
        op: &'static str,
        axes: &[usize],
        keep_dims: bool,
        fold: Fold,
    ) -> Result<Tensor<T>> {
        let axes = normalize_axes(op, self.shape(), axes)?;
        let shape = self.shape().to_vec();
        if !matches!(fold, Fold::Sum) && axes.iter().any(|&a| shape[a] == 0) {
            return Err(TensorError::invalid(
                op,
                format!("cannot reduce an empty axis of shape {shape:?}"),
            ));
        }
        let out_shape = reduced_shape(&shape, &axes, keep_dims);
        // Runs of adjacent reduced axes: (first, last) inclusive.
        let mut runs: Vec<(usize, usize)> = Vec::new();
        for &a in &axes {
            match runs.last_mut() {
                Some((_, end)) if *end + 1 == a => *end = a,
                _ => runs.push((a, a)),
            }
        }
        // Borrowed when the input is contiguous: the first pass reads it in place.
        let mut data = self.data();
        let mut cur = shape.clone();
        for &(first, last) in runs.iter().rev() {
            let outer: usize = cur[..first].iter().product();
            let len: usize = cur[first..=last].iter().product();
            let inner: usize = cur[last + 1..].iter().product();
            data = std::borrow::Cow::Owned(fold_block(&data, outer, len, inner, fold));
            for d in &mut cur[first..=last] {
                *d = 1;
            }
        }
        Tensor::from_vec(data.into_owned(), &out_shape)
    }

    /// Sum over `axes` (all axes when empty).
    pub fn sum(&self, axes: &[usize], keep_dims: bool) -> Result<Tensor<T>> {
        self.reduce("sum", axes, keep_dims, Fold::Sum)
    }

    /// Sum of all elements as a scalar.
    pub fn sum_all(&self) -> T {
        let d = self.data();
        if d.len() >= PARALLEL_THRESHOLD {
            let partials: Vec<T> = d
                .par_chunks(1 << 14)
                .map(|c| fold_row(c, Fold::Sum))
                .collect();
            fold_row(&partials, Fold::Sum)
        } else if d.is_empty() {
            T::zero()
        } else {
            fold_row(&d, Fold::Sum)
        }
    }

    /// Mean over `axes` (all axes when empty).
    pub fn mean(&self, axes: &[usize], keep_dims: bool) -> Result<Tensor<T>> {
        let axes = normalize_axes("mean", self.shape(), axes)?;
        let count: usize = axes.iter().map(|&a| self.shape()[a]).product();
        let s = self.reduce("mean", &axes, keep_dims, Fold::Sum)?;
        Ok(s.scale(1.0 / count as f64))
    }

    /// Maximum over `axes`; NaN propagates.
    pub fn max(&self, axes: &[usize], keep_dims: bool) -> Result<Tensor<T>> {
        self.reduce("max", axes, keep_dims, Fold::Max)
    }

    /// Minimum over `axes`; NaN propagates.
    pub fn min(&self, axes: &[usize], keep_dims: bool) -> Result<Tensor<T>> {
        self.reduce("min", axes, keep_dims, Fold::Min)
    }

    /// Variance over `axes` with `correction` subtracted from the count (0: population,
    /// 1: Bessel's unbiased estimate). Two-pass (mean first) for numerical stability.
    pub fn var(&self, axes: &[usize], keep_dims: bool, correction: usize) -> Result<Tensor<T>> {
        let axes = normalize_axes("var", self.shape(), axes)?;
        let count: usize = axes.iter().map(|&a| self.shape()[a]).product();
        if count <= correction {
            return Err(TensorError::invalid(
                "var",
                format!(
                    "{count} elements per reduction, correction {correction}: need more elements"
                ),
            ));
        }
        let mean = self.mean(&axes, true)?;
        let dev = self.sub(&mean)?.square();
        let s = dev.reduce("var", &axes, keep_dims, Fold::Sum)?;
        Ok(s.scale(1.0 / (count - correction) as f64))
    }

    /// Index of the maximum along `axis` (first one on ties), as a row-major list whose shape
    /// is `self.shape()` without `axis`. Not differentiable.
    pub fn argmax(&self, axis: usize) -> Result<Vec<usize>> {
        self.arg_extreme("argmax", axis, |a, b| a > b)
    }

    /// Index of the minimum along `axis` (first one on ties).
    pub fn argmin(&self, axis: usize) -> Result<Vec<usize>> {
        self.arg_extreme("argmin", axis, |a, b| a < b)
    }

    fn arg_extreme(
        &self,
        op: &'static str,
        axis: usize,
        better: impl Fn(T, T) -> bool,
    ) -> Result<Vec<usize>> {
        let shape = self.shape();
        if axis >= shape.len() || shape[axis] == 0 {
            return Err(TensorError::Axis {
                op,
                axis: axis as isize,
                shape: shape.to_vec(),
            });
        }
        let (outer, len): (usize, usize) = (shape[..axis].iter().product(), shape[axis]);
        let inner: usize = shape[axis + 1..].iter().product();
        let data = self.data();
        let mut out = Vec::with_capacity(outer * inner);
        for o in 0..outer {
            for i in 0..inner {
                let at = |r: usize| data[(o * len + r) * inner + i];
                let mut best = 0;
                for r in 1..len {
                    if better(at(r), at(best)) || (at(r).is_nan() && !at(best).is_nan()) {
                        best = r;
                    }
                }
                out.push(best);
            }
        }
        Ok(out)
    }

    /// Sums a broadcast result back to `shape` (the adjoint of `broadcast_to`): reduces the
    /// leading axes that broadcasting added and the axes that were size 1.
    pub fn sum_to_shape(&self, shape: &[usize]) -> Result<Tensor<T>> {
        let err = || {
            TensorError::shape(
                "sum_to_shape",
                format!("{:?} was not broadcast from {shape:?}", self.shape()),
            )
        };
        if shape.len() > self.rank() {
            return Err(err());
        }
        let lead = self.rank() - shape.len();
        let mut axes: Vec<usize> = (0..lead).collect();
        for (i, &d) in shape.iter().enumerate() {
            let have = self.shape()[lead + i];
            if d == 1 && have != 1 {
                axes.push(lead + i);
            } else if d != have {
                return Err(err());
            }
        }
        if axes.is_empty() {
            return self.reshape(shape);
        }
        self.sum(&axes, true)?.reshape(shape)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn x() -> Tensor<f64> {
        Tensor::<f64>::arange(24).reshape(&[2, 3, 4]).unwrap()
    }

    #[test]
    fn sums_over_any_axes() {
        assert_eq!(x().sum(&[], false).unwrap().item().unwrap(), 276.0);
        assert_eq!(
            x().sum(&[1], false).unwrap().to_vec(),
            vec![12., 15., 18., 21., 48., 51., 54., 57.]
        );
        let s = x().sum(&[0, 2], true).unwrap();
        assert_eq!(s.shape(), &[1, 3, 1]);
        assert_eq!(s.to_vec(), vec![6. + 54., 22. + 70., 38. + 86.]);
    }

    #[test]
    fn reductions_of_a_transposed_view_equal_those_of_its_copy() {
        let t = x().permute(&[2, 0, 1]).unwrap();
        let c = t.contiguous();
        for axes in [&[0usize][..], &[1], &[2], &[0, 2], &[]] {
            assert_eq!(t.sum(axes, false).unwrap(), c.sum(axes, false).unwrap());
            assert_eq!(t.max(axes, true).unwrap(), c.max(axes, true).unwrap());
        }
    }

    #[test]
    fn mean_var_max_argmax() {
        let v = Tensor::<f64>::from_vec(vec![1., 2., 3., 4., 9., 0.], &[2, 3]).unwrap();
        assert_eq!(v.mean(&[1], false).unwrap().to_vec(), vec![2.0, 13.0 / 3.0]);
        assert_eq!(v.var(&[1], false, 0).unwrap().to_vec()[0], 2.0 / 3.0);
        assert_eq!(v.var(&[1], false, 1).unwrap().to_vec()[0], 1.0);
        assert_eq!(v.max(&[0], false).unwrap().to_vec(), vec![4., 9., 3.]);
        assert_eq!(v.min(&[1], false).unwrap().to_vec(), vec![1., 0.]);
        assert_eq!(v.argmax(1).unwrap(), vec![2, 1]);
        assert_eq!(v.argmax(0).unwrap(), vec![1, 1, 0]);
        assert!(v.sum(&[2], false).is_err());
    }

    #[test]
    fn large_sum_in_f32_is_accurate() {
        let n = 1 << 22;
        let s = Tensor::<f32>::ones(&[n]).sum_all();
        assert_eq!(s, n as f32);
    }

    #[test]
    fn sum_to_shape_undoes_broadcast() {
        let g = Tensor::<f64>::ones(&[2, 3, 4]);
        assert_eq!(g.sum_to_shape(&[3, 1]).unwrap().to_vec(), vec![8.0; 3]);
        assert_eq!(g.sum_to_shape(&[4]).unwrap().to_vec(), vec![6.0; 4]);
        assert!(g.sum_to_shape(&[5]).is_err());
    }
}
