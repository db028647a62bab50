"""``python -m ruvector_training``: print the version and a one-batch InfoNCE example."""

from __future__ import annotations

import numpy as np

import ruvector_training as rt


def main() -> None:
    """Runs InfoNCE (in-batch, cosine, tau 0.07) on one random float32 batch and prints the
    loss and the gradient norm of each input."""
    print(f"ruvector-training {rt.__version__}")
    rng = np.random.default_rng(0)
    batch, dim = 256, 384
    anchors = rng.standard_normal((batch, dim), dtype=np.float32)
    positives = anchors + 1.5 * rng.standard_normal((batch, dim), dtype=np.float32)
    loss_fn = rt.InfoNCELoss(temperature=0.07)
    loss, (grad_anchors, grad_positives, _) = loss_fn(anchors, positives)
    print(f"{loss_fn!r}")
    print(f"batch of {batch} pairs, dim {dim}, float32, in-batch negatives")
    print(f"loss                 {loss:.6f}  (chance level ln(B) = {np.log(batch):.6f})")
    print(f"||grad anchors||     {np.linalg.norm(grad_anchors):.6f}")
    print(f"||grad positives||   {np.linalg.norm(grad_positives):.6f}")


if __name__ == "__main__":
    main()
