//! Per-query exclusion lists (`exclude=`): corpus indices a query must never return.

use crate::alloc::try_vec_with_capacity;
use crate::error::{Result, TrainingError};

/// Sorted, de-duplicated corpus indices to skip, one list per query (CSR layout).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ExcludeLists {
    offsets: Vec<usize>,
    items: Vec<usize>,
}

impl ExcludeLists {
    /// Builds the lists from one sequence of indices per query, validated against the corpus.
    ///
    /// `-1` entries are padding and ignored (so a miner's `-1`-padded output can be passed
    /// back as `exclude`); any other negative index, or one `>= corpus_rows`, is an error naming
    /// `arg`, as is a number of lists different from `num_queries`.
    pub fn new<R: AsRef<[i64]>>(
        arg: &'static str,
        rows: &[R],
        num_queries: usize,
        corpus_rows: usize,
    ) -> Result<Self> {
        if rows.len() != num_queries {
            return Err(TrainingError::shape(
                arg,
                format!(
                    "expected one list of indices per query ({num_queries}), got {}",
                    rows.len()
                ),
            ));
        }
        let mut offsets = try_vec_with_capacity(arg, num_queries.saturating_add(1))?;
        let total = rows.iter().map(|row| row.as_ref().len()).sum();
        let mut items = try_vec_with_capacity(arg, total)?;
        offsets.push(0);
        for (position, row) in rows.iter().enumerate() {
            let start = items.len();
            for &value in row.as_ref() {
                if value == -1 {
                    continue;
                }
                if value < 0 || value as u64 >= corpus_rows as u64 {
                    return Err(TrainingError::item(
                        arg,
                        position,
                        format!("index {value} is out of range for {corpus_rows} corpus rows"),
                    ));
                }
                items.push(value as usize);
            }
            items[start..].sort_unstable();
            let mut kept = start;
            for read in start..items.len() {
                if read == start || items[read] != items[kept - 1] {
                    items[kept] = items[read];
                    kept += 1;
                }
            }
            items.truncate(kept);
            offsets.push(items.len());
        }
        Ok(Self { offsets, items })
    }

    /// The sorted indices excluded for query `query` (empty when there are no lists).
    pub fn row(&self, query: usize) -> &[usize] {
        if self.offsets.len() <= query + 1 {
            return &[];
        }
        &self.items[self.offsets[query]..self.offsets[query + 1]]
    }
}

/// True when `index` is in the sorted list `excluded`.
#[inline]
pub fn is_excluded(excluded: &[usize], index: usize) -> bool {
    !excluded.is_empty() && excluded.binary_search(&index).is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lists_are_sorted_deduplicated_and_padding_is_ignored() {
        let lists = ExcludeLists::new("exclude", &[vec![5, -1, 2, 5], vec![]], 2, 6).unwrap();
        assert_eq!(lists.row(0), &[2, 5]);
        assert!(lists.row(1).is_empty());
        assert!(is_excluded(lists.row(0), 5) && !is_excluded(lists.row(0), 3));
    }

    #[test]
    fn bad_lists_name_the_argument() {
        let err = ExcludeLists::new("exclude", &[vec![6]], 1, 6).unwrap_err();
        assert_eq!(
            err.to_string(),
            "exclude[0]: index 6 is out of range for 6 corpus rows"
        );
        let err = ExcludeLists::new("exclude", &[vec![-2]], 1, 6).unwrap_err();
        assert!(err.to_string().starts_with("exclude[0]: index -2"));
        let err = ExcludeLists::new::<Vec<i64>>("exclude", &[], 1, 6).unwrap_err();
        assert!(err.to_string().starts_with("exclude: expected one list"));
    }
}
