"""The ``ruvector-train`` CLI: demo table, graph command on CSV/TSV/npz input with --out and
--plot, one-line errors with exit status 2, graph-file parsing, and the Cora quality floor."""

from __future__ import annotations

import os
import re
import subprocess
import sys

import numpy as np
import pytest
import ruvector_training as rt
from ruvector_training import datasets
from ruvector_training.cli import main
from ruvector_training.graph_io import GraphFileError, read_graph
from ruvector_training.synthetic import planted_partition

CORA = datasets.data_path("cora.npz")  # shipped with the package
QUICK = ["--no-progress", "--epochs", "20", "--dim", "16"]


def table(output: str) -> dict[str, tuple[float, float]]:
    """``{metric title: (before, after)}`` parsed from the CLI's table."""
    rows = re.findall(r"^(\S.*?)\s+(\d\.\d{4})\s+(\d\.\d{4})$", output, flags=re.M)
    return {title: (float(before), float(after)) for title, before, after in rows}


def error_line(capsys) -> str:
    """The captured stderr, checked to be exactly one error line."""
    err = capsys.readouterr().err
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("ruvector-train: error: ")
    return lines[0]


def test_demo_as_module_prints_before_after_table():
    env = {**os.environ, "OPENBLAS_NUM_THREADS": "1"}
    result = subprocess.run(
        [sys.executable, "-m", "ruvector_training", "demo", "--no-progress"],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert "synthetic planted-partition graph" in result.stdout
    rows = table(result.stdout)
    assert set(rows) == {"link-prediction AUC", "neighbour MRR@10", "probe accuracy"}
    auc_before, auc_after = rows["link-prediction AUC"]
    assert auc_after > auc_before + 0.2
    assert rows["probe accuracy"][1] >= 0.9


def test_version(capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["--version"])
    assert exit_info.value.code == 0
    assert capsys.readouterr().out.strip() == f"ruvector-train {rt.__version__}"


@pytest.fixture
def small_graph(tmp_path):
    """A two-community CSV edge list with a header, and a labels TSV without one."""
    edges, labels = planted_partition(2, 30, p_in=0.3, p_out=0.02, seed=1)
    path = tmp_path / "edges.csv"
    path.write_text("source,target\n" + "".join(f"{a},{b}\n" for a, b in edges))
    label_path = tmp_path / "labels.tsv"
    label_path.write_text("".join(f"{i}\tclass{c}\n" for i, c in enumerate(labels)))
    return path, label_path, edges, labels


def test_graph_command_with_out_and_plot(small_graph, tmp_path, capsys):
    path, label_path, _, labels = small_graph
    out = tmp_path / "emb.npy"
    args = ["graph", str(path), "--labels", str(label_path), "--out", str(out), *QUICK]
    has_plot = True
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        has_plot = False
    if has_plot:
        args += ["--plot", str(tmp_path / "curve.png")]
    assert main(args) == 0
    output = capsys.readouterr().out
    assert "60 nodes" in output and "2 classes" in output
    assert set(table(output)) == {"link-prediction AUC", "neighbour MRR@10", "probe accuracy"}
    embeddings = np.load(out)
    assert embeddings.shape == (60, 16) and embeddings.dtype == np.float32
    if has_plot:
        assert (tmp_path / "curve.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_graph_npz_without_held_out_edges(tmp_path, capsys):
    edges, labels = planted_partition(2, 30, p_in=0.3, p_out=0.02, seed=2)
    path = tmp_path / "g.npz"
    np.savez(path, edges=edges, labels=labels)
    assert main(["graph", str(path), "--test-fraction", "0", *QUICK]) == 0
    rows = table(capsys.readouterr().out)
    assert set(rows) == {"probe accuracy"}


def test_plot_without_matplotlib(small_graph, tmp_path, capsys, monkeypatch):
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    path = small_graph[0]
    assert main(["graph", str(path), "--plot", str(tmp_path / "p.png"), *QUICK]) == 2
    assert "matplotlib" in error_line(capsys)


@pytest.mark.parametrize(
    ("name", "content", "expected"),
    [
        ("bad.csv", "a,b\n0,1\n1,x\n", r"bad\.csv:3: expected a non-negative integer node id"),
        ("bad.tsv", "0\t1\n2\n", r"bad\.tsv:2: expected an edge \(source, target\)"),
        ("neg.csv", "0,1\n-1,2\n", r"neg\.csv:2: expected a non-negative integer node id"),
        ("empty.csv", "# nothing\n\n", r"empty\.csv: no edges found"),
        ("huge.csv", "0,1\n1,99999999999\n", r"huge\.csv:2: node id 99999999999 is above"),
        ("sparse.csv", "0,1\n1,2000000000\n", "GiB; number the nodes 0..N-1"),
        ("loops.csv", "0,0\n1,1\n", "no edges besides self-loops"),
        ("binary.csv", b"\xff\xfe\x00\x81", "not a UTF-8 text file"),
        ("junk.npz", b"not a zip archive", "cannot read as a .npz archive"),
    ],
)
def test_bad_files_give_one_line_and_status_2(tmp_path, capsys, name, content, expected):
    path = tmp_path / name
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content)
    assert main(["graph", str(path), *QUICK]) == 2
    assert re.search(expected, error_line(capsys))


def test_bad_npz_layouts(tmp_path, capsys):
    cases = {
        "nokeys.npz": {"x": np.zeros(3)},
        "badcsr.npz": {
            "adj_indptr": np.array([0, 2, 1]),
            "adj_indices": np.array([1, 0]),
            "adj_shape": np.array([2, 2]),
        },
        "labels.npz": {"edges": np.array([[0, 1], [1, 2]]), "labels": np.array([0, 1])},
        "float.npz": {"edges": np.array([[0.0, 1.0]])},
    }
    messages = {
        "nokeys.npz": "expected CSR arrays",
        "badcsr.npz": "not a valid CSR row pointer",
        "labels.npz": "one entry per node",
        "float.npz": "integer array",
    }
    for name, arrays in cases.items():
        np.savez(tmp_path / name, **arrays)
        assert main(["graph", str(tmp_path / name), *QUICK]) == 2
        assert messages[name] in error_line(capsys)


def test_missing_files_and_bad_options(small_graph, tmp_path, capsys):
    path, label_path, _, _ = small_graph
    assert main(["graph", str(tmp_path / "missing.csv"), *QUICK]) == 2
    assert "cannot read" in error_line(capsys)
    bad_labels = tmp_path / "labels.csv"
    bad_labels.write_text("id,label\n0,a\n0,b\n")
    assert main(["graph", str(path), "--labels", str(bad_labels), *QUICK]) == 2
    assert "labels.csv:3: node 0 already labelled on line 2" in error_line(capsys)
    assert main(["graph", str(path), "--out", str(tmp_path / "no" / "e.npy"), *QUICK]) == 2
    assert "--out: directory" in error_line(capsys)
    (tmp_path / "taken.npy").mkdir()
    assert main(["graph", str(path), "--out", str(tmp_path / "taken.npy"), *QUICK]) == 2
    assert "--out: cannot write" in error_line(capsys)
    assert main(["graph", str(path), "--temperature", "0", *QUICK]) == 2
    assert "--temperature:" in error_line(capsys)
    assert main(["graph", str(path), "--test-fraction", "1.5", *QUICK]) == 2
    assert "--test-fraction" in error_line(capsys)


def test_read_graph_formats(tmp_path):
    lines = {
        "a.tsv": "# comment\nsrc\tdst\n0\t1\n1\t2\t0.5\n",
        "b.txt": "0 1\n\n1   2\n",
        "c.csv": "0;1\n1;2\n",
    }
    for name, text in lines.items():
        (tmp_path / name).write_text(text)
        data = read_graph(tmp_path / name)
        assert data.num_nodes == 3 and data.labels is None
        assert data.edges.tolist() == [[0, 1], [1, 2]]
    (tmp_path / "l.csv").write_text("id,target\n2,10\n0,9\n")
    data = read_graph(tmp_path / "c.csv", tmp_path / "l.csv")
    assert data.class_names == ["9", "10"]
    assert data.labels.tolist() == [0, -1, 1]
    np.savez(tmp_path / "g.npz", edges=np.array([[0, 1], [1, 2]]), labels=np.array([5, -1, 2]))
    data = read_graph(tmp_path / "g.npz")
    assert data.class_names == ["2", "5"] and data.labels.tolist() == [1, -1, 0]
    with pytest.raises(GraphFileError, match=r"x\.csv:1: expected an edge"):
        (tmp_path / "x.csv").write_text("0\n")
        read_graph(tmp_path / "x.csv")


def test_cora_quality_floor(capsys):
    """``ruvector-train graph cora.npz`` at its defaults (structure only) clears the floor."""
    assert main(["graph", str(CORA), "--no-progress"]) == 0
    rows = table(capsys.readouterr().out)
    assert rows["link-prediction AUC"][1] >= 0.88
    assert rows["probe accuracy"][1] >= 0.76
