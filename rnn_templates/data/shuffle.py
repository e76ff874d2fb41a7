"""A shuffle whose order depends only on the seed and the epoch, so resumed runs repeat it.

``tf.data``'s own ``shuffle(reshuffle_each_iteration=True)`` draws each epoch's
order from a stream that restarts with the process: a run resumed at epoch 5
would see epoch 0's order again. :class:`EpochShuffle` is a callback that
sets an epoch counter before each epoch, and its dataset permutes the indices
with a stateless shuffle keyed on ``(seed, epoch)``.
"""

from __future__ import annotations

import keras
import tensorflow as tf


class EpochShuffle(keras.callbacks.Callback):
    """Per-epoch permutation of ``range(size)`` keyed on ``(seed, epoch)``.

    Pass the callback to ``fit`` together with a dataset built from
    :meth:`indices`.

    Example:
        >>> shuffle = EpochShuffle(seed=3)
        >>> order = shuffle.indices(5)
        >>> first = [int(i) for i in order]
        >>> shuffle.on_epoch_begin(1)
        >>> second = [int(i) for i in order]
        >>> sorted(first) == sorted(second) == [0, 1, 2, 3, 4] and first != second
        True
    """

    def __init__(self, seed: int):
        super().__init__()
        self.seed = int(seed)
        self.epoch = tf.Variable(0, dtype=tf.int64, trainable=False, name="shuffle_epoch")

    def on_epoch_begin(self, epoch, logs=None):
        self.epoch.assign(epoch)

    def indices(self, size: int) -> tf.data.Dataset:
        """A dataset of the indices ``0..size-1`` in this epoch's order."""

        def permutation(_):
            seed = tf.stack([tf.constant(self.seed, tf.int64), self.epoch.read_value()])
            order = tf.random.experimental.stateless_shuffle(tf.range(size, dtype=tf.int64), seed)
            return tf.data.Dataset.from_tensor_slices(order)

        return tf.data.Dataset.from_tensors(0).flat_map(permutation)
