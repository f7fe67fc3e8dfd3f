//! A safe, bounds-checked front end to the `gemm` crate.
//!
//! `gemm::gemm` takes raw pointers and arbitrary strides; this wrapper takes slices plus
//! strides, proves that every addressed element lies inside its slice (O(1) arithmetic, so
//! the check stays on in release builds — that is what makes the wrapper sound), and picks
//! the parallelism. Convolution and matmul both go through here.

use super::bf16::{self, Bf16Kernel};
use crate::element::Element;
use crate::precision::Precision;

/// A read-only strided matrix view into a slice: element `(i, j)` is
/// `data[i * rs + j * cs]`.
#[derive(Debug, Clone, Copy)]
pub struct MatRef<'a, T> {
    /// The backing slice; element `(0, 0)` is `data[0]`.
    pub data: &'a [T],
    /// Number of rows.
    pub rows: usize,
    /// Number of columns.
    pub cols: usize,
    /// Row stride, in elements: the distance in `data` from `(i, j)` to `(i + 1, j)`.
    pub rs: usize,
    /// Column stride, in elements: the distance in `data` from `(i, j)` to `(i, j + 1)`.
    pub cs: usize,
}

/// A mutable strided matrix view; same addressing as [`MatRef`].
#[derive(Debug)]
pub struct MatMut<'a, T> {
    /// The backing slice; element `(0, 0)` is `data[0]`.
    pub data: &'a mut [T],
    /// Number of rows.
    pub rows: usize,
    /// Number of columns.
    pub cols: usize,
    /// Row stride, in elements: the distance in `data` from `(i, j)` to `(i + 1, j)`.
    pub rs: usize,
    /// Column stride, in elements: the distance in `data` from `(i, j)` to `(i, j + 1)`.
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

    /// The same view over another slice (of another element type).
    pub(crate) fn with_data<U>(self, data: &'a [U]) -> MatRef<'a, U> {
        MatRef {
            data,
            rows: self.rows,
            cols: self.cols,
            rs: self.rs,
            cs: self.cs,
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
/// `len` elements, and both strides fit in `isize` (the raw call takes them as `isize`; a
/// larger one would become negative, even on a dimension of 1 where it is never multiplied
/// by more than zero). This is the bounds half of the soundness argument for `gemm::gemm`.
fn assert_fits(what: &str, len: usize, rows: usize, cols: usize, rs: usize, cs: usize) {
    assert!(
        rs <= isize::MAX as usize && cs <= isize::MAX as usize,
        "gemm_into: {what} view {rows}×{cols} has strides ({rs}, {cs}) beyond isize::MAX"
    );
    if rows == 0 || cols == 0 {
        return;
    }
    let last = (rows - 1)
        .checked_mul(rs)
        .and_then(|a| (cols - 1).checked_mul(cs).and_then(|b| a.checked_add(b)));
    assert!(
        matches!(last, Some(l) if l < len),
        "gemm_into: {what} view {rows}×{cols} with strides ({rs}, {cs}) overruns {len} elements"
    );
}

/// Panics unless distinct `(i, j)` of a `rows × cols` view with strides `(rs, cs)` address
/// distinct elements. This is the aliasing half of the soundness argument: the parallel GEMM
/// writes different output elements from different threads, so two indices sharing one
/// element would be a data race (and, serially, a wrong sum).
///
/// The test is the usual sufficient one for strided layouts: ignoring dimensions of extent 1,
/// the inner (smaller-stride) dimension's whole span must fit strictly inside one step of the
/// outer stride. It rejects a few exotic interleaved layouts that happen to be injective, never
/// an overlapping one.
fn assert_no_overlap(rows: usize, cols: usize, rs: usize, cs: usize) {
    if rows <= 1 || cols <= 1 {
        let (n, s) = if rows <= 1 { (cols, cs) } else { (rows, rs) };
        assert!(
            n <= 1 || s > 0,
            "gemm_into: dst view {rows}×{cols} with strides ({rs}, {cs}) writes one element \
             from several indices"
        );
        return;
    }
    let ((n_in, s_in), s_out) = if cs <= rs {
        ((cols, cs), rs)
    } else {
        ((rows, rs), cs)
    };
    // The inner dimension spans (n_in − 1)·s_in + 1 elements; it must end before s_out.
    // assert_fits already proved (n_in − 1)·s_in does not overflow.
    assert!(
        s_in > 0 && (n_in - 1) * s_in < s_out,
        "gemm_into: dst view {rows}×{cols} with strides ({rs}, {cs}) writes one element from \
         several indices"
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
    gemm_into_with(dst, lhs, rhs, accumulate, parallel, Precision::F32);
}

/// [`gemm_into`] at a [`Precision`]: with [`Precision::Bf16`] an `f32` product runs on the
/// machine's bf16 kernel where it has one (operands rounded to bf16, `f32` accumulation);
/// `f64` products and machines without bf16 units run in full precision.
///
/// # Panics
/// As [`gemm_into`].
pub fn gemm_into_with<T: Element>(
    dst: &mut MatMut<'_, T>,
    lhs: MatRef<'_, T>,
    rhs: MatRef<'_, T>,
    accumulate: bool,
    parallel: bool,
    precision: Precision,
) {
    if !check_and_handle_empty(dst, lhs, rhs, accumulate) {
        return;
    }
    if let Some(kernel) = precision.bf16_kernel()
        && bf16_pays(kernel, dst.rows, dst.cols, lhs.cols)
        && let (Some(l), Some(r)) = (T::f32_slice(lhs.data), T::f32_slice(rhs.data))
    {
        let (rows, cols, rs, cs) = (dst.rows, dst.cols, dst.rs, dst.cs);
        if let Some(d) = T::f32_slice_mut(dst.data) {
            let mut d = MatMut {
                data: d,
                rows,
                cols,
                rs,
                cs,
            };
            bf16::gemm(
                &mut d,
                lhs.with_data(l),
                rhs.with_data(r),
                accumulate,
                parallel,
                kernel,
            );
            return;
        }
    }
    f32_or_f64(dst, lhs, rhs, accumulate, parallel);
}

/// On AVX512-BF16 without AMX, `vdpbf16ps` at best doubles the f32 FMA rate, and packing
/// both operands to bf16 on every call eats that on thin products: ResNet-18's batch-1
/// inference took 10.5–11.9 ms in bf16 against 5.8 in f32 (Zen 5, 2 threads) until products
/// with fewer than this many rows or columns of output stayed f32 (6.1–6.7 ms after;
/// batch-32 training unchanged).
const AVX512_BF16_MIN_SIDE: usize = 128;

/// Whether an `m × n × k` product is worth the bf16 path on `kernel`: its tiles pad every
/// dimension to 32, and packing costs a pass over both operands, so thin or small products
/// (LeNet's 6-channel layers: 5× slower measured) stay in f32; on AVX512-BF16 alone, see
/// `AVX512_BF16_MIN_SIDE`.
pub fn bf16_pays(kernel: Bf16Kernel, m: usize, n: usize, k: usize) -> bool {
    let min_side = match kernel {
        Bf16Kernel::Amx => 16,
        Bf16Kernel::Avx512Bf16 => AVX512_BF16_MIN_SIDE,
    };
    m >= min_side
        && n >= min_side
        && k >= 32
        && m.saturating_mul(n).saturating_mul(k) >= PARALLEL_MIN_MACS
}

/// `dst (+)= lhs · rhs` on a chosen bf16 kernel (tests and benchmarks compare the kernels with
/// this), or why that kernel cannot run here.
///
/// # Panics
/// As [`gemm_into`].
pub fn gemm_into_bf16(
    dst: &mut MatMut<'_, f32>,
    lhs: MatRef<'_, f32>,
    rhs: MatRef<'_, f32>,
    accumulate: bool,
    parallel: bool,
    kernel: Bf16Kernel,
) -> Result<(), &'static str> {
    bf16::support(kernel)?;
    if check_and_handle_empty(dst, lhs, rhs, accumulate) {
        bf16::gemm(dst, lhs, rhs, accumulate, parallel, kernel);
    }
    Ok(())
}

/// Checks the dimensions and proves the views sound (panicking on a caller bug); finishes
/// the empty cases itself. `true` when a real product remains to be computed.
fn check_and_handle_empty<T: Element>(
    dst: &mut MatMut<'_, T>,
    lhs: MatRef<'_, T>,
    rhs: MatRef<'_, T>,
    accumulate: bool,
) -> bool {
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
    assert_no_overlap(m, n, dst.rs, dst.cs);
    assert_fits("lhs", lhs.data.len(), m, k, lhs.rs, lhs.cs);
    assert_fits("rhs", rhs.data.len(), k, n, rhs.rs, rhs.cs);
    if m == 0 || n == 0 {
        return false;
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
        return false;
    }
    true
}

/// The `gemm` crate's product, for views `check_and_handle_empty` accepted with `k > 0`.
fn f32_or_f64<T: Element>(
    dst: &mut MatMut<'_, T>,
    lhs: MatRef<'_, T>,
    rhs: MatRef<'_, T>,
    accumulate: bool,
    parallel: bool,
) {
    let (m, n, k) = (dst.rows, dst.cols, lhs.cols);
    let threads = rayon::current_num_threads();
    let macs = m.saturating_mul(n).saturating_mul(k);
    let parallelism = if parallel && threads > 1 && macs >= PARALLEL_MIN_MACS {
        gemm::Parallelism::Rayon(threads)
    } else {
        gemm::Parallelism::None
    };
    // SAFETY: `check_and_handle_empty` (through `assert_fits`) proved every addressed element of each operand lies inside its
    // slice, that offsets and strides fit in isize, and m, n, k > 0 here, so no operand
    // pointer is dangling; `assert_no_overlap` proved distinct output indices address
    // distinct elements, so the threads of a parallel product write disjoint elements; `dst`
    // is a unique borrow, so it cannot alias `lhs` or `rhs`; `T` is f32 or f64, which `gemm`
    // dispatches on.
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

    fn run_dst(len: usize, rows: usize, cols: usize, rs: usize, cs: usize) {
        let a = vec![1.0f32; rows * 2];
        let b = vec![1.0f32; 2 * cols];
        let mut c = vec![0.0f32; len];
        let mut dst = MatMut {
            data: &mut c,
            rows,
            cols,
            rs,
            cs,
        };
        gemm_into(
            &mut dst,
            MatRef::row_major(&a, rows, 2),
            MatRef::row_major(&b, 2, cols),
            false,
            true,
        );
    }

    #[test]
    #[should_panic(expected = "writes one element from several indices")]
    fn a_destination_with_row_stride_zero_is_refused() {
        // 64 × 64 over 64 elements: every row is the same row, written by several threads.
        run_dst(64, 64, 64, 0, 1);
    }

    #[test]
    #[should_panic(expected = "writes one element from several indices")]
    fn a_destination_whose_rows_interleave_is_refused() {
        // Row i starts at 8·i but spans 16 elements: rows overlap their neighbours.
        run_dst(8 * 63 + 16, 64, 16, 8, 1);
    }

    #[test]
    #[should_panic(expected = "writes one element from several indices")]
    fn a_destination_with_column_stride_zero_is_refused() {
        run_dst(64, 1, 64, 64, 0);
    }

    #[test]
    #[should_panic(expected = "beyond isize::MAX")]
    fn a_stride_beyond_isize_is_refused_even_on_a_dimension_of_one() {
        run_dst(64, 1, 64, usize::MAX, 1);
    }

    #[test]
    fn disjoint_strided_destinations_are_accepted() {
        // Column-major, padded rows, and a single row or column with any stride.
        run_dst(64 * 64, 64, 64, 1, 64);
        run_dst(64 * 80, 64, 64, 80, 1);
        run_dst(1, 1, 1, 0, 0);
        run_dst(64 * 3, 1, 64, 0, 3);
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
