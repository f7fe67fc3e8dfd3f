//! Views: new layouts over the same storage. None of these copy data, except `reshape` of a
//! view whose memory order does not allow it (then it copies once, as NumPy does).

use crate::element::Element;
use crate::error::{Result, TensorError};
use crate::layout::numel;
use crate::tensor::Tensor;

impl<T: Element> Tensor<T> {
    fn with_layout(&self, layout: crate::layout::Layout) -> Tensor<T> {
        Tensor::from_parts(self.storage.clone(), layout)
    }

    /// Reorders axes: output axis `i` is input axis `axes[i]`.
    pub fn permute(&self, axes: &[usize]) -> Result<Tensor<T>> {
        Ok(self.with_layout(self.layout.permute(axes)?))
    }

    /// Swaps two axes.
    pub fn transpose(&self, a: usize, b: usize) -> Result<Tensor<T>> {
        Ok(self.with_layout(self.layout.transpose(a, b)?))
    }

    /// Transpose of the last two axes (matrix transpose, batched).
    pub fn t(&self) -> Result<Tensor<T>> {
        let r = self.rank();
        if r < 2 {
            return Err(TensorError::shape(
                "t",
                format!("needs at least 2 axes, got shape {:?}", self.shape()),
            ));
        }
        self.transpose(r - 2, r - 1)
    }

    /// Restricts `axis` to `start..start + len`.
    pub fn narrow(&self, axis: usize, start: usize, len: usize) -> Result<Tensor<T>> {
        Ok(self.with_layout(self.layout.narrow(axis, start, len)?))
    }

    /// Restricts every axis to a range `start..end` (one range per leading axis).
    pub fn slice(&self, ranges: &[std::ops::Range<usize>]) -> Result<Tensor<T>> {
        if ranges.len() > self.rank() {
            return Err(TensorError::shape(
                "slice",
                format!(
                    "{} ranges for a tensor of shape {:?}",
                    ranges.len(),
                    self.shape()
                ),
            ));
        }
        let mut layout = self.layout.clone();
        for (axis, r) in ranges.iter().enumerate() {
            if r.start > r.end {
                return Err(TensorError::invalid(
                    "slice",
                    format!("empty-reversed range {r:?} on axis {axis}"),
                ));
            }
            layout = layout.narrow(axis, r.start, r.end - r.start)?;
        }
        Ok(self.with_layout(layout))
    }

    /// Broadcasts to `shape` (stride-0 axes; no copy).
    pub fn broadcast_to(&self, shape: &[usize]) -> Result<Tensor<T>> {
        Ok(self.with_layout(self.layout.broadcast_to(shape)?))
    }

    /// Inserts a size-1 axis.
    pub fn unsqueeze(&self, axis: usize) -> Result<Tensor<T>> {
        Ok(self.with_layout(self.layout.unsqueeze(axis)?))
    }

    /// Removes a size-1 axis.
    pub fn squeeze(&self, axis: usize) -> Result<Tensor<T>> {
        Ok(self.with_layout(self.layout.squeeze(axis)?))
    }

    /// Removes every size-1 axis.
    pub fn squeeze_all(&self) -> Tensor<T> {
        let shape: Vec<usize> = self.shape().iter().copied().filter(|&d| d != 1).collect();
        self.reshape(&shape)
            .expect("dropping size-1 axes keeps the element count")
    }

    /// A new shape with the same number of elements: a view when the memory order allows,
    /// otherwise a contiguous copy. `usize::MAX` is not special; see [`Tensor::reshape_infer`].
    pub fn reshape(&self, shape: &[usize]) -> Result<Tensor<T>> {
        if numel(shape) != self.numel() {
            return Err(TensorError::shape(
                "reshape",
                format!(
                    "{:?} ({} elements) cannot be viewed as {shape:?} ({} elements)",
                    self.shape(),
                    self.numel(),
                    numel(shape)
                ),
            ));
        }
        match self.layout.reshape(shape) {
            Some(layout) => Ok(self.with_layout(layout)),
            None => self.contiguous().reshape(shape),
        }
    }

    /// Reshape where one dimension may be `None`, inferred from the element count.
    pub fn reshape_infer(&self, shape: &[Option<usize>]) -> Result<Tensor<T>> {
        let holes = shape.iter().filter(|d| d.is_none()).count();
        let known: usize = shape.iter().flatten().product();
        let bad = || {
            TensorError::shape(
                "reshape",
                format!("{:?} cannot be viewed as {shape:?}", self.shape()),
            )
        };
        if holes > 1 || known == 0 || !self.numel().is_multiple_of(known) {
            return Err(bad());
        }
        let full: Vec<usize> = shape
            .iter()
            .map(|d| d.unwrap_or(self.numel() / known))
            .collect();
        self.reshape(&full)
    }

    /// Merges axes `start..=end` into one.
    pub fn flatten(&self, start: usize, end: usize) -> Result<Tensor<T>> {
        if start > end || end >= self.rank() {
            return Err(TensorError::invalid(
                "flatten",
                format!(
                    "axes {start}..={end} are not a valid range for shape {:?}",
                    self.shape()
                ),
            ));
        }
        let s = self.shape();
        let mut shape: Vec<usize> = s[..start].to_vec();
        shape.push(s[start..=end].iter().product());
        shape.extend_from_slice(&s[end + 1..]);
        self.reshape(&shape)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn views_share_storage() {
        let x = Tensor::<f32>::arange(24).reshape(&[2, 3, 4]).unwrap();
        let p = x.permute(&[2, 0, 1]).unwrap();
        assert!(p.shares_storage_with(&x));
        assert_eq!(p.shape(), &[4, 2, 3]);
        assert_eq!(p.get(&[3, 1, 2]).unwrap(), x.get(&[1, 2, 3]).unwrap());
        let n = x.narrow(2, 1, 2).unwrap();
        assert!(n.shares_storage_with(&x));
        assert_eq!(n.to_vec()[..4], [1.0, 2.0, 5.0, 6.0]);
        let b = Tensor::<f32>::arange(3).broadcast_to(&[2, 3]).unwrap();
        assert_eq!(b.strides(), &[0, 1]);
        assert_eq!(b.to_vec(), vec![0.0, 1.0, 2.0, 0.0, 1.0, 2.0]);
    }

    #[test]
    fn laid_out_like_copies_the_layout_not_the_values() {
        let like = Tensor::<f32>::arange(12)
            .reshape(&[3, 4])
            .unwrap()
            .narrow(1, 1, 2)
            .unwrap()
            .t()
            .unwrap();
        let values = Tensor::<f32>::from_fn(&[2, 3], |i| 10.0 + i as f32);
        let laid = values.laid_out_like(&like).unwrap();
        assert_eq!(laid.strides(), like.strides());
        assert_eq!(laid.layout().offset(), like.layout().offset());
        assert!(!laid.shares_storage_with(&like));
        assert_eq!(laid.to_vec(), values.to_vec());
        let b = Tensor::<f32>::arange(3).broadcast_to(&[2, 3]).unwrap();
        assert!(
            values.laid_out_like(&b).is_none(),
            "a broadcast view aliases"
        );
        assert!(
            values.laid_out_like(&like.t().unwrap()).is_none(),
            "shapes differ"
        );
    }

    #[test]
    fn reshape_copies_only_when_needed() {
        let x = Tensor::<f32>::arange(6).reshape(&[2, 3]).unwrap();
        assert!(x.reshape(&[3, 2]).unwrap().shares_storage_with(&x));
        let t = x.t().unwrap();
        let r = t.reshape(&[6]).unwrap();
        assert!(!r.shares_storage_with(&x));
        assert_eq!(r.to_vec(), vec![0.0, 3.0, 1.0, 4.0, 2.0, 5.0]);
        let e = x.reshape(&[4, 2]).unwrap_err();
        assert!(
            e.to_string()
                .contains("[2, 3] (6 elements) cannot be viewed as [4, 2]"),
            "{e}"
        );
    }

    #[test]
    fn flatten_and_infer() {
        let x = Tensor::<f32>::zeros(&[2, 3, 4, 5]);
        assert_eq!(x.flatten(1, 3).unwrap().shape(), &[2, 60]);
        assert_eq!(x.reshape_infer(&[Some(2), None]).unwrap().shape(), &[2, 60]);
        assert!(x.reshape_infer(&[Some(7), None]).is_err());
    }

    #[test]
    fn data_mut_does_not_write_through_shared_storage() {
        let x = Tensor::<f32>::zeros(&[4]);
        let mut y = x.clone();
        y.data_mut()[0] = 1.0;
        assert_eq!(x.to_vec()[0], 0.0);
        assert_eq!(y.to_vec()[0], 1.0);
    }
}
