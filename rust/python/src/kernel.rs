//! The one way a binding runs a kernel: [`run_kernel`].
//!
//! It releases the GIL and runs the kernel on a thread pool the core crate owns
//! ([`ruvector_training_core::pool`]): a pool that is rebuilt in a forked child (so kernels
//! work in `multiprocessing` fork workers and PyTorch `DataLoader` workers after the parent
//! used them) and that serves this call alone, with its own cancellation flag. While the
//! kernel runs, the calling thread re-takes the GIL every [`SIGNAL_INTERVAL`] to run Python's
//! signal handlers (`PyErr_CheckSignals`, as polars does). When a handler raises (Ctrl-C:
//! `KeyboardInterrupt`), the kernel is cancelled, stops at its next check (between tiles,
//! panels or iterations, before it modifies anything the caller owns) and the handler's
//! exception is raised.
//!
//! `Python::detach` is a disallowed method (`clippy.toml`) everywhere else, so no binding can
//! run a kernel outside this function.

use std::time::Duration;

use pyo3::exceptions::PyMemoryError;
use pyo3::prelude::*;
use ruvector_training_core::pool;

/// How often a running kernel lets Python check for signals.
pub const SIGNAL_INTERVAL: Duration = Duration::from_millis(50);

/// Runs `kernel` with the GIL released on a leased pool (see the module documentation) and
/// returns its result, or the exception a signal handler raised while it ran (the kernel's
/// result is then discarded: it either stopped early or finished, and a finished optimizer
/// step stays applied).
pub fn run_kernel<R: Send>(py: Python<'_>, kernel: impl FnOnce() -> R + Send) -> PyResult<R> {
    #[allow(clippy::disallowed_methods)]
    let (result, interrupt) = py.detach(|| {
        // Starting threads fails only when memory (thread stacks) or the thread limit is
        // exhausted.
        let lease = pool::lease().map_err(|error| {
            PyMemoryError::new_err(format!("could not start the kernel threads: {error}"))
        })?;
        let mut interrupt = None;
        let result = lease.run_watched(kernel, SIGNAL_INTERVAL, || {
            match Python::try_attach(|py| py.check_signals()) {
                Some(Err(raised)) => {
                    interrupt = Some(raised);
                    true
                }
                _ => false,
            }
        });
        Ok::<_, PyErr>((result, interrupt))
    })?;
    match interrupt {
        Some(raised) => Err(raised),
        None => Ok(result),
    }
}
