//! `ruvector_training._core`: PyO3 bindings of `ruvector-training-core`.
//!
//! Bindings only validate and convert arguments, release the GIL around each kernel, and map
//! errors to Python exceptions; all math lives in the core crate.

mod args;
mod arrays;
mod config;
mod indices;
mod infonce;
mod kernel;
mod losses;
mod maxsim;
mod mining;
mod optim;
mod search;

use pyo3::prelude::*;

/// The compiled module.
#[pymodule]
fn _core(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    m.add(
        "DEFAULT_LOGITS_BUDGET_BYTES",
        ruvector_training_core::DEFAULT_LOGITS_BUDGET_BYTES,
    )?;
    m.add_class::<infonce::PyInfoNceLoss>()?;
    m.add_class::<losses::PyTripletLoss>()?;
    m.add_class::<losses::PyCosineSimilarityLoss>()?;
    m.add_class::<losses::PyLocalContrastiveLoss>()?;
    m.add_class::<losses::PySpectralRegularization>()?;
    m.add_class::<mining::PyHardNegativeMiner>()?;
    m.add_class::<mining::PyGraphHardNegativeMiner>()?;
    m.add_class::<optim::PyOptimizer>()?;
    m.add_class::<optim::PySgd>()?;
    m.add_class::<optim::PyAdam>()?;
    m.add_class::<optim::PyAdamW>()?;
    m.add_function(wrap_pyfunction!(optim::clip_grad_norm, m)?)?;
    m.add_function(wrap_pyfunction!(search::topk, m)?)?;
    maxsim::register(m)?;
    Ok(())
}
