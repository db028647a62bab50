"""Type stubs for the compiled module ``ruvector_training._core``."""

from collections.abc import Sequence
from typing import Any, ClassVar, Literal, final, overload

import numpy as np
import numpy.typing as npt
from typing_extensions import Self, disjoint_base

__all__ = [
    "__version__",
    "DEFAULT_LOGITS_BUDGET_BYTES",
    "InfoNCELoss",
    "TripletLoss",
    "CosineSimilarityLoss",
    "LocalContrastiveLoss",
    "SpectralRegularization",
    "HardNegativeMiner",
    "Graph",
    "GraphHardNegativeMiner",
    "Optimizer",
    "SGD",
    "Adam",
    "AdamW",
    "clip_grad_norm",
    "topk",
    "CoSENTLoss",
    "AnglELoss",
    "SupConLoss",
    "MarginMSELoss",
    "DistillKLDivLoss",
    "BatchTripletLoss",
    "MaxSimLoss",
    "maxsim_scores",
    "maxsim_topk",
]

from ruvector_training.queue import EmbeddingQueue

__version__: str
DEFAULT_LOGITS_BUDGET_BYTES: int

_FloatArray = npt.NDArray[np.float32] | npt.NDArray[np.float64]

@final
class InfoNCELoss:
    """InfoNCE (NT-Xent, MultipleNegativesRankingLoss) with exact gradients.

    For anchor ``i`` with candidates ``c_j`` (its positive first),
    ``s_ij = sim(a_i, c_j) / temperature`` and ``loss_i = logsumexp_j s_ij - s_i,pos``.

    Args:
        temperature: softmax temperature, a finite float > 0.
        similarity: ``"cosine"`` (rows normalised by ``max(||x||, 1e-12)``, gradients flow
            through the normalisation) or ``"dot"`` (raw inner products).
        symmetric: average with the reverse direction (positives as queries against all
            anchors). Needs an in-batch layout.
        reduction: ``"mean"``, ``"sum"`` or ``"none"`` (per-row losses; gradients are those of
            their sum).
        logits_budget_bytes: the largest logits matrix kept whole (default 256 MiB). Above it
            the kernel streams panels of rows and never holds the full matrix.
        guide_margin: GIST margin, a finite float >= 0 (used with guide embeddings).
        guide_margin_strategy: ``"absolute"`` (remove candidates the guide scores above
            ``s - guide_margin``, ``s`` the positive's guide score) or ``"relative"`` (above
            ``s - |s| * guide_margin``, sentence-transformers 6.2's formula).

    All attributes are readable and writable between calls. Bad values raise ``ValueError``.

    Thread safety: one object may be called from several threads at once, and its attributes
    may be set while a call runs: each call copies the configuration when it starts (a write
    never waits on or disturbs a running call, which keeps the values it started with).
    """

    temperature: float
    similarity: Literal["cosine", "dot"]
    symmetric: bool
    reduction: Literal["mean", "sum", "none"]
    logits_budget_bytes: int
    guide_margin: float
    guide_margin_strategy: Literal["absolute", "relative"]

    config_fields: ClassVar[tuple[str, ...]]
    """The configuration's field names, in constructor order (pickling, ``repr`` and the
    torch wrappers' forwarded attributes follow it)."""
    __hash__: ClassVar[None]  # type: ignore[assignment]
    def __eq__(self, other: object, /) -> bool:
        """Same class and equal configuration."""
    def __reduce__(self) -> tuple[type[Self], tuple[Any, ...]]:
        """``(type(self), (field values in constructor order))``."""
    def __new__(
        cls,
        temperature: float = 0.07,
        similarity: Literal["cosine", "dot"] = "cosine",
        symmetric: bool = False,
        reduction: Literal["mean", "sum", "none"] = "mean",
        logits_budget_bytes: int = 268435456,
        guide_margin: float = 0.0,
        guide_margin_strategy: Literal["absolute", "relative"] = "absolute",
    ) -> Self: ...
    @property
    def workspace_bytes(self) -> int:
        """Bytes of scratch memory (normalised copies, logits panel) kept between calls, so that
        repeated calls of one shape do not pay page faults again."""
    def release_workspace(self) -> None:
        """Frees the scratch memory kept between calls; the next call allocates it again."""
    def forward(
        self,
        anchors: _FloatArray,
        positives: _FloatArray,
        negatives: _FloatArray | None = None,
        *,
        in_batch: bool | None = None,
        anchor_ids: _IntArray | Sequence[int] | None = None,
        candidate_ids: _IntArray | Sequence[int] | None = None,
        guide_anchors: _FloatArray | None = None,
        guide_positives: _FloatArray | None = None,
        guide_negatives: _FloatArray | None = None,
        queue: EmbeddingQueue | None = None,
    ) -> tuple[float | _FloatArray, tuple[_FloatArray, _FloatArray, _FloatArray | None]]:
        """Loss and gradients for one batch.

        Args:
            anchors: ``(B, D)`` float32 or float64.
            positives: ``(B, D)``, same dtype; row ``i`` is the positive of anchor ``i``.
            negatives: optional ``(B, K, D)``, same dtype.
            in_batch: ``None`` means in-batch negatives exactly when ``negatives`` is None.
                ``True`` with negatives: every row's positives and negatives are candidates
                for every anchor (shared layout). ``False`` with negatives: each anchor sees
                its positive and its own K negatives. ``False`` without negatives is an error.
            anchor_ids: ``(B,)`` integer ids of the items behind the anchors; together with
                ``candidate_ids``, for false-negative masking: for anchor ``i``, every
                candidate other than its own positive whose id equals the id of that positive
                or the anchor's id is removed from the anchor's denominator (``symmetric``:
                the same rule with the roles swapped). Without ids the loss is unchanged bit
                for bit.
            candidate_ids: ids of the candidates in the layout's order: ``(B + B*K,)`` for
                in-batch and shared (positives then negatives, row-major), ``(B, 1 + K)`` per
                row (the positive then the row's negatives).
            guide_anchors: ``(B, Dg)`` a guide model's embeddings of the anchors, same dtype;
                with ``guide_positives`` (and ``guide_negatives`` when there are negatives),
                GIST filtering: a candidate other than the positive whose guide cosine with
                the anchor is strictly above the threshold (``guide_margin_strategy``) is
                removed. Computed tile by tile (memory O(B * D)); no gradient.
            guide_positives: ``(B, Dg)``.
            guide_negatives: ``(B, K, Dg)``.
            queue: an :class:`EmbeddingQueue` of the anchors' D and dtype: its entries are
                extra negatives of every anchor, without gradient, removed by the id rule
                when they carry ids (which then needs ``anchor_ids`` and ``candidate_ids``).
                An empty queue changes nothing.

        Returns:
            ``(loss, (grad_anchors, grad_positives, grad_negatives))``: ``loss`` is a float for
            ``"mean"``/``"sum"`` and a ``(B,)`` array for ``"none"``; each gradient has its
            input's shape and dtype (``None`` where the input was ``None``).

        Raises:
            TypeError: an argument is not a float32/float64 ndarray, or dtypes differ.
            ValueError: wrong shapes, an empty batch, NaN/Inf values, or a bad option mix.
        """
    def __call__(
        self,
        anchors: _FloatArray,
        positives: _FloatArray,
        negatives: _FloatArray | None = None,
        *,
        in_batch: bool | None = None,
        anchor_ids: _IntArray | Sequence[int] | None = None,
        candidate_ids: _IntArray | Sequence[int] | None = None,
        guide_anchors: _FloatArray | None = None,
        guide_positives: _FloatArray | None = None,
        guide_negatives: _FloatArray | None = None,
        queue: EmbeddingQueue | None = None,
    ) -> tuple[float | _FloatArray, tuple[_FloatArray, _FloatArray, _FloatArray | None]]:
        """Same as :meth:`forward`."""

_IntArray = npt.NDArray[np.integer[Any]]
_BoolArray = npt.NDArray[np.bool_]

@final
class TripletLoss:
    """Triplet margin loss ``max(0, d(a, p) - d(a, n) + margin)`` with exact gradients.

    Args:
        margin: finite float >= 0.
        distance: ``"euclidean"`` (``||x - y||``; its gradient is 0 where the distance is 0,
            e.g. an anchor equal to its positive) or ``"cosine"`` (``1 - cos(x, y)``, rows
            normalised by ``max(||x||, 1e-12)`` with gradients through the normalisation).
        reduction: ``"mean"`` (over all ``B * K`` triplets), ``"sum"`` or ``"none"``.

    A triplet with ``d(a, p) - d(a, n) + margin <= 0`` contributes 0 and no gradient. All
    attributes are readable and writable between calls. Bad values raise ``ValueError``.

    Thread safety: one object may be called from several threads at once, and its attributes
    may be set while a call runs: each call copies the configuration when it starts (a write
    never waits on or disturbs a running call, which keeps the values it started with).
    """

    margin: float
    distance: Literal["euclidean", "cosine"]
    reduction: Literal["mean", "sum", "none"]

    config_fields: ClassVar[tuple[str, ...]]
    """The configuration's field names, in constructor order (pickling, ``repr`` and the
    torch wrappers' forwarded attributes follow it)."""
    __hash__: ClassVar[None]  # type: ignore[assignment]
    def __eq__(self, other: object, /) -> bool:
        """Same class and equal configuration."""
    def __reduce__(self) -> tuple[type[Self], tuple[Any, ...]]:
        """``(type(self), (field values in constructor order))``."""
    def __new__(
        cls,
        margin: float = 1.0,
        distance: Literal["euclidean", "cosine"] = "euclidean",
        reduction: Literal["mean", "sum", "none"] = "mean",
    ) -> Self: ...
    def forward(
        self, anchors: _FloatArray, positives: _FloatArray, negatives: _FloatArray
    ) -> tuple[float | _FloatArray, tuple[_FloatArray, _FloatArray, _FloatArray]]:
        """Loss and gradients for one batch.

        Args:
            anchors: ``(B, D)`` float32 or float64.
            positives: ``(B, D)``, same dtype.
            negatives: ``(B, D)`` (one negative per anchor) or ``(B, K, D)``, same dtype.

        Returns:
            ``(loss, (grad_anchors, grad_positives, grad_negatives))``: ``loss`` is a float for
            ``"mean"``/``"sum"``; for ``"none"`` it is ``(B,)`` with ``(B, D)`` negatives and
            ``(B, K)`` with ``(B, K, D)`` negatives. Gradients have their input's shape/dtype.

        Raises:
            TypeError: an argument is not a float32/float64 ndarray, or dtypes differ.
            ValueError: wrong shapes (including K=0), an empty batch, NaN/Inf values.
        """
    def __call__(
        self, anchors: _FloatArray, positives: _FloatArray, negatives: _FloatArray
    ) -> tuple[float | _FloatArray, tuple[_FloatArray, _FloatArray, _FloatArray]]:
        """Same as :meth:`forward`."""

@final
class CosineSimilarityLoss:
    """``(cos(u_i, v_i) - score_i)^2`` per pair (sentence-transformers' CosineSimilarityLoss).

    Rows are normalised by ``max(||x||, 1e-12)`` and gradients flow through the normalisation.

    Args:
        reduction: ``"mean"``, ``"sum"`` or ``"none"`` (readable and writable).

    Thread safety: one object may be called from several threads at once, and its attributes
    may be set while a call runs: each call copies the configuration when it starts (a write
    never waits on or disturbs a running call, which keeps the values it started with).
    """

    reduction: Literal["mean", "sum", "none"]

    config_fields: ClassVar[tuple[str, ...]]
    """The configuration's field names, in constructor order (pickling, ``repr`` and the
    torch wrappers' forwarded attributes follow it)."""
    __hash__: ClassVar[None]  # type: ignore[assignment]
    def __eq__(self, other: object, /) -> bool:
        """Same class and equal configuration."""
    def __reduce__(self) -> tuple[type[Self], tuple[Any, ...]]:
        """``(type(self), (field values in constructor order))``."""
    def __new__(cls, reduction: Literal["mean", "sum", "none"] = "mean") -> Self: ...
    def forward(
        self, u: _FloatArray, v: _FloatArray, scores: _FloatArray
    ) -> tuple[float | _FloatArray, tuple[_FloatArray, _FloatArray, None]]:
        """Loss and gradients.

        Args:
            u: ``(B, D)`` float32 or float64.
            v: ``(B, D)``, same dtype.
            scores: ``(B,)`` target cosines, same dtype (no gradient: its slot is ``None``).

        Returns:
            ``(loss, (grad_u, grad_v, None))``; ``loss`` is ``(B,)`` for ``"none"``.

        Raises:
            TypeError: an argument is not a float32/float64 ndarray, or dtypes differ.
            ValueError: wrong shapes, an empty batch, NaN/Inf values.
        """
    def __call__(
        self, u: _FloatArray, v: _FloatArray, scores: _FloatArray
    ) -> tuple[float | _FloatArray, tuple[_FloatArray, _FloatArray, None]]:
        """Same as :meth:`forward`."""

@final
class Graph:
    """An undirected graph on ``num_nodes`` nodes, built once in Rust and accepted wherever an
    ``edges`` array is (:class:`LocalContrastiveLoss`, :class:`SpectralRegularization` and its
    :meth:`~SpectralRegularization.eigenvalues`, :class:`GraphHardNegativeMiner`, the
    :class:`~ruvector_training.Trainer`), so the edge list crosses into Rust once.

    It keeps the edge list as given (:meth:`edges`: per-edge consumers such as the local
    loss's labels and ``"none"`` losses stay aligned with your rows) and builds the
    compressed-sparse-row adjacency once for neighbourhood consumers (:meth:`degrees`,
    :meth:`neighbors`, the Laplacian, :meth:`walk`, the k-hop miner), with these rules:
    ``(i, j)`` and ``(j, i)`` are the same undirected pair; duplicate edges add their weights
    (1 each without weights); self-loops stay in :meth:`edges` but are ignored by the
    adjacency, the Laplacians and the walks; a pair whose total weight is 0 is not a
    neighbour pair.

    Args:
        num_nodes: N >= 1; nodes are ``0 .. N-1`` (nodes without edges are isolated).
        edges: ``(E, 2)`` numpy integer array of any integer dtype, indices in ``[0, N)``.
        weights: optional ``(E,)`` float32/float64 edge weights, finite and >= 0.

    Equality compares ``num_nodes``, the edge rows and the weights as given; pickling and
    ``copy.deepcopy`` round-trip exactly. Immutable; safe to share between threads.

    Raises:
        TypeError: ``edges`` not an integer ndarray, ``weights`` not float32/float64.
        ValueError: ``num_nodes < 1``, wrong shapes, negative or out-of-range indices, a
            weights length other than E, negative or NaN/Inf weights (each message starts
            with the argument's name).
        MemoryError: the adjacency does not fit (names ``edges``).
    """

    def __new__(
        cls, num_nodes: int, edges: _IntArray, weights: _FloatArray | None = None
    ) -> Self: ...
    @property
    def num_nodes(self) -> int:
        """N, the number of nodes."""
    @property
    def num_edges(self) -> int:
        """E, the number of edge rows as given (self-loops and duplicates included)."""
    def edges(self) -> npt.NDArray[np.int64]:
        """The edge rows as given, in order: a new ``int64 (E, 2)`` array."""
    def weights(self) -> npt.NDArray[np.float64] | None:
        """The weights as given (a new ``float64 (E,)`` array), or ``None``."""
    def degrees(self) -> npt.NDArray[np.float64]:
        """Weighted degrees ``d_i = sum_j w_ij`` (self-loops excluded; an unweighted edge
        listed twice counts 2): a new ``float64 (N,)`` array."""
    def neighbors(self, node: int) -> npt.NDArray[np.int64]:
        """The neighbours of ``node``, each once, ascending (never ``node`` itself): a new
        ``int64`` array. ``ValueError`` for a node outside ``[0, N)``."""
    def neighbor_weights(self, node: int) -> npt.NDArray[np.float64]:
        """The summed edge weights matching :meth:`neighbors`: a new ``float64`` array."""
    def walk(
        self, starts: _IntArray, lengths: _IntArray, uniforms: npt.NDArray[np.float64]
    ) -> npt.NDArray[np.int64]:
        """End nodes of random walks over the adjacency, driven by your random numbers.

        Walk ``w`` starts at ``starts[w]`` and takes ``lengths[w]`` steps, each from node ``i``
        to neighbour ``j`` with probability ``w_ij / d_i`` (uniform over the neighbours of an
        unweighted graph without duplicates). ``uniforms`` are consumed step by step: step
        ``s`` takes the next value for every walk still running (``lengths[w] > s``), in walk
        order; a step picks the neighbour whose cumulative weight first exceeds ``u * d_i``
        (for unit weights, neighbour number ``floor(u * degree)``). So the result is a
        deterministic function of the inputs, e.g. of a NumPy generator's state when
        ``uniforms = rng.random(lengths.sum())``.

        Args:
            starts: ``(W,)`` node ids, any integer dtype.
            lengths: ``(W,)`` steps per walk, >= 0.
            uniforms: ``(sum(lengths),)`` float64 values in ``[0, 1)``.

        Returns:
            ``int64 (W,)`` end nodes.

        Raises:
            TypeError: non-integer ``starts``/``lengths``, ``uniforms`` not a float64 ndarray.
            ValueError: wrong lengths, an out-of-range start or one without neighbours (that
                has steps to take), a negative length, a uniform outside ``[0, 1)``.
        """
    def __eq__(self, other: object, /) -> bool: ...
    def __reduce__(self) -> tuple[Any, ...]: ...

@final
class CoSENTLoss:
    """CoSENT (sentence-transformers 6.2's ``CoSENTLoss``): with ``s_i = scale * cos(u_i, v_i)``
    and target scores ``y``, ``loss = log(1 + sum over pairs y_i < y_j of exp(s_i - s_j))``.

    One scalar over all pairs (no ``reduction``). Computed in ``O(B log B)`` time and ``O(B)``
    memory by sorting on the scores; rows are normalised by ``max(||x||, 1e-12)``.

    Worked value: ``u = [[1, 0], [1, 0]]``, ``v = [[1, 0], [0, 1]]`` (cosines 1 and 0), targets
    ``[0, 1]``, ``scale=1``: ``log(1 + e) = 1.3132616875``.

    Args:
        scale: inverse temperature, a finite float > 0 (readable and writable).
    """

    scale: float

    config_fields: ClassVar[tuple[str, ...]]
    """The configuration's field names, in constructor order (pickling, ``repr`` and the
    torch wrappers' forwarded attributes follow it)."""
    __hash__: ClassVar[None]  # type: ignore[assignment]
    def __eq__(self, other: object, /) -> bool:
        """Same class and equal configuration."""
    def __reduce__(self) -> tuple[type[Self], tuple[Any, ...]]:
        """``(type(self), (field values in constructor order))``."""
    def __new__(cls, scale: float = 20.0) -> Self: ...
    def forward(
        self, u: _FloatArray, v: _FloatArray, scores: _FloatArray
    ) -> tuple[float, tuple[_FloatArray, _FloatArray, None]]:
        """Loss and gradients.

        Args:
            u: ``(B, D)`` float32 or float64.
            v: ``(B, D)``, same dtype.
            scores: ``(B,)`` target similarity scores, same dtype (no gradient).

        Returns:
            ``(loss, (grad_u, grad_v, None))``.

        Raises:
            TypeError: an argument is not a float32/float64 ndarray, or dtypes differ.
            ValueError: wrong shapes, an empty batch, NaN/Inf values.
        """
    def __call__(
        self, u: _FloatArray, v: _FloatArray, scores: _FloatArray
    ) -> tuple[float, tuple[_FloatArray, _FloatArray, None]]:
        """Same as :meth:`forward`."""

@final
class AnglELoss:
    """AnglE (sentence-transformers 6.2's ``AnglELoss``): CoSENT on the angle similarity
    ``|cos(u, v) + sin(u, v)|``, ``sin = sum_k (u'_{h+k} v'_k - u'_k v'_{h+k})`` over the unit
    rows split in halves of ``h = ceil(D / 2)`` (an odd ``D`` padded by a zero). The absolute
    value's subgradient at 0 is 0.

    Worked value: ``u = [[1, 0], [1, 0]]``, ``v = [[1, 0], [0, 1]]`` have angles 1 and 1
    (``|1 + 0|`` and ``|0 - 1|``), so targets ``[1, 0]`` with ``scale=1`` give ``log 2``.
    """

    scale: float

    config_fields: ClassVar[tuple[str, ...]]
    """The configuration's field names, in constructor order (pickling, ``repr`` and the
    torch wrappers' forwarded attributes follow it)."""
    __hash__: ClassVar[None]  # type: ignore[assignment]
    def __eq__(self, other: object, /) -> bool:
        """Same class and equal configuration."""
    def __reduce__(self) -> tuple[type[Self], tuple[Any, ...]]:
        """``(type(self), (field values in constructor order))``."""
    def __new__(cls, scale: float = 20.0) -> Self: ...
    def forward(
        self, u: _FloatArray, v: _FloatArray, scores: _FloatArray
    ) -> tuple[float, tuple[_FloatArray, _FloatArray, None]]:
        """Loss and gradients, as :meth:`CoSENTLoss.forward`."""
    def __call__(
        self, u: _FloatArray, v: _FloatArray, scores: _FloatArray
    ) -> tuple[float, tuple[_FloatArray, _FloatArray, None]]:
        """Same as :meth:`forward`."""

@final
class SupConLoss:
    """Supervised contrastive loss (Khosla et al. 2020, the "outside" average), as
    pytorch-metric-learning's ``SupConLoss`` computes it.

    With ``s_ij = sim(z_i, z_j) / temperature`` and ``P(i)`` the other rows sharing anchor
    ``i``'s label, ``loss_i = logsumexp_{j != i} s_ij - mean_{p in P(i)} s_ip``. Anchors with no
    positive contribute nothing (0 in ``"none"``, left out of the mean). As in
    pytorch-metric-learning, a batch with no pair of equal labels or no pair of different labels
    has loss 0 and zero gradients. Above ``logits_budget_bytes`` the ``B x B`` logits are
    streamed in panels of rows (memory ``O(B * D)`` plus one panel).

    Worked value: unit rows ``e0, e0, e1`` with labels ``(0, 0, 1)`` and ``temperature=1``:
    anchors 0 and 1 have ``log(e + 1) - 1 = 0.3132616875``, anchor 2 none: mean 0.3132616875.

    Args:
        temperature: finite float > 0.
        similarity: ``"cosine"`` (rows normalised by ``max(||x||, 1e-12)``) or ``"dot"``.
        reduction: ``"mean"`` (over anchors with a positive), ``"sum"`` or ``"none"`` (per
            anchor; gradients are those of the sum).
        logits_budget_bytes: largest logits matrix kept whole (default 256 MiB).

    All four are readable and writable attributes.
    """

    temperature: float
    similarity: Literal["cosine", "dot"]
    reduction: Literal["mean", "sum", "none"]
    logits_budget_bytes: int

    config_fields: ClassVar[tuple[str, ...]]
    """The configuration's field names, in constructor order (pickling, ``repr`` and the
    torch wrappers' forwarded attributes follow it)."""
    __hash__: ClassVar[None]  # type: ignore[assignment]
    def __eq__(self, other: object, /) -> bool:
        """Same class and equal configuration."""
    def __reduce__(self) -> tuple[type[Self], tuple[Any, ...]]:
        """``(type(self), (field values in constructor order))``."""
    def __new__(
        cls,
        temperature: float = 0.1,
        similarity: Literal["cosine", "dot"] = "cosine",
        reduction: Literal["mean", "sum", "none"] = "mean",
        logits_budget_bytes: int = ...,
    ) -> Self: ...
    def forward(
        self, embeddings: _FloatArray, labels: npt.NDArray[np.integer]
    ) -> tuple[float | _FloatArray, tuple[_FloatArray, None]]:
        """Loss and gradients.

        Args:
            embeddings: ``(B, D)`` float32 or float64.
            labels: ``(B,)`` integers of any integer dtype (no gradient).

        Returns:
            ``(loss, (grad_embeddings, None))``; ``loss`` is ``(B,)`` for ``"none"``.

        Raises:
            TypeError: embeddings not float32/float64, labels not integer.
            ValueError: wrong shapes, an empty batch, NaN/Inf values.
        """
    def __call__(
        self, embeddings: _FloatArray, labels: npt.NDArray[np.integer]
    ) -> tuple[float | _FloatArray, tuple[_FloatArray, None]]:
        """Same as :meth:`forward`."""

@final
class MarginMSELoss:
    """MarginMSE distillation (sentence-transformers' ``MarginMSELoss``): per (query, negative)
    term, ``(sim(q, p) - sim(q, n) - teacher_margin)^2``.

    Worked value: ``q = (1, 0)``, ``p = (2, 0)``, ``n = (0, 1)`` and teacher margin 1 with dot
    similarity: ``(2 - 0 - 1)^2 = 1``, gradient w.r.t. ``p`` ``2 * 1 * q = (2, 0)``.

    Args:
        similarity: ``"dot"`` (sentence-transformers' default for distillation) or
            ``"cosine"``.
        reduction: ``"mean"`` or ``"sum"`` over the ``(query, negative)`` terms, or ``"none"``
            (shaped like ``teacher_margins``).

    Both are readable and writable attributes.
    """

    similarity: Literal["dot", "cosine"]
    reduction: Literal["mean", "sum", "none"]

    config_fields: ClassVar[tuple[str, ...]]
    """The configuration's field names, in constructor order (pickling, ``repr`` and the
    torch wrappers' forwarded attributes follow it)."""
    __hash__: ClassVar[None]  # type: ignore[assignment]
    def __eq__(self, other: object, /) -> bool:
        """Same class and equal configuration."""
    def __reduce__(self) -> tuple[type[Self], tuple[Any, ...]]:
        """``(type(self), (field values in constructor order))``."""
    def __new__(
        cls,
        similarity: Literal["dot", "cosine"] = "dot",
        reduction: Literal["mean", "sum", "none"] = "mean",
    ) -> Self: ...
    def forward(
        self,
        queries: _FloatArray,
        positives: _FloatArray,
        negatives: _FloatArray,
        teacher_margins: _FloatArray,
    ) -> tuple[float | _FloatArray, tuple[_FloatArray, _FloatArray, _FloatArray, None]]:
        """Loss and gradients.

        Args:
            queries: ``(B, D)`` float32 or float64.
            positives: ``(B, D)``, same dtype.
            negatives: ``(B, D)`` or ``(B, K, D)``, same dtype.
            teacher_margins: ``(B,)`` for 2-D negatives, ``(B, K)`` for 3-D ones (no gradient).

        Returns:
            ``(loss, (grad_queries, grad_positives, grad_negatives, None))``.

        Raises:
            TypeError: an argument is not a float32/float64 ndarray, or dtypes differ.
            ValueError: wrong shapes, an empty batch, NaN/Inf values.
        """
    def __call__(
        self,
        queries: _FloatArray,
        positives: _FloatArray,
        negatives: _FloatArray,
        teacher_margins: _FloatArray,
    ) -> tuple[float | _FloatArray, tuple[_FloatArray, _FloatArray, _FloatArray, None]]:
        """Same as :meth:`forward`."""

@final
class DistillKLDivLoss:
    """KL distillation (sentence-transformers' ``DistillKLDivLoss``): per query,
    ``T_s^2 * KL(softmax(teacher / T_t) || softmax(sim(q, c) / T_s))`` over its ``C``
    candidates.

    Worked value: ``q = (1, 0)``, candidates ``e0, e1`` (dot scores 1, 0), teacher scores
    ``(0, 0)``, temperatures 1: ``log 0.5 + log(1 + e) - 0.5 = 0.1201145069``.

    Args:
        temperature: temperature of both sides, finite > 0.
        student_temperature, teacher_temperature: override it per side (``None``: use
            ``temperature``).
        similarity: ``"dot"`` or ``"cosine"``.
        reduction: ``"mean"`` (the batch mean, ``batchmean``), ``"sum"`` or ``"none"``
            (per query).

    All are readable and writable attributes.
    """

    temperature: float
    student_temperature: float | None
    teacher_temperature: float | None
    similarity: Literal["dot", "cosine"]
    reduction: Literal["mean", "sum", "none"]

    config_fields: ClassVar[tuple[str, ...]]
    """The configuration's field names, in constructor order (pickling, ``repr`` and the
    torch wrappers' forwarded attributes follow it)."""
    __hash__: ClassVar[None]  # type: ignore[assignment]
    def __eq__(self, other: object, /) -> bool:
        """Same class and equal configuration."""
    def __reduce__(self) -> tuple[type[Self], tuple[Any, ...]]:
        """``(type(self), (field values in constructor order))``."""
    def __new__(
        cls,
        temperature: float = 1.0,
        student_temperature: float | None = None,
        teacher_temperature: float | None = None,
        similarity: Literal["dot", "cosine"] = "dot",
        reduction: Literal["mean", "sum", "none"] = "mean",
    ) -> Self: ...
    def forward(
        self, queries: _FloatArray, candidates: _FloatArray, teacher_scores: _FloatArray
    ) -> tuple[float | _FloatArray, tuple[_FloatArray, _FloatArray, None]]:
        """Loss and gradients.

        Args:
            queries: ``(B, D)`` float32 or float64.
            candidates: ``(B, C, D)`` with ``C >= 2``, same dtype.
            teacher_scores: ``(B, C)``, same dtype (no gradient).

        Returns:
            ``(loss, (grad_queries, grad_candidates, None))``; ``(B,)`` for ``"none"``.

        Raises:
            TypeError: an argument is not a float32/float64 ndarray, or dtypes differ.
            ValueError: wrong shapes, an empty batch, NaN/Inf values.
        """
    def __call__(
        self, queries: _FloatArray, candidates: _FloatArray, teacher_scores: _FloatArray
    ) -> tuple[float | _FloatArray, tuple[_FloatArray, _FloatArray, None]]:
        """Same as :meth:`forward`."""

@final
class BatchTripletLoss:
    """Batch triplet losses from labels: exactly what sentence-transformers 6.2's
    ``BatchHardTripletLoss`` (``mining="hardest"``), ``BatchHardSoftMarginTripletLoss``
    (``"hardest"`` with ``soft_margin=True``), ``BatchSemiHardTripletLoss`` (``"semi_hard"``)
    and ``BatchAllTripletLoss`` (``"all"``) compute, including their treatment of anchors
    without positives (hardest: ``d_ap = 0``) or negatives (hardest: the row's largest plus
    smallest distance; semi-hard: the row's smallest distance) and their averaging (hardest:
    over all ``B`` anchors; semi-hard: over all (anchor, positive) pairs; all: over the active
    triplets). Where they would divide by zero ours returns 0 with zero gradients. Streamed in
    panels of anchor rows above ``logits_budget_bytes``.

    Worked value: points ``0, 1, 3`` on a line, labels ``(0, 0, 1)``, ``margin=2.5``, hardest:
    ``(0.5 + 1.5 + 0.5) / 3 = 0.8333``; ``"all"``: ``(0.5 + 1.5) / 2 = 1``.

    Args:
        mining: ``"hardest"``, ``"semi_hard"`` or ``"all"``.
        margin: finite float >= 0 (unused with ``soft_margin``).
        distance: ``"euclidean"`` or ``"cosine"`` (``1 - cos``).
        soft_margin: ``softplus(d_ap - d_an)`` instead of the hinge; only with ``"hardest"``
            (``ValueError`` otherwise).
        logits_budget_bytes: largest ``B x B`` distance block kept whole (default 256 MiB).

    All are readable and writable attributes.
    """

    mining: Literal["hardest", "semi_hard", "all"]
    margin: float
    distance: Literal["euclidean", "cosine"]
    soft_margin: bool
    logits_budget_bytes: int

    config_fields: ClassVar[tuple[str, ...]]
    """The configuration's field names, in constructor order (pickling, ``repr`` and the
    torch wrappers' forwarded attributes follow it)."""
    __hash__: ClassVar[None]  # type: ignore[assignment]
    def __eq__(self, other: object, /) -> bool:
        """Same class and equal configuration."""
    def __reduce__(self) -> tuple[type[Self], tuple[Any, ...]]:
        """``(type(self), (field values in constructor order))``."""
    def __new__(
        cls,
        mining: Literal["hardest", "semi_hard", "all"] = "hardest",
        margin: float = 5.0,
        distance: Literal["euclidean", "cosine"] = "euclidean",
        soft_margin: bool = False,
        logits_budget_bytes: int = ...,
    ) -> Self: ...
    def forward(
        self, embeddings: _FloatArray, labels: npt.NDArray[np.integer]
    ) -> tuple[float, tuple[_FloatArray, None]]:
        """Loss (one scalar) and gradients.

        Args:
            embeddings: ``(B, D)`` float32 or float64.
            labels: ``(B,)`` integers (no gradient).

        Returns:
            ``(loss, (grad_embeddings, None))``.

        Raises:
            TypeError: embeddings not float32/float64, labels not integer.
            ValueError: wrong shapes, an empty batch, NaN/Inf values.
        """
    def __call__(
        self, embeddings: _FloatArray, labels: npt.NDArray[np.integer]
    ) -> tuple[float, tuple[_FloatArray, None]]:
        """Same as :meth:`forward`."""

@final
class LocalContrastiveLoss:
    """Neighbourhood preservation on a graph: per edge ``(i, j)`` with ``d = ||z_i - z_j||``,
    ``d^2`` for a similar edge and ``max(0, margin - d)^2`` for a dissimilar one.

    A dissimilar self-loop (``d = 0``) costs ``margin^2`` with a zero gradient (never NaN).
    Parallel over edges, then over nodes through a CSR incidence list: no atomics, and the
    result does not depend on the thread count.

    Args:
        margin: finite float >= 0 (dissimilar edges).
        reduction: ``"mean"`` (over edges), ``"sum"`` or ``"none"``.

    Thread safety: one object may be called from several threads at once, and its attributes
    may be set while a call runs: each call copies the configuration when it starts (a write
    never waits on or disturbs a running call, which keeps the values it started with).
    """

    margin: float
    reduction: Literal["mean", "sum", "none"]

    config_fields: ClassVar[tuple[str, ...]]
    """The configuration's field names, in constructor order (pickling, ``repr`` and the
    torch wrappers' forwarded attributes follow it)."""
    __hash__: ClassVar[None]  # type: ignore[assignment]
    def __eq__(self, other: object, /) -> bool:
        """Same class and equal configuration."""
    def __reduce__(self) -> tuple[type[Self], tuple[Any, ...]]:
        """``(type(self), (field values in constructor order))``."""
    def __new__(
        cls, margin: float = 1.0, reduction: Literal["mean", "sum", "none"] = "mean"
    ) -> Self: ...
    def forward(
        self, embeddings: _FloatArray, edges: Graph | _IntArray, labels: _BoolArray | None = None
    ) -> tuple[float | _FloatArray, tuple[_FloatArray, None, None]]:
        """Loss and gradient.

        Args:
            embeddings: ``(N, D)`` float32 or float64.
            edges: a :class:`Graph` of N nodes (its edge rows as given; its weights are not
                used), or ``(E, 2)`` node indices of any integer dtype, each in ``[0, N)``
                (built into one the same way); duplicate edges count once per occurrence.
                ``E = 0`` is allowed except with ``"mean"``.
            labels: optional ``(E,)`` bool array: ``True`` = similar edge, ``False`` =
                dissimilar. Without labels every edge is similar.

        Returns:
            ``(loss, (grad_embeddings, None, None))``; ``loss`` is ``(E,)`` for ``"none"``.

        Raises:
            TypeError: ``embeddings`` not float32/float64, ``edges`` not an integer array,
                ``labels`` not bool.
            ValueError: wrong shapes (a Graph whose ``num_nodes`` is not N), negative or
                out-of-range node indices, a labels length other than E, NaN/Inf values, no
                edges with ``"mean"``.
        """
    def __call__(
        self, embeddings: _FloatArray, edges: Graph | _IntArray, labels: _BoolArray | None = None
    ) -> tuple[float | _FloatArray, tuple[_FloatArray, None, None]]:
        """Same as :meth:`forward`."""

@final
class SpectralRegularization:
    """Laplacian smoothness ``lam * tr(Z^T L Z)`` with exact gradient.

    Unnormalised, ``L = D - W``: ``lam * sum_e w_e ||z_i - z_j||^2``. Normalised,
    ``L_sym = I - D^-1/2 W D^-1/2``: ``lam * sum_e w_e ||z_i / sqrt(d_i) - z_j / sqrt(d_j)||^2``
    with ``d_i`` the weighted degree. Self-loops are ignored (they are not part of ``W`` or of
    the degrees); isolated nodes contribute nothing and get a zero gradient.

    Args:
        lam: finite float >= 0.
        normalized: use ``L_sym`` (default) or ``D - W``.

    Thread safety: one object may be called from several threads at once, and its attributes
    may be set while a call runs: each call copies the configuration when it starts (a write
    never waits on or disturbs a running call, which keeps the values it started with).
    """

    lam: float
    normalized: bool

    config_fields: ClassVar[tuple[str, ...]]
    """The configuration's field names, in constructor order (pickling, ``repr`` and the
    torch wrappers' forwarded attributes follow it)."""
    __hash__: ClassVar[None]  # type: ignore[assignment]
    def __eq__(self, other: object, /) -> bool:
        """Same class and equal configuration."""
    def __reduce__(self) -> tuple[type[Self], tuple[Any, ...]]:
        """``(type(self), (field values in constructor order))``."""
    def __new__(cls, lam: float = 0.01, normalized: bool = True) -> Self: ...
    def forward(
        self,
        embeddings: _FloatArray,
        edges: Graph | _IntArray,
        weights: _FloatArray | None = None,
    ) -> tuple[float, tuple[_FloatArray, None, None]]:
        """Loss (always a float) and gradient.

        Args:
            embeddings: ``(N, D)`` float32 or float64.
            edges: a :class:`Graph` of N nodes (with its weights), or ``(E, 2)`` undirected
                edges of any integer dtype (built into one the same way); duplicates add their
                weights.
            weights: optional ``(E,)`` float32/float64 edge weights, finite and >= 0 (default
                1), with raw ``edges`` only (a ``ValueError`` with a Graph, which holds its
                own). No gradient is computed for them: their slot is ``None``.

        Returns:
            ``(loss, (grad_embeddings, None, None))``.

        Raises:
            TypeError: ``embeddings``/``weights`` not float32/float64, ``edges`` not integer.
            ValueError: wrong shapes, negative or out-of-range node indices, a weights length
                other than E, negative or NaN/Inf weights, NaN/Inf embeddings.
        """
    def __call__(
        self,
        embeddings: _FloatArray,
        edges: Graph | _IntArray,
        weights: _FloatArray | None = None,
    ) -> tuple[float, tuple[_FloatArray, None, None]]:
        """Same as :meth:`forward`."""
    @overload
    def eigenvalues(
        self,
        num_nodes: Graph,
        edges: int,
        k: None = None,
        weights: None = None,
        *,
        method: Literal["auto", "dense", "sparse"] = "auto",
        max_iterations: int | None = None,
        tol: float | None = None,
    ) -> npt.NDArray[np.float64]: ...
    @overload
    def eigenvalues(
        self,
        num_nodes: Graph,
        edges: None = None,
        *,
        k: int,
        method: Literal["auto", "dense", "sparse"] = "auto",
        max_iterations: int | None = None,
        tol: float | None = None,
    ) -> npt.NDArray[np.float64]: ...
    @overload
    def eigenvalues(
        self,
        num_nodes: int,
        edges: _IntArray,
        k: int,
        weights: _FloatArray | None = None,
        *,
        method: Literal["auto", "dense", "sparse"] = "auto",
        max_iterations: int | None = None,
        tol: float | None = None,
    ) -> npt.NDArray[np.float64]:
        """``eigenvalues(graph, k)`` for a :class:`Graph` (its adjacency is reused, and its
        ``num_nodes`` nodes are stored: no compaction), or
        ``eigenvalues(num_nodes, edges, k, weights=None)``.

        The ``k`` smallest eigenvalues of the Laplacian this regulariser uses (``L_sym`` when
        :attr:`normalized`, else ``D - W``), ascending, with the conventions of :meth:`forward`:
        self-loops ignored, duplicate edges summed, isolated nodes (no edge of positive weight)
        with a zero row, hence a zero eigenvalue.

        Computed for real, one connected component at a time (the spectrum is the union of the
        components' spectra, each contributing exactly one zero, so zeros are counted, not
        computed): a dense symmetric eigensolver for small components, shift-invert block
        Lanczos on a sparse Cholesky factor (null vector deflated, block size >= the number of
        wanted values so repeated eigenvalues are all found, every value checked by its
        residual ``||L x - rho x||``) for large ones; for expander-like graphs whose factor
        would fill in, Chebyshev-filtered subspace iteration with Rayleigh-Ritz (products with
        ``L`` only, bounded memory, time about linear in ``k``), converged pairs locked. Agrees
        with ``numpy.linalg.eigvalsh`` of the dense Laplacian to ~1e-10 relative to ``||L||``
        with the default ``tol``. Runs with the GIL released.

        Memory follows the edges, not ``num_nodes``: nodes that no edge touches are isolated
        and only counted (``num_nodes=2**31`` with a few edges costs O(E)). Every solve's
        working memory is computed and reserved before it starts, so an oversized request
        raises ``MemoryError`` at once instead of aborting or being killed.

        Args:
            num_nodes: number of nodes N >= 1 (nodes without edges count: each adds a zero).
            edges: ``(E, 2)`` undirected edges of any integer dtype, indices in ``[0, N)``;
                duplicates add their weights.
            k: how many eigenvalues, ``1 <= k <= num_nodes``.
            weights: optional ``(E,)`` float32/float64 edge weights, finite and >= 0 (default 1).
            method: ``"auto"`` (dense for components up to 1,000 nodes, sparse above),
                ``"dense"`` (every component dense: O(n^2) memory, O(n^3) time in the largest
                one) or ``"sparse"`` (the iterative solver for every component larger than its
                Krylov basis; smaller ones, whose whole spectrum is wanted, are solved densely).
            max_iterations: cap on the sparse solver's iterations (block Lanczos: one block of
                operator applications each; filtered subspace iteration: one polynomial filter
                and Rayleigh-Ritz step each), a positive int; ``None`` (default): 5,000.
            tol: residual tolerance of the sparse solver, a positive finite float: every
                returned value is the Rayleigh quotient of a unit vector ``x`` with
                ``||L x - lambda x|| <= tol``, hence within ``tol`` of an eigenvalue of ``L``.
                ``None`` (default): ``1e-10`` times the Gershgorin bound on ``||L||``.

        Returns:
            float64 array of shape ``(k,)``, ascending, all >= 0.

        Raises:
            TypeError: ``edges`` not integer, ``weights`` not float32/float64.
            ValueError: ``num_nodes < 1``, ``k`` outside ``1..=num_nodes``, wrong shapes,
                negative or out-of-range node indices, a weights length other than E, negative
                or NaN/Inf weights, an unknown ``method``, ``max_iterations < 1``, ``tol`` not
                positive and finite (each message starts with the argument's name).
            TypeError: ``max_iterations`` not an integer, ``tol`` not a number.
            MemoryError: a component's solver (dense matrix, Krylov basis) or the ``(k,)``
                result does not fit in memory; the message names ``num_nodes`` (or ``k``).
            RuntimeError: the iterative solver did not converge within ``max_iterations``;
                the message names the largest residual reached and ``tol`` (raise either, or
                use ``method="dense"``).
        """

_Params = Sequence[_FloatArray]

def clip_grad_norm(grads: _Params, max_norm: float) -> float:
    """Clips the global L2 norm of ``grads`` in place, as ``torch.nn.utils.clip_grad_norm_``.

    The norm is that of all arrays taken as one vector, accumulated in float64 (the result does
    not depend on the thread count). When ``max_norm / (norm + 1e-6) < 1`` every array is
    multiplied by that factor (rounded to the array's dtype); otherwise nothing is written.

    Args:
        grads: a non-empty list of writable, C-contiguous float32/float64 arrays of any shapes
            (dtypes may differ between arrays), modified in place.
        max_norm: finite float > 0.

    Returns:
        The global norm before clipping.

    Raises:
        TypeError: an item is not a float32/float64 ndarray, or ``grads`` is not a list.
        ValueError: ``max_norm`` not finite and > 0; an empty list; a read-only,
            non-contiguous or repeated array; NaN/Inf in ``grads[i]`` (nothing is modified).
    """

@disjoint_base
class Optimizer:
    """The base class of :class:`SGD` and :class:`Adam` (and :class:`AdamW`, a subclass of
    :class:`Adam`, as in torch): the members every optimizer has. It has no constructor of its
    own. ``state_dict`` / ``load_state_dict`` and pickling work the same way for every subclass.

    Thread safety: concurrent ``step`` calls on one optimizer (and attribute writes,
    ``state_dict`` / ``load_state_dict`` during a step) serialise: each waits, with the GIL
    released, until the running step has finished, so every step is applied whole, never
    interleaved. Concurrent steps with different gradients apply in an unspecified order."""

    lr: float
    max_grad_norm: float | None
    check_finite: bool
    """True (the default): a step checks every gradient for NaN/Inf before modifying anything,
    so a bad gradient leaves parameters and state unchanged. False (an opt-in for speed): when
    no ``max_grad_norm`` is set, the separate checking read of the gradients is skipped (about
    1/8 of an AdamW step's memory traffic); each gradient chunk is checked while it is in cache
    during the update instead, the returned norm is the same, and a NaN/Inf still raises
    ``ValueError``, but only after the step was applied (the parameters then hold non-finite
    values and the step is counted)."""
    @property
    def step_count(self) -> int:
        """Number of steps taken (restored by :meth:`load_state_dict`)."""
    @property
    def last_grad_norm(self) -> float | None:
        """Global L2 norm of the last step's gradients before clipping (None before a step)."""
    @property
    def param_count(self) -> int:
        """Total number of scalar parameters over all arrays."""
    @property
    def params(self) -> list[_FloatArray]:
        """The parameter arrays given at construction (the same objects, updated in place)."""
    def step(self, grads: _Params) -> float:
        """Updates every parameter in place from one gradient per parameter.

        A step reads the gradients once (finiteness check and global L2 norm together), then
        updates each array in one fused pass that reads the parameter, gradient and state once
        and writes the parameter and state once, in parallel chunks with the GIL released.
        With ``max_grad_norm`` set, every gradient element is multiplied by
        ``min(max_grad_norm / (norm + 1e-6), 1)`` inside that pass, exactly as calling
        :func:`clip_grad_norm` first would (bit for bit), but the gradient arrays are not
        modified.

        Args:
            grads: one array per parameter, in order, with the parameter's shape and dtype.
                Any memory layout (non-contiguous gradients are copied); a gradient must not be
                a parameter or a view of one.

        Returns:
            The global L2 norm of ``grads`` before clipping (also :attr:`last_grad_norm`).

        Raises:
            TypeError: a gradient is not an ndarray or its dtype differs from its parameter's.
            ValueError: wrong count or shape, NaN/Inf in ``grads[i]``, a gradient sharing
                memory with a parameter, or a parameter that stopped being writable and
                C-contiguous. On any error no parameter and no state is modified, except a
                NaN/Inf gradient with :attr:`check_finite` off (see there).
        """
    def state_dict(self) -> dict[str, Any]:
        """Everything needed to resume bit-identically: ``"optimizer"`` (class name),
        ``"step"``, every hyper-parameter under its constructor name, and ``"state"``: a list
        with one dict of NumPy copies per parameter (parameter's shape and dtype)."""
    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        """Restores hyper-parameters, step count and buffers from :meth:`state_dict` output of
        the same optimizer class over parameters of the same shapes and dtypes. Everything is
        checked before anything changes (``TypeError`` for dtypes, ``ValueError`` for shapes,
        counts, missing keys and invalid values), as strictly as constructor arguments: every
        buffer must be finite, ``exp_avg_sq`` / ``max_exp_avg_sq`` non-negative (and the AMSGrad
        maximum never below ``exp_avg_sq``), ``max_exp_avg_sq`` present with ``amsgrad``,
        ``momentum_buffer`` present after a step with momentum, and ``step`` an integer
        ``>= 0``; the ``ValueError`` names the key (``state_dict['state'][0]['exp_avg_sq']:
        contains a negative value ...``). Parameters themselves are not part of it."""
    __hash__: ClassVar[None]  # type: ignore[assignment]
    def __eq__(self, other: object, /) -> bool:
        """Same class, same hyper-parameters and :attr:`check_finite`. Parameters and state are
        not compared (compare :meth:`state_dict` for those)."""
    def __reduce__(self) -> tuple[type[Self], tuple[Any, ...], dict[str, Any]]:
        """Pickling, ``copy.deepcopy`` and ``torch.save``: ``(type(self), (params, every
        hyper-parameter in constructor order, check_finite), state_dict())``. Unpickling builds
        the optimizer over the (unpickled copies of the) parameter arrays and restores the state
        with :meth:`load_state_dict`, so the copy continues bit-identically; arrays shared with
        other pickled objects (a model's weights) stay shared within one pickle."""
    def __setstate__(self, state: dict[str, Any], /) -> None:
        """:meth:`load_state_dict` (used by unpickling)."""

@final
class SGD(Optimizer):
    """``torch.optim.SGD`` applied in place to NumPy arrays.

    Per element, with ``g`` the gradient (times the clipping factor with ``max_grad_norm``):
    ``g += weight_decay * p``; with momentum, ``buf = g`` on the first step (no dampening) and
    ``buf = momentum * buf + (1 - dampening) * g`` after; ``g = g + momentum * buf`` (Nesterov)
    or ``g = buf``; then ``p -= lr * g``. Element-wise work is done in the array's dtype in
    torch's operation order.

    Args:
        params: a non-empty list of distinct, writable, C-contiguous float32/float64 arrays of
            any shapes (dtypes may differ between arrays). They are updated in place, never
            copied; read-only, non-contiguous or overlapping arrays are a ``ValueError``.
        lr: learning rate, finite and >= 0 (default 1e-3, as ``torch.optim.SGD``).
        momentum: finite, >= 0.
        dampening: finite; must be 0 with Nesterov.
        nesterov: Nesterov momentum (needs ``momentum > 0`` and ``dampening == 0``).
        weight_decay: L2 penalty, finite and >= 0.
        max_grad_norm: clip the global gradient norm to this (finite > 0) inside each step.
        check_finite: see :attr:`Optimizer.check_finite`.

    Hyper-parameters are attributes, writable between steps with the same validation.
    """

    momentum: float
    dampening: float
    nesterov: bool
    weight_decay: float
    def __new__(
        cls,
        params: _Params,
        lr: float = 1e-3,
        momentum: float = 0.0,
        dampening: float = 0.0,
        nesterov: bool = False,
        weight_decay: float = 0.0,
        max_grad_norm: float | None = None,
        check_finite: bool = True,
    ) -> Self: ...

class Adam(Optimizer):
    """``torch.optim.Adam`` applied in place to NumPy arrays (L2 weight decay).

    Per element at step ``t``, with ``g`` the gradient (times the clipping factor):
    ``g += weight_decay * p``; ``m = lerp(m, g, 1 - beta1)``;
    ``v = beta2 * v + (1 - beta2) * g * g``; with AMSGrad ``v_max = max(v_max, v)`` replaces
    ``v`` below; ``p -= lr / (1 - beta1**t) * m / (sqrt(v) / sqrt(1 - beta2**t) + eps)``.
    Element-wise work is done in the array's dtype in torch's operation order.

    Args:
        params: as for :class:`SGD`.
        lr: learning rate, finite and >= 0.
        betas: ``(beta1, beta2)``, each in [0, 1).
        eps: finite, >= 0.
        weight_decay: finite, >= 0.
        amsgrad: keep the running maximum of ``v`` (fixed at construction).
        max_grad_norm: clip the global gradient norm to this (finite > 0) inside each step.
        check_finite: see :attr:`Optimizer.check_finite`.

    ``state_dict()["state"][i]`` holds ``exp_avg``, ``exp_avg_sq`` and, with AMSGrad,
    ``max_exp_avg_sq``.
    """

    betas: tuple[float, float]
    eps: float
    weight_decay: float
    @property
    def amsgrad(self) -> bool:
        """Whether AMSGrad is on."""
    def __new__(
        cls,
        params: _Params,
        lr: float = 1e-3,
        betas: tuple[float, float] | None = None,
        eps: float = 1e-8,
        weight_decay: float = 0.0,
        amsgrad: bool = False,
        max_grad_norm: float | None = None,
        check_finite: bool = True,
    ) -> Self: ...

@final
class AdamW(Adam):
    """``torch.optim.AdamW``: :class:`Adam` with decoupled weight decay.

    Each step first multiplies every parameter by ``1 - lr * weight_decay``, then applies the
    Adam update without the L2 term. Same arguments as :class:`Adam`, ``weight_decay`` defaults
    to 0.01.
    """

    def __new__(
        cls,
        params: _Params,
        lr: float = 1e-3,
        betas: tuple[float, float] | None = None,
        eps: float = 1e-8,
        weight_decay: float = 0.01,
        amsgrad: bool = False,
        max_grad_norm: float | None = None,
        check_finite: bool = True,
    ) -> Self: ...

_IndexLists = Sequence[Sequence[int] | npt.NDArray[np.integer]] | npt.NDArray[np.integer]

def topk(
    queries: _FloatArray,
    corpus: _FloatArray,
    k: int,
    similarity: Literal["cosine", "dot"] = "cosine",
    exclude: _IndexLists | None = None,
) -> tuple[_FloatArray, npt.NDArray[np.int64]]:
    """Exact top-k search: the ``k`` corpus rows most similar to each query.

    Blocked and streaming: query blocks x corpus tiles are multiplied by one GEMM each and
    folded into per-query bounded heaps, in parallel, with the GIL released. Working memory is
    ``O(Q*k)`` plus one tile per thread, never ``O(Q*M)``; the corpus is read in place (cosine
    scales it by its inverse row norms inside the scan instead of copying it). Results are
    identical on any thread count.

    Args:
        queries: ``(Q, D)`` float32 or float64.
        corpus: ``(M, D)``, same dtype and ``D``.
        k: number of results per query, >= 1. ``k > M`` is allowed (padded).
        similarity: ``"cosine"`` (rows normalised by ``max(||x||, 1e-12)``; zero rows score 0)
            or ``"dot"``.
        exclude: per-query corpus indices never to return: a sequence of ``Q`` iterables of
            ints, or a ``(Q, E)`` integer array; ``-1`` entries are ignored (padding).

    Returns:
        ``(scores, indices)``, both ``(Q, k)``: similarities in the input dtype, sorted
        descending with ties broken by the lower corpus index, and ``int64`` corpus indices.
        Slots beyond the available candidates hold index ``-1`` and score ``-inf``.

    Raises:
        TypeError: non-arrays, non-float or mismatched dtypes; non-integer ``exclude`` entries.
        ValueError: ``k < 1``; wrong dimensions or mismatched ``D``; NaN/Inf; an ``exclude``
            index outside ``[0, M)`` or a number of lists other than ``Q``; unknown similarity.
    """

_Strategy = Literal["hardest", "semi_hard", "weighted", "distance_weighted", "random", "mixed"]

@final
class HardNegativeMiner:
    """Mines hard negatives for each anchor from a pool, in one streaming pass.

    The pass is the :func:`topk` kernel's (GEMM tiles of anchors x pool, per-anchor bounded
    selections, rayon-parallel, GIL released): no ``B x M`` matrix and no second pass, whatever
    the strategy and filters. A pool item is a *candidate* for anchor ``i`` unless it

    - shares the anchor's label (``anchor_labels[i] == pool_labels[j]``: a false negative),
    - is in ``exclude[i]``,
    - has similarity above ``max_similarity``,
    - with ``relative_margin``: has ``sim > sim(a_i, p_i) - relative_margin * |sim(a_i, p_i)|``.

    Strategies (``K = num_negatives``):

    - ``"hardest"``: the K most similar candidates (ties by lower index).
    - ``"semi_hard"``: candidates with ``sim(a,p) - margin < sim(a,n) < sim(a,p)``, hardest
      first (needs ``positives``).
    - ``"weighted"``: K drawn without replacement with probability proportional to
      ``exp(alpha * sim)`` (``alpha=0``: uniform), exactly, by Gumbel-top-k keys.
    - ``"distance_weighted"``: Wu et al. (2017) on unit vectors: weight ``1/q(d)`` with
      ``q(d) ∝ d^(D-2) (1 - d²/4)^((D-3)/2)``, ``d = sqrt(2 - 2 sim)`` clipped below at 0.5;
      items with ``d >= 1.4`` (``sim <= 0.02``) get weight 0 and are never drawn. Cosine only.
    - ``"random"``: K uniformly without replacement.
    - ``"mixed"``: ``round(K * hard_ratio)`` hardest (Python rounding, halves to even), then
      the rest uniformly from the remaining candidates.

    Sampled rows are in draw order; the random number of (seed, anchor row, pool index) is a
    counter-based hash, so results are identical on any thread count. Every attribute is
    writable (a curriculum can change ``num_negatives``); invalid values raise ``ValueError``
    and leave the miner unchanged.

    Args:
        strategy: one of the names above.
        num_negatives: K >= 1.
        margin: semi-hard band width, finite and >= 0.
        alpha: finite inverse temperature of ``"weighted"``.
        hard_ratio: share of hardest negatives in ``"mixed"``, in [0, 1].
        relative_margin: finite and >= 0, or None (needs ``positives`` in :meth:`mine`).
        max_similarity: similarity ceiling, or None.
        similarity: ``"cosine"`` or ``"dot"``.
        seed: seed of the sampling strategies (int >= 0).

    Thread safety: one object may be called from several threads at once, and its attributes
    may be set while a call runs: each call copies the configuration when it starts (a write
    never waits on or disturbs a running call, which keeps the values it started with).
    """

    strategy: _Strategy
    num_negatives: int
    margin: float
    alpha: float
    hard_ratio: float
    relative_margin: float | None
    max_similarity: float | None
    similarity: Literal["cosine", "dot"]
    seed: int
    config_fields: ClassVar[tuple[str, ...]]
    """The configuration's field names, in constructor order (pickling, ``repr`` and the
    torch wrappers' forwarded attributes follow it)."""
    __hash__: ClassVar[None]  # type: ignore[assignment]
    def __eq__(self, other: object, /) -> bool:
        """Same class and equal configuration."""
    def __reduce__(self) -> tuple[type[Self], tuple[Any, ...]]:
        """``(type(self), (field values in constructor order))``."""
    def __new__(
        cls,
        strategy: _Strategy = "hardest",
        num_negatives: int = 5,
        margin: float = 0.2,
        alpha: float = 1.0,
        hard_ratio: float = 0.5,
        relative_margin: float | None = None,
        max_similarity: float | None = None,
        similarity: Literal["cosine", "dot"] = "cosine",
        seed: int = 0,
    ) -> Self: ...
    def mine(
        self,
        anchors: _FloatArray,
        pool: _FloatArray,
        positives: _FloatArray | None = None,
        anchor_labels: npt.NDArray[np.integer] | None = None,
        pool_labels: npt.NDArray[np.integer] | None = None,
        exclude: _IndexLists | None = None,
    ) -> npt.NDArray[np.int64]:
        """Mines ``K`` negatives per anchor.

        Args:
            anchors: ``(B, D)`` float32/float64.
            pool: ``(M, D)``, same dtype and ``D``.
            positives: ``(B, D)``, one per anchor; required by ``"semi_hard"`` and
                ``relative_margin``.
            anchor_labels: ``(B,)`` integer labels; give both label arrays or neither.
            pool_labels: ``(M,)`` integer labels.
            exclude: per-anchor pool indices never to return (as in :func:`topk`).

        Returns:
            ``int64 (B, K)`` pool indices: never a duplicate, an excluded or same-label item;
            ``-1`` in the trailing slots when fewer than K candidates qualify.

        Raises:
            TypeError: non-arrays, non-float or mismatched dtypes, non-integer labels.
            ValueError: shape mismatches, label length mismatches, NaN/Inf, out-of-range
                ``exclude`` indices, a missing ``positives`` where required.
        """

@final
class GraphHardNegativeMiner:
    """Graph-aware hard negatives: nodes close in the graph but not adjacent.

    For each anchor node the candidates are the nodes within ``hop_distance`` hops (BFS on
    the undirected graph) that are neither the anchor nor one of its 1-hop neighbours; the
    ``num_negatives`` most similar by embedding are returned (ties by lower index), ``-1``
    padded. Pass a :class:`Graph` to reuse its adjacency (CSR); raw edges build one per call.
    Anchors run in parallel.

    Args:
        hop_distance: >= 1 (1 leaves no candidates).
        num_negatives: K >= 1.
        similarity: ``"cosine"`` or ``"dot"``.

    Thread safety: one object may be called from several threads at once, and its attributes
    may be set while a call runs: each call copies the configuration when it starts (a write
    never waits on or disturbs a running call, which keeps the values it started with).
    """

    hop_distance: int
    num_negatives: int
    similarity: Literal["cosine", "dot"]
    config_fields: ClassVar[tuple[str, ...]]
    """The configuration's field names, in constructor order (pickling, ``repr`` and the
    torch wrappers' forwarded attributes follow it)."""
    __hash__: ClassVar[None]  # type: ignore[assignment]
    def __eq__(self, other: object, /) -> bool:
        """Same class and equal configuration."""
    def __reduce__(self) -> tuple[type[Self], tuple[Any, ...]]:
        """``(type(self), (field values in constructor order))``."""
    def __new__(
        cls,
        hop_distance: int = 2,
        num_negatives: int = 5,
        similarity: Literal["cosine", "dot"] = "cosine",
    ) -> Self: ...
    def mine(
        self,
        anchor_nodes: npt.NDArray[np.integer],
        embeddings: _FloatArray,
        edges: Graph | npt.NDArray[np.integer],
    ) -> npt.NDArray[np.int64]:
        """Mines ``K`` negatives per anchor node.

        Args:
            anchor_nodes: ``(B,)`` node ids in ``[0, N)``, any integer dtype.
            embeddings: ``(N, D)`` float32/float64, one row per node.
            edges: a :class:`Graph` of N nodes (hops follow its adjacency: pairs of zero
                total weight are not edges), or ``(E, 2)`` integer node pairs (undirected;
                duplicates and self-loops are allowed and ignored) built into one.

        Returns:
            ``int64 (B, K)`` node ids, most similar first, ``-1`` padded.

        Raises:
            TypeError: non-integer ids or edges, non-float embeddings.
            ValueError: out-of-range ids or edge indices, bad shapes, NaN/Inf.
        """

def maxsim_scores(
    queries: _FloatArray,
    documents: _FloatArray,
    *,
    query_mask: _BoolArray | None = None,
    document_mask: _BoolArray | None = None,
    similarity: Literal["dot", "cosine"] = "dot",
    normalize: Literal["none", "query_length"] = "none",
) -> _FloatArray:
    """Late-interaction (MaxSim) scores of every query against every document.

    ``s(q, d) = sum over real query tokens i of max over real document tokens j of
    sim(q_i, d_j)``; ``normalize="query_length"`` divides by the number of real query tokens.
    The max runs over real document tokens only (PyLate multiplies by the mask before its max,
    so there padding counts as a 0 similarity when every real one is negative). Streams over
    tiles of tokens: the ``Q x M x Lq x Ld`` tensor never exists.

    Args:
        queries: ``(Q, Lq, D)`` float32 or float64 token vectors.
        documents: ``(M, Ld, D)``, same dtype and ``D``.
        query_mask: optional boolean ``(Q, Lq)``, True = real token (default: all real).
        document_mask: optional boolean ``(M, Ld)``.
        similarity: ``"dot"`` (default; late-interaction models normalise their tokens) or
            ``"cosine"`` (each token normalised by ``max(||x||, 1e-12)``).
        normalize: ``"none"`` or ``"query_length"``.

    Returns:
        ``(Q, M)`` scores in the input dtype.

    Raises:
        TypeError: non-arrays, non-float or mismatched dtypes, a non-boolean mask.
        ValueError: wrong number of dimensions, a ``D`` or mask shape that disagrees, NaN/Inf,
            a row without a real token (naming the argument and row), unknown options.
    """

def maxsim_topk(
    queries: _FloatArray,
    documents: _FloatArray,
    k: int,
    *,
    query_mask: _BoolArray | None = None,
    document_mask: _BoolArray | None = None,
    similarity: Literal["dot", "cosine"] = "dot",
    normalize: Literal["none", "query_length"] = "none",
) -> tuple[_FloatArray, npt.NDArray[np.int64]]:
    """Exact top-k documents of every query by MaxSim score (see :func:`maxsim_scores`).

    Streams over document chunks, each packed once inside its task: working memory is
    ``O(Q*k)`` per thread plus one chunk per task, independent of the number of documents.
    Results are identical on any thread count and equal to sorting :func:`maxsim_scores`.

    Returns:
        ``(scores, indices)``, both ``(Q, k)``, sorted descending with ties broken by the lower
        document index, as :func:`topk`; slots beyond ``M`` hold ``-inf`` and ``-1``.

    Raises:
        As :func:`maxsim_scores`; ``k`` below 1 is a ``ValueError``, a non-integer a ``TypeError``.
    """

@final
class MaxSimLoss:
    """InfoNCE over late-interaction (MaxSim) scores, with exact gradients.

    ``loss_i = logsumexp_c (s_ic / temperature) - s_i,pos / temperature`` where ``s`` is the
    MaxSim score of :func:`maxsim_scores`. The gradient of each max flows to its arg-max
    document token (the lowest index on exact ties); masked tokens get exactly zero.

    Args:
        temperature: softmax temperature, a finite float > 0 (default 1.0).
        similarity: ``"dot"`` (default) or ``"cosine"``.
        normalize: ``"none"`` or ``"query_length"``.
        symmetric: average with the documents-as-queries direction over the same score matrix
            (each document's softmax over the queries' scores, as
            ``InfoNCELoss(symmetric=True)``). Needs an in-batch layout.
        reduction: ``"mean"``, ``"sum"`` or ``"none"`` (per-query losses; gradients are those
            of their sum).
        argmax_budget_bytes: largest arg-max table (4 bytes per query token and candidate)
            kept between the forward and backward passes (default 256 MiB); above it the
            backward pass recomputes its tiles panel by panel.

    All attributes are readable and writable between calls. Bad values raise ``ValueError``.
    """

    temperature: float
    similarity: Literal["dot", "cosine"]
    normalize: Literal["none", "query_length"]
    symmetric: bool
    reduction: Literal["mean", "sum", "none"]
    argmax_budget_bytes: int

    config_fields: ClassVar[tuple[str, ...]]
    """The configuration's field names, in constructor order (pickling, ``repr`` and the
    torch wrappers' forwarded attributes follow it)."""
    __hash__: ClassVar[None]  # type: ignore[assignment]
    def __eq__(self, other: object, /) -> bool:
        """Same class and equal configuration."""
    def __reduce__(self) -> tuple[type[Self], tuple[Any, ...]]:
        """``(type(self), (field values in constructor order))``."""
    def __new__(
        cls,
        temperature: float = 1.0,
        similarity: Literal["dot", "cosine"] = "dot",
        normalize: Literal["none", "query_length"] = "none",
        symmetric: bool = False,
        reduction: Literal["mean", "sum", "none"] = "mean",
        argmax_budget_bytes: int = ...,
    ) -> Self: ...
    def forward(
        self,
        queries: _FloatArray,
        documents: _FloatArray,
        negatives: _FloatArray | None = None,
        *,
        query_mask: _BoolArray | None = None,
        document_mask: _BoolArray | None = None,
        negative_mask: _BoolArray | None = None,
        in_batch: bool | None = None,
    ) -> tuple[float | _FloatArray, tuple[_FloatArray, _FloatArray, _FloatArray | None]]:
        """Loss and gradients for one batch.

        Args:
            queries: ``(B, Lq, D)`` float32 or float64.
            documents: ``(B, Ld, D)``, same dtype; row ``i`` is the positive of query ``i``.
            negatives: optional ``(B, K, Ln, D)``, same dtype.
            query_mask: optional boolean ``(B, Lq)``; document_mask ``(B, Ld)``;
                negative_mask ``(B, K, Ln)``. True = real token.
            in_batch: as :meth:`InfoNCELoss.forward`: ``None`` is in-batch exactly when there
                are no negatives; ``True`` with negatives is the shared layout; ``False`` with
                negatives is per-row.

        Returns:
            ``(loss, (grad_queries, grad_documents, grad_negatives))``: the loss is a float
            (``mean``/``sum``) or a ``(B,)`` array (``none``); gradients have the inputs'
            shapes and dtype (``grad_negatives`` is None without negatives).

        Raises:
            TypeError: non-arrays, non-float or mismatched dtypes, non-boolean masks.
            ValueError: shape mismatches, NaN/Inf, rows without a real token, bad option
                combinations, a loss or gradient that overflows the dtype.
        """
    def __call__(
        self,
        queries: _FloatArray,
        documents: _FloatArray,
        negatives: _FloatArray | None = None,
        *,
        query_mask: _BoolArray | None = None,
        document_mask: _BoolArray | None = None,
        negative_mask: _BoolArray | None = None,
        in_batch: bool | None = None,
    ) -> tuple[float | _FloatArray, tuple[_FloatArray, _FloatArray, _FloatArray | None]]:
        """Same as :meth:`forward`."""
