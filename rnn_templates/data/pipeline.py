"""The last step of every tf.data input pipeline here: prefetching, with autotuning off.

tf.data's autotuning (on by default) runs a background thread that retunes
buffer sizes and parallelism while an iterator lives. On a CPU that is busy
training, that thread competes with the model for the cores, and tearing down
an epoch's iterator can wait for the thread's next wake-up, which comes up to
a minute later as the tuning period grows: the same epoch of a bucketed text
pipeline took 20-23 s without autotuning and 22-82 s with it (2 cores,
TensorFlow 2.21). The pipelines here are short (slice, gather, pad, batch),
so a fixed prefetch buffer and the default map parallelism are all they need.
"""

from __future__ import annotations

from typing import Any


def prefetched(dataset: Any, buffer: int = 2) -> Any:
    """``dataset`` prefetching ``buffer`` batches, with tf.data's autotuning turned off.

    Example:
        >>> import tensorflow as tf
        >>> dataset = prefetched(tf.data.Dataset.range(5).batch(2))
        >>> [batch.tolist() for batch in dataset.as_numpy_iterator()]
        [[0, 1], [2, 3], [4]]
        >>> dataset.options().autotune.enabled
        False
    """
    import tensorflow as tf

    options = tf.data.Options()
    options.autotune.enabled = False
    return dataset.prefetch(buffer).with_options(options)
