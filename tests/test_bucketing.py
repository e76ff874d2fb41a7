"""Length buckets: quantile edges, and batches padded on the right to their longest member."""

from collections import Counter

import numpy as np
import pytest
import tensorflow as tf

from rnn_templates.data import bucket_by_length, length_boundaries


def test_length_boundaries_are_quantiles_plus_one():
    assert length_boundaries([3, 5, 8, 13, 21, 34, 55, 89], num_buckets=4) == [8, 18, 40]
    lengths = np.arange(1, 101)
    # Quartiles of 1..100 are 25.75, 50.5 and 75.25: each edge is int(q) + 1.
    assert length_boundaries(lengths, num_buckets=4) == [26, 51, 76]
    assert length_boundaries(lengths, num_buckets=2) == [51]
    assert length_boundaries(lengths, num_buckets=1) == []


def test_length_boundaries_give_similar_counts_per_bucket():
    lengths = np.random.default_rng(0).integers(1, 300, size=1000)
    edges = length_boundaries(lengths, num_buckets=8)
    assert edges == sorted(set(edges)) and len(edges) == 7
    counts = np.bincount(np.searchsorted(edges, lengths, side="right"), minlength=8)
    assert counts.sum() == 1000
    assert counts.min() >= 100 and counts.max() <= 150


def test_repeated_lengths_give_fewer_buckets():
    assert length_boundaries([5] * 20, num_buckets=8) == [6]
    assert length_boundaries([5] * 10 + [9] * 10, num_buckets=8) == [6, 8, 10]


def test_length_boundaries_refuse_bad_input():
    with pytest.raises(ValueError) as caught:
        length_boundaries([])
    assert str(caught.value) == "`lengths` is empty: there are no sequences to bucket"
    with pytest.raises(ValueError) as caught:
        length_boundaries([1, 2, 3], num_buckets=0)
    assert str(caught.value) == "`num_buckets` must be at least 1; received 0"


def _token_dataset(lengths, seed=0):
    rng = np.random.default_rng(seed)
    sequences = [rng.integers(1, 50, size=n).astype("int32") for n in lengths]
    labels = np.arange(len(lengths), dtype="int64")  # a label identifies its sequence
    dataset = tf.data.Dataset.from_generator(
        lambda: zip(sequences, labels, strict=True),
        output_signature=(
            tf.TensorSpec([None], tf.int32),
            tf.TensorSpec([], tf.int64),
        ),
    )
    return dataset, sequences


def test_bucket_by_length_pads_each_batch_to_its_longest_member():
    lengths = np.random.default_rng(1).integers(1, 40, size=101).tolist()
    dataset, sequences = _token_dataset(lengths)
    edges = length_boundaries(lengths, num_buckets=4)
    seen = Counter()
    batch_sizes = []
    for padded, labels in bucket_by_length(dataset, 8, edges):
        padded, labels = padded.numpy(), labels.numpy()
        real = [len(sequences[label]) for label in labels]
        assert padded.shape == (len(labels), max(real))
        # Every member comes from the same length bucket.
        assert len({int(np.searchsorted(edges, n, side="right")) for n in real}) == 1
        for row, label in zip(padded, labels, strict=True):
            n = len(sequences[label])
            np.testing.assert_array_equal(row[:n], sequences[label])  # content first
            assert not row[n:].any()  # then zeros on the right
            seen[int(label)] += 1
        batch_sizes.append(len(labels))
    assert seen == Counter(range(len(lengths)))  # every element exactly once
    assert max(batch_sizes) == 8
    assert sum(batch_sizes) == 101


def test_bucket_by_length_pad_value_drop_remainder_and_features():
    rng = np.random.default_rng(2)
    lengths = [3, 4, 5, 3, 4, 12, 14, 13, 11, 2]
    sequences = [rng.normal(size=(n, 2)).astype("float32") for n in lengths]
    dataset = tf.data.Dataset.from_generator(
        lambda: zip(sequences, np.arange(len(lengths)), strict=True),
        output_signature=(tf.TensorSpec([None, 2], tf.float32), tf.TensorSpec([], tf.int64)),
    )
    batches = list(bucket_by_length(dataset, 3, [10], pad_value=-1.0, drop_remainder=True))
    assert all(padded.shape[0] == 3 for padded, _ in batches)
    # Six short sequences make two full batches; of four long ones, the fourth is dropped.
    assert len(batches) == 3
    for padded, labels in batches:
        padded = padded.numpy()
        for row, label in zip(padded, labels.numpy(), strict=True):
            n = lengths[label]
            np.testing.assert_array_equal(row[:n], sequences[label])
            assert (row[n:] == -1.0).all()
