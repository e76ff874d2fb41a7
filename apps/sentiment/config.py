"""Sentiment app configuration: every knob with its default and why.

Override from the command line (``--set units=128``) or a YAML file holding
only what differs (``--config my.yaml``). ``rnnt sentiment train
--help-config`` prints this list.
"""

from __future__ import annotations

import dataclasses

from rnn_templates.cells import RecurrentConfig
from rnn_templates.topologies.many_to_one import POOLINGS

FORMATS = ("auto", "csv", "tsv", "jsonl", "folder", "imdb")
TUNERS = ("random", "hyperband", "bayesian")


@dataclasses.dataclass
class SentimentConfig:
    # --- data -------------------------------------------------------------------
    # A CSV, TSV or JSONL file, a folder with one sub-folder of .txt files per
    # class (the aclImdb layout, with optional train/ and test/ splits), or,
    # with format=imdb, the folder where the IMDB archive is downloaded.
    data: str = "data/sentiment/reviews.tsv"
    # auto picks by extension: .csv, .tsv/.tab, .jsonl/.json, or a directory.
    format: str = "auto"
    text_column: str = "text"
    label_column: str = "label"
    # Where to download IMDB from (format=imdb); a local http:// URL works too.
    imdb_url: str = "https://ai.stanford.edu/~amaas/data/sentiment/aclImdb_v1.tar.gz"
    # Held-out fractions, stratified by class. The test split is only read by
    # `evaluate`; the validation split drives early stopping. A folder with its
    # own test/ split keeps that split instead.
    test_fraction: float = 0.15
    validation_fraction: float = 0.1
    # Refuse label columns with more classes than this: usually the wrong column.
    max_classes: int = 50

    # --- text vectorization (inside the model, so the export takes raw strings) ---
    max_tokens: int = 20000  # vocabulary size, including padding and out-of-vocabulary ids
    max_length: int = 400  # longer texts are truncated to this many tokens

    # --- model: many-to-one, embedding -> recurrent stack -> softmax -----------
    cell: str = "lstm"  # simple | lstm | gru
    units: int = 64  # per direction
    num_layers: int = 1
    bidirectional: bool = True  # negation and contrast read better from both ends
    embedding_dim: int = 64
    # How the sequence becomes one vector: last (final states), mean, max or
    # mean_max over the recurrent outputs of the real (unpadded) tokens.
    pooling: str = "last"
    embedding_dropout: float = 0.0  # drops whole embedding channels (SpatialDropout1D)
    dropout: float = 0.2  # on the recurrent layers' inputs (keeps cuDNN)
    head_dropout: float = 0.3  # before the output layer
    activation: str = "tanh"  # anything else leaves cuDNN (a warning says so)
    recurrent_dropout: float = 0.0  # >0 leaves cuDNN

    # --- training ---------------------------------------------------------------
    learning_rate: float = 3e-3
    clipnorm: float = 1.0  # gradient clipping against exploding gradients; 0 = off
    batch_size: int = 32
    epochs: int = 20  # an upper bound: early stopping usually ends sooner
    patience: int = 3  # epochs without validation improvement before stopping
    num_buckets: int = 8  # length buckets for batching (1 = plain padding)
    seed: int = 42
    deterministic: bool = False  # bit-identical reruns, somewhat slower

    # --- tuning -----------------------------------------------------------------
    tuner: str = "random"  # random | hyperband | bayesian
    max_trials: int = 10
    tuning_epochs: int = 8  # per trial (hyperband: maximum per model)
    tuning_objective: str = "val_accuracy"

    def __post_init__(self) -> None:
        if self.format not in FORMATS:
            raise ValueError(
                f"`format` must be one of {', '.join(map(repr, FORMATS))}; received {self.format!r}"
            )
        if self.tuner not in TUNERS:
            raise ValueError(
                f"`tuner` must be one of {', '.join(map(repr, TUNERS))}; received {self.tuner!r}"
            )
        for name in ("test_fraction", "validation_fraction"):
            value = getattr(self, name)
            if not 0.0 <= value < 0.5:
                raise ValueError(f"`{name}` must be in [0, 0.5); received {value}")
        if self.validation_fraction == 0.0:
            raise ValueError("`validation_fraction` must be above 0: early stopping needs it")
        for name in ("max_tokens", "max_length", "units", "num_layers", "embedding_dim",
                     "batch_size", "epochs", "patience", "num_buckets", "max_trials",
                     "tuning_epochs", "max_classes"):
            value = getattr(self, name)
            if value < 1:
                raise ValueError(f"`{name}` must be a positive integer; received {value}")
        if self.max_tokens < 3:
            raise ValueError(f"`max_tokens` must be at least 3; received {self.max_tokens}")
        if self.learning_rate <= 0:
            raise ValueError(f"`learning_rate` must be positive; received {self.learning_rate}")
        if self.clipnorm < 0:
            raise ValueError(f"`clipnorm` must be >= 0 (0 turns it off); received {self.clipnorm}")
        RecurrentConfig(**self.recurrent_options())  # checks cell, activation, dropout...
        if self.pooling not in POOLINGS:
            raise ValueError(
                f"`pooling` must be one of {', '.join(map(repr, POOLINGS))}; "
                f"received {self.pooling!r}"
            )
        if not 0.0 <= self.embedding_dropout < 1.0:
            raise ValueError(
                f"`embedding_dropout` must be in [0, 1); received {self.embedding_dropout}"
            )

    def recurrent_options(self) -> dict:
        """The fields that configure the recurrent stack (see RecurrentConfig)."""
        return dict(
            cell=self.cell,
            units=self.units,
            num_layers=self.num_layers,
            bidirectional=self.bidirectional,
            dropout=self.dropout,
            recurrent_dropout=self.recurrent_dropout,
            activation=self.activation,
        )
