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

use crate::args::{integer, real, Shared};
use crate::arrays::{
    ensure_same_dtype, float_dtype, loss_object, result_tuple, to_py_err, value_error, FloatArray,
    FloatDtype,
};
use crate::indices::int_array;
use crate::infonce::{budget_bytes, DEFAULT_BUDGET_BYTES};
use crate::kernel::run_kernel;

crate::args::real_args!(
    scale_arg => "scale",
    temperature_arg => "temperature",
    margin_arg => "margin",
);
crate::args::integer_args!(budget_arg => "logits_budget_bytes");
crate::args::optional_real_args!(
    student_temperature_arg => "student_temperature",
    teacher_temperature_arg => "teacher_temperature",
);

/// An optional finite float > 0 named `arg`.
fn optional_positive(arg: &'static str, value: Option<f64>) -> PyResult<Option<f64>> {
    value.map(|v| positive(arg, v)).transpose()
}

/// Reads a `(B, D)` or `(B, K, D)` array as a set of rows per query (`K = 1` for 2-D), with the
/// array's shape.
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

fn parse_reduction(name: &str) -> PyResult<Reduction> {
    Reduction::parse(name).map_err(to_py_err)
}

fn parse_similarity(name: &str) -> PyResult<Similarity> {
    Similarity::parse(name).map_err(to_py_err)
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

/// A finite float > 0 named `arg` (conversion through [`real`]).
fn positive(arg: &'static str, value: f64) -> PyResult<f64> {
    ruvector_training_core::validate::ensure_positive(arg, value).map_err(to_py_err)?;
    Ok(value)
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
    ($py_name:ident, $name:literal, $core:ident) => {
        #[doc = concat!("`", $name, "` (see the stub file).")]
        #[pyclass(name = $name, module = "ruvector_training._core", frozen)]
        pub struct $py_name {
            inner: Shared<$core>,
        }

        #[pymethods]
        impl $py_name {
            #[new]
            #[pyo3(signature = (scale=20.0))]
            fn new(#[pyo3(from_py_with = scale_arg)] scale: f64) -> PyResult<Self> {
                Ok(Self {
                    inner: Shared::new($core {
                        scale: positive("scale", scale)?,
                    }),
                })
            }

            /// Inverse temperature of the similarities (> 0).
            #[getter]
            fn scale(&self) -> f64 {
                self.inner.get().scale
            }

            #[setter]
            fn set_scale(&self, value: &Bound<'_, PyAny>) -> PyResult<()> {
                let scale = positive("scale", real("scale", value)?)?;
                self.inner.set(|c| c.scale = scale);
                Ok(())
            }

            fn __repr__(&self) -> String {
                format!(concat!($name, "(scale={:?})"), self.inner.get().scale)
            }

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
    };
}

score_ranking_class!(PyCoSentLoss, "CoSENTLoss", CoSentLoss);
score_ranking_class!(PyAnglELoss, "AnglELoss", AnglELoss);

// ---------------------------------------------------------------------------------------------

/// Supervised contrastive loss (see the stub file).
#[pyclass(name = "SupConLoss", module = "ruvector_training._core", frozen)]
pub struct PySupConLoss {
    inner: Shared<SupConLoss>,
}

#[pymethods]
impl PySupConLoss {
    #[new]
    #[pyo3(signature = (temperature=0.1, similarity="cosine", reduction="mean", logits_budget_bytes=DEFAULT_BUDGET_BYTES))]
    fn new(
        #[pyo3(from_py_with = temperature_arg)] temperature: f64,
        similarity: &str,
        reduction: &str,
        #[pyo3(from_py_with = budget_arg)] logits_budget_bytes: i128,
    ) -> PyResult<Self> {
        Ok(Self {
            inner: Shared::new(SupConLoss {
                temperature: positive("temperature", temperature)?,
                similarity: parse_similarity(similarity)?,
                reduction: parse_reduction(reduction)?,
                logits_budget_bytes: budget_bytes(logits_budget_bytes)?,
            }),
        })
    }

    /// Softmax temperature (> 0).
    #[getter]
    fn temperature(&self) -> f64 {
        self.inner.get().temperature
    }

    #[setter]
    fn set_temperature(&self, value: &Bound<'_, PyAny>) -> PyResult<()> {
        let value = positive("temperature", real("temperature", value)?)?;
        self.inner.set(|c| c.temperature = value);
        Ok(())
    }

    /// `"cosine"` or `"dot"`.
    #[getter]
    fn similarity(&self) -> &'static str {
        self.inner.get().similarity.name()
    }

    #[setter]
    fn set_similarity(&self, value: &str) -> PyResult<()> {
        let similarity = parse_similarity(value)?;
        self.inner.set(|c| c.similarity = similarity);
        Ok(())
    }

    /// `"mean"`, `"sum"` or `"none"`.
    #[getter]
    fn reduction(&self) -> &'static str {
        self.inner.get().reduction.name()
    }

    #[setter]
    fn set_reduction(&self, value: &str) -> PyResult<()> {
        let reduction = parse_reduction(value)?;
        self.inner.set(|c| c.reduction = reduction);
        Ok(())
    }

    /// Largest logits matrix kept whole, in bytes; above it the kernel streams panels.
    #[getter]
    fn logits_budget_bytes(&self) -> usize {
        self.inner.get().logits_budget_bytes
    }

    #[setter]
    fn set_logits_budget_bytes(&self, value: &Bound<'_, PyAny>) -> PyResult<()> {
        let budget = budget_bytes(integer("logits_budget_bytes", value)?)?;
        self.inner.set(|c| c.logits_budget_bytes = budget);
        Ok(())
    }

    fn __repr__(&self) -> String {
        let c = self.inner.get();
        format!(
            "SupConLoss(temperature={:?}, similarity='{}', reduction='{}', logits_budget_bytes={})",
            c.temperature,
            c.similarity.name(),
            c.reduction.name(),
            c.logits_budget_bytes
        )
    }

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

// ---------------------------------------------------------------------------------------------

/// MarginMSE distillation loss (see the stub file).
#[pyclass(name = "MarginMSELoss", module = "ruvector_training._core", frozen)]
pub struct PyMarginMseLoss {
    inner: Shared<MarginMseLoss>,
}

#[pymethods]
impl PyMarginMseLoss {
    #[new]
    #[pyo3(signature = (similarity="dot", reduction="mean"))]
    fn new(similarity: &str, reduction: &str) -> PyResult<Self> {
        Ok(Self {
            inner: Shared::new(MarginMseLoss {
                similarity: parse_similarity(similarity)?,
                reduction: parse_reduction(reduction)?,
            }),
        })
    }

    /// `"dot"` or `"cosine"`.
    #[getter]
    fn similarity(&self) -> &'static str {
        self.inner.get().similarity.name()
    }

    #[setter]
    fn set_similarity(&self, value: &str) -> PyResult<()> {
        let similarity = parse_similarity(value)?;
        self.inner.set(|c| c.similarity = similarity);
        Ok(())
    }

    /// `"mean"`, `"sum"` or `"none"`.
    #[getter]
    fn reduction(&self) -> &'static str {
        self.inner.get().reduction.name()
    }

    #[setter]
    fn set_reduction(&self, value: &str) -> PyResult<()> {
        let reduction = parse_reduction(value)?;
        self.inner.set(|c| c.reduction = reduction);
        Ok(())
    }

    fn __repr__(&self) -> String {
        let c = self.inner.get();
        format!(
            "MarginMSELoss(similarity='{}', reduction='{}')",
            c.similarity.name(),
            c.reduction.name()
        )
    }

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

/// KL-divergence distillation loss (see the stub file).
#[pyclass(name = "DistillKLDivLoss", module = "ruvector_training._core", frozen)]
pub struct PyDistillKlDivLoss {
    inner: Shared<DistillKlDivLoss>,
}

#[pymethods]
impl PyDistillKlDivLoss {
    #[new]
    #[pyo3(signature = (temperature=1.0, student_temperature=None, teacher_temperature=None, similarity="dot", reduction="mean"))]
    fn new(
        #[pyo3(from_py_with = temperature_arg)] temperature: f64,
        #[pyo3(from_py_with = student_temperature_arg)] student_temperature: Option<f64>,
        #[pyo3(from_py_with = teacher_temperature_arg)] teacher_temperature: Option<f64>,
        similarity: &str,
        reduction: &str,
    ) -> PyResult<Self> {
        Ok(Self {
            inner: Shared::new(DistillKlDivLoss {
                temperature: positive("temperature", temperature)?,
                student_temperature: optional_positive("student_temperature", student_temperature)?,
                teacher_temperature: optional_positive("teacher_temperature", teacher_temperature)?,
                similarity: parse_similarity(similarity)?,
                reduction: parse_reduction(reduction)?,
            }),
        })
    }

    /// Temperature of both sides unless overridden (> 0).
    #[getter]
    fn temperature(&self) -> f64 {
        self.inner.get().temperature
    }

    #[setter]
    fn set_temperature(&self, value: &Bound<'_, PyAny>) -> PyResult<()> {
        let value = positive("temperature", real("temperature", value)?)?;
        self.inner.set(|c| c.temperature = value);
        Ok(())
    }

    /// Student temperature in effect (`temperature` unless set).
    #[getter]
    fn student_temperature(&self) -> f64 {
        self.inner.get().temperatures().0
    }

    #[setter]
    fn set_student_temperature(&self, value: Option<&Bound<'_, PyAny>>) -> PyResult<()> {
        let value = crate::args::optional_real("student_temperature", value)?;
        let value = optional_positive("student_temperature", value)?;
        self.inner.set(|c| c.student_temperature = value);
        Ok(())
    }

    /// Teacher temperature in effect (`temperature` unless set).
    #[getter]
    fn teacher_temperature(&self) -> f64 {
        self.inner.get().temperatures().1
    }

    #[setter]
    fn set_teacher_temperature(&self, value: Option<&Bound<'_, PyAny>>) -> PyResult<()> {
        let value = crate::args::optional_real("teacher_temperature", value)?;
        let value = optional_positive("teacher_temperature", value)?;
        self.inner.set(|c| c.teacher_temperature = value);
        Ok(())
    }

    /// `"dot"` or `"cosine"`.
    #[getter]
    fn similarity(&self) -> &'static str {
        self.inner.get().similarity.name()
    }

    #[setter]
    fn set_similarity(&self, value: &str) -> PyResult<()> {
        let similarity = parse_similarity(value)?;
        self.inner.set(|c| c.similarity = similarity);
        Ok(())
    }

    /// `"mean"` (batch mean), `"sum"` or `"none"`.
    #[getter]
    fn reduction(&self) -> &'static str {
        self.inner.get().reduction.name()
    }

    #[setter]
    fn set_reduction(&self, value: &str) -> PyResult<()> {
        let reduction = parse_reduction(value)?;
        self.inner.set(|c| c.reduction = reduction);
        Ok(())
    }

    fn __repr__(&self) -> String {
        let c = self.inner.get();
        let (student, teacher) = c.temperatures();
        format!(
            "DistillKLDivLoss(temperature={:?}, student_temperature={:?}, teacher_temperature={:?}, similarity='{}', reduction='{}')",
            c.temperature,
            student,
            teacher,
            c.similarity.name(),
            c.reduction.name()
        )
    }

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

/// Batch triplet loss from labels (see the stub file).
#[pyclass(name = "BatchTripletLoss", module = "ruvector_training._core", frozen)]
pub struct PyBatchTripletLoss {
    inner: Shared<BatchTripletLoss>,
}

/// Installs `change` if the resulting configuration is valid.
fn update_triplet(
    inner: &Shared<BatchTripletLoss>,
    change: impl FnOnce(&mut BatchTripletLoss),
) -> PyResult<()> {
    inner.update(change, |c| c.validate().map_err(to_py_err))
}

#[pymethods]
impl PyBatchTripletLoss {
    #[new]
    #[pyo3(signature = (mining="hardest", margin=5.0, distance="euclidean", soft_margin=false, logits_budget_bytes=DEFAULT_BUDGET_BYTES))]
    fn new(
        mining: &str,
        #[pyo3(from_py_with = margin_arg)] margin: f64,
        distance: &str,
        soft_margin: bool,
        #[pyo3(from_py_with = budget_arg)] logits_budget_bytes: i128,
    ) -> PyResult<Self> {
        let config = BatchTripletLoss {
            mining: TripletMining::parse(mining).map_err(to_py_err)?,
            margin,
            distance: Distance::parse(distance).map_err(to_py_err)?,
            soft_margin,
            logits_budget_bytes: budget_bytes(logits_budget_bytes)?,
        };
        config.validate().map_err(to_py_err)?;
        Ok(Self {
            inner: Shared::new(config),
        })
    }

    /// `"hardest"`, `"semi_hard"` or `"all"`.
    #[getter]
    fn mining(&self) -> &'static str {
        self.inner.get().mining.name()
    }

    #[setter]
    fn set_mining(&self, value: &str) -> PyResult<()> {
        let mining = TripletMining::parse(value).map_err(to_py_err)?;
        update_triplet(&self.inner, |c| c.mining = mining)
    }

    /// Margin (>= 0).
    #[getter]
    fn margin(&self) -> f64 {
        self.inner.get().margin
    }

    #[setter]
    fn set_margin(&self, value: &Bound<'_, PyAny>) -> PyResult<()> {
        let margin = real("margin", value)?;
        update_triplet(&self.inner, |c| c.margin = margin)
    }

    /// `"euclidean"` or `"cosine"`.
    #[getter]
    fn distance(&self) -> &'static str {
        self.inner.get().distance.name()
    }

    #[setter]
    fn set_distance(&self, value: &str) -> PyResult<()> {
        let distance = Distance::parse(value).map_err(to_py_err)?;
        update_triplet(&self.inner, |c| c.distance = distance)
    }

    /// `softplus(d_ap - d_an)` instead of the hinge (only with `mining="hardest"`).
    #[getter]
    fn soft_margin(&self) -> bool {
        self.inner.get().soft_margin
    }

    #[setter]
    fn set_soft_margin(&self, value: bool) -> PyResult<()> {
        update_triplet(&self.inner, |c| c.soft_margin = value)
    }

    /// Largest distance panel kept whole, in bytes; above it the kernel streams panels.
    #[getter]
    fn logits_budget_bytes(&self) -> usize {
        self.inner.get().logits_budget_bytes
    }

    #[setter]
    fn set_logits_budget_bytes(&self, value: &Bound<'_, PyAny>) -> PyResult<()> {
        let budget = budget_bytes(integer("logits_budget_bytes", value)?)?;
        self.inner.set(|c| c.logits_budget_bytes = budget);
        Ok(())
    }

    fn __repr__(&self) -> String {
        let c = self.inner.get();
        format!(
            "BatchTripletLoss(mining='{}', margin={:?}, distance='{}', soft_margin={}, logits_budget_bytes={})",
            c.mining.name(),
            c.margin,
            c.distance.name(),
            if c.soft_margin { "True" } else { "False" },
            c.logits_budget_bytes
        )
    }

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
