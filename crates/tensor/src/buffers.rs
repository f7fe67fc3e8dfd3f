//! Recycled buffers: the run-time side of a plan's arena.
//!
//! A training step runs the same plan with the same shapes every time, so the buffers one step
//! frees are exactly the buffers the next step asks for. A [`BufferPool`] keeps freed buffers
//! by length; kernels ask for their outputs and scratch through [`zeroed`] and [`uninit`],
//! which hand out a pooled buffer of that length when one is free. Reused memory is already
//! mapped and often still in cache, where a fresh allocation of a multi-megabyte buffer faults
//! its pages in (the kernel zeroes each one) and then zeroes it again.
//!
//! The pool is *installed* on the thread that runs a plan ([`install`]) for the length of the
//! run; the executor gives each intermediate back ([`recycle`], [`Tensor::recycle`]) after its
//! last reader. With no pool installed — a tensor op called directly, or a kernel's worker
//! thread — every request is a plain allocation, so the pool only ever changes where memory
//! comes from, never what a kernel computes.
//!
//! Keyed by exact length and trimmed after each run to what the run asked for
//! ([`BufferPool::trim`]), the pool holds about what a size-keyed free list of the plan would
//! (its `arena_bytes`).
//!
//! Kernel temporaries (im2col columns, Winograd's transformed tiles, partial sums) live only
//! for one call, often on worker threads, and go to a separate process-wide cache instead
//! ([`ScratchBuf`]), capped at [`SCRATCH_CACHE_BYTES`].

use std::cell::RefCell;
use std::collections::HashMap;
use std::sync::Mutex;
use std::thread::LocalKey;

use crate::element::Element;
use crate::tensor::Tensor;

/// What a pool handed out and took back, since it was made.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PoolStats {
    /// Requests served with a pooled buffer.
    pub reused: u64,
    /// Requests that allocated, no buffer of that length being free.
    pub allocated: u64,
    /// Buffers given back.
    pub returned: u64,
}

/// Free buffers, by length.
#[derive(Debug)]
pub struct BufferPool<T> {
    free: HashMap<usize, Vec<Vec<T>>>,
    /// Requests per length since the last [`BufferPool::trim`].
    asked: HashMap<usize, usize>,
    stats: PoolStats,
}

impl<T> Default for BufferPool<T> {
    fn default() -> Self {
        BufferPool {
            free: HashMap::new(),
            asked: HashMap::new(),
            stats: PoolStats::default(),
        }
    }
}

impl<T: Element> BufferPool<T> {
    /// An empty pool.
    pub fn new() -> Self {
        Self::default()
    }

    /// Counts of what the pool served and took back.
    pub fn stats(&self) -> PoolStats {
        self.stats
    }

    /// Bytes of the buffers now free in the pool.
    pub fn free_bytes(&self) -> usize {
        self.free
            .iter()
            .map(|(len, bufs)| len * bufs.len() * size_of::<T>())
            .sum()
    }

    /// A free buffer of exactly `len` elements (its contents are stale), counted as reused, or
    /// `None`, counted as an allocation the caller makes.
    fn pop(&mut self, len: usize) -> Option<Vec<T>> {
        *self.asked.entry(len).or_default() += 1;
        let got = self.free.get_mut(&len).and_then(Vec::pop);
        match got {
            Some(_) => self.stats.reused += 1,
            None => self.stats.allocated += 1,
        }
        got
    }

    fn push(&mut self, buf: Vec<T>) {
        self.stats.returned += 1;
        self.free.entry(buf.len()).or_default().push(buf);
    }

    /// Keeps, of each length, no more buffers than were asked for since the last trim, and
    /// starts counting again. Called after each run of a plan: a buffer whose length nothing
    /// asked for (made by a kernel that allocates for itself) would otherwise pile up, one
    /// more every run.
    pub fn trim(&mut self) {
        let asked = std::mem::take(&mut self.asked);
        self.free.retain(|len, bufs| {
            bufs.truncate(asked.get(len).copied().unwrap_or(0));
            !bufs.is_empty()
        });
    }

    /// Moves every free buffer of `other` into this pool and adds its counts.
    pub fn absorb(&mut self, other: BufferPool<T>) {
        for (len, bufs) in other.free {
            self.free.entry(len).or_default().extend(bufs);
        }
        for (len, n) in other.asked {
            *self.asked.entry(len).or_default() += n;
        }
        self.stats.reused += other.stats.reused;
        self.stats.allocated += other.stats.allocated;
        self.stats.returned += other.stats.returned;
    }
}

/// The per-thread slot a run's pool is installed in; one per element type.
pub type PoolSlot<T> = RefCell<Option<BufferPool<T>>>;

/// The most scratch memory kept between kernel calls, over all threads; a buffer given back
/// beyond it is freed. Scratch lengths follow the layer shapes (a ResNet-18 step uses a few
/// dozen, up to a few MiB each), so this holds a network's working set without growing
/// with odd shapes.
pub const SCRATCH_CACHE_BYTES: usize = 256 << 20;

thread_local! {
    pub(crate) static F32_POOL: PoolSlot<f32> = const { RefCell::new(None) };
    pub(crate) static F64_POOL: PoolSlot<f64> = const { RefCell::new(None) };
}

/// The process's scratch cache for one element type: one for all threads, because a kernel's
/// workers make scratch that the calling thread often drops (partial sums collected from a
/// parallel map).
pub(crate) static F32_SCRATCH: Mutex<ScratchCache<f32>> = Mutex::new(ScratchCache::new());
pub(crate) static F64_SCRATCH: Mutex<ScratchCache<f64>> = Mutex::new(ScratchCache::new());

/// Free scratch buffers by length, and their total size.
#[derive(Debug)]
pub struct ScratchCache<T> {
    free: Vec<Vec<T>>,
    bytes: usize,
}

impl<T: Element> ScratchCache<T> {
    const fn new() -> Self {
        ScratchCache {
            free: Vec::new(),
            bytes: 0,
        }
    }

    fn take(&mut self, len: usize) -> Option<Vec<T>> {
        // Few distinct lengths are live at once: a linear search beats hashing here and
        // keeps the cache a plain `static`.
        let i = self.free.iter().rposition(|b| b.len() == len)?;
        self.bytes -= len * size_of::<T>();
        Some(self.free.swap_remove(i))
    }

    fn give(&mut self, buf: Vec<T>) {
        let bytes = buf.len() * size_of::<T>();
        if self.bytes + bytes <= SCRATCH_CACHE_BYTES {
            self.bytes += bytes;
            self.free.push(buf);
        }
    }
}

fn scratch_cache<T: Element>() -> std::sync::MutexGuard<'static, ScratchCache<T>> {
    // A panic while holding the lock leaves a list of plain buffers: still usable.
    T::scratch_cache().lock().unwrap_or_else(|e| e.into_inner())
}

fn slot<T: Element>() -> &'static LocalKey<PoolSlot<T>> {
    T::pool_slot()
}

/// Installs `pool` on this thread until the guard is finished or dropped; a pool installed
/// before is set aside and put back then, so runs may nest.
pub fn install<T: Element>(pool: BufferPool<T>) -> PoolGuard<T> {
    let previous = slot::<T>().with(|s| s.borrow_mut().replace(pool));
    PoolGuard {
        previous: Some(previous),
        _not_send: std::marker::PhantomData,
    }
}

/// Holds a pool installed on this thread; [`PoolGuard::finish`] takes it back out.
#[derive(Debug)]
#[must_use = "dropping the guard at once uninstalls the pool"]
pub struct PoolGuard<T: Element> {
    /// What was installed before (`Some` until the guard is finished).
    previous: Option<Option<BufferPool<T>>>,
    /// The pool lives in this thread's slot: the guard must stay on this thread.
    _not_send: std::marker::PhantomData<*const ()>,
}

impl<T: Element> PoolGuard<T> {
    /// Uninstalls the pool and returns it (with what the run gave back to it).
    pub fn finish(mut self) -> BufferPool<T> {
        self.restore().unwrap_or_default()
    }

    fn restore(&mut self) -> Option<BufferPool<T>> {
        let previous = self.previous.take()?;
        slot::<T>().with(|s| std::mem::replace(&mut *s.borrow_mut(), previous))
    }
}

impl<T: Element> Drop for PoolGuard<T> {
    fn drop(&mut self) {
        self.restore();
    }
}

/// `len` elements set to zero: a pooled buffer when one is free, else a new one.
pub fn zeroed<T: Element>(len: usize) -> Vec<T> {
    filled(len, T::zero())
}

/// `len` elements set to `value`: a pooled buffer when one is free, else a new one.
pub fn filled<T: Element>(len: usize, value: T) -> Vec<T> {
    refill(take(len), len, value)
}

/// An empty vector with room for `len` elements, for a kernel that writes every one through
/// `spare_capacity_mut` (a pooled buffer when one is free, so its memory is mapped and warm).
pub fn uninit<T: Element>(len: usize) -> Vec<T> {
    match take(len) {
        Some(mut buf) => {
            buf.clear();
            buf
        }
        None => Vec::with_capacity(len),
    }
}

fn refill<T: Element>(buf: Option<Vec<T>>, len: usize, value: T) -> Vec<T> {
    match buf {
        Some(mut buf) => {
            buf.fill(value);
            buf
        }
        None => vec![value; len],
    }
}

/// A pooled buffer of exactly `len` elements, if a pool is installed and holds one.
fn take<T: Element>(len: usize) -> Option<Vec<T>> {
    if len == 0 {
        return None;
    }
    slot::<T>().with(|s| s.borrow_mut().as_mut().and_then(|p| p.pop(len)))
}

/// Gives `buf` to this thread's pool (dropped when none is installed, or when it is empty).
pub fn recycle<T: Element>(buf: Vec<T>) {
    if buf.is_empty() {
        return;
    }
    slot::<T>().with(|s| {
        if let Some(pool) = s.borrow_mut().as_mut() {
            pool.push(buf);
        }
    });
}

/// Kernel scratch that goes back to the process's scratch cache when dropped (up to
/// [`SCRATCH_CACHE_BYTES`]).
#[derive(Debug)]
pub struct ScratchBuf<T: Element>(Vec<T>);

impl<T: Element> ScratchBuf<T> {
    /// `len` zeros, from this thread's scratch cache when it holds a buffer of that length.
    pub fn zeroed(len: usize) -> Self {
        ScratchBuf(scratch(len))
    }
}

impl<T: Element> std::ops::Deref for ScratchBuf<T> {
    type Target = [T];
    fn deref(&self) -> &[T] {
        &self.0
    }
}

impl<T: Element> std::ops::DerefMut for ScratchBuf<T> {
    fn deref_mut(&mut self) -> &mut [T] {
        &mut self.0
    }
}

impl<T: Element> Drop for ScratchBuf<T> {
    fn drop(&mut self) {
        scratch_done(std::mem::take(&mut self.0));
    }
}

/// Kernel scratch of `len` zeros from the process's scratch cache (any thread, pool installed
/// or not): a kernel's temporaries live only for its call, so its next call, or the next
/// layer's, can have them. [`ScratchBuf`] gives it back when dropped.
fn scratch<T: Element>(len: usize) -> Vec<T> {
    let cached = (len > 0).then(|| scratch_cache::<T>().take(len)).flatten();
    refill(cached, len, T::zero())
}

/// Returns scratch from [`scratch`] to the cache, freeing it instead when the cache already
/// holds [`SCRATCH_CACHE_BYTES`].
fn scratch_done<T: Element>(buf: Vec<T>) {
    if !buf.is_empty() {
        scratch_cache::<T>().give(buf);
    }
}

impl<T: Element> Tensor<T> {
    /// Gives this tensor's buffer to the thread's pool when no other tensor shares it (a view
    /// or a clone keeps it alive, and then it is simply dropped here).
    pub fn recycle(self) {
        if let Some(buf) = self.into_unique_buffer() {
            recycle(buf);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn without_a_pool_every_request_allocates_and_recycling_drops() {
        let v = zeroed::<f32>(8);
        assert_eq!(v, vec![0.0; 8]);
        recycle(v);
        let u = uninit::<f32>(8);
        assert!(u.is_empty() && u.capacity() >= 8);
    }

    #[test]
    fn a_buffer_comes_back_only_at_its_own_length_and_is_refilled() {
        let guard = install(BufferPool::<f32>::new());
        let mut a = zeroed::<f32>(16);
        a.fill(7.0);
        let ptr = a.as_ptr();
        recycle(a);
        // Another length allocates; the same length gets the same memory, zeroed again.
        let other = zeroed::<f32>(15);
        let again = zeroed::<f32>(16);
        assert_eq!(again.as_ptr(), ptr);
        assert_eq!(again, vec![0.0; 16]);
        recycle(again);
        let filled_again = filled::<f32>(16, 2.5);
        assert_eq!(filled_again, vec![2.5; 16]);
        recycle(filled_again);
        let empty = uninit::<f32>(16);
        assert!(empty.is_empty() && empty.capacity() >= 16 && empty.as_ptr() == ptr);
        drop((other, empty));
        let pool = guard.finish();
        assert_eq!(
            pool.stats(),
            PoolStats {
                reused: 3,
                allocated: 2,
                returned: 3
            }
        );
        assert_eq!(pool.free_bytes(), 0);
    }

    #[test]
    fn element_types_have_separate_pools() {
        let g32 = install(BufferPool::<f32>::new());
        recycle(vec![1.0f32; 4]);
        // No f64 pool is installed: the f64 request allocates and nothing is counted.
        assert_eq!(zeroed::<f64>(4), vec![0.0; 4]);
        let pool = g32.finish();
        assert_eq!(pool.free_bytes(), 16);
        assert_eq!(pool.stats().allocated, 0);
    }

    #[test]
    fn nested_installs_restore_the_outer_pool_even_on_unwind() {
        let outer = install(BufferPool::<f64>::new());
        recycle(vec![1.0f64; 3]);
        let caught = std::panic::catch_unwind(|| {
            let _inner = install(BufferPool::<f64>::new());
            recycle(vec![2.0f64; 5]);
            panic!("a kernel failed");
        });
        assert!(caught.is_err());
        // The inner pool went with its guard; the outer one is back, holding its buffer.
        assert_eq!(zeroed::<f64>(3), vec![0.0; 3]);
        let pool = outer.finish();
        assert_eq!(pool.stats().reused, 1);
        assert_eq!(pool.free_bytes(), 0);
        // Nothing is left installed.
        recycle(vec![1.0f64; 3]);
        assert!(F64_POOL.with(|s| s.borrow().is_none()));
    }

    #[test]
    fn a_shared_tensor_is_not_recycled_and_a_unique_one_is() {
        let guard = install(BufferPool::<f32>::new());
        let t = Tensor::<f32>::zeros(&[2, 3]);
        let view = t.clone();
        t.recycle();
        assert_eq!(guard_free(&guard), 0);
        view.recycle();
        let pool = guard.finish();
        assert_eq!(pool.free_bytes(), 24);
    }

    fn guard_free<T: Element>(_g: &PoolGuard<T>) -> usize {
        slot::<T>().with(|s| s.borrow().as_ref().map_or(0, BufferPool::free_bytes))
    }

    #[test]
    fn scratch_is_shared_by_threads_and_capped() {
        // f64 scratch of an odd length no other test uses, so parallel tests cannot take it.
        const LEN: usize = 4099;
        let mut a = scratch::<f64>(LEN);
        a.fill(3.0);
        let ptr = a.as_ptr() as usize;
        // Made on another thread, given back there: this thread gets the same memory, zeroed.
        let made = std::thread::spawn(|| {
            let b = scratch::<f64>(LEN + 1);
            let p = b.as_ptr() as usize;
            scratch_done(b);
            p
        })
        .join()
        .unwrap();
        let c = scratch::<f64>(LEN + 1);
        assert_eq!(c.as_ptr() as usize, made);
        assert_eq!(c, vec![0.0; LEN + 1]);
        scratch_done(a);
        let d = scratch::<f64>(LEN);
        assert_eq!(d.as_ptr() as usize, ptr);
        // A buffer that would take the cache past its cap is freed, not kept.
        let before = scratch_cache::<f64>().bytes;
        scratch_done(vec![1.0f64; SCRATCH_CACHE_BYTES / 8 + 1]);
        assert_eq!(scratch_cache::<f64>().bytes, before);
        drop((c, d));
    }

    #[test]
    fn trimming_keeps_only_what_was_asked_for() {
        let mut pool = BufferPool::<f32>::new();
        assert!(pool.pop(4).is_none());
        pool.push(vec![0.0; 4]);
        pool.push(vec![0.0; 4]);
        pool.push(vec![0.0; 9]);
        pool.trim();
        // One 4 was asked for, none of 9.
        assert_eq!(pool.free_bytes(), 16);
        // Nothing asked since: the next trim empties the pool.
        pool.trim();
        assert_eq!(pool.free_bytes(), 0);
    }

    #[test]
    fn absorbing_merges_buffers_and_counts() {
        let mut a = BufferPool::<f32>::new();
        let mut b = BufferPool::<f32>::new();
        a.push(vec![0.0; 4]);
        b.push(vec![0.0; 4]);
        b.push(vec![0.0; 2]);
        a.absorb(b);
        assert_eq!(a.free_bytes(), 40);
        assert_eq!(a.stats().returned, 3);
    }
}
