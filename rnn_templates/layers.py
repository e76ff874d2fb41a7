"""The few custom layers the templates need, each with ``get_config``."""

from __future__ import annotations

import keras
from keras import ops


@keras.saving.register_keras_serializable(package="rnn_templates")
class TrimPadding(keras.layers.Layer):
    """Cut right-padded token ids to the longest real sequence in the batch.

    A ``TextVectorization`` layer with a fixed ``output_sequence_length`` pads
    every text to that length. Masked steps do not change the answer, but they
    still cost a recurrent step each; trimming the batch to its longest real
    length removes that cost when serving short texts. Id 0 is padding.

    Input shape ``(batch, time)`` int; output ``(batch, time')`` with
    ``1 <= time' <= time``. The output length depends on the batch, so the
    layer needs TensorFlow (the backend of the string-serving models it is
    made for); JAX compiles fixed shapes and refuses it inside ``predict``.
    """

    def call(self, inputs):
        lengths = ops.sum(ops.cast(ops.not_equal(inputs, 0), "int32"), axis=1)
        longest = ops.maximum(ops.max(lengths), 1)
        return inputs[:, :longest]

    def compute_output_shape(self, input_shape):
        return (input_shape[0], None)


@keras.saving.register_keras_serializable(package="rnn_templates")
class MaskedGlobalMaxPooling1D(keras.layers.Layer):
    """Maximum over time of ``(batch, time, features)``, ignoring masked steps.

    Keras's ``GlobalMaxPooling1D`` ignores masks, so zeros written at padded
    steps would compete with real (possibly negative) activations. Output
    ``(batch, features)``; a sequence masked entirely gives zeros.
    """

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.supports_masking = True

    def call(self, inputs, mask=None):
        if mask is None:
            return ops.max(inputs, axis=1)
        keep = ops.expand_dims(ops.cast(mask, "bool"), -1)
        lowest = ops.min(inputs) - 1.0
        pooled = ops.max(ops.where(keep, inputs, lowest), axis=1)
        any_step = ops.any(keep, axis=1)
        return ops.where(any_step, pooled, ops.zeros_like(pooled))

    def compute_mask(self, inputs, mask=None):
        return None

    def compute_output_shape(self, input_shape):
        return (input_shape[0], input_shape[2])
