"""``mine_hard_negatives``: sentence-transformers' hard-negative mining on the Rust
:func:`ruvector_training.topk` kernel (streaming GEMM tiles into per-query bounded heaps, no
``Q x M`` score matrix, identical results on any thread count)."""

from __future__ import annotations

import math
from collections import Counter
from typing import Any

import numpy as np

import ruvector_training as rt

__all__ = ["mine_hard_negatives", "mining_corpus"]

_FORMATS = ("triplet", "n-tuple", "labeled-pair", "labeled-list")


def _columns(dataset: Any, anchor_column_name: str | None, positive_column_name: str | None):
    """The anchor and positive column names, defaulting as sentence-transformers does (the
    first and second columns when the name is missing or not a column)."""
    columns = list(dataset.column_names)
    if not anchor_column_name or anchor_column_name not in columns:
        anchor_column_name = columns[0]
    if not positive_column_name or positive_column_name not in columns:
        if len(columns) < 2:
            raise ValueError("dataset: needs at least two columns (anchor, positive)")
        positive_column_name = columns[1]
    return anchor_column_name, positive_column_name


def mining_corpus(
    dataset: Any,
    positive_column_name: str | None = None,
    corpus: list[str] | None = None,
    *,
    anchor_column_name: str | None = None,
) -> list[str]:
    """The texts negatives are mined from, in the order ``corpus_embeddings`` must follow:
    the distinct texts of ``corpus`` then those of the positive column not already in it, each
    at its first appearance (sentence-transformers' rule ``dict.fromkeys(corpus + positives)``;
    without ``corpus``, the distinct positives)."""
    _, positive_column_name = _columns(dataset, anchor_column_name, positive_column_name)
    positives = list(dataset[positive_column_name])
    return list(dict.fromkeys((positives if corpus is None else list(corpus)) + positives))


def _unit(x: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(x, axis=1, keepdims=True)
    return x / np.maximum(norms, 1e-12)


def _embeddings(name: str, value: Any, rows: int) -> np.ndarray:
    array = np.asarray(value)
    if array.dtype not in (np.float32, np.float64):
        array = array.astype(np.float32)
    if array.ndim != 2 or array.shape[0] != rows:
        raise ValueError(f"{name}: expected shape ({rows}, D), got {array.shape}")
    if not np.isfinite(array).all():
        raise ValueError(f"{name}: contains NaN or infinity")
    return np.ascontiguousarray(array)


def _encode(model: Any, texts: list[str], batch_size: int, kind: str) -> np.ndarray:
    method = getattr(model, f"encode_{kind}", None) or model.encode
    return np.asarray(
        method(
            texts,
            batch_size=batch_size,
            normalize_embeddings=True,
            convert_to_numpy=True,
            show_progress_bar=False,
        )
    )


def mine_hard_negatives(
    dataset: Any,
    model: Any = None,
    *,
    anchor_embeddings: Any = None,
    corpus_embeddings: Any = None,
    anchor_column_name: str | None = None,
    positive_column_name: str | None = None,
    corpus: list[str] | None = None,
    num_negatives: int = 3,
    range_min: int = 0,
    range_max: int | None = None,
    max_score: float | None = None,
    min_score: float | None = None,
    absolute_margin: float | None = None,
    relative_margin: float | None = None,
    sampling_strategy: str = "top",
    include_positives: bool = False,
    output_format: str = "triplet",
    output_scores: bool = False,
    batch_size: int = 32,
    seed: int = 0,
):
    """Hard negatives for each (anchor, positive) row of ``dataset``, as
    ``sentence_transformers.util.mine_hard_negatives`` computes them, returned as a new
    ``datasets.Dataset``.

    Every anchor (distinct texts, first appearance) is scored by cosine similarity against the
    mining corpus (:func:`mining_corpus`: ``corpus`` then the positives, distinct). The
    ``range_max + max_positives`` most similar corpus texts form its window (``max_positives``:
    the largest number of rows sharing one anchor); the anchor's own positives are removed from
    it (unless ``include_positives``), then every candidate failing a filter:
    ``score + absolute_margin > min positive score``,
    ``score > p - |p| * relative_margin`` (``p`` that minimum), ``score > max_score``,
    ``score < min_score``. Of the rest (by descending score) ranks ``range_min`` to
    ``range_max`` are kept and ``num_negatives`` taken: the first (``"top"``) or a uniform
    sample (``"random"``, drawn with ``seed``, then sorted by score).

    Args:
        dataset: a ``datasets.Dataset`` with anchor and positive text columns.
        model: a ``SentenceTransformer`` (``encode_query`` / ``encode_document``, normalised)
            used when embeddings are not given; ``batch_size`` is its encoding batch size.
        anchor_embeddings: ``(len(dataset), D)``, one row per dataset row (a repeated anchor
            uses its first row's embedding).
        corpus_embeddings: ``(len(mining_corpus(...)), D)``, one row per mining-corpus text.
        anchor_column_name, positive_column_name: default to the first and second columns.
        corpus: extra texts to mine from, besides the positives.
        num_negatives: negatives per anchor (>= 1).
        range_min, range_max: the rank window (``range_max`` default: ``range_min +
            num_negatives + max_positives``, or ``range_min + 10 * num_negatives +
            max_positives`` when a margin or ``max_score`` is set).
        max_score, min_score, absolute_margin, relative_margin: the filters above.
        sampling_strategy: ``"top"`` or ``"random"``.
        include_positives: keep the positives among the candidates (forces ``"n-tuple"``).
        output_format: ``"triplet"`` (anchor, positive, negative), ``"n-tuple"`` (anchor,
            positive, negative_1..negative_k; rows lacking k negatives are dropped),
            ``"labeled-pair"`` (anchor, text, label 1/0) or ``"labeled-list"`` (anchor,
            [positive, negatives...], labels [1, 0, ...]), with column names as in
            sentence-transformers.
        output_scores: add the similarity scores (``scores``, or ``score`` for labeled pairs)
            instead of labels.
        seed: seed of ``"random"``.

    Differences from sentence-transformers: no cross-encoder rescoring, prompts, FAISS or
    cache folder; ``"random"`` draws its own (seeded) sample; nothing is printed. Ties in score
    are broken by the lower corpus index.
    """
    from datasets import Dataset

    if len(dataset) == 0:
        raise ValueError("dataset: is empty")
    anchor_col, positive_col = _columns(dataset, anchor_column_name, positive_column_name)
    if output_format not in _FORMATS:
        raise ValueError(f"output_format: expected one of {_FORMATS}, got {output_format!r}")
    if sampling_strategy not in ("top", "random"):
        raise ValueError(
            f"sampling_strategy: expected 'top' or 'random', got {sampling_strategy!r}"
        )
    if isinstance(num_negatives, bool) or not isinstance(num_negatives, int) or num_negatives < 1:
        raise ValueError(f"num_negatives: expected an int >= 1, got {num_negatives!r}")
    for name, value in (
        ("max_score", max_score),
        ("min_score", min_score),
        ("absolute_margin", absolute_margin),
        ("relative_margin", relative_margin),
    ):
        if value is not None and not math.isfinite(value):
            raise ValueError(f"{name}: expected a finite float or None, got {value!r}")
    if include_positives:
        output_format = "n-tuple"

    anchors = list(dataset[anchor_col])
    positives = list(dataset[positive_col])
    max_positives = max(Counter(anchors).values())
    margin_set = absolute_margin is not None or relative_margin is not None
    if range_max is None:
        extra = 10 * num_negatives if margin_set or max_score is not None else num_negatives
        range_max = range_min + extra + max_positives
    if range_min < 0:
        raise ValueError(f"range_min: expected >= 0, got {range_min}")
    if range_min >= range_max:
        raise ValueError(
            f"range_min: must be smaller than range_max, got {range_min} and {range_max}"
        )
    if num_negatives > range_max - range_min:
        raise ValueError(
            f"num_negatives: {num_negatives} exceeds the {range_max - range_min} ranks between "
            f"range_min={range_min} and range_max={range_max}"
        )

    texts = mining_corpus(dataset, positive_col, corpus, anchor_column_name=anchor_col)
    corpus_idx = {text: i for i, text in enumerate(texts)}
    first_row: dict[str, int] = {}
    for row, text in enumerate(anchors):
        first_row.setdefault(text, row)
    queries = list(first_row)

    if anchor_embeddings is None or corpus_embeddings is None:
        if model is None:
            raise ValueError(
                "model: needed unless anchor_embeddings and corpus_embeddings are given"
            )
    if corpus_embeddings is None:
        corpus_embeddings = _encode(model, texts, batch_size, "document")
    c = _embeddings("corpus_embeddings", corpus_embeddings, len(texts))
    if anchor_embeddings is None:
        q = _embeddings(
            "anchor embeddings", _encode(model, queries, batch_size, "query"), len(queries)
        )
    else:
        a = _embeddings("anchor_embeddings", anchor_embeddings, len(anchors))
        q = a[[first_row[t] for t in queries]]
    if q.shape[1] != c.shape[1] or q.dtype != c.dtype:
        c = c.astype(q.dtype)
        if q.shape[1] != c.shape[1]:
            raise ValueError(
                f"corpus_embeddings: D={c.shape[1]} differs from the anchors' D={q.shape[1]}"
            )

    window = range_max + max_positives
    scores, indices = rt.topk(q, c, window, similarity="cosine")
    scores = scores.astype(np.float64 if q.dtype == np.float64 else np.float32)

    query_idx = {text: i for i, text in enumerate(queries)}
    positive_indices: list[list[int]] = [[] for _ in queries]
    for anchor, positive in zip(anchors, positives):
        pos = positive_indices[query_idx[anchor]]
        if corpus_idx[positive] not in pos:
            pos.append(corpus_idx[positive])
    pair_query = np.array([i for i, pos in enumerate(positive_indices) for _ in pos])
    pair_doc = np.array([p for pos in positive_indices for p in pos])
    qn, cn = _unit(q), _unit(c)
    positive_scores = np.einsum("ij,ij->i", qn[pair_query], cn[pair_doc]).astype(scores.dtype)

    scores[indices < 0] = -np.inf
    if not include_positives:
        for i, pos in enumerate(positive_indices):
            scores[i, np.isin(indices[i], pos)] = -np.inf
    if margin_set:
        min_positive = np.full(len(queries), np.inf, dtype=scores.dtype)
        np.minimum.at(min_positive, pair_query, positive_scores)
        if absolute_margin is not None:
            scores[scores + absolute_margin > min_positive[:, None]] = -np.inf
        if relative_margin is not None:
            threshold = min_positive - np.abs(min_positive) * relative_margin
            scores[scores > threshold[:, None]] = -np.inf
    if max_score is not None:
        scores[scores > max_score] = -np.inf
    if min_score is not None:
        scores[scores < min_score] = -np.inf

    # The window is sorted by descending score: a stable sort moves the removed (-inf) entries
    # behind the kept ones without reordering either.
    order = np.argsort(-scores, axis=1, kind="stable")[:, :range_max]
    neg_scores = np.take_along_axis(scores, order, axis=1)[:, range_min:]
    neg_indices = np.take_along_axis(indices, order, axis=1)[:, range_min:]
    if sampling_strategy == "top":
        neg_scores, neg_indices = neg_scores[:, :num_negatives], neg_indices[:, :num_negatives]
    else:
        rng = np.random.default_rng(seed)
        options = np.maximum(np.isfinite(neg_scores).sum(axis=1), num_negatives)
        picks = np.stack([rng.choice(n, size=num_negatives, replace=False) for n in options])
        neg_scores = np.take_along_axis(neg_scores, picks, axis=1)
        neg_indices = np.take_along_axis(neg_indices, picks, axis=1)
        resort = np.argsort(-neg_scores, axis=1, kind="stable")
        neg_scores = np.take_along_axis(neg_scores, resort, axis=1)
        neg_indices = np.take_along_axis(neg_indices, resort, axis=1)
    kept = np.isfinite(neg_scores)

    data: dict[str, list] = {anchor_col: [], positive_col: []}
    pair = 0
    if output_format == "triplet":
        data["negative"] = []
        if output_scores:
            data["scores"] = []
        for i, pos in enumerate(positive_indices):
            for p in pos:
                for j in np.flatnonzero(kept[i]):
                    data[anchor_col].append(queries[i])
                    data[positive_col].append(texts[p])
                    data["negative"].append(texts[neg_indices[i, j]])
                    if output_scores:
                        data["scores"].append(
                            [float(positive_scores[pair]), float(neg_scores[i, j])]
                        )
                pair += 1
    elif output_format == "labeled-pair":
        data["score" if output_scores else "label"] = []
        target = data["score" if output_scores else "label"]
        for i, pos in enumerate(positive_indices):
            for p in pos:
                data[anchor_col].append(queries[i])
                data[positive_col].append(texts[p])
                target.append(float(positive_scores[pair]) if output_scores else 1)
                pair += 1
            for j in np.flatnonzero(kept[i]):
                data[anchor_col].append(queries[i])
                data[positive_col].append(texts[neg_indices[i, j]])
                target.append(float(neg_scores[i, j]) if output_scores else 0)
    elif output_format == "n-tuple":
        negatives: list[list[str]] = [[] for _ in range(num_negatives)]
        all_scores = []
        for i, pos in enumerate(positive_indices):
            for p in pos:
                if kept[i].all():
                    data[anchor_col].append(queries[i])
                    data[positive_col].append(texts[p])
                    for j in range(num_negatives):
                        negatives[j].append(texts[neg_indices[i, j]])
                    all_scores.append([float(positive_scores[pair]), *map(float, neg_scores[i])])
                pair += 1
        for j in range(num_negatives):
            data[f"negative_{j + 1}"] = negatives[j]
        if output_scores:
            data["scores"] = all_scores
    else:  # labeled-list
        lists, targets = [], []
        for i, pos in enumerate(positive_indices):
            for p in pos:
                if kept[i].any():
                    js = np.flatnonzero(kept[i])
                    data[anchor_col].append(queries[i])
                    lists.append([texts[p], *(texts[neg_indices[i, j]] for j in js)])
                    if output_scores:
                        targets.append(
                            [float(positive_scores[pair]), *(float(neg_scores[i, j]) for j in js)]
                        )
                    else:
                        targets.append([1] + [0] * len(js))
                pair += 1
        data[positive_col] = lists
        data["scores" if output_scores else "labels"] = targets
    return Dataset.from_dict(data)
