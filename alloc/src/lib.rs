//! infra's global allocator: mimalloc, called the way the C library is meant to be called.
//!
//! The evaluator allocates millions of small, short-lived objects (thunks, frames, sets), and
//! mimalloc serves them markedly faster than the system allocator (docs/benchmarks.md). The
//! `mimalloc` crate's own `GlobalAlloc` sends every request through `mi_malloc_aligned`, a
//! detour of its own even for the word alignment nearly everything asks for; like the standard
//! library's `System`, this one calls plain `mi_malloc` when its guaranteed alignment (a word)
//! is enough.
//!
//! In front of mimalloc, a thread that asks for it (`keep_small_blocks`: the main thread,
//! where `infra eval` evaluates) keeps a short free list per small size (8 to 64 bytes, a word
//! apart): evaluation frees a frame or a thunk and makes the next one a moment later, and a
//! list's pop or push is a few instructions where `mi_free` has to find the block's page first
//! (about a tenth of the evaluator's instructions went to mimalloc). The lists are bounded
//! (`CACHED` blocks each, under 300 KB), so a burst of frees still returns memory to mimalloc.
//! Nothing frees them when their thread exits: only a thread that lives as long as the process
//! keeps them (tokio's blocking threads come and go, and would leak theirs).
//!
//! Reusing a block freed with size `s` for another size of its class relies on mimalloc
//! giving every small block at least `s` rounded up to a word, which holds for the build used
//! here (no `debug` or `secure` feature of `libmimalloc-sys`: those pad blocks to the exact
//! size asked and check the padding). The lists live in a `thread_local!` with a constant
//! initialiser and no destructor, which on Linux and macOS is plain thread-local storage that
//! never allocates (elsewhere its first use could call back into the allocator).

use std::{
    alloc::{GlobalAlloc, Layout},
    cell::Cell,
    ffi::c_void,
    ptr::null_mut,
    sync::atomic::{AtomicUsize, Ordering::Relaxed},
};

use libmimalloc_sys as mi;

pub mod thin;

/// Every block mimalloc hands out is aligned to at least a word.
const MIN_ALIGN: usize = std::mem::size_of::<usize>();

pub struct Allocator;

/// Sizes kept on free lists: 1–8, 9–16, …, 57–64 bytes.
const CLASSES: usize = 8;
const LARGEST: usize = CLASSES * MIN_ALIGN;
/// Blocks a list keeps at most.
const CACHED: u32 = 1024;

/// Per thread, for each size class: the first free block (each free block's first word points
/// to the next) and how many there are; and whether this thread keeps free blocks at all.
struct FreeLists {
    heads: [Cell<*mut u8>; CLASSES],
    lens: [Cell<u32>; CLASSES],
    enabled: Cell<bool>,
}

thread_local! {
    static FREE: FreeLists = const {
        FreeLists {
            heads: [const { Cell::new(null_mut()) }; CLASSES],
            lens: [const { Cell::new(0) }; CLASSES],
            enabled: Cell::new(false),
        }
    };
}

/// Makes the calling thread keep small freed blocks for reuse. Call it only on a thread that
/// lives until the process ends (the main thread): a thread's lists are not freed when it
/// exits.
pub fn keep_small_blocks() {
    FREE.with(|free| free.enabled.set(true));
}

/// The free list for blocks of `layout`, if it is small and needs no more than a word's
/// alignment. A block freed with size `s` serves any request of the same class: mimalloc gave
/// it at least `s` rounded up to a word, and every size of the class rounds up to at most that.
#[inline(always)]
fn class(layout: &Layout) -> Option<usize> {
    let size = layout.size();
    (layout.align() <= MIN_ALIGN && size.wrapping_sub(1) < LARGEST).then(|| (size - 1) / MIN_ALIGN)
}

impl FreeLists {
    /// A free block of class `c`, if the list has one.
    ///
    /// # Safety
    /// Every block on the list was pushed by `push` and is not used elsewhere.
    #[inline(always)]
    unsafe fn pop(&self, c: usize) -> Option<*mut u8> {
        let head = self.heads[c].get();
        if head.is_null() {
            return None;
        }
        // SAFETY: `head` is a free block of at least a word, aligned to one, whose first word
        // `push` wrote.
        self.heads[c].set(unsafe { *(head as *mut *mut u8) });
        self.lens[c].set(self.lens[c].get() - 1);
        Some(head)
    }

    /// Keeps `block` (of class `c`, no longer used) if the list has room.
    ///
    /// # Safety
    /// `block` came from this allocator, is at least a word long and aligned to one, and is
    /// not used afterwards.
    #[inline(always)]
    unsafe fn push(&self, c: usize, block: *mut u8) -> bool {
        let len = self.lens[c].get();
        if len >= CACHED || !self.enabled.get() {
            return false;
        }
        // SAFETY: as the caller promises, the block is ours to write, a word at least.
        unsafe { *(block as *mut *mut u8) = self.heads[c].get() };
        self.heads[c].set(block);
        self.lens[c].set(len + 1);
        true
    }
}

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
        if let Some(c) = class(&layout)
            // SAFETY: only `dealloc` pushes, blocks it was given back.
            && let Ok(Some(block)) = FREE.try_with(|free| unsafe { free.pop(c) })
        {
            return block;
        }
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
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        if let Some(c) = class(&layout)
            // SAFETY: the caller gives the block up; mimalloc made it at least a word long
            // and word-aligned.
            && let Ok(true) = FREE.try_with(|free| unsafe { free.push(c, ptr) })
        {
            return;
        }
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

    /// A small block freed is the next one of its class handed out (on this thread), whole;
    /// another class, a larger alignment or a larger size never gets it.
    #[test]
    fn small_blocks_are_reused_within_their_class() {
        keep_small_blocks();
        for size in [1, 8, 9, 24, 33, 40, 48, 57, 64] {
            let layout = Layout::from_size_align(size, 8).unwrap();
            let same_class = Layout::from_size_align((size - 1) / 8 * 8 + 8, 8).unwrap();
            unsafe {
                let p = Allocator.alloc(layout);
                Allocator.dealloc(p, layout);
                let q = Allocator.alloc(same_class);
                assert_eq!(p, q, "size {size}");
                std::ptr::write_bytes(q, 0xCD, same_class.size());
                Allocator.dealloc(q, same_class);
                let other = Layout::from_size_align(same_class.size() + 8, 8).unwrap();
                let aligned = Layout::from_size_align(size, 16).unwrap();
                let (r, a) = (Allocator.alloc(other), Allocator.alloc(aligned));
                assert_ne!(r, q, "size {size}: another class");
                assert_ne!(a, q, "size {size}: another alignment");
                assert_eq!(a as usize % 16, 0);
                Allocator.dealloc(r, other);
                Allocator.dealloc(a, aligned);
                let large = Layout::from_size_align(1000, 8).unwrap();
                let l = Allocator.alloc(large);
                assert_ne!(l, q);
                Allocator.dealloc(l, large);
            }
        }
    }

    /// A list keeps at most `CACHED` blocks: more frees go back to mimalloc, and every block
    /// handed out after is distinct and writable.
    #[test]
    fn free_lists_are_bounded() {
        keep_small_blocks();
        let layout = Layout::from_size_align(40, 8).unwrap();
        let n = CACHED as usize * 3;
        unsafe {
            let blocks: Vec<*mut u8> = (0..n).map(|_| Allocator.alloc(layout)).collect();
            for &b in &blocks {
                Allocator.dealloc(b, layout);
            }
            let kept = FREE.with(|free| free.lens[4].get());
            assert_eq!(kept, CACHED);
            let again: Vec<*mut u8> = (0..n).map(|_| Allocator.alloc(layout)).collect();
            let distinct: std::collections::HashSet<_> = again.iter().collect();
            assert_eq!(distinct.len(), n);
            for &b in &again {
                std::ptr::write_bytes(b, 0xEE, 40);
                Allocator.dealloc(b, layout);
            }
        }
    }

    /// A thread that did not ask keeps nothing: its frees go back to mimalloc.
    #[test]
    fn other_threads_keep_no_blocks() {
        let layout = Layout::from_size_align(48, 8).unwrap();
        let kept = std::thread::spawn(move || unsafe {
            let p = Allocator.alloc(layout);
            Allocator.dealloc(p, layout);
            FREE.with(|free| free.lens[5].get())
        });
        assert_eq!(kept.join().unwrap(), 0);
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
