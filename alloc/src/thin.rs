//! Thin shared slices and strings: one word on the stack, where `Rc<[T]>` and `Rc<str>` take
//! two.
//!
//! The evaluator's value is an enum whose largest payloads were a list (`Rc<[Thunk]>`) and a
//! string (`Rc<str>`), both pointer and length: that made every value three words. With the
//! length kept in the allocation, next to the count, a value is two words — a third less to
//! copy at every step that moves one — and set entries (a name and a thunk) two instead of
//! three.
//!
//! A count without weak references (nothing here needs them), not thread-safe (neither is
//! `Rc`): each type is `!Send` and `!Sync` through its raw pointer.

use std::{
    alloc::{Layout, dealloc, handle_alloc_error},
    borrow::Borrow,
    cell::Cell,
    cmp::Ordering,
    fmt,
    hash::{Hash, Hasher},
    marker::PhantomData,
    mem::ManuallyDrop,
    ops::Deref,
    ptr::{self, NonNull},
};

/// What precedes the elements in the allocation.
#[repr(C)]
struct Header {
    count: Cell<usize>,
    len: usize,
}

/// A shared, immutable slice behind one pointer: an `Rc<[T]>` that keeps its length in the
/// allocation.
pub struct RcSlice<T> {
    header: NonNull<Header>,
    marker: PhantomData<T>,
}

/// The allocation's layout for `len` elements, and where the elements start in it.
fn layout<T>(len: usize) -> (Layout, usize) {
    let elements = Layout::array::<T>(len).unwrap_or_else(|_| capacity_overflow());
    let (layout, offset) =
        Layout::new::<Header>().extend(elements).unwrap_or_else(|_| capacity_overflow());
    (layout.pad_to_align(), offset)
}

/// Where the elements start: the header's size rounded up to their alignment.
const fn offset<T>() -> usize {
    let align = std::mem::align_of::<T>();
    (std::mem::size_of::<Header>() + align - 1) & !(align - 1)
}

#[cold]
fn capacity_overflow() -> ! {
    panic!("capacity overflow")
}

impl<T> RcSlice<T> {
    /// A new allocation for `len` elements, its count one, its elements not yet written.
    fn allocate(len: usize) -> (NonNull<Header>, *mut T) {
        let (layout, offset) = layout::<T>(len);
        debug_assert_eq!(offset, self::offset::<T>());
        // SAFETY: the layout is never zero-sized: it holds the header.
        let block = unsafe { std::alloc::alloc(layout) };
        let Some(header) = NonNull::new(block as *mut Header) else { handle_alloc_error(layout) };
        // SAFETY: the block is fresh, aligned for the header (its layout starts with it) and
        // large enough for it and `len` elements from `offset`.
        unsafe {
            header.as_ptr().write(Header { count: Cell::new(1), len });
            (header, block.add(offset) as *mut T)
        }
    }

    /// Moves the elements of `items` into a new shared slice.
    pub fn from_vec(mut items: Vec<T>) -> RcSlice<T> {
        let len = items.len();
        let (header, elements) = RcSlice::<T>::allocate(len);
        // SAFETY: `elements` has room for `len` elements and does not overlap `items`' buffer;
        // the vector forgets its elements before it frees that buffer, so each is moved once.
        unsafe {
            ptr::copy_nonoverlapping(items.as_ptr(), elements, len);
            items.set_len(0);
        }
        RcSlice { header, marker: PhantomData }
    }

    fn header(&self) -> &Header {
        // SAFETY: the header lives as long as any handle on it.
        unsafe { self.header.as_ref() }
    }

    #[inline]
    fn elements(&self) -> *mut T {
        // SAFETY: the elements start right after the header, rounded up to their alignment:
        // where `Layout::extend` put them when the block was allocated, whatever its length.
        unsafe { (self.header.as_ptr() as *mut u8).add(offset::<T>()) as *mut T }
    }

    /// How many handles share this slice.
    pub fn strong_count(this: &RcSlice<T>) -> usize {
        this.header().count.get()
    }

    /// Whether both handles are the one allocation.
    pub fn ptr_eq(a: &RcSlice<T>, b: &RcSlice<T>) -> bool {
        a.header == b.header
    }

    /// The allocation's address, for telling shared slices apart.
    pub fn as_ptr(this: &RcSlice<T>) -> *const u8 {
        this.header.as_ptr() as *const u8
    }
}

impl<T> Deref for RcSlice<T> {
    type Target = [T];

    #[inline]
    fn deref(&self) -> &[T] {
        // SAFETY: `len` elements were written at `elements()` when the slice was made, and no
        // one changes them while a shared handle exists (`get_mut` needs the only one).
        unsafe { std::slice::from_raw_parts(self.elements(), self.header().len) }
    }
}

impl<T> Clone for RcSlice<T> {
    #[inline]
    fn clone(&self) -> RcSlice<T> {
        let count = &self.header().count;
        // As `Rc`: more handles than addressable bytes can only come from leaked handles.
        let Some(next) = count.get().checked_add(1) else { std::process::abort() };
        count.set(next);
        RcSlice { header: self.header, marker: PhantomData }
    }
}

impl<T> Drop for RcSlice<T> {
    #[inline]
    fn drop(&mut self) {
        let count = self.header().count.get();
        if count > 1 {
            self.header().count.set(count - 1);
            return;
        }
        self.drop_slow();
    }
}

impl<T> RcSlice<T> {
    #[inline(never)]
    fn drop_slow(&mut self) {
        let len = self.header().len;
        // The block is freed after the elements, even when one of their drops panics.
        let _free = Free(self.header.as_ptr() as *mut u8, layout::<T>(len).0);
        // SAFETY: this was the last handle: the elements are dropped once.
        unsafe { ptr::drop_in_place(ptr::slice_from_raw_parts_mut(self.elements(), len)) };
    }
}

/// Frees a block with the layout it was allocated with, when dropped.
struct Free(*mut u8, Layout);

impl Drop for Free {
    fn drop(&mut self) {
        // SAFETY: the block came from the global allocator with this layout, and nothing
        // uses it any more.
        unsafe { dealloc(self.0, self.1) }
    }
}

impl<T> Default for RcSlice<T> {
    fn default() -> RcSlice<T> {
        RcSlice::from_vec(Vec::new())
    }
}

impl<T> From<Vec<T>> for RcSlice<T> {
    fn from(items: Vec<T>) -> RcSlice<T> {
        RcSlice::from_vec(items)
    }
}

impl<T, const N: usize> From<[T; N]> for RcSlice<T> {
    fn from(items: [T; N]) -> RcSlice<T> {
        // Allocated first: if that fails, the array is still dropped as usual.
        let (header, elements) = RcSlice::<T>::allocate(N);
        let items = ManuallyDrop::new(items);
        // SAFETY: room for `N` elements; the array is moved in and never dropped itself.
        unsafe { ptr::copy_nonoverlapping(items.as_ptr(), elements, N) };
        RcSlice { header, marker: PhantomData }
    }
}

impl<T: Clone> From<&[T]> for RcSlice<T> {
    fn from(items: &[T]) -> RcSlice<T> {
        RcSlice::from_vec(items.to_vec())
    }
}

impl<T> FromIterator<T> for RcSlice<T> {
    /// An iterator that knows its length (a slice's, a chain of slices', a mapped range's) is
    /// written straight into the allocation; any other is collected first.
    fn from_iter<I: IntoIterator<Item = T>>(items: I) -> RcSlice<T> {
        let items = items.into_iter();
        match items.size_hint() {
            (lower, Some(upper)) if lower == upper => RcSlice::from_exact(items, lower),
            _ => RcSlice::from_vec(items.collect()),
        }
    }
}

/// The part of a slice being written: on a panic of the iterator, drops what was written and
/// frees the block.
struct Partial<T> {
    header: NonNull<Header>,
    elements: *mut T,
    written: usize,
    len: usize,
}

impl<T> Drop for Partial<T> {
    fn drop(&mut self) {
        let _free = Free(self.header.as_ptr() as *mut u8, layout::<T>(self.len).0);
        // SAFETY: `written` elements were written and are owned here.
        unsafe { ptr::drop_in_place(ptr::slice_from_raw_parts_mut(self.elements, self.written)) };
    }
}

impl<T> RcSlice<T> {
    /// The items of an iterator that says it yields `len`. One that yields another number
    /// (its `size_hint` is only a hint) still gives exactly its items, through a vector.
    fn from_exact(mut items: impl Iterator<Item = T>, len: usize) -> RcSlice<T> {
        let (header, elements) = RcSlice::<T>::allocate(len);
        let mut partial = Partial { header, elements, written: 0, len };
        while partial.written < len {
            let Some(item) = items.next() else { break };
            // SAFETY: `written < len`, within the block.
            unsafe { elements.add(partial.written).write(item) };
            partial.written += 1;
        }
        if partial.written == len {
            match items.next() {
                None => {
                    std::mem::forget(partial);
                    return RcSlice { header, marker: PhantomData };
                }
                Some(extra) => {
                    let mut all = partial.take();
                    all.push(extra);
                    all.extend(items);
                    return RcSlice::from_vec(all);
                }
            }
        }
        RcSlice::from_vec(partial.take())
    }
}

impl<T> Partial<T> {
    /// The written elements moved into a vector, the block freed.
    fn take(mut self) -> Vec<T> {
        let mut items = Vec::with_capacity(self.written);
        // SAFETY: the written elements move to the vector, and this no longer owns them.
        unsafe {
            ptr::copy_nonoverlapping(self.elements, items.as_mut_ptr(), self.written);
            items.set_len(self.written);
        }
        self.written = 0;
        items
    }
}

impl<T: fmt::Debug> fmt::Debug for RcSlice<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        (**self).fmt(f)
    }
}

/// A shared, immutable string behind one pointer: an `Rc<str>` that keeps its length in the
/// allocation. Compared, ordered and hashed as its text.
#[derive(Clone, Default)]
pub struct RcStr(RcSlice<u8>);

impl RcStr {
    /// Whether both handles are the one allocation (equal text need not be).
    pub fn ptr_eq(a: &RcStr, b: &RcStr) -> bool {
        RcSlice::ptr_eq(&a.0, &b.0)
    }

    /// The allocation's address, for telling shared strings apart.
    pub fn as_ptr(this: &RcStr) -> *const u8 {
        RcSlice::as_ptr(&this.0)
    }
}

impl Deref for RcStr {
    type Target = str;

    #[inline]
    fn deref(&self) -> &str {
        // SAFETY: every constructor copies its bytes from a `str`, and they never change.
        unsafe { std::str::from_utf8_unchecked(&self.0) }
    }
}

impl From<&str> for RcStr {
    fn from(text: &str) -> RcStr {
        RcStr(RcSlice::from(text.as_bytes()))
    }
}

impl From<String> for RcStr {
    fn from(text: String) -> RcStr {
        RcStr(RcSlice::from_vec(text.into_bytes()))
    }
}

impl Borrow<str> for RcStr {
    fn borrow(&self) -> &str {
        self
    }
}

impl PartialEq for RcStr {
    #[inline]
    fn eq(&self, other: &RcStr) -> bool {
        RcStr::ptr_eq(self, other) || **self == **other
    }
}

impl Eq for RcStr {}

impl PartialOrd for RcStr {
    fn partial_cmp(&self, other: &RcStr) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for RcStr {
    #[inline]
    fn cmp(&self, other: &RcStr) -> Ordering {
        // Names the program writes share their text: equal ones are often one allocation.
        if RcStr::ptr_eq(self, other) {
            return Ordering::Equal;
        }
        (**self).cmp(&**other)
    }
}

impl Hash for RcStr {
    fn hash<H: Hasher>(&self, state: &mut H) {
        (**self).hash(state)
    }
}

impl fmt::Debug for RcStr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        (**self).fmt(f)
    }
}

impl fmt::Display for RcStr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        (**self).fmt(f)
    }
}

#[cfg(test)]
mod tests {
    use std::rc::Rc;

    use super::*;

    #[test]
    fn one_word() {
        assert_eq!(std::mem::size_of::<RcSlice<u64>>(), 8);
        assert_eq!(std::mem::size_of::<Option<RcStr>>(), 8);
    }

    #[test]
    fn elements_dropped_once_with_the_last_handle() {
        let marker = Rc::new(());
        let slice: RcSlice<Rc<()>> = (0..5).map(|_| marker.clone()).collect();
        let other = slice.clone();
        assert_eq!(Rc::strong_count(&marker), 6);
        assert_eq!(RcSlice::strong_count(&slice), 2);
        drop(slice);
        assert_eq!(Rc::strong_count(&marker), 6);
        assert_eq!(other.len(), 5);
        drop(other);
        assert_eq!(Rc::strong_count(&marker), 1);
    }

    #[test]
    fn arrays_and_empty_slices() {
        let pair = RcSlice::from([String::from("a"), String::from("b")]);
        assert_eq!(&*pair, ["a", "b"]);
        let empty: RcSlice<String> = RcSlice::default();
        assert!(empty.is_empty());
        let aligned = RcSlice::from([1u128, 2, 3]);
        assert_eq!(aligned.iter().sum::<u128>(), 6);
        assert_eq!(aligned.as_ptr() as usize % std::mem::align_of::<u128>(), 0);
    }

    /// Claims `claimed` items and yields `actual`.
    struct Lying {
        claimed: usize,
        actual: std::ops::Range<usize>,
    }

    impl Iterator for Lying {
        type Item = String;
        fn next(&mut self) -> Option<String> {
            self.actual.next().map(|i| i.to_string())
        }
        fn size_hint(&self) -> (usize, Option<usize>) {
            (self.claimed, Some(self.claimed))
        }
    }

    #[test]
    fn an_iterator_gives_exactly_its_items_whatever_it_claims() {
        let exact: RcSlice<String> = Lying { claimed: 3, actual: 0..3 }.collect();
        assert_eq!(&*exact, ["0", "1", "2"]);
        let fewer: RcSlice<String> = Lying { claimed: 5, actual: 0..2 }.collect();
        assert_eq!(&*fewer, ["0", "1"]);
        let more: RcSlice<String> = Lying { claimed: 1, actual: 0..4 }.collect();
        assert_eq!(&*more, ["0", "1", "2", "3"]);
        let chained: RcSlice<u8> = [1, 2].iter().chain([3].iter()).copied().collect();
        assert_eq!(&*chained, [1, 2, 3]);
    }

    #[test]
    fn a_panicking_iterator_leaks_nothing() {
        let marker = Rc::new(());
        let result = std::panic::catch_unwind(|| {
            let items = (0..4).map(|i| if i == 2 { panic!("stop") } else { marker.clone() });
            items.collect::<RcSlice<Rc<()>>>()
        });
        assert!(result.is_err());
        assert_eq!(Rc::strong_count(&marker), 1);
    }

    #[test]
    fn an_element_whose_drop_panics_does_not_keep_the_others() {
        struct Bomb;
        impl Drop for Bomb {
            fn drop(&mut self) {
                panic!("bomb");
            }
        }
        let marker = Rc::new(());
        let slice = RcSlice::from([(Some(Bomb), None), (None, Some(marker.clone()))]);
        assert!(std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| drop(slice))).is_err());
        // The element after the one that panicked was dropped (and, valgrind says, the block
        // freed).
        assert_eq!(Rc::strong_count(&marker), 1);
    }

    #[test]
    fn strings_compare_as_text() {
        let a = RcStr::from("name");
        let b = RcStr::from(String::from("name"));
        assert_eq!(a, b);
        assert!(!RcStr::ptr_eq(&a, &b));
        let (a_text, b_text) = (RcStr::from("a"), RcStr::from("b"));
        assert!(a_text < b_text);
        assert_eq!(&*RcStr::from("ünïcode"), "ünïcode");
        assert_eq!(RcStr::default().len(), 0);
        let mut set = std::collections::BTreeSet::new();
        set.insert(a.clone());
        assert!(set.contains("name"));
    }
}
