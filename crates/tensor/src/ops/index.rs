//! Joining, padding and indexing: concat, pad, one-hot, gather along an axis and its adjoint,
//! index_select. Each of these is linear in its tensor operand, and autograd pairs them as
//! adjoints (concat ↔ narrow, pad ↔ narrow, take_along_axis ↔ put_along_axis).

use crate::element::Element;
use crate::error::{Result, TensorError};
use crate::tensor::Tensor;

/// `(outer, len, inner)` of a contiguous tensor split at `axis`.
fn split_at(shape: &[usize], axis: usize) -> (usize, usize, usize) {
    (
        shape[..axis].iter().product(),
        shape[axis],
        shape[axis + 1..].iter().product(),
    )
}

impl<T: Element> Tensor<T> {
    /// Joins tensors along `axis`; all other axes must agree.
    pub fn concat(parts: &[&Tensor<T>], axis: usize) -> Result<Tensor<T>> {
        let first = parts
            .first()
            .ok_or_else(|| TensorError::invalid("concat", "needs at least one tensor"))?;
        let rank = first.rank();
        if axis >= rank {
            return Err(TensorError::Axis {
                op: "concat",
                axis: axis as isize,
                shape: first.shape().to_vec(),
            });
        }
        for p in parts {
            let same_rank = p.rank() == rank;
            if !same_rank || (0..rank).any(|a| a != axis && p.shape()[a] != first.shape()[a]) {
                let shapes: Vec<_> = parts.iter().map(|p| p.shape().to_vec()).collect();
                return Err(TensorError::shape(
                    "concat",
                    format!("shapes {shapes:?} differ outside axis {axis}"),
                ));
            }
        }
        let mut shape = first.shape().to_vec();
        shape[axis] = parts.iter().map(|p| p.shape()[axis]).sum();
        let (outer, _, inner) = split_at(&shape, axis);
        let datas: Vec<_> = parts.iter().map(|p| p.data()).collect();
        let mut out = crate::buffers::uninit(shape.iter().product());
        for o in 0..outer {
            for (p, d) in parts.iter().zip(&datas) {
                let run = p.shape()[axis] * inner;
                out.extend_from_slice(&d[o * run..(o + 1) * run]);
            }
        }
        Ok(Tensor::from_kernel(out, &shape))
    }

    /// Pads every axis with `(before, after)` copies of `value` (one pair per axis).
    pub fn pad(&self, pads: &[(usize, usize)], value: f64) -> Result<Tensor<T>> {
        if pads.len() != self.rank() {
            return Err(TensorError::shape(
                "pad",
                format!(
                    "{} (before, after) pairs for a tensor of shape {:?}",
                    pads.len(),
                    self.shape()
                ),
            ));
        }
        let shape: Vec<usize> = self
            .shape()
            .iter()
            .zip(pads)
            .map(|(&d, &(b, a))| d + b + a)
            .collect();
        let mut out = Tensor::full(&shape, T::of_f64(value));
        if self.numel() == 0 {
            return Ok(out);
        }
        // Write the source rows into the interior of the padded buffer.
        let src = self.data();
        let row = *self.shape().last().unwrap_or(&1);
        let out_strides = crate::layout::contiguous_strides(&shape);
        let interior_start: usize = pads
            .iter()
            .zip(&out_strides)
            .map(|(&(b, _), &s)| b * s)
            .sum();
        let interior =
            crate::layout::Layout::from_parts(self.shape(), &out_strides, interior_start);
        let dst = out.data_mut();
        let mut k = 0;
        interior.for_each_row(|start| {
            dst[start..start + row].copy_from_slice(&src[k..k + row]);
            k += row;
        });
        Ok(out)
    }

    /// `[N] labels → [N, classes]` with a 1 at each label. Errors name the bad label.
    pub fn one_hot(labels: &[usize], classes: usize) -> Result<Tensor<T>> {
        if let Some((i, &l)) = labels.iter().enumerate().find(|(_, l)| **l >= classes) {
            return Err(TensorError::invalid(
                "one_hot",
                format!("label {l} at position {i} is not below the number of classes {classes}"),
            ));
        }
        let mut out = crate::buffers::zeroed(labels.len() * classes);
        for (row, &l) in labels.iter().enumerate() {
            out[row * classes + l] = T::one();
        }
        Ok(Tensor::from_kernel(out, &[labels.len(), classes]))
    }

    fn check_along(
        &self,
        op: &'static str,
        axis: usize,
        indices: &[usize],
    ) -> Result<(usize, usize, usize)> {
        if axis >= self.rank() {
            return Err(TensorError::Axis {
                op,
                axis: axis as isize,
                shape: self.shape().to_vec(),
            });
        }
        let (outer, len, inner) = split_at(self.shape(), axis);
        if indices.len() != outer * inner {
            return Err(TensorError::shape(
                op,
                format!(
                    "{} indices for shape {:?} along axis {axis}: need one per position, {}",
                    indices.len(),
                    self.shape(),
                    outer * inner
                ),
            ));
        }
        if let Some((i, &bad)) = indices.iter().enumerate().find(|(_, ix)| **ix >= len) {
            return Err(TensorError::invalid(
                op,
                format!(
                    "index {bad} at position {i} is out of range for axis {axis} of size {len}"
                ),
            ));
        }
        Ok((outer, len, inner))
    }

    /// Picks one element along `axis` for every other position: the result has `axis`
    /// removed and `out[o, i] = x[o, indices[o·inner + i], i]`. For `[N, C]` logits and `N`
    /// labels this is the logit of each true class (what NLL needs).
    pub fn take_along_axis(&self, axis: usize, indices: &[usize]) -> Result<Tensor<T>> {
        let (outer, len, inner) = self.check_along("take_along_axis", axis, indices)?;
        let d = self.data();
        let out = (0..outer * inner)
            .map(|p| {
                let (o, i) = (p / inner, p % inner);
                d[(o * len + indices[p]) * inner + i]
            })
            .collect();
        let mut shape = self.shape().to_vec();
        shape.remove(axis);
        Ok(Tensor::from_kernel(out, &shape))
    }

    /// The adjoint of [`Tensor::take_along_axis`]: zeros of `shape` with `values` (shaped as
    /// `shape` without `axis`) placed at the indexed positions.
    pub fn put_along_axis(
        shape: &[usize],
        axis: usize,
        indices: &[usize],
        values: &Tensor<T>,
    ) -> Result<Tensor<T>> {
        let zeros = Tensor::<T>::zeros(shape);
        let (outer, len, inner) = zeros.check_along("put_along_axis", axis, indices)?;
        if values.numel() != outer * inner {
            return Err(TensorError::shape(
                "put_along_axis",
                format!(
                    "values {:?} do not match shape {shape:?} without axis {axis}",
                    values.shape()
                ),
            ));
        }
        let v = values.data();
        let mut out = crate::buffers::zeroed(zeros.numel());
        for p in 0..outer * inner {
            let (o, i) = (p / inner, p % inner);
            out[(o * len + indices[p]) * inner + i] = v[p];
        }
        Ok(Tensor::from_kernel(out, shape))
    }

    /// Selects whole slices along `axis` (repeats allowed): `[.., len, ..] → [.., k, ..]`.
    pub fn index_select(&self, axis: usize, indices: &[usize]) -> Result<Tensor<T>> {
        if axis >= self.rank() {
            return Err(TensorError::Axis {
                op: "index_select",
                axis: axis as isize,
                shape: self.shape().to_vec(),
            });
        }
        let (outer, len, inner) = split_at(self.shape(), axis);
        if let Some(&bad) = indices.iter().find(|&&i| i >= len) {
            return Err(TensorError::invalid(
                "index_select",
                format!(
                    "index {bad} is out of range for axis {axis} of size {len} (shape {:?})",
                    self.shape()
                ),
            ));
        }
        let d = self.data();
        let mut out = crate::buffers::uninit(outer * indices.len() * inner);
        for o in 0..outer {
            for &ix in indices {
                let start = (o * len + ix) * inner;
                out.extend_from_slice(&d[start..start + inner]);
            }
        }
        let mut shape = self.shape().to_vec();
        shape[axis] = indices.len();
        Ok(Tensor::from_kernel(out, &shape))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn concat_then_narrow_round_trips() {
        let a = Tensor::<f32>::arange(6).reshape(&[2, 3]).unwrap();
        let b = Tensor::<f32>::full(&[2, 1], -1.0);
        let c = Tensor::concat(&[&a, &b], 1).unwrap();
        assert_eq!(c.to_vec(), vec![0., 1., 2., -1., 3., 4., 5., -1.]);
        assert_eq!(c.narrow(1, 0, 3).unwrap(), a);
        let e = Tensor::concat(&[&a, &Tensor::zeros(&[3, 1])], 1).unwrap_err();
        assert!(e.to_string().contains("differ outside axis 1"), "{e}");
    }

    #[test]
    fn pad_then_narrow_round_trips() {
        let a = Tensor::<f32>::arange(6).reshape(&[2, 3]).unwrap();
        let p = a.pad(&[(1, 0), (2, 1)], 9.0).unwrap();
        assert_eq!(p.shape(), &[3, 6]);
        assert_eq!(p.to_vec()[..6], [9.0; 6]);
        assert_eq!(p.narrow(0, 1, 2).unwrap().narrow(1, 2, 3).unwrap(), a);
        // A transposed (non-contiguous) source pads the same as its copy.
        let t = a.t().unwrap();
        assert_eq!(
            t.pad(&[(1, 1), (0, 2)], 0.0).unwrap(),
            t.contiguous().pad(&[(1, 1), (0, 2)], 0.0).unwrap()
        );
    }

    #[test]
    fn gather_and_its_adjoint() {
        let x = Tensor::<f64>::arange(6).reshape(&[2, 3]).unwrap();
        let picked = x.take_along_axis(1, &[2, 0]).unwrap();
        assert_eq!(picked.to_vec(), vec![2.0, 3.0]);
        let back = Tensor::put_along_axis(&[2, 3], 1, &[2, 0], &picked).unwrap();
        assert_eq!(back.to_vec(), vec![0., 0., 2., 3., 0., 0.]);
        assert!(
            x.take_along_axis(1, &[3, 0])
                .unwrap_err()
                .to_string()
                .contains("index 3 at position 0")
        );
        assert_eq!(
            Tensor::<f32>::one_hot(&[1, 0], 3).unwrap().to_vec(),
            vec![0., 1., 0., 1., 0., 0.]
        );
        assert!(Tensor::<f32>::one_hot(&[3], 3).is_err());
        assert_eq!(
            x.index_select(0, &[1, 1]).unwrap().to_vec(),
            vec![3., 4., 5., 3., 4., 5.]
        );
    }
}
