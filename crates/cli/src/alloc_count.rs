//! The binary's allocator: mimalloc, with a count of allocations and bytes, so that
//! `convnet bench` can say how much a training step allocates (the figure the planned
//! buffer reuse drives towards zero).
//!
//! mimalloc keeps freed memory for reuse instead of handing large blocks back to the system:
//! with glibc's allocator every multi-megabyte activation of a training step is a fresh `mmap`
//! whose pages fault in (and are zeroed) again on every step.

use std::alloc::{GlobalAlloc, Layout};
use std::sync::atomic::{AtomicU64, Ordering};

use mimalloc::MiMalloc;

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
