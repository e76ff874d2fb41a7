"""Every input pipeline the apps train on ends prefetched, with tf.data's autotuning off."""

import numpy as np
import pytest

from rnn_templates.data.pipeline import prefetched
from rnn_templates.data.shuffle import EpochShuffle
from rnn_templates.data.windows import window_dataset
from rnn_templates.sentences import pair_dataset
from rnn_templates.text import bucketed_dataset


def _ids(rows=12, width=6):
    ids = np.zeros((rows, width), "int32")
    for row in range(rows):
        ids[row, : 1 + row % width] = np.arange(2, 3 + row % width)
    return ids


PIPELINES = {
    "text": lambda shuffle: bucketed_dataset(_ids(), np.arange(12) % 2, 4, [3],
                                             shuffle=shuffle),
    "windows": lambda shuffle: window_dataset(
        np.arange(40, dtype="float32")[:, None], np.arange(40, dtype="float32")[:, None], 8, 2,
        future_rows=False, batch_size=4, shuffle=shuffle or False),
    "pairs": lambda shuffle: pair_dataset(list(_ids()), list(_ids()), 4, num_buckets=2,
                                          shuffle_seed=0 if shuffle else None),
}


@pytest.mark.parametrize("name", sorted(PIPELINES))
@pytest.mark.parametrize("shuffle", [None, EpochShuffle(3)])
def test_training_and_validation_pipelines_do_not_autotune(name, shuffle):
    dataset = PIPELINES[name](shuffle)
    assert dataset.options().autotune.enabled is False
    batches = list(dataset.as_numpy_iterator())
    first = batches[0][0][0] if name == "pairs" else batches[0][0]
    assert sum(len(b[-1] if name != "pairs" else b[1]) for b in batches) == (
        31 if name == "windows" else 12)
    assert first.shape[0] <= 4


def test_prefetched_keeps_every_element_in_order():
    import tensorflow as tf

    dataset = prefetched(tf.data.Dataset.range(7).batch(3), buffer=1)
    assert [b.tolist() for b in dataset.as_numpy_iterator()] == [[0, 1, 2], [3, 4, 5], [6]]
