"""The ``ruvector-train`` CLI: demo table, graph command on CSV/TSV/npz input with --out and
--plot, one-line errors with exit status 2, graph-file parsing, and the Cora quality floor."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

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
        ("sparse.csv", "0,1\n1,2000000000\n", r"GiB \(limit 16 GiB\); number the nodes 0..N-1"),
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
    assert "--out: " + str(tmp_path / "taken.npy") + " is a directory" in error_line(capsys)
    for option in ("--temperature", "--test-fraction"):
        status, _, err = run_cli(
            ["graph", str(path), option, "1.5" if "fraction" in option else "0"], capsys
        )
        assert status == 2 and f"{option}:" in one_error(err)


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


# ------------------------------------------------------------------- issue 13: CLI repros
def run_cli(args, capsys) -> tuple[int, str, str]:
    """``(exit status, stdout, stderr)`` of the CLI, whether it returns or exits."""
    try:
        status = main(args)
    except SystemExit as exit_info:
        status = exit_info.code
    captured = capsys.readouterr()
    return status, captured.out, captured.err


def one_error(err: str) -> str:
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("ruvector-train: error: "), err
    assert "Traceback" not in err
    return lines[0]


RING = "".join(f"{i},{(i + 1) % 10}\n" for i in range(10)) + "0,5\n2,7\n"


@pytest.mark.parametrize(
    ("content", "edges"),
    [
        ("\ufeff0,1\n1,2\n", [[0, 1], [1, 2]]),  # BOM, no header: the first edge is kept
        ("\ufeffsource,target\n0,1\n1,2\n", [[0, 1], [1, 2]]),  # BOM before a header
        ("id_1,id_2\n0,1\n1,2\n", [[0, 1], [1, 2]]),  # a header may contain digits
        ("source target weight\n0 1 0.5\n+1 2 1\n", [[0, 1], [1, 2]]),
    ],
)
def test_edge_list_bom_and_headers(tmp_path, content, edges):
    path = tmp_path / "e.csv"
    path.write_bytes(content.encode("utf-8"))
    data = read_graph(path)
    assert data.edges.tolist() == edges and data.num_nodes == 3


def test_labels_with_bom_keep_the_first_label(tmp_path):
    (tmp_path / "e.csv").write_text("0,1\n1,2\n")
    (tmp_path / "l.csv").write_bytes("\ufeff0,a\n1,b\n2,a\n".encode())
    data = read_graph(tmp_path / "e.csv", tmp_path / "l.csv")
    assert data.class_names == ["a", "b"] and data.labels.tolist() == [0, 1, 0]


@pytest.mark.parametrize(
    ("content", "line", "field"),
    [
        ("0.0,1.0\n1,2\n", 1, "'0.0'"),  # a numeric first line is data, not a header
        ('"0","1"\n1,2\n', 1, "'\"0\"'"),
        ("0,1\n1_0,2\n", 2, "'1_0'"),
        ("0,1\n\u0661,2\n", 2, "'\u0661'"),  # Arabic-Indic digit one
        ("0,1\n1,\uff12\n", 2, "'\uff12'"),  # fullwidth digit two
        ("0,1\n1,2.0\n", 2, "'2.0'"),
        ("0,1\n1,1e3\n", 2, "'1e3'"),
        ("id,1\n0,1\n", 1, "'id'"),  # a line with a number is not a header
        ("nan,inf\n0,1\n", 1, "'nan'"),
    ],
)
def test_edge_list_rejects_non_integer_ids(tmp_path, capsys, content, line, field):
    path = tmp_path / "bad.csv"
    path.write_bytes(content.encode("utf-8"))
    status, _, err = run_cli(["graph", str(path), *QUICK], capsys)
    assert status == 2
    message = one_error(err)
    assert f"{path}:{line}: expected a non-negative integer node id" in message
    assert message.endswith(f"got {field}")


def test_label_file_rejects_non_integer_node_ids(tmp_path, capsys):
    (tmp_path / "e.csv").write_text(RING)
    (tmp_path / "l.csv").write_text("node,label\n0,a\n1.0,b\n")
    status, _, err = run_cli(
        ["graph", str(tmp_path / "e.csv"), "--labels", str(tmp_path / "l.csv"), *QUICK], capsys
    )
    assert status == 2
    assert f"{tmp_path / 'l.csv'}:3: expected a non-negative integer node id" in one_error(err)


def test_csr_indices_must_be_integers(tmp_path, capsys):
    csr = {
        "adj_indptr": np.array([0, 1, 2]),
        "adj_indices": np.array([1.9, 0.2]),
        "adj_shape": np.array([2, 2]),
    }
    np.savez(tmp_path / "float.npz", **csr)
    status, _, err = run_cli(["graph", str(tmp_path / "float.npz"), *QUICK], capsys)
    assert status == 2
    assert "'adj_indices' must be a 1-D integer array, got dtype float64" in one_error(err)
    np.savez(tmp_path / "ptr.npz", **{**csr, "adj_indptr": np.array([0.0, 1.0, 2.0])})
    status, _, err = run_cli(["graph", str(tmp_path / "ptr.npz"), *QUICK], capsys)
    assert status == 2 and "'adj_indptr' must be a 1-D integer array" in one_error(err)
    csr["adj_indices"] = np.array([1, 0], dtype=np.uint8)
    np.savez(tmp_path / "ok.npz", **csr)
    assert read_graph(tmp_path / "ok.npz").edges.tolist() == [[0, 1], [1, 0]]


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        ("npy", r"a single \.npy array, not an \.npz archive"),
        (b"", r"cannot read as a \.npz archive \(an empty file\)"),
        ("truncated", r"cannot read as a \.npz archive"),
    ],
)
def test_npz_that_is_not_an_archive(tmp_path, capsys, content, expected):
    path = tmp_path / "g.npz"
    if content == "npy":
        np.save(tmp_path / "g.npy", np.array([[0, 1], [1, 2]]))
        os.replace(tmp_path / "g.npy", path)
    elif content == "truncated":
        np.savez(path, edges=np.arange(2000).reshape(-1, 2))
        path.write_bytes(path.read_bytes()[:300])
    else:
        path.write_bytes(content)
    status, _, err = run_cli(["graph", str(path), *QUICK], capsys)
    assert status == 2
    message = one_error(err)
    assert str(path) in message and re.search(expected, message), message


def test_labels_for_two_of_ten_nodes(tmp_path, capsys):
    (tmp_path / "e.csv").write_text(RING)
    (tmp_path / "l.csv").write_text("0,a\n1,b\n")
    status, out, err = run_cli(
        ["graph", str(tmp_path / "e.csv"), "--labels", str(tmp_path / "l.csv"), *QUICK], capsys
    )
    assert status == 2
    assert one_error(err) == (
        f"ruvector-train: error: {tmp_path / 'l.csv'}: 2 labelled node(s) in 2 class(es) of "
        "10 nodes; the probe needs a class with at least 2 labelled nodes"
    )
    assert "trained" not in out


def test_diverging_learning_rate_stops_with_a_message(tmp_path, capsys):
    (tmp_path / "e.csv").write_text(RING)
    status, out, err = run_cli(
        ["graph", str(tmp_path / "e.csv"), "--lr", "1e30", "--no-progress", "--dim", "8"], capsys
    )
    assert status == 2
    message = one_error(err)
    assert "training diverged in epoch" in message and message.endswith("(--lr 1e+30)")


@pytest.mark.parametrize(
    ("option", "value", "expected"),
    [
        ("--dim", "0", "argument --dim: expected an integer >= 1, got 0"),
        ("--epochs", "-1", "argument --epochs: expected an integer >= 1, got -1"),
        ("--epochs", "2.5", "argument --epochs: expected an integer, got '2.5'"),
        ("--batch-size", "1", "argument --batch-size: expected an integer >= 2, got 1"),
        ("--window", "0", "argument --window: expected an integer >= 1, got 0"),
        ("--window", "10**9", "argument --window: expected an integer, got '10**9'"),
        ("--window", "1000000", "argument --window: expected an integer <= 1000, got 1000000"),
        ("--negatives", "-3", "argument --negatives: expected an integer >= 0, got -3"),
        ("--seed", "-1", "argument --seed: expected an integer >= 0, got -1"),
        ("--lr", "0", "argument --lr: expected a number > 0, got 0"),
        ("--lr", "nan", "argument --lr: expected a finite number, got nan"),
        ("--temperature", "-0.1", "argument --temperature: expected a number > 0, got -0.1"),
        ("--temperature", "inf", "argument --temperature: expected a finite number, got inf"),
        ("--test-fraction", "1", "argument --test-fraction: expected a number in [0, 1), got 1"),
        ("--test-fraction", "x", "argument --test-fraction: expected a number, got 'x'"),
    ],
)
def test_bad_options_are_one_line(tmp_path, capsys, option, value, expected):
    (tmp_path / "e.csv").write_text(RING)
    status, out, err = run_cli(["graph", str(tmp_path / "e.csv"), option, value], capsys)
    assert status == 2 and out == ""
    assert one_error(err) == (
        f"ruvector-train: error: {expected} (see ruvector-train graph --help)"
    )


def test_usage_errors_are_one_line(capsys):
    status, _, err = run_cli([], capsys)
    assert status == 2 and "the following arguments are required: COMMAND" in one_error(err)
    status, _, err = run_cli(["graph"], capsys)
    assert status == 2 and "required: EDGES" in one_error(err)
    status, _, err = run_cli(["demo", "--bogus"], capsys)
    assert status == 2 and "unrecognized arguments: --bogus" in one_error(err)


def test_unreadable_inputs_are_one_line(tmp_path, capsys):
    (tmp_path / "e.csv").write_text(RING)
    cases = {
        str(tmp_path / "missing.csv"): "cannot read: No such file or directory",
        str(tmp_path / "missing.npz"): "cannot read: No such file or directory",
        str(tmp_path): "cannot read: Is a directory",
    }
    empty = tmp_path / "empty.csv"
    empty.write_text("")
    cases[str(empty)] = "no edges found"
    if os.geteuid() != 0:
        locked = tmp_path / "locked.csv"
        locked.write_text(RING)
        locked.chmod(0)
        cases[str(locked)] = "cannot read: Permission denied"
    for path, expected in cases.items():
        status, _, err = run_cli(["graph", path, *QUICK], capsys)
        assert status == 2
        assert one_error(err) == f"ruvector-train: error: {path}: {expected}"


def test_out_writes_exactly_the_given_path(tmp_path, capsys):
    (tmp_path / "e.csv").write_text(RING)
    out = tmp_path / "emb_out"
    status, stdout, _ = run_cli(
        ["graph", str(tmp_path / "e.csv"), "--out", str(out), *QUICK], capsys
    )
    assert status == 0
    assert f"float32 saved to {out}\n" in stdout
    assert sorted(os.listdir(tmp_path)) == ["e.csv", "emb_out"]
    assert np.load(out).shape == (10, 16)


def test_out_directory_is_an_error(tmp_path, capsys):
    (tmp_path / "e.csv").write_text(RING)
    status, out, err = run_cli(
        ["graph", str(tmp_path / "e.csv"), "--out", str(tmp_path), *QUICK], capsys
    )
    assert status == 2 and "trained" not in out
    assert (
        one_error(err)
        == f"ruvector-train: error: --out: {tmp_path} is a directory; give a file name"
    )
    assert sorted(os.listdir(tmp_path)) == ["e.csv"]


def test_failed_out_keeps_the_previous_file(tmp_path):
    """``--out`` under a file-size limit (``ulimit -f``): one error line, exit 2, and the
    previous embeddings file byte for byte, no temporary file."""
    (tmp_path / "e.csv").write_text(RING)
    out = tmp_path / "emb.npy"
    out.write_bytes(b"previous good embeddings")
    script = (
        "import resource, signal, sys\n"
        f"sys.path.insert(0, {str(Path(rt.__file__).resolve().parents[1])!r})\n"
        "from ruvector_training.cli import main\n"
        "signal.signal(signal.SIGXFSZ, signal.SIG_IGN)\n"
        "resource.setrlimit(resource.RLIMIT_FSIZE, (1000, resource.RLIM_INFINITY))\n"
        f"sys.exit(main(['graph', {str(tmp_path / 'e.csv')!r}, '--out', {str(out)!r}, "
        "'--no-progress', '--epochs', '2', '--dim', '256']))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 2, result.stderr
    assert one_error(result.stderr) == (
        f"ruvector-train: error: --out: cannot write {out}: File too large"
    )
    assert out.read_bytes() == b"previous good embeddings"
    assert sorted(os.listdir(tmp_path)) == ["e.csv", "emb.npy"]


def test_help_shows_defaults_and_every_flag_has_help(capsys):
    for command in ("graph", "demo"):
        status, out, _ = run_cli([command, "--help"], capsys)
        assert status == 0
        text = " ".join(out.split())
        for flag, default in (
            ("--dim", "128"),
            ("--epochs", "200"),
            ("--lr", "0.05"),
            ("--temperature", "0.3"),
            ("--batch-size", "1024"),
            ("--window", "10"),
            ("--negatives", "0"),
            ("--test-fraction", "0.1"),
            ("--seed", "0"),
        ):
            assert re.search(rf"{flag} \S+ .*?\(default: {re.escape(default)}\)", text), flag
        assert "(default: None)" not in text and "(default: False)" not in text
    parser_actions = main.__globals__["_parser"]()._subparsers._group_actions[0].choices
    for command, sub in parser_actions.items():
        for action in sub._actions:
            assert action.help, (command, action.option_strings)
    status, out, _ = run_cli(["graph", "--help"], capsys)
    assert 'pip install "ruvector-training[plot]"' in " ".join(out.split())


def test_canonical_edges_beyond_int64_keys():
    n = 2**33
    edges = rt.graph.canonical_edges(
        n, [[n - 2, n - 1], [n - 1, n - 2], [n - 1, 0], [7, 7], [5, 3]]
    )
    assert edges.dtype == np.int64
    assert edges.tolist() == [[0, n - 1], [3, 5], [n - 2, n - 1]]
    m = 3_037_000_500  # first size whose keys would overflow
    assert rt.graph.canonical_edges(m, [[m - 1, m - 2]]).tolist() == [[m - 2, m - 1]]
    assert rt.graph.canonical_edges(10, [[9, 0], [2, 1], [1, 2]]).tolist() == [[0, 9], [1, 2]]


def test_sizes_are_checked_before_allocating(tmp_path, capsys):
    (tmp_path / "e.csv").write_text(RING)
    status, _, err = run_cli(["graph", str(tmp_path / "e.csv"), "--negatives", "10"], capsys)
    assert status == 2
    assert one_error(err).endswith("--negatives: expected fewer than the 10 nodes, got 10")
    status, _, err = run_cli(["demo", "--dim", "1000000000", "--no-progress"], capsys)
    assert status == 2
    assert "demo: 1000 nodes x dim 1000000000 needs 14901 GiB" in one_error(err)


def test_interrupt_is_one_line_with_status_130(tmp_path, capsys, monkeypatch):
    (tmp_path / "e.csv").write_text(RING)

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(rt.trainer.Trainer, "fit", interrupted)
    status, _, err = run_cli(["graph", str(tmp_path / "e.csv"), *QUICK], capsys)
    assert status == 130 and err == "ruvector-train: interrupted\n"


def test_npz_class_names_and_generic_file_names_name_the_figure(tmp_path):
    """Class names stored in an .npz (Cora's) label the classes; a generic file stem such as
    ``edges`` is replaced by its folder's name in figure titles."""
    from ruvector_training.cli import _data_set_name

    data = read_graph(CORA)
    assert data.class_names[:3] == ["Case_Based", "Genetic_Algorithms", "Neural_Networks"]
    assert len(data.class_names) == 7
    assert _data_set_name(tmp_path / "facebook" / "edges.csv") == "facebook"
    assert _data_set_name(tmp_path / "cora.npz") == "cora"
    path = tmp_path / "g.npz"
    np.savez(
        path,
        edges=np.array([[0, 1], [1, 2]]),
        labels=np.array([0, 2, 2]),
        class_names=np.array(["x"]),
    )  # does not cover label 2: values are used
    assert read_graph(path).class_names == ["0", "2"]
