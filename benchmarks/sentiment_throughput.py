"""Training throughput of our sentiment pipeline against the keras-io IMDB BiLSTM recipe.

Peer recipe ("Bidirectional LSTM on IMDB", keras-io), written from its description:
    texts as integer ids (here: the same vocabulary as ours), left-padded and
    left-truncated to 200 tokens with ``keras.utils.pad_sequences(maxlen=200)``
    (made from our ids, which keep the first ``max_length`` tokens);
    ``Input((None,), int) -> Embedding(V, 128) -> Bidirectional(LSTM(64,
    return_sequences=True)) -> Bidirectional(LSTM(64)) -> Dense(1, sigmoid)``;
    Adam (default learning rate), binary cross-entropy, batch size 32, no mask.

Ours (what a user of ``apps/sentiment`` runs), at the same model size:
    ``SentimentConfig(embeddings="", embedding_dim=128, units=64, num_layers=2,
    bidirectional=True)`` (learnt embeddings like the peer's; every other field
    at its default: dropout 0.2, head dropout 0.3, learning rate 3e-3,
    clipnorm 1.0, batch 32, 8 length buckets, max_length 400; ``epochs`` and ``patience`` are set to
    ``1 + --epochs`` so every run trains exactly that many epochs), trained
    with ``Runner(SentimentApp()).fit`` on the raw training texts: it holds
    out ``validation_fraction`` for validation, fits the vocabulary on the
    rest, builds the core model (Embedding with ``mask_zero``) and trains it
    on bucketed batches padded only to their own longest text, with the
    standard callbacks every run has (early stopping, history, backups,
    checkpoint, TensorBoard, TerminateOnNaN); the epoch timer rides along as
    an extra callback. Scoring goes through the returned serving model
    (``Runner.predict_outputs``: raw strings, ``TrimPadding``) with the weights
    of the last epoch, as the peer's (the fit's early stopping would restore
    its best epoch; the benchmark puts the last epoch's weights back first).
    The weights start from the repeat's seed, as the peer's: ``Runner.fit``
    seeds with ``config.seed``, which also fixes the split, so the benchmark
    reseeds in the app's ``hypermodel`` hook (a subclass of ``SentimentApp``)
    and the split stays the same for every repeat.

The peer's ids: the benchmark replicates our split (``stratified_split`` of
the training texts' class indices with ``(validation_fraction,)`` and the
config's seed, as ``SentimentApp.prepare`` does) and fits its own vectorizer
with ``make_vectorizer`` on that training split, with the config's
``max_tokens`` and ``max_length``; every ours run checks that the vocabulary
inside its trained model (``model.get_layer("vectorizer")``) is the same and
that it trained on as many examples, so both recipes see exactly the same
train / validation / test texts and ids.

Protocol (one process, one machine)
    1. Split each corpus once, stratified: 15% held-out test; the fit takes
       10% of the rest for validation. Both recipes train on exactly the
       same training texts, with the same vocabulary (fitted on them only).
    2. Run the recipes alternately, ``--repeats`` times (A B A B ...). Each run
       builds a fresh model (same seed for both recipes within a repeat) and
       trains ``1 + --epochs`` epochs: the first is warm-up (graph tracing,
       caches) and is not timed; each later epoch is timed from its start to
       the start of its validation pass, so only training is measured.
    3. Throughput = training examples / epoch seconds. Reported: the median
       over all timed epochs of all repeats per recipe, and the ratio
       ours / peer of the medians.
    4. Accuracy: after the same ``1 + --epochs`` epochs, each run is scored
       once on the held-out test split; reported as the mean over repeats.

Corpora
    ``shipped``: the project's ``data/sentiment/reviews.tsv`` (short sentences);
    ``uci``: UCI yelp + amazon labelled sentences (read in place, never copied);
    ``long``: a SYNTHETIC length profile closer to IMDB: "reviews" made by
    joining 8-30 random sentences of the shipped corpus, labelled by the
    majority of their sentences (ties dropped). Each review leans one way:
    its sentences come from its leaning class with probability
    ``--long-tilt`` (0.75), as real reviews mostly do; with 0.5 the majority
    is nearly even and neither recipe beats chance in 4 epochs. The sentence
    pool is split into train/test pools first, so no sentence appears on
    both sides.

With ``--ours-len200`` (default: on for ``long``) a third recipe runs: ours
with ``max_length=200``, reading the same number of tokens as the peer (ours
keeps the first 200, the peer the last 200).

Example::

    .venv/bin/python benchmarks/sentiment_throughput.py
    .venv/bin/python benchmarks/sentiment_throughput.py --corpora shipped --repeats 1 --epochs 1
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import statistics
import sys
import time
from pathlib import Path
from typing import Any

os.environ.setdefault("RNNT_VERBOSE", "0")

sys.path[:0] = [str(Path(__file__).resolve().parents[1]), str(Path(__file__).resolve().parent)]

import numpy as np  # noqa: E402

import rnn_templates  # noqa: E402,F401  (TensorFlow set up as in the apps: quiet, oneDNN off)

# isort: split
from bench_common import (  # noqa: E402
    REPO_ROOT,
    RESULTS,
    UCI_FILES,
    UCI_FOLDER,
    machine_info,
    read_uci,
    write_text_atomic,
)

CORPORA = ("shipped", "uci", "long")
PEER_MAXLEN = 200
PEER_VOCAB_RECIPE = 20000  # the recipe's max_features
DEFAULT_OUTPUT = RESULTS / "sentiment_throughput"


# --- data -----------------------------------------------------------------------------


@dataclasses.dataclass
class Corpus:
    name: str
    description: str
    train_texts: np.ndarray  # str, object dtype
    train_labels: np.ndarray  # str class names
    test_texts: np.ndarray
    test_labels: np.ndarray


def _split(texts: np.ndarray, labels: np.ndarray, seed: int):
    from sklearn.model_selection import train_test_split

    return train_test_split(texts, labels, test_size=0.15, stratify=labels, random_state=seed)


def load_shipped(path: Path, seed: int) -> Corpus:
    from apps.sentiment import data as data_io

    data = data_io.read_labelled_table(path, "tsv", "text", "label")
    tr_x, te_x, tr_y, te_y = _split(data.texts, data.labels, seed)
    description = f"{path.name}: the project's corpus, short sentences"
    return Corpus("shipped", description, tr_x, tr_y, te_x, te_y)


def load_uci(folder: Path, seed: int) -> Corpus:
    texts, labels = read_uci(folder, UCI_FILES)
    tr_x, te_x, tr_y, te_y = _split(texts, labels.astype(str).astype(object), seed)
    return Corpus("uci", "UCI yelp + amazon labelled sentences", tr_x, tr_y, te_x, te_y)


def _compose(
    pool_x, pool_y, count: int, rng: np.random.Generator, low: int, high: int, tilt: float
):
    """``count`` reviews of low..high pool sentences, labelled by their majority.

    Each review first draws a leaning (either class, evenly); each of its
    sentences then comes from that class with probability ``tilt`` and from
    the other class otherwise. ``tilt=0.5`` draws sentences uniformly at random.
    """
    classes = sorted(set(pool_y.tolist()))
    if len(classes) != 2:
        sys.exit(f"the long-review corpus needs two classes; the pool has {classes}")
    by_class = [np.flatnonzero(pool_y == c) for c in classes]
    texts, labels = [], []
    while len(texts) < count:
        size = int(rng.integers(low, high + 1))
        leaning = int(rng.integers(2))
        from_leaning = int((rng.random(size) < tilt).sum())
        picks = np.concatenate([
            rng.choice(by_class[leaning], size=from_leaning, replace=False),
            rng.choice(by_class[1 - leaning], size=size - from_leaning, replace=False),
        ])
        rng.shuffle(picks)
        positive = int((pool_y[picks] == classes[1]).sum())
        if 2 * positive == len(picks):
            continue  # a tie has no majority: drop it
        texts.append(" ".join(str(t) for t in pool_x[picks]))
        labels.append(classes[1] if 2 * positive > len(picks) else classes[0])
    return np.array(texts, dtype=object), np.array(labels, dtype=object)


def load_long(path: Path, seed: int, train_count: int, test_count: int, tilt: float) -> Corpus:
    from apps.sentiment import data as data_io

    data = data_io.read_labelled_table(path, "tsv", "text", "label")
    pool_tr_x, pool_te_x, pool_tr_y, pool_te_y = _split(data.texts, data.labels, seed)
    rng = np.random.default_rng(seed)
    tr_x, tr_y = _compose(pool_tr_x, pool_tr_y, train_count, rng, 8, 30, tilt)
    te_x, te_y = _compose(pool_te_x, pool_te_y, test_count, rng, 8, 30, tilt)
    return Corpus(
        "long",
        f"SYNTHETIC: 8-30 random sentences of {path.name} per review (each from the "
        f"review's leaning class with probability {tilt}), labelled by the majority of its "
        "sentences, ties dropped; train/test reviews built from disjoint sentence pools",
        tr_x, tr_y, te_x, te_y,
    )


def token_counts(texts: np.ndarray) -> np.ndarray:
    """Tokens per text as TextVectorization counts them (default standardize + split)."""
    import keras
    import tensorflow as tf

    vectorizer = keras.layers.TextVectorization(output_mode="int", ragged=True)
    vectorizer.adapt(tf.constant(["x"]))  # the counts do not depend on the vocabulary
    ragged = vectorizer(tf.constant(texts.astype(str)))
    return ragged.row_lengths().numpy()


def length_profile(corpus: Corpus) -> dict[str, Any]:
    counts = token_counts(np.concatenate([corpus.train_texts, corpus.test_texts]))
    return {
        "texts": int(len(counts)),
        "train": int(len(corpus.train_texts)),
        "test": int(len(corpus.test_texts)),
        "tokens_mean": round(float(counts.mean()), 1),
        "tokens_median": float(np.median(counts)),
        "tokens_p90": float(np.percentile(counts, 90)),
        "tokens_min": int(counts.min()),
        "tokens_max": int(counts.max()),
        "share_over_200_tokens": round(float((counts > PEER_MAXLEN).mean()), 4),
        "share_over_400_tokens": round(float((counts > 400).mean()), 4),
        "positive_share": round(float(np.mean(np.concatenate(
            [corpus.train_labels, corpus.test_labels]) == sorted(set(corpus.train_labels))[1])), 4),
    }


# --- timing ---------------------------------------------------------------------------


def _timer_callback(keep_last_weights: bool = False):
    """An ``EpochTimer``; with ``keep_last_weights``, also the weights after each epoch."""
    import keras

    class EpochTimer(keras.callbacks.Callback):
        """Seconds of each epoch's training part (validation excluded).

        Also the cores it kept busy: process CPU time over wall time. On this
        2-core machine an epoch runs either near 2 (both cores) or near 1, and
        that alone halves or doubles its throughput.
        """

        def __init__(self, keep_last_weights: bool = False):
            super().__init__()
            self.seconds: list[float] = []
            self.cores: list[float] = []
            self.val_accuracy: list[float] = []
            self.keep_last_weights = keep_last_weights
            self.last_weights = None
            self._start = None

        def on_epoch_begin(self, epoch, logs=None):
            self._start = time.perf_counter()
            self._cpu = time.process_time()

        def _stop(self):
            if self._start is not None:
                wall = time.perf_counter() - self._start
                self.seconds.append(wall)
                self.cores.append((time.process_time() - self._cpu) / wall)
                self._start = None

        def on_test_begin(self, logs=None):  # fit's validation pass starts here
            self._stop()

        def on_epoch_end(self, epoch, logs=None):
            self._stop()
            if logs and "val_accuracy" in logs:
                self.val_accuracy.append(float(logs["val_accuracy"]))
            if self.keep_last_weights:  # untimed: after the validation pass
                self.last_weights = self.model.get_weights()

    return EpochTimer(keep_last_weights)


# --- recipes --------------------------------------------------------------------------


def ours_config(overrides: list[str], epochs: int, max_length: int | None = None):
    """Ours at the peer's size; ``1 + epochs`` epochs with a patience that never stops them."""
    from apps.sentiment.config import SentimentConfig
    from rnn_templates.config import load_config

    # Learnt 128-d embeddings like the peer's (the app's default starts from 50-d GloVe).
    base = ["embeddings=", "embedding_dim=128", "units=64", "num_layers=2", "bidirectional=true",
            "cell=lstm"]
    if max_length is not None:
        base.append(f"max_length={max_length}")
    config = load_config(SentimentConfig, None, base + list(overrides))
    return dataclasses.replace(config, epochs=1 + epochs, patience=1 + epochs)


@dataclasses.dataclass
class Splits:
    """The texts, class indices and ids of our split, replicated for the peer."""

    class_names: list[str]
    texts: dict[str, np.ndarray]  # "train", "validation", "test"
    labels: dict[str, np.ndarray]  # class indices
    vectorizer: Any  # keras.layers.TextVectorization fitted on texts["train"]
    ids: dict[str, np.ndarray]


def split_like_ours(config, corpus: Corpus) -> Splits:
    """Our train / validation / test split and ids, as ``Runner.fit`` makes them.

    ``SentimentApp.prepare``: class names sorted, labels as their indices, a
    stratified validation split of the training texts with the config's
    ``validation_fraction`` and ``seed`` (the in-memory fit holds out no test
    part: the corpus's test split is ours), and a vocabulary fitted on the
    rest with the config's ``max_tokens`` and ``max_length``.
    """
    from rnn_templates.data.labels import class_indices, stratified_split
    from rnn_templates.text import make_vectorizer, token_ids

    train_labels = np.asarray(corpus.train_labels).astype(str).astype(object)
    class_names = sorted(set(train_labels.tolist()))
    labels = class_indices(train_labels, class_names, corpus.name)
    train, validation = stratified_split(labels, (config.validation_fraction,), config.seed)
    texts = {"train": corpus.train_texts[train], "validation": corpus.train_texts[validation],
             "test": corpus.test_texts}
    targets = {"train": labels[train], "validation": labels[validation],
               "test": class_indices(np.asarray(corpus.test_labels).astype(str).astype(object),
                                     class_names, f"{corpus.name}-test")}
    vectorizer = make_vectorizer(texts["train"], max_tokens=config.max_tokens,
                                 max_length=config.max_length)
    ids = {split: token_ids(vectorizer, texts[split]) for split in texts}
    return Splits(class_names, texts, targets, vectorizer, ids)


def _ours_app(init_seed: int):
    """``SentimentApp`` whose model weights (and dropout) start from ``init_seed``.

    ``Runner.fit`` seeds with ``config.seed`` before it splits and builds; that
    seed also fixes the split, so it stays, and the weights are reseeded here.
    """
    import keras

    from apps.sentiment.app import SentimentApp

    class SeededSentimentApp(SentimentApp):
        def hypermodel(self, config, prepared):
            keras.utils.set_random_seed(init_seed)
            return super().hypermodel(config, prepared)

    return SeededSentimentApp()


def run_ours(config, corpus: Corpus, splits: Splits, seed: int) -> dict[str, Any]:
    import tempfile

    from rnn_templates.app import Runner

    runner = Runner(_ours_app(seed))
    timer = _timer_callback(keep_last_weights=True)
    with tempfile.TemporaryDirectory(prefix="rnnt-throughput-") as work:
        model, artifacts, training = runner.fit(
            config, corpus.train_texts, corpus.train_labels, Path(work) / "fit",
            callbacks=[timer],
        )
    vocabulary = model.get_layer("vectorizer").get_vocabulary()
    if (artifacts["class_names"] != splits.class_names
            or training["train_examples"] != len(splits.ids["train"])
            or vocabulary != splits.vectorizer.get_vocabulary()):
        sys.exit(f"[{corpus.name}] the fit's split or vocabulary differs from the one "
                 "replicated for the peer; the comparison would not be fair")
    # Score the last epoch, as the peer: early stopping restored its best epoch.
    timer.model.set_weights(timer.last_weights)
    probabilities = runner.predict_outputs(model, splits.texts["test"])
    accuracy = float((probabilities.argmax(axis=1) == splits.labels["test"]).mean())
    return _run_record(timer, len(splits.ids["train"]), accuracy)


def peer_arrays(splits: Splits) -> dict[str, np.ndarray]:
    """Our ids (right-padded) re-padded the recipe's way: pre-padding, pre-truncation, 200."""
    import keras

    arrays = {}
    for split in ("train", "validation", "test"):
        rows = [row[row != 0] for row in splits.ids[split]]
        arrays[split] = keras.utils.pad_sequences(rows, maxlen=PEER_MAXLEN)
    return arrays


def build_peer(vocab_size: int):
    import keras
    from keras import layers

    inputs = keras.Input(shape=(None,), dtype="int32")
    x = layers.Embedding(vocab_size, 128)(inputs)
    x = layers.Bidirectional(layers.LSTM(64, return_sequences=True))(x)
    x = layers.Bidirectional(layers.LSTM(64))(x)
    outputs = layers.Dense(1, activation="sigmoid")(x)
    model = keras.Model(inputs, outputs)
    model.compile(optimizer="adam", loss="binary_crossentropy", metrics=["accuracy"])
    return model


def run_peer(splits: Splits, arrays, vocab_size: int, epochs: int, seed: int) -> dict[str, Any]:
    import keras

    keras.utils.set_random_seed(seed)
    model = build_peer(vocab_size)
    timer = _timer_callback()
    # Class index 1 is the positive class (classes are sorted), as in ours.
    model.fit(
        arrays["train"], splits.labels["train"].astype("float32"),
        validation_data=(arrays["validation"], splits.labels["validation"].astype("float32")),
        batch_size=32, epochs=1 + epochs, callbacks=[timer], verbose=0,
    )
    scores = model.predict(arrays["test"], batch_size=256, verbose=0)[:, 0]
    accuracy = float(((scores > 0.5).astype(int) == splits.labels["test"]).mean())
    return _run_record(timer, len(arrays["train"]), accuracy)


def _run_record(timer, examples: int, accuracy: float) -> dict[str, Any]:
    timed = timer.seconds[1:]  # the first epoch is warm-up
    return {
        "warmup_seconds": round(timer.seconds[0], 2),
        "epoch_seconds": [round(s, 3) for s in timed],
        "samples_per_second": [round(examples / s, 1) for s in timed],
        "cores_busy": [round(c, 2) for c in timer.cores[1:]],
        "test_accuracy": accuracy,
        "val_accuracy_per_epoch": [round(v, 4) for v in timer.val_accuracy],
    }


# --- one corpus -----------------------------------------------------------------------


def bench_corpus(corpus: Corpus, args, log) -> dict[str, Any]:
    profile = length_profile(corpus)
    log(f"[{corpus.name}] {corpus.description}")
    log(f"[{corpus.name}] lengths: mean {profile['tokens_mean']} median "
        f"{profile['tokens_median']} p90 {profile['tokens_p90']} max {profile['tokens_max']} "
        f"tokens; {profile['train']} train / {profile['test']} test texts")
    config = ours_config(args.config_override, args.epochs)
    splits = split_like_ours(config, corpus)
    vocab = splits.vectorizer.vocabulary_size()
    peer_vocab = PEER_VOCAB_RECIPE if args.peer_vocab == "recipe" else vocab
    arrays = peer_arrays(splits)
    recipes: dict[str, Any] = {
        "ours": lambda seed: run_ours(config, corpus, splits, seed),
        "peer": lambda seed: run_peer(splits, arrays, peer_vocab, args.epochs, seed),
    }
    if corpus.name in args.ours_len200:
        config200 = ours_config(args.config_override, args.epochs, max_length=PEER_MAXLEN)
        recipes["ours_len200"] = lambda seed: run_ours(config200, corpus, splits, seed)
    runs: dict[str, list[dict[str, Any]]] = {name: [] for name in recipes}
    for repeat in range(args.repeats):
        for name, run in recipes.items():
            started = time.perf_counter()
            record = run(args.seed + repeat)
            record["load_average_after"] = [round(x, 2) for x in os.getloadavg()]
            runs[name].append(record)
            log(f"[{corpus.name}] repeat {repeat + 1}/{args.repeats} {name:11s} "
                f"samples/s {record['samples_per_second']} cores {record['cores_busy']} "
                f"test accuracy "
                f"{record['test_accuracy']:.4f} ({time.perf_counter() - started:.0f}s)")
    summary = {}
    for name, records in runs.items():
        rates = [r for record in records for r in record["samples_per_second"]]
        accuracies = [record["test_accuracy"] for record in records]
        summary[name] = {
            "median_samples_per_second": statistics.median(rates),
            "min_samples_per_second": min(rates),
            "max_samples_per_second": max(rates),
            "median_cores_busy": statistics.median(
                c for record in records for c in record["cores_busy"]),
            "test_accuracy_mean": float(np.mean(accuracies)),
            "test_accuracy_per_repeat": [round(a, 4) for a in accuracies],
        }
    peer = summary["peer"]
    for entry in summary.values():
        entry["ratio_to_peer"] = round(
            entry["median_samples_per_second"] / peer["median_samples_per_second"], 3)
        entry["best_epoch_ratio_to_peer"] = round(
            entry["max_samples_per_second"] / peer["max_samples_per_second"], 3)
    return {
        "description": corpus.description,
        "lengths": profile,
        "vocabulary_size": vocab,
        "peer_embedding_rows": peer_vocab,
        "train_examples": int(len(splits.ids["train"])),
        "validation_examples": int(len(splits.ids["validation"])),
        "test_examples": int(len(splits.ids["test"])),
        "bucket_edges": _edges(splits, config),
        "summary": summary,
        "runs": runs,
    }


def _edges(splits: Splits, config) -> list[int]:
    from rnn_templates.text import bucket_edges

    return [int(e) for e in bucket_edges(splits.ids["train"], config.num_buckets)]


# --- report ---------------------------------------------------------------------------


def markdown(result: dict[str, Any]) -> str:
    meta = result["meta"]
    lines = [
        "# Sentiment training throughput: our pipeline vs the keras-io IMDB BiLSTM recipe",
        "",
        f"{meta['date']}; {meta['machine']}; TensorFlow {meta['tensorflow']}, "
        f"Keras {meta['keras']}; load average at start {meta['load_average_at_start']}, "
        f"at end {meta.get('load_average_at_end')}.",
        f"Median over {meta['repeats']} alternating repeats x {meta['epochs']} timed epochs "
        f"(1 warm-up epoch each); accuracy on the held-out 15% after "
        f"{meta['epochs'] + 1} epochs, mean over repeats. Peer embedding rows: "
        f"{meta['peer_vocab']}.",
        "",
        "| corpus | tokens mean / median / max | recipe | samples/s median (min-max) "
        "| ratio to peer: median (best epoch) | cores busy (median) | test accuracy |",
        "|---|---|---|---|---|---|---|",
    ]
    for name, corpus in result["corpora"].items():
        lengths = corpus["lengths"]
        for recipe, s in corpus["summary"].items():
            lines.append(
                f"| {name} | {lengths['tokens_mean']} / {lengths['tokens_median']:g} / "
                f"{lengths['tokens_max']} | {recipe} | {s['median_samples_per_second']:.0f} "
                f"({s['min_samples_per_second']:.0f}-{s['max_samples_per_second']:.0f}) "
                f"| {s['ratio_to_peer']:.2f} ({s['best_epoch_ratio_to_peer']:.2f}) "
                f"| {s['median_cores_busy']:.2f} | {s['test_accuracy_mean']:.4f} |"
            )
    lines += ["", "Corpora:", ""]
    for name, corpus in result["corpora"].items():
        lines.append(f"- `{name}`: {corpus['description']}; {corpus['train_examples']} train / "
                     f"{corpus['validation_examples']} validation / {corpus['test_examples']} "
                     f"test; vocabulary {corpus['vocabulary_size']}.")
    return "\n".join(lines) + "\n"


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0],
        epilog="See the module docstring (or benchmarks/README.md) for the full protocol.",
    )
    parser.add_argument("--shipped", type=Path, default=REPO_ROOT / "data/sentiment/reviews.tsv",
                        help="the project's corpus (default: %(default)s)")
    parser.add_argument("--uci", type=Path, default=UCI_FOLDER,
                        help="folder with the UCI files (default: %(default)s)")
    parser.add_argument("--corpora", nargs="+", choices=CORPORA, default=list(CORPORA),
                        help="corpora to run (default: all)")
    parser.add_argument("--epochs", type=int, default=3,
                        help="timed epochs per run, after one warm-up epoch (default: %(default)s)")
    parser.add_argument("--repeats", type=int, default=3,
                        help="alternating repeats of each recipe (default: %(default)s)")
    parser.add_argument("--long-train", type=int, default=2000,
                        help="synthetic long reviews for training (default: %(default)s)")
    parser.add_argument("--long-test", type=int, default=400,
                        help="synthetic long reviews for testing (default: %(default)s)")
    parser.add_argument("--long-tilt", type=float, default=0.75,
                        help="probability that a synthetic review's sentence comes from the "
                        "review's leaning class; 0.5 = uniformly random sentences, whose "
                        "near-even majorities no model here learns in a few epochs "
                        "(default: %(default)s)")
    parser.add_argument("--peer-vocab", choices=("shared", "recipe"), default="shared",
                        help="peer embedding rows: 'shared' = our vocabulary size (same ids, "
                        "same table size as ours), 'recipe' = 20000 as in keras-io "
                        "(default: %(default)s)")
    parser.add_argument("--ours-len200", nargs="*", choices=CORPORA, default=["long"],
                        help="corpora that also run ours with max_length=200 (default: long)")
    parser.add_argument("--config-override", action="append", default=[], metavar="KEY=VALUE",
                        help="change a SentimentConfig field of ours (repeatable)")
    parser.add_argument("--seed", type=int, default=0, help="split and model seed")
    parser.add_argument("--output", type=Path, default=DEFAULT_OUTPUT,
                        help="results path without suffix (default: %(default)s)")
    args = parser.parse_args(argv)
    if args.epochs < 1 or args.repeats < 1:
        parser.error("--epochs and --repeats must be at least 1")
    if not 0.5 <= args.long_tilt <= 1.0:
        parser.error(f"--long-tilt must be in [0.5, 1]; received {args.long_tilt}")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    started = time.perf_counter()

    def log(message: str) -> None:
        print(f"{time.perf_counter() - started:7.0f}s  {message}", flush=True)

    meta = machine_info() | {
        "epochs": args.epochs,
        "repeats": args.repeats,
        "peer_vocab": args.peer_vocab,
        "long_reviews": {"train": args.long_train, "test": args.long_test,
                         "tilt": args.long_tilt, "sentences": [8, 30]},
        "config_overrides": args.config_override,
        "ours_config": dataclasses.asdict(ours_config(args.config_override, args.epochs)),
        "seed": args.seed,
    }
    result: dict[str, Any] = {"meta": meta, "corpora": {}}
    loaders = {
        "shipped": lambda: load_shipped(args.shipped, args.seed),
        "uci": lambda: load_uci(args.uci, args.seed),
        "long": lambda: load_long(args.shipped, args.seed, args.long_train, args.long_test,
                                  args.long_tilt),
    }
    for name in args.corpora:
        result["corpora"][name] = bench_corpus(loaders[name](), args, log)
        meta["wall_seconds"] = round(time.perf_counter() - started, 1)
        meta["load_average_at_end"] = [round(x, 2) for x in os.getloadavg()]
        write_text_atomic(args.output.with_suffix(".json"), json.dumps(result, indent=2) + "\n")
        write_text_atomic(args.output.with_suffix(".md"), markdown(result))
    print(markdown(result))
    log(f"results: {args.output.with_suffix('.json')} and .md")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
