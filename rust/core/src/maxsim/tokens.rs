//! Token-level inputs: padded `(N, L, D)` arrays with an optional boolean `(N, L)` mask, their
//! validation, and packing of the real tokens into one contiguous matrix (normalised for
//! cosine similarity) that the MaxSim tiles multiply.

use rayon::prelude::*;

use crate::alloc::{checked_len, filled_vec, try_vec_with_capacity};
use crate::error::{Result, TrainingError};
use crate::float::Float;
use crate::linalg::{normalize_row_in_place, zeroed_vec, MatRef, RowNorm};
use crate::types::Similarity;
use crate::validate::{ensure_finite, format_shape};

/// A boolean `(rows, len)` mask, row-major; `true` marks a real token.
#[derive(Debug, Clone, Copy)]
pub struct MaskRef<'a> {
    /// `rows * len` flags.
    pub data: &'a [bool],
    /// Leading dimension.
    pub rows: usize,
    /// Tokens per row.
    pub len: usize,
}

/// Padded token vectors: `rows` sequences of `len` token vectors of `dim` elements, row-major
/// `(rows, len, dim)`, with an optional mask (`None`: every token is real).
#[derive(Debug, Clone, Copy)]
pub struct TokensRef<'a, T> {
    /// `rows * len * dim` elements.
    pub data: &'a [T],
    /// Optional `(rows, len)` mask.
    pub mask: Option<MaskRef<'a>>,
    /// Number of sequences N.
    pub rows: usize,
    /// Padded sequence length L.
    pub len: usize,
    /// Token vector dimension D.
    pub dim: usize,
}

/// Names an input in errors: the array, its mask, and how its rows are printed.
#[derive(Debug, Clone, Copy)]
pub struct TokenArgs {
    /// The array argument (`"queries"`).
    pub array: &'static str,
    /// The mask argument (`"query_mask"`).
    pub mask: &'static str,
    /// Rows per leading index when the array is `(B, K, L, D)` flattened to `B*K` rows (rows
    /// are then printed as `(b, k)`); 0 for a plain `(N, L, D)` array.
    pub per_row: usize,
}

impl<'a, T: Float> TokensRef<'a, T> {
    /// True when token `t` of row `row` is real.
    #[inline]
    pub fn is_real(&self, row: usize, t: usize) -> bool {
        self.mask.is_none_or(|m| m.data[row * self.len + t])
    }

    /// Number of real tokens of `row`.
    pub fn real_count(&self, row: usize) -> usize {
        match self.mask {
            None => self.len,
            Some(m) => m.data[row * self.len..(row + 1) * self.len]
                .iter()
                .filter(|&&real| real)
                .count(),
        }
    }

    /// Token `t` of row `row`.
    #[inline]
    pub fn token(&self, row: usize, t: usize) -> &'a [T] {
        let start = (row * self.len + t) * self.dim;
        &self.data[start..start + self.dim]
    }

    /// Checks the shape of the data and mask (against `dim` when given), finiteness, and that
    /// every row has a real token.
    pub fn validate(&self, args: TokenArgs, dim: Option<usize>) -> Result<()> {
        let shape = format_shape(&[self.rows, self.len, self.dim]);
        if self.data.len() != self.rows * self.len * self.dim {
            return Err(TrainingError::shape(
                args.array,
                format!("data length {} does not match {shape}", self.data.len()),
            ));
        }
        if let Some(dim) = dim {
            if self.dim != dim {
                return Err(TrainingError::shape(
                    args.array,
                    format!(
                        "token dimension D={} differs from the queries' D={dim}",
                        self.dim
                    ),
                ));
            }
        } else if self.dim == 0 {
            return Err(TrainingError::shape(
                args.array,
                "token dimension D must be at least 1, got D=0",
            ));
        }
        if let Some(mask) = self.mask {
            if (mask.rows, mask.len) != (self.rows, self.len)
                || mask.data.len() != mask.rows * mask.len
            {
                return Err(TrainingError::shape(
                    args.mask,
                    format!(
                        "expected shape (N, L) = {} like {}, got {}",
                        format_shape(&[self.rows, self.len]),
                        args.array,
                        format_shape(&[mask.rows, mask.len])
                    ),
                ));
            }
        }
        ensure_finite(args.array, self.data)?;
        if let Some(row) = (0..self.rows).find(|&row| self.real_count(row) == 0) {
            let which = match row.checked_div(args.per_row) {
                Some(b) => format!("row ({b}, {})", row % args.per_row),
                None => format!("row {row}"),
            };
            return Err(match self.mask {
                Some(_) => TrainingError::value(
                    args.mask,
                    format!("{which} has no real token (every entry is False)"),
                ),
                None => TrainingError::shape(
                    args.array,
                    format!("{which} has no token: L must be at least 1, got {shape}"),
                ),
            });
        }
        Ok(())
    }

    /// Copies the real tokens of `row` into `out` (`real_count(row) * dim` elements), in
    /// order, normalising each for cosine similarity (its norm written to `norms`).
    pub fn pack_row(
        &self,
        row: usize,
        similarity: Similarity,
        out: &mut [T],
        mut norms: Option<&mut [RowNorm<T>]>,
    ) {
        let d = self.dim;
        for (k, t) in (0..self.len).filter(|&t| self.is_real(row, t)).enumerate() {
            let dst = &mut out[k * d..(k + 1) * d];
            dst.copy_from_slice(self.token(row, t));
            if similarity == Similarity::Cosine {
                let norm = normalize_row_in_place(dst);
                if let Some(norms) = norms.as_deref_mut() {
                    norms[k] = norm;
                }
            }
        }
    }

    /// Adds the packed gradient rows of `row` (`real_count(row)` of them) back into the padded
    /// gradient of this array (`out`, `len * dim` elements of that row): masked tokens stay
    /// untouched (exactly zero).
    pub fn unpack_row(&self, row: usize, packed: &[T], out: &mut [T]) {
        let d = self.dim;
        let real = (0..self.len).filter(|&t| self.is_real(row, t));
        for (k, t) in real.enumerate() {
            out[t * d..(t + 1) * d].copy_from_slice(&packed[k * d..(k + 1) * d]);
        }
    }
}

/// Real tokens of several sequences packed into one `(tokens, dim)` matrix: sequence `s` owns
/// rows `offsets[s]..offsets[s + 1]`.
#[derive(Debug)]
pub struct Packed<T> {
    /// Row-major packed token vectors (unit rows for cosine).
    pub tokens: Vec<T>,
    /// `sequences + 1` row offsets.
    pub offsets: Vec<usize>,
    /// The norm of every packed token (cosine only), for the backward pass.
    pub norms: Option<Vec<RowNorm<T>>>,
    /// Token dimension D.
    pub dim: usize,
}

impl<T: Float> Packed<T> {
    /// Packs the rows `order` lists, each a `(source, row)` pair into `sources`, in that order,
    /// in parallel.
    pub fn new(
        arg: &'static str,
        sources: &[TokensRef<'_, T>],
        order: &[(usize, usize)],
        similarity: Similarity,
    ) -> Result<Self> {
        let dim = sources[0].dim;
        let mut offsets = try_vec_with_capacity(arg, order.len() + 1)?;
        offsets.push(0usize);
        for &(source, row) in order {
            let last = offsets[offsets.len() - 1];
            offsets.push(last + sources[source].real_count(row));
        }
        let total = offsets[order.len()];
        let mut tokens = zeroed_vec(arg, checked_len(arg, total, dim)?)?;
        let mut norms = match similarity {
            Similarity::Cosine => Some(filled_vec(
                arg,
                total,
                RowNorm {
                    scale: T::ONE,
                    divisor: T::ONE,
                },
            )?),
            Similarity::Dot => None,
        };
        let token_parts = split_by_offsets(arg, &mut tokens, &offsets, dim)?;
        let mut norm_parts = match norms.as_mut() {
            Some(norms) => split_by_offsets(arg, norms, &offsets, 1)?
                .into_iter()
                .map(Some)
                .collect(),
            None => {
                let mut none = try_vec_with_capacity(arg, order.len())?;
                none.resize_with(order.len(), || None);
                none
            }
        };
        token_parts
            .into_par_iter()
            .zip(norm_parts.par_iter_mut())
            .zip(order.par_iter())
            .for_each(|((out, norms), &(source, row))| {
                sources[source].pack_row(row, similarity, out, norms.as_deref_mut());
            });
        Ok(Self {
            tokens,
            offsets,
            norms,
            dim,
        })
    }

    /// Number of packed sequences.
    pub fn sequences(&self) -> usize {
        self.offsets.len() - 1
    }

    /// All packed tokens as a matrix.
    pub fn matrix(&self) -> MatRef<'_, T> {
        MatRef::new(&self.tokens, self.tokens.len() / self.dim.max(1), self.dim)
    }
}

/// Splits `data` into the consecutive pieces `offsets[s]*width..offsets[s+1]*width`.
pub fn split_by_offsets<'a, V>(
    arg: &'static str,
    mut data: &'a mut [V],
    offsets: &[usize],
    width: usize,
) -> Result<Vec<&'a mut [V]>> {
    let mut parts = try_vec_with_capacity(arg, offsets.len().saturating_sub(1))?;
    for pair in offsets.windows(2) {
        let (head, tail) = std::mem::take(&mut data).split_at_mut((pair[1] - pair[0]) * width);
        parts.push(head);
        data = tail;
    }
    Ok(parts)
}
