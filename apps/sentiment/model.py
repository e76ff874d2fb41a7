"""Sentiment model: text vectorization, a many-to-one recurrent classifier, its search space.

Training and serving see the same vocabulary but different graphs:

- training feeds token ids through a bucketed ``tf.data`` pipeline (batches
  padded only to their own longest text), into the *core* model
  ``ids -> Embedding(mask_zero) -> recurrent stack -> softmax``;
- serving wraps the core as ``strings -> TextVectorization -> TrimPadding ->
  core``, so the saved ``.keras`` model and the SavedModel take raw text.
"""

from __future__ import annotations

import keras
import keras_tuner
import numpy as np
import tensorflow as tf

from apps.sentiment.config import SentimentConfig
from rnn_templates import build_many_to_one
from rnn_templates.data import bucket_by_length, length_boundaries
from rnn_templates.layers import TrimPadding
from rnn_templates.training import compile_model


def make_vectorizer(config: SentimentConfig, texts: np.ndarray) -> keras.layers.TextVectorization:
    """A vocabulary of the ``max_tokens`` most frequent training words.

    Lower-cased with punctuation stripped; id 0 is padding, 1 out-of-vocabulary.
    Fitted on training texts only, so held-out words count as unknown.
    """
    vectorizer = keras.layers.TextVectorization(
        max_tokens=config.max_tokens,
        output_mode="int",
        output_sequence_length=config.max_length,
        name="vectorizer",
    )
    vectorizer.adapt(tf.constant(texts.astype(str)), batch_size=1024)
    return vectorizer


def token_ids(vectorizer: keras.layers.TextVectorization, texts: np.ndarray) -> np.ndarray:
    """(n, max_length) int32 ids, right-padded with 0."""
    chunks = [texts[i : i + 4096].astype(str) for i in range(0, len(texts), 4096)]
    return np.concatenate([np.asarray(vectorizer(tf.constant(c))) for c in chunks]).astype("int32")


def sequence_lengths(ids: np.ndarray) -> np.ndarray:
    # A text of only punctuation has no tokens; keep one (padding) step so the
    # recurrent layer always has something to read.
    return np.maximum((ids != 0).sum(axis=1), 1)


def make_dataset(
    ids: np.ndarray,
    labels: np.ndarray,
    batch_size: int,
    boundaries: list[int],
    *,
    shuffle: bool,
    seed: int,
) -> tf.data.Dataset:
    """Bucketed batches of ``(ids (batch, time'), label)`` with little padding."""
    lengths = sequence_lengths(ids)
    dataset = tf.data.Dataset.from_tensor_slices((ids, lengths, labels.astype("int32")))
    if shuffle:
        dataset = dataset.shuffle(len(ids), seed=seed, reshuffle_each_iteration=True)
    dataset = dataset.map(lambda x, n, y: (x[:n], y), num_parallel_calls=tf.data.AUTOTUNE)
    dataset = bucket_by_length(dataset, batch_size, boundaries)
    return dataset.prefetch(tf.data.AUTOTUNE)


def bucket_edges(ids: np.ndarray, num_buckets: int) -> list[int]:
    if num_buckets <= 1:
        return []
    return length_boundaries(sequence_lengths(ids), num_buckets)


class SentimentHyperModel(keras_tuner.HyperModel):
    """Search space for the sentiment classifier, with the config as its defaults.

    ``build(keras_tuner.HyperParameters())`` returns exactly the model the
    config describes (the untuned baseline); a tuner explores around it.

    Args:
        config: Defaults for every hyperparameter.
        vocab_size: Vocabulary size of the fitted vectorizer.
        num_classes: Number of classes.
    """

    def __init__(self, config: SentimentConfig, vocab_size: int, num_classes: int):
        super().__init__(name="sentiment")
        self.config = config
        self.vocab_size = vocab_size
        self.num_classes = num_classes

    @staticmethod
    def _choices(values: list, default) -> list:
        # keras-tuner needs the default among the choices.
        return sorted(set(values) | {default}, key=lambda v: (str(type(v)), v))

    def build(self, hp: keras_tuner.HyperParameters) -> keras.Model:
        c = self.config
        cell = hp.Choice("cell", self._choices(["lstm", "gru"], c.cell), default=c.cell)
        units = hp.Choice("units", self._choices([32, 64, 128], c.units), default=c.units)
        num_layers = hp.Int("num_layers", 1, max(2, c.num_layers), default=c.num_layers)
        bidirectional = hp.Boolean("bidirectional", default=c.bidirectional)
        embedding_dim = hp.Choice(
            "embedding_dim", self._choices([32, 64, 128], c.embedding_dim), default=c.embedding_dim
        )
        pooling = hp.Choice("pooling", self._choices(["last", "max", "mean_max"], c.pooling),
                            default=c.pooling)
        embedding_dropout = hp.Float("embedding_dropout", 0.0, 0.4, step=0.1,
                                     default=round(c.embedding_dropout, 1))
        dropout = hp.Float("dropout", 0.0, 0.5, step=0.1, default=round(c.dropout, 1))
        head_dropout = hp.Float(
            "head_dropout", 0.0, 0.5, step=0.1, default=round(c.head_dropout, 1)
        )
        learning_rate = hp.Float(
            "learning_rate", 3e-4, 1e-2, sampling="log", default=c.learning_rate
        )
        model = build_many_to_one(
            self.num_classes,
            vocab_size=self.vocab_size,
            embedding_dim=embedding_dim,
            rnn=dict(
                cell=cell,
                units=units,
                num_layers=num_layers,
                bidirectional=bidirectional,
                dropout=dropout,
                recurrent_dropout=c.recurrent_dropout,
                activation=c.activation,
            ),
            pooling=pooling,
            embedding_dropout=embedding_dropout,
            head_dropout=head_dropout,
            output_activation="softmax",
            name="sentiment_core",
        )
        return compile_model(
            model,
            loss="sparse_categorical_crossentropy",
            metrics=["accuracy"],
            learning_rate=learning_rate,
            clipnorm=c.clipnorm or None,
        )

    def fit(self, hp, model, train, validation, *args, **kwargs):
        """Train on ``train=(ids, labels)``, validating on ``validation=(ids, labels)``.

        The batch size is tuned here because it shapes the dataset, not the model.
        """
        c = self.config
        batch_size = hp.Choice("batch_size", self._choices([16, 32, 64], c.batch_size),
                               default=c.batch_size)
        edges = bucket_edges(train[0], c.num_buckets)
        train_ds = make_dataset(*train, batch_size, edges, shuffle=True, seed=c.seed)
        val_ds = make_dataset(*validation, 256, edges, shuffle=False, seed=c.seed)
        kwargs.setdefault("epochs", c.epochs)
        kwargs["shuffle"] = False  # the dataset shuffles itself, before bucketing
        return model.fit(train_ds, *args, validation_data=val_ds, **kwargs)


def serving_model(
    vectorizer: keras.layers.TextVectorization, core: keras.Model
) -> keras.Model:
    """Raw strings ``(batch,)`` to class probabilities ``(batch, classes)``."""
    texts = keras.Input(shape=(), dtype="string", name="text")
    ids = vectorizer(texts)
    ids = TrimPadding(name="trim_padding")(ids)
    probabilities = core(ids)
    return keras.Model(texts, probabilities, name="sentiment")
