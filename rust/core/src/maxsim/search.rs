//! `maxsim_scores` and `maxsim_topk`: every query against every document, streamed over
//! document chunks (each packed once, block by block, inside its task), so the working memory
//! of top-k is independent of the number of documents.

use std::ops::Range;

use rayon::prelude::*;

use super::engine::{row_owners, token_groups, Tile, DOC_TILE_TOKENS, QUERY_TILE_TOKENS};
use super::tokens::{Packed, TokenArgs, TokensRef};
use super::{query_factors, Normalize, QUERY_ARGS};
use crate::alloc::{checked_len, filled_vec, try_vec_with_capacity};
use crate::error::{Result, TrainingError};
use crate::float::Float;
use crate::linalg::zeroed_vec;
use crate::pool::check_cancelled;
use crate::search::{BestK, Scored, TopKResult};
use crate::types::Similarity;

/// Names the `documents` argument of the search functions.
const DOCUMENT_ARGS: TokenArgs = TokenArgs {
    array: "documents",
    mask: "document_mask",
    per_row: 0,
};

/// Padded document tokens per chunk (one parallel task).
const CHUNK_TOKENS: usize = 8 * DOC_TILE_TOKENS;

/// Validated, packed queries and the document chunking shared by scores and top-k.
struct Scan<'a, T: Float> {
    queries: Packed<T>,
    groups: Vec<Range<usize>>,
    factors: Vec<f64>,
    documents: TokensRef<'a, T>,
    similarity: Similarity,
    chunk_docs: usize,
}

impl<'a, T: Float> Scan<'a, T> {
    fn new(
        queries: TokensRef<'_, T>,
        documents: TokensRef<'a, T>,
        similarity: Similarity,
        normalize: Normalize,
    ) -> Result<Self> {
        queries.validate(QUERY_ARGS, None)?;
        documents.validate(DOCUMENT_ARGS, Some(queries.dim))?;
        let order = (0..queries.rows).map(|row| (0, row)).collect::<Vec<_>>();
        let packed = Packed::new("queries", &[queries], &order, similarity)?;
        let groups = token_groups(&packed.offsets, QUERY_TILE_TOKENS)?;
        let factors = query_factors(&packed.offsets, normalize)?;
        Ok(Self {
            queries: packed,
            groups,
            factors,
            documents,
            similarity,
            chunk_docs: (CHUNK_TOKENS / documents.len.max(1)).max(1),
        })
    }

    fn chunks(&self) -> usize {
        self.documents.rows.div_ceil(self.chunk_docs)
    }

    /// Scores of every query against the documents of chunk `chunk`: `emit(query, doc, score)`.
    fn scan_chunk(
        &self,
        chunk: usize,
        tile: &mut Tile<T>,
        mut emit: impl FnMut(usize, usize, T),
    ) -> Result<()> {
        let docs = self.documents;
        let first = chunk * self.chunk_docs;
        let rows = first..(first + self.chunk_docs).min(docs.rows);
        let mut offsets = try_vec_with_capacity("documents", rows.len() + 1)?;
        offsets.push(0);
        for row in rows.clone() {
            offsets.push(offsets[offsets.len() - 1] + docs.real_count(row));
        }
        let d = docs.dim;
        let mut packed = zeroed_vec(
            "documents",
            checked_len("documents", offsets[rows.len()], d)?,
        )?;
        for (k, row) in rows.clone().enumerate() {
            let out = &mut packed[offsets[k] * d..offsets[k + 1] * d];
            docs.pack_row(row, self.similarity, out, None);
        }
        let all_docs = crate::linalg::MatRef::new(&packed, offsets[rows.len()], d);
        let queries = self.queries.matrix();
        let mut sums: Vec<f64> = Vec::new();
        for block in token_groups(&offsets, DOC_TILE_TOKENS)? {
            check_cancelled()?;
            let block_offsets = &offsets[block.start..=block.end];
            let block_docs = all_docs.rows_range(block_offsets[0], block_offsets[block.len()]);
            for group in &self.groups {
                let q_offsets = &self.queries.offsets[group.start..=group.end];
                let group_rows = queries.rows_range(q_offsets[0], q_offsets[group.len()]);
                let owners = row_owners(q_offsets);
                let nb = block.len();
                sums.clear();
                sums.resize(group.len() * nb, 0.0);
                tile.max_reduce::<false>(group_rows, block_docs, block_offsets, |r, j, m, _| {
                    sums[owners[r] * nb + j] += m.to_f64();
                })?;
                for (i, row) in sums.chunks_exact(nb).enumerate() {
                    let query = group.start + i;
                    for (j, &sum) in row.iter().enumerate() {
                        emit(
                            query,
                            first + block.start + j,
                            T::from_f64(sum * self.factors[query]),
                        );
                    }
                }
            }
        }
        Ok(())
    }
}

/// MaxSim scores of every query against every document, `(Q, M)` row-major:
/// `s(q, d) = sum over real query tokens i of max over real document tokens j of sim(q_i, d_j)`
/// (divided by the number of real query tokens under [`Normalize::QueryLength`]).
///
/// Fails on shape mismatches, masks of the wrong shape, NaN/Inf, and rows without a real token.
pub fn maxsim_scores<T: Float>(
    queries: TokensRef<'_, T>,
    documents: TokensRef<'_, T>,
    similarity: Similarity,
    normalize: Normalize,
) -> Result<Vec<T>> {
    let scan = Scan::new(queries, documents, similarity, normalize)?;
    let (q, m) = (queries.rows, documents.rows);
    let total = checked_len("documents", q, m)?;
    // Chunk-major (documents x queries) first: every task owns a contiguous block.
    let mut by_document = zeroed_vec::<T>("documents", total)?;
    by_document
        .par_chunks_mut(scan.chunk_docs * q.max(1))
        .enumerate()
        .try_for_each_init(Tile::default, |tile, (chunk, out)| {
            let first = chunk * scan.chunk_docs;
            scan.scan_chunk(chunk, tile, |query, doc, score| {
                out[(doc - first) * q + query] = score;
            })
        })?;
    let mut scores = zeroed_vec::<T>("documents", total)?;
    scores
        .par_chunks_mut(m.max(1))
        .enumerate()
        .for_each(|(query, row)| {
            for (doc, value) in row.iter_mut().enumerate() {
                *value = by_document[doc * q + query];
            }
        });
    Ok(scores)
}

/// The exact `k` best documents of every query by MaxSim score, best first, ties broken by the
/// lower index (as [`crate::topk`]); slots beyond the number of documents hold `-inf` / `-1`.
/// Streams over document chunks: memory is `O(Q * k)` per thread plus one chunk per task,
/// whatever the number of documents.
pub fn maxsim_topk<T: Float>(
    queries: TokensRef<'_, T>,
    documents: TokensRef<'_, T>,
    k: usize,
    similarity: Similarity,
    normalize: Normalize,
) -> Result<TopKResult<T>> {
    if k == 0 {
        return Err(TrainingError::value("k", "must be >= 1, got 0"));
    }
    let q = queries.rows;
    let total = checked_len("k", q, k)?;
    let mut scores = filled_vec("k", total, T::from_f64(f64::NEG_INFINITY))?;
    let mut indices = filled_vec("k", total, -1i64)?;
    let kept = k.min(documents.rows);
    let selection_bytes = checked_len("k", total, 2 * std::mem::size_of::<Scored>())?;
    crate::alloc::probe("k", selection_bytes)?;
    let scan = Scan::new(queries, documents, similarity, normalize)?;
    let fresh = || -> Result<Vec<BestK>> {
        let mut best = try_vec_with_capacity("k", q)?;
        best.resize_with(q, || BestK::new(kept));
        Ok(best)
    };
    let best = (0..scan.chunks())
        .into_par_iter()
        .try_fold(
            || (fresh(), Tile::default()),
            |(best, mut tile), chunk| {
                let mut best = best?;
                scan.scan_chunk(chunk, &mut tile, |query, doc, score| {
                    let best = &mut best[query];
                    let key = score.to_f64();
                    if key >= best.threshold() {
                        best.offer(key, doc);
                    }
                })?;
                Ok::<_, TrainingError>((Ok(best), tile))
            },
        )
        .map(|partial| partial.and_then(|(best, _)| best))
        .try_reduce_with(|mut left, right| {
            for (mine, theirs) in left.iter_mut().zip(&right) {
                mine.absorb(theirs);
            }
            Ok(left)
        })
        .transpose()?;
    for (query, selection) in best.unwrap_or_default().into_iter().enumerate() {
        for (slot, item) in selection.into_sorted().into_iter().enumerate() {
            scores[query * k + slot] = T::from_f64(item.key);
            indices[query * k + slot] = item.index as i64;
        }
    }
    Ok(TopKResult { scores, indices, k })
}
