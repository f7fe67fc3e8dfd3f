//! The `Tensor` type: shared storage plus a [`Layout`].
//!
//! Cloning a tensor or taking a view never copies data; the storage is an `Arc<Vec<T>>`.
//! Mutation goes through [`Tensor::data_mut`], which copies only if the storage is shared or
//! the view is not contiguous (copy-on-write), so optimizers can update parameters in place.

use std::borrow::Cow;
use std::fmt;
use std::sync::Arc;

use rayon::prelude::*;

use crate::element::Element;
use crate::error::{Result, TensorError};
use crate::layout::{Layout, numel};

/// Work (elements) below which elementwise kernels stay on one thread: spawning rayon tasks
/// for a few thousand floats costs more than it saves.
pub(crate) const PARALLEL_THRESHOLD: usize = 1 << 15;
/// Chunk length for parallel elementwise loops; large enough to amortise task overhead.
pub(crate) const PARALLEL_CHUNK: usize = 1 << 14;

/// A strided n-dimensional array of `f32` (default) or `f64`.
#[derive(Clone)]
pub struct Tensor<T: Element = f32> {
    pub(crate) storage: Arc<Vec<T>>,
    pub(crate) layout: Layout,
}

impl<T: Element> Tensor<T> {
    /// Wraps a row-major buffer; its length must equal the product of `shape`.
    pub fn from_vec(data: Vec<T>, shape: &[usize]) -> Result<Self> {
        let expected = numel(shape);
        if data.len() != expected {
            return Err(TensorError::Length {
                op: "from_vec",
                len: data.len(),
                shape: shape.to_vec(),
                expected,
            });
        }
        Ok(Self::from_parts(Arc::new(data), Layout::contiguous(shape)))
    }

    /// Copies a row-major slice into a new tensor.
    pub fn from_slice(data: &[T], shape: &[usize]) -> Result<Self> {
        Self::from_vec(data.to_vec(), shape)
    }

    pub(crate) fn from_parts(storage: Arc<Vec<T>>, layout: Layout) -> Self {
        debug_assert!(layout.storage_extent() <= storage.len());
        Tensor { storage, layout }
    }

    /// A contiguous tensor over a kernel's output buffer, which the kernel sized from `shape`
    /// (checked in debug builds; safe either way, since every access is bounds-checked).
    pub(crate) fn from_kernel(data: Vec<T>, shape: &[usize]) -> Self {
        debug_assert_eq!(data.len(), shape.iter().product::<usize>());
        Self::from_parts(Arc::new(data), Layout::contiguous(shape))
    }

    /// The buffer itself, when this tensor is its only owner (views and clones share it).
    pub(crate) fn into_unique_buffer(self) -> Option<Vec<T>> {
        Arc::try_unwrap(self.storage).ok()
    }

    /// A rank-0 tensor holding one value.
    pub fn scalar(value: T) -> Self {
        Self::from_parts(Arc::new(vec![value]), Layout::contiguous(&[]))
    }

    /// A tensor filled with `value`.
    pub fn full(shape: &[usize], value: T) -> Self {
        Self::from_parts(
            Arc::new(crate::buffers::filled(numel(shape), value)),
            Layout::contiguous(shape),
        )
    }

    /// A tensor of `shape` filled with zeros.
    pub fn zeros(shape: &[usize]) -> Self {
        Self::full(shape, T::zero())
    }

    /// A tensor of `shape` filled with ones.
    pub fn ones(shape: &[usize]) -> Self {
        Self::full(shape, T::one())
    }

    /// `0, 1, …, n − 1` as a 1-D tensor.
    pub fn arange(n: usize) -> Self {
        Self::from_parts(
            Arc::new((0..n).map(T::of_usize).collect()),
            Layout::contiguous(&[n]),
        )
    }

    /// `start, start + step, …` up to but excluding `end`.
    pub fn arange_step(start: f64, end: f64, step: f64) -> Result<Self> {
        if step == 0.0 || !step.is_finite() || !start.is_finite() || !end.is_finite() {
            return Err(TensorError::invalid(
                "arange",
                format!(
                    "start {start}, end {end}, step {step}: need finite values and a non-zero step"
                ),
            ));
        }
        let n = ((end - start) / step).ceil().max(0.0) as usize;
        let data = (0..n).map(|i| T::of_f64(start + step * i as f64)).collect();
        Self::from_vec(data, &[n])
    }

    /// Builds a tensor by calling `f` with each row-major flat index.
    pub fn from_fn(shape: &[usize], f: impl FnMut(usize) -> T) -> Self {
        let data = (0..numel(shape)).map(f).collect();
        Self::from_parts(Arc::new(data), Layout::contiguous(shape))
    }

    // ---- accessors -------------------------------------------------------------------------

    /// The size of each axis, outermost first (empty for a scalar).
    pub fn shape(&self) -> &[usize] {
        self.layout.shape()
    }
    /// Storage step of each axis, in elements (0 on a broadcast axis); a view's strides
    /// need not be row-major.
    pub fn strides(&self) -> &[usize] {
        self.layout.strides()
    }
    /// Shape, strides and offset of this view into its storage.
    pub fn layout(&self) -> &Layout {
        &self.layout
    }
    /// The number of axes (0 for a scalar).
    pub fn rank(&self) -> usize {
        self.layout.rank()
    }
    /// Number of logical elements, the product of the shape (1 for a scalar).
    pub fn numel(&self) -> usize {
        self.layout.numel()
    }
    /// True when the view is row-major with no gaps, so [`Self::as_slice`] succeeds and
    /// [`Self::data`] borrows rather than copies.
    pub fn is_contiguous(&self) -> bool {
        self.layout.is_contiguous()
    }

    /// Size of one axis, or an error naming the shape.
    pub fn dim(&self, axis: usize) -> Result<usize> {
        self.shape()
            .get(axis)
            .copied()
            .ok_or_else(|| TensorError::Axis {
                op: "dim",
                axis: axis as isize,
                shape: self.shape().to_vec(),
            })
    }

    /// True when both tensors view the same storage buffer (a view, not a copy).
    pub fn shares_storage_with(&self, other: &Tensor<T>) -> bool {
        Arc::ptr_eq(&self.storage, &other.storage)
    }

    /// The elements as a slice, when the view is contiguous.
    pub fn as_slice(&self) -> Option<&[T]> {
        self.is_contiguous()
            .then(|| &self.storage[self.layout.offset()..self.layout.offset() + self.numel()])
    }

    /// The elements in row-major order: borrowed when contiguous, copied otherwise.
    pub fn data(&self) -> Cow<'_, [T]> {
        match self.as_slice() {
            Some(s) => Cow::Borrowed(s),
            None => Cow::Owned(self.gather_strided()),
        }
    }

    /// The elements in row-major order as a new `Vec`.
    pub fn to_vec(&self) -> Vec<T> {
        self.data().into_owned()
    }

    /// The elements widened to f64, row-major (convenient in tests and reports).
    pub fn to_f64_vec(&self) -> Vec<f64> {
        self.data().iter().map(|v| v.as_f64()).collect()
    }

    /// The value at a multi-index.
    pub fn get(&self, index: &[usize]) -> Result<T> {
        Ok(self.storage[self.layout.offset_of(index)?])
    }

    /// The single value of a tensor with one element (any rank).
    pub fn item(&self) -> Result<T> {
        if self.numel() != 1 {
            return Err(TensorError::shape(
                "item",
                format!(
                    "tensor of shape {:?} has {} elements, not 1",
                    self.shape(),
                    self.numel()
                ),
            ));
        }
        Ok(self.storage[self.layout.offset()])
    }

    /// A contiguous tensor with the same values: `self` (no copy) if already contiguous.
    pub fn contiguous(&self) -> Tensor<T> {
        if self.is_contiguous() {
            self.clone()
        } else {
            let shape = self.shape().to_vec();
            Self::from_parts(Arc::new(self.gather_strided()), Layout::contiguous(&shape))
        }
    }

    /// The values of `self` laid out in memory the way `like` is: `like`'s shape, strides and
    /// offset over a fresh buffer as long as `like`'s storage. Gradient checks feed perturbed
    /// values this way, so they take the same strided code paths as the original feed.
    ///
    /// `None` when the shapes differ, or when `like` addresses one element from several
    /// indices (a broadcast view), where no tensor of that layout holds distinct values.
    pub fn laid_out_like(&self, like: &Tensor<T>) -> Option<Tensor<T>> {
        if self.shape() != like.shape() {
            return None;
        }
        if like.is_contiguous() {
            return Some(self.contiguous());
        }
        let offsets: Vec<usize> = like.layout.offsets().collect();
        let mut sorted = offsets.clone();
        sorted.sort_unstable();
        if sorted.windows(2).any(|w| w[0] == w[1]) {
            return None;
        }
        let mut storage = vec![T::zero(); like.storage.len()];
        for (&at, &v) in offsets.iter().zip(self.data().iter()) {
            storage[at] = v;
        }
        Some(Self::from_parts(Arc::new(storage), like.layout.clone()))
    }

    /// Copies a strided view into a row-major `Vec`, row by row.
    fn gather_strided(&self) -> Vec<T> {
        // Not from the run pool: rules gather temporaries they drop themselves, which would
        // drain the pool of a length it then allocates again every run.
        let mut out = Vec::with_capacity(self.numel());
        let last = self.shape().last().copied().unwrap_or(1);
        let step = self.strides().last().copied().unwrap_or(1);
        let src = &self.storage[..];
        self.layout.for_each_row(|start| match step {
            1 => out.extend_from_slice(&src[start..start + last]),
            // A broadcast row (a per-channel value expanded over W) is one value repeated:
            // a fill, not an indexed gather.
            0 => out.resize(out.len() + last, src[start]),
            _ => out.extend((0..last).map(|i| src[start + i * step])),
        });
        out
    }

    /// Mutable access to the elements in row-major order.
    ///
    /// Copies first if the storage is shared with another tensor or the view is not a
    /// contiguous view of the whole buffer, so writes never leak into other tensors.
    pub fn data_mut(&mut self) -> &mut [T] {
        let whole =
            self.is_contiguous() && self.layout.offset() == 0 && self.numel() == self.storage.len();
        if !whole {
            let shape = self.shape().to_vec();
            *self = Self::from_parts(Arc::new(self.to_vec()), Layout::contiguous(&shape));
        }
        Arc::make_mut(&mut self.storage).as_mut_slice()
    }

    /// Casts to another element type.
    pub fn cast<U: Element>(&self) -> Tensor<U> {
        let data = self.data().iter().map(|v| U::of_f64(v.as_f64())).collect();
        Tensor::from_parts(Arc::new(data), Layout::contiguous(self.shape()))
    }

    /// Applies `f` to every element, producing a contiguous tensor (parallel when large).
    pub fn map(&self, f: impl Fn(T) -> T + Sync + Send) -> Tensor<T> {
        let src = self.data();
        // `collect_into_vec` fills the reserved capacity of a pooled buffer in place.
        let mut out = crate::buffers::uninit(src.len());
        if src.len() >= PARALLEL_THRESHOLD {
            src.par_iter()
                .with_min_len(PARALLEL_CHUNK)
                .map(|&v| f(v))
                .collect_into_vec(&mut out);
        } else {
            out.extend(src.iter().map(|&v| f(v)));
        }
        Tensor::from_parts(Arc::new(out), Layout::contiguous(self.shape()))
    }

    /// Applies `f` to every element in place.
    pub fn map_inplace(&mut self, f: impl Fn(T) -> T + Sync + Send) {
        let data = self.data_mut();
        if data.len() >= PARALLEL_THRESHOLD {
            data.par_chunks_mut(PARALLEL_CHUNK)
                .for_each(|c| c.iter_mut().for_each(|v| *v = f(*v)));
        } else {
            data.iter_mut().for_each(|v| *v = f(*v));
        }
    }

    /// True when every element is finite (no NaN or infinity).
    pub fn all_finite(&self) -> bool {
        self.data().iter().all(|v| v.is_finite())
    }

    /// Largest absolute difference to another tensor of the same shape.
    pub fn max_abs_diff(&self, other: &Tensor<T>) -> Result<f64> {
        if self.shape() != other.shape() {
            return Err(TensorError::shape(
                "max_abs_diff",
                format!("{:?} vs {:?}: shapes differ", self.shape(), other.shape()),
            ));
        }
        Ok(self
            .data()
            .iter()
            .zip(other.data().iter())
            .map(|(a, b)| (a.as_f64() - b.as_f64()).abs())
            .fold(0.0, f64::max))
    }
}

impl<T: Element> fmt::Debug for Tensor<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        const SHOWN: usize = 8;
        let data = self.data();
        write!(f, "Tensor<{}>{:?} [", T::DTYPE, self.shape())?;
        for (i, v) in data.iter().take(SHOWN).enumerate() {
            if i > 0 {
                write!(f, ", ")?;
            }
            write!(f, "{v}")?;
        }
        if data.len() > SHOWN {
            write!(f, ", … ({} more)", data.len() - SHOWN)?;
        }
        write!(f, "]")
    }
}

impl<T: Element> PartialEq for Tensor<T> {
    /// Same shape and same values (NaN ≠ NaN), regardless of strides.
    fn eq(&self, other: &Self) -> bool {
        self.shape() == other.shape() && self.data() == other.data()
    }
}
