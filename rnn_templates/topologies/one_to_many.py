"""One-to-many: one input vector conditions a whole output sequence.

Two ways, as in the literature:

- :func:`build_one_to_many`: the vector is projected and repeated at every step
  (the RepeatVector recipe), so the recurrent stack sees the condition at each
  step and emits a fixed number of steps in one call;
- :func:`build_conditioned_generator`: the vector sets the recurrent state
  (as an image sets a caption decoder's, Vinyals et al. 2015), and the model
  is a language model trained with teacher forcing; generation feeds each
  sampled token back, with :func:`rnn_templates.decoding.generate`
  (``conditions=``), for as many steps as asked.

For free-running generation without a condition, build an aligned
many-to-many language model and sample it the same way.
"""

from __future__ import annotations

import keras

from rnn_templates.cells import (
    RecurrentConfig,
    make_recurrent_layer,
    recurrent_stack,
    warn_if_slow,
)
from rnn_templates.topologies._common import output_head, positive_int, rate, resolve_rnn


def build_one_to_many(
    input_dim: int,
    output_steps: int,
    output_dim: int,
    *,
    rnn: RecurrentConfig | dict | None = None,
    output_activation: str | None = None,
    name: str = "one_to_many",
) -> keras.Model:
    """Vector in, sequence of ``output_steps`` vectors out.

    Args:
        input_dim: Features in the conditioning vector.
        output_steps: Length of the produced sequence.
        output_dim: Features per output step (classes for softmax).
        rnn: Recurrent options.
        output_activation: Activation applied per step.
        name: Model name.

    Returns:
        A model mapping ``(batch, input_dim)`` to ``(batch, output_steps, output_dim)``.

    Example:
        >>> model = build_one_to_many(4, output_steps=6, output_dim=10)
        >>> tuple(model.output_shape)
        (None, 6, 10)
    """
    output_steps = positive_int("output_steps", output_steps)
    config = resolve_rnn(rnn)
    input_dim = positive_int("input_dim", input_dim)
    inputs = keras.Input((input_dim,), name="inputs")
    condition = keras.layers.Dense(config.units, activation="tanh", name="condition")(inputs)
    repeated = keras.layers.RepeatVector(output_steps, name="repeat")(condition)
    hidden = recurrent_stack(repeated, config, return_sequences=True, name="rnn")
    outputs = output_head(hidden, output_dim, output_activation)
    return keras.Model(inputs, outputs, name=name)


def build_conditioned_generator(
    condition_dim: int,
    vocab_size: int,
    *,
    embedding_dim: int = 64,
    rnn: RecurrentConfig | dict | None = None,
    head_dropout: float = 0.0,
    output_activation: str | None = "softmax",
    name: str = "conditioned_generator",
) -> keras.Model:
    """A token language model whose recurrent state starts from a condition vector.

    Each recurrent layer's initial state (``h``, and ``c`` for LSTM) is a
    ``tanh`` projection of the condition, so one vector (an image's features,
    a style, a class) steers the whole sequence. Trained with teacher forcing:
    inputs are the tokens ``[start, y1, ..., yn-1]``, targets ``[y1, ..., yn]``.

    Args:
        condition_dim: Features of the condition vector.
        vocab_size: Token vocabulary, id 0 being padding (masked).
        embedding_dim: Token embedding width.
        rnn: Recurrent options (not bidirectional: generation cannot read the
            future).
        head_dropout: Dropout before the output layer.
        output_activation: Per-step activation (softmax or None for logits).
        name: Model name.

    Returns:
        A model mapping ``[condition (batch, condition_dim), tokens (batch,
        time)]`` to ``(batch, time, vocab_size)``. Layers: ``embedding``,
        ``condition_<i>_h`` (and ``_c``), ``rnn_1..N``, ``output_head``;
        :func:`rnn_templates.decoding.generate` samples it given ``conditions``.

    Example:
        >>> model = build_conditioned_generator(5, 30, rnn={"cell": "lstm", "units": 8})
        >>> [tuple(i.shape) for i in model.inputs], tuple(model.output_shape)
        ([(None, 5), (None, None)], (None, None, 30))
    """
    config = resolve_rnn(rnn)
    if config.bidirectional:
        raise ValueError("a conditioned generator cannot be bidirectional: generating reads "
                         "one token at a time and cannot see the future")
    condition_dim = positive_int("condition_dim", condition_dim)
    vocab_size = positive_int("vocab_size", vocab_size, minimum=2)
    embedding_dim = positive_int("embedding_dim", embedding_dim)
    rate("head_dropout", head_dropout)
    warn_if_slow(config)
    condition = keras.Input((condition_dim,), name="condition")
    tokens = keras.Input((None,), dtype="int32", name="tokens")
    x = keras.layers.Embedding(vocab_size, embedding_dim, mask_zero=True,
                               name="embedding")(tokens)
    for index in range(1, config.num_layers + 1):
        states = [keras.layers.Dense(config.units, activation="tanh",
                                     name=f"condition_{index}_{state}")(condition)
                  for state in config.state_names]
        layer = make_recurrent_layer(config, return_sequences=True, name=f"rnn_{index}")
        x = layer(x, initial_state=states)
    outputs = output_head(x, vocab_size, output_activation, dropout=head_dropout)
    return keras.Model([condition, tokens], outputs, name=name)
