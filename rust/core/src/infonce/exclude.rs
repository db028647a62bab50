//! Candidates removed from an anchor's softmax denominator: false negatives named by ids (the
//! same item as the anchor or as its positive) and those a guide model scores above the
//! positive (GIST). The anchor's own positive is never removed.
//!
//! The dense layouts ask, row by row, for the list of removed columns: ids through a hash index
//! of the candidates (a few entries per row unless the batch repeats items), the guide through
//! one row of a guide-similarity panel computed alongside the logits panel, so memory stays
//! `O(B * D)`.

use std::collections::HashMap;
use std::ops::Range;

use crate::error::Result;
use crate::float::Float;
use crate::linalg::{normalize_rows_into, zeroed_vec, MatRef};
use crate::similarity::similarity_panel;

/// How the guide's threshold is derived from the positive's guide score `s`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MarginStrategy {
    /// Remove candidates scored above `s - margin`.
    Absolute,
    /// Remove candidates scored above `s - |s| * margin` (`s * (1 - margin)` for `s >= 0`), as
    /// sentence-transformers 6.2's GISTEmbedLoss computes it.
    Relative,
}

impl MarginStrategy {
    /// Parses `"absolute"` or `"relative"`; anything else is a value error on
    /// `guide_margin_strategy`.
    pub fn parse(name: &str) -> Result<Self> {
        match name {
            "absolute" => Ok(Self::Absolute),
            "relative" => Ok(Self::Relative),
            other => Err(crate::error::TrainingError::value(
                "guide_margin_strategy",
                format!("expected 'absolute' or 'relative', got '{other}'"),
            )),
        }
    }

    /// The name as users spell it.
    pub fn name(self) -> &'static str {
        match self {
            Self::Absolute => "absolute",
            Self::Relative => "relative",
        }
    }

    /// The guide score above which a candidate is removed, for a positive scored `positive`.
    pub(super) fn threshold(self, positive: f64, margin: f64) -> f64 {
        match self {
            Self::Absolute => positive - margin,
            Self::Relative => positive - positive.abs() * margin,
        }
    }
}

/// One removed column of a logits row: from the row's own softmax (`forward`) and/or from the
/// reverse direction's softmax of that column (`reverse`, symmetric loss, first B columns).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Excluded {
    pub col: usize,
    pub forward: bool,
    pub reverse: bool,
}

/// Cosine-normalised guide embeddings: `queries (B, Dg)` against `candidates (Ng, Dg)`.
pub(super) struct Guide<T> {
    queries: Vec<T>,
    candidates: Vec<T>,
    dim: usize,
    margin: f64,
    strategy: MarginStrategy,
}

impl<T: Float> Guide<T> {
    /// Normalises copies of the guide's query and candidate rows.
    pub fn new(
        queries: MatRef<'_, T>,
        candidates: MatRef<'_, T>,
        margin: f64,
        strategy: MarginStrategy,
    ) -> Result<Self> {
        let mut q = zeroed_vec("guide_anchors", queries.data.len())?;
        normalize_rows_into("guide_anchors", queries, &mut q)?;
        let mut c = zeroed_vec("guide_positives", candidates.data.len())?;
        normalize_rows_into("guide_positives", candidates, &mut c)?;
        Ok(Self {
            queries: q,
            candidates: c,
            dim: queries.cols,
            margin,
            strategy,
        })
    }

    fn query_rows(&self) -> usize {
        self.queries.len() / self.dim
    }

    /// Number of guide candidates (columns of a guide panel).
    pub fn cols(&self) -> usize {
        self.candidates.len() / self.dim
    }

    /// Guide cosine of query `i` and candidate `j` (a dot product of normalised rows).
    pub fn score(&self, i: usize, j: usize) -> f64 {
        let d = self.dim;
        crate::linalg::dot(
            &self.queries[i * d..(i + 1) * d],
            &self.candidates[j * d..(j + 1) * d],
        )
        .to_f64()
    }

    /// Whether a candidate scored `score` is removed when the positive scores `positive`.
    pub fn removes(&self, score: f64, positive: f64) -> bool {
        score > self.strategy.threshold(positive, self.margin)
    }

    /// The guide similarities of query rows `rows` against every guide candidate.
    fn panel(&self, rows: Range<usize>, dst: &mut [T]) -> Result<()> {
        let queries = MatRef::new(&self.queries, self.query_rows(), self.dim);
        let candidates = MatRef::new(&self.candidates, self.cols(), self.dim);
        similarity_panel(
            queries.rows_range(rows.start, rows.end),
            candidates,
            T::ONE,
            dst,
        )
    }
}

/// Ids of the anchors and of every candidate column (`None`: a column without an id).
struct IdIndex<'a> {
    anchor_ids: &'a [i64],
    candidate_ids: Vec<Option<i64>>,
    by_candidate: HashMap<i64, Vec<usize>>,
    by_anchor: HashMap<i64, Vec<usize>>,
}

impl<'a> IdIndex<'a> {
    fn new(anchor_ids: &'a [i64], candidate_ids: Vec<Option<i64>>) -> Self {
        let mut by_candidate: HashMap<i64, Vec<usize>> = HashMap::new();
        for (j, id) in candidate_ids.iter().enumerate() {
            if let Some(id) = id {
                by_candidate.entry(*id).or_default().push(j);
            }
        }
        let mut by_anchor: HashMap<i64, Vec<usize>> = HashMap::new();
        for (i, &id) in anchor_ids.iter().enumerate() {
            by_anchor.entry(id).or_default().push(i);
        }
        Self {
            anchor_ids,
            candidate_ids,
            by_candidate,
            by_anchor,
        }
    }

    fn columns(&self, id: i64) -> &[usize] {
        self.by_candidate.get(&id).map_or(&[], Vec::as_slice)
    }
}

/// Everything that removes candidates in the dense (in-batch / shared) layouts.
pub(super) struct DenseExclusions<'a, T> {
    /// B: the first B columns are the positives (the reverse direction's queries).
    batch: usize,
    symmetric: bool,
    ids: Option<IdIndex<'a>>,
    guide: Option<Guide<T>>,
    /// `guide.score(j, j)` for every j < B (the reverse direction's thresholds).
    guide_positive: Vec<f64>,
}

impl<'a, T: Float> DenseExclusions<'a, T> {
    /// `ids`: the anchors' ids and one (optional) id per candidate column.
    pub fn new(
        batch: usize,
        symmetric: bool,
        ids: Option<(&'a [i64], Vec<Option<i64>>)>,
        guide: Option<Guide<T>>,
    ) -> Self {
        let guide_positive = match (&guide, symmetric) {
            (Some(g), true) => (0..batch).map(|j| g.score(j, j)).collect(),
            _ => Vec::new(),
        };
        Self {
            batch,
            symmetric,
            ids: ids.map(|(a, c)| IdIndex::new(a, c)),
            guide,
            guide_positive,
        }
    }

    /// Elements of one guide panel of `rows` query rows (0 without a guide).
    pub fn guide_panel_len(&self, rows: usize) -> usize {
        self.guide.as_ref().map_or(0, |g| rows * g.cols())
    }

    /// Guide columns (the row length of a guide panel).
    pub fn guide_cols(&self) -> usize {
        self.guide.as_ref().map_or(0, Guide::cols)
    }

    /// Fills `dst` with the guide similarities of rows `rows` (nothing without a guide).
    pub fn guide_panel(&self, rows: Range<usize>, dst: &mut [T]) -> Result<()> {
        match &self.guide {
            Some(g) => g.panel(rows, dst),
            None => Ok(()),
        }
    }

    /// The removed columns of row `i`, sorted by column, into `out`. `guide_row` is row `i` of
    /// the guide panel (when there is a guide).
    pub fn row(&self, i: usize, guide_row: &[T], out: &mut Vec<Excluded>) {
        out.clear();
        let b = self.batch;
        if let Some(ids) = &self.ids {
            let anchor = ids.anchor_ids[i];
            let positive = ids.candidate_ids[i];
            let mut add = |cols: &[usize], forward: bool, reverse: bool| {
                for &col in cols {
                    let reverse = reverse && col < b;
                    if col != i && (forward || reverse) {
                        out.push(Excluded {
                            col,
                            forward,
                            reverse,
                        });
                    }
                }
            };
            // Forward: candidates sharing the positive's or the anchor's id.
            if let Some(positive) = positive {
                add(ids.columns(positive), true, false);
            }
            if positive != Some(anchor) {
                add(ids.columns(anchor), true, self.symmetric);
            } else if self.symmetric {
                add(ids.columns(anchor), false, true);
            }
            // Reverse (query = positive j, candidates = anchors): anchor i is removed from
            // column j when its id equals anchor j's id or positive j's id (the latter is
            // covered above by the columns carrying the anchor's id).
            if self.symmetric {
                if let Some(rows) = ids.by_anchor.get(&anchor) {
                    add(rows, false, true);
                }
            }
        }
        if let Some(guide) = &self.guide {
            let positive = guide_row[i].to_f64();
            for (col, &score) in guide_row.iter().enumerate() {
                if col == i {
                    continue;
                }
                let score = score.to_f64();
                let forward = guide.removes(score, positive);
                let reverse =
                    self.symmetric && col < b && guide.removes(score, self.guide_positive[col]);
                if forward || reverse {
                    out.push(Excluded {
                        col,
                        forward,
                        reverse,
                    });
                }
            }
        }
        merge_sorted(out);
    }
}

/// Sorts by column and merges repeated columns (their flags or-ed).
fn merge_sorted(list: &mut Vec<Excluded>) {
    if list.len() < 2 {
        return;
    }
    list.sort_unstable_by_key(|e| e.col);
    let mut write = 0;
    for read in 1..list.len() {
        if list[read].col == list[write].col {
            list[write].forward |= list[read].forward;
            list[write].reverse |= list[read].reverse;
        } else {
            write += 1;
            list[write] = list[read];
        }
    }
    list.truncate(write + 1);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn duplicates_are_merged() {
        let mut list = vec![
            Excluded {
                col: 3,
                forward: true,
                reverse: false,
            },
            Excluded {
                col: 1,
                forward: false,
                reverse: true,
            },
            Excluded {
                col: 3,
                forward: false,
                reverse: true,
            },
        ];
        merge_sorted(&mut list);
        assert_eq!(list.len(), 2);
        assert_eq!(
            (list[0].col, list[0].forward, list[0].reverse),
            (1, false, true)
        );
        assert_eq!(
            (list[1].col, list[1].forward, list[1].reverse),
            (3, true, true)
        );
    }

    #[test]
    fn ids_remove_repeats_of_anchor_and_positive() {
        // Anchors 0,1,2 with ids 10, 11, 10; positives with ids 20, 20, 21.
        let anchor_ids = [10, 11, 10];
        let candidate_ids = vec![Some(20), Some(20), Some(21), Some(10)];
        let ex = DenseExclusions::<f64>::new(3, true, Some((&anchor_ids, candidate_ids)), None);
        let mut out = Vec::new();
        ex.row(0, &[], &mut out);
        // Forward: column 1 (same id as positive 0), column 3 (anchor 0's id).
        // Reverse: column 2 (anchor 2 has anchor 0's id: anchor 0 leaves positive 2's softmax).
        let got: Vec<_> = out.iter().map(|e| (e.col, e.forward, e.reverse)).collect();
        assert_eq!(
            got,
            vec![(1, true, false), (2, false, true), (3, true, false)]
        );
    }
}
