//! The losses of issue 16: `CoSENTLoss`, `AnglELoss`, `SupConLoss`, `MarginMSELoss`,
//! `DistillKLDivLoss` and `BatchTripletLoss`. Each class keeps its configuration handling in one
//! block (constructor, getters, setters, repr) ready for the field-table bindings.

use numpy::Element;
use pyo3::prelude::*;
use pyo3::types::PyTuple;

use ruvector_training_core::{AnglELoss, CoSentLoss, Float, MatRef};

use crate::args::{real, Shared};
use crate::arrays::{
    ensure_same_dtype, float_dtype, result_tuple, to_py_err, FloatArray, FloatDtype,
};
use crate::kernel::run_kernel;

crate::args::real_args!(scale_arg => "scale");

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
        ) -> ruvector_training_core::Result<ruvector_training_core::ScoreRankingOutput<T>>
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

/// Registers the classes of this file.
pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<PyCoSentLoss>()?;
    m.add_class::<PyAnglELoss>()?;
    Ok(())
}
