//! Geometry of a strided view: shape, strides and offset into shared storage.
//!
//! Every view operation (permute, narrow, broadcast, reshape, …) is a pure function from one
//! `Layout` to another. No kernels live here, so the view algebra can be read and tested on its
//! own. Strides are in elements; a stride of 0 is a broadcast dimension.

use smallvec::SmallVec;

use crate::error::{Result, TensorError};

/// Small inline vector for shapes and strides: most tensors have rank ≤ 6.
pub type Dims = SmallVec<[usize; 6]>;

/// Where the elements of a view sit in its storage.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Layout {
    shape: Dims,
    strides: Dims,
    offset: usize,
}

/// Row-major (C order) strides for a shape.
pub fn contiguous_strides(shape: &[usize]) -> Dims {
    let mut strides: Dims = SmallVec::from_elem(0, shape.len());
    let mut acc = 1;
    for (s, &d) in strides.iter_mut().zip(shape).rev() {
        *s = acc;
        acc *= d;
    }
    strides
}

/// Number of elements of a shape (1 for a scalar).
pub fn numel(shape: &[usize]) -> usize {
    shape.iter().product()
}

/// NumPy broadcasting of two shapes: align at the right, sizes must match or be 1.
pub fn broadcast_shapes(op: &'static str, a: &[usize], b: &[usize]) -> Result<Dims> {
    let rank = a.len().max(b.len());
    let mut out: Dims = SmallVec::from_elem(0, rank);
    for i in 0..rank {
        let da = if i + a.len() >= rank {
            a[i + a.len() - rank]
        } else {
            1
        };
        let db = if i + b.len() >= rank {
            b[i + b.len() - rank]
        } else {
            1
        };
        out[i] = match (da, db) {
            (x, y) if x == y => x,
            (1, y) => y,
            (x, 1) => x,
            _ => {
                return Err(TensorError::shape(
                    op,
                    format!(
                        "{a:?} and {b:?} cannot be broadcast: dimension {i} has sizes {da} and {db}"
                    ),
                ));
            }
        };
    }
    Ok(out)
}

impl Layout {
    /// A row-major layout starting at offset 0.
    pub fn contiguous(shape: &[usize]) -> Self {
        Layout {
            shape: shape.into(),
            strides: contiguous_strides(shape),
            offset: 0,
        }
    }

    /// Builds a layout from raw parts; the caller guarantees it stays inside its storage.
    pub fn from_parts(shape: &[usize], strides: &[usize], offset: usize) -> Self {
        debug_assert_eq!(shape.len(), strides.len());
        Layout {
            shape: shape.into(),
            strides: strides.into(),
            offset,
        }
    }

    /// The size of each axis, outermost first (empty for a scalar).
    pub fn shape(&self) -> &[usize] {
        &self.shape
    }
    /// Storage step of each axis, in elements (0 on a broadcast axis); one per axis of
    /// [`Self::shape`].
    pub fn strides(&self) -> &[usize] {
        &self.strides
    }
    /// Storage index of the view's first element (index `[0, 0, …]`).
    pub fn offset(&self) -> usize {
        self.offset
    }
    /// The number of axes (0 for a scalar).
    pub fn rank(&self) -> usize {
        self.shape.len()
    }
    /// Number of logical elements: the product of the shape (1 for a scalar); a broadcast
    /// view counts every repeat, so this can exceed the storage it touches.
    pub fn numel(&self) -> usize {
        numel(&self.shape)
    }

    /// True when the elements are laid out row-major with no gaps (any offset).
    pub fn is_contiguous(&self) -> bool {
        let mut expected = 1;
        for (&d, &s) in self.shape.iter().zip(&self.strides).rev() {
            if d != 1 && s != expected {
                return false;
            }
            expected *= d;
        }
        true
    }

    /// One past the largest storage index this view touches (0 for an empty view).
    pub fn storage_extent(&self) -> usize {
        if self.numel() == 0 {
            return 0;
        }
        self.offset
            + self
                .shape
                .iter()
                .zip(&self.strides)
                .map(|(&d, &s)| (d - 1) * s)
                .sum::<usize>()
            + 1
    }

    fn check_axis(&self, op: &'static str, axis: usize) -> Result<()> {
        if axis < self.rank() {
            Ok(())
        } else {
            Err(TensorError::Axis {
                op,
                axis: axis as isize,
                shape: self.shape.to_vec(),
            })
        }
    }

    /// Reorders the axes: output axis `i` is input axis `axes[i]`.
    pub fn permute(&self, axes: &[usize]) -> Result<Layout> {
        let rank = self.rank();
        let mut seen = vec![false; rank];
        if axes.len() != rank {
            return Err(TensorError::shape(
                "permute",
                format!(
                    "{axes:?} is not a permutation of the {rank} axes of {:?}",
                    self.shape
                ),
            ));
        }
        for &a in axes {
            if a >= rank || seen[a] {
                return Err(TensorError::shape(
                    "permute",
                    format!(
                        "{axes:?} is not a permutation of the {rank} axes of {:?}",
                        self.shape
                    ),
                ));
            }
            seen[a] = true;
        }
        Ok(Layout {
            shape: axes.iter().map(|&a| self.shape[a]).collect(),
            strides: axes.iter().map(|&a| self.strides[a]).collect(),
            offset: self.offset,
        })
    }

    /// Swaps two axes.
    pub fn transpose(&self, a: usize, b: usize) -> Result<Layout> {
        self.check_axis("transpose", a)?;
        self.check_axis("transpose", b)?;
        let mut out = self.clone();
        out.shape.swap(a, b);
        out.strides.swap(a, b);
        Ok(out)
    }

    /// Restricts `axis` to `start..start + len`.
    pub fn narrow(&self, axis: usize, start: usize, len: usize) -> Result<Layout> {
        self.check_axis("narrow", axis)?;
        let dim = self.shape[axis];
        if start.checked_add(len).is_none_or(|end| end > dim) {
            return Err(TensorError::invalid(
                "narrow",
                format!(
                    "range {start}..{} is outside axis {axis} of size {dim} (shape {:?})",
                    start.saturating_add(len),
                    self.shape
                ),
            ));
        }
        let mut out = self.clone();
        if len > 0 {
            out.offset += start * self.strides[axis];
        }
        out.shape[axis] = len;
        Ok(out)
    }

    /// Broadcasts to `shape` by giving new or size-1 axes a stride of 0.
    pub fn broadcast_to(&self, shape: &[usize]) -> Result<Layout> {
        let err = || {
            TensorError::shape(
                "broadcast_to",
                format!("cannot broadcast {:?} to {shape:?}", self.shape),
            )
        };
        if shape.len() < self.rank() {
            return Err(err());
        }
        let lead = shape.len() - self.rank();
        let mut strides: Dims = SmallVec::from_elem(0, shape.len());
        for (i, &target) in shape.iter().enumerate().skip(lead) {
            let (d, s) = (self.shape[i - lead], self.strides[i - lead]);
            strides[i] = if d == target {
                s
            } else if d == 1 {
                0
            } else {
                return Err(err());
            };
        }
        Ok(Layout {
            shape: shape.into(),
            strides,
            offset: self.offset,
        })
    }

    /// Inserts an axis of size 1 at `axis` (0 ≤ axis ≤ rank).
    pub fn unsqueeze(&self, axis: usize) -> Result<Layout> {
        if axis > self.rank() {
            return Err(TensorError::Axis {
                op: "unsqueeze",
                axis: axis as isize,
                shape: self.shape.to_vec(),
            });
        }
        let mut out = self.clone();
        let stride = if axis < self.rank() {
            self.shape[axis] * self.strides[axis]
        } else {
            1
        };
        out.shape.insert(axis, 1);
        out.strides.insert(axis, stride);
        Ok(out)
    }

    /// Removes an axis of size 1.
    pub fn squeeze(&self, axis: usize) -> Result<Layout> {
        self.check_axis("squeeze", axis)?;
        if self.shape[axis] != 1 {
            return Err(TensorError::invalid(
                "squeeze",
                format!(
                    "axis {axis} of shape {:?} has size {}, not 1",
                    self.shape, self.shape[axis]
                ),
            ));
        }
        let mut out = self.clone();
        out.shape.remove(axis);
        out.strides.remove(axis);
        Ok(out)
    }

    /// The same elements viewed with a new shape, if that is possible without copying.
    ///
    /// Works whenever each group of merged or split axes is itself contiguous in memory (the
    /// same condition NumPy uses), so reshaping a transposed matrix fails and needs a copy.
    pub fn reshape(&self, shape: &[usize]) -> Option<Layout> {
        if numel(shape) != self.numel() {
            return None;
        }
        if self.is_contiguous() {
            return Some(Layout {
                shape: shape.into(),
                strides: contiguous_strides(shape),
                offset: self.offset,
            });
        }
        // Drop size-1 axes, then match groups of old axes to groups of new axes.
        let old: Vec<(usize, usize)> = self
            .shape
            .iter()
            .zip(&self.strides)
            .filter(|(d, _)| **d != 1)
            .map(|(&d, &s)| (d, s))
            .collect();
        let mut strides: Dims = SmallVec::from_elem(0, shape.len());
        let (mut oi, mut ni) = (0, 0);
        while ni < shape.len() {
            if shape[ni] == 1 {
                strides[ni] = 1;
                ni += 1;
                continue;
            }
            if oi >= old.len() {
                return None;
            }
            // Grow an old group and a new group until their sizes match.
            let (mut old_size, mut new_size) = (old[oi].0, shape[ni]);
            let (o_start, n_start) = (oi, ni);
            while old_size != new_size {
                if old_size < new_size {
                    oi += 1;
                    old_size *= old.get(oi)?.0;
                } else {
                    ni += 1;
                    while ni < shape.len() && shape[ni] == 1 {
                        ni += 1;
                    }
                    new_size *= *shape.get(ni)?;
                }
            }
            // The old group must be contiguous among itself.
            for k in o_start..oi {
                if old[k].1 != old[k + 1].0 * old[k + 1].1 {
                    return None;
                }
            }
            // Assign new strides from the innermost stride of the old group outward.
            let mut stride = old[oi].1;
            for k in (n_start..=ni).rev() {
                strides[k] = stride;
                stride *= shape[k];
            }
            oi += 1;
            ni += 1;
        }
        if oi != old.len() {
            return None;
        }
        Some(Layout {
            shape: shape.into(),
            strides,
            offset: self.offset,
        })
    }

    /// Storage offsets of all elements, in row-major order of this view.
    pub fn offsets(&self) -> OffsetIter<'_> {
        OffsetIter {
            layout: self,
            index: SmallVec::from_elem(0, self.rank()),
            next: self.offset,
            remaining: self.numel(),
        }
    }

    /// Splits the view into runs along its last axis: `(start offset, run stride)` for every
    /// row, where each run has `shape[rank-1]` elements. Kernels loop over runs so the inner loop
    /// has a fixed stride (usually 1) instead of recomputing a multi-index per element.
    pub fn for_each_row(&self, mut f: impl FnMut(usize)) {
        if self.numel() == 0 {
            return;
        }
        let rank = self.rank();
        if rank <= 1 {
            f(self.offset);
            return;
        }
        let outer = &self.shape[..rank - 1];
        let mut index: Dims = SmallVec::from_elem(0, rank - 1);
        let mut off = self.offset;
        let rows: usize = outer.iter().product();
        for _ in 0..rows {
            f(off);
            // Increment the multi-index like an odometer.
            for ax in (0..rank - 1).rev() {
                index[ax] += 1;
                off += self.strides[ax];
                if index[ax] < outer[ax] {
                    break;
                }
                off -= self.strides[ax] * outer[ax];
                index[ax] = 0;
            }
        }
    }

    /// Storage offset of the element at a multi-index, or an error if it is out of bounds.
    pub fn offset_of(&self, index: &[usize]) -> Result<usize> {
        if index.len() != self.rank() || index.iter().zip(&self.shape).any(|(&i, &d)| i >= d) {
            return Err(TensorError::invalid(
                "index",
                format!(
                    "index {index:?} is out of bounds for shape {:?}",
                    self.shape
                ),
            ));
        }
        Ok(self.offset
            + index
                .iter()
                .zip(&self.strides)
                .map(|(i, s)| i * s)
                .sum::<usize>())
    }
}

/// Iterator over the storage offsets of a view in row-major order.
#[derive(Debug)]
pub struct OffsetIter<'a> {
    layout: &'a Layout,
    index: Dims,
    next: usize,
    remaining: usize,
}

impl Iterator for OffsetIter<'_> {
    type Item = usize;

    fn next(&mut self) -> Option<usize> {
        if self.remaining == 0 {
            return None;
        }
        self.remaining -= 1;
        let current = self.next;
        let shape = &self.layout.shape;
        let strides = &self.layout.strides;
        for ax in (0..shape.len()).rev() {
            self.index[ax] += 1;
            self.next += strides[ax];
            if self.index[ax] < shape[ax] {
                break;
            }
            self.next -= strides[ax] * shape[ax];
            self.index[ax] = 0;
        }
        Some(current)
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        (self.remaining, Some(self.remaining))
    }
}

impl ExactSizeIterator for OffsetIter<'_> {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn contiguous_strides_are_row_major() {
        assert_eq!(contiguous_strides(&[2, 3, 4]).as_slice(), &[12, 4, 1]);
        assert!(Layout::contiguous(&[2, 3]).is_contiguous());
    }

    #[test]
    fn transpose_is_not_contiguous_and_reshape_refuses_it() {
        let t = Layout::contiguous(&[2, 3]).transpose(0, 1).unwrap();
        assert!(!t.is_contiguous());
        assert!(t.reshape(&[6]).is_none());
        assert_eq!(t.offsets().collect::<Vec<_>>(), vec![0, 3, 1, 4, 2, 5]);
    }

    #[test]
    fn reshape_of_a_narrowed_view_splits_axes_without_copy() {
        // Keep 4 of 6 columns: rows stay strided by 6, so [3, 4] -> [3, 2, 2] is a view.
        let l = Layout::contiguous(&[3, 6]).narrow(1, 1, 4).unwrap();
        let r = l.reshape(&[3, 2, 2]).unwrap();
        assert_eq!(r.strides(), &[6, 2, 1]);
        let a: Vec<_> = l.offsets().collect();
        let b: Vec<_> = r.offsets().collect();
        assert_eq!(a, b);
        assert!(l.reshape(&[12]).is_none());
    }

    #[test]
    fn broadcast_shapes_follow_numpy() {
        assert_eq!(
            broadcast_shapes("add", &[3, 1, 5], &[4, 1])
                .unwrap()
                .as_slice(),
            &[3, 4, 5]
        );
        let e = broadcast_shapes("add", &[3, 2], &[4, 3]).unwrap_err();
        assert!(
            e.to_string()
                .contains("add: [3, 2] and [4, 3] cannot be broadcast")
        );
    }

    #[test]
    fn narrow_out_of_range_names_the_axis() {
        let e = Layout::contiguous(&[2, 3]).narrow(1, 2, 2).unwrap_err();
        assert!(e.to_string().contains("outside axis 1 of size 3"), "{e}");
    }
}
