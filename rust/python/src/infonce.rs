//! The `InfoNCELoss` Python class.

use numpy::Element;
use pyo3::prelude::*;
use pyo3::types::PyTuple;
use std::sync::Mutex;

use ruvector_training_core::{
    Float, InfoNceBatch, InfoNceLoss, MatRef, NegativesRef, Reduction, Similarity, Workspace,
    DEFAULT_LOGITS_BUDGET_BYTES,
};

use crate::args::integer;
use crate::arrays::{
    ensure_same_dtype, float_dtype, loss_object, result_tuple, to_py_err, value_error, FloatArray,
    FloatDtype,
};
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
}
state { workspaces: Mutex<Workspaces> = Mutex::new(Workspaces::default()) }

#[pymethods]
impl PyInfoNceLoss {
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
}
}

// The table's default is the core's.
const _: () = assert!(DEFAULT_LOGITS_BUDGET_BYTES == 268435456);

/// `logits_budget_bytes`: a non-negative number of bytes (0 streams one row at a time).
pub fn budget_bytes(arg: &'static str, value: &Bound<'_, PyAny>) -> PyResult<usize> {
    let value = integer(arg, value)?;
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
