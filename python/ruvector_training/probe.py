"""Node-classification accuracy with a linear probe: scikit-learn's ``LogisticRegression`` on a
stratified split, so the figure is the one anyone computes from the saved embeddings::

    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import train_test_split

    x, y = embeddings[labels >= 0], labels[labels >= 0]  # see below for single-row classes
    x_train, x_test, y_train, y_test = train_test_split(
        x, y, train_size=0.5, stratify=y, random_state=seed
    )
    LogisticRegression(max_iter=1000).fit(x_train, y_train).score(x_test, y_test)

(with ``labels >= 0`` further restricted to classes that have at least two labelled rows: a
stratified split cannot place a single row in both parts, and scikit-learn refuses it). The
embeddings are used as they are (no normalisation or standardisation) and the classifier
keeps scikit-learn's defaults (L2 penalty, ``C=1``, lbfgs) except ``max_iter``, raised so that
lbfgs runs to convergence (trained node embeddings converge in well under 100 iterations; if it
does not, scikit-learn's ``ConvergenceWarning`` is shown, not hidden).
"""

from __future__ import annotations

import numpy as np

#: The probe's iteration cap, high enough for lbfgs to converge (scikit-learn's default is 100).
MAX_ITER = 1000


def stratified_split(
    labels: np.ndarray, train_fraction: float = 0.5, seed: int = 0
) -> tuple[np.ndarray, np.ndarray]:
    """Indices ``(train, test)`` (int64, in scikit-learn's shuffled order) of a stratified split
    of the labelled entries of ``labels`` ``(N,)``: exactly
    ``train_test_split(labelled, train_size=train_fraction, stratify=labels[labelled],
    random_state=seed)`` where ``labelled`` are the indices (ascending) of the entries with a
    label >= 0 whose class has at least two such entries (a class with one labelled entry cannot
    be in both parts; it is left out of both).

    Raises:
        TypeError: non-integer labels.
        ValueError: ``labels`` not 1-D, ``train_fraction`` outside ``(0, 1)``, no class with two
            labelled entries, or a split scikit-learn refuses (for example fewer training or
            test entries than classes; the message says why).
    """
    from sklearn.model_selection import train_test_split

    if not 0.0 < train_fraction < 1.0:
        raise ValueError(f"train_fraction: expected a number in (0, 1), got {train_fraction}")
    labels = np.asarray(labels)
    if labels.ndim != 1:
        raise ValueError(f"labels: expected shape (N,), got {labels.shape}")
    if labels.dtype.kind not in "iu":
        raise TypeError(f"labels: expected integer class labels, got dtype {labels.dtype}")
    labelled = np.flatnonzero(labels >= 0)
    if len(labelled) == 0:
        raise ValueError("labels: no labelled entries (all are negative)")
    classes, counts = np.unique(labels[labelled], return_counts=True)
    if (counts < 2).any():
        labelled = labelled[np.isin(labels[labelled], classes[counts >= 2])]
        if len(labelled) == 0:
            raise ValueError("labels: no class has two or more labelled entries")
    try:
        train, test = train_test_split(
            labelled, train_size=train_fraction, stratify=labels[labelled], random_state=seed
        )
    except ValueError as error:
        raise ValueError(f"labels: cannot make a stratified split: {error}") from None
    return train, test


def probe_accuracy(
    embeddings: np.ndarray, labels: np.ndarray, train_fraction: float = 0.5, seed: int = 0
) -> float:
    """Test accuracy of scikit-learn's ``LogisticRegression(max_iter=MAX_ITER)`` (otherwise
    default: L2, ``C=1``, lbfgs) fitted on the training part of :func:`stratified_split` of the
    labelled rows of ``embeddings`` ``(N, D)`` (float, used as they are) and scored on the rest.

    Args:
        embeddings: ``(N, D)`` float array.
        labels: ``(N,)`` integer class labels, negative for unlabelled rows.
        train_fraction: the fraction of the labelled rows to train on.
        seed: ``random_state`` of the split (the lbfgs fit itself is deterministic).

    Returns:
        The fraction of test rows classified correctly, a float in ``[0, 1]``.

    Raises:
        ValueError: ``embeddings`` not ``(N, D)`` with N = ``len(labels)``, fewer than two
            classes to tell apart, or see :func:`stratified_split`.
    """
    from sklearn.linear_model import LogisticRegression

    embeddings = np.asarray(embeddings)
    labels = np.asarray(labels)
    if embeddings.ndim != 2 or embeddings.shape[0] != labels.shape[0]:
        raise ValueError(
            f"embeddings: expected shape ({labels.shape[0]}, D) to match labels, "
            f"got {embeddings.shape}"
        )
    train, test = stratified_split(labels, train_fraction, seed)
    if len(np.unique(labels[train])) < 2:
        raise ValueError("labels: the probe needs two or more classes with 2+ labelled entries")
    classifier = LogisticRegression(max_iter=MAX_ITER).fit(embeddings[train], labels[train])
    return float(classifier.score(embeddings[test], labels[test]))
