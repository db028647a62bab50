//! `topk`: exact blocked top-k search (see the stub file).

use numpy::{Element, PyArray1, PyArrayMethods};
use pyo3::prelude::*;
use pyo3::types::PyTuple;
use ruvector_training_core::{topk as core_topk, Float, MatRef, Similarity};

use crate::args::integer;
use crate::arrays::{
    ensure_same_dtype, float_dtype, to_py_err, value_error, FloatArray, FloatDtype,
};
use crate::indices::exclude_lists;
use crate::kernel::run_kernel;

/// A positive count argument (`k`, `num_negatives`) as `usize`: a `TypeError` for a
/// non-integer, a `ValueError` for a value below 1 or beyond 64 bits.
pub fn positive_count(arg: &str, value: &Bound<'_, PyAny>) -> PyResult<usize> {
    let count = integer(arg, value)?;
    match i64::try_from(count) {
        Ok(n) if n >= 1 => Ok(n as usize),
        _ => Err(value_error(
            arg,
            format!("must be >= 1 (and below 2**63), got {value}"),
        )),
    }
}

/// `k=`: an integer >= 1.
fn k_arg(value: &Bound<'_, PyAny>) -> PyResult<usize> {
    positive_count("k", value)
}

/// Exact top-k of `queries (Q, D)` against `corpus (M, D)`: `(scores (Q, k), indices (Q, k))`.
#[pyfunction]
#[pyo3(signature = (queries, corpus, k, similarity = "cosine", exclude = None))]
pub fn topk<'py>(
    py: Python<'py>,
    queries: &Bound<'py, PyAny>,
    corpus: &Bound<'py, PyAny>,
    #[pyo3(from_py_with = k_arg)] k: usize,
    similarity: &str,
    exclude: Option<&Bound<'py, PyAny>>,
) -> PyResult<Bound<'py, PyTuple>> {
    let similarity = Similarity::parse(similarity).map_err(to_py_err)?;
    let dtype = float_dtype("queries", queries)?;
    ensure_same_dtype("corpus", corpus, dtype, "queries")?;
    match dtype {
        FloatDtype::F32 => topk_typed::<f32>(py, queries, corpus, k, similarity, exclude),
        FloatDtype::F64 => topk_typed::<f64>(py, queries, corpus, k, similarity, exclude),
    }
}

fn topk_typed<'py, T: Float + Element>(
    py: Python<'py>,
    queries: &Bound<'py, PyAny>,
    corpus: &Bound<'py, PyAny>,
    k: usize,
    similarity: Similarity,
    exclude: Option<&Bound<'py, PyAny>>,
) -> PyResult<Bound<'py, PyTuple>> {
    let queries = FloatArray::<T>::extract("queries", queries, 2, "(Q, D)")?;
    let corpus = FloatArray::<T>::extract("corpus", corpus, 2, "(M, D)")?;
    let (num_queries, num_corpus) = (queries.shape[0], corpus.shape[0]);
    let exclude = exclude_lists("exclude", exclude, num_queries, num_corpus)?;
    let q = queries.elements()?;
    let q = MatRef::new(&q, num_queries, queries.shape[1]);
    let corpus = corpus.matrix()?;
    let c = corpus.view();
    let result =
        run_kernel(py, || core_topk(q, c, k, similarity, exclude.as_ref()))?.map_err(to_py_err)?;
    let scores = PyArray1::from_vec(py, result.scores).reshape([num_queries, k])?;
    let indices = PyArray1::from_vec(py, result.indices).reshape([num_queries, k])?;
    PyTuple::new(py, [scores.into_any(), indices.into_any()])
}
