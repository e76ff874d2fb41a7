"""Encoder-decoder many-to-many: input and output sequences of different lengths.

Training uses teacher forcing: the decoder reads the target shifted right by
one (a start token first) and predicts the next target token at every step.
Layer ``i`` of the encoder hands its final states to layer ``i`` of the
decoder, so stacked models keep one bridge per depth. With ``attention=True``
every decoder step also reads a dot-product summary of all encoder steps
(Luong-style), with padded source steps masked out.

For inference, :func:`seq2seq_inference_models` reuses the trained layers (by
name) to build an encoder model and a one-step decoder that takes and returns
its states explicitly, which is what batched greedy and beam-search decoding
need.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import keras

from rnn_templates.cells import RecurrentConfig, make_recurrent_layer, warn_if_slow
from rnn_templates.layers import DropMask, SourceMask
from rnn_templates.topologies._common import (
    output_head,
    positive_int,
    resolve_rnn,
    sequence_input,
)


def _decoder_config(config: RecurrentConfig) -> RecurrentConfig:
    # A bidirectional encoder's two directions are concatenated into one state,
    # so the (always left-to-right) decoder is twice as wide.
    units = 2 * config.units if config.bidirectional else config.units
    return dataclasses.replace(config, bidirectional=False, units=units)


def build_seq2seq(
    target_dim: int,
    *,
    source_vocab_size: int | None = None,
    source_dim: int | None = None,
    source_mask_value: float | None = None,
    target_vocab_size: int | None = None,
    target_input_dim: int | None = None,
    embedding_dim: int = 64,
    rnn: RecurrentConfig | dict | None = None,
    attention: bool | str | None = False,
    dropout: float = 0.0,
    output_activation: str | None = "softmax",
    name: str = "seq2seq",
) -> keras.Model:
    """Encoder-decoder model trained with teacher forcing.

    Args:
        target_dim: Width of each output step (target vocabulary for softmax).
        source_vocab_size: Source token vocabulary (ids, 0 = padding).
        source_dim: Features per source step for real-valued sources.
        source_mask_value: With ``source_dim``: source steps whose features
            all equal it are padding (masked in the encoder and in attention).
            Token sources are masked by id 0.
        target_vocab_size: Target token vocabulary for the decoder input.
        target_input_dim: Features per decoder-input step for real values.
        embedding_dim: Embedding width for token inputs.
        rnn: Recurrent options shared by encoder and decoder. A bidirectional
            encoder needs ``merge_mode="concat"``.
        attention: Attention over the encoder outputs: ``False``/``None`` (none),
            ``"dot"`` (or ``True``), ``"luong"`` or ``"bahdanau"``.
        dropout: Dropout before the output layer (0 <= rate < 1).
        output_activation: Activation per output step.
        name: Model name.

    Returns:
        A model taking ``[source (batch, src_time), decoder_input (batch,
        tgt_time)]`` and returning ``(batch, tgt_time, target_dim)``. Layers:
        ``encoder_1..N``, ``decoder_1..N``, optional ``attention`` (with
        ``attention_query``/``attention_keys`` projections for luong and
        bahdanau), and ``output_head``.

    Example:
        >>> model = build_seq2seq(30, source_vocab_size=40, target_vocab_size=30,
        ...                       rnn={"cell": "gru", "units": 16}, attention=True)
        >>> tuple(model.output_shape)
        (None, None, 30)
    """
    config = resolve_rnn(rnn)
    attention = _attention_kind(attention)
    target_dim = positive_int("target_dim", target_dim)
    if config.bidirectional and config.merge_mode != "concat":
        raise ValueError(
            "a bidirectional seq2seq encoder needs merge_mode='concat' (its states are "
            f"concatenated for the decoder); received merge_mode={config.merge_mode!r}"
        )
    warn_if_slow(config, "encoder")
    if source_mask_value is not None and source_vocab_size is not None:
        raise ValueError("`source_mask_value` masks real-valued source steps (`source_dim`); "
                         "token sources are masked by id 0")
    encoder_inputs, x = sequence_input(
        vocab_size=source_vocab_size,
        input_dim=source_dim,
        embedding_dim=embedding_dim,
        mask_value=source_mask_value,
        name="encoder_inputs",
        embedding_name="encoder_embedding",
        masking_name="encoder_masking",
    )
    decoder_inputs, y = sequence_input(
        vocab_size=target_vocab_size,
        input_dim=target_input_dim,
        embedding_dim=embedding_dim,
        name="decoder_inputs",
        embedding_name="decoder_embedding",
    )
    bridges = []
    for index in range(1, config.num_layers + 1):
        layer = make_recurrent_layer(
            config, return_sequences=True, return_state=True, name=f"encoder_{index}"
        )
        x, *states = layer(x)
        if config.bidirectional:
            half = len(config.state_names)
            states = [
                keras.layers.Concatenate(name=f"encoder_{index}_{state_name}")(
                    [states[k], states[half + k]]
                )
                for k, state_name in enumerate(config.state_names)
            ]
        bridges.append(states)
    encoder_outputs = x

    decoder_config = _decoder_config(config)
    for index in range(1, config.num_layers + 1):
        layer = make_recurrent_layer(
            decoder_config, return_sequences=True, return_state=True, name=f"decoder_{index}"
        )
        y, *_ = layer(y, initial_state=bridges[index - 1])
    if attention:
        y = _attend(y, encoder_outputs, decoder_config.units, attention)
    outputs = output_head(y, target_dim, output_activation, dropout=dropout,
                          dropout_option="dropout")
    return keras.Model([encoder_inputs, decoder_inputs], outputs, name=name)


ATTENTION_KINDS = ("dot", "luong", "bahdanau")


def _attention_kind(attention: bool | str | None) -> str | None:
    if attention is None or attention is False:
        return None
    if attention is True:
        return "dot"
    if attention not in ATTENTION_KINDS:
        raise ValueError(
            f"`attention` must be False, True or one of {', '.join(map(repr, ATTENTION_KINDS))}; "
            f"received {attention!r}"
        )
    return attention


def _attend(query: Any, values: Any, units: int, kind: str) -> Any:
    """Attention layers in training; the mask of ``values`` keeps padded steps out.

    The attention layer is called with ``return_attention_scores=True`` although
    training ignores the scores: a Keras layer keeps the number of outputs of
    its first call, and the step model of :func:`seq2seq_inference_models`
    needs them.
    """
    if kind == "bahdanau":
        layer = keras.layers.AdditiveAttention(name="attention")
        keys = keras.layers.Dense(units, use_bias=False, name="attention_keys")(values)
        scored = keras.layers.Dense(units, use_bias=False, name="attention_query")(query)
        context, _ = layer([scored, values, keys], return_attention_scores=True)
    elif kind == "luong":
        # q^T W k, computed as (W^T q)^T k so the keys need no projection per step.
        scored = keras.layers.Dense(values.shape[-1], use_bias=False,
                                    name="attention_query")(query)
        context, _ = keras.layers.Attention(name="attention")([scored, values],
                                                              return_attention_scores=True)
    else:
        context, _ = keras.layers.Attention(name="attention")([query, values],
                                                              return_attention_scores=True)
    merged = keras.layers.Concatenate(name="attention_concat")([query, context])
    return keras.layers.Dense(units, activation="tanh", name="attention_projection")(merged)


def _attend_step(model: keras.Model, query: Any, memory: Any, mask: Any) -> tuple[Any, Any]:
    """The trained attention layers on one decoder step: ``(output, scores (batch, 1, src))``."""
    layer = model.get_layer("attention")
    scored = query
    projection = _layer_or_none(model, "attention_query")
    if projection is not None:
        scored = projection(query)
    inputs = [scored, memory]
    keys = _layer_or_none(model, "attention_keys")
    if keys is not None:
        inputs.append(keys(memory))
    context, scores = layer(inputs, mask=[None, mask], return_attention_scores=True)
    merged = model.get_layer("attention_concat")([query, context])
    return model.get_layer("attention_projection")(merged), scores


def _layer_or_none(model: keras.Model, name: str) -> keras.layers.Layer | None:
    try:
        return model.get_layer(name)
    except ValueError:
        return None


def seq2seq_inference_models(
    model: keras.Model, *, return_attention: bool = False
) -> tuple[keras.Model, keras.Model]:
    """Split a trained :func:`build_seq2seq` model for step-by-step decoding.

    Args:
        model: A model from :func:`build_seq2seq` (trained, or reloaded).
        return_attention: The step model also returns the attention weights
            ``(batch, 1, src_time)`` last (needs an attention layer).

    Returns:
        ``(encoder, decoder_step)``. ``encoder(source)`` returns
        ``[encoder_outputs, source_mask, *states]``; ``decoder_step([token,
        encoder_outputs, source_mask, *states])`` takes one decoder input step
        ``(batch, 1)`` and returns ``[step_output (batch, 1, target_dim),
        *new_states]``. States are listed layer by layer (h, then c for LSTM).
    """
    decoder_layers = []
    index = 1
    while (layer := _layer_or_none(model, f"decoder_{index}")) is not None:
        decoder_layers.append(layer)
        index += 1
    if not decoder_layers:
        raise ValueError(f"model {model.name!r} has no layers named decoder_1.. (not a seq2seq)")
    num_layers = len(decoder_layers)
    encoder_inputs = model.get_layer("encoder_inputs").output
    # The same mask the trained model uses: token ids 0 are padding; real-valued
    # steps are padding where every feature equals `source_mask_value`, if given.
    masking = _layer_or_none(model, "encoder_masking")
    if len(encoder_inputs.shape) == 2:
        source_mask = SourceMask("tokens", name="source_mask")(encoder_inputs)
    elif masking is not None:
        source_mask = SourceMask("value", float(masking.mask_value),
                                 name="source_mask")(encoder_inputs)
    else:
        source_mask = SourceMask("all", name="source_mask")(encoder_inputs)
    states = []
    for layer_index in range(1, num_layers + 1):
        concatenated = [
            _layer_or_none(model, f"encoder_{layer_index}_{state_name}")
            for state_name in ("h", "c")
        ]
        if concatenated[0] is not None:
            states.extend(layer.output for layer in concatenated if layer is not None)
        else:
            states.extend(model.get_layer(f"encoder_{layer_index}").output[1:])
    encoder_outputs = model.get_layer(f"encoder_{num_layers}").output[0]
    # The mask travels as its own output: the outputs go without Keras's attached one.
    encoder_outputs = DropMask(name="encoder_outputs_unmasked")(encoder_outputs)
    encoder = keras.Model(
        encoder_inputs, [encoder_outputs, source_mask, *states], name="seq2seq_encoder"
    )

    decoder_input_layer = model.get_layer("decoder_inputs")
    input_shape = decoder_input_layer.output.shape[2:]
    token = keras.Input((1, *input_shape), dtype=decoder_input_layer.output.dtype, name="step")
    memory = keras.Input(tuple(encoder_outputs.shape[1:]), name="encoder_outputs")
    memory_mask = keras.Input((None,), dtype="bool", name="source_mask")
    per_layer = len(states) // num_layers
    state_inputs = [
        keras.Input(tuple(s.shape[1:]), name=f"state_{k}") for k, s in enumerate(states)
    ]
    embedding = _layer_or_none(model, "decoder_embedding")
    y = embedding(token) if embedding is not None else token
    new_states = []
    for layer_index, layer in enumerate(decoder_layers):
        carried = state_inputs[layer_index * per_layer : (layer_index + 1) * per_layer]
        y, *layer_states = layer(y, initial_state=carried)
        new_states.extend(layer_states)
    extra = []
    if _layer_or_none(model, "attention") is not None:
        y, scores = _attend_step(model, y, memory, memory_mask)
        if return_attention:
            extra.append(scores)
    elif return_attention:
        raise ValueError(f"model {model.name!r} has no attention layer; "
                         "call with return_attention=False")
    step_output = model.get_layer("output_head")(y)
    decoder_step = keras.Model(
        [token, memory, memory_mask, *state_inputs],
        [step_output, *new_states, *extra],
        name="seq2seq_decoder_step",
    )
    return encoder, decoder_step
