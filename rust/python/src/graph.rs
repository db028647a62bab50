//! The `Graph` Python class, and [`GraphSource`]: the `edges` argument of the graph consumers
//! (a `Graph`, or a raw `(E, 2)` edge array that goes through the same builder).

use std::sync::Arc;

use numpy::{PyArray1, PyArray2, PyArrayMethods};
use pyo3::exceptions::PyTypeError;
use pyo3::prelude::*;
use pyo3::types::PyTuple;
use ruvector_training_core::Graph;

use crate::arrays::{to_py_err, try_collect, value_error};
use crate::indices::int_vector;
use crate::kernel::run_kernel;
use crate::losses::{extract_edges, extract_weights};

crate::args::integer_args!(num_nodes_arg => "num_nodes", node_arg => "node");

/// Graph(num_nodes, edges, weights=None)
/// --
///
/// An undirected graph on `num_nodes` nodes, built once in Rust and accepted wherever an
/// `edges` array is (LocalContrastiveLoss, SpectralRegularization and its eigenvalues,
/// GraphHardNegativeMiner, Trainer), so the edge list crosses into Rust once.
///
/// It keeps the edge list as given (`edges()`, in order: per-edge consumers stay aligned with
/// your rows) and builds the CSR adjacency once for the neighbourhood consumers (`degrees()`,
/// `neighbors(i)`, the Laplacian, `walk`, the k-hop miner). Rules: `(i, j)` and `(j, i)` are
/// one undirected pair; duplicate edges add their weights (1 each without weights); self-loops
/// stay in `edges()` but are ignored by the adjacency, the Laplacians and the walks; a pair of
/// total weight 0 is not a neighbour pair.
///
/// Args:
///     num_nodes: N >= 1.
///     edges: `(E, 2)` integer ndarray, indices in `[0, N)`.
///     weights: optional `(E,)` float32/float64 weights, finite and >= 0.
///
/// Equality compares num_nodes, the rows and the weights; pickle and deepcopy round-trip.
#[pyclass(name = "Graph", module = "ruvector_training._core", frozen)]
pub struct PyGraph {
    inner: Arc<Graph>,
}

#[pymethods]
impl PyGraph {
    #[new]
    #[pyo3(signature = (num_nodes, edges, weights=None))]
    fn new(
        py: Python<'_>,
        #[pyo3(from_py_with = num_nodes_arg)] num_nodes: i128,
        edges: &Bound<'_, PyAny>,
        weights: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<Self> {
        let num_nodes = usize::try_from(num_nodes)
            .ok()
            .filter(|&n| n > 0)
            .ok_or_else(|| value_error("num_nodes", format!("must be >= 1, got {num_nodes}")))?;
        let edges = extract_edges(edges)?;
        let weights = weights
            .filter(|w| !w.is_none())
            .map(extract_weights)
            .transpose()?;
        // The adjacency is built now, once: its memory errors surface here, and every
        // neighbourhood consumer of this object reuses it.
        let graph = run_kernel(py, || {
            let graph = Graph::new(num_nodes, edges, weights)?;
            graph.adjacency()?;
            Ok(graph)
        })?
        .map_err(to_py_err)?;
        Ok(Self {
            inner: Arc::new(graph),
        })
    }

    /// Number of nodes.
    #[getter]
    fn num_nodes(&self) -> usize {
        self.inner.num_nodes()
    }

    /// Number of edge rows as given (self-loops and duplicates included).
    #[getter]
    fn num_edges(&self) -> usize {
        self.inner.num_edges()
    }

    /// The edge rows as given, in order: a new `int64 (E, 2)` array.
    fn edges<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyArray2<i64>>> {
        let edges = self.inner.edges();
        let flat = try_collect(
            "edges",
            2 * edges.len(),
            "a copy of the edge list",
            edges.iter().flatten().map(|&v| v as i64),
        )?;
        PyArray1::from_vec(py, flat).reshape([edges.len(), 2])
    }

    /// The per-edge weights as given (a new `float64 (E,)` array), or `None`.
    fn weights<'py>(&self, py: Python<'py>) -> Option<Bound<'py, PyArray1<f64>>> {
        self.inner.weights().map(|w| PyArray1::from_slice(py, w))
    }

    /// Weighted degrees `d_i = sum_j w_ij`: a new `float64 (num_nodes,)` array.
    fn degrees<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyArray1<f64>>> {
        Ok(PyArray1::from_slice(py, self.adjacency()?.degrees()))
    }

    /// The neighbours of `node`, each once, ascending: a new `int64` array.
    fn neighbors<'py>(
        &self,
        py: Python<'py>,
        #[pyo3(from_py_with = node_arg)] node: i128,
    ) -> PyResult<Bound<'py, PyArray1<i64>>> {
        let node = self.node(node)?;
        let neighbors = self.adjacency()?.neighbors(node);
        Ok(PyArray1::from_iter(py, neighbors.iter().map(|&j| j as i64)))
    }

    /// The summed edge weights matching `neighbors(node)`: a new `float64` array.
    fn neighbor_weights<'py>(
        &self,
        py: Python<'py>,
        #[pyo3(from_py_with = node_arg)] node: i128,
    ) -> PyResult<Bound<'py, PyArray1<f64>>> {
        let node = self.node(node)?;
        Ok(PyArray1::from_slice(py, self.adjacency()?.weights(node)))
    }

    /// End nodes of random walks driven by `uniforms` (see the stub file).
    fn walk<'py>(
        &self,
        py: Python<'py>,
        starts: &Bound<'py, PyAny>,
        lengths: &Bound<'py, PyAny>,
        uniforms: &Bound<'py, PyAny>,
    ) -> PyResult<Bound<'py, PyArray1<i64>>> {
        let starts = non_negative("starts", int_vector("starts", starts, None, "node ids")?)?;
        let lengths = non_negative(
            "lengths",
            int_vector("lengths", lengths, Some(starts.len()), "one per start")?,
        )?;
        let uniforms = extract_uniforms(uniforms)?;
        let graph = Arc::clone(&self.inner);
        let ends =
            run_kernel(py, || graph.walk_ends(&starts, &lengths, &uniforms))?.map_err(to_py_err)?;
        Ok(PyArray1::from_iter(py, ends.into_iter().map(|j| j as i64)))
    }

    fn __eq__(&self, other: &Bound<'_, PyAny>) -> bool {
        other
            .cast::<PyGraph>()
            .is_ok_and(|other| *other.get().inner == *self.inner)
    }

    fn __reduce__<'py>(slf: &Bound<'py, Self>) -> PyResult<Bound<'py, PyTuple>> {
        let py = slf.py();
        let this = slf.get();
        let args = (this.inner.num_nodes(), this.edges(py)?, this.weights(py));
        PyTuple::new(
            py,
            [
                slf.get_type().into_any(),
                args.into_pyobject(py)?.into_any(),
            ],
        )
    }

    fn __repr__(&self) -> String {
        let weighted = if self.inner.weights().is_some() {
            ", weighted=True"
        } else {
            ""
        };
        format!(
            "Graph(num_nodes={}, num_edges={}{weighted})",
            self.inner.num_nodes(),
            self.inner.num_edges()
        )
    }
}

impl PyGraph {
    /// The merged adjacency (built with the object).
    fn adjacency(&self) -> PyResult<&ruvector_training_core::graph::Adjacency> {
        self.inner.adjacency().map_err(to_py_err)
    }

    /// `node` as an index, or a `ValueError` naming it.
    fn node(&self, node: i128) -> PyResult<usize> {
        let n = self.inner.num_nodes();
        usize::try_from(node)
            .ok()
            .filter(|&i| i < n)
            .ok_or_else(|| value_error("node", format!("must be in [0, {n}), got {node}")))
    }
}

/// Values of an integer vector as indices; a negative one is a `ValueError` naming `arg`.
fn non_negative(arg: &str, values: Vec<i64>) -> PyResult<Vec<usize>> {
    if let Some(at) = values.iter().position(|&v| v < 0) {
        return Err(value_error(
            arg,
            format!("must be >= 0, got {} at index {at}", values[at]),
        ));
    }
    try_collect(
        arg,
        values.len(),
        "a copy",
        values.iter().map(|&v| v as usize),
    )
}

/// A 1-D float64 array of uniforms.
fn extract_uniforms(obj: &Bound<'_, PyAny>) -> PyResult<Vec<f64>> {
    let array = obj.cast::<PyArray1<f64>>().map_err(|_| {
        PyTypeError::new_err(format!(
            "uniforms: expected a 1-D numpy.ndarray of float64, got {}",
            crate::args::type_name(obj)
        ))
    })?;
    array
        .to_vec()
        .map_err(|_| PyTypeError::new_err("uniforms: expected a 1-D numpy.ndarray of float64"))
}

/// The graph a consumer runs on: a built [`Graph`] (shared, nothing is rebuilt) or a raw edge
/// list (and optional weights) that is built, through the same builder, inside the kernel.
pub enum GraphSource {
    /// A `Graph` object.
    Built(Arc<Graph>),
    /// A raw `(E, 2)` edge array and optional weights.
    Edges(Vec<[usize; 2]>, Option<Vec<f64>>),
}

impl GraphSource {
    /// Reads `edges` (a `Graph` or an `(E, 2)` integer array) and optional `weights` (not
    /// allowed with a `Graph`, which holds its own).
    pub fn extract(edges: &Bound<'_, PyAny>, weights: Option<&Bound<'_, PyAny>>) -> PyResult<Self> {
        let weights = weights.filter(|w| !w.is_none());
        if let Ok(graph) = edges.cast::<PyGraph>() {
            if weights.is_some() {
                return Err(value_error(
                    "weights",
                    "a Graph holds its own weights: pass them to Graph(num_nodes, edges, \
                     weights) instead",
                ));
            }
            return Ok(Self::Built(Arc::clone(&graph.get().inner)));
        }
        Ok(Self::Edges(
            extract_edges(edges)?,
            weights.map(extract_weights).transpose()?,
        ))
    }

    /// The graph for an array of `num_nodes` rows (`nodes` names them in messages): the
    /// `Graph` itself, or one built from the raw edges. Call it inside the kernel.
    pub fn graph(
        self,
        num_nodes: usize,
        nodes: &str,
    ) -> ruvector_training_core::Result<Arc<Graph>> {
        match self {
            Self::Built(graph) => Ok(graph),
            Self::Edges(edges, weights) => {
                Graph::build(num_nodes, edges, weights, nodes).map(Arc::new)
            }
        }
    }
}
