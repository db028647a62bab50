//! The streaming similarity scan behind `topk` and the miners: queries x corpus similarities
//! computed tile by tile with the crate's GEMM and handed row by row to per-query collectors,
//! so no `Q x M` matrix ever exists (working memory is one tile per task).
//!
//! The task grid (query blocks x corpus chunks) depends only on the problem size, never on the
//! thread count, and every tile is one single-threaded GEMM: each similarity is computed by the
//! same instructions whatever the pool size, so results are identical on any number of threads.

use crate::simd_dispatch;
use rayon::prelude::*;

use crate::alloc::{try_collect, try_vec_with_capacity};
use crate::error::Result;
use crate::float::Float;
use crate::linalg::{gemm_into, zeroed_vec, Accumulate, MatRef, Product, StridedRef};
use crate::pool::check_cancelled;
use crate::validate::ensure_finite_scores;

/// Queries per task (one GEMM panel).
pub const QUERY_BLOCK: usize = 256;
/// Corpus rows per tile: a `QUERY_BLOCK x CORPUS_TILE` f32 tile is 1 MiB, inside L2.
pub const CORPUS_TILE: usize = 1024;
/// The corpus is split so that there are at least this many tasks when the queries are few.
const MIN_TASKS: usize = 16;

/// Receives the similarities of one query against consecutive corpus rows.
pub trait Collector<T: Float>: Send {
    /// `scores[j]` is the similarity with corpus row `start + j`.
    fn visit(&mut self, start: usize, scores: &[T]);
    /// Merges the candidates another collector for the same query saw (another corpus chunk).
    fn absorb(&mut self, other: Self);
}

/// Streams `queries (Q x D)` against `corpus (M x D)`: similarity `q_i . c_j` (times
/// `column_scale[j]` when given), visiting every `(i, j)` exactly once through `make(i)`'s
/// collector. Returns the Q collectors in query order.
///
/// Every tile is checked to be finite before it is visited: the inputs are finite, so a
/// non-finite score is a dot product beyond `T`'s range, refused with
/// [`crate::validate::scores_overflow`] naming `args` (the inputs, e.g. `"queries, corpus"`)
/// instead of reaching a collector as `inf`.
///
/// A strided corpus (Fortran order, a column slice) is read in place: each task packs the
/// tile it multiplies into its own `CORPUS_TILE x D` buffer, so no whole copy is ever made.
pub fn stream_similarities<T, C, F>(
    args: &'static str,
    queries: MatRef<'_, T>,
    corpus: StridedRef<'_, T>,
    column_scale: Option<&[T]>,
    make: F,
) -> Result<Vec<C>>
where
    T: Float,
    C: Collector<T>,
    F: Fn(usize) -> C + Sync,
{
    let num_queries = queries.rows;
    let num_corpus = corpus.rows;
    if num_corpus == 0 {
        return try_collect("queries", num_queries, (0..num_queries).map(&make));
    }
    let (query_blocks, chunks, chunk_rows) = task_grid(num_queries, num_corpus);

    let tasks = try_collect(
        "queries",
        query_blocks * chunks,
        (0..query_blocks).flat_map(|block| (0..chunks).map(move |chunk| (block, chunk))),
    )?;
    let partials = tasks
        .into_par_iter()
        .map(|(block, chunk)| {
            let rows = block * QUERY_BLOCK..((block + 1) * QUERY_BLOCK).min(num_queries);
            let cols = chunk * chunk_rows..((chunk + 1) * chunk_rows).min(num_corpus);
            scan_task(args, queries, corpus, column_scale, rows, cols, &make)
        })
        .collect::<Result<Vec<Vec<C>>>>()?;

    let mut merged = try_vec_with_capacity("queries", num_queries)?;
    let mut partials = partials.into_iter();
    for _ in 0..query_blocks {
        let mut block = partials.next().unwrap_or_default();
        for _ in 1..chunks {
            let other = partials.next().unwrap_or_default();
            for (mine, theirs) in block.iter_mut().zip(other) {
                mine.absorb(theirs);
            }
        }
        merged.extend(block);
    }
    Ok(merged)
}

/// The task grid: `(query blocks, corpus chunks, corpus rows per chunk)` (`num_corpus > 0`).
fn task_grid(num_queries: usize, num_corpus: usize) -> (usize, usize, usize) {
    let query_blocks = num_queries.div_ceil(QUERY_BLOCK);
    let tiles = num_corpus.div_ceil(CORPUS_TILE);
    let chunks = MIN_TASKS.div_ceil(query_blocks.max(1)).clamp(1, tiles);
    let tiles_per_chunk = tiles.div_ceil(chunks);
    let chunks = tiles.div_ceil(tiles_per_chunk);
    (query_blocks, chunks, tiles_per_chunk * CORPUS_TILE)
}

/// Checks, before a scan starts, that the selections it can build fit in memory: each of the
/// `num_queries` collectors of every corpus chunk keeps at most `per_query` candidates of
/// `item_bytes` each (bounded by the chunk's rows), and all of them are alive until merged.
/// Fails with [`crate::TrainingError::OutOfMemory`] naming `arg` (the argument sizing them).
pub fn check_selection_memory(
    arg: &'static str,
    num_queries: usize,
    num_corpus: usize,
    per_query: usize,
    item_bytes: usize,
) -> Result<()> {
    if num_corpus == 0 {
        return Ok(());
    }
    let (_, chunks, chunk_rows) = task_grid(num_queries, num_corpus);
    let kept = per_query
        .min(chunk_rows)
        .saturating_mul(chunks)
        .min(num_corpus);
    let bytes = num_queries
        .checked_mul(kept)
        .and_then(|n| n.checked_mul(item_bytes));
    match bytes {
        Some(bytes) => crate::alloc::probe(arg, bytes),
        None => Err(crate::TrainingError::OutOfMemory {
            arg,
            bytes: usize::MAX,
        }),
    }
}

/// One task: the queries `rows` against the corpus rows `cols`, tile by tile.
fn scan_task<T, C, F>(
    args: &'static str,
    queries: MatRef<'_, T>,
    corpus: StridedRef<'_, T>,
    column_scale: Option<&[T]>,
    rows: std::ops::Range<usize>,
    cols: std::ops::Range<usize>,
    make: &F,
) -> Result<Vec<C>>
where
    T: Float,
    C: Collector<T>,
    F: Fn(usize) -> C,
{
    let block = queries.rows_range(rows.start, rows.end);
    let mut collectors: Vec<C> = try_collect("queries", rows.len(), rows.clone().map(make))?;
    let mut tile = zeroed_vec::<T>("corpus", block.rows * CORPUS_TILE.min(cols.len()))?;
    let mut packed = match corpus.as_contiguous() {
        Some(_) => Vec::new(),
        None => zeroed_vec::<T>("corpus", CORPUS_TILE.min(cols.len()) * corpus.cols)?,
    };
    for start in cols.clone().step_by(CORPUS_TILE) {
        check_cancelled()?;
        let end = (start + CORPUS_TILE).min(cols.end);
        let width = end - start;
        let scores = &mut tile[..block.rows * width];
        let candidates = corpus.rows_into(start, end, &mut packed);
        gemm_into(
            "corpus",
            Product::NT,
            block,
            candidates,
            scores,
            T::ONE,
            Accumulate::Overwrite,
            false,
        )?;
        if let Some(scale) = column_scale {
            for row in scores.chunks_exact_mut(width) {
                scale_columns(row, &scale[start..end]);
            }
        }
        ensure_finite_scores(args, scores)?;
        for (row, collector) in scores.chunks_exact(width).zip(&mut collectors) {
            collector.visit(start, row);
        }
    }
    Ok(collectors)
}

#[simd_dispatch]
fn scale_columns<T: Float>(row: &mut [T], scale: &[T]) {
    for (value, &factor) in row.iter_mut().zip(scale) {
        *value *= factor;
    }
}
