//! The scalar types a tensor can hold.
//!
//! Kernels are generic over [`Element`] rather than switching on a runtime dtype, so every
//! kernel exists once and f64 (what gradient checks run in) costs no extra code.

use std::fmt::{Debug, Display};

use num_traits::{Float, NumAssign};

/// Which concrete element type a tensor holds; used in error messages and feed checks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DType {
    /// 32-bit IEEE 754 `f32`, the default element type of [`Tensor`](crate::Tensor).
    F32,
    /// 64-bit IEEE 754 `f64`, what gradient checks run in.
    F64,
}

impl Display for DType {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            DType::F32 => "f32",
            DType::F64 => "f64",
        })
    }
}

mod sealed {
    pub trait Sealed {}
    impl Sealed for f32 {}
    impl Sealed for f64 {}
}

/// A floating-point element type: `f32` or `f64`.
///
/// Sealed: the GEMM dispatch and the tolerance tables assume exactly these two.
pub trait Element:
    Float + NumAssign + Default + Debug + Display + Send + Sync + 'static + sealed::Sealed
{
    /// The [`DType`] tag naming this type at run time.
    const DTYPE: DType;
    /// Converts from f64, rounding to the nearest representable value.
    fn of_f64(v: f64) -> Self;
    /// Widens to f64 (exact for both element types).
    fn as_f64(self) -> f64;
    /// Converts a count (e.g. a divisor for a mean) to this type.
    fn of_usize(n: usize) -> Self {
        Self::of_f64(n as f64)
    }
    /// The slice itself when `Self` is `f32`: lets generic kernels hand f32 data to
    /// f32-only SIMD paths without `unsafe` casts.
    fn f32_slice(s: &[Self]) -> Option<&[f32]> {
        let _ = s;
        None
    }
    /// Mutable form of [`Element::f32_slice`].
    fn f32_slice_mut(s: &mut [Self]) -> Option<&mut [f32]> {
        let _ = s;
        None
    }
    /// This type's per-thread slot for an installed [`crate::buffers::BufferPool`].
    #[doc(hidden)]
    fn pool_slot() -> &'static std::thread::LocalKey<crate::buffers::PoolSlot<Self>>;
    /// This type's process-wide scratch cache ([`crate::buffers::ScratchBuf`]).
    #[doc(hidden)]
    fn scratch_cache() -> &'static std::sync::Mutex<crate::buffers::ScratchCache<Self>>;
}

impl Element for f32 {
    const DTYPE: DType = DType::F32;
    fn pool_slot() -> &'static std::thread::LocalKey<crate::buffers::PoolSlot<Self>> {
        &crate::buffers::F32_POOL
    }
    fn scratch_cache() -> &'static std::sync::Mutex<crate::buffers::ScratchCache<Self>> {
        &crate::buffers::F32_SCRATCH
    }
    fn f32_slice(s: &[Self]) -> Option<&[f32]> {
        Some(s)
    }
    fn f32_slice_mut(s: &mut [Self]) -> Option<&mut [f32]> {
        Some(s)
    }
    #[inline(always)]
    fn of_f64(v: f64) -> Self {
        v as f32
    }
    #[inline(always)]
    fn as_f64(self) -> f64 {
        self as f64
    }
}

impl Element for f64 {
    const DTYPE: DType = DType::F64;
    fn pool_slot() -> &'static std::thread::LocalKey<crate::buffers::PoolSlot<Self>> {
        &crate::buffers::F64_POOL
    }
    fn scratch_cache() -> &'static std::sync::Mutex<crate::buffers::ScratchCache<Self>> {
        &crate::buffers::F64_SCRATCH
    }
    #[inline(always)]
    fn of_f64(v: f64) -> Self {
        v
    }
    #[inline(always)]
    fn as_f64(self) -> f64 {
        self
    }
}
