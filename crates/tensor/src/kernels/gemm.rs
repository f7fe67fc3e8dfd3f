//! The one place convnet calls the `gemm` crate.
//!
//! `gemm` is unsafe (raw pointers and strides); this wrapper checks that every element the
//! product will touch lies inside the slices it was given, so callers stay safe. The `gemm`
//! crate picks AVX-512 / AVX2 / SSE micro-kernels at run time (feature `x86-v4`), so binaries
//! run on any x86-64.

use crate::element::Element;

/// A strided matrix operand inside a slice.
#[derive(Debug, Clone, Copy)]
pub struct GemmOperand<'a, T> {
    pub data: &'a [T],
    pub offset: usize,
    pub row_stride: usize,
    pub col_stride: usize,
}

impl<T> GemmOperand<'_, T> {
    /// True when a `rows × cols` matrix at this offset and these strides fits in `data`.
    fn fits(&self, rows: usize, cols: usize) -> bool {
        rows == 0
            || cols == 0
            || self.offset + (rows - 1) * self.row_stride + (cols - 1) * self.col_stride
                < self.data.len()
    }
}

/// Below this many multiply-adds a product runs on one thread even when `parallel` is asked
/// for: the threads would spend longer synchronising than computing.
const PARALLEL_MIN_WORK: usize = 64 * 64 * 64;

/// `dst[m×n] (+)= lhs[m×k] · rhs[k×n]`, with `dst` row-major and contiguous.
///
/// With `accumulate` the product is added to `dst`; otherwise `dst` is overwritten.
#[allow(clippy::too_many_arguments)]
pub fn gemm_into<T: Element>(
    m: usize,
    n: usize,
    k: usize,
    dst: &mut [T],
    accumulate: bool,
    lhs: GemmOperand<'_, T>,
    rhs: GemmOperand<'_, T>,
    parallel: bool,
) {
    assert!(
        dst.len() >= m * n,
        "gemm_into: dst has {} elements, needs {m}×{n}",
        dst.len()
    );
    assert!(
        lhs.fits(m, k),
        "gemm_into: lhs {m}×{k} does not fit its buffer"
    );
    assert!(
        rhs.fits(k, n),
        "gemm_into: rhs {k}×{n} does not fit its buffer"
    );
    if m == 0 || n == 0 {
        return;
    }
    if k == 0 {
        if !accumulate {
            dst[..m * n].iter_mut().for_each(|v| *v = T::zero());
        }
        return;
    }
    let parallelism =
        if parallel && m * n * k >= PARALLEL_MIN_WORK && rayon::current_num_threads() > 1 {
            gemm::Parallelism::Rayon(rayon::current_num_threads())
        } else {
            gemm::Parallelism::None
        };
    // SAFETY: the asserts above prove every index gemm reads (lhs, rhs) or writes (dst, which
    // is row-major m×n with row stride n) lies inside its slice; `dst` is borrowed mutably, so
    // it cannot alias the shared operands.
    unsafe {
        gemm::gemm(
            m,
            n,
            k,
            dst.as_mut_ptr(),
            1,
            n as isize,
            accumulate,
            lhs.data.as_ptr().add(lhs.offset),
            lhs.col_stride as isize,
            lhs.row_stride as isize,
            rhs.data.as_ptr().add(rhs.offset),
            rhs.col_stride as isize,
            rhs.row_stride as isize,
            T::one(),
            T::one(),
            false,
            false,
            false,
            parallelism,
        );
    }
}
