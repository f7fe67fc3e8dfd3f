//! Iteration over several operands that share one (broadcast) shape but have their own
//! strides. Adjacent axes are merged first wherever every operand allows it, so a bias add
//! `[N, C, H, W] + [1, C, 1, 1]` runs as rows of `H·W` contiguous elements rather than per
//! element index arithmetic.

use smallvec::SmallVec;

use crate::layout::Dims;

/// A shape with one stride list per operand, after merging mergeable axes.
#[derive(Debug, Clone)]
pub(crate) struct Coalesced<const N: usize> {
    pub shape: Dims,
    pub strides: [Dims; N],
    pub offsets: [usize; N],
}

impl<const N: usize> Coalesced<N> {
    pub fn new(shape: &[usize], strides: [&[usize]; N], offsets: [usize; N]) -> Self {
        let mut out_shape: Dims = SmallVec::new();
        let mut out_strides: [Dims; N] = std::array::from_fn(|_| SmallVec::new());
        for (axis, &d) in shape.iter().enumerate() {
            if d == 1 {
                continue;
            }
            let mergeable = !out_shape.is_empty()
                && (0..N).all(|k| {
                    let prev = *out_strides[k].last().unwrap_or(&0);
                    prev == strides[k][axis] * d
                });
            if mergeable {
                let last = out_shape.len() - 1;
                out_shape[last] *= d;
                for k in 0..N {
                    out_strides[k][last] = strides[k][axis];
                }
            } else {
                out_shape.push(d);
                for k in 0..N {
                    out_strides[k].push(strides[k][axis]);
                }
            }
        }
        if out_shape.is_empty() {
            out_shape.push(1);
            for s in out_strides.iter_mut() {
                s.push(1);
            }
        }
        Coalesced {
            shape: out_shape,
            strides: out_strides,
            offsets,
        }
    }

    /// Length of one row (the innermost merged axis).
    pub fn row_len(&self) -> usize {
        *self.shape.last().unwrap_or(&1)
    }

    /// Number of rows.
    pub fn rows(&self) -> usize {
        self.shape[..self.shape.len() - 1].iter().product()
    }

    /// Stride of each operand along a row.
    pub fn row_strides(&self) -> [usize; N] {
        std::array::from_fn(|k| *self.strides[k].last().unwrap_or(&1))
    }

    /// Starting storage offset of row `row` for each operand.
    pub fn row_offsets(&self, mut row: usize) -> [usize; N] {
        let mut offs = self.offsets;
        for ax in (0..self.shape.len() - 1).rev() {
            let i = row % self.shape[ax];
            row /= self.shape[ax];
            for (off, strides) in offs.iter_mut().zip(&self.strides) {
                *off += i * strides[ax];
            }
        }
        offs
    }
}
