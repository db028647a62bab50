//! The one error type of the core crate.

use thiserror::Error;

/// Everything that can go wrong when a core function is called with user input.
///
/// Every variant names the offending argument so the Python bindings can turn it into a
/// `ValueError` whose message points the user at what to fix.
#[derive(Debug, Clone, PartialEq, Error)]
pub enum TrainingError {
    /// An array has the wrong shape (or a dimension that disagrees with another argument).
    #[error("{arg}: {message}")]
    Shape {
        /// The argument name as the user passed it.
        arg: &'static str,
        /// What was expected and what was received.
        message: String,
    },
    /// A value is outside its allowed range (non-positive temperature, unknown name, ...).
    #[error("{arg}: {message}")]
    Value {
        /// The argument name as the user passed it.
        arg: &'static str,
        /// What was expected and what was received.
        message: String,
    },
    /// A working buffer could not be allocated.
    #[error("{arg}: could not allocate {bytes} bytes of working memory")]
    OutOfMemory {
        /// The argument whose size drove the allocation.
        arg: &'static str,
        /// Size of the failed allocation.
        bytes: usize,
    },
    /// An input array holds NaN or infinity.
    #[error("{arg}: contains a non-finite value ({value}) at flat index {index}")]
    NonFinite {
        /// The argument name as the user passed it.
        arg: &'static str,
        /// Flat (row-major) index of the first offending element.
        index: usize,
        /// The offending value, printed.
        value: String,
    },
    /// A numerical method failed on valid input (an eigensolver that did not converge).
    #[error("{arg}: {message}")]
    Numerical {
        /// The argument whose data the method was working on.
        arg: &'static str,
        /// What failed.
        message: String,
    },
    /// One array of a list argument is wrong: displayed as `grads[3]: ...`.
    #[error("{arg}[{position}]: {message}")]
    Item {
        /// The list argument's name as the user passed it.
        arg: &'static str,
        /// Position of the offending array in the list.
        position: usize,
        /// What was expected and what was received.
        message: String,
    },
    /// The call was cancelled while it ran (Ctrl-C in Python; see [`crate::pool`]). Nothing
    /// the caller owns was modified.
    #[error("interrupted: the call was cancelled before it finished")]
    Cancelled,
}

impl TrainingError {
    /// Builds a [`TrainingError::Shape`].
    pub fn shape(arg: &'static str, message: impl Into<String>) -> Self {
        Self::Shape {
            arg,
            message: message.into(),
        }
    }

    /// Builds a [`TrainingError::Value`].
    pub fn value(arg: &'static str, message: impl Into<String>) -> Self {
        Self::Value {
            arg,
            message: message.into(),
        }
    }

    /// Builds a [`TrainingError::Item`] about `arg[position]`.
    pub fn item(arg: &'static str, position: usize, message: impl Into<String>) -> Self {
        Self::Item {
            arg,
            position,
            message: message.into(),
        }
    }

    /// The argument the error is about.
    pub fn arg(&self) -> &'static str {
        match self {
            Self::Shape { arg, .. }
            | Self::Value { arg, .. }
            | Self::OutOfMemory { arg, .. }
            | Self::NonFinite { arg, .. }
            | Self::Numerical { arg, .. }
            | Self::Item { arg, .. } => arg,
            Self::Cancelled => "",
        }
    }
}

/// Result alias used throughout the core crate.
pub type Result<T> = std::result::Result<T, TrainingError>;
