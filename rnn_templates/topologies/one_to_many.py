"""One-to-many: one input vector conditions a whole output sequence.

The vector is projected and repeated at every step (the RepeatVector recipe),
so the recurrent stack sees the condition at each step. For free-running
generation, where each output feeds the next input, build an aligned
many-to-many language model and sample from it with
:func:`rnn_templates.decoding.generate`.
"""

from __future__ import annotations

import keras

from rnn_templates.cells import RecurrentConfig, recurrent_stack
from rnn_templates.topologies._common import output_head, positive_int, resolve_rnn


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
