//! Late interaction: `maxsim_scores`, `maxsim_topk` and the `MaxSimLoss` class (see the stub
//! file).

use std::borrow::Cow;

use numpy::{dtype, Element, PyArray1, PyArrayDescrMethods, PyArrayMethods, PyReadonlyArrayDyn};
use numpy::{PyUntypedArray, PyUntypedArrayMethods};
use pyo3::exceptions::PyTypeError;
use pyo3::prelude::*;
use pyo3::types::PyTuple;
use ruvector_training_core::{
    maxsim_scores as core_scores, maxsim_topk as core_topk, Float, MaskRef, MaxSimBatch,
    MaxSimLoss, NegativeTokens, Normalize, Reduction, Similarity, TokensRef,
};

use crate::arrays::{
    ensure_same_dtype, float_dtype, format_shape, loss_object, ndarray_of, result_tuple, to_py_err,
    try_vec, value_error, FloatArray, FloatDtype,
};
use crate::infonce::budget_bytes;
use crate::kernel::run_kernel;
use crate::search::positive_count;

/// A token array argument and its optional mask, extracted.
struct Tokens<'py, T: Element> {
    array: FloatArray<'py, T>,
    mask: Option<PyReadonlyArrayDyn<'py, bool>>,
}

impl<'py, T: Element + Float> Tokens<'py, T> {
    /// Extracts `obj` (`ndim`-D, dtype `T` already checked) and its mask, whose shape must be
    /// the array's without the last axis.
    fn extract(
        arg: &str,
        obj: &Bound<'py, PyAny>,
        ndim: usize,
        layout: &str,
        mask_arg: &str,
        mask: Option<&Bound<'py, PyAny>>,
    ) -> PyResult<Self> {
        let array = FloatArray::<T>::extract(arg, obj, ndim, layout)?;
        let mask = mask
            .map(|m| -> PyResult<_> {
                let untyped: &Bound<'py, PyUntypedArray> = ndarray_of(mask_arg, m, "bool")?;
                if !untyped.dtype().is_equiv_to(&dtype::<bool>(m.py())) {
                    return Err(PyTypeError::new_err(format!(
                        "{mask_arg}: expected a boolean array (True = real token), got dtype {}",
                        untyped.dtype()
                    )));
                }
                let mask: PyReadonlyArrayDyn<'py, bool> = m.extract()?;
                let want = &array.shape[..ndim - 1];
                if mask.shape() != want {
                    return Err(value_error(
                        mask_arg,
                        format!(
                            "expected shape {} like {arg} without its last axis, got {}",
                            format_shape(want),
                            format_shape(mask.shape())
                        ),
                    ));
                }
                Ok(mask)
            })
            .transpose()?;
        Ok(Self { array, mask })
    }

    /// The mask's flags in row-major order (borrowed when C-contiguous).
    fn mask_flags(&self, mask_arg: &str) -> PyResult<Option<Cow<'_, [bool]>>> {
        let Some(mask) = &self.mask else {
            return Ok(None);
        };
        if let (true, Ok(slice)) = (mask.is_c_contiguous(), mask.as_slice()) {
            return Ok(Some(Cow::Borrowed(slice)));
        }
        let mut out = try_vec(mask_arg, mask.len(), "a copy of the mask")?;
        out.extend(mask.as_array().iter().copied());
        Ok(Some(Cow::Owned(out)))
    }
}

/// `TokensRef` over extracted data: rows are every axis but the last two.
fn tokens_ref<'a, T: Float>(
    data: &'a [T],
    mask: Option<&'a [bool]>,
    shape: &[usize],
) -> TokensRef<'a, T> {
    let n = shape.len();
    let rows = shape[..n - 2].iter().product();
    let (len, dim) = (shape[n - 2], shape[n - 1]);
    TokensRef {
        data,
        mask: mask.map(|data| MaskRef { data, rows, len }),
        rows,
        len,
        dim,
    }
}

/// The validated dtype of a query/document pair.
fn pair_dtype(queries: &Bound<'_, PyAny>, documents: &Bound<'_, PyAny>) -> PyResult<FloatDtype> {
    let dtype = float_dtype("queries", queries)?;
    ensure_same_dtype("documents", documents, dtype, "queries")?;
    Ok(dtype)
}

/// The array arguments of `maxsim_scores` / `maxsim_topk`.
struct SearchArgs<'a, 'py> {
    queries: &'a Bound<'py, PyAny>,
    documents: &'a Bound<'py, PyAny>,
    query_mask: Option<&'a Bound<'py, PyAny>>,
    document_mask: Option<&'a Bound<'py, PyAny>>,
    similarity: Similarity,
    normalize: Normalize,
}

/// Runs `kernel` on the extracted query and document tokens of `args`.
fn with_tokens<'py, T: Float + Element, R: Send>(
    py: Python<'py>,
    args: &SearchArgs<'_, 'py>,
    kernel: impl FnOnce(TokensRef<'_, T>, TokensRef<'_, T>) -> R + Send,
) -> PyResult<(R, usize)> {
    let q = Tokens::<T>::extract(
        "queries",
        args.queries,
        3,
        "(Q, Lq, D)",
        "query_mask",
        args.query_mask,
    )?;
    let d = Tokens::<T>::extract(
        "documents",
        args.documents,
        3,
        "(M, Ld, D)",
        "document_mask",
        args.document_mask,
    )?;
    let (q_data, d_data) = (q.array.elements()?, d.array.elements()?);
    let (q_mask, d_mask) = (q.mask_flags("query_mask")?, d.mask_flags("document_mask")?);
    let queries = tokens_ref(&q_data, q_mask.as_deref(), &q.array.shape);
    let documents = tokens_ref(&d_data, d_mask.as_deref(), &d.array.shape);
    let result = run_kernel(py, || kernel(queries, documents))?;
    Ok((result, d.array.shape[0]))
}

/// MaxSim scores `(Q, M)` of every query against every document.
#[pyfunction]
#[pyo3(signature = (queries, documents, *, query_mask=None, document_mask=None, similarity="dot", normalize="none"))]
pub fn maxsim_scores<'py>(
    py: Python<'py>,
    queries: &Bound<'py, PyAny>,
    documents: &Bound<'py, PyAny>,
    query_mask: Option<&Bound<'py, PyAny>>,
    document_mask: Option<&Bound<'py, PyAny>>,
    similarity: &str,
    normalize: &str,
) -> PyResult<Bound<'py, PyAny>> {
    let args = SearchArgs {
        queries,
        documents,
        query_mask,
        document_mask,
        similarity: Similarity::parse(similarity).map_err(to_py_err)?,
        normalize: Normalize::parse(normalize).map_err(to_py_err)?,
    };
    fn typed<'py, T: Float + Element>(
        py: Python<'py>,
        args: &SearchArgs<'_, 'py>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let (similarity, normalize) = (args.similarity, args.normalize);
        let (scores, m) =
            with_tokens::<T, _>(py, args, |q, d| core_scores(q, d, similarity, normalize))?;
        let scores = scores.map_err(to_py_err)?;
        let q = scores.len().checked_div(m).unwrap_or(args.queries.len()?);
        Ok(PyArray1::from_vec(py, scores).reshape([q, m])?.into_any())
    }
    match pair_dtype(queries, documents)? {
        FloatDtype::F32 => typed::<f32>(py, &args),
        FloatDtype::F64 => typed::<f64>(py, &args),
    }
}

/// `k=`: an integer >= 1.
fn k_arg(value: &Bound<'_, PyAny>) -> PyResult<usize> {
    positive_count("k", value)
}

/// Exact top-k documents of every query by MaxSim: `(scores (Q, k), indices (Q, k))`.
#[pyfunction]
#[pyo3(signature = (queries, documents, k, *, query_mask=None, document_mask=None, similarity="dot", normalize="none"))]
#[allow(clippy::too_many_arguments)]
pub fn maxsim_topk<'py>(
    py: Python<'py>,
    queries: &Bound<'py, PyAny>,
    documents: &Bound<'py, PyAny>,
    #[pyo3(from_py_with = k_arg)] k: usize,
    query_mask: Option<&Bound<'py, PyAny>>,
    document_mask: Option<&Bound<'py, PyAny>>,
    similarity: &str,
    normalize: &str,
) -> PyResult<Bound<'py, PyTuple>> {
    let args = SearchArgs {
        queries,
        documents,
        query_mask,
        document_mask,
        similarity: Similarity::parse(similarity).map_err(to_py_err)?,
        normalize: Normalize::parse(normalize).map_err(to_py_err)?,
    };
    fn typed<'py, T: Float + Element>(
        py: Python<'py>,
        args: &SearchArgs<'_, 'py>,
        k: usize,
    ) -> PyResult<Bound<'py, PyTuple>> {
        let (similarity, normalize) = (args.similarity, args.normalize);
        let (result, _) =
            with_tokens::<T, _>(py, args, |q, d| core_topk(q, d, k, similarity, normalize))?;
        let result = result.map_err(to_py_err)?;
        let q = result.scores.len() / k;
        let scores = PyArray1::from_vec(py, result.scores).reshape([q, k])?;
        let indices = PyArray1::from_vec(py, result.indices).reshape([q, k])?;
        PyTuple::new(py, [scores.into_any(), indices.into_any()])
    }
    match pair_dtype(queries, documents)? {
        FloatDtype::F32 => typed::<f32>(py, &args, k),
        FloatDtype::F64 => typed::<f64>(py, &args, k),
    }
}

/// The array arguments of one loss call.
struct LossArgs<'a, 'py> {
    queries: &'a Bound<'py, PyAny>,
    documents: &'a Bound<'py, PyAny>,
    negatives: Option<&'a Bound<'py, PyAny>>,
    query_mask: Option<&'a Bound<'py, PyAny>>,
    document_mask: Option<&'a Bound<'py, PyAny>>,
    negative_mask: Option<&'a Bound<'py, PyAny>>,
    in_batch: Option<bool>,
}

crate::config::config_class! {
/// InfoNCE over late-interaction (MaxSim) scores, with exact gradients.
///
/// ``loss_i = logsumexp_c (s_ic / temperature) - s_i,pos / temperature`` where ``s`` is the
/// MaxSim score of ``maxsim_scores``; the gradient of each max flows to its arg-max document
/// token (lowest index on ties), masked tokens get exactly zero. Every argument is an
/// attribute, writable between calls with the constructor's checks.
class PyMaxSimLoss(MaxSimLoss) as "MaxSimLoss" {
    /// Softmax temperature, a finite float > 0.
    temperature: f64 = 1.0, check = crate::config::positive;
    /// ``"dot"`` (late-interaction models normalise their tokens) or ``"cosine"``.
    similarity: Similarity = "dot";
    /// ``"none"`` or ``"query_length"`` (divide each score by the query's real tokens).
    normalize: Normalize = "none";
    /// Add the documents-as-queries direction over the same scores (in-batch layouts only).
    symmetric: bool = False;
    /// ``"mean"``, ``"sum"`` or ``"none"`` (per-query losses).
    reduction: Reduction = "mean";
    /// The largest arg-max table kept between the passes, in bytes (default 256 MiB); above it
    /// the backward pass recomputes its tiles panel by panel.
    argmax_budget_bytes: usize = 268435456, convert = budget_bytes;
}

#[pymethods]
impl PyMaxSimLoss {
    /// Computes `(loss, (grad_queries, grad_documents, grad_negatives))`.
    #[pyo3(signature = (queries, documents, negatives=None, *, query_mask=None, document_mask=None, negative_mask=None, in_batch=None))]
    #[allow(clippy::too_many_arguments)]
    fn forward<'py>(
        &self,
        py: Python<'py>,
        queries: &Bound<'py, PyAny>,
        documents: &Bound<'py, PyAny>,
        negatives: Option<&Bound<'py, PyAny>>,
        query_mask: Option<&Bound<'py, PyAny>>,
        document_mask: Option<&Bound<'py, PyAny>>,
        negative_mask: Option<&Bound<'py, PyAny>>,
        in_batch: Option<bool>,
    ) -> PyResult<Bound<'py, PyTuple>> {
        let dtype = pair_dtype(queries, documents)?;
        if let Some(negatives) = negatives {
            ensure_same_dtype("negatives", negatives, dtype, "queries")?;
        } else if negative_mask.is_some() {
            return Err(value_error(
                "negative_mask",
                "given without negatives; pass negatives or drop the mask",
            ));
        }
        let args = LossArgs {
            queries,
            documents,
            negatives,
            query_mask,
            document_mask,
            negative_mask,
            in_batch,
        };
        match dtype {
            FloatDtype::F32 => self.forward_typed::<f32>(py, &args),
            FloatDtype::F64 => self.forward_typed::<f64>(py, &args),
        }
    }

    /// Same as [`forward`](Self::forward).
    #[pyo3(signature = (queries, documents, negatives=None, *, query_mask=None, document_mask=None, negative_mask=None, in_batch=None))]
    #[allow(clippy::too_many_arguments)]
    fn __call__<'py>(
        &self,
        py: Python<'py>,
        queries: &Bound<'py, PyAny>,
        documents: &Bound<'py, PyAny>,
        negatives: Option<&Bound<'py, PyAny>>,
        query_mask: Option<&Bound<'py, PyAny>>,
        document_mask: Option<&Bound<'py, PyAny>>,
        negative_mask: Option<&Bound<'py, PyAny>>,
        in_batch: Option<bool>,
    ) -> PyResult<Bound<'py, PyTuple>> {
        self.forward(
            py,
            queries,
            documents,
            negatives,
            query_mask,
            document_mask,
            negative_mask,
            in_batch,
        )
    }
}
}

// The table's default is the core's.
const _: () = assert!(ruvector_training_core::DEFAULT_LOGITS_BUDGET_BYTES == 268435456);

impl PyMaxSimLoss {
    fn forward_typed<'py, T: Float + Element>(
        &self,
        py: Python<'py>,
        args: &LossArgs<'_, 'py>,
    ) -> PyResult<Bound<'py, PyTuple>> {
        let q = Tokens::<T>::extract(
            "queries",
            args.queries,
            3,
            "(B, Lq, D)",
            "query_mask",
            args.query_mask,
        )?;
        let d = Tokens::<T>::extract(
            "documents",
            args.documents,
            3,
            "(B, Ld, D)",
            "document_mask",
            args.document_mask,
        )?;
        let n = args
            .negatives
            .map(|n| {
                Tokens::<T>::extract(
                    "negatives",
                    n,
                    4,
                    "(B, K, Ln, D)",
                    "negative_mask",
                    args.negative_mask,
                )
            })
            .transpose()?;
        let (q_data, d_data) = (q.array.elements()?, d.array.elements()?);
        let n_data = n.as_ref().map(|n| n.array.elements()).transpose()?;
        let (q_mask, d_mask) = (q.mask_flags("query_mask")?, d.mask_flags("document_mask")?);
        let n_mask = match &n {
            Some(n) => n.mask_flags("negative_mask")?,
            None => None,
        };
        let batch = MaxSimBatch {
            queries: tokens_ref(&q_data, q_mask.as_deref(), &q.array.shape),
            documents: tokens_ref(&d_data, d_mask.as_deref(), &d.array.shape),
            negatives: n
                .as_ref()
                .zip(n_data.as_deref())
                .map(|(n, data)| NegativeTokens {
                    tokens: tokens_ref(data, n_mask.as_deref(), &n.array.shape),
                    batch: n.array.shape[0],
                    per_row: n.array.shape[1],
                }),
            in_batch: args.in_batch,
        };
        let config = self.inner.get();
        let output = run_kernel(py, || config.forward(&batch))?.map_err(to_py_err)?;
        let b = q.array.shape[0];
        let loss = loss_object::<T>(
            py,
            config.reduction,
            output.loss,
            &output.row_losses,
            vec![b],
        )?;
        let grad_negatives = output.grad_negatives.zip(n.map(|n| n.array.shape.clone()));
        result_tuple(
            py,
            loss,
            vec![
                Some((output.grad_queries, q.array.shape.clone())),
                Some((output.grad_documents, d.array.shape.clone())),
                grad_negatives,
            ],
        )
    }
}

/// Adds this module's class and functions to the extension module.
pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<PyMaxSimLoss>()?;
    m.add_function(wrap_pyfunction!(maxsim_scores, m)?)?;
    m.add_function(wrap_pyfunction!(maxsim_topk, m)?)?;
    Ok(())
}
