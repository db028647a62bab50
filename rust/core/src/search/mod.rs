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
use crate::linalg::{
    dot, filled_vec, normalize_rows_into, zeroed_vec, MatRef, RowNorm, StridedRef, NORM_EPS,
};
use crate::types::Similarity;
use crate::validate::{ensure_finite, format_number, format_shape};
use stream::CORPUS_TILE;

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
        corpus: StridedRef<'_, T>,
        similarity: Similarity,
    ) -> Result<Self> {
        Self::check_dims(query_arg, queries, corpus_arg, corpus)?;
        ensure_finite(query_arg, queries.data)?;
        ensure_finite_view(corpus_arg, corpus)?;
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
        corpus: StridedRef<'_, T>,
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

/// The norm of every row, in parallel (see [`RowNorm`]); a strided matrix is read tile by tile,
/// each tile packed into a per-task buffer. Under cosine similarity a raw row is multiplied by
/// a unit vector before its norm is divided out, so a row whose norm itself overflows `T` is
/// refused (`ValueError` naming `arg`) instead of scoring NaN.
pub fn row_norms<'a, T: Float>(
    arg: &'static str,
    matrix: impl Into<StridedRef<'a, T>>,
) -> Result<Vec<RowNorm<T>>> {
    let matrix = matrix.into();
    let unit = RowNorm {
        scale: T::ONE,
        divisor: T::from_f64(NORM_EPS),
    };
    let mut out = filled_vec(arg, matrix.rows, unit)?;
    if matrix.cols == 0 {
        return Ok(out);
    }
    let fill = |norms: &mut [RowNorm<T>], rows: MatRef<'_, T>| {
        norms
            .iter_mut()
            .zip(rows.data.chunks_exact(rows.cols))
            .for_each(|(norm, row)| *norm = RowNorm::of(row));
    };
    if let Some(whole) = matrix.as_contiguous() {
        out.par_chunks_mut(CORPUS_TILE)
            .enumerate()
            .for_each(|(tile, norms)| {
                let start = tile * CORPUS_TILE;
                fill(norms, whole.rows_range(start, start + norms.len()));
            });
    } else {
        out.par_chunks_mut(CORPUS_TILE)
            .enumerate()
            .try_for_each(|(tile, norms)| {
                let start = tile * CORPUS_TILE;
                let mut buffer = zeroed_vec(arg, norms.len() * matrix.cols)?;
                fill(
                    norms,
                    matrix.rows_into(start, start + norms.len(), &mut buffer),
                );
                Ok(())
            })?;
    }
    if let Some(row) = out.iter().position(|norm| !norm.is_representable()) {
        return Err(TrainingError::value(
            arg,
            format!(
                "row {row} has an L2 norm of about {}, beyond the {} range, so its cosine \
                 similarity cannot be computed; scale the rows down (or pass float64)",
                format_number(out[row].value()),
                T::NAME
            ),
        ));
    }
    Ok(out)
}

/// `1 / max(||row||, 1e-12)` for every row, in parallel (reading and errors as [`row_norms`]).
pub fn inverse_norms<'a, T: Float>(
    arg: &'static str,
    matrix: impl Into<StridedRef<'a, T>>,
) -> Result<Vec<T>> {
    let norms = row_norms(arg, matrix)?;
    let mut out = zeroed_vec(arg, norms.len())?;
    out.par_iter_mut()
        .zip(norms.par_iter())
        .for_each(|(inv, norm)| *inv = norm.inverse());
    Ok(out)
}

/// [`ensure_finite`] for a possibly strided matrix: a strided one is checked tile by tile
/// (packed into per-task buffers); the reported index is the row-major flat index.
pub fn ensure_finite_view<T: Float>(arg: &'static str, matrix: StridedRef<'_, T>) -> Result<()> {
    if let Some(whole) = matrix.as_contiguous() {
        return ensure_finite(arg, whole.data);
    }
    let tiles = matrix.rows.div_ceil(CORPUS_TILE);
    let failure = (0..tiles).into_par_iter().find_map_first(|tile| {
        let start = tile * CORPUS_TILE;
        let end = (start + CORPUS_TILE).min(matrix.rows);
        let mut buffer = match zeroed_vec(arg, (end - start) * matrix.cols) {
            Ok(buffer) => buffer,
            Err(error) => return Some(error),
        };
        let rows = matrix.rows_into(start, end, &mut buffer);
        match ensure_finite(arg, rows.data) {
            Ok(()) => None,
            Err(TrainingError::NonFinite { arg, index, value }) => Some(TrainingError::NonFinite {
                arg,
                index: index + start * matrix.cols,
                value,
            }),
            Err(error) => Some(error),
        }
    });
    failure.map_or(Ok(()), Err)
}
