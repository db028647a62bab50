//! [`HardNegativeMiner`]: hardest / semi-hard / sampled negatives from a pool, in one streaming
//! pass, with label-aware false-negative exclusion and similarity filters.

use super::sampling::{distance_log_weight, gumbel, gumbel_bits_floor, AnchorStream};
use crate::alloc::{checked_len, try_collect};
use crate::error::{Result, TrainingError};
use crate::float::Float;
use crate::linalg::{dot, filled_vec, scaled_dot, MatRef, RowNorm, StridedRef, NORM_EPS};
use crate::reduce::{max_value, min_value};
use crate::search::exclude::{is_excluded, ExcludeLists};
use crate::search::stream::{check_selection_memory, stream_similarities, Collector};
use crate::search::{offer_by_similarity, BestK, PreparedSearch, Scored, SKIP_CHUNK};
use crate::types::Similarity;
use crate::validate::format_shape;

/// How the negatives of an anchor are chosen among its candidates.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Strategy {
    /// The K most similar candidates.
    Hardest,
    /// Candidates with `sim(a,p) - margin < sim(a,n) < sim(a,p)`, most similar first.
    SemiHard,
    /// K sampled without replacement with probability proportional to `exp(alpha * sim)`.
    Weighted,
    /// Wu et al. (2017): weights `1 / q(d)` on unit vectors (distance clipped below at
    /// `cutoff`, zero from `nonzero_loss_cutoff` on).
    DistanceWeighted,
    /// K uniformly without replacement.
    Random,
    /// `round(K * hard_ratio)` hardest, the rest uniformly from the remaining candidates.
    Mixed,
}

impl Strategy {
    /// Every accepted name, in the order `docs/search-and-mining.md` lists them.
    pub const NAMES: [&'static str; 6] = [
        "hardest",
        "semi_hard",
        "weighted",
        "distance_weighted",
        "random",
        "mixed",
    ];

    /// Parses a strategy name; anything else is a [`TrainingError::Value`] on `strategy`.
    pub fn parse(name: &str) -> Result<Self> {
        Ok(match name {
            "hardest" => Self::Hardest,
            "semi_hard" => Self::SemiHard,
            "weighted" => Self::Weighted,
            "distance_weighted" => Self::DistanceWeighted,
            "random" => Self::Random,
            "mixed" => Self::Mixed,
            other => {
                return Err(TrainingError::value(
                    "strategy",
                    format!(
                        "unknown strategy {other:?}; expected one of {:?}",
                        Self::NAMES
                    ),
                ))
            }
        })
    }

    /// The strategy's name.
    pub fn name(self) -> &'static str {
        Self::NAMES[self as usize]
    }
}

/// Configuration of the pool miner (field docs below; defaults in `docs/search-and-mining.md`).
#[derive(Debug, Clone, PartialEq)]
pub struct HardNegativeMiner {
    /// Selection rule.
    pub strategy: Strategy,
    /// K, negatives per anchor (>= 1).
    pub num_negatives: usize,
    /// Width of the semi-hard band (>= 0).
    pub margin: f64,
    /// Inverse temperature of `weighted` sampling (finite; 0 is uniform).
    pub alpha: f64,
    /// Share of hardest negatives in `mixed`, in [0, 1].
    pub hard_ratio: f64,
    /// With positives: drop candidates with `sim > sim(a,p) - relative_margin * |sim(a,p)|`.
    pub relative_margin: Option<f64>,
    /// Drop candidates with `sim > max_similarity`.
    pub max_similarity: Option<f64>,
    /// Similarity the ranking and the filters use.
    pub similarity: Similarity,
    /// Seed of the sampling strategies.
    pub seed: u64,
    /// `distance_weighted`: distances below this weigh as this (0.5, as Wu et al.).
    pub cutoff: f64,
    /// `distance_weighted`: candidates at this distance or more get weight 0 (1.4).
    pub nonzero_loss_cutoff: f64,
}

impl Default for HardNegativeMiner {
    fn default() -> Self {
        Self {
            strategy: Strategy::Hardest,
            num_negatives: 5,
            margin: 0.2,
            alpha: 1.0,
            hard_ratio: 0.5,
            relative_margin: None,
            max_similarity: None,
            similarity: Similarity::Cosine,
            seed: 0,
            cutoff: 0.5,
            nonzero_loss_cutoff: 1.4,
        }
    }
}

/// What [`HardNegativeMiner::mine`] reads: anchors `(B, D)`, the pool `(M, D)`, and optionally
/// positives `(B, D)`, labels `(B,)` / `(M,)` and per-anchor exclusions.
#[derive(Debug, Clone, Copy)]
pub struct MiningInputs<'a, T> {
    /// Anchors, one per row.
    pub anchors: MatRef<'a, T>,
    /// The pool negatives are drawn from (strided pools are read tile by tile, never copied).
    pub pool: StridedRef<'a, T>,
    /// One positive per anchor (needed by `semi_hard` and `relative_margin`).
    pub positives: Option<MatRef<'a, T>>,
    /// Class of each anchor; a pool item of the same class is never a negative.
    pub anchor_labels: Option<&'a [i64]>,
    /// Class of each pool item.
    pub pool_labels: Option<&'a [i64]>,
    /// Pool indices each anchor must never get.
    pub exclude: Option<&'a ExcludeLists>,
}

impl HardNegativeMiner {
    /// Checks the configuration (ranges of every numeric field).
    pub fn validate(&self) -> Result<()> {
        if self.num_negatives == 0 {
            return Err(TrainingError::value("num_negatives", "must be >= 1, got 0"));
        }
        let finite_non_negative = |arg: &'static str, v: f64| {
            if v.is_finite() && v >= 0.0 {
                Ok(())
            } else {
                Err(TrainingError::value(
                    arg,
                    format!("must be finite and >= 0, got {v}"),
                ))
            }
        };
        finite_non_negative("margin", self.margin)?;
        if let Some(rm) = self.relative_margin {
            finite_non_negative("relative_margin", rm)?;
        }
        if !self.alpha.is_finite() {
            return Err(TrainingError::value(
                "alpha",
                format!("must be finite, got {}", self.alpha),
            ));
        }
        if !(0.0..=1.0).contains(&self.hard_ratio) {
            return Err(TrainingError::value(
                "hard_ratio",
                format!("must be in [0, 1], got {}", self.hard_ratio),
            ));
        }
        if let Some(max) = self.max_similarity {
            if max.is_nan() {
                return Err(TrainingError::value("max_similarity", "must not be NaN"));
            }
        }
        if self.strategy == Strategy::DistanceWeighted && self.similarity != Similarity::Cosine {
            return Err(TrainingError::value(
                "similarity",
                "distance_weighted sampling is defined on unit vectors: use similarity=\"cosine\"",
            ));
        }
        Ok(())
    }

    /// Mines `num_negatives` pool indices per anchor: `B x K` row-major, `-1` where fewer
    /// candidates qualify; never a duplicate, an excluded item or a same-label item.
    pub fn mine<T: Float>(&self, inputs: &MiningInputs<'_, T>) -> Result<Vec<i64>> {
        self.validate()?;
        let rows = inputs.anchors.rows;
        PreparedSearch::check_dims("anchors", inputs.anchors, "pool", inputs.pool)?;
        // The output and the selections are allocated or checked before any work starts.
        let k = self.num_negatives;
        let mut out = filled_vec(
            "num_negatives",
            checked_len("num_negatives", rows, k)?,
            -1i64,
        )?;
        let plan = SelectionPlan::new(self, inputs.anchors.cols);
        check_selection_memory(
            "num_negatives",
            rows,
            inputs.pool.rows,
            plan.primary_size.saturating_add(plan.random_size),
            std::mem::size_of::<Scored>(),
        )?;
        let prepared = PreparedSearch::new(
            "anchors",
            inputs.anchors,
            "pool",
            inputs.pool,
            self.similarity,
        )?;
        let positive_scores = self.positive_similarities(inputs, &prepared)?;
        let (anchor_labels, pool_labels) = check_labels(inputs, rows)?;
        let empty = ExcludeLists::default();
        let exclude = inputs.exclude.unwrap_or(&empty);
        let collectors = stream_similarities(
            prepared.query_matrix(),
            inputs.pool,
            prepared.column_scale.as_deref(),
            |anchor| MinerCollector {
                plan: &plan,
                filter: CandidateFilter {
                    band: self.band(positive_scores.as_ref().map(|s| s[anchor])),
                    label: anchor_labels.map(|labels| labels[anchor]),
                    pool_labels,
                    excluded: exclude.row(anchor),
                },
                primary: BestK::new(plan.primary_size),
                random: BestK::new(plan.random_size),
                stream: AnchorStream::new(self.seed, anchor, plan.salt),
                floors: FloorCache::default(),
                random_floors: FloorCache::default(),
            },
        )?;
        for (anchor, collector) in collectors.into_iter().enumerate() {
            for (slot, index) in collector.finish(k).into_iter().enumerate() {
                out[anchor * k + slot] = index as i64;
            }
        }
        Ok(out)
    }

    /// `sim(a_i, p_i)` per anchor when positives are given (required by `semi_hard` and
    /// `relative_margin`).
    fn positive_similarities<T: Float>(
        &self,
        inputs: &MiningInputs<'_, T>,
        prepared: &PreparedSearch<'_, T>,
    ) -> Result<Option<Vec<f64>>> {
        let Some(positives) = inputs.positives else {
            if self.strategy == Strategy::SemiHard {
                return Err(TrainingError::value(
                    "positives",
                    "the semi_hard strategy needs positives (its band is relative to sim(a, p))",
                ));
            }
            if self.relative_margin.is_some() {
                return Err(TrainingError::value(
                    "positives",
                    "relative_margin filters relative to sim(a, p): pass positives",
                ));
            }
            return Ok(None);
        };
        let anchors = inputs.anchors;
        if positives.rows != anchors.rows || positives.cols != anchors.cols {
            return Err(TrainingError::shape(
                "positives",
                format!(
                    "expected shape {} like anchors, got {}",
                    format_shape(&[anchors.rows, anchors.cols]),
                    format_shape(&[positives.rows, positives.cols])
                ),
            ));
        }
        crate::validate::ensure_finite("positives", positives.data)?;
        let unit_anchor = |i: usize| &prepared.queries[i * anchors.cols..(i + 1) * anchors.cols];
        Ok(Some(try_collect(
            "positives",
            anchors.rows,
            (0..anchors.rows).map(|i| {
                let p = positives.row(i);
                match self.similarity {
                    Similarity::Dot => dot(unit_anchor(i), p).to_f64(),
                    Similarity::Cosine => {
                        // The anchor row is already unit: only the positive's norm is
                        // divided out, overflow-free (see RowNorm).
                        let norm = RowNorm::of(p);
                        let raw = scaled_dot(unit_anchor(i), T::ONE, p, norm.scale).to_f64();
                        if norm.scale == T::ONE {
                            raw / dot(p, p).to_f64().sqrt().max(NORM_EPS)
                        } else {
                            raw / norm.divisor.to_f64()
                        }
                    }
                }
            }),
        )?))
    }

    /// The similarity band an anchor's candidates must fall in.
    fn band(&self, positive: Option<f64>) -> Band {
        let mut band = Band {
            above: f64::NEG_INFINITY,
            below: f64::INFINITY,
            at_most: self.max_similarity.unwrap_or(f64::INFINITY),
        };
        if let (Some(rm), Some(sp)) = (self.relative_margin, positive) {
            band.at_most = band.at_most.min(sp - rm * sp.abs());
        }
        match self.strategy {
            Strategy::SemiHard => {
                let sp = positive.unwrap_or(f64::INFINITY);
                band.above = sp - self.margin;
                band.below = sp;
            }
            Strategy::DistanceWeighted => {
                // d < nonzero_loss_cutoff  <=>  sim > 1 - cutoff^2 / 2 on unit vectors.
                band.above = 1.0 - 0.5 * self.nonzero_loss_cutoff * self.nonzero_loss_cutoff;
            }
            _ => {}
        }
        band
    }
}

/// Anchor and pool labels, both present or both absent.
type LabelPair<'a> = (Option<&'a [i64]>, Option<&'a [i64]>);

/// Validates the label arrays: both or neither, with one label per anchor / pool row.
fn check_labels<'a, T>(inputs: &MiningInputs<'a, T>, rows: usize) -> Result<LabelPair<'a>> {
    match (inputs.anchor_labels, inputs.pool_labels) {
        (None, None) => Ok((None, None)),
        (Some(anchor), Some(pool)) => {
            if anchor.len() != rows {
                return Err(TrainingError::shape(
                    "anchor_labels",
                    format!(
                        "expected shape ({rows},), one label per anchor, got ({},)",
                        anchor.len()
                    ),
                ));
            }
            if pool.len() != inputs.pool.rows {
                return Err(TrainingError::shape(
                    "pool_labels",
                    format!(
                        "expected shape ({},), one label per pool row, got ({},)",
                        inputs.pool.rows,
                        pool.len()
                    ),
                ));
            }
            Ok((Some(anchor), Some(pool)))
        }
        (Some(_), None) => Err(TrainingError::value(
            "pool_labels",
            "anchor_labels were given without pool_labels; pass both or neither",
        )),
        (None, Some(_)) => Err(TrainingError::value(
            "anchor_labels",
            "pool_labels were given without anchor_labels; pass both or neither",
        )),
    }
}

/// Allowed similarities: `above < sim < below` and `sim <= at_most`.
#[derive(Debug, Clone, Copy)]
struct Band {
    above: f64,
    below: f64,
    at_most: f64,
}

impl Band {
    #[inline]
    fn contains(&self, sim: f64) -> bool {
        sim > self.above && sim < self.below && sim <= self.at_most
    }
}

/// Everything that decides whether pool item `j` is a candidate for one anchor.
struct CandidateFilter<'a> {
    band: Band,
    label: Option<i64>,
    pool_labels: Option<&'a [i64]>,
    excluded: &'a [usize],
}

impl CandidateFilter<'_> {
    #[inline]
    fn allows(&self, index: usize, sim: f64) -> bool {
        self.band.contains(sim)
            && !matches!((self.label, self.pool_labels), (Some(l), Some(p)) if p[index] == l)
            && !is_excluded(self.excluded, index)
    }
}

/// How the primary selection is keyed.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Key {
    /// By similarity.
    Similarity,
    /// By Gumbel-perturbed log-weight `alpha * sim + G`.
    Weighted(f64),
    /// By Gumbel-perturbed Wu et al. log-weight (dimension, cutoff).
    DistanceWeighted(usize, f64),
    /// By a Gumbel variate alone (uniform sampling).
    Uniform,
}

/// The per-strategy selection layout, shared by every anchor.
struct SelectionPlan {
    primary: Key,
    primary_size: usize,
    /// `mixed`: size of the uniform selection taken alongside the hardest ones.
    random_size: usize,
    salt: u64,
    /// `distance_weighted`: log-weight bounds per similarity interval.
    distance_table: Option<DistanceWeightTable>,
}

impl SelectionPlan {
    fn new(miner: &HardNegativeMiner, dim: usize) -> Self {
        let k = miner.num_negatives;
        let (primary, primary_size, random_size) = match miner.strategy {
            Strategy::Hardest | Strategy::SemiHard => (Key::Similarity, k, 0),
            Strategy::Weighted => (Key::Weighted(miner.alpha), k, 0),
            Strategy::DistanceWeighted => (Key::DistanceWeighted(dim, miner.cutoff), k, 0),
            Strategy::Random => (Key::Uniform, k, 0),
            Strategy::Mixed => {
                let hardest = round_half_even(k as f64 * miner.hard_ratio).min(k);
                // The uniform part is the best k uniform keys minus the hardest ones: at most
                // `hardest` of them can coincide, so k keys always leave enough.
                (Key::Similarity, hardest, if hardest < k { k } else { 0 })
            }
        };
        Self {
            primary,
            primary_size,
            random_size,
            salt: miner.strategy as u64,
            distance_table: (miner.strategy == Strategy::DistanceWeighted).then(|| {
                let lowest = 1.0 - 0.5 * miner.nonzero_loss_cutoff * miner.nonzero_loss_cutoff;
                DistanceWeightTable::new(dim, miner.cutoff, lowest)
            }),
        }
    }
}

/// Python's `round`: halves go to the even neighbour.
fn round_half_even(x: f64) -> usize {
    let floor = x.floor();
    let diff = x - floor;
    let rounded = if diff > 0.5 || (diff == 0.5 && floor % 2.0 != 0.0) {
        floor + 1.0
    } else {
        floor
    };
    rounded.max(0.0) as usize
}

/// One anchor's selections during the pass.
struct MinerCollector<'a> {
    plan: &'a SelectionPlan,
    filter: CandidateFilter<'a>,
    primary: BestK,
    /// `mixed` only: uniform keys over every candidate.
    random: BestK,
    stream: AnchorStream,
    /// Bits floors of `primary` and `random` (kept across tiles).
    floors: FloorCache,
    random_floors: FloorCache,
}

impl MinerCollector<'_> {
    /// The final `<= k` indices: the primary selection, then (for `mixed`) the best uniform
    /// picks that are not already among the hardest.
    fn finish(self, k: usize) -> Vec<usize> {
        let mut chosen: Vec<usize> = self
            .primary
            .into_sorted()
            .into_iter()
            .map(|s| s.index)
            .collect();
        if self.plan.random_size > 0 {
            let hardest = chosen.clone();
            for pick in self.random.into_sorted() {
                if chosen.len() >= k {
                    break;
                }
                if !hardest.contains(&pick.index) {
                    chosen.push(pick.index);
                }
            }
        }
        chosen.truncate(k);
        chosen
    }
}

/// A Gumbel-keyed scan for one anchor: what it reads besides the selection it fills.
struct SampleScan<'a, 'f> {
    filter: &'a CandidateFilter<'f>,
    stream: &'a AnchorStream,
    plan: &'a SelectionPlan,
    key: Key,
}

impl SampleScan<'_, '_> {
    /// The log-weight of a candidate with similarity `sim`.
    fn log_weight(&self, sim: f64) -> f64 {
        match self.key {
            Key::Weighted(alpha) => alpha * sim,
            Key::DistanceWeighted(dim, cutoff) => distance_log_weight(sim, dim, cutoff),
            Key::Similarity | Key::Uniform => 0.0,
        }
    }

    /// An upper bound of the log-weight over a slice of similarities.
    fn bound<T: Float>(&self, chunk: &[T]) -> f64 {
        match self.key {
            Key::Weighted(alpha) => {
                let extreme = if alpha >= 0.0 {
                    max_value(chunk)
                } else {
                    min_value(chunk)
                };
                coarse_upper(alpha * extreme.to_f64())
            }
            Key::DistanceWeighted(..) => match &self.plan.distance_table {
                Some(table) => table.bound(min_value(chunk).to_f64(), max_value(chunk).to_f64()),
                None => f64::INFINITY,
            },
            Key::Similarity | Key::Uniform => 0.0,
        }
    }

    /// Offers every allowed candidate of `scores` (pool rows `start..`) to `selection` keyed
    /// by `log_weight(sim) + Gumbel`: a slice whose random bits cannot lift any key above the
    /// current threshold is skipped after hashing only.
    fn run<T: Float>(
        &self,
        selection: &mut BestK,
        floors: &mut FloorCache,
        start: usize,
        scores: &[T],
    ) {
        for (chunk_index, chunk) in scores.chunks(SKIP_CHUNK).enumerate() {
            let base = start + chunk_index * SKIP_CHUNK;
            let mut threshold = selection.threshold();
            let bound = if threshold == f64::NEG_INFINITY {
                f64::INFINITY
            } else {
                self.bound(chunk)
            };
            let mut floor = floors.get(threshold, bound);
            if floor.is_some_and(|floor| max_bits(self.stream, base, chunk.len()) <= floor) {
                continue;
            }
            for (offset, &score) in chunk.iter().enumerate() {
                let index = base + offset;
                let bits = self.stream.bits(index);
                if floor.is_some_and(|floor| bits <= floor) {
                    continue;
                }
                let sim = score.to_f64();
                if !self.filter.allows(index, sim) {
                    continue;
                }
                let key = self.log_weight(sim) + gumbel(bits);
                if key >= threshold {
                    selection.offer(key, index);
                    threshold = selection.threshold();
                    let bound = if threshold == f64::NEG_INFINITY {
                        f64::INFINITY
                    } else {
                        self.bound(chunk)
                    };
                    floor = floors.get(threshold, bound);
                }
            }
        }
    }
}

/// Recently computed bits floors, direct-mapped by bound (a slice's bound takes few distinct
/// values), each valid for the threshold it was computed at.
#[derive(Default)]
struct FloorCache {
    slots: [Option<(f64, f64, Option<u64>)>; 16],
}

impl FloorCache {
    /// Bits at or below the result cannot lift a key with log-weight `<= bound` above
    /// `threshold` (`None`: nothing can be skipped).
    fn get(&mut self, threshold: f64, bound: f64) -> Option<u64> {
        if threshold == f64::NEG_INFINITY || bound == f64::INFINITY {
            return None;
        }
        let slot = (super::sampling::mix64(bound.to_bits()) & 15) as usize;
        if let Some((t, b, floor)) = self.slots[slot] {
            if t == threshold && b == bound {
                return floor;
            }
        }
        let floor = gumbel_bits_floor(threshold - bound);
        self.slots[slot] = Some((threshold, bound, floor));
        floor
    }
}

/// Rounds a log-weight bound up to a multiple of 1/8 (so equal bounds repeat and cache).
fn coarse_upper(bound: f64) -> f64 {
    (bound * 8.0).ceil() / 8.0
}

/// Upper bounds of the distance-weighted log-weight over similarity intervals: the log-weight
/// at grid points `s = -1 + i / DW_GRID`, with similarities clamped to the allowed band.
struct DistanceWeightTable {
    values: Vec<f64>,
}

const DW_GRID: f64 = 128.0;

impl DistanceWeightTable {
    fn new(dim: usize, cutoff: f64, lowest_allowed: f64) -> Self {
        let values = (0..=2 * DW_GRID as usize)
            .map(|i| {
                let sim = (-1.0 + i as f64 / DW_GRID).max(lowest_allowed).min(1.0);
                distance_log_weight(sim, dim, cutoff)
            })
            .collect();
        Self { values }
    }

    /// An upper bound of the log-weight over `[low, high]`: 1/q(d) has a single minimum, so
    /// over the enclosing grid interval its maximum is at one of the two ends.
    fn bound(&self, low: f64, high: f64) -> f64 {
        let last = self.values.len() - 1;
        let to_index = |s: f64| ((s + 1.0) * DW_GRID).clamp(0.0, last as f64);
        let lo = to_index(low).floor() as usize;
        let hi = to_index(high).ceil() as usize;
        self.values[lo].max(self.values[hi])
    }
}

/// The largest random value of items `base..base + len`, hashed in a vectorisable loop.
#[multiversion::multiversion(targets(
    "x86_64+avx512f+avx512vl+avx512dq+avx2+fma",
    "x86_64+avx2+fma"
))]
fn max_bits(stream: &AnchorStream, base: usize, len: usize) -> u64 {
    let mut best = 0u64;
    for offset in 0..len {
        best = best.max(stream.bits(base + offset));
    }
    best
}

impl<T: Float> Collector<T> for MinerCollector<'_> {
    fn visit(&mut self, start: usize, scores: &[T]) {
        let scan = |key| SampleScan {
            filter: &self.filter,
            stream: &self.stream,
            plan: self.plan,
            key,
        };
        match self.plan.primary {
            Key::Similarity => {
                let filter = &self.filter;
                offer_by_similarity(
                    &mut self.primary,
                    start,
                    scores,
                    filter.band.above,
                    |i, sim| filter.allows(i, sim),
                );
            }
            key => scan(key).run(&mut self.primary, &mut self.floors, start, scores),
        }
        if self.plan.random_size > 0 {
            scan(Key::Uniform).run(&mut self.random, &mut self.random_floors, start, scores);
        }
    }

    fn absorb(&mut self, other: Self) {
        self.primary.absorb(&other.primary);
        self.random.absorb(&other.random);
    }
}
