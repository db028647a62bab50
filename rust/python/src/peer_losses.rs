//! The losses of issue 16: `CoSENTLoss`, `AnglELoss`, `SupConLoss`, `MarginMSELoss`,
//! `DistillKLDivLoss` and `BatchTripletLoss`. Each class keeps its configuration handling in one
//! block (constructor, getters, setters, repr) ready for the field-table bindings.

use numpy::{Element, PyUntypedArrayMethods};
use pyo3::prelude::*;
use pyo3::types::PyTuple;

use ruvector_training_core::{
    AnglELoss, BatchTripletLoss, CoSentLoss, Distance, DistillKlDivLoss, Float, LabeledOutput,
    MarginMseLoss, MatRef, NegativesRef, Reduction, Similarity, SupConLoss, TripletMining,
};

use crate::arrays::{
    ensure_same_dtype, float_dtype, loss_object, result_tuple, to_py_err, value_error, FloatArray,
    FloatDtype,
};
use crate::indices::int_array;
use crate::infonce::budget_bytes;
use crate::kernel::run_kernel;

/// `check =` of an optional field that, when set, must be finite and > 0.
fn optional_positive(arg: &'static str, value: &Option<f64>) -> PyResult<()> {
    match value {
        Some(v) => crate::config::positive(arg, v),
        None => Ok(()),
    }
}

/// `validate =` of `BatchTripletLoss`: the core's cross-field rules.
fn validate_batch_triplet(config: &BatchTripletLoss) -> PyResult<()> {
    config.validate().map_err(to_py_err)
}

/// Reads a `(B, D)` or `(B, K, D)` array as a set of rows per query (`K = 1` for 2-D).
fn extract_set<'py, T: Float + Element>(
    arg: &'static str,
    obj: &Bound<'py, PyAny>,
    allow_2d: bool,
) -> PyResult<FloatArray<'py, T>> {
    let ndim = crate::arrays::as_ndarray(arg, obj)?.ndim();
    let (want, expected) = match (allow_2d, ndim) {
        (true, 2) => (2, "(B, D) or (B, K, D)"),
        (true, _) => (3, "(B, D) or (B, K, D)"),
        (false, _) => (3, "(B, C, D)"),
    };
    FloatArray::<T>::extract(arg, obj, want, expected)
}

/// The set view of an array read by [`extract_set`].
fn set_ref<'a, T: Float>(data: &'a [T], shape: &[usize]) -> NegativesRef<'a, T> {
    let (batch, per_row, dim) = match shape {
        [b, k, d] => (*b, *k, *d),
        [b, d] => (*b, 1, *d),
        _ => unreachable!("checked to be 2-D or 3-D"),
    };
    NegativesRef {
        data,
        batch,
        per_row,
        dim,
    }
}

/// Fails unless the teacher's array has `shape`.
fn ensure_target_shape(arg: &str, got: &[usize], shape: &[usize]) -> PyResult<()> {
    if got == shape {
        Ok(())
    } else {
        Err(value_error(
            arg,
            format!(
                "expected shape {}, got {}",
                crate::arrays::format_shape(shape),
                crate::arrays::format_shape(got)
            ),
        ))
    }
}

/// Reads `labels` as a 1-D integer array.
fn extract_labels(labels: &Bound<'_, PyAny>) -> PyResult<Vec<i64>> {
    let (flat, shape) = int_array("labels", labels)?;
    if shape.len() != 1 {
        return Err(value_error(
            "labels",
            format!(
                "expected shape (B,), got {}",
                crate::arrays::format_shape(&shape)
            ),
        ));
    }
    Ok(flat)
}

/// Reads `(embeddings, labels)` and runs `kernel` with the GIL released, returning
/// `(loss, (grad_embeddings, None))`; `reduction` shapes the loss (`(B,)` for `"none"`).
fn labeled_forward<'py, T: Float + Element>(
    py: Python<'py>,
    embeddings: &Bound<'py, PyAny>,
    labels: &[i64],
    reduction: Reduction,
    kernel: impl FnOnce(MatRef<'_, T>, &[i64]) -> ruvector_training_core::Result<LabeledOutput<T>>
        + Send,
) -> PyResult<Bound<'py, PyTuple>> {
    let z = FloatArray::<T>::extract("embeddings", embeddings, 2, "(B, D)")?;
    let data = z.elements()?;
    let matrix = MatRef::new(&data, z.shape[0], z.shape[1]);
    let out = run_kernel(py, || kernel(matrix, labels))?.map_err(to_py_err)?;
    let items = vec![out.row_losses.len()];
    let loss = loss_object::<T>(py, reduction, out.loss, &out.row_losses, items)?;
    result_tuple(
        py,
        loss,
        vec![Some((out.grad_embeddings, z.shape.clone())), None],
    )
}

/// Reads `(u, v, scores)` of one dtype and runs `kernel` on them with the GIL released,
/// returning `(loss, (grad_u, grad_v, None))`.
fn pair_score_forward<'py, T: Float + Element>(
    py: Python<'py>,
    u: &Bound<'py, PyAny>,
    v: &Bound<'py, PyAny>,
    scores: &Bound<'py, PyAny>,
    kernel: impl FnOnce(
            MatRef<'_, T>,
            MatRef<'_, T>,
            &[T],
        )
            -> ruvector_training_core::Result<ruvector_training_core::ScoreRankingOutput<T>>
        + Send,
) -> PyResult<Bound<'py, PyTuple>> {
    let u = FloatArray::<T>::extract("u", u, 2, "(B, D)")?;
    let v = FloatArray::<T>::extract("v", v, 2, "(B, D)")?;
    let scores = FloatArray::<T>::extract("scores", scores, 1, "(B,)")?;
    let (u_data, v_data, s_data) = (u.elements()?, v.elements()?, scores.elements()?);
    let u_mat = MatRef::new(&u_data, u.shape[0], u.shape[1]);
    let v_mat = MatRef::new(&v_data, v.shape[0], v.shape[1]);
    let out = run_kernel(py, || kernel(u_mat, v_mat, &s_data))?.map_err(to_py_err)?;
    let loss = pyo3::types::PyFloat::new(py, out.loss).into_any();
    result_tuple(
        py,
        loss,
        vec![
            Some((out.grad_u, u.shape.clone())),
            Some((out.grad_v, v.shape.clone())),
            None,
        ],
    )
}

/// Defines a score-ranking class (`scale` only) over a core loss with `forward(u, v, scores)`.
macro_rules! score_ranking_class {
    ($py_name:ident, $name:literal, $core:ident, $doc:literal) => {
        crate::config::config_class! {
        #[doc = $doc]
        class $py_name($core) as $name {
            /// Inverse temperature of the similarities, a finite float > 0.
            scale: f64 = 20.0, check = crate::config::positive;
        }

        #[pymethods]
        impl $py_name {
            /// Computes `(loss, (grad_u, grad_v, None))`.
            fn forward<'py>(
                &self,
                py: Python<'py>,
                u: &Bound<'py, PyAny>,
                v: &Bound<'py, PyAny>,
                scores: &Bound<'py, PyAny>,
            ) -> PyResult<Bound<'py, PyTuple>> {
                let dtype = float_dtype("u", u)?;
                ensure_same_dtype("v", v, dtype, "u")?;
                ensure_same_dtype("scores", scores, dtype, "u")?;
                let config = self.inner.get();
                match dtype {
                    FloatDtype::F32 => pair_score_forward::<f32>(py, u, v, scores, |u, v, s| {
                        config.forward(u, v, s)
                    }),
                    FloatDtype::F64 => pair_score_forward::<f64>(py, u, v, scores, |u, v, s| {
                        config.forward(u, v, s)
                    }),
                }
            }

            /// Same as `forward`.
            fn __call__<'py>(
                &self,
                py: Python<'py>,
                u: &Bound<'py, PyAny>,
                v: &Bound<'py, PyAny>,
                scores: &Bound<'py, PyAny>,
            ) -> PyResult<Bound<'py, PyTuple>> {
                self.forward(py, u, v, scores)
            }
        }
        }
    };
}

score_ranking_class!(
    PyCoSentLoss,
    "CoSENTLoss",
    CoSentLoss,
    "CoSENT: ``log(1 + sum over pairs y_i < y_j of exp(scale (cos_i - cos_j)))``."
);
score_ranking_class!(
    PyAnglELoss,
    "AnglELoss",
    AnglELoss,
    "AnglE: CoSENT on the angle similarity ``|cos + sin|`` of the rows' two halves."
);

// ---------------------------------------------------------------------------------------------

crate::config::config_class! {
/// Supervised contrastive loss (pytorch-metric-learning's ``SupConLoss`` semantics).
class PySupConLoss(SupConLoss) as "SupConLoss" {
    /// Softmax temperature, a finite float > 0.
    temperature: f64 = 0.1, check = crate::config::positive;
    /// ``"cosine"`` or ``"dot"``.
    similarity: Similarity = "cosine";
    /// ``"mean"`` (over anchors with a positive), ``"sum"`` or ``"none"``.
    reduction: Reduction = "mean";
    /// The largest logits matrix kept whole, in bytes; above it the kernel streams panels.
    logits_budget_bytes: usize = 268435456, convert = budget_bytes;
}

#[pymethods]
impl PySupConLoss {
    /// Computes `(loss, (grad_embeddings, None))`.
    fn forward<'py>(
        &self,
        py: Python<'py>,
        embeddings: &Bound<'py, PyAny>,
        labels: &Bound<'py, PyAny>,
    ) -> PyResult<Bound<'py, PyTuple>> {
        let dtype = float_dtype("embeddings", embeddings)?;
        let labels = extract_labels(labels)?;
        let config = self.inner.get();
        let reduction = config.reduction;
        match dtype {
            FloatDtype::F32 => {
                labeled_forward::<f32>(py, embeddings, &labels, reduction, |z, l| {
                    config.forward(z, l)
                })
            }
            FloatDtype::F64 => {
                labeled_forward::<f64>(py, embeddings, &labels, reduction, |z, l| {
                    config.forward(z, l)
                })
            }
        }
    }

    /// Same as `forward`.
    fn __call__<'py>(
        &self,
        py: Python<'py>,
        embeddings: &Bound<'py, PyAny>,
        labels: &Bound<'py, PyAny>,
    ) -> PyResult<Bound<'py, PyTuple>> {
        self.forward(py, embeddings, labels)
    }
}
}

// ---------------------------------------------------------------------------------------------

crate::config::config_class! {
/// MarginMSE distillation: ``(sim(q, p) - sim(q, n) - teacher_margin)^2`` per term.
class PyMarginMseLoss(MarginMseLoss) as "MarginMSELoss" {
    /// ``"dot"`` or ``"cosine"``.
    similarity: Similarity = "dot";
    /// ``"mean"``, ``"sum"`` or ``"none"`` over the (query, negative) terms.
    reduction: Reduction = "mean";
}

#[pymethods]
impl PyMarginMseLoss {
    /// Computes `(loss, (grad_queries, grad_positives, grad_negatives, None))`.
    fn forward<'py>(
        &self,
        py: Python<'py>,
        queries: &Bound<'py, PyAny>,
        positives: &Bound<'py, PyAny>,
        negatives: &Bound<'py, PyAny>,
        teacher_margins: &Bound<'py, PyAny>,
    ) -> PyResult<Bound<'py, PyTuple>> {
        let dtype = float_dtype("queries", queries)?;
        ensure_same_dtype("positives", positives, dtype, "queries")?;
        ensure_same_dtype("negatives", negatives, dtype, "queries")?;
        ensure_same_dtype("teacher_margins", teacher_margins, dtype, "queries")?;
        match dtype {
            FloatDtype::F32 => {
                self.forward_typed::<f32>(py, queries, positives, negatives, teacher_margins)
            }
            FloatDtype::F64 => {
                self.forward_typed::<f64>(py, queries, positives, negatives, teacher_margins)
            }
        }
    }

    /// Same as `forward`.
    fn __call__<'py>(
        &self,
        py: Python<'py>,
        queries: &Bound<'py, PyAny>,
        positives: &Bound<'py, PyAny>,
        negatives: &Bound<'py, PyAny>,
        teacher_margins: &Bound<'py, PyAny>,
    ) -> PyResult<Bound<'py, PyTuple>> {
        self.forward(py, queries, positives, negatives, teacher_margins)
    }
}
}

impl PyMarginMseLoss {
    fn forward_typed<'py, T: Float + Element>(
        &self,
        py: Python<'py>,
        queries: &Bound<'py, PyAny>,
        positives: &Bound<'py, PyAny>,
        negatives: &Bound<'py, PyAny>,
        teacher_margins: &Bound<'py, PyAny>,
    ) -> PyResult<Bound<'py, PyTuple>> {
        let q = FloatArray::<T>::extract("queries", queries, 2, "(B, D)")?;
        let p = FloatArray::<T>::extract("positives", positives, 2, "(B, D)")?;
        let n = extract_set::<T>("negatives", negatives, true)?;
        let item_shape = n.shape[..n.shape.len() - 1].to_vec();
        let t_ndim = crate::arrays::as_ndarray("teacher_margins", teacher_margins)?.ndim();
        let t = FloatArray::<T>::extract(
            "teacher_margins",
            teacher_margins,
            t_ndim.clamp(1, 2),
            "(B,) or (B, K)",
        )?;
        ensure_target_shape("teacher_margins", &t.shape, &item_shape)?;
        let (q_data, p_data, n_data, t_data) =
            (q.elements()?, p.elements()?, n.elements()?, t.elements()?);
        let q_mat = MatRef::new(&q_data, q.shape[0], q.shape[1]);
        let p_mat = MatRef::new(&p_data, p.shape[0], p.shape[1]);
        let n_set = set_ref(&n_data, &n.shape);
        let config = self.inner.get();
        let out =
            run_kernel(py, || config.forward(q_mat, p_mat, n_set, &t_data))?.map_err(to_py_err)?;
        let loss = loss_object::<T>(py, config.reduction, out.loss, &out.item_losses, item_shape)?;
        result_tuple(
            py,
            loss,
            vec![
                Some((out.grad_queries, q.shape.clone())),
                Some((out.grad_positives, p.shape.clone())),
                Some((out.grad_negatives, n.shape.clone())),
                None,
            ],
        )
    }
}

// ---------------------------------------------------------------------------------------------

crate::config::config_class! {
/// KL distillation: ``T_s^2 KL(softmax(teacher / T_t) || softmax(sim / T_s))`` per query.
class PyDistillKlDivLoss(DistillKlDivLoss) as "DistillKLDivLoss" {
    /// Temperature of both sides unless overridden, a finite float > 0.
    temperature: f64 = 1.0, check = crate::config::positive;
    /// Student temperature (``None``: ``temperature``).
    student_temperature: Option<f64> = None, check = optional_positive;
    /// Teacher temperature (``None``: ``temperature``).
    teacher_temperature: Option<f64> = None, check = optional_positive;
    /// ``"dot"`` or ``"cosine"``.
    similarity: Similarity = "dot";
    /// ``"mean"`` (batch mean), ``"sum"`` or ``"none"``.
    reduction: Reduction = "mean";
}

#[pymethods]
impl PyDistillKlDivLoss {
    /// Computes `(loss, (grad_queries, grad_candidates, None))`.
    fn forward<'py>(
        &self,
        py: Python<'py>,
        queries: &Bound<'py, PyAny>,
        candidates: &Bound<'py, PyAny>,
        teacher_scores: &Bound<'py, PyAny>,
    ) -> PyResult<Bound<'py, PyTuple>> {
        let dtype = float_dtype("queries", queries)?;
        ensure_same_dtype("candidates", candidates, dtype, "queries")?;
        ensure_same_dtype("teacher_scores", teacher_scores, dtype, "queries")?;
        match dtype {
            FloatDtype::F32 => self.forward_typed::<f32>(py, queries, candidates, teacher_scores),
            FloatDtype::F64 => self.forward_typed::<f64>(py, queries, candidates, teacher_scores),
        }
    }

    /// Same as `forward`.
    fn __call__<'py>(
        &self,
        py: Python<'py>,
        queries: &Bound<'py, PyAny>,
        candidates: &Bound<'py, PyAny>,
        teacher_scores: &Bound<'py, PyAny>,
    ) -> PyResult<Bound<'py, PyTuple>> {
        self.forward(py, queries, candidates, teacher_scores)
    }
}
}

impl PyDistillKlDivLoss {
    fn forward_typed<'py, T: Float + Element>(
        &self,
        py: Python<'py>,
        queries: &Bound<'py, PyAny>,
        candidates: &Bound<'py, PyAny>,
        teacher_scores: &Bound<'py, PyAny>,
    ) -> PyResult<Bound<'py, PyTuple>> {
        let q = FloatArray::<T>::extract("queries", queries, 2, "(B, D)")?;
        let c = extract_set::<T>("candidates", candidates, false)?;
        let t = FloatArray::<T>::extract("teacher_scores", teacher_scores, 2, "(B, C)")?;
        ensure_target_shape("teacher_scores", &t.shape, &c.shape[..2])?;
        let (q_data, c_data, t_data) = (q.elements()?, c.elements()?, t.elements()?);
        let q_mat = MatRef::new(&q_data, q.shape[0], q.shape[1]);
        let c_set = set_ref(&c_data, &c.shape);
        let config = self.inner.get();
        let out = run_kernel(py, || config.forward(q_mat, c_set, &t_data))?.map_err(to_py_err)?;
        let items = vec![q.shape[0]];
        let loss = loss_object::<T>(py, config.reduction, out.loss, &out.item_losses, items)?;
        result_tuple(
            py,
            loss,
            vec![
                Some((out.grad_queries, q.shape.clone())),
                Some((out.grad_positives, c.shape.clone())),
                None,
            ],
        )
    }
}

// ---------------------------------------------------------------------------------------------

crate::config::config_class! {
/// Batch triplet losses from labels (sentence-transformers' batch hard / semi-hard / all).
class PyBatchTripletLoss(BatchTripletLoss) as "BatchTripletLoss" {
    /// ``"hardest"``, ``"semi_hard"`` or ``"all"``.
    mining: TripletMining = "hardest";
    /// Margin, a finite float >= 0.
    margin: f64 = 5.0, check = crate::config::non_negative;
    /// ``"euclidean"`` or ``"cosine"``.
    distance: Distance = "euclidean";
    /// ``softplus(d_ap - d_an)`` instead of the hinge (``mining="hardest"`` only).
    soft_margin: bool = False;
    /// The largest distance block kept whole, in bytes; above it the kernel streams panels.
    logits_budget_bytes: usize = 268435456, convert = budget_bytes;
}
validate = validate_batch_triplet;

#[pymethods]
impl PyBatchTripletLoss {
    /// Computes `(loss, (grad_embeddings, None))`.
    fn forward<'py>(
        &self,
        py: Python<'py>,
        embeddings: &Bound<'py, PyAny>,
        labels: &Bound<'py, PyAny>,
    ) -> PyResult<Bound<'py, PyTuple>> {
        let dtype = float_dtype("embeddings", embeddings)?;
        let labels = extract_labels(labels)?;
        let config = self.inner.get();
        // One scalar with the peers' averaging: reported like a summed loss.
        let reduction = Reduction::Sum;
        match dtype {
            FloatDtype::F32 => {
                labeled_forward::<f32>(py, embeddings, &labels, reduction, |z, l| {
                    config.forward(z, l)
                })
            }
            FloatDtype::F64 => {
                labeled_forward::<f64>(py, embeddings, &labels, reduction, |z, l| {
                    config.forward(z, l)
                })
            }
        }
    }

    /// Same as `forward`.
    fn __call__<'py>(
        &self,
        py: Python<'py>,
        embeddings: &Bound<'py, PyAny>,
        labels: &Bound<'py, PyAny>,
    ) -> PyResult<Bound<'py, PyTuple>> {
        self.forward(py, embeddings, labels)
    }
}
}

/// Registers the classes of this file.
pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<PyCoSentLoss>()?;
    m.add_class::<PyAnglELoss>()?;
    m.add_class::<PySupConLoss>()?;
    m.add_class::<PyMarginMseLoss>()?;
    m.add_class::<PyDistillKlDivLoss>()?;
    m.add_class::<PyBatchTripletLoss>()?;
    Ok(())
}
