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
class SourceMask(keras.layers.Layer):
    """Which steps of a source are real, as a ``(batch, time)`` bool tensor.

    ``kind="tokens"``: token ids other than 0 (padding); ``"value"``: steps
    with some feature other than ``value`` (the ``Masking`` convention);
    ``"all"``: every step. A named layer rather than a ``Lambda``, so a model
    holding it reloads without ``safe_mode=False``.

    Example:
        >>> ops.convert_to_numpy(SourceMask()(ops.array([[3, 5, 0]]))).tolist()
        [[True, True, False]]
    """

    KINDS = ("tokens", "value", "all")

    def __init__(self, kind: str = "tokens", value: float = 0.0, **kwargs):
        super().__init__(**kwargs)
        if kind not in self.KINDS:
            raise ValueError(f"`kind` must be one of {', '.join(map(repr, self.KINDS))}; "
                             f"received {kind!r}")
        self.kind, self.value = kind, float(value)

    def call(self, inputs):
        if self.kind == "tokens":
            return ops.not_equal(inputs, 0)
        if self.kind == "value":
            return ops.any(ops.not_equal(inputs, self.value), axis=-1)
        return ops.ones_like(inputs[:, :, 0], dtype="bool")

    def compute_output_shape(self, input_shape):
        return tuple(input_shape[:2])

    def compute_output_spec(self, inputs):
        return keras.KerasTensor(tuple(inputs.shape[:2]), dtype="bool")

    def get_config(self):
        return {**super().get_config(), "kind": self.kind, "value": self.value}


@keras.saving.register_keras_serializable(package="rnn_templates")
class DropMask(keras.layers.Identity):
    """Its input unchanged, without the padding mask Keras attaches to it.

    For a tensor another model reads along with an explicit mask input (the
    encoder outputs of :func:`~rnn_templates.topologies.seq2seq_inference_models`):
    the reading model would otherwise warn that it drops the attached mask.
    """

    def call(self, inputs):
        return ops.copy(inputs)  # a new tensor: the input keeps its mask

    def compute_mask(self, inputs, mask=None):
        return None


class _MaskedTimePooling(keras.layers.Layer):
    """``(batch, time, features)`` to ``(batch, features)``, reading the mask."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.supports_masking = True

    def compute_mask(self, inputs, mask=None):
        return None

    def compute_output_shape(self, input_shape):
        return (input_shape[0], input_shape[2])


@keras.saving.register_keras_serializable(package="rnn_templates")
class MaskedGlobalMaxPooling1D(_MaskedTimePooling):
    """Maximum over time of ``(batch, time, features)``, ignoring masked steps.

    Keras's ``GlobalMaxPooling1D`` ignores masks, so zeros written at padded
    steps would compete with real (possibly negative) activations. Output
    ``(batch, features)``; a sequence masked entirely gives zeros.
    """

    def call(self, inputs, mask=None):
        if mask is None:
            return ops.max(inputs, axis=1)
        keep = ops.expand_dims(ops.cast(mask, "bool"), -1)
        lowest = ops.min(inputs) - 1.0
        pooled = ops.max(ops.where(keep, inputs, lowest), axis=1)
        any_step = ops.any(keep, axis=1)
        return ops.where(any_step, pooled, ops.zeros_like(pooled))


@keras.saving.register_keras_serializable(package="rnn_templates")
class MaskedGlobalAveragePooling1D(_MaskedTimePooling):
    """Mean over time of ``(batch, time, features)``, ignoring masked steps.

    Keras's ``GlobalAveragePooling1D`` divides by the number of unmasked steps,
    which is zero for a text with no tokens left after standardization (a
    phrase of punctuation only): one such text turns the loss into NaN. Here a
    sequence masked entirely gives zeros.

    Example:
        >>> import numpy as np
        >>> x = np.array([[[1.0], [3.0], [9.0]], [[5.0], [5.0], [5.0]]])
        >>> mask = np.array([[True, True, False], [False, False, False]])
        >>> np.asarray(MaskedGlobalAveragePooling1D()(x, mask=mask)).tolist()
        [[2.0], [0.0]]
    """

    def call(self, inputs, mask=None):
        if mask is None:
            return ops.mean(inputs, axis=1)
        keep = ops.expand_dims(ops.cast(mask, inputs.dtype), -1)
        count = ops.maximum(ops.sum(keep, axis=1), 1.0)
        return ops.sum(inputs * keep, axis=1) / count


@keras.saving.register_keras_serializable(package="rnn_templates")
class WordDropout(keras.layers.Layer):
    """While training, replace each token id with the unknown-word id at ``rate``.

    Dropping whole words (Iyyer et al., 2015; Gal & Ghahramani, 2016) keeps a
    small-data text model from leaning on a few memorised words. Padding (id
    0) is never touched, so the mask is unchanged; at inference the ids pass
    through as they are.

    Args:
        rate: Share of words replaced, in ``[0, 1)``.
        unknown_id: The id that stands for an unknown word (1 in ``TextVectorization``).
        seed: Seed of the random draws.
    """

    def __init__(self, rate: float, unknown_id: int = 1, seed: int | None = None, **kwargs):
        super().__init__(**kwargs)
        if not 0.0 <= rate < 1.0:
            raise ValueError(f"`rate` must be in [0, 1); received {rate!r}")
        self.rate = rate
        self.unknown_id = unknown_id
        self.seed = seed
        self.seed_generator = keras.random.SeedGenerator(seed)

    def call(self, inputs, training=False):
        if not training or not self.rate:
            return inputs
        draw = keras.random.uniform(ops.shape(inputs), seed=self.seed_generator)
        drop = ops.logical_and(draw < self.rate, ops.not_equal(inputs, 0))
        return ops.where(drop, ops.cast(self.unknown_id, inputs.dtype), inputs)

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        return {**super().get_config(), "rate": self.rate, "unknown_id": self.unknown_id,
                "seed": self.seed}


@keras.saving.register_keras_serializable(package="rnn_templates")
class GradientGate(keras.layers.Layer):
    """Identity forward; while closed, no gradient reaches the layers before it.

    Placed after a pretrained ``Embedding``, it keeps the vectors frozen for
    the first epochs (the rest of the network learns to read them first) and
    lets them be fine-tuned once opened (:class:`~rnn_templates.training.OpenGates`).
    The state is a saved, non-trainable variable, so a resumed run continues
    with the gate as it was, and the optimizer knows the embedding from the
    start (zero gradients leave Adam's update at exactly zero).
    """

    def __init__(self, open: bool = False, **kwargs):  # noqa: A002 - a gate is open or not
        super().__init__(**kwargs)
        self.supports_masking = True
        self.initially_open = bool(open)
        self.gate = self.add_weight(shape=(), initializer=keras.initializers.Constant(
            float(self.initially_open)), trainable=False, name="open")

    def call(self, inputs):
        gate = ops.cast(self.gate, inputs.dtype)
        return inputs * gate + ops.stop_gradient(inputs) * (1.0 - gate)

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        return {**super().get_config(), "open": self.initially_open}


@keras.saving.register_keras_serializable(package="rnn_templates")
class NgramIds(keras.layers.Layer):
    """Token ids to the ids of their unigrams and hashed bigrams, for a bag of n-grams.

    Input ``(batch, time)`` ids below ``vocab_size`` (0 = padding); output
    ``(batch, 2 * time - 1)``: the unigrams as they are, then one id per pair of
    neighbouring tokens, ``vocab_size + (a * vocab_size + b) % buckets``, or 0
    where either is padding. An ``Embedding(vocab_size + buckets, ...,
    mask_zero=True)`` over these, averaged, is a fastText-style linear
    classifier (Joulin et al., 2017) that reads word pairs as well as words.

    Example:
        >>> import numpy as np
        >>> layer = NgramIds(vocab_size=10, buckets=7)
        >>> np.asarray(layer(np.array([[2, 3, 0]]))).tolist()
        [[2, 3, 0, 12, 0]]
    """

    def __init__(self, vocab_size: int, buckets: int, **kwargs):
        super().__init__(**kwargs)
        if vocab_size * vocab_size >= 2**31:
            raise ValueError(f"`vocab_size` must be below 46341 for int32 pair ids; "
                             f"received {vocab_size}")
        if buckets < 1:
            raise ValueError(f"`buckets` must be a positive integer; received {buckets!r}")
        self.vocab_size = vocab_size
        self.buckets = buckets

    def call(self, inputs):
        ids = ops.cast(inputs, "int32")
        first, second = ids[:, :-1], ids[:, 1:]
        pairs = self.vocab_size + ops.mod(first * self.vocab_size + second, self.buckets)
        valid = ops.logical_and(ops.not_equal(first, 0), ops.not_equal(second, 0))
        pairs = ops.where(valid, pairs, ops.zeros_like(pairs))
        return ops.concatenate([ids, pairs], axis=1)

    def compute_output_shape(self, input_shape):
        time = None if input_shape[1] is None else 2 * input_shape[1] - 1
        return (input_shape[0], time)

    def get_config(self):
        return {**super().get_config(), "vocab_size": self.vocab_size, "buckets": self.buckets}
