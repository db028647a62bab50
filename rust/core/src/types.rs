//! The vocabulary the losses, search, mining and optimizers share: [`Similarity`],
//! [`Reduction`], [`Distance`], the float element types ([`Dtype`]) and the explicit-negatives
//! layout ([`NegativesRef`]).
//!
//! Each enum has one spelling per variant: `parse` accepts exactly the names `name` returns
//! (and `NAMES` lists them), and an unknown name is a [`TrainingError::Value`] naming the
//! argument, so every binding converts names through the same function.

use crate::error::{Result, TrainingError};

/// How two embeddings are compared.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Similarity {
    /// Inner product of the rows normalised by `max(||x||, 1e-12)`.
    Cosine,
    /// Raw inner product.
    Dot,
}

impl Similarity {
    /// Parses `"cosine"` or `"dot"`; anything else is a [`TrainingError::Value`] on `similarity`.
    pub fn parse(name: &str) -> Result<Self> {
        match name {
            "cosine" => Ok(Self::Cosine),
            "dot" => Ok(Self::Dot),
            other => Err(TrainingError::value(
                "similarity",
                format!("expected 'cosine' or 'dot', got '{other}'"),
            )),
        }
    }

    /// The name as users spell it.
    pub fn name(self) -> &'static str {
        match self {
            Self::Cosine => "cosine",
            Self::Dot => "dot",
        }
    }
}

/// How per-row losses are combined.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reduction {
    /// Average over rows.
    Mean,
    /// Sum over rows.
    Sum,
    /// Keep per-row losses (gradients are those of their sum).
    None,
}

impl Reduction {
    /// Parses `"mean"`, `"sum"` or `"none"`; anything else is a [`TrainingError::Value`] on `reduction`.
    pub fn parse(name: &str) -> Result<Self> {
        match name {
            "mean" => Ok(Self::Mean),
            "sum" => Ok(Self::Sum),
            "none" => Ok(Self::None),
            other => Err(TrainingError::value(
                "reduction",
                format!("expected 'mean', 'sum' or 'none', got '{other}'"),
            )),
        }
    }

    /// The name as users spell it.
    pub fn name(self) -> &'static str {
        match self {
            Self::Mean => "mean",
            Self::Sum => "sum",
            Self::None => "none",
        }
    }
}

/// Explicit negatives: a row-major `(batch, per_row, dim)` array.
#[derive(Debug, Clone, Copy)]
pub struct NegativesRef<'a, T> {
    /// `batch * per_row * dim` elements.
    pub data: &'a [T],
    /// Leading dimension (must equal the anchors' B).
    pub batch: usize,
    /// Negatives per anchor, K.
    pub per_row: usize,
    /// Embedding dimension (must equal the anchors' D).
    pub dim: usize,
}

/// How a triplet's distances are measured.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Distance {
    /// `||x - y||`; its gradient is 0 where the distance is 0.
    Euclidean,
    /// `1 - u . v` with `u = x / max(||x||, 1e-12)`, gradients through the normalisation.
    Cosine,
}

impl Distance {
    /// Parses `"euclidean"` or `"cosine"`; anything else is a [`TrainingError::Value`] on `distance`.
    pub fn parse(name: &str) -> Result<Self> {
        match name {
            "euclidean" => Ok(Self::Euclidean),
            "cosine" => Ok(Self::Cosine),
            other => Err(TrainingError::value(
                "distance",
                format!("expected 'euclidean' or 'cosine', got '{other}'"),
            )),
        }
    }

    /// The name as users spell it.
    pub fn name(self) -> &'static str {
        match self {
            Self::Euclidean => "euclidean",
            Self::Cosine => "cosine",
        }
    }
}

/// The element type of a parameter array.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Dtype {
    /// `f32` (NumPy `float32`).
    F32,
    /// `f64` (NumPy `float64`).
    F64,
}

impl Dtype {
    /// The name as NumPy spells it.
    pub fn name(self) -> &'static str {
        match self {
            Self::F32 => "float32",
            Self::F64 => "float64",
        }
    }
}
