"""Batch variable-length sequences by length so batches carry little padding.

A recurrent layer pays for every step of the padded batch, masked or not, so a
batch that mixes a 5-token and a 200-token text costs 200 steps for both.
Grouping similar lengths (``tf.data.Dataset.bucket_by_sequence_length``) and
padding each batch only to its own longest member is the main reason a
masked, bucketed pipeline trains faster than padding everything to a fixed
length. Padding goes on the right, which keeps masks cuDNN-compatible.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import tensorflow as tf


def length_boundaries(lengths: Sequence[int] | np.ndarray, num_buckets: int = 8) -> list[int]:
    """Bucket edges at length quantiles, so each bucket holds a similar count.

    Args:
        lengths: Lengths of the training sequences.
        num_buckets: Buckets wanted; fewer come back when lengths repeat.

    Returns:
        Strictly increasing edges for ``bucket_by_sequence_length``.

    Example:
        >>> length_boundaries([3, 5, 8, 13, 21, 34, 55, 89], num_buckets=4)
        [8, 18, 40]
    """
    lengths = np.asarray(lengths)
    if lengths.size == 0:
        raise ValueError("`lengths` is empty: there are no sequences to bucket")
    if num_buckets < 1:
        raise ValueError(f"`num_buckets` must be at least 1; received {num_buckets}")
    quantiles = np.quantile(lengths, np.linspace(0, 1, num_buckets + 1)[1:-1])
    # bucket_by_sequence_length uses [edge_i, edge_i+1): +1 puts the quantile in the lower one.
    return sorted({int(q) + 1 for q in quantiles})


def bucket_by_length(
    dataset: tf.data.Dataset,
    batch_size: int,
    boundaries: Sequence[int],
    *,
    pad_value: int | float = 0,
    drop_remainder: bool = False,
) -> tf.data.Dataset:
    """Batch ``(sequence, label)`` pairs by sequence length, padding on the right.

    Args:
        dataset: Elements ``(sequence (time, ...), label)`` with varying time.
        batch_size: Sequences per batch in every bucket.
        boundaries: Edges from :func:`length_boundaries`.
        pad_value: Value for padded steps (0 = the token padding id).
        drop_remainder: Drop short final batches per bucket.

    Returns:
        A dataset of ``(padded_sequences (batch, time'), labels (batch, ...))``.
    """
    return dataset.bucket_by_sequence_length(
        element_length_func=lambda sequence, _label: tf.shape(sequence)[0],
        bucket_boundaries=list(boundaries),
        bucket_batch_sizes=[batch_size] * (len(boundaries) + 1),
        padding_values=(tf.constant(pad_value, dtype=dataset.element_spec[0].dtype), None),
        drop_remainder=drop_remainder,
    )
