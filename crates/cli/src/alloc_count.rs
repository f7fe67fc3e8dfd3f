//! The binary's allocator: mimalloc, with a count of allocations and bytes, so that
//! `convnet bench` can say how much a training step allocates (the figure the planned
//! buffer reuse drives towards zero).
//!
//! mimalloc keeps freed memory for reuse instead of handing large blocks back to the system:
//! with glibc's allocator every multi-megabyte activation of a training step is a fresh `mmap`
//! whose pages fault in (and are zeroed) again on every step. By default mimalloc still
//! *purges* (decommits) free memory a while after it is freed, which in a training loop means
//! the same: a ResNet-18 step at batch 32 faulted ~2,000 pages back in, stalling single
//! fused elementwise passes for 10–25 ms. [`keep_freed_memory`] turns purging off, as
//! PyTorch's caching allocator does: the process keeps its peak footprint and a step after the
//! first faults nothing in (measured: 71,454 minor faults in a `convnet bench` run before,
//! 522 after, and 20 % less time per profiled step).

use std::alloc::{GlobalAlloc, Layout};
use std::sync::atomic::{AtomicU64, Ordering};

use mimalloc::MiMalloc;

/// `mi_option_purge_delay`: its index in `mi_option_e`, the same in the v2 and v3 headers
/// vendored by libmimalloc-sys 0.1.49, whose Rust bindings do not name it.
const PURGE_DELAY: libmimalloc_sys::mi_option_t = 15;

/// Never hands freed memory back to the system (see the module docs). Call before the work
/// starts; a process that never calls it keeps mimalloc's default.
pub fn keep_freed_memory() {
    // SAFETY: `mi_option_set` stores an integer in mimalloc's option table; every option
    // index below `_mi_option_last` (42 in v3) and every value are valid arguments, and −1
    // is the documented "never purge".
    unsafe { libmimalloc_sys::mi_option_set(PURGE_DELAY, -1) };
}

static ALLOCATIONS: AtomicU64 = AtomicU64::new(0);
static BYTES: AtomicU64 = AtomicU64::new(0);

/// mimalloc, counting every allocation (and reallocation) and its size.
#[derive(Debug)]
pub struct Counting;

fn count(layout: Layout) {
    ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
    BYTES.fetch_add(layout.size() as u64, Ordering::Relaxed);
}

// SAFETY: every method forwards its arguments unchanged to mimalloc's `GlobalAlloc`, which
// upholds the trait's contract; the counters are atomics and never touch the memory.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        count(layout);
        // SAFETY: the caller's guarantees for `layout` are passed on as they are.
        unsafe { MiMalloc.alloc(layout) }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        count(layout);
        // SAFETY: as for `alloc`.
        unsafe { MiMalloc.alloc_zeroed(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: `ptr` came from this allocator, that is from mimalloc, with `layout`.
        unsafe { MiMalloc.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        if let Ok(grown) = Layout::from_size_align(new_size, layout.align()) {
            count(grown);
        }
        // SAFETY: `ptr` came from mimalloc with `layout`; `new_size` is the caller's, checked
        // by the caller against the trait's rules.
        unsafe { MiMalloc.realloc(ptr, layout, new_size) }
    }
}

/// Allocations and bytes allocated since the program started.
pub fn totals() -> (u64, u64) {
    (
        ALLOCATIONS.load(Ordering::Relaxed),
        BYTES.load(Ordering::Relaxed),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The index names the purge delay: it reads mimalloc v3's default of 1000 ms (v2's is
    /// 10; no neighbouring option defaults to either), and after the call −1.
    #[test]
    fn keep_freed_memory_sets_the_purge_delay() {
        // SAFETY: reading an option is valid for every index below `_mi_option_last`.
        let get = || unsafe { libmimalloc_sys::mi_option_get(PURGE_DELAY) };
        let before = get();
        assert!(
            [1000, 10, -1].contains(&before),
            "option {PURGE_DELAY} reads {before}"
        );
        keep_freed_memory();
        assert_eq!(get(), -1);
    }
}
