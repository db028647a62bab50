"""The ``ruvector-train`` command (also ``python -m ruvector_training``).

- ``ruvector-train demo``: trains node embeddings on a synthetic planted-partition graph and
  prints link-prediction AUC, neighbour-retrieval MRR@10 and probe accuracy before and after.
- ``ruvector-train graph EDGES [--labels LABELS] ...``: the same on a user's graph (edge-list
  CSV/TSV or CSR ``.npz``), optionally saving the embeddings and a plot.

Bad input files and bad options print one ``ruvector-train: error: ...`` line and exit with
status 2.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import numpy as np

from ruvector_training import _core
from ruvector_training._atomic import atomic_write
from ruvector_training.callbacks import Evaluation
from ruvector_training.evaluation import evaluate_embeddings, split_edges
from ruvector_training.graph import Graph, canonical_edges
from ruvector_training.graph_io import GraphFileError, read_graph
from ruvector_training.probe import probe_accuracy, stratified_split
from ruvector_training.synthetic import planted_partition
from ruvector_training.trainer import Trainer, TrainingDivergedError
from ruvector_training.trainer_config import TrainerConfig

PROG = "ruvector-train"
#: The demo graph: 5 planted blocks of 200 nodes (synthetic, fixed seed).
DEMO_GRAPH = {"num_blocks": 5, "block_size": 200, "p_in": 0.08, "p_out": 0.002}
#: Refuse graphs whose float32 table, gradient and optimizer state exceed this (16 GiB).
MAX_TABLE_BYTES = 16 * 2**30
#: The longest random walk --window allows (a walk takes up to this many steps per anchor).
MAX_WINDOW = 1000
#: With --plot, held-out AUC and MRR@10 are evaluated about this many times during training.
PLOT_EVALUATIONS = 20
ROWS = (
    ("auc", "link-prediction AUC"),
    ("mrr@10", "neighbour MRR@10"),
    ("accuracy", "probe accuracy"),
)


class CliError(Exception):
    """A problem reported as one error line with exit status 2."""


def main(argv=None) -> int:
    """Runs the CLI on ``argv`` (default ``sys.argv[1:]``); returns the exit status."""
    parser = _parser()
    args = parser.parse_args(argv)
    try:
        if args.command == "demo":
            _demo(args)
        else:
            _graph(args)
    except (CliError, GraphFileError) as error:
        print(f"{PROG}: error: {error}", file=sys.stderr)
        return 2
    except TrainingDivergedError as error:
        print(f"{PROG}: error: {error} (--lr {args.lr:g})", file=sys.stderr)
        return 2
    except MemoryError as error:
        detail = f": {error}" if str(error) else ""
        print(f"{PROG}: error: out of memory{detail}; lower --dim", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"{PROG}: interrupted", file=sys.stderr)
        return 130
    return 0


class _Parser(argparse.ArgumentParser):
    """An argument parser whose usage errors are one ``ruvector-train: error: ...`` line
    (exit status 2) that points to ``--help``."""

    def error(self, message: str):
        command = self.prog.removeprefix(PROG).strip()
        where = f"{PROG} {command} --help" if command else f"{PROG} --help"
        self.exit(2, f"{PROG}: error: {message} (see {where})\n")


class _HelpFormatter(argparse.ArgumentDefaultsHelpFormatter):
    """Shows ``(default: ...)`` after an option's help unless there is no default value."""

    def _get_help_string(self, action) -> str:
        if action.default is None or action.default is False or action.default == argparse.SUPPRESS:
            return action.help or ""
        return super()._get_help_string(action) or ""


def _integer(minimum: int, maximum: int | None = None):
    """An argparse type: an integer >= ``minimum`` (and <= ``maximum``)."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected an integer, got {text!r}") from None
        if value < minimum:
            raise argparse.ArgumentTypeError(f"expected an integer >= {minimum}, got {value}")
        if maximum is not None and value > maximum:
            raise argparse.ArgumentTypeError(f"expected an integer <= {maximum}, got {value}")
        return value

    parse.__name__ = "integer"
    return parse


def _number(low: float, high: float | None = None):
    """An argparse type: a finite number > ``low`` (``low`` itself allowed when ``high`` is
    given: ``[low, high)``)."""

    def parse(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
        if not np.isfinite(value):
            raise argparse.ArgumentTypeError(f"expected a finite number, got {text}")
        if high is None and value <= low:
            raise argparse.ArgumentTypeError(f"expected a number > {low:g}, got {text}")
        if high is not None and not low <= value < high:
            raise argparse.ArgumentTypeError(
                f"expected a number in [{low:g}, {high:g}), got {text}"
            )
        return value

    parse.__name__ = "number"
    return parse


def _parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog=PROG,
        description="Contrastive node embeddings with ruvector-training.",
        formatter_class=_HelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"{PROG} {_core.__version__}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    demo = commands.add_parser(
        "demo",
        help="train on a synthetic planted-partition graph and print before/after metrics",
        description="Generates a planted-partition graph (stochastic block model, synthetic, "
        "fixed seed: 1000 nodes in 5 blocks, p_in 0.08, p_out 0.002), trains node embeddings "
        "with the default TrainerConfig and prints link-prediction AUC on held-out edges, "
        "neighbour-retrieval MRR@10 and logistic-probe accuracy before and after training.",
        formatter_class=_HelpFormatter,
    )
    _training_options(demo)
    graph = commands.add_parser(
        "graph",
        help="train node embeddings on an edge list or CSR .npz and evaluate them",
        description="Trains node embeddings on EDGES (an edge-list CSV/TSV with integer node "
        "ids, header optional, or a CSR .npz with adj_indptr/adj_indices/adj_shape and optional "
        "labels). Holds out a fraction of the edges plus as many sampled non-edges for "
        "link-prediction AUC and MRR@10; with labels, reports the accuracy of a logistic "
        "probe on a 50/50 stratified split.",
        formatter_class=_HelpFormatter,
    )
    graph.add_argument(
        "edges",
        metavar="EDGES",
        help="the graph: a text edge list (.csv/.tsv/.txt: one 'source,target' pair of "
        "non-negative integer node ids per line; tab, comma, semicolon or space separated; "
        "an optional non-numeric header line; '#' comments) or a .npz archive (CSR "
        "adj_indptr/adj_indices/adj_shape, or an (E, 2) integer 'edges' array; optional "
        "integer 'labels', negative = unlabelled)",
    )
    graph.add_argument(
        "--labels",
        metavar="LABELS",
        help="node labels for the probe-accuracy metric: a text file of 'node,label' lines "
        "(any label text; header optional); replaces labels stored in a .npz. Needs at "
        "least one class with two labelled nodes",
    )
    graph.add_argument(
        "--out",
        metavar="EMB.npy",
        help="save the trained embeddings, a (nodes, dim) float32 NumPy array, to exactly "
        "this file (written atomically; no suffix is added); its folder must exist",
    )
    graph.add_argument(
        "--plot",
        metavar="CURVE.png",
        help="save a PNG with the loss curves, held-out AUC and MRR@10 and a 2-D map of the "
        "embeddings coloured by label (UMAP with umap-learn, else PCA); needs matplotlib: "
        'pip install "ruvector-training[plot]"',
    )
    _training_options(graph)
    return parser


def _training_options(parser: argparse.ArgumentParser) -> None:
    defaults = TrainerConfig()
    parser.add_argument(
        "--dim",
        metavar="N",
        type=_integer(1),
        default=defaults.dim,
        help="embedding dimension (>= 1)",
    )
    parser.add_argument(
        "--epochs",
        metavar="N",
        type=_integer(1),
        default=defaults.epochs,
        help="training epochs (>= 1); each epoch uses every node with an edge once as an anchor",
    )
    parser.add_argument(
        "--seed",
        metavar="SEED",
        type=_integer(0),
        default=0,
        help="random seed (>= 0) of the edge split, the initialisation and the training",
    )
    parser.add_argument(
        "--window",
        metavar="W",
        type=_integer(1, MAX_WINDOW),
        default=defaults.window,
        help=f"random-walk window (1..{MAX_WINDOW}): a node's positive is where a walk of "
        "1..window steps from it ends (1: a neighbour)",
    )
    parser.add_argument(
        "--temperature",
        metavar="T",
        type=_number(0.0),
        default=defaults.temperature,
        help="InfoNCE temperature (> 0); lower values weight the hardest negatives more",
    )
    parser.add_argument(
        "--lr",
        metavar="LR",
        type=_number(0.0),
        default=defaults.lr,
        help="peak learning rate of AdamW (> 0), decayed to 0 by a cosine schedule; training "
        "stops with an error if it diverges (NaN/Inf)",
    )
    parser.add_argument(
        "--batch-size",
        metavar="B",
        type=_integer(2),
        default=defaults.batch_size,
        help="anchors per optimizer step (>= 2); the batch's other positives are negatives",
    )
    parser.add_argument(
        "--negatives",
        metavar="K",
        type=_integer(0),
        default=defaults.num_negatives,
        help="hard negatives mined per anchor each epoch (>= 0; 0: in-batch negatives only)",
    )
    parser.add_argument(
        "--test-fraction",
        metavar="F",
        type=_number(0.0, 1.0),
        default=0.1,
        help="fraction of edges held out for evaluation, in [0, 1) (0: train on all edges, "
        "no link metrics)",
    )
    parser.add_argument(
        "--no-progress", action="store_true", help="do not show the progress bar (on stderr)"
    )


def _config(args) -> TrainerConfig:
    try:
        return TrainerConfig(
            dim=args.dim,
            epochs=args.epochs,
            window=args.window,
            temperature=args.temperature,
            lr=args.lr,
            batch_size=args.batch_size,
            num_negatives=args.negatives,
            seed=args.seed,
        )
    except (TypeError, ValueError) as error:
        name, _, message = str(error).partition(": ")
        option = {"num_negatives": "negatives"}.get(name, name).replace("_", "-")
        raise CliError(f"--{option}: {message}") from None


def _demo(args) -> None:
    edges, labels = planted_partition(**DEMO_GRAPH, seed=args.seed)
    print(
        f"demo: synthetic planted-partition graph (stochastic block model, seed {args.seed}): "
        f"{len(labels)} nodes in {DEMO_GRAPH['num_blocks']} blocks, p_in {DEMO_GRAPH['p_in']}, "
        f"p_out {DEMO_GRAPH['p_out']}"
    )
    _check_size(args, len(labels), f"demo: {len(labels)} nodes")
    _run(args, Graph(len(labels), edges), labels)


def _check_size(args, num_nodes: int, what: str) -> None:
    """Refuses a table that would not fit (parameters, gradient and AdamW state) and more
    mined negatives than there are nodes, before anything is allocated."""
    table_bytes = 4 * num_nodes * args.dim * 4
    if table_bytes > MAX_TABLE_BYTES:
        raise CliError(
            f"{what} x dim {args.dim} needs {table_bytes / 2**30:.0f} GiB (limit "
            f"{MAX_TABLE_BYTES / 2**30:.0f} GiB); number the nodes 0..N-1 or lower --dim"
        )
    if args.negatives >= num_nodes:
        raise CliError(
            f"--negatives: expected fewer than the {num_nodes} nodes, got {args.negatives}"
        )


def _graph(args) -> None:
    for option, path in (("--out", args.out), ("--plot", args.plot)):
        if path is not None:
            if os.path.isdir(path):
                raise CliError(f"{option}: {path} is a directory; give a file name")
            folder = os.path.dirname(os.path.abspath(path))
            if not os.path.isdir(folder):
                raise CliError(f"{option}: directory {folder} does not exist")
            if not os.access(folder, os.W_OK | os.X_OK):
                raise CliError(f"{option}: directory {folder} is not writable")
    if args.plot is not None:
        from ruvector_training.plot import require_matplotlib

        try:
            require_matplotlib()
        except ImportError as error:
            raise CliError(f"--plot: {error}") from None
    data = read_graph(args.edges, args.labels)
    _check_size(args, data.num_nodes, f"{args.edges}: {data.num_nodes} nodes (largest id + 1)")
    # A file lists an edge set: both directions of a pair (a CSR file lists both) and repeats
    # are one edge, self-loops none.
    graph = Graph(data.num_nodes, canonical_edges(data.num_nodes, data.edges))
    if graph.num_edges == 0:
        raise CliError(f"{args.edges}: the graph has no edges besides self-loops")
    if data.labels is not None:
        _check_probe_labels(args.labels or args.edges, data.labels, args.seed)
    print(
        f"graph {args.edges}: {graph.num_nodes} nodes, {graph.num_edges} undirected edges", end=""
    )
    print("" if data.class_names is None else f", {len(data.class_names)} classes")
    trainer = _run(args, graph, data.labels)
    if args.out is not None:
        embeddings = trainer.embeddings().astype(np.float32)
        try:
            atomic_write(args.out, lambda handle: np.save(handle, embeddings))
        except OSError as error:
            raise CliError(f"--out: cannot write {args.out}: {error.strerror or error}") from None
        print(f"embeddings ({graph.num_nodes}, {trainer.config.dim}) float32 saved to {args.out}")
    if args.plot is not None:
        from ruvector_training.plot import plot_training

        try:
            plot_training(
                args.plot,
                trainer.history,
                trainer.embeddings(),
                data.labels,
                name=_data_set_name(args.edges),
                class_names=data.class_names,
                seed=args.seed,
            )
        except OSError as error:
            raise CliError(f"--plot: cannot write {args.plot}: {error.strerror or error}") from None
        print(f"plot saved to {args.plot}")


#: File stems too generic to name a data set; the folder's name is used instead.
GENERIC_STEMS = {"edges", "edge_list", "edgelist", "graph", "adjacency", "data", "network"}


def _data_set_name(path) -> str:
    """The name a figure shows for ``path``: its stem (``cora.npz`` -> ``cora``), or its
    folder's name when the stem is generic (``facebook/edges.csv`` -> ``facebook``)."""
    path = Path(path)
    if path.stem.lower() in GENERIC_STEMS and path.resolve().parent.name:
        return path.resolve().parent.name
    return path.stem


def _check_probe_labels(source, labels: np.ndarray, seed: int) -> None:
    """Refuses labels the probe cannot use (it trains on half of each class and tests on the
    rest, so some class needs two labelled nodes)."""
    try:
        train, test = stratified_split(labels, 0.5, seed)
        usable = len(train) > 0 and len(test) > 0
    except ValueError:  # no class with two labelled nodes
        usable = False
    if not usable:
        labelled = int((labels >= 0).sum())
        classes = len(np.unique(labels[labels >= 0]))
        raise CliError(
            f"{source}: {labelled} labelled node(s) in {classes} class(es) of {len(labels)} "
            "nodes; the probe needs a class with at least 2 labelled nodes"
        )


def _run(args, graph: Graph, labels) -> Trainer:
    """Splits, trains, evaluates before and after, prints the table; returns the trainer."""
    config = _config(args)
    if not 0.0 <= args.test_fraction < 1.0:
        raise CliError(f"--test-fraction: expected a number in [0, 1), got {args.test_fraction}")
    split = None
    if args.test_fraction > 0:
        try:
            split = split_edges(graph, args.test_fraction, seed=args.seed)
        except ValueError as error:
            raise CliError(str(error)) from None
        train = split.train
        print(
            f"held out {len(split.test_edges)} edges + {len(split.test_non_edges)} sampled "
            "non-edges for evaluation"
        )
    else:
        train = graph
    if labels is not None:
        labelled = int((np.asarray(labels) >= 0).sum())
        print(
            f"probe: logistic regression on a 50/50 stratified split of {labelled} labelled nodes"
        )
    trainer = Trainer(train, config=config)
    before = _evaluate(trainer.embeddings(), split, labels, args.seed)
    callbacks, evaluation_seconds = [], [0.0]
    if getattr(args, "plot", None) is not None and split is not None:
        # Held-out AUC and MRR@10 about 20 times over training, for the plot's curve.
        def held_out(embeddings):
            begin = time.perf_counter()
            scores = evaluate_embeddings(embeddings, split)
            evaluation_seconds[0] += time.perf_counter() - begin
            return scores

        every = max(1, config.epochs // PLOT_EVALUATIONS)
        callbacks.append(Evaluation(held_out, every=every))
    start = time.perf_counter()
    trainer.fit(callbacks=callbacks, progress=not args.no_progress)
    seconds = time.perf_counter() - start - evaluation_seconds[0]
    after = _evaluate(trainer.embeddings(), split, labels, args.seed)
    print(f"trained {trainer.epoch} epochs in {seconds:.1f} s (dim {config.dim})", end="")
    if callbacks:
        print(f", plus {evaluation_seconds[0]:.1f} s of held-out evaluation for --plot", end="")
    print("\n")
    print(f"{'metric':<22}{'before':>8}{'after':>8}")
    for key, title in ROWS:
        if key in after:
            print(f"{title:<22}{before[key]:>8.4f}{after[key]:>8.4f}")
    if not after:
        print("(nothing to evaluate: no held-out edges and no labels)")
    return trainer


def _evaluate(embeddings, split, labels, seed: int) -> dict[str, float]:
    try:
        if split is not None:
            return evaluate_embeddings(embeddings, split, labels, seed)
        if labels is None:
            return {}
        return {"accuracy": probe_accuracy(embeddings, labels, 0.5, seed)}
    except ValueError as error:  # labels the probe cannot split (checked before training)
        raise CliError(str(error)) from None


if __name__ == "__main__":
    sys.exit(main())
