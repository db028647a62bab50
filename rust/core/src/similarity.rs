//! The shared similarity kernel: logits of a panel of query rows against every candidate row,
//! computed by one GEMM, and the plan that cuts a batch into panels under a memory budget.

use crate::float::Float;
use crate::linalg::{gemm_into, Accumulate, MatRef, Product};

/// Largest panel the streaming path holds at once, in bytes (whatever the budget above it).
pub const STREAM_PANEL_BYTES: usize = 64 << 20;

/// How a `rows x cols` logits matrix is cut into panels of full rows.
///
/// When the whole matrix fits in `budget_bytes` it is one panel and can be kept; otherwise each
/// panel holds at most `min(budget_bytes, STREAM_PANEL_BYTES)` bytes (and at least one row).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PanelPlan {
    /// Total number of query rows.
    pub rows: usize,
    /// Rows per panel (the last panel may be shorter).
    pub panel_rows: usize,
}

impl PanelPlan {
    /// Plans panels for `rows x cols` logits of `elem_bytes`-byte elements.
    pub fn new(rows: usize, cols: usize, elem_bytes: usize, budget_bytes: usize) -> Self {
        let row_bytes = cols.max(1) * elem_bytes;
        let panel_rows = if rows.saturating_mul(row_bytes) <= budget_bytes {
            rows
        } else {
            (budget_bytes.min(STREAM_PANEL_BYTES) / row_bytes).clamp(1, rows.max(1))
        };
        Self {
            rows,
            panel_rows: panel_rows.max(1),
        }
    }

    /// True when one panel covers every row (the logits can be kept whole).
    pub fn is_single_panel(&self) -> bool {
        self.panel_rows >= self.rows
    }

    /// The `start..end` row ranges of the panels, in order.
    pub fn panels(&self) -> impl Iterator<Item = std::ops::Range<usize>> + '_ {
        (0..self.rows)
            .step_by(self.panel_rows)
            .map(move |start| start..(start + self.panel_rows).min(self.rows))
    }
}

/// `dst (q.rows x c.rows) = scale * q c^T`, parallel over the rayon pool (fails only when
/// the GEMM's packing buffers cannot be allocated: [`crate::TrainingError::OutOfMemory`]).
pub fn similarity_panel<T: Float>(
    queries: MatRef<'_, T>,
    candidates: MatRef<'_, T>,
    scale: T,
    dst: &mut [T],
) -> crate::error::Result<()> {
    gemm_into(
        "anchors",
        Product::NT,
        queries,
        candidates,
        dst,
        scale,
        Accumulate::Overwrite,
        true,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plan_keeps_small_matrices_whole_and_streams_large_ones() {
        let whole = PanelPlan::new(100, 100, 4, 40_000);
        assert!(whole.is_single_panel());
        assert_eq!(whole.panels().collect::<Vec<_>>(), vec![0..100]);
        let streamed = PanelPlan::new(100, 100, 4, 39_999);
        assert_eq!(streamed.panel_rows, 99);
        assert_eq!(streamed.panels().collect::<Vec<_>>(), vec![0..99, 99..100]);
        let tiny = PanelPlan::new(5, 1000, 8, 1);
        assert_eq!(tiny.panel_rows, 1);
        assert_eq!(tiny.panels().count(), 5);
    }
}
