//! Bounded best-k selection: keeps the `k` best `(key, index)` pairs seen so far, where "best"
//! is the larger key and, between equal keys, the lower index (so results never depend on the
//! order in which candidates arrive, and ties resolve like a stable descending sort).

/// One selected candidate: its ranking key and its corpus index.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Scored {
    /// The ranking key (a similarity, or a sampling key).
    pub key: f64,
    /// Index of the candidate in the corpus / pool.
    pub index: usize,
}

impl Scored {
    /// True when `self` ranks strictly before `other`.
    #[inline]
    pub fn better_than(&self, other: &Scored) -> bool {
        self.key > other.key || (self.key == other.key && self.index < other.index)
    }
}

/// The `k` best candidates offered so far, as a binary heap whose root is the worst kept one.
#[derive(Debug, Clone)]
pub struct BestK {
    capacity: usize,
    heap: Vec<Scored>,
}

impl BestK {
    /// An empty selection that keeps at most `capacity` candidates.
    pub fn new(capacity: usize) -> Self {
        Self {
            capacity,
            heap: Vec::with_capacity(capacity.min(1 << 16)),
        }
    }

    /// How many candidates are kept.
    pub fn len(&self) -> usize {
        self.heap.len()
    }

    /// True when nothing is kept.
    pub fn is_empty(&self) -> bool {
        self.heap.is_empty()
    }

    /// The key a new candidate must reach to be considered: `-inf` until the selection is full,
    /// then the worst kept key (a candidate with an equal key enters only with a lower index).
    #[inline]
    pub fn threshold(&self) -> f64 {
        if self.heap.len() < self.capacity {
            f64::NEG_INFINITY
        } else {
            self.heap.first().map_or(f64::INFINITY, |worst| worst.key)
        }
    }

    /// Offers a candidate; keeps it if it ranks among the best `capacity`. NaN keys are ignored.
    #[inline]
    pub fn offer(&mut self, key: f64, index: usize) {
        if key.is_nan() || self.capacity == 0 {
            return;
        }
        let candidate = Scored { key, index };
        if self.heap.len() < self.capacity {
            self.heap.push(candidate);
            self.sift_up(self.heap.len() - 1);
        } else if candidate.better_than(&self.heap[0]) {
            self.heap[0] = candidate;
            self.sift_down(0);
        }
    }

    /// Offers every candidate kept by `other` (merging two partial selections).
    pub fn absorb(&mut self, other: &BestK) {
        for item in &other.heap {
            self.offer(item.key, item.index);
        }
    }

    /// True when `index` is kept.
    pub fn contains(&self, index: usize) -> bool {
        self.heap.iter().any(|item| item.index == index)
    }

    /// The kept candidates, best first.
    pub fn into_sorted(mut self) -> Vec<Scored> {
        self.heap.sort_unstable_by(|a, b| {
            if a.better_than(b) {
                std::cmp::Ordering::Less
            } else if b.better_than(a) {
                std::cmp::Ordering::Greater
            } else {
                std::cmp::Ordering::Equal
            }
        });
        self.heap
    }

    fn sift_up(&mut self, mut position: usize) {
        while position > 0 {
            let parent = (position - 1) / 2;
            // The root is the worst: a child that is worse than its parent moves up.
            if self.heap[parent].better_than(&self.heap[position]) {
                self.heap.swap(parent, position);
                position = parent;
            } else {
                break;
            }
        }
    }

    fn sift_down(&mut self, mut position: usize) {
        let len = self.heap.len();
        loop {
            let left = 2 * position + 1;
            if left >= len {
                break;
            }
            let right = left + 1;
            let worse_child = if right < len && self.heap[left].better_than(&self.heap[right]) {
                right
            } else {
                left
            };
            if self.heap[position].better_than(&self.heap[worse_child]) {
                self.heap.swap(position, worse_child);
                position = worse_child;
            } else {
                break;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn brute_force(keys: &[f64], k: usize) -> Vec<usize> {
        let mut order: Vec<usize> = (0..keys.len()).collect();
        order.sort_by(|&a, &b| keys[b].partial_cmp(&keys[a]).unwrap().then(a.cmp(&b)));
        order.truncate(k);
        order
    }

    #[test]
    fn keeps_the_best_with_ties_to_the_lower_index_in_any_arrival_order() {
        let keys = [0.5, 0.9, 0.5, 0.1, 0.9, 0.5, 0.7, 0.5];
        for k in 0..=keys.len() + 1 {
            let expected = brute_force(&keys, k);
            for rotation in 0..keys.len() {
                let mut best = BestK::new(k);
                for step in 0..keys.len() {
                    let i = (step + rotation) % keys.len();
                    best.offer(keys[i], i);
                }
                let got: Vec<usize> = best.into_sorted().iter().map(|s| s.index).collect();
                assert_eq!(got, expected, "k={k} rotation={rotation}");
            }
        }
    }

    #[test]
    fn merging_partial_selections_equals_one_selection() {
        let keys: Vec<f64> = (0..200).map(|i| ((i * 37) % 23) as f64).collect();
        let mut left = BestK::new(7);
        let mut right = BestK::new(7);
        for (i, &key) in keys.iter().enumerate() {
            if i % 3 == 0 {
                left.offer(key, i)
            } else {
                right.offer(key, i)
            }
        }
        left.absorb(&right);
        let got: Vec<usize> = left.into_sorted().iter().map(|s| s.index).collect();
        assert_eq!(got, brute_force(&keys, 7));
    }

    #[test]
    fn nan_keys_are_ignored_and_threshold_tracks_the_worst() {
        let mut best = BestK::new(2);
        assert_eq!(best.threshold(), f64::NEG_INFINITY);
        best.offer(f64::NAN, 0);
        best.offer(1.0, 1);
        best.offer(3.0, 2);
        assert_eq!(best.threshold(), 1.0);
        best.offer(2.0, 3);
        assert_eq!(best.threshold(), 2.0);
        assert!(best.contains(2) && best.contains(3) && !best.contains(1));
    }
}
