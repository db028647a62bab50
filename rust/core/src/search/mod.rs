//! Exact search: blocked top-k over a corpus ([`topk`]) and the streaming similarity scan it
//! shares with the hard-negative miners ([`stream`]).

pub mod exclude;
pub mod selection;
pub mod stream;
mod topk;

use std::borrow::Cow;

use rayon::prelude::*;

pub use exclude::ExcludeLists;
pub use selection::{BestK, Scored};
pub(crate) use topk::{offer_by_similarity, SKIP_CHUNK};
pub use topk::{topk, TopKResult};

use crate::error::{Result, TrainingError};
use crate::float::Float;
use crate::infonce::Similarity;
use crate::linalg::{dot, normalize_rows_into, zeroed_vec, MatRef, NORM_EPS};
use crate::validate::{ensure_finite, format_shape};

/// Queries and corpus made ready for the streaming scan: under cosine similarity the queries
/// are normalised (a `Q x D` copy) and the corpus is scaled column-wise by its inverse norms
/// inside the scan (`M` scalars; the corpus itself is never copied).
pub struct PreparedSearch<'a, T: Float> {
    /// Queries as the scan multiplies them (normalised for cosine).
    pub queries: Cow<'a, [T]>,
    /// `1 / max(||c_j||, 1e-12)` for cosine, `None` for dot.
    pub column_scale: Option<Vec<T>>,
    /// Number of queries.
    pub rows: usize,
    /// Embedding dimension.
    pub dim: usize,
}

impl<'a, T: Float> PreparedSearch<'a, T> {
    /// Validates `queries (rows x dim)` against `corpus` (finite values, equal `dim`) and
    /// prepares them for `similarity`. `query_arg` / `corpus_arg` name the arguments in errors.
    pub fn new(
        query_arg: &'static str,
        queries: MatRef<'a, T>,
        corpus_arg: &'static str,
        corpus: MatRef<'_, T>,
        similarity: Similarity,
    ) -> Result<Self> {
        Self::check_dims(query_arg, queries, corpus_arg, corpus)?;
        ensure_finite(query_arg, queries.data)?;
        ensure_finite(corpus_arg, corpus.data)?;
        let (prepared, column_scale) = match similarity {
            Similarity::Dot => (Cow::Borrowed(queries.data), None),
            Similarity::Cosine => {
                let mut unit = zeroed_vec(query_arg, queries.data.len())?;
                normalize_rows_into(query_arg, queries, &mut unit)?;
                (Cow::Owned(unit), Some(inverse_norms(corpus_arg, corpus)?))
            }
        };
        Ok(Self {
            queries: prepared,
            column_scale,
            rows: queries.rows,
            dim: queries.cols,
        })
    }

    /// Checks that `corpus` rows have the length of `queries` rows (before any allocation).
    pub fn check_dims(
        query_arg: &'static str,
        queries: MatRef<'_, T>,
        corpus_arg: &'static str,
        corpus: MatRef<'_, T>,
    ) -> Result<()> {
        if queries.cols != corpus.cols {
            return Err(TrainingError::shape(
                corpus_arg,
                format!(
                    "expected shape (M, {}) to match {query_arg}, got {}",
                    queries.cols,
                    format_shape(&[corpus.rows, corpus.cols])
                ),
            ));
        }
        Ok(())
    }

    /// The prepared queries as a matrix.
    pub fn query_matrix(&self) -> MatRef<'_, T> {
        MatRef::new(&self.queries, self.rows, self.dim)
    }

    /// The similarity of prepared query `i` with corpus row `row` (index `j`), as the scan
    /// computes it.
    pub fn similarity(&self, i: usize, row: &[T], j: usize) -> T {
        let raw = dot(&self.queries[i * self.dim..(i + 1) * self.dim], row);
        match &self.column_scale {
            Some(scale) => raw * scale[j],
            None => raw,
        }
    }
}

/// `1 / max(||row||, 1e-12)` for every row, in parallel.
pub fn inverse_norms<T: Float>(arg: &'static str, matrix: MatRef<'_, T>) -> Result<Vec<T>> {
    let mut out = zeroed_vec(arg, matrix.rows)?;
    let cols = matrix.cols.max(1);
    let eps = T::from_f64(NORM_EPS);
    out.par_iter_mut()
        .zip(matrix.data.par_chunks(cols))
        .for_each(|(inv, row)| *inv = T::ONE / dot(row, row).sqrt().max_of(eps));
    if matrix.cols == 0 {
        out.iter_mut().for_each(|inv| *inv = T::ONE / eps);
    }
    Ok(out)
}
