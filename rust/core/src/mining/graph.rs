//! [`GraphHardNegativeMiner`]: negatives that are close in the graph (within `hop_distance`
//! hops) but not adjacent, ranked by embedding similarity.

use rayon::prelude::*;

use crate::alloc::{checked_len, try_copy, try_vec_with_capacity};
use crate::error::{Result, TrainingError};
use crate::float::Float;
use crate::linalg::{cosine, dot, filled_vec, MatRef};
use crate::pool::check_cancelled;
use crate::search::{row_norms, BestK};
use crate::types::Similarity;
use crate::validate::ensure_finite;

/// Configuration of the graph miner.
#[derive(Debug, Clone, PartialEq)]
pub struct GraphHardNegativeMiner {
    /// Candidates are within this many hops of the anchor (>= 1; 1 leaves no candidates).
    pub hop_distance: usize,
    /// K, negatives per anchor (>= 1).
    pub num_negatives: usize,
    /// Similarity used to rank the candidates.
    pub similarity: Similarity,
}

impl Default for GraphHardNegativeMiner {
    fn default() -> Self {
        Self {
            hop_distance: 2,
            num_negatives: 5,
            similarity: Similarity::Cosine,
        }
    }
}

impl GraphHardNegativeMiner {
    /// For each anchor node: the `num_negatives` most similar nodes among those within
    /// `hop_distance` hops that are neither the anchor nor one of its neighbours (ties by the
    /// lower index), `-1` padded; `B x K` row-major. `edges` are undirected node pairs (any
    /// order, duplicates and self-loops allowed) indexing `embeddings` rows.
    pub fn mine<T: Float>(
        &self,
        anchor_nodes: &[i64],
        embeddings: MatRef<'_, T>,
        edges: &[[usize; 2]],
    ) -> Result<Vec<i64>> {
        if self.num_negatives == 0 {
            return Err(TrainingError::value("num_negatives", "must be >= 1, got 0"));
        }
        if self.hop_distance == 0 {
            return Err(TrainingError::value("hop_distance", "must be >= 1, got 0"));
        }
        let nodes = embeddings.rows;
        if embeddings.cols == 0 {
            return Err(TrainingError::shape(
                "embeddings",
                format!("embedding dimension D must be at least 1, got shape ({nodes}, 0)"),
            ));
        }
        let anchors = checked_anchors(anchor_nodes, nodes)?;
        let k = self.num_negatives;
        // The output and one thread's scratch are allocated before any work starts.
        let total = checked_len("num_negatives", anchors.len(), k)?;
        let mut out = filled_vec("num_negatives", total, -1i64)?;
        drop(Scratch::new(nodes)?);
        ensure_finite("embeddings", embeddings.data)?;
        let graph = Neighbours::build(nodes, edges)?;
        let scale = match self.similarity {
            Similarity::Cosine => Some(row_norms("embeddings", embeddings)?),
            Similarity::Dot => None,
        };
        out.par_chunks_mut(k)
            .zip(anchors.par_iter())
            .try_for_each_init(
                || Scratch::new(nodes),
                |scratch, (row, &anchor)| -> Result<()> {
                    check_cancelled()?;
                    let scratch = scratch.as_mut().map_err(|error| error.clone())?;
                    let candidates = scratch.candidates(&graph, anchor, self.hop_distance)?;
                    let mut best = BestK::new(k.min(candidates.len()));
                    for &candidate in candidates {
                        let (a, c) = (embeddings.row(anchor), embeddings.row(candidate));
                        let sim = match &scale {
                            Some(norms) => cosine(a, norms[anchor], c, norms[candidate]),
                            None => dot(a, c),
                        };
                        best.offer(sim.to_f64(), candidate);
                    }
                    for (slot, item) in row.iter_mut().zip(best.into_sorted()) {
                        *slot = item.index as i64;
                    }
                    Ok(())
                },
            )?;
        Ok(out)
    }
}

/// Anchor node ids as indices, each checked against the number of nodes.
fn checked_anchors(anchor_nodes: &[i64], nodes: usize) -> Result<Vec<usize>> {
    let mut out = try_vec_with_capacity("anchor_nodes", anchor_nodes.len())?;
    for (position, &node) in anchor_nodes.iter().enumerate() {
        if node < 0 || node as u64 >= nodes as u64 {
            return Err(TrainingError::item(
                "anchor_nodes",
                position,
                format!("node {node} is out of range for {nodes} embeddings rows"),
            ));
        }
        out.push(node as usize);
    }
    Ok(out)
}

/// Undirected adjacency in CSR form (self-loops dropped, duplicates kept: BFS ignores them).
struct Neighbours {
    offsets: Vec<usize>,
    targets: Vec<usize>,
}

impl Neighbours {
    fn build(nodes: usize, edges: &[[usize; 2]]) -> Result<Self> {
        // Sized by the node count, i.e. the embeddings' rows: a failure names them.
        let mut offsets = filled_vec("embeddings", nodes.saturating_add(1), 0usize)?;
        for (row, &[i, j]) in edges.iter().enumerate() {
            if i >= nodes || j >= nodes {
                return Err(TrainingError::value(
                    "edges",
                    format!(
                        "node index {} in row {row} is out of range for {nodes} embeddings rows",
                        i.max(j)
                    ),
                ));
            }
            if i != j {
                offsets[i + 1] += 1;
                offsets[j + 1] += 1;
            }
        }
        for i in 0..nodes {
            offsets[i + 1] += offsets[i];
        }
        let mut targets = filled_vec("edges", offsets[nodes], 0usize)?;
        let mut cursor = try_copy("edges", &offsets[..nodes])?;
        for &[i, j] in edges {
            if i != j {
                targets[cursor[i]] = j;
                cursor[i] += 1;
                targets[cursor[j]] = i;
                cursor[j] += 1;
            }
        }
        Ok(Self { offsets, targets })
    }

    fn of(&self, node: usize) -> &[usize] {
        &self.targets[self.offsets[node]..self.offsets[node + 1]]
    }
}

/// Per-thread BFS state: visit stamps (so nothing is cleared between anchors) and frontiers.
struct Scratch {
    stamp: Vec<u32>,
    epoch: u32,
    frontier: Vec<usize>,
    next: Vec<usize>,
    found: Vec<usize>,
}

impl Scratch {
    fn new(nodes: usize) -> Result<Self> {
        Ok(Self {
            stamp: filled_vec("embeddings", nodes, 0)?,
            epoch: 0,
            frontier: Vec::new(),
            next: Vec::new(),
            found: Vec::new(),
        })
    }

    /// Nodes at hop distance `2..=hops` from `anchor` (first reached at that depth).
    fn candidates(&mut self, graph: &Neighbours, anchor: usize, hops: usize) -> Result<&[usize]> {
        self.epoch = self.epoch.wrapping_add(1);
        if self.epoch == 0 {
            self.stamp.fill(0);
            self.epoch = 1;
        }
        let epoch = self.epoch;
        self.found.clear();
        self.frontier.clear();
        self.frontier.push(anchor);
        self.stamp[anchor] = epoch;
        for depth in 1..=hops {
            self.next.clear();
            for &node in &self.frontier {
                for &other in graph.of(node) {
                    if self.stamp[other] != epoch {
                        self.stamp[other] = epoch;
                        grow(&mut self.next, 1)?;
                        self.next.push(other);
                    }
                }
            }
            if depth >= 2 {
                grow(&mut self.found, self.next.len())?;
                self.found.extend_from_slice(&self.next);
            }
            std::mem::swap(&mut self.frontier, &mut self.next);
            if self.frontier.is_empty() {
                break;
            }
        }
        Ok(&self.found)
    }
}

/// Makes room for `additional` more items (amortised doubling), fallibly.
fn grow(items: &mut Vec<usize>, additional: usize) -> Result<()> {
    if items.capacity() - items.len() >= additional {
        return Ok(());
    }
    let wanted = additional.max(items.len()).max(8);
    items
        .try_reserve(wanted)
        .map_err(|_| TrainingError::OutOfMemory {
            arg: "edges",
            bytes: wanted.saturating_mul(std::mem::size_of::<usize>()),
        })
}
