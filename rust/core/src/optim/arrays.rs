//! Parameter, gradient and state arrays of either float type, so that one optimizer can hold
//! float32 and float64 parameters side by side (as `torch.optim` can).

use crate::error::Result;
use crate::linalg::zeroed_vec;
use crate::types::Dtype;

/// The type and length of one parameter array: what an optimizer is built for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ParamSpec {
    /// Element type.
    pub dtype: Dtype,
    /// Number of elements.
    pub len: usize,
}

impl ParamSpec {
    /// A spec for `len` elements of `dtype`.
    pub fn new(dtype: Dtype, len: usize) -> Self {
        Self { dtype, len }
    }
}

/// A read-only array of either float type (a gradient, or a view of a state buffer).
#[derive(Debug, Clone, Copy)]
pub enum FloatSlice<'a> {
    /// `f32` elements.
    F32(&'a [f32]),
    /// `f64` elements.
    F64(&'a [f64]),
}

impl FloatSlice<'_> {
    /// Element type.
    pub fn dtype(&self) -> Dtype {
        match self {
            Self::F32(_) => Dtype::F32,
            Self::F64(_) => Dtype::F64,
        }
    }

    /// Number of elements.
    pub fn len(&self) -> usize {
        match self {
            Self::F32(s) => s.len(),
            Self::F64(s) => s.len(),
        }
    }

    /// True when there are no elements.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Type and length.
    pub fn spec(&self) -> ParamSpec {
        ParamSpec::new(self.dtype(), self.len())
    }
}

/// A writable array of either float type (a parameter updated in place).
#[derive(Debug)]
pub enum FloatSliceMut<'a> {
    /// `f32` elements.
    F32(&'a mut [f32]),
    /// `f64` elements.
    F64(&'a mut [f64]),
}

impl FloatSliceMut<'_> {
    /// A read-only view of the same elements.
    pub fn as_slice(&self) -> FloatSlice<'_> {
        match self {
            Self::F32(s) => FloatSlice::F32(s),
            Self::F64(s) => FloatSlice::F64(s),
        }
    }

    /// Type and length.
    pub fn spec(&self) -> ParamSpec {
        self.as_slice().spec()
    }
}

/// An owned array of either float type: an optimizer state buffer.
#[derive(Debug, Clone, PartialEq)]
pub enum FloatVec {
    /// `f32` elements.
    F32(Vec<f32>),
    /// `f64` elements.
    F64(Vec<f64>),
}

impl FloatVec {
    /// `spec.len` zeros of `spec.dtype`; [`TrainingError::OutOfMemory`](crate::TrainingError)
    /// naming `arg` when the allocation fails.
    pub fn zeros(arg: &'static str, spec: ParamSpec) -> Result<Self> {
        Ok(match spec.dtype {
            Dtype::F32 => Self::F32(zeroed_vec(arg, spec.len)?),
            Dtype::F64 => Self::F64(zeroed_vec(arg, spec.len)?),
        })
    }

    /// A read-only view.
    pub fn as_slice(&self) -> FloatSlice<'_> {
        match self {
            Self::F32(v) => FloatSlice::F32(v),
            Self::F64(v) => FloatSlice::F64(v),
        }
    }

    /// Type and length.
    pub fn spec(&self) -> ParamSpec {
        self.as_slice().spec()
    }
}

impl<'a> From<&'a [f32]> for FloatSlice<'a> {
    fn from(slice: &'a [f32]) -> Self {
        Self::F32(slice)
    }
}

impl<'a> From<&'a [f64]> for FloatSlice<'a> {
    fn from(slice: &'a [f64]) -> Self {
        Self::F64(slice)
    }
}

impl<'a> From<&'a mut [f32]> for FloatSliceMut<'a> {
    fn from(slice: &'a mut [f32]) -> Self {
        Self::F32(slice)
    }
}

impl<'a> From<&'a mut [f64]> for FloatSliceMut<'a> {
    fn from(slice: &'a mut [f64]) -> Self {
        Self::F64(slice)
    }
}

impl From<Vec<f32>> for FloatVec {
    fn from(values: Vec<f32>) -> Self {
        Self::F32(values)
    }
}

impl From<Vec<f64>> for FloatVec {
    fn from(values: Vec<f64>) -> Self {
        Self::F64(values)
    }
}
