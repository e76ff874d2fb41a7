"""Aligned many-to-many: one output per input step (tagging, language models)."""

from __future__ import annotations

import keras

from rnn_templates.cells import RecurrentConfig, recurrent_stack
from rnn_templates.topologies._common import output_head, resolve_rnn, sequence_input


def build_many_to_many(
    output_dim: int,
    *,
    vocab_size: int | None = None,
    input_dim: int | None = None,
    embedding_dim: int = 64,
    timesteps: int | None = None,
    mask_value: float | None = None,
    rnn: RecurrentConfig | dict | None = None,
    head_dropout: float = 0.0,
    output_activation: str | None = None,
    stateful: bool = False,
    batch_size: int | None = None,
    mask_zero: bool = True,
    name: str = "many_to_many",
) -> keras.Model:
    """Sequence in, a sequence of the same length out.

    Padded steps carry the input mask through to the output, so Keras losses
    and metrics ignore them. With ``stateful=True`` (which needs a fixed
    ``batch_size``) each call starts from the state the previous call ended
    in: that is how truncated backpropagation through time feeds a long series
    in chunks (:func:`rnn_templates.tbptt.fit_tbptt` trains such a model,
    resetting the state between series; :func:`rnn_templates.reset_states`
    zeroes it, as Keras 3 models have no ``reset_states()``). To generate, a
    plain (not stateful) model is enough:
    :class:`rnn_templates.sampling.RecurrentSampler` carries the state itself,
    step by step. Bidirectional stacks cannot generate, since they read the
    future.

    Args:
        output_dim: Width of each step's output (tags, vocabulary, values).
        vocab_size: Token vocabulary size including padding id 0.
        input_dim: Features per step for real-valued input.
        embedding_dim: Embedding width for token input.
        timesteps: Fixed length, or None for variable length.
        mask_value: For real-valued input, the padding value to mask.
        rnn: Recurrent options.
        head_dropout: Dropout before the output layer.
        output_activation: Activation per step.
        stateful: Keep recurrent state between calls.
        batch_size: Fixed batch size (required when stateful).
        mask_zero: Token input: id 0 is padding (masked). False for windows
            that are never padded: no mask, the fused kernel on every backend.
        name: Model name.

    Returns:
        A model mapping ``(batch, time[, input_dim])`` to ``(batch, time, output_dim)``.

    Example:
        >>> model = build_many_to_many(5, vocab_size=50, rnn={"cell": "lstm", "units": 8})
        >>> tuple(model.output_shape)
        (None, None, 5)
    """
    config = resolve_rnn(rnn)
    if stateful:
        if batch_size is None:
            raise ValueError("`stateful=True` needs a fixed `batch_size`; received batch_size=None")
        if config.bidirectional:
            raise ValueError(
                "`stateful=True` cannot be combined with `bidirectional=True`: a stateful "
                "model is read left to right across calls"
            )
    inputs, features = sequence_input(
        vocab_size=vocab_size,
        input_dim=input_dim,
        embedding_dim=embedding_dim,
        timesteps=timesteps,
        mask_value=mask_value,
        batch_size=batch_size,
        mask_zero=mask_zero,
    )
    hidden = recurrent_stack(
        features, config, return_sequences=True, stateful=stateful, name="rnn"
    )
    outputs = output_head(hidden, output_dim, output_activation, dropout=head_dropout)
    return keras.Model(inputs, outputs, name=name)
