//! The `TripletLoss`, `CosineSimilarityLoss`, `LocalContrastiveLoss` and
//! `SpectralRegularization` Python classes.

use numpy::{Element, PyArray1, PyArrayDescrMethods, PyUntypedArrayMethods};
use pyo3::exceptions::PyTypeError;
use pyo3::prelude::*;
use pyo3::types::PyTuple;

use ruvector_training_core::{
    CosineSimilarityLoss, Distance, EigenMethod, EigenOptions, Float, GraphLossOutput,
    LocalContrastiveLoss, MatRef, NegativesRef, Reduction, SpectralRegularization, TripletBatch,
    TripletLoss, DEFAULT_SPECTRAL_LAMBDA,
};

use crate::args::real;
use crate::arrays::{
    as_ndarray, ensure_same_dtype, float_dtype, format_shape, loss_object, ndarray_of,
    result_tuple, to_py_err, try_collect, value_error, FloatArray, FloatDtype,
};
use crate::indices::int_array;
use crate::kernel::run_kernel;
use crate::search::positive_count;

/// A positive finite float argument (conversion errors as [`real`]); zero, a negative, NaN or
/// infinity is a `ValueError` naming `arg`.
fn positive_float(arg: &str, value: &Bound<'_, PyAny>) -> PyResult<f64> {
    let number = real(arg, value)?;
    if number.is_finite() && number > 0.0 {
        Ok(number)
    } else {
        Err(value_error(
            arg,
            format!("must be a positive finite number, got {value}"),
        ))
    }
}

/// Reads an `(E, 2)` array of any integer dtype as node-index pairs; negative indices are a
/// `ValueError` (indices past N are checked by the core against the embeddings).
pub fn extract_edges(obj: &Bound<'_, PyAny>) -> PyResult<Vec<[usize; 2]>> {
    let (flat, shape) = int_array("edges", obj)?;
    if shape.len() != 2 || shape[1] != 2 {
        return Err(value_error(
            "edges",
            format!("expected shape (E, 2), got {}", format_shape(&shape)),
        ));
    }
    if let Some(position) = flat.iter().position(|&v| v < 0) {
        return Err(value_error(
            "edges",
            format!(
                "node indices must be >= 0, got {} in row {}",
                flat[position],
                position / 2
            ),
        ));
    }
    try_collect(
        "edges",
        flat.len() / 2,
        "the edge list",
        flat.chunks_exact(2)
            .map(|pair| [pair[0] as usize, pair[1] as usize]),
    )
}

/// Reads a 1-D array of dtype `bool`.
fn extract_labels(obj: &Bound<'_, PyAny>) -> PyResult<Vec<bool>> {
    let array = ndarray_of("labels", obj, "dtype bool (True = similar edge)")?;
    if !array.dtype().is_equiv_to(&numpy::dtype::<bool>(obj.py())) {
        return Err(PyTypeError::new_err(format!(
            "labels: expected dtype bool (True = similar edge), got {}",
            array.dtype()
        )));
    }
    let labels = FloatArray::<bool>::extract("labels", obj, 1, "(E,)")?;
    labels.to_owned_vec()
}

/// Reads a 1-D float32/float64 array as `f64`.
fn extract_weights(obj: &Bound<'_, PyAny>) -> PyResult<Vec<f64>> {
    Ok(match float_dtype("weights", obj)? {
        FloatDtype::F32 => {
            let weights = FloatArray::<f32>::extract("weights", obj, 1, "(E,)")?;
            let values = weights.elements()?;
            try_collect(
                "weights",
                values.len(),
                "a float64 copy of the weights",
                values.iter().map(|&w| w as f64),
            )?
        }
        FloatDtype::F64 => FloatArray::<f64>::extract("weights", obj, 1, "(E,)")?.to_owned_vec()?,
    })
}

crate::args::integer_args!(num_nodes_arg => "num_nodes", k_arg => "k");

// ---------------------------------------------------------------------------------------------

crate::config::config_class! {
/// Triplet margin loss ``max(0, d(a, p) - d(a, n) + margin)`` with exact gradients.
///
/// Every argument is an attribute, writable between calls with the constructor's checks.
class PyTripletLoss(TripletLoss) as "TripletLoss" {
    /// Margin, a finite float >= 0.
    margin: f64 = 1.0, check = crate::config::non_negative;
    /// ``"euclidean"`` (``||x - y||``) or ``"cosine"`` (``1 - cos(x, y)``).
    distance: Distance = "euclidean";
    /// ``"mean"`` (over all ``B * K`` triplets), ``"sum"`` or ``"none"``.
    reduction: Reduction = "mean";
}

#[pymethods]
impl PyTripletLoss {
    /// Computes `(loss, (grad_anchors, grad_positives, grad_negatives))`.
    fn forward<'py>(
        &self,
        py: Python<'py>,
        anchors: &Bound<'py, PyAny>,
        positives: &Bound<'py, PyAny>,
        negatives: &Bound<'py, PyAny>,
    ) -> PyResult<Bound<'py, PyTuple>> {
        let dtype = float_dtype("anchors", anchors)?;
        ensure_same_dtype("positives", positives, dtype, "anchors")?;
        ensure_same_dtype("negatives", negatives, dtype, "anchors")?;
        match dtype {
            FloatDtype::F32 => self.forward_typed::<f32>(py, anchors, positives, negatives),
            FloatDtype::F64 => self.forward_typed::<f64>(py, anchors, positives, negatives),
        }
    }

    /// Same as [`forward`](Self::forward).
    fn __call__<'py>(
        &self,
        py: Python<'py>,
        anchors: &Bound<'py, PyAny>,
        positives: &Bound<'py, PyAny>,
        negatives: &Bound<'py, PyAny>,
    ) -> PyResult<Bound<'py, PyTuple>> {
        self.forward(py, anchors, positives, negatives)
    }

}
}

impl PyTripletLoss {
    fn forward_typed<'py, T: Float + Element>(
        &self,
        py: Python<'py>,
        anchors: &Bound<'py, PyAny>,
        positives: &Bound<'py, PyAny>,
        negatives: &Bound<'py, PyAny>,
    ) -> PyResult<Bound<'py, PyTuple>> {
        let anchors = FloatArray::<T>::extract("anchors", anchors, 2, "(B, D)")?;
        let positives = FloatArray::<T>::extract("positives", positives, 2, "(B, D)")?;
        let ndim = as_ndarray("negatives", negatives)?.ndim();
        let negatives = FloatArray::<T>::extract(
            "negatives",
            negatives,
            if ndim == 3 { 3 } else { 2 },
            "(B, D) or (B, K, D)",
        )?;
        let (a, p, n) = (
            anchors.elements()?,
            positives.elements()?,
            negatives.elements()?,
        );
        let (per_row, dim) = match negatives.shape[..] {
            [_, k, d] => (k, d),
            [_, d] => (1, d),
            _ => unreachable!("checked to be 2-D or 3-D"),
        };
        let batch = TripletBatch {
            anchors: MatRef::new(&a, anchors.shape[0], anchors.shape[1]),
            positives: MatRef::new(&p, positives.shape[0], positives.shape[1]),
            negatives: NegativesRef {
                data: &n,
                batch: negatives.shape[0],
                per_row,
                dim,
            },
        };
        let config = self.inner.get();
        let out = run_kernel(py, || config.forward(&batch))?.map_err(to_py_err)?;
        // "none": one loss per triplet, shaped like the negatives without D.
        let loss_shape = negatives.shape[..negatives.shape.len() - 1].to_vec();
        let loss = loss_object::<T>(
            py,
            config.reduction,
            out.loss,
            &out.triplet_losses,
            loss_shape,
        )?;
        result_tuple(
            py,
            loss,
            vec![
                Some((out.grad_anchors, anchors.shape.clone())),
                Some((out.grad_positives, positives.shape.clone())),
                Some((out.grad_negatives, negatives.shape.clone())),
            ],
        )
    }
}

// ---------------------------------------------------------------------------------------------

crate::config::config_class! {
/// ``(cos(u_i, v_i) - score_i)^2`` per pair (sentence-transformers' CosineSimilarityLoss).
///
/// Rows are normalised by ``max(||x||, 1e-12)`` and gradients flow through the normalisation.
class PyCosineSimilarityLoss(CosineSimilarityLoss) as "CosineSimilarityLoss" {
    /// ``"mean"``, ``"sum"`` or ``"none"``.
    reduction: Reduction = "mean";
}

#[pymethods]
impl PyCosineSimilarityLoss {
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
        match dtype {
            FloatDtype::F32 => self.forward_typed::<f32>(py, u, v, scores),
            FloatDtype::F64 => self.forward_typed::<f64>(py, u, v, scores),
        }
    }

    /// Same as [`forward`](Self::forward).
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

impl PyCosineSimilarityLoss {
    fn forward_typed<'py, T: Float + Element>(
        &self,
        py: Python<'py>,
        u: &Bound<'py, PyAny>,
        v: &Bound<'py, PyAny>,
        scores: &Bound<'py, PyAny>,
    ) -> PyResult<Bound<'py, PyTuple>> {
        let u = FloatArray::<T>::extract("u", u, 2, "(B, D)")?;
        let v = FloatArray::<T>::extract("v", v, 2, "(B, D)")?;
        let scores = FloatArray::<T>::extract("scores", scores, 1, "(B,)")?;
        let (u_data, v_data, s_data) = (u.elements()?, v.elements()?, scores.elements()?);
        let u_mat = MatRef::new(&u_data, u.shape[0], u.shape[1]);
        let v_mat = MatRef::new(&v_data, v.shape[0], v.shape[1]);
        let config = self.inner.get();
        let out = run_kernel(py, || config.forward(u_mat, v_mat, &s_data))?.map_err(to_py_err)?;
        let loss = loss_object::<T>(
            py,
            config.reduction,
            out.loss,
            &out.pair_losses,
            vec![u.shape[0]],
        )?;
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
}

// ---------------------------------------------------------------------------------------------

crate::config::config_class! {
/// Neighbourhood preservation on a graph: per edge ``(i, j)`` with ``d = ||z_i - z_j||``,
/// ``d^2`` for a similar edge and ``max(0, margin - d)^2`` for a dissimilar one.
class PyLocalContrastiveLoss(LocalContrastiveLoss) as "LocalContrastiveLoss" {
    /// Margin of dissimilar edges, a finite float >= 0.
    margin: f64 = 1.0, check = crate::config::non_negative;
    /// ``"mean"`` (over edges), ``"sum"`` or ``"none"``.
    reduction: Reduction = "mean";
}

#[pymethods]
impl PyLocalContrastiveLoss {
    /// Computes `(loss, (grad_embeddings, None, None))`.
    #[pyo3(signature = (embeddings, edges, labels=None))]
    fn forward<'py>(
        &self,
        py: Python<'py>,
        embeddings: &Bound<'py, PyAny>,
        edges: &Bound<'py, PyAny>,
        labels: Option<&Bound<'py, PyAny>>,
    ) -> PyResult<Bound<'py, PyTuple>> {
        let dtype = float_dtype("embeddings", embeddings)?;
        let edges = extract_edges(edges)?;
        let labels = labels.map(extract_labels).transpose()?;
        match dtype {
            FloatDtype::F32 => self.forward_typed::<f32>(py, embeddings, &edges, labels),
            FloatDtype::F64 => self.forward_typed::<f64>(py, embeddings, &edges, labels),
        }
    }

    /// Same as [`forward`](Self::forward).
    #[pyo3(signature = (embeddings, edges, labels=None))]
    fn __call__<'py>(
        &self,
        py: Python<'py>,
        embeddings: &Bound<'py, PyAny>,
        edges: &Bound<'py, PyAny>,
        labels: Option<&Bound<'py, PyAny>>,
    ) -> PyResult<Bound<'py, PyTuple>> {
        self.forward(py, embeddings, edges, labels)
    }

}
}

impl PyLocalContrastiveLoss {
    fn forward_typed<'py, T: Float + Element>(
        &self,
        py: Python<'py>,
        embeddings: &Bound<'py, PyAny>,
        edges: &[[usize; 2]],
        labels: Option<Vec<bool>>,
    ) -> PyResult<Bound<'py, PyTuple>> {
        let config = self.inner.get();
        graph_forward(py, embeddings, config.reduction, |z: MatRef<'_, T>| {
            config.forward(z, edges, labels.as_deref())
        })
    }
}

/// Runs a graph loss on `embeddings` with the GIL released and builds
/// `(loss, (grad_embeddings, None, None))`.
fn graph_forward<'py, T: Float + Element>(
    py: Python<'py>,
    embeddings: &Bound<'py, PyAny>,
    reduction: Reduction,
    run: impl FnOnce(MatRef<'_, T>) -> ruvector_training_core::Result<GraphLossOutput<T>> + Send,
) -> PyResult<Bound<'py, PyTuple>> {
    let z = FloatArray::<T>::extract("embeddings", embeddings, 2, "(N, D)")?;
    let data = z.elements()?;
    let matrix = MatRef::new(&data, z.shape[0], z.shape[1]);
    let out = run_kernel(py, || run(matrix))?.map_err(to_py_err)?;
    let edge_count = vec![out.edge_losses.len()];
    let loss = loss_object::<T>(py, reduction, out.loss, &out.edge_losses, edge_count)?;
    result_tuple(
        py,
        loss,
        vec![Some((out.grad_embeddings, z.shape.clone())), None, None],
    )
}

// ---------------------------------------------------------------------------------------------

crate::config::config_class! {
/// Laplacian smoothness ``lam * tr(Z^T L Z)`` with exact gradient.
class PySpectralRegularization(SpectralRegularization) as "SpectralRegularization" {
    /// Scale of the regulariser, a finite float >= 0.
    lam: f64 = 0.01, check = crate::config::non_negative;
    /// Use the symmetric normalised Laplacian ``L_sym`` (else ``D - W``).
    normalized: bool = True;
}

#[pymethods]
impl PySpectralRegularization {
    /// Computes `(loss, (grad_embeddings, None, None))`.
    #[pyo3(signature = (embeddings, edges, weights=None))]
    fn forward<'py>(
        &self,
        py: Python<'py>,
        embeddings: &Bound<'py, PyAny>,
        edges: &Bound<'py, PyAny>,
        weights: Option<&Bound<'py, PyAny>>,
    ) -> PyResult<Bound<'py, PyTuple>> {
        let dtype = float_dtype("embeddings", embeddings)?;
        let edges = extract_edges(edges)?;
        let weights = weights.map(extract_weights).transpose()?;
        match dtype {
            FloatDtype::F32 => self.forward_typed::<f32>(py, embeddings, &edges, weights),
            FloatDtype::F64 => self.forward_typed::<f64>(py, embeddings, &edges, weights),
        }
    }

    /// Same as [`forward`](Self::forward).
    #[pyo3(signature = (embeddings, edges, weights=None))]
    fn __call__<'py>(
        &self,
        py: Python<'py>,
        embeddings: &Bound<'py, PyAny>,
        edges: &Bound<'py, PyAny>,
        weights: Option<&Bound<'py, PyAny>>,
    ) -> PyResult<Bound<'py, PyTuple>> {
        self.forward(py, embeddings, edges, weights)
    }

    /// The `k` smallest eigenvalues (ascending, float64 `(k,)`) of the Laplacian this
    /// regulariser uses, for a graph of `num_nodes` nodes (see the stub file).
    #[pyo3(signature = (num_nodes, edges, k, weights=None, *, method="auto", max_iterations=None, tol=None))]
    #[allow(clippy::too_many_arguments)]
    fn eigenvalues<'py>(
        &self,
        py: Python<'py>,
        #[pyo3(from_py_with = num_nodes_arg)] num_nodes: i128,
        edges: &Bound<'py, PyAny>,
        #[pyo3(from_py_with = k_arg)] k: i128,
        weights: Option<&Bound<'py, PyAny>>,
        method: &str,
        max_iterations: Option<&Bound<'py, PyAny>>,
        tol: Option<&Bound<'py, PyAny>>,
    ) -> PyResult<Bound<'py, PyArray1<f64>>> {
        let method = EigenMethod::parse(method).map_err(to_py_err)?;
        let max_iterations = max_iterations
            .map(|value| positive_count("max_iterations", value))
            .transpose()?;
        let tol = tol.map(|value| positive_float("tol", value)).transpose()?;
        let options = EigenOptions {
            method,
            max_iterations,
            tol,
        };
        let num_nodes = usize::try_from(num_nodes)
            .ok()
            .filter(|&n| n > 0)
            .ok_or_else(|| {
                value_error(
                    "num_nodes",
                    format!("must be in [1, 2**64), got {num_nodes}"),
                )
            })?;
        let k = usize::try_from(k).ok().filter(|&k| k > 0).ok_or_else(|| {
            value_error(
                "k",
                format!("must be in 1..=num_nodes ({num_nodes}), got {k}"),
            )
        })?;
        let edges = extract_edges(edges)?;
        let weights = weights.map(extract_weights).transpose()?;
        let config = self.inner.get();
        let values = run_kernel(py, || {
            config.eigenvalues(num_nodes, &edges, k, weights.as_deref(), options)
        })?
        .map_err(to_py_err)?;
        Ok(PyArray1::from_vec(py, values))
    }

}
}

// The table's default is the core's.
const _: () = assert!(DEFAULT_SPECTRAL_LAMBDA == 0.01);

impl PySpectralRegularization {
    fn forward_typed<'py, T: Float + Element>(
        &self,
        py: Python<'py>,
        embeddings: &Bound<'py, PyAny>,
        edges: &[[usize; 2]],
        weights: Option<Vec<f64>>,
    ) -> PyResult<Bound<'py, PyTuple>> {
        let config = self.inner.get();
        // The regulariser is one number: reported like a summed loss.
        graph_forward(py, embeddings, Reduction::Sum, |z: MatRef<'_, T>| {
            config.forward(z, edges, weights.as_deref())
        })
    }
}
