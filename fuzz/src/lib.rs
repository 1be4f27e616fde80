//! What every fuzz target shares: an allocator that refuses any single
//! allocation over [`ALLOCATION_LIMIT`], so that "no over-limit
//! allocation" is checked by every run, with or without a sanitizer
//! (libFuzzer's own `-malloc_limit_mb` only works under one).

use std::alloc::{GlobalAlloc, Layout, System};

/// The largest single allocation any target may make: far more than any
/// input of a few KiB may honestly cause (the biggest honest one is a frame
/// buffer of at most 1 MiB).
pub const ALLOCATION_LIMIT: usize = 64 * 1024 * 1024;

/// The system allocator, aborting the run on an allocation over
/// [`ALLOCATION_LIMIT`] (libFuzzer then reports the input as a crash).
pub struct CappedAllocator;

fn check(size: usize) {
    if size > ALLOCATION_LIMIT {
        // No panic: this runs inside the allocator.
        std::process::abort();
    }
}

// SAFETY: defers every operation to `System` after a size check that
// neither allocates nor unwinds.
unsafe impl GlobalAlloc for CappedAllocator {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        check(layout.size());
        // SAFETY: same contract as the caller's.
        unsafe { System.alloc(layout) }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        check(layout.size());
        // SAFETY: same contract as the caller's.
        unsafe { System.alloc_zeroed(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: same contract as the caller's.
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        check(new_size);
        // SAFETY: same contract as the caller's.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}
