//! A safe, bounds-checked front end to the `gemm` crate.
//!
//! `gemm::gemm` takes raw pointers and arbitrary strides; this wrapper takes slices plus
//! strides, proves that every addressed element lies inside its slice (O(1) arithmetic, so
//! the check stays on in release builds — that is what makes the wrapper sound), and picks
//! the parallelism. Convolution and matmul both go through here.

use crate::element::Element;

/// A read-only strided matrix view into a slice: element `(i, j)` is
/// `data[i * rs + j * cs]`.
#[derive(Debug, Clone, Copy)]
pub struct MatRef<'a, T> {
    pub data: &'a [T],
    pub rows: usize,
    pub cols: usize,
    pub rs: usize,
    pub cs: usize,
}

/// A mutable strided matrix view; same addressing as [`MatRef`].
#[derive(Debug)]
pub struct MatMut<'a, T> {
    pub data: &'a mut [T],
    pub rows: usize,
    pub cols: usize,
    pub rs: usize,
    pub cs: usize,
}

impl<'a, T> MatRef<'a, T> {
    /// A contiguous row-major `rows × cols` view of the start of `data`.
    pub fn row_major(data: &'a [T], rows: usize, cols: usize) -> Self {
        MatRef {
            data,
            rows,
            cols,
            rs: cols,
            cs: 1,
        }
    }

    /// The transpose, as a view of the same memory (no copy).
    pub fn t(self) -> Self {
        MatRef {
            data: self.data,
            rows: self.cols,
            cols: self.rows,
            rs: self.cs,
            cs: self.rs,
        }
    }
}

impl<'a, T> MatMut<'a, T> {
    /// A contiguous row-major `rows × cols` view of the start of `data`.
    pub fn row_major(data: &'a mut [T], rows: usize, cols: usize) -> Self {
        MatMut {
            data,
            rows,
            cols,
            rs: cols,
            cs: 1,
        }
    }

    /// The transpose, as a view of the same memory (no copy).
    pub fn t(self) -> Self {
        MatMut {
            data: self.data,
            rows: self.cols,
            cols: self.rows,
            rs: self.cs,
            cs: self.rs,
        }
    }
}

/// Products smaller than this many multiply-adds (64³) run on one thread: below it the
/// fork/join cost of splitting the GEMM exceeds the work saved.
pub const PARALLEL_MIN_MACS: usize = 64 * 64 * 64;

/// Panics unless every `(i, j)` with `i < rows, j < cols` addresses inside a slice of
/// `len` elements. This is the soundness argument for the raw `gemm::gemm` call.
fn assert_fits(what: &str, len: usize, rows: usize, cols: usize, rs: usize, cs: usize) {
    if rows == 0 || cols == 0 {
        return;
    }
    let last = (rows - 1)
        .checked_mul(rs)
        .and_then(|a| (cols - 1).checked_mul(cs).and_then(|b| a.checked_add(b)));
    assert!(
        matches!(last, Some(l) if l < len) && last.is_some_and(|l| l <= isize::MAX as usize),
        "gemm_into: {what} view {rows}×{cols} with strides ({rs}, {cs}) overruns {len} elements"
    );
}

/// `dst := lhs · rhs`, or `dst += lhs · rhs` when `accumulate`.
///
/// `parallel` allows the product to be split across the rayon pool; it is honoured only
/// when the product is at least [`PARALLEL_MIN_MACS`] multiply-adds. Callers that already
/// run one GEMM per rayon task pass `false`.
///
/// # Panics
/// When the operand dimensions disagree or a view overruns its slice (a caller bug).
pub fn gemm_into<T: Element>(
    dst: &mut MatMut<'_, T>,
    lhs: MatRef<'_, T>,
    rhs: MatRef<'_, T>,
    accumulate: bool,
    parallel: bool,
) {
    let (m, n, k) = (dst.rows, dst.cols, lhs.cols);
    assert!(
        lhs.rows == m && rhs.rows == k && rhs.cols == n,
        "gemm_into: [{m}, {n}] := [{}, {}] · [{}, {}]: dimensions disagree",
        lhs.rows,
        lhs.cols,
        rhs.rows,
        rhs.cols
    );
    assert_fits("dst", dst.data.len(), m, n, dst.rs, dst.cs);
    assert_fits("lhs", lhs.data.len(), m, k, lhs.rs, lhs.cs);
    assert_fits("rhs", rhs.data.len(), k, n, rhs.rs, rhs.cs);
    if m == 0 || n == 0 {
        return;
    }
    if k == 0 {
        // Empty inner dimension: the product is zero. Handled here so the raw call never
        // sees a (possibly dangling) empty operand.
        if !accumulate {
            for i in 0..m {
                for j in 0..n {
                    dst.data[i * dst.rs + j * dst.cs] = T::zero();
                }
            }
        }
        return;
    }
    let threads = rayon::current_num_threads();
    let macs = m.saturating_mul(n).saturating_mul(k);
    let parallelism = if parallel && threads > 1 && macs >= PARALLEL_MIN_MACS {
        gemm::Parallelism::Rayon(threads)
    } else {
        gemm::Parallelism::None
    };
    // SAFETY: `assert_fits` proved every addressed element of each operand lies inside its
    // slice (and that offsets fit in isize); `dst` is a unique borrow, so it cannot alias
    // `lhs` or `rhs`; `T` is f32 or f64, which `gemm` dispatches on.
    unsafe {
        gemm::gemm(
            m,
            n,
            k,
            dst.data.as_mut_ptr(),
            dst.cs as isize,
            dst.rs as isize,
            accumulate,
            lhs.data.as_ptr(),
            lhs.cs as isize,
            lhs.rs as isize,
            rhs.data.as_ptr(),
            rhs.cs as isize,
            rhs.rs as isize,
            T::one(),
            T::one(),
            false,
            false,
            false,
            parallelism,
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn naive(m: usize, n: usize, k: usize, a: &[f64], b: &[f64]) -> Vec<f64> {
        let mut c = vec![0.0; m * n];
        for i in 0..m {
            for j in 0..n {
                for p in 0..k {
                    c[i * n + j] += a[i * k + p] * b[p * n + j];
                }
            }
        }
        c
    }

    #[test]
    fn gemm_into_matches_naive_with_transposes_and_accumulate() {
        let (m, n, k) = (70, 65, 67);
        let a: Vec<f64> = (0..m * k).map(|i| ((i * 7) % 13) as f64 - 6.0).collect();
        let b: Vec<f64> = (0..k * n).map(|i| ((i * 5) % 11) as f64 - 5.0).collect();
        let want = naive(m, n, k, &a, &b);
        for parallel in [false, true] {
            let mut c = vec![f64::NAN; m * n];
            let mut dst = MatMut::row_major(&mut c, m, n);
            gemm_into(
                &mut dst,
                MatRef::row_major(&a, m, k),
                MatRef::row_major(&b, k, n),
                false,
                parallel,
            );
            assert_eq!(c, want);
            // bᵀ stored [n, k] and viewed transposed; accumulate doubles the result.
            let bt: Vec<f64> = (0..n * k).map(|i| b[(i % k) * n + i / k]).collect();
            let mut dst = MatMut::row_major(&mut c, m, n);
            gemm_into(
                &mut dst,
                MatRef::row_major(&a, m, k),
                MatRef::row_major(&bt, n, k).t(),
                true,
                parallel,
            );
            let twice: Vec<f64> = want.iter().map(|v| 2.0 * v).collect();
            assert_eq!(c, twice);
        }
    }

    #[test]
    fn empty_inner_dimension_zeroes_or_keeps() {
        let mut c = vec![3.0f32; 6];
        let mut dst = MatMut::row_major(&mut c, 2, 3);
        gemm_into(
            &mut dst,
            MatRef::row_major(&[], 2, 0),
            MatRef::row_major(&[], 0, 3),
            true,
            false,
        );
        assert_eq!(c, vec![3.0; 6]);
        let mut dst = MatMut::row_major(&mut c, 2, 3);
        gemm_into(
            &mut dst,
            MatRef::row_major(&[], 2, 0),
            MatRef::row_major(&[], 0, 3),
            false,
            false,
        );
        assert_eq!(c, vec![0.0; 6]);
    }

    #[test]
    #[should_panic(expected = "overruns")]
    fn overrun_is_caught() {
        let a = vec![1.0f32; 5];
        let b = vec![1.0f32; 6];
        let mut c = vec![0.0f32; 6];
        let mut dst = MatMut::row_major(&mut c, 2, 3);
        gemm_into(
            &mut dst,
            MatRef::row_major(&a, 2, 3),
            MatRef::row_major(&b, 3, 3),
            false,
            false,
        );
    }
}
