"""Many-to-one: a whole sequence to one answer (classification, forecasting)."""

from __future__ import annotations

from typing import Any

import keras

from rnn_templates.cells import POOLINGS, RecurrentConfig, recurrent_stack
from rnn_templates.ensemble import MemberOutputs
from rnn_templates.layers import (
    MaskedGlobalAveragePooling1D,
    MaskedGlobalMaxPooling1D,
    NgramIds,
)
from rnn_templates.topologies._common import (
    output_head,
    positive_int,
    resolve_rnn,
    sequence_input,
)


def build_many_to_one(
    output_dim: int,
    *,
    vocab_size: int | None = None,
    input_dim: int | None = None,
    embedding_dim: int = 64,
    timesteps: int | None = None,
    mask_value: float | None = None,
    rnn: RecurrentConfig | dict | None = None,
    pooling: str = "last",
    embedding_dropout: float = 0.0,
    word_dropout: float = 0.0,
    pretrained: Any = None,
    freeze: str = "never",
    head_dropout: float = 0.0,
    ngram_buckets: int = 0,
    output_activation: str | None = None,
    members: int = 1,
    mask_zero: bool = True,
    name: str = "many_to_one",
) -> keras.Model:
    """Sequence in, one vector out; the last step (or both ends) summarises it.

    Give ``vocab_size`` for token ids (0 = padding, masked) or ``input_dim``
    for real-valued steps. Variable lengths work with right padding: the mask
    makes the recurrent layer carry its state through padded steps, so the
    answer is read at each sequence's own last real token.

    Args:
        output_dim: Width of the output (classes, or forecast values).
        vocab_size: Token vocabulary size including padding id 0.
        input_dim: Features per step for real-valued input.
        embedding_dim: Embedding width for token input.
        timesteps: Fixed length, or None for variable length.
        mask_value: For real-valued input, the padding value to mask.
        rnn: Recurrent options.
        pooling: How the sequence becomes one vector: ``"last"`` (the final
            state; both ends when bidirectional), ``"mean"`` or ``"max"`` over
            the real steps of the last layer's outputs, or ``"mean_max"``
            (both concatenated). Pooling lets evidence anywhere in a long
            sequence reach the output without surviving every later step.
        embedding_dropout: For token input, drop whole embedding channels
            (``SpatialDropout1D``), a regulariser for small text datasets.
        word_dropout: For token input, replace whole words by the unknown id
            while training, another small-data regulariser.
        pretrained: For token input, starting embedding rows
            ``(vocab_size, embedding_dim)`` (pretrained word vectors).
        freeze: ``"never"``, ``"always"``, ``"gated"`` (frozen until opened) or
            ``"multichannel"`` (a frozen and a fine-tuned copy side by side);
            see :func:`~rnn_templates.topologies._common.sequence_input`.
        head_dropout: Dropout before the output layer.
        ngram_buckets: For token input, add a bag of words and hashed word
            pairs (this many buckets) to the output logits: a fastText-style
            linear path trained jointly with the recurrent one, strong where
            word identity carries most of the signal. 0 = off.
        output_activation: Head activation (``"softmax"``, ``"sigmoid"``, None).
        members: More than 1: that many whole models (``member_1..N``, each
            with its own embedding, recurrent stack and head) side by side on
            the same input, a deep ensemble answering with their mean
            (:mod:`rnn_templates.ensemble`). Compile it with
            :class:`~rnn_templates.ensemble.EnsembleLoss` and
            :class:`~rnn_templates.ensemble.EnsembleMetric`, giving both
            ``output_axes=1`` (each member's output is one vector), e.g.
            ``EnsembleLoss("sparse_categorical_crossentropy", output_axes=1)``
            and ``EnsembleMetric("sparse_categorical_accuracy", output_axes=1)``.
        mask_zero: Token input: id 0 is padding (masked). False for sequences
            that are never padded: no mask, so LSTM and GRU keep their fused
            kernels on the JAX and PyTorch backends too (a mask sends them to
            a per-step loop there).
        name: Model name.

    Returns:
        A model mapping ``(batch, time[, input_dim])`` to ``(batch, output_dim)``.
        Layers: ``embedding`` or ``masking``, ``rnn_1..N``, ``pooling`` (unless
        ``"last"``), ``output_head``; with n-grams also ``ngram_ids``,
        ``ngram_embedding``, ``ngram_mean``, ``logits`` and ``output``.

    Example:
        >>> model = build_many_to_one(2, vocab_size=100, output_activation="softmax",
        ...                           rnn={"cell": "gru", "units": 16, "bidirectional": True})
        >>> tuple(model.output_shape)
        (None, 2)
        >>> pair = build_many_to_one(2, vocab_size=100, output_activation="softmax",
        ...                          rnn={"units": 8}, members=2)
        >>> [layer.name for layer in pair.layers[1:]]
        ['member_1', 'member_2', 'members']
    """
    # Every argument but these shapes each member alike (read first, before any local).
    options = {k: v for k, v in locals().items() if k not in ("output_dim", "members", "name")}
    members = positive_int("members", members)
    if members > 1:
        parts = [build_many_to_one(output_dim, **options, name=f"member_{i + 1}")
                 for i in range(members)]
        inputs = keras.Input(batch_shape=parts[0].inputs[0].shape,
                             dtype=parts[0].inputs[0].dtype, name=parts[0].inputs[0].name)
        outputs = MemberOutputs(name="members")([part(inputs) for part in parts])
        return keras.Model(inputs, outputs, name=name)
    config = resolve_rnn(rnn)
    if pooling not in POOLINGS:
        raise ValueError(
            f"`pooling` must be one of {', '.join(map(repr, POOLINGS))}; received {pooling!r}"
        )
    inputs, features = sequence_input(
        vocab_size=vocab_size,
        input_dim=input_dim,
        embedding_dim=embedding_dim,
        timesteps=timesteps,
        mask_value=mask_value,
        embedding_dropout=embedding_dropout,
        word_dropout=word_dropout,
        pretrained=pretrained,
        freeze=freeze,
        mask_zero=mask_zero,
    )
    if pooling == "last":
        hidden = recurrent_stack(features, config, name="rnn")
    else:
        sequence = recurrent_stack(features, config, return_sequences=True, name="rnn")
        hidden = _pool(sequence, pooling)
    if not ngram_buckets:
        outputs = output_head(hidden, output_dim, output_activation, dropout=head_dropout)
        return keras.Model(inputs, outputs, name=name)
    if vocab_size is None:
        raise ValueError("`ngram_buckets` needs token input (`vocab_size`)")
    logits = output_head(hidden, output_dim, None, dropout=head_dropout)
    bag = NgramIds(vocab_size, ngram_buckets, name="ngram_ids")(inputs)
    bag = keras.layers.Embedding(vocab_size + ngram_buckets, output_dim, mask_zero=True,
                                 name="ngram_embedding")(bag)
    bag = MaskedGlobalAveragePooling1D(name="ngram_mean")(bag)
    logits = keras.layers.Add(name="logits")([logits, bag])
    outputs = keras.layers.Activation(output_activation or "linear", name="output")(logits)
    return keras.Model(inputs, outputs, name=name)


def _pool(sequence, pooling: str):
    """Masked pooling over time of ``(batch, time, width)`` outputs."""
    if pooling == "mean":
        return MaskedGlobalAveragePooling1D(name="pooling")(sequence)
    if pooling == "max":
        return MaskedGlobalMaxPooling1D(name="pooling")(sequence)
    mean = MaskedGlobalAveragePooling1D(name="pooling_mean")(sequence)
    peak = MaskedGlobalMaxPooling1D(name="pooling_max")(sequence)
    return keras.layers.Concatenate(name="pooling")([mean, peak])
