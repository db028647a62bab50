//! The `TripletLoss`, `CosineSimilarityLoss`, `LocalContrastiveLoss` and
//! `SpectralRegularization` Python classes.

use numpy::{Element, PyArray1, PyArrayDescrMethods, PyUntypedArrayMethods};
use pyo3::exceptions::PyTypeError;
use pyo3::prelude::*;
use pyo3::types::PyTuple;

use ruvector_training_core::validate::ensure_non_negative;
use ruvector_training_core::{
    CosineSimilarityLoss, Distance, EigenMethod, EigenOptions, Float, GraphLossOutput,
    LocalContrastiveLoss, MatRef, NegativesRef, Reduction, SpectralRegularization, TripletBatch,
    TripletLoss, DEFAULT_SPECTRAL_LAMBDA,
};

use crate::args::{real, Shared};
use crate::arrays::{
    as_ndarray, ensure_same_dtype, float_dtype, format_shape, loss_object, ndarray_of,
    result_tuple, to_py_err, try_collect, value_error, FloatArray, FloatDtype,
};
use crate::graph::{GraphSource, PyGraph};
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
pub fn extract_weights(obj: &Bound<'_, PyAny>) -> PyResult<Vec<f64>> {
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

fn parse_reduction(name: &str) -> PyResult<Reduction> {
    Reduction::parse(name).map_err(to_py_err)
}

crate::args::real_args!(margin_arg => "margin", lam_arg => "lam");
crate::args::integer_args!(num_nodes_arg => "num_nodes", k_arg => "k");

fn check_non_negative(arg: &'static str, value: f64) -> PyResult<f64> {
    ensure_non_negative(arg, value).map_err(to_py_err)?;
    Ok(value)
}

// ---------------------------------------------------------------------------------------------

/// Triplet margin loss (see the stub file).
#[pyclass(name = "TripletLoss", module = "ruvector_training._core", frozen)]
pub struct PyTripletLoss {
    inner: Shared<TripletLoss>,
}

#[pymethods]
impl PyTripletLoss {
    #[new]
    #[pyo3(signature = (margin=1.0, distance="euclidean", reduction="mean"))]
    fn new(
        #[pyo3(from_py_with = margin_arg)] margin: f64,
        distance: &str,
        reduction: &str,
    ) -> PyResult<Self> {
        Ok(Self {
            inner: Shared::new(TripletLoss {
                margin: check_non_negative("margin", margin)?,
                distance: Distance::parse(distance).map_err(to_py_err)?,
                reduction: parse_reduction(reduction)?,
            }),
        })
    }

    /// Margin (>= 0).
    #[getter]
    fn margin(&self) -> f64 {
        self.inner.get().margin
    }

    #[setter]
    fn set_margin(&self, value: &Bound<'_, PyAny>) -> PyResult<()> {
        let margin = check_non_negative("margin", real("margin", value)?)?;
        self.inner.set(|c| c.margin = margin);
        Ok(())
    }

    /// `"euclidean"` or `"cosine"`.
    #[getter]
    fn distance(&self) -> &'static str {
        self.inner.get().distance.name()
    }

    #[setter]
    fn set_distance(&self, value: &str) -> PyResult<()> {
        let distance = Distance::parse(value).map_err(to_py_err)?;
        self.inner.set(|c| c.distance = distance);
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

    fn __repr__(&self) -> String {
        let c = self.inner.get();
        format!(
            "TripletLoss(margin={:?}, distance='{}', reduction='{}')",
            c.margin,
            c.distance.name(),
            c.reduction.name()
        )
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

/// `(cos(u_i, v_i) - score_i)^2` (see the stub file).
#[pyclass(
    name = "CosineSimilarityLoss",
    module = "ruvector_training._core",
    frozen
)]
pub struct PyCosineSimilarityLoss {
    inner: Shared<CosineSimilarityLoss>,
}

#[pymethods]
impl PyCosineSimilarityLoss {
    #[new]
    #[pyo3(signature = (reduction="mean"))]
    fn new(reduction: &str) -> PyResult<Self> {
        Ok(Self {
            inner: Shared::new(CosineSimilarityLoss {
                reduction: parse_reduction(reduction)?,
            }),
        })
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

    fn __repr__(&self) -> String {
        format!(
            "CosineSimilarityLoss(reduction='{}')",
            self.inner.get().reduction.name()
        )
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

/// Local contrastive loss on graph edges (see the stub file).
#[pyclass(
    name = "LocalContrastiveLoss",
    module = "ruvector_training._core",
    frozen
)]
pub struct PyLocalContrastiveLoss {
    inner: Shared<LocalContrastiveLoss>,
}

#[pymethods]
impl PyLocalContrastiveLoss {
    #[new]
    #[pyo3(signature = (margin=1.0, reduction="mean"))]
    fn new(#[pyo3(from_py_with = margin_arg)] margin: f64, reduction: &str) -> PyResult<Self> {
        Ok(Self {
            inner: Shared::new(LocalContrastiveLoss {
                margin: check_non_negative("margin", margin)?,
                reduction: parse_reduction(reduction)?,
            }),
        })
    }

    /// Margin of dissimilar edges (>= 0).
    #[getter]
    fn margin(&self) -> f64 {
        self.inner.get().margin
    }

    #[setter]
    fn set_margin(&self, value: &Bound<'_, PyAny>) -> PyResult<()> {
        let margin = check_non_negative("margin", real("margin", value)?)?;
        self.inner.set(|c| c.margin = margin);
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
        let graph = GraphSource::extract(edges, None)?;
        let labels = labels.map(extract_labels).transpose()?;
        match dtype {
            FloatDtype::F32 => self.forward_typed::<f32>(py, embeddings, graph, labels),
            FloatDtype::F64 => self.forward_typed::<f64>(py, embeddings, graph, labels),
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

    fn __repr__(&self) -> String {
        format!(
            "LocalContrastiveLoss(margin={:?}, reduction='{}')",
            self.inner.get().margin,
            self.inner.get().reduction.name()
        )
    }
}

impl PyLocalContrastiveLoss {
    fn forward_typed<'py, T: Float + Element>(
        &self,
        py: Python<'py>,
        embeddings: &Bound<'py, PyAny>,
        graph: GraphSource,
        labels: Option<Vec<bool>>,
    ) -> PyResult<Bound<'py, PyTuple>> {
        let config = self.inner.get();
        graph_forward(py, embeddings, config.reduction, |z: MatRef<'_, T>| {
            let graph = graph.graph(z.rows, "embeddings rows")?;
            config.forward(z, &graph, labels.as_deref())
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

/// `lam * tr(Z^T L Z)` (see the stub file).
#[pyclass(
    name = "SpectralRegularization",
    module = "ruvector_training._core",
    frozen
)]
pub struct PySpectralRegularization {
    inner: Shared<SpectralRegularization>,
}

#[pymethods]
impl PySpectralRegularization {
    #[new]
    #[pyo3(signature = (lam=DEFAULT_SPECTRAL_LAMBDA, normalized=true))]
    fn new(#[pyo3(from_py_with = lam_arg)] lam: f64, normalized: bool) -> PyResult<Self> {
        Ok(Self {
            inner: Shared::new(SpectralRegularization {
                lam: check_non_negative("lam", lam)?,
                normalized,
            }),
        })
    }

    /// Scale of the regulariser (>= 0).
    #[getter]
    fn lam(&self) -> f64 {
        self.inner.get().lam
    }

    #[setter]
    fn set_lam(&self, value: &Bound<'_, PyAny>) -> PyResult<()> {
        let lam = check_non_negative("lam", real("lam", value)?)?;
        self.inner.set(|c| c.lam = lam);
        Ok(())
    }

    /// Whether the symmetric normalised Laplacian is used.
    #[getter]
    fn normalized(&self) -> bool {
        self.inner.get().normalized
    }

    #[setter]
    fn set_normalized(&self, value: bool) {
        self.inner.set(|c| c.normalized = value);
    }

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
        let graph = GraphSource::extract(edges, weights)?;
        match dtype {
            FloatDtype::F32 => self.forward_typed::<f32>(py, embeddings, graph),
            FloatDtype::F64 => self.forward_typed::<f64>(py, embeddings, graph),
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
    /// regulariser uses, for a `Graph`, or a graph of `num_nodes` nodes and `edges` (see the
    /// stub file): `eigenvalues(graph, k)` or `eigenvalues(num_nodes, edges, k, weights)`.
    #[pyo3(signature = (num_nodes, edges=None, k=None, weights=None, *, method="auto", max_iterations=None, tol=None))]
    #[allow(clippy::too_many_arguments)]
    fn eigenvalues<'py>(
        &self,
        py: Python<'py>,
        num_nodes: &Bound<'py, PyAny>,
        edges: Option<&Bound<'py, PyAny>>,
        k: Option<&Bound<'py, PyAny>>,
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
        // `eigenvalues(graph, k)`: the second positional argument is k.
        let (source, edges, k) = if num_nodes.cast::<PyGraph>().is_ok() {
            if edges.is_some() && k.is_some() {
                return Err(PyTypeError::new_err(
                    "eigenvalues: with a Graph, pass eigenvalues(graph, k) (its edges and \
                     weights are the graph's)",
                ));
            }
            (GraphSource::extract(num_nodes, weights)?, None, edges.or(k))
        } else {
            let edges = edges.ok_or_else(|| {
                PyTypeError::new_err("eigenvalues: missing required argument 'edges'")
            })?;
            (GraphSource::extract(edges, weights)?, Some(num_nodes), k)
        };
        let k =
            k.ok_or_else(|| PyTypeError::new_err("eigenvalues: missing required argument 'k'"))?;
        let num_nodes = match (&source, edges) {
            (GraphSource::Built(graph), _) => graph.num_nodes() as i128,
            (_, Some(num_nodes)) => num_nodes_arg(num_nodes)?,
            _ => unreachable!("raw edges come with num_nodes"),
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
        let k = k_arg(k)?;
        let k = usize::try_from(k).ok().filter(|&k| k > 0).ok_or_else(|| {
            value_error(
                "k",
                format!("must be in 1..=num_nodes ({num_nodes}), got {k}"),
            )
        })?;
        let config = self.inner.get();
        let values = run_kernel(py, || match source {
            GraphSource::Built(graph) => config.graph_eigenvalues(&graph, k, options),
            GraphSource::Edges(edges, weights) => {
                config.eigenvalues(num_nodes, &edges, k, weights.as_deref(), options)
            }
        })?
        .map_err(to_py_err)?;
        Ok(PyArray1::from_vec(py, values))
    }

    fn __repr__(&self) -> String {
        format!(
            "SpectralRegularization(lam={:?}, normalized={})",
            self.inner.get().lam,
            if self.inner.get().normalized {
                "True"
            } else {
                "False"
            }
        )
    }
}

impl PySpectralRegularization {
    fn forward_typed<'py, T: Float + Element>(
        &self,
        py: Python<'py>,
        embeddings: &Bound<'py, PyAny>,
        graph: GraphSource,
    ) -> PyResult<Bound<'py, PyTuple>> {
        let config = self.inner.get();
        // The regulariser is one number: reported like a summed loss.
        graph_forward(py, embeddings, Reduction::Sum, |z: MatRef<'_, T>| {
            let graph = graph.graph(z.rows, "embeddings rows")?;
            config.forward(z, &graph)
        })
    }
}
