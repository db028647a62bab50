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
from ruvector_training.callbacks import Evaluation
from ruvector_training.evaluation import evaluate_embeddings, split_edges
from ruvector_training.graph import Graph
from ruvector_training.graph_io import GraphFileError, read_graph
from ruvector_training.probe import probe_accuracy
from ruvector_training.synthetic import planted_partition
from ruvector_training.trainer import Trainer
from ruvector_training.trainer_config import TrainerConfig

PROG = "ruvector-train"
#: The demo graph: 5 planted blocks of 200 nodes (synthetic, fixed seed).
DEMO_GRAPH = {"num_blocks": 5, "block_size": 200, "p_in": 0.08, "p_out": 0.002}
#: Refuse graphs whose float32 table, gradient and optimizer state exceed this (16 GiB).
MAX_TABLE_BYTES = 16 * 2**30
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
    return 0


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=PROG, description="Contrastive node embeddings with ruvector-training."
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
    )
    graph.add_argument("edges", metavar="EDGES", help="edge list (.csv/.tsv/.txt) or .npz")
    graph.add_argument("--labels", metavar="LABELS", help="node,label file (header optional)")
    graph.add_argument("--out", metavar="EMB.npy", help="save the embeddings (float32 .npy)")
    graph.add_argument("--plot", metavar="CURVE.png", help="save loss curves and a 2-D PCA")
    _training_options(graph)
    return parser


def _training_options(parser: argparse.ArgumentParser) -> None:
    defaults = TrainerConfig()
    parser.add_argument("--dim", type=int, default=defaults.dim, help="embedding dimension")
    parser.add_argument("--epochs", type=int, default=defaults.epochs)
    parser.add_argument("--seed", type=int, default=0, help="seeds the split and the training")
    parser.add_argument("--window", type=int, default=defaults.window, help="random-walk window")
    parser.add_argument("--temperature", type=float, default=defaults.temperature)
    parser.add_argument("--lr", type=float, default=defaults.lr)
    parser.add_argument("--batch-size", type=int, default=defaults.batch_size)
    parser.add_argument(
        "--negatives",
        type=int,
        default=defaults.num_negatives,
        help="hard negatives mined per anchor each epoch (0: in-batch negatives only)",
    )
    parser.add_argument(
        "--test-fraction",
        type=float,
        default=0.1,
        help="fraction of edges held out for evaluation (0: train on all edges, no link metrics)",
    )
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")


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
    _run(args, Graph(len(labels), edges), labels)


def _graph(args) -> None:
    for option, path in (("--out", args.out), ("--plot", args.plot)):
        if path is not None:
            folder = os.path.dirname(os.path.abspath(path))
            if not os.path.isdir(folder):
                raise CliError(f"{option}: directory {folder} does not exist")
    if args.plot is not None:
        from ruvector_training.plot import require_matplotlib

        try:
            require_matplotlib()
        except ImportError as error:
            raise CliError(f"--plot: {error}") from None
    data = read_graph(args.edges, args.labels)
    table_bytes = 4 * data.num_nodes * max(args.dim, 1) * 4  # parameters, gradient, AdamW state
    if table_bytes > MAX_TABLE_BYTES:
        raise CliError(
            f"{args.edges}: {data.num_nodes} nodes (largest id + 1) x dim {args.dim} needs "
            f"{table_bytes / 2**30:.0f} GiB; number the nodes 0..N-1 or lower --dim"
        )
    graph = Graph(data.num_nodes, data.edges)
    if graph.num_edges == 0:
        raise CliError(f"{args.edges}: the graph has no edges besides self-loops")
    print(
        f"graph {args.edges}: {graph.num_nodes} nodes, {graph.num_edges} undirected edges", end=""
    )
    print("" if data.class_names is None else f", {len(data.class_names)} classes")
    trainer = _run(args, graph, data.labels)
    if args.out is not None:
        try:
            np.save(args.out, trainer.embeddings().astype(np.float32))
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
                name=Path(args.edges).stem,
                class_names=data.class_names,
                seed=args.seed,
            )
        except OSError as error:
            raise CliError(f"--plot: cannot write {args.plot}: {error.strerror or error}") from None
        print(f"plot saved to {args.plot}")


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
    trainer = Trainer(graph.num_nodes, train.edges, config)
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
