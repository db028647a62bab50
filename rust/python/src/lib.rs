//! `ruvector_training._core`: PyO3 bindings of `ruvector-training-core`.
//!
//! Bindings only validate and convert arguments, release the GIL around each kernel, and map
//! errors to Python exceptions; all math lives in the core crate.
//!
//! # Adding a class or a field
//!
//! A class's configuration is declared once, in its field table: `config::config_class!`
//! for losses and miners (the table drives `__new__` and its signature, getters, validated
//! setters, `__repr__`, `__eq__`, `__reduce__` and `config_fields`; the module documentation
//! gives the syntax), `optimizer_fields!` in `optim` for the optimizers (getters, setters and
//! the hyper-parameter list behind their `__repr__`, `__eq__` and pickling). Adding a field is
//! one row in the table plus its attribute line in `python/ruvector_training/_core.pyi`, which
//! `tests/test_stubs.py` checks with `mypy.stubtest`; the torch wrappers pick it up from
//! `config_fields`. Names shared by several classes (`Similarity`, `Reduction`, `Distance`,
//! dtypes, the negatives layout) live in the core's `types` module; a new name enum gets its
//! Python conversion by being listed in `config::field_enums!`.

mod args;
mod arrays;
mod config;
mod graph;
mod indices;
mod infonce;
mod kernel;
mod losses;
mod maxsim;
mod mining;
mod optim;
mod peer_losses;
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
    m.add_class::<graph::PyGraph>()?;
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
    peer_losses::register(m)?;
    maxsim::register(m)?;
    Ok(())
}
