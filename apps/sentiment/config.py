"""Sentiment app configuration: every knob with its default and why.

The shared knobs (recurrent stack, training, tuning) come from the library's
mixins; this file declares only what is particular to classifying texts.
Override from the command line (``--set units=128``) or a YAML file holding
only what differs (``--config my.yaml``); ``rnnt sentiment train
--help-config`` prints the list.
"""

from __future__ import annotations

import dataclasses
import typing

from rnn_templates.cells import POOLINGS
from rnn_templates.config import (
    EnsembleOptions,
    RecurrentOptions,
    TrainingOptions,
    TuningOptions,
    knob,
    new_default,
)

FORMATS = ("auto", "csv", "tsv", "jsonl", "folder", "imdb")


@dataclasses.dataclass
class SentimentConfig(TuningOptions, TrainingOptions, EnsembleOptions, RecurrentOptions):
    TUNING_OBJECTIVES: typing.ClassVar[tuple[str, ...]] = (
        "val_accuracy", "val_loss", "accuracy", "loss")
    # What `evaluate --data` may change: how the other file is read.
    DATA_KEYS: typing.ClassVar[tuple[str, ...]] = (
        "format", "header", "text_column", "label_column", "duplicates", "encoding",
        "multiline")

    # --- data -------------------------------------------------------------------
    data: str = knob("data/sentiment/reviews.tsv",
                     "CSV/TSV/JSONL file, a folder of <class>/*.txt, or (format=imdb) the "
                     "download folder; relative paths are also looked up in the project")
    format: str = knob("auto", "auto picks by extension", choices=FORMATS)
    header: bool = knob(True, "CSV/TSV with a header row; false: columns by position, the "
                        "text first and the label last unless text_column/label_column say")
    text_column: str = knob("text", "header of the text column (its position without a header)")
    label_column: str = knob("label", "header of the label column (its position without one)")
    duplicates: str = knob("drop", "repeated texts: drop (reported) or keep",
                           choices=("drop", "keep"))
    encoding: str = knob("utf-8", "text encoding of the data files, e.g. cp1252 or latin-1; "
                         "utf-8 drops a byte-order mark")
    multiline: bool = knob(False, "CSV texts may hold line breaks inside quotes (rows span lines)")
    imdb_url: str = knob("https://ai.stanford.edu/~amaas/data/sentiment/aclImdb_v1.tar.gz",
                         "where format=imdb downloads from (a local http:// URL works too)")
    # Held-out fractions, stratified by class. The test split is only read by
    # `evaluate`; the validation split drives early stopping. A folder with its
    # own test/ split keeps that split instead.
    test_fraction: float = knob(0.15, "held-out test share", interval="[0, 0.5)")
    validation_fraction: float = knob(0.1, "validation share (early stopping)",
                                      interval="(0, 0.5)")
    test_data: str = knob("", "a separate labelled file (or folder) to test on, read like "
                          "--data; replaces the test split (also --test-data FILE)")
    max_classes: int = knob(50, "refuse label columns with more classes (the wrong column?)",
                            interval="[2, inf)")

    # --- text vectorization (inside the model, so the export takes raw strings) ---
    max_tokens: int = knob(20000, "vocabulary size, padding and unknown ids included",
                           interval="[3, inf)")
    max_length: int = knob(400, "longer texts are truncated to this many tokens",
                           interval="[1, inf)")

    # --- model: embedding -> recurrent stack -> pooling -> softmax ------------------
    embedding_dim: int = knob(64, "word embedding width without pretrained vectors (with them: "
                              "the vectors' width)",
                              interval="[1, inf)")
    embeddings: str = knob("glove-6b-50d", "pretrained word vectors to start from: "
                           "glove-6b-50d (packaged), or a GloVe/word2vec/fastText text file; "
                           "empty (--set embeddings=) learns them from scratch")
    embeddings_training: str = knob(
        "gated", "pretrained vectors: fine-tune from the start, frozen, gated (frozen for "
        "unfreeze_epoch epochs, then fine-tuned), or multichannel (a frozen and a fine-tuned "
        "copy side by side)", choices=("fine-tune", "frozen", "gated", "multichannel"))
    unfreeze_epoch: int = knob(2, "gated: epochs before the vectors are fine-tuned",
                               interval="[0, inf)")
    word_dropout: float = knob(0.0, "share of words replaced by the unknown word while training",
                               interval="[0, 1)")
    pooling: str = knob("last", "how the sequence becomes one vector: last (final states), "
                        "or mean/max/mean_max over the real tokens", choices=POOLINGS)
    embedding_dropout: float = knob(0.0, "drops whole embedding channels (SpatialDropout1D)",
                                    interval="[0, 1)")
    head_dropout: float = knob(0.3, "dropout before the output layer", interval="[0, 1)")
    ngram_buckets: int = knob(0, "add a bag of words and hashed word pairs (fastText-style "
                              "linear path, this many pair buckets) to the output; 0 = off",
                              interval="[0, inf)")
    baseline: bool = knob(True, "fit TF-IDF + logistic regression on the training split and "
                          "report it beside the model", search=False)
    num_buckets: int = knob(8, "length buckets for batching (1 = plain padding)",
                            interval="[1, inf)")

    # --- shared knobs with other defaults here -------------------------------------
    # Negation and contrast read better from both ends; 3e-3 trains the small
    # shipped corpus in about 10 epochs.
    bidirectional: bool = new_default(RecurrentOptions, "bidirectional", True)
    learning_rate: float = new_default(TrainingOptions, "learning_rate", 3e-3)
    tuning_objective: str = new_default(TuningOptions, "tuning_objective", "val_accuracy")
