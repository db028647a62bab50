//! The `InfoNCELoss` Python class.

use numpy::Element;
use pyo3::prelude::*;
use pyo3::types::PyTuple;
use std::sync::Mutex;

use ruvector_training_core::{
    Float, GuideRef, InfoNceBatch, InfoNceExtras, InfoNceIds, InfoNceLoss, MarginStrategy, MatRef,
    NegativesRef, QueueRef, Reduction, Similarity, Workspace, DEFAULT_LOGITS_BUDGET_BYTES,
};

use crate::args::integer;
use crate::arrays::{
    ensure_same_dtype, float_dtype, loss_object, result_tuple, to_py_err, value_error, FloatArray,
    FloatDtype,
};
use crate::indices::int_array;
use crate::kernel::run_kernel;

/// One scratch workspace per element type.
#[derive(Default)]
struct Workspaces {
    f32: Workspace<f32>,
    f64: Workspace<f64>,
}

/// Element types with a workspace slot in [`Workspaces`].
trait WorkspaceSlot: Float + Element {
    fn slot(workspaces: &mut Workspaces) -> &mut Workspace<Self>;
}

impl WorkspaceSlot for f32 {
    fn slot(workspaces: &mut Workspaces) -> &mut Workspace<Self> {
        &mut workspaces.f32
    }
}

impl WorkspaceSlot for f64 {
    fn slot(workspaces: &mut Workspaces) -> &mut Workspace<Self> {
        &mut workspaces.f64
    }
}

crate::config::config_class! {
/// InfoNCE (NT-Xent, MultipleNegativesRankingLoss) with exact gradients.
///
/// For anchor ``i`` with candidates ``c_j`` (its positive first),
/// ``s_ij = sim(a_i, c_j) / temperature`` and ``loss_i = logsumexp_j s_ij - s_i,pos``.
/// Every argument is an attribute, writable between calls with the constructor's checks.
class PyInfoNceLoss(InfoNceLoss) as "InfoNCELoss" {
    /// Softmax temperature, a finite float > 0.
    temperature: f64 = 0.07, check = crate::config::positive;
    /// ``"cosine"`` (rows normalised, gradients through the normalisation) or ``"dot"``.
    similarity: Similarity = "cosine";
    /// Average with the reverse direction (positives as queries; in-batch layouts only).
    symmetric: bool = False;
    /// ``"mean"``, ``"sum"`` or ``"none"`` (per-row losses).
    reduction: Reduction = "mean";
    /// The largest logits matrix kept whole, in bytes (default 256 MiB); above it the kernel
    /// streams panels of rows.
    logits_budget_bytes: usize = 268435456, convert = budget_bytes;
    /// GIST margin, a finite float >= 0 (used with guide embeddings).
    guide_margin: f64 = 0.0, check = crate::config::non_negative;
    /// ``"absolute"`` (remove candidates the guide scores above ``s - guide_margin``) or
    /// ``"relative"`` (above ``s - |s| * guide_margin``), ``s`` the positive's guide score.
    guide_margin_strategy: MarginStrategy = "absolute";
}
state { workspaces: Mutex<Workspaces> = Mutex::new(Workspaces::default()) }

#[pymethods]
impl PyInfoNceLoss {
    /// Computes `(loss, (grad_anchors, grad_positives, grad_negatives))`.
    #[pyo3(signature = (anchors, positives, negatives=None, *, in_batch=None, anchor_ids=None, candidate_ids=None, guide_anchors=None, guide_positives=None, guide_negatives=None, queue=None))]
    #[allow(clippy::too_many_arguments)]
    fn forward<'py>(
        &self,
        py: Python<'py>,
        anchors: &Bound<'py, PyAny>,
        positives: &Bound<'py, PyAny>,
        negatives: Option<&Bound<'py, PyAny>>,
        in_batch: Option<bool>,
        anchor_ids: Option<&Bound<'py, PyAny>>,
        candidate_ids: Option<&Bound<'py, PyAny>>,
        guide_anchors: Option<&Bound<'py, PyAny>>,
        guide_positives: Option<&Bound<'py, PyAny>>,
        guide_negatives: Option<&Bound<'py, PyAny>>,
        queue: Option<&Bound<'py, PyAny>>,
    ) -> PyResult<Bound<'py, PyTuple>> {
        let dtype = float_dtype("anchors", anchors)?;
        ensure_same_dtype("positives", positives, dtype, "anchors")?;
        if let Some(negatives) = negatives {
            ensure_same_dtype("negatives", negatives, dtype, "anchors")?;
        }
        let ids = match (anchor_ids, candidate_ids) {
            (None, None) => None,
            (Some(a), Some(c)) => {
                let (anchor_ids, anchor_shape) = int_array("anchor_ids", &as_array(py, a)?)?;
                if anchor_shape.len() != 1 {
                    return Err(value_error(
                        "anchor_ids",
                        format!("expected a 1-D array (B,), got shape {anchor_shape:?}"),
                    ));
                }
                let (candidate_ids, candidate_shape) =
                    int_array("candidate_ids", &as_array(py, c)?)?;
                Some((anchor_ids, candidate_ids, candidate_shape))
            }
            (None, Some(_)) => return Err(value_error("anchor_ids", MISSING_IDS)),
            (Some(_), None) => return Err(value_error("candidate_ids", MISSING_IDS)),
        };
        let guide = match (guide_anchors, guide_positives) {
            (None, None) => {
                if guide_negatives.is_some() {
                    return Err(value_error(
                        "guide_negatives",
                        "given without guide_anchors and guide_positives",
                    ));
                }
                None
            }
            (Some(a), Some(p)) => {
                ensure_same_dtype("guide_anchors", a, dtype, "anchors")?;
                ensure_same_dtype("guide_positives", p, dtype, "anchors")?;
                if let Some(n) = guide_negatives {
                    ensure_same_dtype("guide_negatives", n, dtype, "anchors")?;
                }
                Some((a, p, guide_negatives))
            }
            (None, Some(_)) => return Err(value_error("guide_anchors", MISSING_GUIDE)),
            (Some(_), None) => return Err(value_error("guide_positives", MISSING_GUIDE)),
        };
        let queue = match queue.filter(|q| !q.is_none()) {
            Some(q) => {
                let entries = q.call_method0("entries").map_err(|_| {
                    pyo3::exceptions::PyTypeError::new_err(format!(
                        "queue: expected an EmbeddingQueue, got {}",
                        crate::args::type_name(q)
                    ))
                })?;
                let (embeddings, ids, has_id): (
                    Bound<'py, PyAny>,
                    Bound<'py, PyAny>,
                    numpy::PyReadonlyArray1<'py, bool>,
                ) = entries.extract()?;
                ensure_same_dtype("queue", &embeddings, dtype, "anchors")?;
                let (ids, _) = int_array("queue", &ids)?;
                let has_id = has_id.as_array();
                let ids: Vec<Option<i64>> = ids
                    .into_iter()
                    .zip(has_id.iter())
                    .map(|(id, &has)| has.then_some(id))
                    .collect();
                Some((embeddings, ids))
            }
            None => None,
        };
        let args = Args {
            anchors,
            positives,
            negatives,
            in_batch,
            ids,
            guide,
            queue,
        };
        match dtype {
            FloatDtype::F32 => self.forward_typed::<f32>(py, &args),
            FloatDtype::F64 => self.forward_typed::<f64>(py, &args),
        }
    }

    /// Same as [`forward`](Self::forward).
    #[pyo3(signature = (anchors, positives, negatives=None, *, in_batch=None, anchor_ids=None, candidate_ids=None, guide_anchors=None, guide_positives=None, guide_negatives=None, queue=None))]
    #[allow(clippy::too_many_arguments)]
    fn __call__<'py>(
        &self,
        py: Python<'py>,
        anchors: &Bound<'py, PyAny>,
        positives: &Bound<'py, PyAny>,
        negatives: Option<&Bound<'py, PyAny>>,
        in_batch: Option<bool>,
        anchor_ids: Option<&Bound<'py, PyAny>>,
        candidate_ids: Option<&Bound<'py, PyAny>>,
        guide_anchors: Option<&Bound<'py, PyAny>>,
        guide_positives: Option<&Bound<'py, PyAny>>,
        guide_negatives: Option<&Bound<'py, PyAny>>,
        queue: Option<&Bound<'py, PyAny>>,
    ) -> PyResult<Bound<'py, PyTuple>> {
        self.forward(
            py,
            anchors,
            positives,
            negatives,
            in_batch,
            anchor_ids,
            candidate_ids,
            guide_anchors,
            guide_positives,
            guide_negatives,
            queue,
        )
    }

    /// Bytes of scratch memory kept between calls (normalised copies and the logits panel).
    #[getter]
    fn workspace_bytes(&self) -> usize {
        let workspaces = self.workspaces.lock().unwrap_or_else(|e| e.into_inner());
        workspaces.f32.held_bytes() + workspaces.f64.held_bytes()
    }

    /// Frees the scratch memory kept between calls (the next call allocates it again).
    fn release_workspace(&self) {
        let mut workspaces = self.workspaces.lock().unwrap_or_else(|e| e.into_inner());
        workspaces.f32.release();
        workspaces.f64.release();
    }
}
}

// The table's default is the core's.
const _: () = assert!(DEFAULT_LOGITS_BUDGET_BYTES == 268435456);

/// `logits_budget_bytes`: a non-negative number of bytes (0 streams one row at a time).
pub(crate) fn budget_bytes(arg: &'static str, value: &Bound<'_, PyAny>) -> PyResult<usize> {
    let value = integer(arg, value)?;
    usize::try_from(value)
        .map_err(|_| value_error(arg, format!("must be a number of bytes >= 0, got {value}")))
}

const MISSING_IDS: &str =
    "anchor_ids and candidate_ids go together: pass both (or neither) for false-negative masking";
const MISSING_GUIDE: &str = "guide_anchors and guide_positives go together: pass both (and \
     guide_negatives when there are negatives), or none";

/// `obj` as an ndarray (`numpy.asarray` for lists and other sequences).
fn as_array<'py>(py: Python<'py>, obj: &Bound<'py, PyAny>) -> PyResult<Bound<'py, PyAny>> {
    py.import("numpy")?.call_method1("asarray", (obj,))
}

/// The array arguments of one call.
struct Args<'a, 'py> {
    anchors: &'a Bound<'py, PyAny>,
    positives: &'a Bound<'py, PyAny>,
    negatives: Option<&'a Bound<'py, PyAny>>,
    in_batch: Option<bool>,
    /// Anchor ids, candidate ids and the candidate ids' shape.
    ids: Option<(Vec<i64>, Vec<i64>, Vec<usize>)>,
    /// Guide anchors, positives and negatives.
    guide: Option<GuideArgs<'a, 'py>>,
    /// The queue's embeddings and ids.
    queue: Option<(Bound<'py, PyAny>, Vec<Option<i64>>)>,
}

type GuideArgs<'a, 'py> = (
    &'a Bound<'py, PyAny>,
    &'a Bound<'py, PyAny>,
    Option<&'a Bound<'py, PyAny>>,
);

impl PyInfoNceLoss {
    fn forward_typed<'py, T: WorkspaceSlot>(
        &self,
        py: Python<'py>,
        args: &Args<'_, 'py>,
    ) -> PyResult<Bound<'py, PyTuple>> {
        let anchors = FloatArray::<T>::extract("anchors", args.anchors, 2, "(B, D)")?;
        let positives = FloatArray::<T>::extract("positives", args.positives, 2, "(B, D)")?;
        let negatives = args
            .negatives
            .map(|n| FloatArray::<T>::extract("negatives", n, 3, "(B, K, D)"))
            .transpose()?;
        let (anchor_data, positive_data) = (anchors.elements()?, positives.elements()?);
        let negative_data = negatives.as_ref().map(FloatArray::elements).transpose()?;
        let batch = InfoNceBatch {
            anchors: MatRef::new(&anchor_data, anchors.shape[0], anchors.shape[1]),
            positives: MatRef::new(&positive_data, positives.shape[0], positives.shape[1]),
            negatives: negatives
                .as_ref()
                .zip(negative_data.as_deref())
                .map(|(n, data)| NegativesRef {
                    data,
                    batch: n.shape[0],
                    per_row: n.shape[1],
                    dim: n.shape[2],
                }),
            in_batch: args.in_batch,
        };
        let guide = args
            .guide
            .map(|(a, p, n)| {
                Ok::<_, PyErr>((
                    FloatArray::<T>::extract("guide_anchors", a, 2, "(B, Dg)")?,
                    FloatArray::<T>::extract("guide_positives", p, 2, "(B, Dg)")?,
                    n.map(|n| FloatArray::<T>::extract("guide_negatives", n, 3, "(B, K, Dg)"))
                        .transpose()?,
                ))
            })
            .transpose()?;
        let guide_data = guide
            .as_ref()
            .map(|(a, p, n)| {
                Ok::<_, PyErr>((
                    a.elements()?,
                    p.elements()?,
                    n.as_ref().map(FloatArray::elements).transpose()?,
                ))
            })
            .transpose()?;
        let queue = args
            .queue
            .as_ref()
            .map(|(e, ids)| {
                Ok::<_, PyErr>((FloatArray::<T>::extract("queue", e, 2, "(Q, D)")?, ids))
            })
            .transpose()?;
        let queue_data = queue.as_ref().map(|(e, _)| e.elements()).transpose()?;
        let extras = InfoNceExtras {
            ids: args.ids.as_ref().map(|(a, c, shape)| InfoNceIds {
                anchor_ids: a,
                candidate_ids: c,
                candidate_shape: shape,
            }),
            guide: guide
                .as_ref()
                .zip(guide_data.as_ref())
                .map(|((a, p, n), (ad, pd, nd))| GuideRef {
                    anchors: MatRef::new(ad, a.shape[0], a.shape[1]),
                    positives: MatRef::new(pd, p.shape[0], p.shape[1]),
                    negatives: n.as_ref().zip(nd.as_deref()).map(|(n, data)| NegativesRef {
                        data,
                        batch: n.shape[0],
                        per_row: n.shape[1],
                        dim: n.shape[2],
                    }),
                }),
            queue: queue
                .as_ref()
                .zip(queue_data.as_deref())
                .map(|((e, ids), data)| QueueRef {
                    embeddings: MatRef::new(data, e.shape[0], e.shape[1]),
                    ids: Some(ids.as_slice()),
                }),
        };
        let config = self.inner.get();
        let workspaces = &self.workspaces;
        let output = run_kernel(py, || match workspaces.try_lock() {
            Ok(mut guard) => config.forward_extras(&batch, &extras, T::slot(&mut guard)),
            Err(_) => config.forward_extras(&batch, &extras, &mut Workspace::new()),
        })?
        .map_err(to_py_err)?;

        let b = anchors.shape[0];
        let loss = loss_object::<T>(
            py,
            config.reduction,
            output.loss,
            &output.row_losses,
            vec![b],
        )?;
        let grad_negatives = output.grad_negatives.zip(negatives.map(|n| n.shape));
        result_tuple(
            py,
            loss,
            vec![
                Some((output.grad_anchors, anchors.shape)),
                Some((output.grad_positives, positives.shape)),
                grad_negatives,
            ],
        )
    }
}
