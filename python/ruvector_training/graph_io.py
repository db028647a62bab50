"""Reading graphs for the CLI: edge-list CSV/TSV files, CSR ``.npz`` archives, and node-label
files. Every problem is a :class:`GraphFileError` with a one-line message naming the file and,
for text files, the line."""

from __future__ import annotations

import os
import re
import zipfile
import zlib
from dataclasses import dataclass

import numpy as np

#: The largest node id accepted (ids index the rows of the embedding table).
MAX_NODE_ID = 2**31 - 2
#: Keys of a CSR adjacency archive (the layout of the Cora file in the project's data).
CSR_KEYS = ("adj_indptr", "adj_indices", "adj_shape")


class GraphFileError(ValueError):
    """A graph or label file that cannot be read or is malformed."""


@dataclass
class GraphData:
    """A graph read from a file.

    Attributes:
        num_nodes: ``max node id + 1`` (over edges and labels).
        edges: ``(E, 2)`` int64 edges as listed (not yet deduplicated).
        labels: ``(num_nodes,)`` int64 class indices, -1 for unlabelled nodes, or None.
        class_names: the original label of each class index (None without labels).
    """

    num_nodes: int
    edges: np.ndarray
    labels: np.ndarray | None = None
    class_names: list[str] | None = None


def read_graph(path, labels_path=None) -> GraphData:
    """Reads ``path``: a ``.npz`` archive (CSR ``adj_indptr``, ``adj_indices``, ``adj_shape``
    or an ``(E, 2)`` ``edges`` array, optional integer ``labels``, negative = unlabelled) or a
    delimited edge list (see :func:`read_edge_list`). ``labels_path`` (see :func:`read_labels`)
    replaces the archive's labels.

    Raises:
        GraphFileError: unreadable or malformed input.
    """
    path = os.fspath(path)
    if path.lower().endswith(".npz"):
        data = _read_npz(path)
    else:
        data = read_edge_list(path)
    if labels_path is not None:
        ids, names = read_labels(labels_path)
        num_nodes = max(data.num_nodes, int(ids.max()) + 1)
        classes, codes = _encode(names)
        labels = np.full(num_nodes, -1, dtype=np.int64)
        labels[ids] = codes
        data = GraphData(num_nodes, data.edges, labels, classes)
    return data


def read_edge_list(path) -> GraphData:
    """Reads one edge per line, ``source<delim>target`` with non-negative integer node ids.

    Node ids are plain ASCII decimal integers (``[+-]?[0-9]+``): floats (``1.0``), quoted
    numbers (``"1"``), digit separators (``1_0``) and non-ASCII digits are errors that name the
    file and line. A UTF-8 byte-order mark is ignored. The delimiter (tab, comma, semicolon or
    whitespace) is that of the first data line. The first line is a header only when none of
    its fields is a number (``source,target``, ``id_1 id_2``); any other line that does not
    hold two node ids is an error. Blank lines and lines starting with ``#`` or ``%`` are
    skipped; fields after the second (weights, ...) are ignored.
    """
    edges = []
    for number, fields in _records(path, "an edge (source, target)"):
        edges.append((_node_id(path, number, fields[0]), _node_id(path, number, fields[1])))
    if not edges:
        raise GraphFileError(f"{path}: no edges found")
    array = np.array(edges, dtype=np.int64)
    return GraphData(int(array.max()) + 1, array)


def read_labels(path) -> tuple[np.ndarray, list[str]]:
    """Reads ``node<delim>label`` lines (same rules as :func:`read_edge_list`; a label is any
    non-empty text); returns the node ids ``(L,)`` int64 and their labels as strings. A node
    listed twice is an error."""
    ids, names, seen = [], [], {}
    for number, fields in _records(path, "a label (node, label)"):
        node = _node_id(path, number, fields[0])
        if node in seen:
            raise GraphFileError(
                f"{path}:{number}: node {node} already labelled on line {seen[node]}"
            )
        seen[node] = number
        ids.append(node)
        names.append(fields[1])
    if not ids:
        raise GraphFileError(f"{path}: no labels found")
    return np.array(ids, dtype=np.int64), names


def _records(path, what: str):
    """Yields ``(line number, fields)`` of the data lines of a delimited text file."""
    try:
        with open(path, encoding="utf-8-sig") as handle:
            lines = handle.read().splitlines()
    except UnicodeDecodeError as error:
        raise GraphFileError(f"{path}: not a UTF-8 text file ({error.reason})") from None
    except OSError as error:
        raise GraphFileError(f"{path}: cannot read: {error.strerror or error}") from None
    delimiter = None
    first = True
    for number, line in enumerate(lines, 1):
        text = line.strip()
        if not text or text[0] in "#%":
            continue
        if first:
            delimiter = next((d for d in ("\t", ",", ";") if d in text), None)
        fields = [field.strip() for field in text.split(delimiter)]
        if len(fields) < 2 or not fields[1]:
            raise GraphFileError(
                f"{path}:{number}: expected {what} separated by "
                f"{_describe(delimiter)}, got {text[:60]!r}"
            )
        if first:
            first = False
            if not any(_looks_numeric(field) for field in fields):
                continue  # a header line: no field is a number
        yield number, fields


def _read_npz(path) -> GraphData:
    try:
        with open(path, "rb") as handle:
            head = handle.read(6)
    except OSError as error:
        raise GraphFileError(f"{path}: cannot read: {error.strerror or error}") from None
    if head.startswith(b"\x93NUMPY"):
        raise GraphFileError(
            f"{path}: a single .npy array, not an .npz archive (save the graph with "
            "numpy.savez(path, edges=...) or as CSR adj_indptr/adj_indices/adj_shape)"
        )
    if not head.startswith((b"PK\x03\x04", b"PK\x05\x06")):
        what = "an empty file" if not head else "not a zip archive"
        raise GraphFileError(f"{path}: cannot read as a .npz archive ({what})")
    try:
        with np.load(path, allow_pickle=False) as archive:
            files = set(archive.files)
            keys = (*CSR_KEYS, "edges", "labels", "class_names")
            arrays = {key: archive[key] for key in keys if key in files}
    except (ValueError, OSError, EOFError, KeyError, zipfile.BadZipFile, zlib.error) as error:
        reason = error.strerror if isinstance(error, OSError) and error.strerror else error
        raise GraphFileError(f"{path}: cannot read as a .npz archive: {reason}") from None
    for key, value in arrays.items():
        if not isinstance(value, np.ndarray):
            raise GraphFileError(f"{path}: {key!r} is not a NumPy array")
    if set(CSR_KEYS) <= files:
        for key in CSR_KEYS:
            if arrays[key].dtype.kind not in "iu" or arrays[key].ndim != 1:
                raise GraphFileError(
                    f"{path}: {key!r} must be a 1-D integer array, got dtype "
                    f"{arrays[key].dtype} and shape {arrays[key].shape}"
                )
        indptr = arrays["adj_indptr"].astype(np.int64)
        indices = arrays["adj_indices"].astype(np.int64)
        shape = arrays["adj_shape"]
        if len(shape) != 2 or shape.min() < 0 or shape.max() > MAX_NODE_ID + 1:
            raise GraphFileError(f"{path}: adj_shape must be two sizes in [0, {MAX_NODE_ID + 1}]")
        if len(indptr) != int(shape[0]) + 1:
            raise GraphFileError(f"{path}: adj_indptr does not match adj_shape")
        if indptr[0] != 0 or indptr[-1] != len(indices) or np.any(np.diff(indptr) < 0):
            raise GraphFileError(f"{path}: adj_indptr is not a valid CSR row pointer")
        num_nodes = int(max(shape[0], shape[1]))
        rows = np.repeat(np.arange(int(shape[0])), np.diff(indptr))
        edges = np.stack([rows, indices], axis=1)
    elif "edges" in files:
        edges = arrays["edges"]
        if edges.dtype.kind not in "iu" or edges.ndim != 2 or edges.shape[1] != 2:
            raise GraphFileError(f"{path}: 'edges' must be an (E, 2) integer array")
        if edges.size and edges.max() > MAX_NODE_ID:
            raise GraphFileError(
                f"{path}: node id {edges.max()} is above {MAX_NODE_ID}; number nodes 0..N-1"
            )
        edges = edges.astype(np.int64)
        num_nodes = int(edges.max(initial=-1)) + 1
    else:
        raise GraphFileError(
            f"{path}: expected CSR arrays {', '.join(CSR_KEYS)} or an 'edges' array, "
            f"found {sorted(files)}"
        )
    labels = arrays.get("labels")
    if len(edges) == 0:
        raise GraphFileError(f"{path}: no edges found")
    if edges.min() < 0 or edges.max() >= num_nodes:
        raise GraphFileError(f"{path}: node indices outside [0, {num_nodes})")
    classes = None
    if labels is not None:
        if labels.ndim != 1 or len(labels) != num_nodes:
            raise GraphFileError(f"{path}: 'labels' must have one entry per node ({num_nodes})")
        if labels.dtype.kind not in "iub":
            raise GraphFileError(f"{path}: 'labels' must be integers, got dtype {labels.dtype}")
        known = labels >= 0
        values = np.unique(labels[known])
        classes = _class_names(arrays.get("class_names"), values)
        codes = np.full(num_nodes, -1, dtype=np.int64)
        codes[known] = np.searchsorted(values, labels[known])
        labels = codes
    return GraphData(num_nodes, edges, labels, classes)


def _class_names(names: np.ndarray | None, values: np.ndarray) -> list[str]:
    """The names of the label values ``values``: an archive's 1-D string ``class_names``
    array indexed by label when it covers every value, else the values themselves."""
    if (
        names is not None
        and names.ndim == 1
        and names.dtype.kind in "US"
        and (len(values) == 0 or (values.min() >= 0 and values.max() < len(names)))
    ):
        return [str(names[v]) for v in values.tolist()]
    return [str(v) for v in values.tolist()]


def _encode(names: list[str]) -> tuple[list[str], np.ndarray]:
    """Class names (numeric order when all are integers, else sorted) and codes."""
    unique = sorted(set(names), key=lambda v: (0, int(v), "") if _is_int(v) else (1, 0, v))
    index = {name: i for i, name in enumerate(unique)}
    return unique, np.array([index[name] for name in names], dtype=np.int64)


def _node_id(path, number: int, field: str) -> int:
    if not _is_int(field) or int(field) < 0:
        raise GraphFileError(
            f"{path}:{number}: expected a non-negative integer node id (ASCII digits), "
            f"got {field[:40]!r}"
        )
    if int(field) > MAX_NODE_ID:
        raise GraphFileError(
            f"{path}:{number}: node id {field} is above {MAX_NODE_ID}; number nodes 0..N-1"
        )
    return int(field)


#: A plain decimal integer: what a node id must be (``int()`` also takes ``1_0`` and
#: non-ASCII digits, which are refused).
_INTEGER = re.compile(r"[+-]?[0-9]+")
#: Anything a number could be written as (after removing quotes): a field like this makes the
#: first line data, not a header.
_NUMERIC = re.compile(
    r"[+-]?(\d[\d_]*(\.[\d_]*)?|\.\d[\d_]*)(e[+-]?\d+)?|[+-]?(nan|inf(inity)?)", re.IGNORECASE
)


def _is_int(text: str) -> bool:
    return _INTEGER.fullmatch(text) is not None


def _looks_numeric(field: str) -> bool:
    """Whether ``field`` is a number in any spelling (quoted, float, ``1_0``, non-ASCII
    digits, ``nan``)."""
    return _NUMERIC.fullmatch(field.strip().strip("\"'").strip()) is not None


def _describe(delimiter) -> str:
    return {"\t": "a tab", ",": "a comma", ";": "a semicolon"}.get(delimiter, "whitespace")
