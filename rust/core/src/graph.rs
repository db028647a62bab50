//! [`Graph`]: the one undirected graph every graph consumer reads, built once from an edge
//! list.
//!
//! It keeps the edge list as given (and the optional per-edge weights), so per-edge consumers
//! (the graph losses, their per-edge `"none"` values and labels) stay aligned with the user's
//! rows, and builds two compressed-sparse-row views of it once:
//! - the incidence: for node `i`, `(other endpoint, edge index)` of every edge touching it, in
//!   edge order (the losses gather per-edge coefficients through it);
//! - the merged adjacency: for node `i`, each neighbour `j != i` once, sorted, with the summed
//!   weight of every edge `{i, j}` (neighbourhood consumers: degrees, the Laplacian, random
//!   walks, the k-hop miner).
//!
//! The rules (the spec's): edges are undirected, so `(i, j)` and `(j, i)` are the same pair;
//! duplicates add their weights (1 each without weights); self-loops are kept in the edge list
//! but ignored by the incidence and the adjacency; pairs whose total weight is 0 are not
//! neighbours. Building validates every index and weight, checks the memory it needs before it
//! allocates (a [`TrainingError::OutOfMemory`] naming `edges`), and polls for cancellation.

use std::sync::OnceLock;

use rayon::prelude::*;

use crate::alloc::{ensure_memory, filled_vec, try_copy, try_vec_with_capacity};
use crate::error::{Result, TrainingError};
use crate::pool::check_cancelled;
use crate::validate::{ensure_finite, format_shape};

/// Rows handled between two cancellation polls in the sequential passes.
const POLL_EVERY: usize = 1 << 14;

/// An undirected graph on `num_nodes` nodes: the edge list as given plus its CSR views (see the
/// [module documentation](self)). The incidence is built with the graph; the merged adjacency
/// on first use by a neighbourhood consumer, once (per-edge consumers never pay for it).
#[derive(Debug, Clone)]
pub struct Graph {
    num_nodes: usize,
    edges: Vec<[usize; 2]>,
    weights: Option<Vec<f64>>,
    incidence_offsets: Vec<usize>,
    incidence: Vec<(usize, usize)>,
    adjacency: OnceLock<Adjacency>,
}

/// Equal graphs have the same node count, edge rows and weights (the CSR views follow).
impl PartialEq for Graph {
    fn eq(&self, other: &Self) -> bool {
        self.num_nodes == other.num_nodes
            && self.edges == other.edges
            && self.weights == other.weights
    }
}

/// The merged adjacency of a [`Graph`]: for node `i`, each neighbour `j != i` once, ascending,
/// with the summed weight of every edge `{i, j}` (pairs of total weight 0 left out), and the
/// weighted degrees.
#[derive(Debug, Clone)]
pub struct Adjacency {
    offsets: Vec<usize>,
    neighbors: Vec<usize>,
    weights: Vec<f64>,
    degrees: Vec<f64>,
}

impl Adjacency {
    /// The merged rows of `graph`'s incidence.
    fn build(graph: &Graph) -> Result<Self> {
        let num_nodes = graph.num_nodes;
        let entries_len = graph.incidence.len();
        ensure_memory("edges", adjacency_bytes(num_nodes, entries_len))?;
        let weight_of = |e: usize| graph.weights.as_ref().map_or(1.0, |w| w[e]);
        // Every row's (neighbour, weight) pairs sorted by neighbour (stable: duplicates are
        // summed in edge order), then merged.
        let mut entries = try_vec_with_capacity("edges", entries_len)?;
        entries.extend(graph.incidence.iter().map(|&(j, e)| (j, weight_of(e))));
        let bounds = &graph.incidence_offsets;
        let mut rows = try_vec_with_capacity("edges", num_nodes)?;
        let mut rest = entries.as_mut_slice();
        for i in 0..num_nodes {
            let (row, tail) = rest.split_at_mut(bounds[i + 1] - bounds[i]);
            rows.push(row);
            rest = tail;
        }
        rows.par_iter_mut().try_for_each(|row| -> Result<()> {
            check_cancelled()?;
            row.sort_by_key(|&(j, _)| j);
            Ok(())
        })?;
        drop(rows);
        let mut offsets = filled_vec("edges", num_nodes + 1, 0usize)?;
        let mut neighbors = try_vec_with_capacity("edges", entries_len)?;
        let mut weights = try_vec_with_capacity("edges", entries_len)?;
        for i in 0..num_nodes {
            if i % POLL_EVERY == 0 {
                check_cancelled()?;
            }
            let row = &entries[bounds[i]..bounds[i + 1]];
            let mut at = 0;
            while at < row.len() {
                let j = row[at].0;
                let mut total = 0.0;
                while at < row.len() && row[at].0 == j {
                    total += row[at].1;
                    at += 1;
                }
                if total > 0.0 {
                    neighbors.push(j);
                    weights.push(total);
                }
            }
            offsets[i + 1] = neighbors.len();
        }
        let mut degrees = filled_vec("edges", num_nodes, 0.0)?;
        degrees.par_iter_mut().enumerate().for_each(|(i, d)| {
            *d = weights[offsets[i]..offsets[i + 1]].iter().sum();
        });
        Ok(Self {
            offsets,
            neighbors,
            weights,
            degrees,
        })
    }

    /// Number of nodes.
    pub fn num_nodes(&self) -> usize {
        self.degrees.len()
    }

    /// The neighbours of `node` (each once, ascending, never `node` itself), those whose
    /// summed edge weight is positive.
    pub fn neighbors(&self, node: usize) -> &[usize] {
        &self.neighbors[self.offsets[node]..self.offsets[node + 1]]
    }

    /// The summed edge weights matching [`neighbors`](Self::neighbors).
    pub fn weights(&self, node: usize) -> &[f64] {
        &self.weights[self.offsets[node]..self.offsets[node + 1]]
    }

    /// Weighted degrees `d_i = sum_j w_ij` (self-loops excluded; may overflow to infinity for
    /// weights near the float range, which the Laplacian consumers check).
    pub fn degrees(&self) -> &[f64] {
        &self.degrees
    }

    /// Stored entries (twice the number of distinct neighbour pairs).
    pub fn entries(&self) -> usize {
        self.neighbors.len()
    }

    /// The neighbour of `node` (which has one) that a walk moves to for the uniform `u`.
    fn step(&self, node: usize, u: f64) -> usize {
        let (neighbors, weights) = (self.neighbors(node), self.weights(node));
        let target = u * self.degrees[node];
        let mut cumulative = 0.0;
        for (&j, &w) in neighbors.iter().zip(weights) {
            cumulative += w;
            if cumulative > target {
                return j;
            }
        }
        // Rounding left the target at the total: the last neighbour.
        neighbors[neighbors.len() - 1]
    }
}

impl Graph {
    /// The graph of `num_nodes` nodes and `edges` (undirected pairs, any order; duplicates and
    /// self-loops allowed), optionally weighted (`weights[e] >= 0`, finite, one per edge).
    ///
    /// Fails with a [`TrainingError`] naming `edges` for an index `>= num_nodes`, naming
    /// `weights` for a wrong length, a negative or non-finite weight, and
    /// [`TrainingError::OutOfMemory`] naming `edges` when the incidence does not fit.
    pub fn new(
        num_nodes: usize,
        edges: Vec<[usize; 2]>,
        weights: Option<Vec<f64>>,
    ) -> Result<Self> {
        Self::build(num_nodes, edges, weights, "nodes (num_nodes)")
    }

    /// [`new`](Self::new), with `nodes` naming what `num_nodes` counts in the out-of-range
    /// message (e.g. `"embeddings rows"` when the graph is built for an embedding table).
    pub fn build(
        num_nodes: usize,
        edges: Vec<[usize; 2]>,
        weights: Option<Vec<f64>>,
        nodes: &str,
    ) -> Result<Self> {
        validate_edges(&edges, num_nodes, nodes)?;
        validate_weights(weights.as_deref(), edges.len())?;
        ensure_memory("edges", incidence_bytes(num_nodes, edges.len()))?;
        let (incidence_offsets, incidence) = build_incidence(num_nodes, &edges)?;
        Ok(Self {
            num_nodes,
            edges,
            weights,
            incidence_offsets,
            incidence,
            adjacency: OnceLock::new(),
        })
    }

    /// Number of nodes.
    pub fn num_nodes(&self) -> usize {
        self.num_nodes
    }

    /// Number of edge rows as given (self-loops and duplicates included).
    pub fn num_edges(&self) -> usize {
        self.edges.len()
    }

    /// The edge rows as given, in order.
    pub fn edges(&self) -> &[[usize; 2]] {
        &self.edges
    }

    /// The per-edge weights as given (`None`: every edge weighs 1).
    pub fn weights(&self) -> Option<&[f64]> {
        self.weights.as_deref()
    }

    /// `(other endpoint, edge index)` of every edge touching `node` except self-loops, in edge
    /// order (an edge listed twice appears twice).
    pub fn incident(&self, node: usize) -> &[(usize, usize)] {
        &self.incidence[self.incidence_offsets[node]..self.incidence_offsets[node + 1]]
    }

    /// The merged adjacency, built on the first call (a [`TrainingError::OutOfMemory`] naming
    /// `edges` when it does not fit) and kept.
    pub fn adjacency(&self) -> Result<&Adjacency> {
        if let Some(adjacency) = self.adjacency.get() {
            return Ok(adjacency);
        }
        let built = Adjacency::build(self)?;
        Ok(self.adjacency.get_or_init(|| built))
    }

    /// Fails with a shape error naming `arg` unless `rows` (of an array indexed by node) is
    /// the number of nodes.
    pub fn ensure_rows(&self, arg: &'static str, rows: usize) -> Result<()> {
        if rows == self.num_nodes {
            return Ok(());
        }
        Err(TrainingError::shape(
            arg,
            format!(
                "expected one row per graph node ({} nodes), got {rows} rows",
                self.num_nodes
            ),
        ))
    }

    /// The merged adjacency, owned (built now unless it was already).
    pub fn into_adjacency(mut self) -> Result<Adjacency> {
        match self.adjacency.take() {
            Some(adjacency) => Ok(adjacency),
            None => Adjacency::build(&self),
        }
    }

    /// End nodes of random walks: walk `w` starts at `starts[w]` and takes `lengths[w]` steps,
    /// each to neighbour `j` of the current node `i` with probability `w_ij / d_i` (uniform
    /// over the neighbours of an unweighted graph without duplicates).
    ///
    /// The randomness is `uniforms` (values in `[0, 1)`), consumed step by step: step `s`
    /// takes the next value for every walk still running (`lengths[w] > s`), in walk order. So
    /// `uniforms` must hold exactly `sum(lengths)` values, and the result is a deterministic
    /// function of them (on any thread count). A step chooses the neighbour whose cumulative
    /// weight first exceeds `u * d_i`.
    ///
    /// Fails naming `starts` for an index out of range or a start node without neighbours
    /// (when its walk has steps to take), `lengths` for a wrong length, `uniforms` for a wrong
    /// length or a value outside `[0, 1)`.
    pub fn walk_ends(
        &self,
        starts: &[usize],
        lengths: &[usize],
        uniforms: &[f64],
    ) -> Result<Vec<usize>> {
        if lengths.len() != starts.len() {
            return Err(TrainingError::shape(
                "lengths",
                format!(
                    "expected shape {} (one length per start), got {}",
                    format_shape(&[starts.len()]),
                    format_shape(&[lengths.len()])
                ),
            ));
        }
        let total = lengths
            .iter()
            .try_fold(0usize, |sum, &l| sum.checked_add(l))
            .ok_or_else(|| {
                TrainingError::value("lengths", "the total number of steps overflows")
            })?;
        if uniforms.len() != total {
            return Err(TrainingError::shape(
                "uniforms",
                format!(
                    "expected shape {} (sum(lengths) values), got {}",
                    format_shape(&[total]),
                    format_shape(&[uniforms.len()])
                ),
            ));
        }
        if let Some(at) = uniforms.iter().position(|u| !(0.0..1.0).contains(u)) {
            return Err(TrainingError::item(
                "uniforms",
                at,
                format!("expected a value in [0, 1), got {}", uniforms[at]),
            ));
        }
        let adjacency = self.adjacency()?;
        for (w, (&start, &length)) in starts.iter().zip(lengths).enumerate() {
            if start >= self.num_nodes {
                return Err(TrainingError::item(
                    "starts",
                    w,
                    format!("node {start} is out of range for {} nodes", self.num_nodes),
                ));
            }
            if length > 0 && adjacency.neighbors(start).is_empty() {
                return Err(TrainingError::item(
                    "starts",
                    w,
                    format!("node {start} has no neighbours to walk to"),
                ));
            }
        }
        let mut current = try_copy("starts", starts)?;
        let steps = lengths.iter().copied().max().unwrap_or(0);
        let mut next = 0;
        for step in 0..steps {
            check_cancelled()?;
            for (node, &length) in current.iter_mut().zip(lengths) {
                if length > step {
                    *node = adjacency.step(*node, uniforms[next]);
                    next += 1;
                }
            }
        }
        Ok(current)
    }
}

/// Bytes the incidence of `nodes` nodes and `edges` edges needs (`None` on overflow): offsets
/// and the build's cursor per node, two `(node, edge)` entries per edge.
fn incidence_bytes(nodes: usize, edges: usize) -> Option<usize> {
    nodes
        .checked_add(1)?
        .checked_mul(2 * 8)?
        .checked_add(edges.checked_mul(2 * 16)?)
}

/// Bytes the merged adjacency of `nodes` nodes and `entries` incidence entries needs (`None` on
/// overflow): offsets, degrees and row slices per node; the sort buffer, neighbours and
/// weights per entry.
fn adjacency_bytes(nodes: usize, entries: usize) -> Option<usize> {
    nodes
        .checked_add(1)?
        .checked_mul(4 * 8)?
        .checked_add(entries.checked_mul(16 + 8 + 8)?)
}

/// An incidence entry: `(other endpoint, edge index)`.
type Incident = (usize, usize);

/// The incidence CSR (`offsets`, `(other endpoint, edge index)` entries) of `edges`.
fn build_incidence(num_nodes: usize, edges: &[[usize; 2]]) -> Result<(Vec<usize>, Vec<Incident>)> {
    let mut offsets = filled_vec("edges", num_nodes + 1, 0usize)?;
    for &[i, j] in edges {
        if i != j {
            offsets[i + 1] += 1;
            offsets[j + 1] += 1;
        }
    }
    for i in 0..num_nodes {
        offsets[i + 1] += offsets[i];
    }
    let mut entries = filled_vec("edges", offsets[num_nodes], (0usize, 0usize))?;
    let mut cursor = try_copy("edges", &offsets[..num_nodes])?;
    for (e, &[i, j]) in edges.iter().enumerate() {
        if e % POLL_EVERY == 0 {
            check_cancelled()?;
        }
        if i != j {
            entries[cursor[i]] = (j, e);
            cursor[i] += 1;
            entries[cursor[j]] = (i, e);
            cursor[j] += 1;
        }
    }
    Ok((offsets, entries))
}

/// Fails unless every edge index is below `num_nodes`; `nodes` names what the bound counts
/// (e.g. `"embeddings rows"`) in the message.
pub fn validate_edges(edges: &[[usize; 2]], num_nodes: usize, nodes: &str) -> Result<()> {
    if let Some((row, pair)) = edges
        .par_iter()
        .enumerate()
        .find_first(|(_, pair)| pair[0] >= num_nodes || pair[1] >= num_nodes)
    {
        let index = if pair[0] >= num_nodes {
            pair[0]
        } else {
            pair[1]
        };
        return Err(TrainingError::value(
            "edges",
            format!("node index {index} in row {row} is out of range for {num_nodes} {nodes}"),
        ));
    }
    Ok(())
}

/// Fails unless optional edge `weights` have one entry per edge, all finite and `>= 0`.
pub fn validate_weights(weights: Option<&[f64]>, num_edges: usize) -> Result<()> {
    let Some(weights) = weights else {
        return Ok(());
    };
    ensure_edge_length("weights", weights.len(), num_edges)?;
    ensure_finite("weights", weights)?;
    if let Some(e) = weights.iter().position(|&w| w < 0.0) {
        return Err(TrainingError::value(
            "weights",
            format!("must be >= 0, got {} at index {e}", weights[e]),
        ));
    }
    Ok(())
}

/// Fails unless a per-edge array has one entry per edge.
pub fn ensure_edge_length(arg: &'static str, len: usize, num_edges: usize) -> Result<()> {
    if len == num_edges {
        Ok(())
    } else {
        Err(TrainingError::shape(
            arg,
            format!(
                "expected shape (E,) = {} with one entry per edge, got {}",
                format_shape(&[num_edges]),
                format_shape(&[len])
            ),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn graph(n: usize, edges: &[[usize; 2]], weights: Option<&[f64]>) -> Graph {
        Graph::new(n, edges.to_vec(), weights.map(<[f64]>::to_vec)).unwrap()
    }

    #[test]
    fn duplicates_add_weights_and_self_loops_are_ignored() {
        // 0-1 twice (both directions), a loop on 1, 1-2, node 3 isolated.
        let g = graph(4, &[[0, 1], [1, 1], [1, 0], [2, 1]], None);
        assert_eq!(g.edges(), &[[0, 1], [1, 1], [1, 0], [2, 1]]);
        assert_eq!(g.num_edges(), 4);
        assert_eq!(g.incident(1), &[(0, 0), (0, 2), (2, 3)]);
        let a = g.adjacency().unwrap();
        assert_eq!(a.neighbors(1), &[0, 2]);
        assert_eq!(a.weights(1), &[2.0, 1.0]);
        assert_eq!(a.degrees(), &[2.0, 3.0, 1.0, 0.0]);
        assert!(a.neighbors(3).is_empty());
        assert_eq!(a.entries(), 4);
        assert!(std::ptr::eq(a, g.adjacency().unwrap()), "built once");
    }

    #[test]
    fn weights_sum_and_zero_totals_are_not_neighbours() {
        let g = graph(3, &[[0, 1], [1, 0], [1, 2]], Some(&[0.5, 1.5, 0.0]));
        let a = g.adjacency().unwrap();
        assert_eq!(a.neighbors(1), &[0]);
        assert_eq!(a.weights(0), &[2.0]);
        assert_eq!(a.degrees(), &[2.0, 2.0, 0.0]);
        // The zero-weight edge is still an edge row (per-edge consumers see it).
        assert_eq!(g.incident(2), &[(1, 2)]);
        assert_eq!(g.weights(), Some(&[0.5, 1.5, 0.0][..]));
    }

    #[test]
    fn bad_input_names_the_argument() {
        let err = Graph::new(2, vec![[0, 2]], None).unwrap_err();
        assert_eq!(err.arg(), "edges");
        assert!(err.to_string().contains("row 0"), "{err}");
        for weights in [vec![1.0, 2.0], vec![-1.0], vec![f64::NAN]] {
            let err = Graph::new(2, vec![[0, 1]], Some(weights)).unwrap_err();
            assert_eq!(err.arg(), "weights");
        }
        let err = Graph::new(usize::MAX / 4, vec![], None).unwrap_err();
        assert!(matches!(
            err,
            TrainingError::OutOfMemory { arg: "edges", .. }
        ));
    }

    #[test]
    fn walks_follow_the_weights_step_major() {
        // Path 0 - 1 - 2 with 1-2 weighing 3: from 1, u < 0.25 goes to 0, else to 2.
        let g = graph(3, &[[0, 1], [1, 2]], Some(&[1.0, 3.0]));
        assert_eq!(
            g.walk_ends(&[1, 1], &[1, 1], &[0.2, 0.3]).unwrap(),
            vec![0, 2]
        );
        // Walk 0 takes 2 steps, walk 1 one: uniforms are [w0 s0, w1 s0, w0 s1].
        assert_eq!(
            g.walk_ends(&[0, 2], &[2, 1], &[0.9, 0.0, 0.1]).unwrap(),
            vec![0, 1]
        );
        assert_eq!(g.walk_ends(&[2], &[0], &[]).unwrap(), vec![2]);
        let isolated = graph(3, &[[0, 1]], None);
        assert_eq!(
            isolated.walk_ends(&[2], &[1], &[0.5]).unwrap_err().arg(),
            "starts"
        );
        assert_eq!(
            g.walk_ends(&[0], &[1], &[1.0]).unwrap_err().arg(),
            "uniforms"
        );
        assert_eq!(
            g.walk_ends(&[0], &[2], &[0.5]).unwrap_err().arg(),
            "uniforms"
        );
        assert_eq!(g.walk_ends(&[0], &[], &[]).unwrap_err().arg(), "lengths");
        assert_eq!(g.walk_ends(&[3], &[0], &[]).unwrap_err().arg(), "starts");
    }

    #[test]
    fn unit_walk_picks_the_floor_of_u_times_degree() {
        // Star: node 0 with 4 neighbours; u * 4 = 2.7 -> the third neighbour.
        let g = graph(5, &[[0, 4], [0, 2], [0, 1], [0, 3]], None);
        assert_eq!(g.walk_ends(&[0], &[1], &[0.675]).unwrap(), vec![3]);
        assert_eq!(g.walk_ends(&[0], &[1], &[0.0]).unwrap(), vec![1]);
        assert_eq!(g.walk_ends(&[0], &[1], &[0.999_999]).unwrap(), vec![4]);
    }
}
