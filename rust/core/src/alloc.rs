//! Fallible allocation: every buffer whose size depends on the input goes through this module,
//! so a request the process cannot satisfy becomes [`TrainingError::OutOfMemory`] naming the
//! argument that drove it (a Python `MemoryError`) instead of the allocator's abort.
//!
//! Sizes are computed with checked arithmetic: an element count whose byte size overflows
//! `usize` is the same error (reported as `usize::MAX` bytes), never a wrapped small allocation.

use crate::error::{Result, TrainingError};

/// `len` elements of `T` in bytes, or [`TrainingError::OutOfMemory`] naming `arg` when the
/// product overflows `isize` (no allocation can be that large).
pub fn bytes_for<T>(arg: &'static str, len: usize) -> Result<usize> {
    len.checked_mul(std::mem::size_of::<T>())
        .filter(|&bytes| bytes <= isize::MAX as usize)
        .ok_or(TrainingError::OutOfMemory {
            arg,
            bytes: usize::MAX,
        })
}

/// `a * b` (an element count), or [`TrainingError::OutOfMemory`] naming `arg` on overflow.
pub fn checked_len(arg: &'static str, a: usize, b: usize) -> Result<usize> {
    a.checked_mul(b).ok_or(TrainingError::OutOfMemory {
        arg,
        bytes: usize::MAX,
    })
}

/// An empty vector with room for exactly `capacity` elements, or
/// [`TrainingError::OutOfMemory`] naming `arg`.
pub fn try_vec_with_capacity<T>(arg: &'static str, capacity: usize) -> Result<Vec<T>> {
    let bytes = bytes_for::<T>(arg, capacity)?;
    let mut out = Vec::new();
    out.try_reserve_exact(capacity)
        .map_err(|_| TrainingError::OutOfMemory { arg, bytes })?;
    Ok(out)
}

/// A vector of `len` copies of `value`, or [`TrainingError::OutOfMemory`] naming `arg` when the
/// allocation fails (instead of aborting the process).
pub fn filled_vec<V: Clone>(arg: &'static str, len: usize, value: V) -> Result<Vec<V>> {
    let mut out = try_vec_with_capacity(arg, len)?;
    out.resize(len, value);
    Ok(out)
}

/// A copy of `values` (a fallible `to_vec`), or [`TrainingError::OutOfMemory`] naming `arg`.
pub fn try_copy<T: Clone>(arg: &'static str, values: &[T]) -> Result<Vec<T>> {
    let mut out = try_vec_with_capacity(arg, values.len())?;
    out.extend_from_slice(values);
    Ok(out)
}

/// Collects the `len` items of `items` into a vector reserved up front (a fallible
/// `collect`), or [`TrainingError::OutOfMemory`] naming `arg`. `len` is the exact count (an
/// iterator yielding more only grows the vector, as `collect` would).
pub fn try_collect<V>(
    arg: &'static str,
    len: usize,
    items: impl IntoIterator<Item = V>,
) -> Result<Vec<V>> {
    let mut out = try_vec_with_capacity(arg, len)?;
    out.extend(items);
    Ok(out)
}

/// Checks that a block of `bytes` can be allocated right now by allocating and freeing it
/// (untouched, so it costs address space only for an instant). Used before calling code that
/// allocates infallibly (the GEMM's packing buffers), turning its abort into an error here.
pub fn probe(arg: &'static str, bytes: usize) -> Result<()> {
    if bytes == 0 {
        return Ok(());
    }
    let layout = std::alloc::Layout::from_size_align(bytes, 128)
        .map_err(|_| TrainingError::OutOfMemory { arg, bytes })?;
    // SAFETY: `layout` has non-zero size; the block is freed with the same layout and never
    // read or written.
    unsafe {
        // `black_box`: the optimiser may otherwise elide an unused allocation pair as if it
        // always succeeded.
        let ptr = std::hint::black_box(std::alloc::alloc(layout));
        if ptr.is_null() {
            return Err(TrainingError::OutOfMemory { arg, bytes });
        }
        std::alloc::dealloc(ptr, layout);
    }
    Ok(())
}

/// Fails with [`TrainingError::OutOfMemory`] naming `arg` unless `bytes` (`None`: more than
/// `usize` holds) fit in the machine's physical memory and can be reserved now (the
/// reservation is released at once: it probes the address-space limit without touching
/// memory). Checked before a solve so that it fails before any work, rather than aborting
/// or being killed by the out-of-memory killer halfway.
pub fn ensure_memory(arg: &'static str, bytes: Option<usize>) -> Result<()> {
    let bytes = bytes.ok_or(TrainingError::OutOfMemory {
        arg,
        bytes: usize::MAX,
    })?;
    let fail = TrainingError::OutOfMemory { arg, bytes };
    if physical_memory().is_some_and(|total| bytes > total) {
        return Err(fail);
    }
    let mut probe: Vec<u8> = Vec::new();
    probe.try_reserve_exact(bytes).map_err(|_| fail)?;
    Ok(())
}

/// Installed physical memory in bytes, where the platform reports it.
#[cfg(target_os = "linux")]
fn physical_memory() -> Option<usize> {
    // SAFETY: sysconf only reads system configuration values.
    let (pages, page) = unsafe {
        (
            libc::sysconf(libc::_SC_PHYS_PAGES),
            libc::sysconf(libc::_SC_PAGESIZE),
        )
    };
    let pages = usize::try_from(pages).ok()?;
    let page = usize::try_from(page).ok()?;
    pages.checked_mul(page)
}

/// Installed physical memory in bytes, where the platform reports it.
#[cfg(not(target_os = "linux"))]
fn physical_memory() -> Option<usize> {
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn impossible_sizes_are_errors_naming_the_argument() {
        let err = try_vec_with_capacity::<f32>("corpus", usize::MAX / 2).unwrap_err();
        assert_eq!(
            err,
            TrainingError::OutOfMemory {
                arg: "corpus",
                bytes: usize::MAX
            }
        );
        let err = filled_vec("k", 1usize << 60, 0u8).unwrap_err();
        assert_eq!(err.arg(), "k");
        assert!(checked_len("k", usize::MAX, 2).is_err());
        assert!(probe("x", usize::MAX / 4).is_err());
    }

    #[test]
    fn helpers_build_the_expected_vectors() {
        assert_eq!(filled_vec("x", 3, 7i64).unwrap(), vec![7, 7, 7]);
        assert_eq!(try_copy("x", &[1.0f32, 2.0]).unwrap(), vec![1.0, 2.0]);
        assert_eq!(try_collect("x", 3, 0..3).unwrap(), vec![0, 1, 2]);
        assert_eq!(bytes_for::<f64>("x", 4).unwrap(), 32);
        probe("x", 1 << 20).unwrap();
    }
}
