//! `HardNegativeMiner` and `GraphHardNegativeMiner` (see the stub file).

use numpy::{Element, PyArray1, PyArray2, PyArrayMethods};
use pyo3::prelude::*;
use ruvector_training_core::mining::Strategy;
use ruvector_training_core::{
    Float, GraphHardNegativeMiner, HardNegativeMiner, MatRef, MiningInputs, Similarity,
};

use crate::arrays::{
    ensure_same_dtype, float_dtype, to_py_err, value_error, FloatArray, FloatDtype,
};
use crate::indices::{exclude_lists, int_array, int_vector};
use crate::kernel::run_kernel;
use crate::losses::extract_edges;
use crate::search::positive_count;

/// `check =` of an optional float filter: NaN is refused (None and infinities are allowed).
fn not_nan(arg: &'static str, value: &Option<f64>) -> PyResult<()> {
    match value {
        Some(v) if v.is_nan() => Err(value_error(arg, "must not be NaN")),
        _ => Ok(()),
    }
}

/// The whole miner's ranges (cross-field: `distance_weighted` needs cosine).
fn validate_miner(miner: &HardNegativeMiner) -> PyResult<()> {
    miner.validate().map_err(to_py_err)
}

crate::config::config_class! {
/// Mines hard negatives for each anchor from a pool, in one streaming pass.
///
/// Every argument is an attribute, writable between calls with the constructor's checks;
/// an invalid value raises ``ValueError`` and leaves the miner unchanged.
class PyHardNegativeMiner(HardNegativeMiner) as "HardNegativeMiner" {
    /// Selection rule: ``"hardest"``, ``"semi_hard"``, ``"weighted"``,
    /// ``"distance_weighted"``, ``"random"`` or ``"mixed"``.
    strategy: Strategy = "hardest";
    /// K, negatives per anchor (>= 1).
    num_negatives: usize = 5, convert = positive_count;
    /// Width of the semi-hard band (finite, >= 0).
    margin: f64 = 0.2;
    /// Inverse temperature of ``"weighted"`` sampling (finite).
    alpha: f64 = 1.0;
    /// Share of hardest negatives in ``"mixed"``, in [0, 1].
    hard_ratio: f64 = 0.5;
    /// Relative false-negative margin (finite, >= 0), or None (off).
    relative_margin: Option<f64> = None, check = not_nan;
    /// Absolute similarity ceiling, or None (off).
    max_similarity: Option<f64> = None, check = not_nan;
    /// ``"cosine"`` or ``"dot"``.
    similarity: Similarity = "cosine";
    /// Seed of the sampling strategies (an int in [0, 2**64)).
    seed: u64 = 0;
}
validate = validate_miner;

#[pymethods]
impl PyHardNegativeMiner {
    /// Mines negatives: an `int64 (B, K)` array of pool indices, `-1` padded.
    #[pyo3(signature = (anchors, pool, positives = None, anchor_labels = None,
        pool_labels = None, exclude = None))]
    #[allow(clippy::too_many_arguments)]
    fn mine<'py>(
        &self,
        py: Python<'py>,
        anchors: &Bound<'py, PyAny>,
        pool: &Bound<'py, PyAny>,
        positives: Option<&Bound<'py, PyAny>>,
        anchor_labels: Option<&Bound<'py, PyAny>>,
        pool_labels: Option<&Bound<'py, PyAny>>,
        exclude: Option<&Bound<'py, PyAny>>,
    ) -> PyResult<Bound<'py, PyArray2<i64>>> {
        let dtype = float_dtype("anchors", anchors)?;
        ensure_same_dtype("pool", pool, dtype, "anchors")?;
        let positives = positives.filter(|p| !p.is_none());
        if let Some(p) = positives {
            ensure_same_dtype("positives", p, dtype, "anchors")?;
        }
        let labels = LabelArgs {
            anchor: anchor_labels
                .filter(|l| !l.is_none())
                .map(|l| int_vector("anchor_labels", l, None, "one label per anchor"))
                .transpose()?,
            pool: pool_labels
                .filter(|l| !l.is_none())
                .map(|l| int_vector("pool_labels", l, None, "one label per pool row"))
                .transpose()?,
        };
        match dtype {
            FloatDtype::F32 => {
                self.mine_typed::<f32>(py, anchors, pool, positives, &labels, exclude)
            }
            FloatDtype::F64 => {
                self.mine_typed::<f64>(py, anchors, pool, positives, &labels, exclude)
            }
        }
    }

}
}

/// The optional label arrays of `mine`.
struct LabelArgs {
    anchor: Option<Vec<i64>>,
    pool: Option<Vec<i64>>,
}

impl PyHardNegativeMiner {
    fn mine_typed<'py, T: Float + Element>(
        &self,
        py: Python<'py>,
        anchors: &Bound<'py, PyAny>,
        pool: &Bound<'py, PyAny>,
        positives: Option<&Bound<'py, PyAny>>,
        labels: &LabelArgs,
        exclude: Option<&Bound<'py, PyAny>>,
    ) -> PyResult<Bound<'py, PyArray2<i64>>> {
        let anchors = FloatArray::<T>::extract("anchors", anchors, 2, "(B, D)")?;
        let pool = FloatArray::<T>::extract("pool", pool, 2, "(M, D)")?;
        let positives = positives
            .map(|p| FloatArray::<T>::extract("positives", p, 2, "(B, D)"))
            .transpose()?;
        let (rows, pool_rows) = (anchors.shape[0], pool.shape[0]);
        let exclude = exclude_lists("exclude", exclude, rows, pool_rows)?;
        let (a, m) = (anchors.elements()?, pool.matrix()?);
        let p = positives
            .as_ref()
            .map(|p| p.elements().map(|data| (data, p.shape.clone())))
            .transpose()?;
        let inputs = MiningInputs {
            anchors: MatRef::new(&a, rows, anchors.shape[1]),
            pool: m.view(),
            positives: p
                .as_ref()
                .map(|(data, shape)| MatRef::new(data, shape[0], shape[1])),
            anchor_labels: labels.anchor.as_deref(),
            pool_labels: labels.pool.as_deref(),
            exclude: exclude.as_ref(),
        };
        let config = self.inner.get();
        let indices = run_kernel(py, || config.mine(&inputs))?.map_err(to_py_err)?;
        PyArray1::from_vec(py, indices).reshape([rows, config.num_negatives])
    }
}

crate::config::config_class! {
/// Graph-aware hard negatives: nodes close in the graph but not adjacent.
class PyGraphHardNegativeMiner(GraphHardNegativeMiner) as "GraphHardNegativeMiner" {
    /// Candidates lie within this many hops (>= 1; 1 leaves no candidates).
    hop_distance: usize = 2, convert = positive_count;
    /// K, negatives per anchor (>= 1).
    num_negatives: usize = 5, convert = positive_count;
    /// ``"cosine"`` or ``"dot"``.
    similarity: Similarity = "cosine";
}

#[pymethods]
impl PyGraphHardNegativeMiner {
    /// Mines negatives for `anchor_nodes`: an `int64 (B, K)` array of node ids, `-1` padded.
    fn mine<'py>(
        &self,
        py: Python<'py>,
        anchor_nodes: &Bound<'py, PyAny>,
        embeddings: &Bound<'py, PyAny>,
        edges: &Bound<'py, PyAny>,
    ) -> PyResult<Bound<'py, PyArray2<i64>>> {
        let (anchors, shape) = int_array("anchor_nodes", anchor_nodes)?;
        if shape.len() != 1 {
            return Err(value_error(
                "anchor_nodes",
                format!(
                    "expected a 1-D array of node ids, got {} dimensions",
                    shape.len()
                ),
            ));
        }
        let edges = extract_edges(edges)?;
        match float_dtype("embeddings", embeddings)? {
            FloatDtype::F32 => self.mine_typed::<f32>(py, &anchors, embeddings, &edges),
            FloatDtype::F64 => self.mine_typed::<f64>(py, &anchors, embeddings, &edges),
        }
    }

}
}

impl PyGraphHardNegativeMiner {
    fn mine_typed<'py, T: Float + Element>(
        &self,
        py: Python<'py>,
        anchors: &[i64],
        embeddings: &Bound<'py, PyAny>,
        edges: &[[usize; 2]],
    ) -> PyResult<Bound<'py, PyArray2<i64>>> {
        let embeddings = FloatArray::<T>::extract("embeddings", embeddings, 2, "(N, D)")?;
        let data = embeddings.elements()?;
        let matrix = MatRef::new(&data, embeddings.shape[0], embeddings.shape[1]);
        let config = self.inner.get();
        let indices = run_kernel(py, || config.mine(anchors, matrix, edges))?.map_err(to_py_err)?;
        PyArray1::from_vec(py, indices).reshape([anchors.len(), config.num_negatives])
    }
}
