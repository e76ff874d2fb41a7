"""Text helpers every text app shares: vocabulary, token ids, bucketed batches, raw-string models.

Training and serving see the same vocabulary through different graphs:

- training feeds token ids through a length-bucketed ``tf.data`` pipeline
  (each batch padded only to its own longest text) into a *core* model that
  starts at ``Embedding(mask_zero=True)``;
- serving wraps the core as ``strings -> TextVectorization -> TrimPadding ->
  core``, so the saved ``.keras`` model and the SavedModel take raw text.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Iterator

import keras
import numpy as np
import tensorflow as tf

from rnn_templates.data.bucketing import bucket_by_length, length_boundaries
from rnn_templates.data.pipeline import prefetched
from rnn_templates.data.shuffle import EpochShuffle
from rnn_templates.layers import TrimPadding

# HTML line breaks, control characters and every character Python's
# str.splitlines() ends a line at (U+0085, U+2028, U+2029...) become spaces:
# Keras saves the vocabulary one token per line and reads it back with
# splitlines(), so a token holding one would break every reload of the model.
_SEPARATORS = r"<br\s*/?>|[\x00-\x1f\x7f-\x9f\x{2028}\x{2029}]"
_PUNCTUATION = r'[!"#$%&()\*\+,-\./:;<=>?@\[\\\]^_`{|}~\']'


@dataclasses.dataclass
class TextState:
    """What a text app fits besides its splits: the vocabulary and any pretrained rows."""

    vectorizer: keras.layers.TextVectorization
    pretrained: np.ndarray | None = None


@keras.saving.register_keras_serializable(package="rnn_templates")
def standardize_text(texts: tf.Tensor) -> tf.Tensor:
    """Lower-case, turn line breaks and control characters into spaces, strip punctuation.

    Example:
        >>> [t.decode() for t in standardize_text(tf.constant(["Great<br />film\\u0085OK!"]))
        ...  .numpy()]
        ['great film ok']
    """
    texts = tf.strings.lower(texts)
    texts = tf.strings.regex_replace(texts, _SEPARATORS, " ")
    return tf.strings.regex_replace(texts, _PUNCTUATION, "")


def make_vectorizer(
    texts: np.ndarray, *, max_tokens: int, max_length: int, name: str = "vectorizer"
) -> keras.layers.TextVectorization:
    """A vocabulary of the ``max_tokens`` most frequent words of ``texts`` (the training split).

    Standardized by :func:`standardize_text`; id 0 is padding, 1
    out-of-vocabulary, and every text becomes ``max_length`` ids, right-padded.
    """
    vectorizer = keras.layers.TextVectorization(
        max_tokens=max_tokens, standardize=standardize_text, output_mode="int",
        output_sequence_length=max_length, name=name,
    )
    vectorizer.adapt(tf.constant(np.asarray(texts).astype(str)), batch_size=1024)
    return vectorizer


def token_ids(vectorizer: keras.layers.TextVectorization, texts: np.ndarray) -> np.ndarray:
    """(n, max_length) int32 ids, right-padded with 0."""
    texts = np.asarray(texts)
    chunks = [texts[i : i + 4096].astype(str) for i in range(0, len(texts), 4096)]
    if not chunks:
        return np.zeros((0, vectorizer.get_config()["output_sequence_length"]), dtype="int32")
    return np.concatenate([np.asarray(vectorizer(tf.constant(c))) for c in chunks]).astype("int32")


def sequence_lengths(ids: np.ndarray) -> np.ndarray:
    # A text of only punctuation has no tokens; keep one (padding) step so the
    # recurrent layer always has something to read.
    return np.maximum((ids != 0).sum(axis=1), 1)


def bucket_edges(ids: np.ndarray, num_buckets: int) -> list[int]:
    """Length-bucket edges at the quantiles of the training lengths (none for 1 bucket)."""
    if num_buckets <= 1:
        return []
    return length_boundaries(sequence_lengths(ids), num_buckets)


def bucketed_dataset(
    ids: np.ndarray,
    targets: np.ndarray,
    batch_size: int,
    boundaries: list[int],
    *,
    shuffle: EpochShuffle | None = None,
) -> tf.data.Dataset:
    """Bucketed batches of ``(ids (batch, time'), target)`` with little padding.

    Args:
        ids: (n, max_length) right-padded token ids.
        targets: (n, ...) targets.
        batch_size: Examples per batch.
        boundaries: Edges from :func:`bucket_edges`.
        shuffle: An :class:`~rnn_templates.data.EpochShuffle` (pass it to ``fit``
            as a callback too) for training; ``None`` keeps the order.
    """
    lengths = sequence_lengths(ids)
    base = (tf.constant(ids), tf.constant(lengths), tf.constant(targets))
    if shuffle is None:
        dataset = tf.data.Dataset.from_tensor_slices(base)
    else:
        dataset = shuffle.indices(len(ids)).map(
            lambda i: tuple(tf.gather(part, i) for part in base))
    dataset = dataset.map(lambda x, n, y: (x[:n], y), num_parallel_calls=tf.data.AUTOTUNE)
    dataset = bucket_by_length(dataset, batch_size, boundaries)
    return prefetched(dataset)


def string_model(
    vectorizer: keras.layers.TextVectorization, core: keras.Model, name: str
) -> keras.Model:
    """Raw strings ``(batch,)`` to whatever ``core`` returns, trimming padding per batch."""
    texts = keras.Input(shape=(), dtype="string", name="text")
    ids = TrimPadding(name="trim_padding")(vectorizer(texts))
    return keras.Model(texts, core(ids), name=name)


def batches(items: Iterable[str], batch_size: int) -> Iterator[list[str]]:
    """Consecutive lists of at most ``batch_size`` items, read lazily.

    Example:
        >>> list(batches(iter("abcde"), 2))
        [['a', 'b'], ['c', 'd'], ['e']]
    """
    batch: list[str] = []
    for item in items:
        batch.append(item)
        if len(batch) == batch_size:
            yield batch
            batch = []
    if batch:
        yield batch
