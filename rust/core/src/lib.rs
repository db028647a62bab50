//! # ruvector-training-core
//!
//! Pure-Rust kernels for training embeddings contrastively: losses with their exact gradients
//! (starting with [`InfoNceLoss`]), built on one shared, blocked GEMM similarity kernel and
//! parallelised with rayon, and optimizers ([`Sgd`], [`Adam`]/AdamW) that update parameter slices
//! in place with `torch.optim`'s exact rules. No Python here: the `ruvector-training-py` crate binds it.
//!
//! Besides InfoNCE, [`losses`] holds [`TripletLoss`], [`CosineSimilarityLoss`] and the graph
//! losses [`LocalContrastiveLoss`] and [`SpectralRegularization`] (edge pass, then a CSR gather:
//! no float atomics, results independent of the thread count), with
//! [`SpectralRegularization::eigenvalues`] (the k smallest Laplacian eigenvalues, [`eigen`]).
//!
//! Every entry point validates its input and returns [`Result`]; nothing panics on user data.
//!
//! ## Writing an element-wise kernel
//!
//! A loop that should vectorise is one function marked `#[simd_dispatch]` (from
//! `ruvector-training-macros`, imported with `use crate::simd_dispatch;`): it is compiled for
//! AVX-512, AVX2+FMA and a portable default and picks one at run time. The target list lives
//! only in that attribute; never spell out `#[multiversion(targets(...))]` in a kernel. A
//! reduction keeps [`reduce::LANES`] independent accumulators (the one lane count: import it,
//! never redefine it), or uses the helpers of [`reduce`] directly.

pub mod alloc;
pub mod eigen;
pub mod error;
pub mod float;
pub mod graph;
pub mod infonce;
pub mod linalg;
pub mod losses;
pub mod maxsim;
pub mod mining;
pub mod optim;
pub mod pool;
pub mod reduce;
pub mod search;
pub mod similarity;
pub mod types;
pub mod validate;
pub mod workspace;

/// The runtime CPU dispatch of every element-wise kernel (see the crate docs).
pub(crate) use ruvector_training_macros::simd_dispatch;

pub use eigen::{graph_laplacian_eigenvalues, laplacian_eigenvalues, EigenMethod, EigenOptions};
pub use error::{Result, TrainingError};
pub use float::Float;
pub use graph::Graph;
pub use infonce::{
    GuideRef, InfoNceBatch, InfoNceExtras, InfoNceIds, InfoNceLoss, InfoNceOutput, MarginStrategy,
    QueueRef, DEFAULT_LOGITS_BUDGET_BYTES,
};
pub use linalg::MatRef;
pub use losses::{
    AnglELoss, BatchTripletLoss, CoSentLoss, CosineSimilarityLoss, CosineSimilarityOutput,
    DistillKlDivLoss, DistillOutput, GraphLossOutput, LabeledOutput, LocalContrastiveLoss,
    MarginMseLoss, ScoreRankingOutput, SpectralRegularization, SupConLoss, TripletBatch,
    TripletLoss, TripletMining, TripletOutput, DEFAULT_SPECTRAL_LAMBDA,
};
pub use maxsim::{
    maxsim_scores, maxsim_topk, MaskRef, MaxSimBatch, MaxSimLoss, MaxSimOutput, NegativeTokens,
    Normalize, TokensRef,
};
pub use mining::{GraphHardNegativeMiner, HardNegativeMiner, MiningInputs, Strategy};
pub use optim::{clip_grad_norm, Adam, AdamConfig, Optimizer, Sgd, SgdConfig};
pub use search::{topk, ExcludeLists, TopKResult};
pub use types::{Distance, Dtype, NegativesRef, Reduction, Similarity};
pub use workspace::Workspace;
