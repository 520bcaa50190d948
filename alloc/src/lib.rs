//! infra's global allocator: mimalloc, called the way the C library is meant to be called.
//!
//! The evaluator allocates millions of small, short-lived objects (thunks, frames, sets), and
//! mimalloc serves them markedly faster than the system allocator (docs/benchmarks.md). The
//! `mimalloc` crate's own `GlobalAlloc` sends every request through `mi_malloc_aligned`, a
//! detour of its own even for the word alignment nearly everything asks for; like the standard
//! library's `System`, this one calls plain `mi_malloc` when its guaranteed alignment (a word)
//! is enough.

use std::{
    alloc::{GlobalAlloc, Layout},
    ffi::c_void,
    sync::atomic::{AtomicUsize, Ordering::Relaxed},
};

use libmimalloc_sys as mi;

/// Every block mimalloc hands out is aligned to at least a word.
const MIN_ALIGN: usize = std::mem::size_of::<usize>();

pub struct Allocator;

/// Bytes handed out so far, never decreasing: what the evaluator watches to know when to look
/// at the process's memory (`allocated`).
static ALLOCATED: AtomicUsize = AtomicUsize::new(0);

/// Roughly how many bytes this allocator has handed out since the process started (freed ones
/// included). A load and a store, not an atomic addition: an update lost to another thread
/// allocating at the same moment only delays the next look, and costs nothing on the path
/// every allocation takes.
pub fn allocated() -> usize {
    ALLOCATED.load(Relaxed)
}

#[inline(always)]
fn count(size: usize) {
    ALLOCATED.store(ALLOCATED.load(Relaxed).wrapping_add(size), Relaxed);
}

// SAFETY: each method forwards to mimalloc, which returns blocks of at least the requested size
// with at least the requested alignment (plain `mi_malloc` only when a word is enough) and
// frees any block it returned, whichever function made it.
unsafe impl GlobalAlloc for Allocator {
    #[inline]
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        count(layout.size());
        unsafe {
            if layout.align() <= MIN_ALIGN {
                mi::mi_malloc(layout.size()) as *mut u8
            } else {
                mi::mi_malloc_aligned(layout.size(), layout.align()) as *mut u8
            }
        }
    }

    #[inline]
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        count(layout.size());
        unsafe {
            if layout.align() <= MIN_ALIGN {
                mi::mi_zalloc(layout.size()) as *mut u8
            } else {
                mi::mi_zalloc_aligned(layout.size(), layout.align()) as *mut u8
            }
        }
    }

    #[inline]
    unsafe fn dealloc(&self, ptr: *mut u8, _layout: Layout) {
        unsafe { mi::mi_free(ptr as *mut c_void) }
    }

    #[inline]
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        count(new_size);
        unsafe {
            if layout.align() <= MIN_ALIGN {
                mi::mi_realloc(ptr as *mut c_void, new_size) as *mut u8
            } else {
                mi::mi_realloc_aligned(ptr as *mut c_void, new_size, layout.align()) as *mut u8
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Blocks of every small size and alignment come back aligned as asked, writable, and
    /// keep their contents through `realloc`.
    #[test]
    fn alignment_and_realloc() {
        for align in [1, 2, 4, 8, 16, 32, 64, 4096] {
            for size in [1, 3, 8, 24, 40, 48, 100, 1000, 70_000] {
                let layout = Layout::from_size_align(size, align).unwrap();
                unsafe {
                    let p = Allocator.alloc(layout);
                    assert!(!p.is_null());
                    assert_eq!(p as usize % align, 0, "size {size} align {align}");
                    std::ptr::write_bytes(p, 0xAB, size);
                    let q = Allocator.realloc(p, layout, size * 3);
                    assert_eq!(q as usize % align, 0, "realloc size {size} align {align}");
                    assert_eq!(*q.add(size - 1), 0xAB);
                    Allocator.dealloc(q, Layout::from_size_align(size * 3, align).unwrap());
                    let z = Allocator.alloc_zeroed(layout);
                    assert_eq!(z as usize % align, 0);
                    assert!((0..size).all(|i| *z.add(i) == 0));
                    Allocator.dealloc(z, layout);
                }
            }
        }
    }

    #[test]
    fn allocations_are_counted() {
        // The other test allocates through this allocator at the same time, and may (rarely)
        // overwrite an update: one of a few tries sees the count grow by the whole block.
        let layout = Layout::from_size_align(1 << 20, 8).unwrap();
        let counted = (0..10).any(|_| {
            let before = allocated();
            unsafe { Allocator.dealloc(Allocator.alloc(layout), layout) };
            allocated().wrapping_sub(before) >= 1 << 20
        });
        assert!(counted);
    }
}
