"""Trainer epoch time on the Facebook page graph (22,470 nodes, 170,823 edges), this tree against
a baseline tree (for example main's build) in the same run.

Each round runs one child process per tree, alternating, so both sides see the same machine
load; a child builds a ``Trainer`` on ``datasets.load_facebook()``, runs one warm-up epoch and
then times ``--epochs`` epochs. Two settings: the defaults (InfoNCE only), and with the local
and spectral graph terms on (``LossWeights(local=0.1, spectral=0.01)``), where the trainer's
graph reaches the Rust losses on every batch.

    python benches/trainer_epoch.py --baseline /path/to/other/python [--rounds 3 --epochs 2]

``--baseline`` is the ``python/`` folder of the other tree (its ``_core`` extension built).
Prints the median epoch seconds per tree and setting and the ratio baseline / this tree.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys

CHILD = r"""
import json, sys, time
import ruvector_training as rt

graph_terms, epochs = sys.argv[1] == "1", int(sys.argv[2])
data = rt.datasets.load_facebook()
weights = rt.LossWeights(infonce=1.0, local=0.1, spectral=0.01, reconstruction=0.0)
config = rt.TrainerConfig(seed=0, **({"loss_weights": weights} if graph_terms else {}))
trainer = rt.Trainer(data.num_nodes, data.edges, config)
trainer.train_epoch()
times = []
for _ in range(epochs):
    start = time.perf_counter()
    trainer.train_epoch()
    times.append(time.perf_counter() - start)
print(json.dumps(times))
"""

HERE = os.path.join(os.path.dirname(os.path.abspath(__file__)), os.pardir, "python")


def run(python_dir: str, graph_terms: bool, epochs: int) -> list[float]:
    env = dict(os.environ, PYTHONPATH=os.path.abspath(python_dir))
    out = subprocess.run(
        [sys.executable, "-c", CHILD, "1" if graph_terms else "0", str(epochs)],
        env=env,
        check=True,
        capture_output=True,
        text=True,
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--baseline", required=True, help="python/ folder of the baseline tree")
    parser.add_argument("--rounds", type=int, default=3, help="alternating rounds")
    parser.add_argument("--epochs", type=int, default=2, help="timed epochs per child")
    args = parser.parse_args()
    trees = {"baseline": args.baseline, "this tree": HERE}
    for graph_terms in (False, True):
        times: dict[str, list[float]] = {name: [] for name in trees}
        for _ in range(args.rounds):
            for name, path in trees.items():
                times[name] += run(path, graph_terms, args.epochs)
        label = "InfoNCE + local + spectral" if graph_terms else "defaults (InfoNCE)"
        medians = {name: statistics.median(values) for name, values in times.items()}
        print(
            f"{label}: baseline {medians['baseline']:.3f} s/epoch, this tree "
            f"{medians['this tree']:.3f} s/epoch, ratio "
            f"{medians['baseline'] / medians['this tree']:.2f}x "
            f"({len(times['baseline'])} epochs each)"
        )


if __name__ == "__main__":
    main()
