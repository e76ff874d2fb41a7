"""Sentiment model: a many-to-one recurrent classifier over token ids, and its search space.

The core model is ``ids -> Embedding(mask_zero) -> recurrent stack -> pooling
-> softmax``; the app wraps it with the vectorizer so the saved model takes
raw strings (:func:`rnn_templates.text.string_model`).
"""

from __future__ import annotations

import keras
import keras_tuner
import numpy as np

from apps.sentiment.config import SentimentConfig
from rnn_templates import build_many_to_one
from rnn_templates.data import EpochShuffle
from rnn_templates.ensemble import EnsembleLoss, EnsembleMetric
from rnn_templates.text import bucket_edges, bucketed_dataset
from rnn_templates.training import OpenGates, compile_model
from rnn_templates.tuning import choice, float_around


class SentimentHyperModel(keras_tuner.HyperModel):
    """Search space for the sentiment classifier, with the config as its defaults.

    ``build(keras_tuner.HyperParameters())`` returns exactly the model the
    config describes (the untuned baseline); a tuner explores around it.

    Args:
        config: Defaults for every hyperparameter.
        vocab_size: Vocabulary size of the fitted vectorizer.
        num_classes: Number of classes.
    """

    def __init__(self, config: SentimentConfig, vocab_size: int, num_classes: int,
                 pretrained: np.ndarray | None = None):
        super().__init__(name="sentiment")
        self.config = config
        self.vocab_size = vocab_size
        self.num_classes = num_classes
        self.pretrained = pretrained

    def _embedding(self, hp) -> dict:
        """Width and starting rows of the embedding: learnt, or the pretrained vectors."""
        c = self.config
        if self.pretrained is None:
            width = choice(hp, "embedding_dim", [32, 64, 128], c.embedding_dim)
            return {"embedding_dim": width}
        width = self.pretrained.shape[1]
        if not hp.Boolean("pretrained", default=True):  # the search may try without them
            return {"embedding_dim": width}
        # multichannel is searched only when configured: it scored lowest where measured
        training = choice(hp, "embeddings_training", ["fine-tune", "frozen", "gated"],
                          c.embeddings_training, parent_name="pretrained",
                          parent_values=[True])
        freeze = {"fine-tune": "never", "frozen": "always"}.get(training, training)
        return {"embedding_dim": width, "pretrained": self.pretrained, "freeze": freeze}

    def build(self, hp: keras_tuner.HyperParameters) -> keras.Model:
        c = self.config
        grid = c.tuner == "grid"  # each float: its configured value and one step either side
        rnn = dict(
            cell=choice(hp, "cell", ["lstm", "gru"], c.cell),
            units=choice(hp, "units", [32, 64, 128], c.units),
            num_layers=hp.Int("num_layers", 1, max(2, c.num_layers), default=c.num_layers),
            bidirectional=hp.Boolean("bidirectional", default=c.bidirectional),
            dropout=float_around(hp, "dropout", 0.0, 0.5, c.dropout, step=0.1, grid=grid),
            recurrent_dropout=c.recurrent_dropout,
            activation=c.activation,
        )
        model = build_many_to_one(
            self.num_classes,
            vocab_size=self.vocab_size,
            **self._embedding(hp),
            rnn=rnn,
            pooling=choice(hp, "pooling", ["last", "max", "mean_max"], c.pooling),
            embedding_dropout=float_around(hp, "embedding_dropout", 0.0, 0.4, c.embedding_dropout,
                                           step=0.1, grid=grid),
            word_dropout=float_around(hp, "word_dropout", 0.0, 0.3, c.word_dropout, step=0.1,
                                      grid=grid),
            head_dropout=float_around(hp, "head_dropout", 0.0, 0.5, c.head_dropout, step=0.1,
                                      grid=grid),
            ngram_buckets=choice(hp, "ngram_buckets", [0, 2**17], c.ngram_buckets),
            output_activation="softmax",
            members=c.members,
            name="sentiment_core",
        )
        loss, metrics = "sparse_categorical_crossentropy", ["accuracy"]
        if c.members > 1:  # each member learns from its own loss; accuracy scores the mean
            loss = EnsembleLoss(loss, output_axes=1)
            metrics = [EnsembleMetric("sparse_categorical_accuracy", output_axes=1,
                                      name="accuracy")]
        return compile_model(
            model,
            loss=loss,
            metrics=metrics,
            learning_rate=float_around(hp, "learning_rate", 3e-4, 1e-2, c.learning_rate,
                                       sampling="log", grid=grid),
            clipnorm=c.clipnorm or None,
            weight_decay=choice(hp, "weight_decay", [0.0, 0.01, 0.1], c.weight_decay),
        )

    def declare_hyperparameters(self, hp: keras_tuner.HyperParameters) -> int:
        """The batch size: tuned in ``fit``, declared up front so every worker samples it."""
        c = self.config
        return choice(hp, "batch_size", [16, 32, 64], c.batch_size)

    def fit(self, hp, model, train, validation, *args, callbacks=None, **kwargs):
        """Train on ``train=(ids, labels)``, validating on ``validation=(ids, labels)``.

        The batch size is tuned here because it shapes the dataset, not the model.
        """
        c = self.config
        batch_size = self.declare_hyperparameters(hp)
        edges = bucket_edges(train[0], c.num_buckets)
        shuffle = EpochShuffle(c.seed)
        train_ds = bucketed_dataset(*train, batch_size, edges, shuffle=shuffle)
        val_ds = (None if validation is None  # refitted on train + validation
                  else bucketed_dataset(*validation, 256, edges))
        kwargs.setdefault("epochs", c.epochs)
        kwargs["shuffle"] = False  # EpochShuffle orders the dataset itself
        extra = [shuffle]
        if (self.pretrained is not None and hp.get("pretrained")
                and hp.get("embeddings_training") == "gated"):
            extra.append(OpenGates(c.unfreeze_epoch))
        return model.fit(train_ds, *args, validation_data=val_ds,
                         callbacks=[*extra, *(callbacks or [])], **kwargs)
