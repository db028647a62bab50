//! `HardNegativeMiner` and `GraphHardNegativeMiner` (see the stub file).

use numpy::{Element, PyArray1, PyArray2, PyArrayMethods};
use pyo3::prelude::*;
use ruvector_training_core::mining::Strategy;
use ruvector_training_core::{
    Float, GraphHardNegativeMiner, HardNegativeMiner, MatRef, MiningInputs, Similarity,
};

use crate::args::{integer, optional_real, real, Shared};
use crate::arrays::{
    ensure_same_dtype, float_dtype, to_py_err, value_error, FloatArray, FloatDtype,
};
use crate::graph::GraphSource;
use crate::indices::{exclude_lists, int_array, int_vector};
use crate::kernel::run_kernel;
use crate::search::{parse_similarity, positive_count};

fn similarity_name(similarity: Similarity) -> &'static str {
    match similarity {
        Similarity::Cosine => "cosine",
        Similarity::Dot => "dot",
    }
}

/// `num_negatives=`: an integer >= 1.
fn num_negatives_arg(value: &Bound<'_, PyAny>) -> PyResult<usize> {
    positive_count("num_negatives", value)
}

/// `hop_distance=`: an integer >= 1.
fn hop_distance_arg(value: &Bound<'_, PyAny>) -> PyResult<usize> {
    positive_count("hop_distance", value)
}

/// `seed=`: an integer in `[0, 2**64)`.
fn seed_value(value: &Bound<'_, PyAny>) -> PyResult<u64> {
    let seed = integer("seed", value)?;
    u64::try_from(seed)
        .map_err(|_| value_error("seed", format!("must be in [0, 2**64), got {value}")))
}

crate::args::real_args!(margin_arg => "margin", alpha_arg => "alpha", hard_ratio_arg => "hard_ratio");
crate::args::optional_real_args!(
    relative_margin_arg => "relative_margin",
    max_similarity_arg => "max_similarity",
);

fn optional_finite(arg: &str, value: Option<f64>) -> PyResult<Option<f64>> {
    match value {
        Some(v) if v.is_nan() => Err(value_error(arg, "must not be NaN")),
        other => Ok(other),
    }
}

/// Hard-negative miner over a pool of embeddings (see the stub file).
#[pyclass(name = "HardNegativeMiner", module = "ruvector_training._core", frozen)]
pub struct PyHardNegativeMiner {
    inner: Shared<HardNegativeMiner>,
}

impl PyHardNegativeMiner {
    /// Applies `change` to a copy of the configuration and keeps it only if it validates.
    fn update(&self, change: impl FnOnce(&mut HardNegativeMiner)) -> PyResult<()> {
        self.inner
            .update(change, |next| next.validate().map_err(to_py_err))
    }
}

#[pymethods]
impl PyHardNegativeMiner {
    #[new]
    #[pyo3(signature = (strategy = "hardest", num_negatives = 5, margin = 0.2, alpha = 1.0,
        hard_ratio = 0.5, relative_margin = None, max_similarity = None, similarity = "cosine",
        seed = 0))]
    #[allow(clippy::too_many_arguments)]
    fn new(
        strategy: &str,
        #[pyo3(from_py_with = num_negatives_arg)] num_negatives: usize,
        #[pyo3(from_py_with = margin_arg)] margin: f64,
        #[pyo3(from_py_with = alpha_arg)] alpha: f64,
        #[pyo3(from_py_with = hard_ratio_arg)] hard_ratio: f64,
        #[pyo3(from_py_with = relative_margin_arg)] relative_margin: Option<f64>,
        #[pyo3(from_py_with = max_similarity_arg)] max_similarity: Option<f64>,
        similarity: &str,
        #[pyo3(from_py_with = seed_value)] seed: u64,
    ) -> PyResult<Self> {
        let inner = HardNegativeMiner {
            strategy: Strategy::parse(strategy).map_err(to_py_err)?,
            num_negatives,
            margin,
            alpha,
            hard_ratio,
            relative_margin: optional_finite("relative_margin", relative_margin)?,
            max_similarity: optional_finite("max_similarity", max_similarity)?,
            similarity: parse_similarity(similarity)?,
            seed,
            ..HardNegativeMiner::default()
        };
        inner.validate().map_err(to_py_err)?;
        Ok(Self {
            inner: Shared::new(inner),
        })
    }

    /// Selection rule name.
    #[getter]
    fn strategy(&self) -> &'static str {
        self.inner.get().strategy.name()
    }

    #[setter]
    fn set_strategy(&self, value: &str) -> PyResult<()> {
        let strategy = Strategy::parse(value).map_err(to_py_err)?;
        self.update(|m| m.strategy = strategy)
    }

    /// K, negatives per anchor.
    #[getter]
    fn num_negatives(&self) -> usize {
        self.inner.get().num_negatives
    }

    #[setter]
    fn set_num_negatives(&self, value: &Bound<'_, PyAny>) -> PyResult<()> {
        let k = positive_count("num_negatives", value)?;
        self.update(|m| m.num_negatives = k)
    }

    /// Width of the semi-hard band.
    #[getter]
    fn margin(&self) -> f64 {
        self.inner.get().margin
    }

    #[setter]
    fn set_margin(&self, value: &Bound<'_, PyAny>) -> PyResult<()> {
        let value = real("margin", value)?;
        self.update(|m| m.margin = value)
    }

    /// Inverse temperature of weighted sampling.
    #[getter]
    fn alpha(&self) -> f64 {
        self.inner.get().alpha
    }

    #[setter]
    fn set_alpha(&self, value: &Bound<'_, PyAny>) -> PyResult<()> {
        let value = real("alpha", value)?;
        self.update(|m| m.alpha = value)
    }

    /// Share of hardest negatives in `mixed`.
    #[getter]
    fn hard_ratio(&self) -> f64 {
        self.inner.get().hard_ratio
    }

    #[setter]
    fn set_hard_ratio(&self, value: &Bound<'_, PyAny>) -> PyResult<()> {
        let value = real("hard_ratio", value)?;
        self.update(|m| m.hard_ratio = value)
    }

    /// Relative false-negative margin (None: off).
    #[getter]
    fn relative_margin(&self) -> Option<f64> {
        self.inner.get().relative_margin
    }

    #[setter]
    fn set_relative_margin(&self, value: Option<&Bound<'_, PyAny>>) -> PyResult<()> {
        let value = optional_finite("relative_margin", optional_real("relative_margin", value)?)?;
        self.update(|m| m.relative_margin = value)
    }

    /// Absolute similarity ceiling (None: off).
    #[getter]
    fn max_similarity(&self) -> Option<f64> {
        self.inner.get().max_similarity
    }

    #[setter]
    fn set_max_similarity(&self, value: Option<&Bound<'_, PyAny>>) -> PyResult<()> {
        let value = optional_finite("max_similarity", optional_real("max_similarity", value)?)?;
        self.update(|m| m.max_similarity = value)
    }

    /// `"cosine"` or `"dot"`.
    #[getter]
    fn similarity(&self) -> &'static str {
        similarity_name(self.inner.get().similarity)
    }

    #[setter]
    fn set_similarity(&self, value: &str) -> PyResult<()> {
        let similarity = parse_similarity(value)?;
        self.update(|m| m.similarity = similarity)
    }

    /// Seed of the sampling strategies.
    #[getter]
    fn seed(&self) -> u64 {
        self.inner.get().seed
    }

    #[setter]
    fn set_seed(&self, value: &Bound<'_, PyAny>) -> PyResult<()> {
        let seed = seed_value(value)?;
        self.inner.set(|m| m.seed = seed);
        Ok(())
    }

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

    fn __repr__(&self) -> String {
        let m = self.inner.get();
        format!(
            "HardNegativeMiner(strategy={:?}, num_negatives={}, margin={}, alpha={}, \
             hard_ratio={}, relative_margin={:?}, max_similarity={:?}, similarity={:?}, seed={})",
            m.strategy.name(),
            m.num_negatives,
            m.margin,
            m.alpha,
            m.hard_ratio,
            m.relative_margin,
            m.max_similarity,
            similarity_name(m.similarity),
            m.seed
        )
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

/// Graph hard-negative miner (see the stub file).
#[pyclass(
    name = "GraphHardNegativeMiner",
    module = "ruvector_training._core",
    frozen
)]
pub struct PyGraphHardNegativeMiner {
    inner: Shared<GraphHardNegativeMiner>,
}

#[pymethods]
impl PyGraphHardNegativeMiner {
    #[new]
    #[pyo3(signature = (hop_distance = 2, num_negatives = 5, similarity = "cosine"))]
    fn new(
        #[pyo3(from_py_with = hop_distance_arg)] hop_distance: usize,
        #[pyo3(from_py_with = num_negatives_arg)] num_negatives: usize,
        similarity: &str,
    ) -> PyResult<Self> {
        Ok(Self {
            inner: Shared::new(GraphHardNegativeMiner {
                hop_distance,
                num_negatives,
                similarity: parse_similarity(similarity)?,
            }),
        })
    }

    /// Candidates lie within this many hops.
    #[getter]
    fn hop_distance(&self) -> usize {
        self.inner.get().hop_distance
    }

    #[setter]
    fn set_hop_distance(&self, value: &Bound<'_, PyAny>) -> PyResult<()> {
        let hops = positive_count("hop_distance", value)?;
        self.inner.set(|m| m.hop_distance = hops);
        Ok(())
    }

    /// K, negatives per anchor.
    #[getter]
    fn num_negatives(&self) -> usize {
        self.inner.get().num_negatives
    }

    #[setter]
    fn set_num_negatives(&self, value: &Bound<'_, PyAny>) -> PyResult<()> {
        let k = positive_count("num_negatives", value)?;
        self.inner.set(|m| m.num_negatives = k);
        Ok(())
    }

    /// `"cosine"` or `"dot"`.
    #[getter]
    fn similarity(&self) -> &'static str {
        similarity_name(self.inner.get().similarity)
    }

    #[setter]
    fn set_similarity(&self, value: &str) -> PyResult<()> {
        let similarity = parse_similarity(value)?;
        self.inner.set(|m| m.similarity = similarity);
        Ok(())
    }

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
        let graph = GraphSource::extract(edges, None)?;
        match float_dtype("embeddings", embeddings)? {
            FloatDtype::F32 => self.mine_typed::<f32>(py, &anchors, embeddings, graph),
            FloatDtype::F64 => self.mine_typed::<f64>(py, &anchors, embeddings, graph),
        }
    }

    fn __repr__(&self) -> String {
        let m = self.inner.get();
        format!(
            "GraphHardNegativeMiner(hop_distance={}, num_negatives={}, similarity={:?})",
            m.hop_distance,
            m.num_negatives,
            similarity_name(m.similarity)
        )
    }
}

impl PyGraphHardNegativeMiner {
    fn mine_typed<'py, T: Float + Element>(
        &self,
        py: Python<'py>,
        anchors: &[i64],
        embeddings: &Bound<'py, PyAny>,
        graph: GraphSource,
    ) -> PyResult<Bound<'py, PyArray2<i64>>> {
        let embeddings = FloatArray::<T>::extract("embeddings", embeddings, 2, "(N, D)")?;
        let data = embeddings.elements()?;
        let matrix = MatRef::new(&data, embeddings.shape[0], embeddings.shape[1]);
        let config = self.inner.get();
        let indices = run_kernel(py, || {
            let graph = graph.graph(matrix.rows, "embeddings rows")?;
            config.mine(anchors, matrix, &graph)
        })?
        .map_err(to_py_err)?;
        PyArray1::from_vec(py, indices).reshape([anchors.len(), config.num_negatives])
    }
}
