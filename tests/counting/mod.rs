//! A counting global allocator for the heap tests. A test file that uses it
//! declares `#[global_allocator] static COUNTING: counting::Counting =
//! counting::Counting;` and holds a single test, so that no other test
//! allocates while it counts.
#![allow(dead_code)] // each heap test reads its own share of the counters

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering::Relaxed};

/// Counts allocations (and those of at least [`LARGE_FROM`] bytes) and
/// tracks the current and peak bytes in use.
pub struct Counting;

static ALLOCATIONS: AtomicUsize = AtomicUsize::new(0);
static LARGE: AtomicUsize = AtomicUsize::new(0);
static IN_USE: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);

/// Allocations of this many bytes or more are counted as large too.
pub static LARGE_FROM: AtomicUsize = AtomicUsize::new(usize::MAX);

fn grew(bytes: usize) {
    ALLOCATIONS.fetch_add(1, Relaxed);
    if bytes >= LARGE_FROM.load(Relaxed) {
        LARGE.fetch_add(1, Relaxed);
    }
    let now = IN_USE.fetch_add(bytes, Relaxed) + bytes;
    PEAK.fetch_max(now, Relaxed);
}

// SAFETY: every method forwards to `System` with the caller's own arguments;
// the counters only observe.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        grew(layout.size());
        unsafe { System.alloc(layout) }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        grew(layout.size());
        unsafe { System.alloc_zeroed(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        IN_USE.fetch_sub(layout.size(), Relaxed);
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        grew(new_size);
        IN_USE.fetch_sub(layout.size(), Relaxed);
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

/// The heap's counters at one moment; the peak is measured from here on.
pub struct Mark {
    allocations: usize,
    large: usize,
    in_use: usize,
}

impl Mark {
    pub fn now() -> Self {
        let in_use = IN_USE.load(Relaxed);
        PEAK.store(in_use, Relaxed);
        Mark {
            allocations: ALLOCATIONS.load(Relaxed),
            large: LARGE.load(Relaxed),
            in_use,
        }
    }

    /// Allocations since the mark.
    pub fn allocations(&self) -> usize {
        ALLOCATIONS.load(Relaxed) - self.allocations
    }

    /// Large allocations since the mark.
    pub fn large(&self) -> usize {
        LARGE.load(Relaxed) - self.large
    }

    /// The peak heap since the mark, above the heap at the mark, in bytes.
    pub fn peak(&self) -> usize {
        PEAK.load(Relaxed).saturating_sub(self.in_use)
    }

    /// The heap now, above the heap at the mark, in bytes.
    pub fn left(&self) -> usize {
        IN_USE.load(Relaxed).saturating_sub(self.in_use)
    }
}
