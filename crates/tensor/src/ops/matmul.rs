//! Matrix multiplication, 2-D and batched with broadcast batch axes, through the `gemm`
//! crate. Transposed or otherwise strided operands are passed to GEMM as strides, never
//! copied: GEMM packs its panels anyway, so a copy would only add memory traffic.

use rayon::prelude::*;

use crate::element::Element;
use crate::error::{Result, TensorError};
use crate::kernels::gemm::{MatMut, MatRef, gemm_into_with};
use crate::layout::{Layout, broadcast_shapes};
use crate::precision::Precision;
use crate::tensor::Tensor;

/// Products smaller than this many multiply-adds run each matrix on one thread and spread
/// the batch over threads instead.
const SMALL_GEMM: usize = 1 << 21;

impl<T: Element> Tensor<T> {
    /// `self @ other` for shapes `[..., m, k] × [..., k, n] → [..., m, n]`; the batch axes
    /// broadcast as in NumPy.
    pub fn matmul(&self, other: &Tensor<T>) -> Result<Tensor<T>> {
        self.matmul_at(other, Precision::F32)
    }

    /// [`Tensor::matmul`] with its products at `precision` (see [`Precision`]).
    pub fn matmul_at(&self, other: &Tensor<T>, precision: Precision) -> Result<Tensor<T>> {
        let (a, b) = (self.shape(), other.shape());
        if a.len() < 2 || b.len() < 2 {
            return Err(TensorError::shape(
                "matmul",
                format!("{a:?} × {b:?}: both operands need at least 2 axes"),
            ));
        }
        let (m, k) = (a[a.len() - 2], a[a.len() - 1]);
        let (k2, n) = (b[b.len() - 2], b[b.len() - 1]);
        if k != k2 {
            return Err(TensorError::shape(
                "matmul",
                format!("{a:?} × {b:?}: inner dimensions {k} and {k2} differ"),
            ));
        }
        if a.len() == 2 && b.len() == 2 {
            return Ok(self.matmul_2d(other, (m, k, n), precision));
        }
        let batch =
            broadcast_shapes("matmul", &a[..a.len() - 2], &b[..b.len() - 2]).map_err(|_| {
                TensorError::shape(
                    "matmul",
                    format!("{a:?} × {b:?}: batch axes cannot be broadcast"),
                )
            })?;
        let full = |r: usize, c: usize| -> Vec<usize> {
            let mut s = batch.to_vec();
            s.extend([r, c]);
            s
        };
        let la = self.layout.broadcast_to(&full(m, k))?;
        let lb = other.layout.broadcast_to(&full(k, n))?;
        let out_shape = full(m, n);
        let count: usize = batch.iter().product();
        let mut out = crate::buffers::zeroed(count * m * n);
        if out.is_empty() || k == 0 {
            return Ok(Tensor::from_kernel(out, &out_shape));
        }
        let starts = |l: &Layout| -> Vec<usize> {
            let rank = l.rank();
            let sub =
                Layout::from_parts(&l.shape()[..rank - 2], &l.strides()[..rank - 2], l.offset());
            sub.offsets().collect()
        };
        let (a_starts, b_starts) = (starts(&la), starts(&lb));
        let rs = |l: &Layout| (l.strides()[l.rank() - 2], l.strides()[l.rank() - 1]);
        let ((a_rs, a_cs), (b_rs, b_cs)) = (rs(&la), rs(&lb));
        let (sa, sb) = (&self.storage[..], &other.storage[..]);
        let one = |(i, dst): (usize, &mut [T]), parallel: bool| {
            let lhs = MatRef {
                data: &sa[a_starts[i]..],
                rows: m,
                cols: k,
                rs: a_rs,
                cs: a_cs,
            };
            let rhs = MatRef {
                data: &sb[b_starts[i]..],
                rows: k,
                cols: n,
                rs: b_rs,
                cs: b_cs,
            };
            gemm_into_with(
                &mut MatMut::row_major(dst, m, n),
                lhs,
                rhs,
                false,
                parallel,
                precision,
            );
        };
        if count > 1 && m * n * k < SMALL_GEMM {
            out.par_chunks_mut(m * n)
                .enumerate()
                .for_each(|c| one(c, false));
        } else {
            out.chunks_mut(m * n).enumerate().for_each(|c| one(c, true));
        }
        Ok(Tensor::from_kernel(out, &out_shape))
    }

    /// The plain `[m, k] × [k, n]` case without the batch bookkeeping (offset vectors,
    /// broadcast layouts), whose fixed cost shows at n = 128.
    fn matmul_2d(
        &self,
        other: &Tensor<T>,
        (m, k, n): (usize, usize, usize),
        precision: Precision,
    ) -> Tensor<T> {
        let mut out = crate::buffers::zeroed(m * n);
        if !out.is_empty() && k > 0 {
            fn view<T: Element>(t: &Tensor<T>, rows: usize, cols: usize) -> MatRef<'_, T> {
                let s = t.layout.strides();
                MatRef {
                    data: &t.storage[t.layout.offset()..],
                    rows,
                    cols,
                    rs: s[0],
                    cs: s[1],
                }
            }
            let (lhs, rhs) = (view(self, m, k), view(other, k, n));
            gemm_into_with(
                &mut MatMut::row_major(&mut out, m, n),
                lhs,
                rhs,
                false,
                true,
                precision,
            );
        }
        Tensor::from_kernel(out, &[m, n])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn naive(a: &Tensor<f64>, b: &Tensor<f64>) -> Vec<f64> {
        let (m, k, n) = (a.shape()[0], a.shape()[1], b.shape()[1]);
        let mut out = vec![0.0; m * n];
        for i in 0..m {
            for j in 0..n {
                for p in 0..k {
                    out[i * n + j] += a.get(&[i, p]).unwrap() * b.get(&[p, j]).unwrap();
                }
            }
        }
        out
    }

    #[test]
    fn matches_naive_including_transposed_operands() {
        let a = Tensor::<f64>::normal(&[7, 5], 0.0, 1.0, 1).unwrap();
        let b = Tensor::<f64>::normal(&[5, 3], 0.0, 1.0, 2).unwrap();
        let c = a.matmul(&b).unwrap();
        let want = naive(&a, &b);
        assert!(
            c.to_vec()
                .iter()
                .zip(&want)
                .all(|(x, y)| (x - y).abs() < 1e-12)
        );
        let at = a.t().unwrap().contiguous().t().unwrap();
        assert!(!at.is_contiguous());
        assert_eq!(at.matmul(&b).unwrap().to_vec(), c.to_vec());
    }

    #[test]
    fn batched_with_broadcast() {
        let a = Tensor::<f64>::normal(&[4, 2, 3], 0.0, 1.0, 3).unwrap();
        let b = Tensor::<f64>::normal(&[3, 5], 0.0, 1.0, 4).unwrap();
        let c = a.matmul(&b).unwrap();
        assert_eq!(c.shape(), &[4, 2, 5]);
        for i in 0..4 {
            let ai = a.narrow(0, i, 1).unwrap().squeeze(0).unwrap();
            let ci = c.narrow(0, i, 1).unwrap().squeeze(0).unwrap().to_vec();
            let want = naive(&ai, &b);
            assert!(ci.iter().zip(&want).all(|(x, y)| (x - y).abs() < 1e-12));
        }
    }

    #[test]
    fn inner_dimension_mismatch_message() {
        let e = Tensor::<f32>::zeros(&[64, 400])
            .matmul(&Tensor::zeros(&[120, 84]))
            .unwrap_err();
        assert_eq!(
            e.to_string(),
            "matmul: [64, 400] × [120, 84]: inner dimensions 400 and 120 differ"
        );
    }
}
