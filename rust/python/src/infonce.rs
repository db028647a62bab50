//! The `InfoNCELoss` Python class.

use numpy::Element;
use pyo3::prelude::*;
use pyo3::types::PyTuple;
use ruvector_training_core::validate::ensure_positive;
use std::sync::Mutex;

use ruvector_training_core::{
    Float, InfoNceBatch, InfoNceLoss, MatRef, NegativesRef, Reduction, Similarity, Workspace,
    DEFAULT_LOGITS_BUDGET_BYTES,
};

use crate::args::{integer, real, Shared};
use crate::arrays::{
    ensure_same_dtype, float_dtype, loss_object, result_tuple, to_py_err, value_error, FloatArray,
    FloatDtype,
};
use crate::kernel::run_kernel;

/// InfoNCE / NT-Xent / MultipleNegativesRankingLoss with exact gradients (see the stub file).
#[pyclass(name = "InfoNCELoss", module = "ruvector_training._core", frozen)]
pub struct PyInfoNceLoss {
    inner: Shared<InfoNceLoss>,
    /// Scratch kept between calls; a concurrent call on the same object uses fresh memory.
    workspaces: Mutex<Workspaces>,
}

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

#[pymethods]
impl PyInfoNceLoss {
    #[new]
    #[pyo3(signature = (temperature=0.07, similarity="cosine", symmetric=false, reduction="mean", logits_budget_bytes=DEFAULT_BUDGET_BYTES))]
    fn new(
        #[pyo3(from_py_with = temperature_arg)] temperature: f64,
        similarity: &str,
        symmetric: bool,
        reduction: &str,
        #[pyo3(from_py_with = budget_arg)] logits_budget_bytes: i128,
    ) -> PyResult<Self> {
        ensure_positive("temperature", temperature).map_err(to_py_err)?;
        Ok(Self {
            inner: Shared::new(InfoNceLoss {
                temperature,
                similarity: Similarity::parse(similarity).map_err(to_py_err)?,
                symmetric,
                reduction: Reduction::parse(reduction).map_err(to_py_err)?,
                logits_budget_bytes: budget_bytes("logits_budget_bytes", logits_budget_bytes)?,
            }),
            workspaces: Mutex::new(Workspaces::default()),
        })
    }

    /// Softmax temperature (> 0).
    #[getter]
    fn temperature(&self) -> f64 {
        self.inner.get().temperature
    }

    #[setter]
    fn set_temperature(&self, value: &Bound<'_, PyAny>) -> PyResult<()> {
        let value = real("temperature", value)?;
        ensure_positive("temperature", value).map_err(to_py_err)?;
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
        let similarity = Similarity::parse(value).map_err(to_py_err)?;
        self.inner.set(|c| c.similarity = similarity);
        Ok(())
    }

    /// Whether the positives-as-queries direction is averaged in.
    #[getter]
    fn symmetric(&self) -> bool {
        self.inner.get().symmetric
    }

    #[setter]
    fn set_symmetric(&self, value: bool) {
        self.inner.set(|c| c.symmetric = value);
    }

    /// `"mean"`, `"sum"` or `"none"`.
    #[getter]
    fn reduction(&self) -> &'static str {
        self.inner.get().reduction.name()
    }

    #[setter]
    fn set_reduction(&self, value: &str) -> PyResult<()> {
        let reduction = Reduction::parse(value).map_err(to_py_err)?;
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
        let budget = budget_bytes(
            "logits_budget_bytes",
            integer("logits_budget_bytes", value)?,
        )?;
        self.inner.set(|c| c.logits_budget_bytes = budget);
        Ok(())
    }

    /// Computes `(loss, (grad_anchors, grad_positives, grad_negatives))`.
    #[pyo3(signature = (anchors, positives, negatives=None, *, in_batch=None))]
    fn forward<'py>(
        &self,
        py: Python<'py>,
        anchors: &Bound<'py, PyAny>,
        positives: &Bound<'py, PyAny>,
        negatives: Option<&Bound<'py, PyAny>>,
        in_batch: Option<bool>,
    ) -> PyResult<Bound<'py, PyTuple>> {
        let dtype = float_dtype("anchors", anchors)?;
        ensure_same_dtype("positives", positives, dtype, "anchors")?;
        if let Some(negatives) = negatives {
            ensure_same_dtype("negatives", negatives, dtype, "anchors")?;
        }
        let args = Args {
            anchors,
            positives,
            negatives,
            in_batch,
        };
        match dtype {
            FloatDtype::F32 => self.forward_typed::<f32>(py, &args),
            FloatDtype::F64 => self.forward_typed::<f64>(py, &args),
        }
    }

    /// Same as [`forward`](Self::forward).
    #[pyo3(signature = (anchors, positives, negatives=None, *, in_batch=None))]
    fn __call__<'py>(
        &self,
        py: Python<'py>,
        anchors: &Bound<'py, PyAny>,
        positives: &Bound<'py, PyAny>,
        negatives: Option<&Bound<'py, PyAny>>,
        in_batch: Option<bool>,
    ) -> PyResult<Bound<'py, PyTuple>> {
        self.forward(py, anchors, positives, negatives, in_batch)
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

    fn __repr__(&self) -> String {
        let c = self.inner.get();
        format!(
            "InfoNCELoss(temperature={}, similarity='{}', symmetric={}, reduction='{}', logits_budget_bytes={})",
            c.temperature,
            c.similarity.name(),
            if c.symmetric { "True" } else { "False" },
            c.reduction.name(),
            c.logits_budget_bytes
        )
    }
}

/// The default budget as the signature's integer type.
pub const DEFAULT_BUDGET_BYTES: i128 = DEFAULT_LOGITS_BUDGET_BYTES as i128;

crate::args::real_args!(temperature_arg => "temperature");
crate::args::integer_args!(budget_arg => "logits_budget_bytes");

/// Validates a memory budget argument `arg`: a non-negative number of bytes (0 streams one
/// row at a time).
pub fn budget_bytes(arg: &str, value: i128) -> PyResult<usize> {
    usize::try_from(value)
        .map_err(|_| value_error(arg, format!("must be a number of bytes >= 0, got {value}")))
}

/// The array arguments of one call.
struct Args<'a, 'py> {
    anchors: &'a Bound<'py, PyAny>,
    positives: &'a Bound<'py, PyAny>,
    negatives: Option<&'a Bound<'py, PyAny>>,
    in_batch: Option<bool>,
}

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
        let config = self.inner.get();
        let workspaces = &self.workspaces;
        let output = run_kernel(py, || match workspaces.try_lock() {
            Ok(mut guard) => config.forward_with(&batch, T::slot(&mut guard)),
            Err(_) => config.forward(&batch),
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
