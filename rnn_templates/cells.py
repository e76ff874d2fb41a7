"""Cell factory: one place that turns a few plain options into recurrent layers.

Every topology builder goes through :func:`recurrent_stack`, so the same options
(cell type, width, depth, direction, dropout) mean the same thing everywhere and
are checked once, with messages that name the option, the value received and
the values accepted.

The defaults keep LSTM and GRU on the cuDNN fast path on GPUs (tanh activation,
sigmoid recurrent activation, no recurrent dropout, not unrolled, right-padded
masks). An option that leaves the fast path logs one warning that names it,
because the slowdown (often 3-10x on a GPU) is otherwise silent.
"""

from __future__ import annotations

import dataclasses
import logging
import numbers
from typing import Any

from rnn_templates.config import CELLS

logger = logging.getLogger("rnn_templates")

ACTIVATIONS = ("tanh", "relu", "sigmoid")
MERGE_MODES = ("concat", "sum", "mul", "ave")
# How a many-to-one model turns the stack's outputs into one vector.
POOLINGS = ("last", "mean", "max", "mean_max")


def __getattr__(name: str) -> Any:
    # Keras (and TensorFlow with it) loads only when a layer class is asked for,
    # so configs can be checked without it.
    if name == "CELL_TYPES":
        return _cell_types()
    raise AttributeError(f"module 'rnn_templates.cells' has no attribute {name!r}")


def _cell_types() -> dict[str, Any]:
    import keras

    return {"simple": keras.layers.SimpleRNN, "lstm": keras.layers.LSTM, "gru": keras.layers.GRU}


@dataclasses.dataclass
class RecurrentConfig:
    """Options for a stack of recurrent layers.

    Attributes:
        cell: ``"simple"`` (Elman SimpleRNN), ``"lstm"`` or ``"gru"``.
        units: Hidden units per layer (per direction when bidirectional).
        num_layers: Stacked recurrent layers; all but the last return sequences.
        bidirectional: Read the sequence both ways and merge the two outputs.
        merge_mode: How bidirectional outputs merge: concat, sum, mul or ave.
        dropout: Dropout on each layer's inputs, 0 <= rate < 1.
        recurrent_dropout: Dropout on the recurrent state. Leaves cuDNN.
        activation: Cell activation: tanh (default), relu or sigmoid. Anything
            but tanh leaves cuDNN; relu in a SimpleRNN is the classic way to
            meet exploding activations, so pair it with gradient clipping.
        unroll: Unroll the time loop (short fixed-length sequences only).
    """

    cell: str = "lstm"
    units: int = 64
    num_layers: int = 1
    bidirectional: bool = False
    merge_mode: str = "concat"
    dropout: float = 0.0
    recurrent_dropout: float = 0.0
    activation: str = "tanh"
    unroll: bool = False

    def __post_init__(self) -> None:
        validate_config(self)

    @property
    def output_width(self) -> int:
        """Features per step that the stack emits (doubles under concat)."""
        if self.bidirectional and self.merge_mode == "concat":
            return 2 * self.units
        return self.units

    @property
    def state_names(self) -> tuple[str, ...]:
        """Names of one direction's carried states: ("h", "c") for LSTM."""
        return ("h", "c") if self.cell == "lstm" else ("h",)


def _choice_error(option: str, value: Any, valid: tuple[str, ...] | list[str]) -> ValueError:
    return ValueError(
        f"`{option}` must be one of {', '.join(repr(v) for v in valid)}; received {value!r}"
    )


def positive_int(name: str, value: Any, *, minimum: int = 1, optional: bool = False) -> Any:
    """``value`` as an int >= ``minimum`` (NumPy integers too); else a ValueError naming it.

    ``optional``: None passes through unchanged.
    """
    if value is None and optional:
        return None
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < minimum:
        what = "a positive integer" if minimum == 1 else f"an integer >= {minimum}"
        raise ValueError(f"`{name}` must be {what}{' or None' if optional else ''}; "
                         f"received {value!r}")
    return int(value)


def rate(name: str, value: Any) -> float:
    """``value`` as a dropout rate in [0, 1); else a ValueError naming it."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not 0.0 <= value < 1.0:
        raise ValueError(f"`{name}` must be a number in [0, 1); received {value!r}")
    return float(value)


def validate_config(config: RecurrentConfig) -> None:
    """Raise ``ValueError`` naming the first bad option in ``config``."""
    if not isinstance(config.cell, str) or config.cell.lower() not in CELLS:
        raise _choice_error("cell", config.cell, CELLS)
    config.cell = config.cell.lower()
    if config.activation not in ACTIVATIONS:
        raise _choice_error("activation", config.activation, ACTIVATIONS)
    if config.merge_mode not in MERGE_MODES:
        raise _choice_error("merge_mode", config.merge_mode, MERGE_MODES)
    for name in ("units", "num_layers"):
        setattr(config, name, positive_int(name, getattr(config, name)))
    for name in ("dropout", "recurrent_dropout"):
        setattr(config, name, rate(name, getattr(config, name)))


def cudnn_blockers(config: RecurrentConfig) -> list[str]:
    """Options in ``config`` that keep an LSTM/GRU off the cuDNN kernel.

    SimpleRNN has no cuDNN kernel at all, so nothing is reported for it.

    Returns:
        Human-readable ``option=value`` strings; empty when eligible.
    """
    if config.cell == "simple":
        return []
    blockers = []
    if config.activation != "tanh":
        blockers.append(f"activation={config.activation!r}")
    if config.recurrent_dropout > 0:
        blockers.append(f"recurrent_dropout={config.recurrent_dropout}")
    if config.unroll:
        blockers.append("unroll=True")
    return blockers


def warn_if_slow(config: RecurrentConfig, where: str = "rnn") -> None:
    """Log one warning when ``config`` leaves the cuDNN fast path."""
    blockers = cudnn_blockers(config)
    if blockers:
        logger.warning(
            "%s: %s %s leaves the cuDNN fast path (GPU training can be several times "
            "slower); keep activation='tanh', recurrent_dropout=0, unroll=False to stay on it",
            where,
            config.cell.upper(),
            ", ".join(blockers),
        )


def make_recurrent_layer(
    config: RecurrentConfig,
    *,
    return_sequences: bool,
    return_state: bool = False,
    stateful: bool = False,
    name: str,
) -> Any:
    """One recurrent layer (wrapped in ``Bidirectional`` if asked), named ``name``."""
    import keras

    kwargs: dict[str, Any] = dict(
        units=config.units,
        activation=config.activation,
        dropout=config.dropout,
        recurrent_dropout=config.recurrent_dropout,
        unroll=config.unroll,
        return_sequences=return_sequences,
        return_state=return_state,
        stateful=stateful,
    )
    layer_cls = _cell_types()[config.cell]
    if config.bidirectional:
        inner = layer_cls(**kwargs, name=f"{name}_forward")
        return keras.layers.Bidirectional(inner, merge_mode=config.merge_mode, name=name)
    return layer_cls(**kwargs, name=name)


def resolve_rnn(rnn: RecurrentConfig | dict | None) -> RecurrentConfig:
    """Accept a config, a plain dict of its fields, or None for the defaults."""
    if rnn is None:
        return RecurrentConfig()
    if isinstance(rnn, RecurrentConfig):
        return rnn
    if isinstance(rnn, dict):
        valid = {f.name for f in RecurrentConfig.__dataclass_fields__.values()}
        unknown = sorted(set(rnn) - valid)
        if unknown:
            raise ValueError(
                f"unknown recurrent option(s) {', '.join(unknown)}; valid options: "
                f"{', '.join(sorted(valid))}"
            )
        return RecurrentConfig(**rnn)
    raise ValueError(f"`rnn` must be a RecurrentConfig or dict; received {type(rnn).__name__}")


def recurrent_stack(
    x: Any,
    config: RecurrentConfig | dict,
    *,
    return_sequences: bool = False,
    return_state: bool = False,
    initial_state: list[Any] | None = None,
    stateful: bool = False,
    name: str = "rnn",
) -> Any:
    """Apply ``config.num_layers`` recurrent layers to the symbolic tensor ``x``.

    Layers are named ``{name}_1`` ... ``{name}_N`` so callers and tests can
    fetch them with ``model.get_layer``. Masks attached to ``x`` (from an
    ``Embedding(mask_zero=True)`` or ``Masking`` layer) flow through.

    Args:
        x: Symbolic input of shape ``(batch, time, features)``.
        config: The stack's options (a :class:`RecurrentConfig` or a dict of its
            fields), checked again here.
        return_sequences: Whether the last layer returns every step
            ``(batch, time, width)`` or only the last ``(batch, width)``.
        return_state: Also return the last layer's final states.
        initial_state: Initial states for the first layer (decoders).
        stateful: Carry state across calls (fixed batch size needed).
        name: Prefix for the layer names.

    Returns:
        The output tensor, or ``(output, states)`` when ``return_state``; for a
        bidirectional stack ``states`` holds the forward then backward states.

    Example:
        >>> import keras
        >>> from rnn_templates.cells import RecurrentConfig, recurrent_stack
        >>> inputs = keras.Input((None, 3))
        >>> y = recurrent_stack(inputs, RecurrentConfig(cell="gru", units=8, num_layers=2))
        >>> tuple(y.shape)
        (None, 8)
    """
    config = resolve_rnn(config)
    validate_config(config)  # again: a config may have been edited since it was made
    if stateful and config.bidirectional:
        raise ValueError("`stateful=True` cannot be combined with `bidirectional=True`: a "
                         "stateful model is read left to right across calls")
    warn_if_slow(config, name)
    for index in range(1, config.num_layers + 1):
        last = index == config.num_layers
        layer = make_recurrent_layer(
            config,
            return_sequences=return_sequences or not last,
            return_state=return_state and last,
            stateful=stateful,
            name=f"{name}_{index}",
        )
        state_for_layer = initial_state if index == 1 else None
        out = layer(x, initial_state=state_for_layer) if state_for_layer else layer(x)
        if return_state and last:
            return out[0], list(out[1:])
        x = out
    return x
