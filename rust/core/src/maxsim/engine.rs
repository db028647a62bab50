//! The MaxSim tile: one GEMM of a group of packed query tokens against a block of packed
//! document tokens, reduced to the best document token of every (query token, document) pair.
//! Scores, top-k and the loss all run on it, so the `B x B x Lq x Ld` similarity tensor never
//! exists: working memory is one tile (at most [`QUERY_TILE_TOKENS`] x [`DOC_TILE_TOKENS`]
//! similarities, or one sequence's worth when a single sequence is longer).
//!
//! Every tile is one single-threaded GEMM and the tiling depends only on the inputs, never on
//! the thread count, so every similarity, max and score is the same on any number of threads.

use std::ops::Range;

use crate::alloc::try_vec_with_capacity;
use crate::error::Result;
use crate::float::Float;
use crate::linalg::{gemm_into, zeroed_vec, Accumulate, MatRef, Product};
use crate::reduce::max_value;

/// Query tokens per tile (rows of the GEMM).
pub const QUERY_TILE_TOKENS: usize = 256;
/// Document tokens per tile (columns of the GEMM): a 256 x 1024 f32 tile is 1 MiB.
pub const DOC_TILE_TOKENS: usize = 1024;

/// Cuts the sequences `offsets` describes (sequence `s` owns rows `offsets[s]..offsets[s+1]`)
/// into consecutive groups of at most `max_tokens` rows (a longer sequence is a group alone).
pub fn token_groups(offsets: &[usize], max_tokens: usize) -> Result<Vec<Range<usize>>> {
    let sequences = offsets.len().saturating_sub(1);
    let mut groups = try_vec_with_capacity("queries", sequences.min(1 << 16))?;
    let mut start = 0;
    while start < sequences {
        let mut end = start + 1;
        while end < sequences && offsets[end + 1] - offsets[start] <= max_tokens {
            end += 1;
        }
        groups.push(start..end);
        start = end;
    }
    Ok(groups)
}

/// Reusable tile memory of one task.
#[derive(Default)]
pub struct Tile<T> {
    buffer: Vec<T>,
}

impl<T: Float> Tile<T> {
    /// Computes `queries (rq x D) . docs (rd x D)^T` and, for every query row `r` and every
    /// document `j` of the block (rows `doc_offsets[j] - base .. doc_offsets[j+1] - base` of
    /// `docs`), calls `emit(r, j, max, argmax)`: the largest similarity and, when `ARGMAX`, the
    /// lowest row (relative to the document's first row) that reaches it (0 otherwise).
    pub fn max_reduce<const ARGMAX: bool>(
        &mut self,
        queries: MatRef<'_, T>,
        docs: MatRef<'_, T>,
        doc_offsets: &[usize],
        mut emit: impl FnMut(usize, usize, T, u32),
    ) -> Result<()> {
        let (rq, rd) = (queries.rows, docs.rows);
        if self.buffer.len() < rq * rd {
            self.buffer = Vec::new();
            self.buffer = zeroed_vec("documents", rq * rd)?;
        }
        let tile = &mut self.buffer[..rq * rd];
        gemm_into(
            "documents",
            Product::NT,
            queries,
            docs,
            tile,
            T::ONE,
            Accumulate::Overwrite,
            false,
        )?;
        let base = doc_offsets[0];
        for (r, row) in tile.chunks_exact(rd.max(1)).enumerate() {
            for (j, pair) in doc_offsets.windows(2).enumerate() {
                let segment = &row[pair[0] - base..pair[1] - base];
                let best = max_value(segment);
                let at = if ARGMAX {
                    segment.iter().position(|&v| v == best).unwrap_or(0) as u32
                } else {
                    0
                };
                emit(r, j, best, at);
            }
        }
        Ok(())
    }
}

/// For every row of a packed query group, the index (within the group) of its query.
pub fn row_owners(offsets: &[usize]) -> Vec<usize> {
    let base = offsets[0];
    let mut owners = Vec::with_capacity(offsets[offsets.len() - 1] - base);
    for (i, pair) in offsets.windows(2).enumerate() {
        owners.extend(std::iter::repeat_n(i, pair[1] - pair[0]));
    }
    owners
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn groups_respect_the_token_limit_and_keep_long_sequences_alone() {
        let offsets = [0, 3, 6, 20, 21, 22];
        assert_eq!(token_groups(&offsets, 6).unwrap(), vec![0..2, 2..3, 3..5]);
        assert_eq!(token_groups(&[0], 6).unwrap(), Vec::<Range<usize>>::new());
        assert_eq!(row_owners(&[4, 6, 7]), vec![0, 0, 1]);
    }

    #[test]
    fn max_reduce_finds_the_first_best_token_of_each_document() {
        let q = [1.0f64, 0.0, 0.0, 1.0];
        // doc 0: tokens (1,1), (2,0), (2,5); doc 1: (0,-1)
        let d = [1.0, 1.0, 2.0, 0.0, 2.0, 5.0, 0.0, -1.0];
        let mut seen = Vec::new();
        Tile::default()
            .max_reduce::<true>(
                MatRef::new(&q, 2, 2),
                MatRef::new(&d, 4, 2),
                &[0, 3, 4],
                |r, j, m, a| seen.push((r, j, m, a)),
            )
            .unwrap();
        assert_eq!(
            seen,
            vec![
                (0, 0, 2.0, 1),
                (0, 1, 0.0, 0),
                (1, 0, 5.0, 2),
                (1, 1, -1.0, 0)
            ]
        );
    }
}
