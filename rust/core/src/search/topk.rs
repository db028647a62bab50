//! Exact top-k search, blocked and streaming: memory `O(Q*k + tiles)` whatever the corpus size.

use super::exclude::{is_excluded, ExcludeLists};
use super::selection::{BestK, Scored};
use super::stream::{check_selection_memory, stream_similarities, Collector};
use super::PreparedSearch;
use crate::alloc::checked_len;
use crate::error::{Result, TrainingError};
use crate::float::Float;
use crate::linalg::{filled_vec, MatRef, StridedRef};
use crate::reduce::max_value;
use crate::types::Similarity;

/// The `k` best corpus rows for every query, `Q x k` row-major.
#[derive(Debug, Clone, PartialEq)]
pub struct TopKResult<T> {
    /// Similarities, best first; `-inf` in padded slots.
    pub scores: Vec<T>,
    /// Corpus indices, best first (ties by lower index); `-1` in padded slots, used when fewer
    /// than `k` corpus rows remain after `exclude`.
    pub indices: Vec<i64>,
    /// `k`, the row length of both arrays.
    pub k: usize,
}

/// Exact `k` nearest corpus rows of every query under `similarity`, sorted by descending
/// similarity with ties broken by the lower index, skipping `exclude`'s indices per query.
///
/// Fails on `k == 0`, a dimension mismatch, or NaN/Inf in either matrix. The corpus may be
/// strided (a `MatRef` converts): it is then read tile by tile, never copied whole.
pub fn topk<'c, T: Float>(
    queries: MatRef<'_, T>,
    corpus: impl Into<StridedRef<'c, T>>,
    k: usize,
    similarity: Similarity,
    exclude: Option<&ExcludeLists>,
) -> Result<TopKResult<T>> {
    let corpus = corpus.into();
    if k == 0 {
        return Err(TrainingError::value("k", "must be >= 1, got 0"));
    }
    PreparedSearch::check_dims("queries", queries, "corpus", corpus)?;
    // Outputs and selections are allocated or checked before any work starts.
    let total = checked_len("k", queries.rows, k)?;
    let mut scores = filled_vec("k", total, T::from_f64(f64::NEG_INFINITY))?;
    let mut indices = filled_vec("k", total, -1i64)?;
    check_selection_memory(
        "k",
        queries.rows,
        corpus.rows,
        k,
        std::mem::size_of::<Scored>(),
    )?;
    let prepared = PreparedSearch::new("queries", queries, "corpus", corpus, similarity)?;
    let empty = ExcludeLists::default();
    let exclude = exclude.unwrap_or(&empty);
    let collectors = stream_similarities(
        prepared.query_matrix(),
        corpus,
        prepared.column_scale.as_deref(),
        |query| TopKCollector {
            best: BestK::new(k.min(corpus.rows)),
            excluded: exclude.row(query),
        },
    )?;
    for (query, collector) in collectors.into_iter().enumerate() {
        for (slot, item) in collector.best.into_sorted().into_iter().enumerate() {
            scores[query * k + slot] = T::from_f64(item.key);
            indices[query * k + slot] = item.index as i64;
        }
    }
    Ok(TopKResult { scores, indices, k })
}

/// Slice length of the cheap "can anything here enter?" test before the exact scan.
pub(crate) const SKIP_CHUNK: usize = 32;

/// Offers `scores` (corpus rows `start..`) to `best` keyed by similarity, keeping only
/// candidates above `floor` that `allows(index, sim)` accepts. Slices whose maximum cannot
/// reach the current threshold are skipped after one vectorised reduction (scores are exact in
/// f64, so the test never skips a candidate that could enter).
pub(crate) fn offer_by_similarity<T: Float>(
    best: &mut BestK,
    start: usize,
    scores: &[T],
    floor: f64,
    allows: impl Fn(usize, f64) -> bool,
) {
    let mut threshold = best.threshold().max(floor);
    for (chunk_index, chunk) in scores.chunks(SKIP_CHUNK).enumerate() {
        if max_value(chunk).to_f64() < threshold {
            continue;
        }
        let base = start + chunk_index * SKIP_CHUNK;
        for (offset, &score) in chunk.iter().enumerate() {
            let sim = score.to_f64();
            if sim >= threshold && allows(base + offset, sim) {
                best.offer(sim, base + offset);
                threshold = best.threshold().max(floor);
            }
        }
    }
}

struct TopKCollector<'a> {
    best: BestK,
    excluded: &'a [usize],
}

impl<T: Float> Collector<T> for TopKCollector<'_> {
    fn visit(&mut self, start: usize, scores: &[T]) {
        let excluded = self.excluded;
        offer_by_similarity(
            &mut self.best,
            start,
            scores,
            f64::NEG_INFINITY,
            |index, _| !is_excluded(excluded, index),
        );
    }

    fn absorb(&mut self, other: Self) {
        self.best.absorb(&other.best);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lcg_matrix(rows: usize, cols: usize, seed: u64) -> Vec<f32> {
        let mut state = seed;
        (0..rows * cols)
            .map(|_| {
                state = state
                    .wrapping_mul(6364136223846793005)
                    .wrapping_add(1442695040888963407);
                ((state >> 40) % 7) as f32 - 3.0
            })
            .collect()
    }

    fn brute_force(q: &[f32], c: &[f32], d: usize, k: usize, skip: &[Vec<i64>]) -> Vec<i64> {
        let rows = q.len() / d;
        let m = c.len() / d;
        let mut out = Vec::new();
        for i in 0..rows {
            let mut order: Vec<usize> = (0..m)
                .filter(|&j| !skip.get(i).is_some_and(|s| s.contains(&(j as i64))))
                .collect();
            let score = |j: usize| -> f32 { (0..d).map(|t| q[i * d + t] * c[j * d + t]).sum() };
            order.sort_by(|&a, &b| score(b).partial_cmp(&score(a)).unwrap().then(a.cmp(&b)));
            for slot in 0..k {
                out.push(order.get(slot).map_or(-1, |&j| j as i64));
            }
        }
        out
    }

    #[test]
    fn dot_topk_with_many_ties_equals_brute_force_across_tiles_and_chunks() {
        let d = 3;
        let (q_rows, c_rows) = (300, 2500);
        let q = lcg_matrix(q_rows, d, 1);
        let c = lcg_matrix(c_rows, d, 2);
        for k in [1, 5, 40] {
            let got = topk(
                MatRef::new(&q, q_rows, d),
                MatRef::new(&c, c_rows, d),
                k,
                Similarity::Dot,
                None,
            )
            .unwrap();
            assert_eq!(got.indices, brute_force(&q, &c, d, k, &[]), "k={k}");
        }
    }

    #[test]
    fn exclusions_and_small_corpora_pad_with_minus_one() {
        let d = 2;
        let q = vec![1.0f32, 0.0, 0.0, 1.0];
        let c = vec![1.0f32, 0.0, 0.5, 0.5, 0.0, 1.0];
        let skip = vec![vec![0i64], vec![2, 1]];
        let lists = ExcludeLists::new("exclude", &skip, 2, 3).unwrap();
        let got = topk(
            MatRef::new(&q, 2, d),
            MatRef::new(&c, 3, d),
            4,
            Similarity::Cosine,
            Some(&lists),
        )
        .unwrap();
        assert_eq!(got.indices, vec![1, 2, -1, -1, 0, -1, -1, -1]);
        assert!((got.scores[0] - 0.5f32.sqrt()).abs() < 1e-6);
        assert_eq!(got.scores[2], f32::NEG_INFINITY);
    }

    #[test]
    fn bad_arguments_are_errors() {
        let q = vec![1.0f32, 0.0];
        let c = vec![1.0f32, 0.0, 1.0];
        let err = topk(
            MatRef::new(&q, 1, 2),
            MatRef::new(&c, 1, 3),
            1,
            Similarity::Dot,
            None,
        )
        .unwrap_err();
        assert!(err.to_string().starts_with("corpus: expected shape (M, 2)"));
        let err = topk(
            MatRef::new(&q, 1, 2),
            MatRef::new(&q, 1, 2),
            0,
            Similarity::Dot,
            None,
        )
        .unwrap_err();
        assert_eq!(err.to_string(), "k: must be >= 1, got 0");
    }
}
