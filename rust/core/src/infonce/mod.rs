//! InfoNCE (NT-Xent / MultipleNegativesRankingLoss) with exact gradients for every input.
//!
//! For anchor `i` with candidate set `C_i` (its positive first), `s_ij = sim(a_i, c_j) / tau`
//! and `loss_i = logsumexp_j s_ij - s_i,pos`. Three candidate layouts are supported:
//! in-batch (every row's positive), per-row negatives (`(B, K, D)`, each anchor sees its own),
//! and shared negatives (in-batch plus every row's negatives). `symmetric` averages with the
//! positives-as-queries direction. See `docs/losses.md`.

mod dense;
mod exclude;
mod per_row;

pub(crate) use dense::{exp_shifted_in_place, scale_in_place};
pub use exclude::MarginStrategy;
use exclude::{DenseExclusions, Guide};

use std::borrow::Cow;

use crate::error::{Result, TrainingError};
use crate::float::Float;
use crate::linalg::{filled_vec, normalize_rows_backward, normalize_rows_into, MatRef, RowNorm};
use crate::reduce::ordered_sum;
use crate::similarity::PanelPlan;
use crate::types::{NegativesRef, Reduction, Similarity};
use crate::validate::{
    ensure_finite, ensure_positive, format_number, format_shape, scores_overflow,
};
use crate::workspace::Workspace;

/// Default memory budget for keeping the whole logits matrix (256 MiB).
pub const DEFAULT_LOGITS_BUDGET_BYTES: usize = 256 << 20;

/// One batch of InfoNCE input.
#[derive(Debug, Clone, Copy)]
pub struct InfoNceBatch<'a, T> {
    /// `(B, D)` queries.
    pub anchors: MatRef<'a, T>,
    /// `(B, D)`: row `i` is the positive of anchor `i`.
    pub positives: MatRef<'a, T>,
    /// Optional `(B, K, D)` negatives.
    pub negatives: Option<NegativesRef<'a, T>>,
    /// `None`: in-batch exactly when there are no explicit negatives. `Some(true)` with negatives
    /// selects the shared layout; `Some(false)` without negatives is an error.
    pub in_batch: Option<bool>,
}

/// Integer ids of the items behind the anchors and the candidates, for false-negative masking.
#[derive(Debug, Clone, Copy)]
pub struct InfoNceIds<'a> {
    /// `(B,)`: the id of each anchor.
    pub anchor_ids: &'a [i64],
    /// One id per candidate in the layout's order, row-major.
    pub candidate_ids: &'a [i64],
    /// The shape `candidate_ids` was given with: `(B + B*K,)` for the in-batch and shared
    /// layouts (positives then negatives), `(B, 1 + K)` for per-row negatives.
    pub candidate_shape: &'a [usize],
}

/// A guide model's embeddings of the same texts, in the layout of the student's inputs (GIST).
#[derive(Debug, Clone, Copy)]
pub struct GuideRef<'a, T> {
    /// `(B, Dg)`.
    pub anchors: MatRef<'a, T>,
    /// `(B, Dg)`.
    pub positives: MatRef<'a, T>,
    /// `(B, K, Dg)`, exactly when the student has negatives.
    pub negatives: Option<NegativesRef<'a, T>>,
}

/// Past embeddings used as extra negatives without gradient (a MoCo-style queue).
#[derive(Debug, Clone, Copy)]
pub struct QueueRef<'a, T> {
    /// `(Q, D)` embeddings.
    pub embeddings: MatRef<'a, T>,
    /// One optional id per entry: an entry whose id equals the anchor's or its positive's id
    /// is removed from that anchor's denominator (needs [`InfoNceIds`]).
    pub ids: Option<&'a [Option<i64>]>,
}

/// Optional inputs of one forward pass that remove or add negatives; none of them gets a
/// gradient. With all of them `None` the loss is exactly that of [`InfoNceLoss::forward`].
#[derive(Debug, Clone, Copy)]
pub struct InfoNceExtras<'a, T> {
    /// Ids for false-negative masking.
    pub ids: Option<InfoNceIds<'a>>,
    /// Guide embeddings for GIST filtering.
    pub guide: Option<GuideRef<'a, T>>,
    /// Extra negatives.
    pub queue: Option<QueueRef<'a, T>>,
}

impl<T> Default for InfoNceExtras<'_, T> {
    fn default() -> Self {
        Self {
            ids: None,
            guide: None,
            queue: None,
        }
    }
}

impl<T> InfoNceExtras<'_, T> {
    fn is_empty(&self) -> bool {
        self.ids.is_none()
            && self.guide.is_none()
            && self.queue.as_ref().is_none_or(|q| q.embeddings.rows == 0)
    }
}

/// Loss value and gradients of one forward pass.
#[derive(Debug, Clone)]
pub struct InfoNceOutput<T> {
    /// Per-row losses (for `symmetric`, the average of both directions for that row).
    pub row_losses: Vec<f64>,
    /// The reduced loss (`mean` or `sum`; for `none`, the sum, whose gradient is returned).
    pub loss: f64,
    /// Gradient w.r.t. the anchors, `(B, D)` row-major.
    pub grad_anchors: Vec<T>,
    /// Gradient w.r.t. the positives, `(B, D)` row-major.
    pub grad_positives: Vec<T>,
    /// Gradient w.r.t. the negatives, `(B, K, D)` row-major, when negatives were given.
    pub grad_negatives: Option<Vec<T>>,
}

/// InfoNCE configuration. All fields may be changed between calls (schedulers do).
#[derive(Debug, Clone, PartialEq)]
pub struct InfoNceLoss {
    /// Softmax temperature `tau > 0`.
    pub temperature: f64,
    /// Similarity function.
    pub similarity: Similarity,
    /// Average with the positives-as-queries direction (in-batch layouts only).
    pub symmetric: bool,
    /// How per-row losses are combined.
    pub reduction: Reduction,
    /// Largest logits matrix kept whole, in bytes; above it the kernel streams panels.
    pub logits_budget_bytes: usize,
    /// GIST margin (`>= 0`).
    pub guide_margin: f64,
    /// How the guide's threshold is derived from the positive's guide score.
    pub guide_margin_strategy: MarginStrategy,
}

impl Default for InfoNceLoss {
    fn default() -> Self {
        Self {
            temperature: 0.07,
            similarity: Similarity::Cosine,
            symmetric: false,
            reduction: Reduction::Mean,
            logits_budget_bytes: DEFAULT_LOGITS_BUDGET_BYTES,
            guide_margin: 0.0,
            guide_margin_strategy: MarginStrategy::Absolute,
        }
    }
}

/// Which candidates each anchor is contrasted with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Layout {
    /// Every row's positive.
    InBatch,
    /// The row's positive and its own K negatives.
    PerRow,
    /// In-batch plus every row's negatives.
    Shared,
}

impl Layout {
    /// The layout selected by the presence of explicit negatives and `in_batch`, checked against
    /// `symmetric` (which needs an in-batch layout).
    pub(crate) fn resolve(
        has_negatives: bool,
        in_batch: Option<bool>,
        symmetric: bool,
    ) -> Result<Self> {
        let layout = match (has_negatives, in_batch) {
            (false, None | Some(true)) => Layout::InBatch,
            (false, Some(false)) => {
                return Err(TrainingError::value(
                    "in_batch",
                    "in_batch=False without negatives leaves no candidates to contrast; pass negatives or use in_batch=True",
                ))
            }
            (true, None | Some(false)) => Layout::PerRow,
            (true, Some(true)) => Layout::Shared,
        };
        if symmetric && layout == Layout::PerRow {
            return Err(TrainingError::value(
                "symmetric",
                "symmetric=True needs the in-batch layout; with per-row negatives pass in_batch=True (shared negatives) or symmetric=False",
            ));
        }
        Ok(layout)
    }
}

/// Scalars every kernel needs.
#[derive(Debug, Clone, Copy)]
struct KernelParams {
    inv_temperature: f64,
    /// d(reduced loss) / d(loss_i): `1/B` for mean, 1 otherwise.
    row_weight: f64,
    symmetric: bool,
    logits_budget_bytes: usize,
}

/// Gradients of the candidate-side kernels: losses plus gradients w.r.t. the (normalised)
/// queries and candidates.
struct KernelOutput<T> {
    row_losses: Vec<f64>,
    grad_queries: Vec<T>,
    grad_candidates: Vec<T>,
}

impl InfoNceLoss {
    /// Computes the loss and the gradient w.r.t. every array input, with fresh scratch memory.
    pub fn forward<T: Float>(&self, batch: &InfoNceBatch<'_, T>) -> Result<InfoNceOutput<T>> {
        self.forward_with(batch, &mut Workspace::new())
    }

    /// Like [`forward`](Self::forward), taking scratch memory from `workspace` (kept between
    /// calls so that repeated calls of one shape do not re-fault their scratch pages).
    pub fn forward_with<T: Float>(
        &self,
        batch: &InfoNceBatch<'_, T>,
        workspace: &mut Workspace<T>,
    ) -> Result<InfoNceOutput<T>> {
        self.forward_extras(batch, &InfoNceExtras::default(), workspace)
    }

    /// Like [`forward_with`](Self::forward_with) with ids (false-negative masking), guide
    /// embeddings (GIST filtering) and/or a queue of extra negatives. A candidate other than
    /// the anchor's own positive is removed from the anchor's denominator when its id equals
    /// the positive's or the anchor's id, or when the guide scores it above the threshold
    /// derived from the positive's guide score; queue entries are extra candidates without
    /// gradient, removed by the id rule. `symmetric` applies the same rules with the roles
    /// swapped.
    pub fn forward_extras<T: Float>(
        &self,
        batch: &InfoNceBatch<'_, T>,
        extras: &InfoNceExtras<'_, T>,
        workspace: &mut Workspace<T>,
    ) -> Result<InfoNceOutput<T>> {
        ensure_positive("temperature", self.temperature)?;
        if !T::from_f64(1.0 / self.temperature).is_finite() {
            return Err(TrainingError::value(
                "temperature",
                format!(
                    "{} is too small for {}: 1/temperature overflows it (must be at least {})",
                    format_number(self.temperature),
                    T::NAME,
                    format_number(1.0 / T::MAX.to_f64())
                ),
            ));
        }
        let layout = self.validate(batch)?;
        ensure_finite("anchors", batch.anchors.data)?;
        ensure_finite("positives", batch.positives.data)?;
        if let Some(negatives) = &batch.negatives {
            ensure_finite("negatives", negatives.data)?;
        }
        self.validate_extras(batch, extras, layout)?;
        let b = batch.anchors.rows;
        let params = KernelParams {
            inv_temperature: 1.0 / self.temperature,
            row_weight: if self.reduction == Reduction::Mean {
                1.0 / b as f64
            } else {
                1.0
            },
            symmetric: self.symmetric,
            logits_budget_bytes: self.logits_budget_bytes,
        };
        let extras = (!extras.is_empty()).then_some(extras);
        let mut output = match layout {
            Layout::PerRow => self.run_per_row(batch, extras, &params, workspace)?,
            Layout::InBatch | Layout::Shared => {
                self.run_dense(batch, extras, &params, workspace)?
            }
        };
        let total = ordered_sum(&output.row_losses);
        output.loss = if self.reduction == Reduction::Mean {
            total / b as f64
        } else {
            total
        };
        let mut grads: Vec<&[T]> = vec![&output.grad_anchors, &output.grad_positives];
        grads.extend(output.grad_negatives.as_deref());
        if let Err(error) = crate::validate::ensure_finite_output(
            "temperature",
            "the logits similarity / temperature exceed its range: raise the temperature or, \
             with dot similarity, scale the inputs down",
            output.loss,
            &grads,
        ) {
            // Finite inputs whose dot products can leave T's range: the scores overflowed,
            // whatever the temperature.
            if self.similarity == Similarity::Dot && dot_products_can_overflow(batch) {
                return Err(scores_overflow::<T>(if batch.negatives.is_some() {
                    "anchors, positives, negatives"
                } else {
                    "anchors, positives"
                }));
            }
            return Err(error);
        }
        Ok(output)
    }

    /// Checks shapes and option combinations, returning the candidate layout.
    fn validate<T: Float>(&self, batch: &InfoNceBatch<'_, T>) -> Result<Layout> {
        let (b, d) = (batch.anchors.rows, batch.anchors.cols);
        if b == 0 {
            return Err(TrainingError::shape(
                "anchors",
                "empty batch: expected at least one row, got B=0",
            ));
        }
        if d == 0 {
            return Err(TrainingError::shape(
                "anchors",
                "embedding dimension D must be at least 1, got D=0",
            ));
        }
        let positives = (batch.positives.rows, batch.positives.cols);
        if positives != (b, d) {
            return Err(TrainingError::shape(
                "positives",
                format!(
                    "expected shape (B, D) = {} like anchors, got {}",
                    format_shape(&[b, d]),
                    format_shape(&[positives.0, positives.1])
                ),
            ));
        }
        if let Some(negatives) = &batch.negatives {
            if negatives.batch != b || negatives.dim != d {
                return Err(TrainingError::shape(
                    "negatives",
                    format!(
                        "expected shape (B, K, {d}) with B={b}, got {}",
                        format_shape(&[negatives.batch, negatives.per_row, negatives.dim])
                    ),
                ));
            }
        }
        Layout::resolve(batch.negatives.is_some(), batch.in_batch, self.symmetric)
    }

    /// Checks the guide margin and the shapes and values of the extra inputs.
    fn validate_extras<T: Float>(
        &self,
        batch: &InfoNceBatch<'_, T>,
        extras: &InfoNceExtras<'_, T>,
        layout: Layout,
    ) -> Result<()> {
        validate_guide_margin(self.guide_margin)?;
        let (b, d) = (batch.anchors.rows, batch.anchors.cols);
        let k = batch.negatives.map_or(0, |n| n.per_row);
        if let Some(ids) = &extras.ids {
            if ids.anchor_ids.len() != b {
                return Err(TrainingError::shape(
                    "anchor_ids",
                    format!(
                        "expected shape ({b},) (one id per anchor), got {} ids",
                        ids.anchor_ids.len()
                    ),
                ));
            }
            let expected = match layout {
                Layout::PerRow => vec![b, 1 + k],
                Layout::InBatch | Layout::Shared => vec![b + b * k],
            };
            if ids.candidate_shape != expected.as_slice() {
                let what = match layout {
                    Layout::PerRow => "(B, 1 + K): each row's positive then its negatives",
                    _ => "(B + B*K,): the positives then the negatives, row-major",
                };
                return Err(TrainingError::shape(
                    "candidate_ids",
                    format!(
                        "expected shape {} {what}, got {}",
                        format_shape(&expected),
                        format_shape(ids.candidate_shape)
                    ),
                ));
            }
        }
        if let Some(guide) = &extras.guide {
            let dg = guide.anchors.cols;
            if guide.anchors.rows != b || dg == 0 {
                return Err(TrainingError::shape(
                    "guide_anchors",
                    format!(
                        "expected shape (B, Dg) with B={b} and Dg >= 1, got {}",
                        format_shape(&[guide.anchors.rows, dg])
                    ),
                ));
            }
            if (guide.positives.rows, guide.positives.cols) != (b, dg) {
                return Err(TrainingError::shape(
                    "guide_positives",
                    format!(
                        "expected shape {} like guide_anchors, got {}",
                        format_shape(&[b, dg]),
                        format_shape(&[guide.positives.rows, guide.positives.cols])
                    ),
                ));
            }
            match (&guide.negatives, &batch.negatives) {
                (None, None) => {}
                (Some(gn), Some(_)) if (gn.batch, gn.per_row, gn.dim) == (b, k, dg) => {}
                (Some(gn), Some(_)) => {
                    return Err(TrainingError::shape(
                        "guide_negatives",
                        format!(
                            "expected shape {} like negatives with guide_anchors' Dg, got {}",
                            format_shape(&[b, k, dg]),
                            format_shape(&[gn.batch, gn.per_row, gn.dim])
                        ),
                    ))
                }
                (None, Some(_)) => {
                    return Err(TrainingError::value(
                        "guide_negatives",
                        "the student has negatives: pass their guide embeddings too",
                    ))
                }
                (Some(_), None) => {
                    return Err(TrainingError::value(
                        "guide_negatives",
                        "given without negatives: the student has no negatives to filter",
                    ))
                }
            }
            ensure_finite("guide_anchors", guide.anchors.data)?;
            ensure_finite("guide_positives", guide.positives.data)?;
            if let Some(gn) = &guide.negatives {
                ensure_finite("guide_negatives", gn.data)?;
            }
        }
        if let Some(queue) = &extras.queue {
            if queue.embeddings.cols != d {
                return Err(TrainingError::shape(
                    "queue",
                    format!(
                        "its dimension {} differs from the anchors' D={d}",
                        queue.embeddings.cols
                    ),
                ));
            }
            if let Some(ids) = queue.ids {
                if ids.len() != queue.embeddings.rows {
                    return Err(TrainingError::shape(
                        "queue",
                        format!("{} ids for {} entries", ids.len(), queue.embeddings.rows),
                    ));
                }
                if extras.ids.is_none() && ids.iter().any(Option::is_some) {
                    return Err(TrainingError::value(
                        "queue",
                        "its entries have ids but anchor_ids and candidate_ids were not given: \
                         pass them so entries of the same items can be removed",
                    ));
                }
            }
            ensure_finite("queue", queue.embeddings.data)?;
        }
        Ok(())
    }

    /// Per-row negatives: each anchor against its positive and its own K negatives.
    fn run_per_row<T: Float>(
        &self,
        batch: &InfoNceBatch<'_, T>,
        extras: Option<&InfoNceExtras<'_, T>>,
        params: &KernelParams,
        workspace: &mut Workspace<T>,
    ) -> Result<InfoNceOutput<T>> {
        let negatives = batch.negatives.expect("per-row layout has negatives");
        let d = batch.anchors.cols;
        let negatives_mat = MatRef::new(negatives.data, negatives.batch * negatives.per_row, d);
        let lengths = self.scratch_lengths([
            batch.anchors.data.len(),
            batch.positives.data.len(),
            negatives.data.len(),
        ]);
        let [query_buf, positive_buf, negative_buf] = workspace.slices("negatives", lengths)?;
        let queries = self.prepare("anchors", batch.anchors, query_buf)?;
        let positives = self.prepare("positives", batch.positives, positive_buf)?;
        let negs = self.prepare("negatives", negatives_mat, negative_buf)?;
        let queue = extras.and_then(|e| e.queue);
        let mut queue_buf = match (queue, self.similarity) {
            (Some(q), Similarity::Cosine) => filled_vec("queue", q.embeddings.data.len(), T::ZERO)?,
            _ => Vec::new(),
        };
        let queue = queue
            .map(|q| self.prepare("queue", q.embeddings, &mut queue_buf))
            .transpose()?;
        let per_row_extras = match extras {
            Some(extras) => Some(per_row::PerRowExtras {
                ids: extras.ids.map(|ids| {
                    let queue_ids = extras.queue.and_then(|q| q.ids);
                    (ids.anchor_ids, ids.candidate_ids, queue_ids)
                }),
                guide: self.guide_of(extras)?,
                queue: queue.as_ref().map(|q| q.matrix),
            }),
            None => None,
        };
        let out = per_row::contrast_per_row(
            queries.matrix,
            positives.matrix,
            negs.matrix,
            negatives.per_row,
            params,
            per_row_extras.as_ref(),
        )?;
        Ok(InfoNceOutput {
            row_losses: out.row_losses,
            loss: 0.0,
            grad_anchors: queries.backward(out.grad_queries),
            grad_positives: positives.backward(out.grad_positives),
            grad_negatives: Some(negs.backward(out.grad_negatives)),
        })
    }

    /// In-batch and shared layouts: one dense logits matrix against a candidate matrix.
    fn run_dense<T: Float>(
        &self,
        batch: &InfoNceBatch<'_, T>,
        extras: Option<&InfoNceExtras<'_, T>>,
        params: &KernelParams,
        workspace: &mut Workspace<T>,
    ) -> Result<InfoNceOutput<T>> {
        let (b, d) = (batch.anchors.rows, batch.anchors.cols);
        let negatives_data = batch.negatives.map(|n| n.data);
        let queue = extras.and_then(|e| e.queue);
        let candidates_raw = concat_rows(
            "negatives",
            &[
                Some(batch.positives.data),
                negatives_data,
                queue.map(|q| q.embeddings.data),
            ],
        )?;
        let candidates_mat = MatRef::new(&candidates_raw, candidates_raw.len() / d, d);
        let exclusions = match extras {
            Some(extras) => self.dense_exclusions(batch, extras, candidates_mat.rows)?,
            None => None,
        };
        let plan = PanelPlan::new(b, candidates_mat.rows, T::BYTES, params.logits_budget_bytes);
        let [normalized_lengths @ .., _] = self.scratch_lengths([b * d, candidates_raw.len(), 0]);
        let logits_length = plan.panel_rows * candidates_mat.rows;
        let lengths = [normalized_lengths[0], normalized_lengths[1], logits_length];
        let [query_buf, candidate_buf, logits] = workspace.slices("anchors", lengths)?;
        let queries = self.prepare("anchors", batch.anchors, query_buf)?;
        let candidates = self.prepare("positives", candidates_mat, candidate_buf)?;
        let out = dense::contrast_dense(
            queries.matrix,
            candidates.matrix,
            &plan,
            logits,
            params,
            exclusions.as_ref(),
        )?;
        let mut grad_candidates = candidates.backward(out.grad_candidates);
        let mut grad_rest = grad_candidates.split_off(b * d);
        let grad_negatives = negatives_data.map(|n| {
            grad_rest.truncate(n.len());
            grad_rest
        });
        Ok(InfoNceOutput {
            row_losses: out.row_losses,
            loss: 0.0,
            grad_anchors: queries.backward(out.grad_queries),
            grad_positives: grad_candidates,
            grad_negatives,
        })
    }

    /// The id and guide exclusions of the dense layouts (`None` when neither is given).
    fn dense_exclusions<'a, T: Float>(
        &self,
        batch: &InfoNceBatch<'_, T>,
        extras: &InfoNceExtras<'a, T>,
        candidates: usize,
    ) -> Result<Option<DenseExclusions<'a, T>>> {
        if extras.ids.is_none() && extras.guide.is_none() {
            return Ok(None);
        }
        let b = batch.anchors.rows;
        let ids = match extras.ids {
            Some(ids) => {
                let mut all = crate::alloc::try_vec_with_capacity("candidate_ids", candidates)?;
                all.extend(ids.candidate_ids.iter().map(|&id| Some(id)));
                match extras.queue.and_then(|q| q.ids) {
                    Some(queue_ids) => all.extend_from_slice(queue_ids),
                    None => all.resize(candidates, None),
                }
                Some((ids.anchor_ids, all))
            }
            None => None,
        };
        let guide = self.guide_of(extras)?;
        Ok(Some(DenseExclusions::new(b, self.symmetric, ids, guide)))
    }

    /// The normalised guide: queries = guide anchors, candidates = guide positives then
    /// guide negatives (row-major).
    fn guide_of<T: Float>(&self, extras: &InfoNceExtras<'_, T>) -> Result<Option<Guide<T>>> {
        let Some(guide) = extras.guide else {
            return Ok(None);
        };
        let dg = guide.anchors.cols;
        let parts = [Some(guide.positives.data), guide.negatives.map(|n| n.data)];
        let raw = concat_rows("guide_negatives", &parts)?;
        Ok(Some(Guide::new(
            guide.anchors,
            MatRef::new(&raw, raw.len() / dg, dg),
            self.guide_margin,
            self.guide_margin_strategy,
        )?))
    }

    /// Scratch needed to normalise inputs of the given sizes: all of it for cosine, none for dot.
    fn scratch_lengths(&self, input_lengths: [usize; 3]) -> [usize; 3] {
        match self.similarity {
            Similarity::Cosine => input_lengths,
            Similarity::Dot => [0; 3],
        }
    }

    /// Normalises rows into `scratch` for cosine similarity; dot similarity uses `x` as is.
    fn prepare<'a, T: Float>(
        &self,
        arg: &'static str,
        x: MatRef<'a, T>,
        scratch: &'a mut [T],
    ) -> Result<Prepared<'a, T>> {
        Ok(match self.similarity {
            Similarity::Cosine => {
                let norms = normalize_rows_into(arg, x, scratch)?;
                let matrix = MatRef::new(&*scratch, x.rows, x.cols);
                Prepared {
                    matrix,
                    norms: Some(norms),
                }
            }
            Similarity::Dot => Prepared {
                matrix: x,
                norms: None,
            },
        })
    }
}

/// The rows of the present parts, one after the other (borrowed when only one is present).
fn concat_rows<'a, T: Float>(arg: &'static str, parts: &[Option<&'a [T]>]) -> Result<Cow<'a, [T]>> {
    let present: Vec<&'a [T]> = parts.iter().flatten().copied().collect();
    if let [only] = present.as_slice() {
        return Ok(Cow::Borrowed(only));
    }
    let mut all = filled_vec(arg, present.iter().map(|p| p.len()).sum(), T::ZERO)?;
    let mut offset = 0;
    for part in present {
        all[offset..offset + part.len()].copy_from_slice(part);
        offset += part.len();
    }
    Ok(Cow::Owned(all))
}

/// Checks a GIST margin: finite and `>= 0`.
pub fn validate_guide_margin(margin: f64) -> Result<()> {
    if !(margin.is_finite() && margin >= 0.0) {
        return Err(TrainingError::value(
            "guide_margin",
            format!(
                "expected a finite number >= 0, got {}",
                format_number(margin)
            ),
        ));
    }
    Ok(())
}

/// An input as the kernel sees it: its normalised rows (cosine, with the row norms used) or the
/// raw rows (dot).
struct Prepared<'a, T> {
    matrix: MatRef<'a, T>,
    norms: Option<Vec<RowNorm<T>>>,
}

impl<T: Float> Prepared<'_, T> {
    /// Maps a gradient w.r.t. the kernel's view back to the raw input.
    fn backward(&self, mut grad: Vec<T>) -> Vec<T> {
        if let Some(norms) = &self.norms {
            normalize_rows_backward(&mut grad, self.matrix.data, norms, self.matrix.cols);
        }
        grad
    }
}

/// Whether an inner product of an anchor with a candidate (positive or negative) can exceed
/// `T`'s range: `max ||a|| * max ||c||` (Cauchy-Schwarz), in `f64` from overflow-free norms.
fn dot_products_can_overflow<T: Float>(batch: &InfoNceBatch<'_, T>) -> bool {
    let d = batch.anchors.cols.max(1);
    let largest = |data: &[T]| {
        data.chunks_exact(d)
            .map(|row| {
                let norm = RowNorm::of(row);
                norm.divisor.to_f64() / norm.scale.to_f64()
            })
            .fold(0.0f64, f64::max)
    };
    let candidates = largest(batch.positives.data)
        .max(batch.negatives.as_ref().map_or(0.0, |n| largest(n.data)));
    largest(batch.anchors.data) * candidates > T::MAX.to_f64()
}

#[cfg(test)]
mod tests;
