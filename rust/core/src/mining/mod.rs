//! Hard-negative mining: [`HardNegativeMiner`] over a pool of embeddings (one streaming pass of
//! the shared similarity scan, filters applied inside it) and [`GraphHardNegativeMiner`] over a
//! graph's k-hop neighbourhoods.

mod graph;
mod miner;
pub mod sampling;

pub use graph::GraphHardNegativeMiner;
pub use miner::{HardNegativeMiner, MiningInputs, Strategy};
