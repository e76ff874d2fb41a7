"""One-to-one: a single input vector to a single output, through one recurrent step.

This is the degenerate case of the textbook diagram (a feed-forward network in
recurrent clothing). It exists so the cell options can be compared on
non-sequential data and so teaching material can show all five topologies.
"""

from __future__ import annotations

import keras

from rnn_templates.cells import RecurrentConfig, recurrent_stack
from rnn_templates.topologies._common import output_head, positive_int, resolve_rnn


def build_one_to_one(
    input_dim: int,
    output_dim: int,
    *,
    rnn: RecurrentConfig | dict | None = None,
    output_activation: str | None = None,
    name: str = "one_to_one",
) -> keras.Model:
    """Vector in, vector out, via a recurrent stack run for one time step.

    Args:
        input_dim: Features in the input vector.
        output_dim: Width of the output.
        rnn: Recurrent options (cell, units, layers, ...).
        output_activation: Activation of the head (``"softmax"``, ``None``...).
        name: Model name.

    Returns:
        A model mapping ``(batch, input_dim)`` to ``(batch, output_dim)``.

    Example:
        >>> model = build_one_to_one(4, 3, output_activation="softmax")
        >>> tuple(model.output_shape)
        (None, 3)
    """
    config = resolve_rnn(rnn)
    input_dim = positive_int("input_dim", input_dim)
    inputs = keras.Input((input_dim,), name="inputs")
    steps = keras.layers.Reshape((1, input_dim), name="as_one_step")(inputs)
    hidden = recurrent_stack(steps, config, name="rnn")
    outputs = output_head(hidden, output_dim, output_activation)
    return keras.Model(inputs, outputs, name=name)
