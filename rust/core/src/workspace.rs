//! Scratch memory kept between calls.
//!
//! A large fresh allocation costs a page fault per 4 KiB page on first touch: for a 64 MiB
//! logits panel that is ~25 ms, as much as a tenth of an InfoNCE step at B=4096. Kernels take
//! their scratch (normalised copies, logits panels) from a [`Workspace`] that keeps its buffers
//! at their largest size, so repeated calls of the same shape touch no new memory.

use crate::error::Result;
use crate::float::Float;
use crate::linalg::filled_vec;

/// Number of independent scratch buffers a kernel can take at once.
pub const SCRATCH_BUFFERS: usize = 3;

/// Reusable scratch buffers. Contents are unspecified between uses; kernels overwrite what they
/// read. Holding one costs the memory of the largest call it has served; drop it (or call
/// [`Workspace::release`]) to give that memory back.
#[derive(Debug, Default)]
pub struct Workspace<T> {
    buffers: [Vec<T>; SCRATCH_BUFFERS],
}

impl<T: Float> Workspace<T> {
    /// An empty workspace (allocates nothing until used).
    pub fn new() -> Self {
        Self {
            buffers: Default::default(),
        }
    }

    /// Disjoint scratch slices of the requested lengths, growing buffers as needed. `arg` names
    /// the argument blamed if an allocation fails.
    pub fn slices(
        &mut self,
        arg: &'static str,
        lengths: [usize; SCRATCH_BUFFERS],
    ) -> Result<[&mut [T]; SCRATCH_BUFFERS]> {
        for (buffer, &length) in self.buffers.iter_mut().zip(&lengths) {
            if buffer.len() < length {
                *buffer = Vec::new();
                *buffer = filled_vec(arg, length, T::ZERO)?;
            }
        }
        let [a, b, c] = &mut self.buffers;
        Ok([
            &mut a[..lengths[0]],
            &mut b[..lengths[1]],
            &mut c[..lengths[2]],
        ])
    }

    /// Bytes currently held.
    pub fn held_bytes(&self) -> usize {
        self.buffers.iter().map(|b| b.len() * T::BYTES).sum()
    }

    /// Frees every buffer.
    pub fn release(&mut self) {
        self.buffers = Default::default();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buffers_grow_and_are_reused() {
        let mut ws = Workspace::<f32>::new();
        let [a, b, c] = ws.slices("x", [4, 0, 2]).unwrap();
        assert_eq!((a.len(), b.len(), c.len()), (4, 0, 2));
        a[0] = 7.0;
        assert_eq!(ws.held_bytes(), 24);
        let [a, _, _] = ws.slices("x", [2, 1, 1]).unwrap();
        assert_eq!(a, &[7.0, 0.0]);
        assert_eq!(ws.held_bytes(), 28);
        ws.release();
        assert_eq!(ws.held_bytes(), 0);
    }
}
