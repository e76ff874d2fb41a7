"""Forecasters over a raw window: SegRNN, direct multi-step RNN, autoregressive RNN.

Both take a window of raw rows ``(batch, rows, columns)``, columns ordered
targets, past covariates, known-future covariates, with ``rows = lookback``
or ``lookback + horizon`` when known-future covariates are read over the
horizon (only those columns of the horizon rows are read, so the future
targets in them never leak in). They standardize with the training
statistics they carry (``mean``, ``std``), so the saved model takes raw
values; they return the forecast ``(batch, horizon, targets)`` in
standardized units, which :class:`ForecastOutputs` turns back into the
original units with intervals.

Per-window normalization (``window_norm``): ``"last"`` subtracts each
window's last value per target and adds it back to the forecast (SegRNN's
default); ``"revin"`` subtracts the window mean and divides by the window
standard deviation (RevIN without the affine part). Both answer the level
shifts between the training and test periods.

Quantile heads (``quantiles``, e.g. :data:`QUANTILES`): SegRNN and the
direct RNN can return, instead of one forecast, several quantiles per step
and target ``(batch, horizon, targets, len(quantiles))``, trained with the
pinball loss (:class:`PinballLoss`) and non-crossing by construction (the
median plus cumulated positive offsets); :class:`QuantileOutputs` turns them
into the same five outputs as :class:`ForecastOutputs`.
"""

from __future__ import annotations

from typing import Any

import keras
from keras import ops

from rnn_templates.cells import RecurrentConfig, make_recurrent_layer
from rnn_templates.ensemble import MemberOutputs, is_stacked

WINDOW_NORMS = ("last", "revin", "none")
# The median (the point forecast) and the bounds of the central 80% and 95% intervals.
QUANTILES = (0.025, 0.1, 0.5, 0.9, 0.975)


def _check(name: str, value: Any, valid: tuple[str, ...]) -> None:
    if value not in valid:
        raise ValueError(f"`{name}` must be one of {', '.join(map(repr, valid))}; "
                         f"received {value!r}")


def check_quantiles(quantiles) -> tuple[float, ...]:
    """``quantiles`` as floats, checked: increasing, inside (0, 1), the median among them."""
    values = tuple(float(q) for q in quantiles)
    if (not values or any(not 0 < q < 1 for q in values)
            or values != tuple(sorted(set(values))) or 0.5 not in values):
        raise ValueError(f"`quantiles` must be increasing levels inside (0, 1) that include "
                         f"0.5 (the point forecast); received {list(quantiles)!r}")
    return values


def pinball_loss(y_true, y_pred, quantiles=QUANTILES):
    """The pinball (quantile) loss averaged over the quantiles, with ``keras.ops``.

    ``y_true (..., )`` against ``y_pred (..., len(quantiles))``: for each
    quantile ``q`` and error ``e = y - y_q``, ``max(q e, (q - 1) e)``; the
    mean over the last axis (one value per element of ``y_true``). With the
    single quantile 0.5 it is half the absolute error.

    Example:
        >>> loss = pinball_loss(keras.ops.array([1.0]), keras.ops.array([[0.0, 2.0]]), (0.1, 0.9))
        >>> round(float(loss[0]), 6)
        0.1
    """
    levels = ops.array(quantiles, "float32")
    error = ops.expand_dims(ops.cast(y_true, "float32"), -1) - ops.cast(y_pred, "float32")
    return ops.mean(ops.maximum(levels * error, (levels - 1.0) * error), axis=-1)


@keras.saving.register_keras_serializable(package="rnn_templates")
class PinballLoss(keras.losses.Loss):
    """:func:`pinball_loss` as a Keras loss: targets ``(batch, ...)``, quantiles
    ``(batch, ..., len(quantiles))``; averaged over quantiles and the targets' last
    axis, as Keras's own losses are (targets ``(batch, horizon, targets)`` give one
    value per horizon step, which a ``(batch, horizon)`` sample weight can weigh),
    then over the rest."""

    def __init__(self, quantiles=QUANTILES, name: str = "pinball", **kwargs):
        super().__init__(name=name, **kwargs)
        self.quantiles = check_quantiles(quantiles)

    def call(self, y_true, y_pred):
        loss = pinball_loss(y_true, y_pred, self.quantiles)
        return ops.mean(loss, axis=-1) if len(loss.shape) > 1 else loss

    def get_config(self):
        return {**super().get_config(), "quantiles": list(self.quantiles)}


def _median_error(y_true, y_pred, kind: str = "mse", middle: int = 0):
    if is_stacked(y_true, y_pred, output_axes=1):  # an ensemble's members, while training
        y_pred = ops.mean(y_pred, axis=-1)
    error = ops.cast(y_true, "float32") - y_pred[..., middle]
    return ops.mean(ops.square(error) if kind == "mse" else ops.abs(error), axis=-1)


@keras.saving.register_keras_serializable(package="rnn_templates")
class MedianError(keras.metrics.MeanMetricWrapper):
    """``mse`` or ``mae`` of one quantile (the median) of a quantile model's outputs
    (of the members' mean quantiles for an ensemble, :mod:`rnn_templates.ensemble`)."""

    def __init__(self, kind: str = "mse", middle: int = 0, name: str | None = None,
                 dtype=None):
        _check("kind", kind, ("mse", "mae"))
        self.kind, self.middle = kind, int(middle)
        super().__init__(_median_error, name=name or kind, dtype=dtype, kind=kind,
                         middle=self.middle)

    def get_config(self):
        return {"kind": self.kind, "middle": self.middle, "name": self.name,
                "dtype": self.dtype}


def median_metrics(quantiles=QUANTILES) -> list[keras.metrics.Metric]:
    """``mse`` and ``mae`` of the median quantile: the point metrics of a quantile model."""
    middle = check_quantiles(quantiles).index(0.5)
    return [MedianError("mse", middle), MedianError("mae", middle)]


class _WindowForecaster(keras.layers.Layer):
    """Shared parts: standardization, slicing, per-window normalization."""

    def __init__(self, lookback: int, horizon: int, targets: int, past: int, future: int,
                 mean: list[float], std: list[float], window_norm: str = "last",
                 quantiles: list[float] | None = None, **kwargs):
        super().__init__(**kwargs)
        _check("window_norm", window_norm, WINDOW_NORMS)
        self.quantiles = check_quantiles(quantiles) if quantiles else None
        for name, value in (("lookback", lookback), ("horizon", horizon), ("targets", targets)):
            if int(value) < 1:
                raise ValueError(f"`{name}` must be a positive integer; received {value!r}")
        if len(mean) != targets + past + future or len(std) != len(mean):
            raise ValueError(f"`mean` and `std` need one value per column "
                             f"({targets + past + future}); received {len(mean)} and "
                             f"{len(std)}")
        self.lookback, self.horizon = int(lookback), int(horizon)
        self.targets, self.past, self.future = int(targets), int(past), int(future)
        self.mean, self.std = [float(v) for v in mean], [float(v) for v in std]
        self.window_norm = window_norm

    @property
    def covariates(self) -> int:
        return self.past + self.future

    @property
    def outputs_per_value(self) -> int:
        """Values the head gives per step and target: one, or one per quantile."""
        return len(self.quantiles) if self.quantiles else 1

    def _ordered(self, raw):
        """Raw head outputs ``(..., quantiles)`` to non-crossing quantiles: the median's
        output, plus (minus) cumulated softplus offsets for the quantiles above (below)."""
        middle = self.quantiles.index(0.5)
        median = raw[..., middle: middle + 1]
        parts = [median]
        if middle + 1 < len(self.quantiles):
            parts.append(median + ops.cumsum(ops.softplus(raw[..., middle + 1:]), axis=-1))
        if middle:
            below = ops.cumsum(ops.softplus(ops.flip(raw[..., :middle], axis=-1)), axis=-1)
            parts.insert(0, median - ops.flip(below, axis=-1))
        return ops.concatenate(parts, axis=-1)

    def _split(self, inputs):
        x = (ops.cast(inputs, "float32") - ops.array(self.mean, "float32")) / ops.array(
            self.std, "float32")
        history = x[:, : self.lookback]
        values = history[..., : self.targets]
        covariates = history[..., self.targets:] if self.covariates else None
        ahead = None
        if self.future:
            ahead = x[:, self.lookback: self.lookback + self.horizon,
                      self.targets + self.past:]
        return values, covariates, ahead

    def _normalize(self, values):
        if self.window_norm == "last":
            level = values[:, -1:, :]
            return values - level, (level, None)
        if self.window_norm == "revin":
            level = ops.mean(values, axis=1, keepdims=True)
            spread = ops.sqrt(ops.var(values, axis=1, keepdims=True) + 1e-5)
            return (values - level) / spread, (level, spread)
        return values, (None, None)

    def _restore(self, forecast, stats):
        """Undo the window normalization; with quantiles, ``forecast`` has a last axis
        more (``(batch, horizon, targets, quantiles)``), ordered first."""
        level, spread = stats
        if self.quantiles:
            forecast = self._ordered(forecast)
            level = None if level is None else ops.expand_dims(level, -1)
            spread = None if spread is None else ops.expand_dims(spread, -1)
        if spread is not None:
            forecast = forecast * spread
        return forecast + level if level is not None else forecast

    def compute_output_shape(self, input_shape):
        shape = (input_shape[0], self.horizon, self.targets)
        return (*shape, len(self.quantiles)) if self.quantiles else shape

    def get_config(self):
        return {**super().get_config(), "lookback": self.lookback, "horizon": self.horizon,
                "targets": self.targets, "past": self.past, "future": self.future,
                "mean": self.mean, "std": self.std, "window_norm": self.window_norm,
                "quantiles": list(self.quantiles) if self.quantiles else None}


@keras.saving.register_keras_serializable(package="rnn_templates")
class SegmentRecurrentForecaster(_WindowForecaster):
    """SegRNN (Lin et al., 2023): segments read by a GRU, the horizon decoded in parallel.

    The lookback of each target is cut into ``lookback / segment_length``
    segments, each embedded by one shared dense layer and read by a GRU
    (channel-independent: every target uses the same weights). The horizon's
    segments are decoded in parallel: one GRU step per segment from the
    encoder's final state, its input the embedding of the segment's position
    and of the target (channel), then a dense layer to ``segment_length``
    values. Covariates of the lookback are embedded per segment and added to
    every target's segment embedding; known-future covariates of the horizon
    are embedded per segment and added to the decoder's input.

    The decoder step is written with ``keras.ops`` so the state's share of
    the gates is computed once per window, not once per horizon segment.

    Args:
        lookback, horizon, targets, past, future, mean, std, window_norm:
            see the module docstring.
        segment_length: Steps per segment; must divide ``lookback``.
        units: Width of embeddings and state (the paper's ``d``).
        dropout: Before the output projection.

    Example:
        >>> layer = SegmentRecurrentForecaster(8, 6, 2, 0, 0, [0.0, 0.0], [1.0, 1.0],
        ...                                    segment_length=4, units=16)
        >>> tuple(layer(keras.ops.ones((3, 8, 2))).shape)
        (3, 6, 2)
    """

    def __init__(self, lookback: int, horizon: int, targets: int, past: int, future: int,
                 mean: list[float], std: list[float], window_norm: str = "last",
                 segment_length: int = 12, units: int = 128, dropout: float = 0.0,
                 quantiles: list[float] | None = None, **kwargs):
        super().__init__(lookback, horizon, targets, past, future, mean, std, window_norm,
                         quantiles, **kwargs)
        if int(segment_length) < 1 or lookback % int(segment_length):
            raise ValueError(f"`segment_length` must divide `lookback` ({lookback}); "
                             f"received {segment_length!r}")
        self.segment_length, self.units, self.dropout_rate = int(segment_length), int(units), \
            float(dropout)
        self.segments_in = self.lookback // self.segment_length
        self.segments_out = -(-self.horizon // self.segment_length)
        self.embed = keras.layers.Dense(units, activation="relu", name="segment_embedding")
        self.covariate_embed = (keras.layers.Dense(units, name="covariate_embedding")
                                if self.covariates else None)
        self.future_embed = (keras.layers.Dense(units, name="future_embedding")
                             if self.future else None)
        self.encoder = keras.layers.GRU(units, name="segment_encoder")
        self.dropout = keras.layers.Dropout(dropout)
        self.project = keras.layers.Dense(self.segment_length * self.outputs_per_value,
                                          name="segment_projection")

    def build(self, input_shape):
        d, w = self.units, self.segment_length
        self.embed.build((None, w))
        if self.covariate_embed is not None:
            self.covariate_embed.build((None, w * self.covariates))
        if self.future_embed is not None:
            self.future_embed.build((None, w * self.future))
        self.encoder.build((None, self.segments_in, d))
        half = d // 2
        self.position = self.add_weight((self.segments_out, half), initializer="random_normal",
                                        name="position_embedding")
        self.channel = self.add_weight((self.targets, d - half), initializer="random_normal",
                                       name="channel_embedding")
        self.kernel = self.add_weight((d, 3 * d), initializer="glorot_uniform",
                                      name="decoder_kernel")
        self.recurrent_kernel = self.add_weight((d, 3 * d), initializer="orthogonal",
                                                name="decoder_recurrent_kernel")
        self.bias = self.add_weight((2, 3 * d), initializer="zeros", name="decoder_bias")
        self.project.build((None, d))

    def call(self, inputs, training=None):
        values, covariates, ahead = self._split(inputs)
        values, stats = self._normalize(values)
        batch = ops.shape(values)[0]
        t, d, w = self.targets, self.units, self.segment_length
        n, m = self.segments_in, self.segments_out
        # (batch, lookback, targets) -> (batch * targets, segments, segment_length)
        segments = ops.reshape(ops.transpose(values, (0, 2, 1)), (-1, n, w))
        embedded = ops.reshape(self.embed(segments), (batch, t, n, d))
        if covariates is not None:
            context = self.covariate_embed(ops.reshape(covariates, (batch, n, w * self.covariates)))
            embedded = embedded + ops.expand_dims(context, 1)
        state = self.encoder(ops.reshape(embedded, (-1, n, d)), training=training)
        # Decoder input per (target, segment): [position ; channel] embeddings.
        position = ops.broadcast_to(ops.expand_dims(self.position, 0), (t, m, d // 2))
        channel = ops.broadcast_to(ops.expand_dims(self.channel, 1), (t, m, d - d // 2))
        gates_in = ops.matmul(ops.concatenate([position, channel], axis=-1), self.kernel)
        gates_in = ops.expand_dims(gates_in + self.bias[0], 0)  # (1, t, m, 3d)
        if ahead is not None:
            padding = m * w - self.horizon
            if padding:
                ahead = ops.pad(ahead, ((0, 0), (0, padding), (0, 0)))
            future = self.future_embed(ops.reshape(ahead, (batch, m, w * self.future)))
            gates_in = gates_in + ops.expand_dims(ops.matmul(future, self.kernel), 1)
        gates_state = ops.matmul(state, self.recurrent_kernel) + self.bias[1]
        gates_state = ops.reshape(gates_state, (batch, t, 1, 3 * d))
        x_z, x_r, x_h = ops.split(gates_in, 3, axis=-1)
        h_z, h_r, h_h = ops.split(gates_state, 3, axis=-1)
        update = ops.sigmoid(x_z + h_z)
        reset = ops.sigmoid(x_r + h_r)
        candidate = ops.tanh(x_h + reset * h_h)
        previous = ops.reshape(state, (batch, t, 1, d))
        decoded = update * previous + (1.0 - update) * candidate  # (batch, t, m, d)
        out = self.project(self.dropout(decoded, training=training))  # (batch, t, m, w * k)
        if self.quantiles:
            k = len(self.quantiles)
            out = ops.reshape(out, (batch, t, m * w, k))[:, :, : self.horizon]
            return self._restore(ops.transpose(out, (0, 2, 1, 3)), stats)
        out = ops.reshape(out, (batch, t, m * w))[:, :, : self.horizon]
        return self._restore(ops.transpose(out, (0, 2, 1)), stats)

    def get_config(self):
        return {**super().get_config(), "segment_length": self.segment_length,
                "units": self.units, "dropout": self.dropout_rate}


@keras.saving.register_keras_serializable(package="rnn_templates")
class RecurrentForecaster(_WindowForecaster):
    """A recurrent stack over the lookback, then one dense layer to the whole horizon.

    Direct multi-step forecasting: every step of the horizon comes from the
    final state at once (no step feeds the next). With ``horizon=1`` it is
    the classic single-step (many-to-one) forecaster. Known-future
    covariates of the horizon are flattened and joined to the final state.

    Args:
        rnn: Options of the stack (:class:`~rnn_templates.cells.RecurrentConfig` fields).

    Example:
        >>> layer = RecurrentForecaster(8, 3, 1, 1, 0, [0.0, 0.0], [1.0, 1.0],
        ...                             rnn={"cell": "gru", "units": 4})
        >>> tuple(layer(keras.ops.ones((2, 8, 2))).shape)
        (2, 3, 1)
    """

    def __init__(self, lookback: int, horizon: int, targets: int, past: int, future: int,
                 mean: list[float], std: list[float], window_norm: str = "last",
                 rnn: dict | None = None, quantiles: list[float] | None = None, **kwargs):
        super().__init__(lookback, horizon, targets, past, future, mean, std, window_norm,
                         quantiles, **kwargs)
        self.rnn = dict(rnn or {})
        config = RecurrentConfig(**self.rnn)
        self.stack = [make_recurrent_layer(config, return_sequences=i < config.num_layers,
                                           name=f"rnn_{i}")
                      for i in range(1, config.num_layers + 1)]
        self.head = keras.layers.Dense(self.horizon * self.targets * self.outputs_per_value,
                                       name="horizon_head")

    def build(self, input_shape):
        width = self.targets + self.covariates
        shape = (None, self.lookback, width)
        for layer in self.stack:
            layer.build(shape)
            shape = layer.compute_output_shape(shape)
            if isinstance(shape, list):
                shape = shape[0]
        self.head.build((None, shape[-1] + self.horizon * self.future))

    def call(self, inputs, training=None):
        values, covariates, ahead = self._split(inputs)
        values, stats = self._normalize(values)
        x = values if covariates is None else ops.concatenate([values, covariates], axis=-1)
        for layer in self.stack:
            x = layer(x, training=training)
        if ahead is not None:
            x = ops.concatenate([x, ops.reshape(ahead, (-1, self.horizon * self.future))], -1)
        shape = (-1, self.horizon, self.targets) + ((len(self.quantiles),) if self.quantiles
                                                    else ())
        return self._restore(ops.reshape(self.head(x), shape), stats)

    def get_config(self):
        return {**super().get_config(), "rnn": self.rnn}


@keras.saving.register_keras_serializable(package="rnn_templates")
class FeedbackCell(keras.layers.Layer):
    """A recurrent cell that reads its own previous output: one forecast step per call.

    State ``[h (, c), previous forecast]``; input the step's known-future
    covariates (or a zero column). Output the step's forecast ``(batch, targets)``.

    Args:
        targets: Values forecast per step.
        cell: ``"gru"``, ``"lstm"`` or ``"simple"``.
        units: State width.
    """

    def __init__(self, targets: int, cell: str = "gru", units: int = 64, **kwargs):
        super().__init__(**kwargs)
        self.targets, self.cell_type, self.units = int(targets), cell, int(units)
        kinds = {"gru": keras.layers.GRUCell, "lstm": keras.layers.LSTMCell,
                 "simple": keras.layers.SimpleRNNCell}
        _check("cell", cell, tuple(kinds))
        self.cell = kinds[cell](units, name="step_cell")
        self.head = keras.layers.Dense(self.targets, name="step_head")
        carried = [units, units] if cell == "lstm" else [units]
        self.state_size = [*carried, self.targets]
        self.output_size = self.targets

    def build(self, input_shape):
        self.cell.build((None, input_shape[-1] + self.targets))
        self.head.build((None, self.units))

    def call(self, inputs, states, training=None):
        *carried, previous = states
        output, carried = self.cell(ops.concatenate([previous, inputs], axis=-1), list(carried),
                                    training=training)
        forecast = self.head(output)
        return forecast, [*carried, forecast]

    def get_config(self):
        return {**super().get_config(), "targets": self.targets, "cell": self.cell_type,
                "units": self.units}


@keras.saving.register_keras_serializable(package="rnn_templates")
class AutoregressiveForecaster(_WindowForecaster):
    """An encoder reads the lookback; a decoder carries its state through the horizon step by step.

    The one-to-many decoder of the seq2seq family: the encoder's final state
    starts a :class:`FeedbackCell` that feeds each step's forecast into the
    next step (with that step's known-future covariates), inside one
    ``keras.layers.RNN`` loop (a compiled ``while`` loop), so a forecast of
    any horizon never reads the window again. Trained free-running: the
    loss sees the forecasts the decoder feeds itself.

    Example:
        >>> layer = AutoregressiveForecaster(8, 5, 2, 0, 1, [0.0] * 3, [1.0] * 3,
        ...                                  cell="gru", units=4)
        >>> tuple(layer(keras.ops.ones((3, 13, 3))).shape)
        (3, 5, 2)
    """

    def __init__(self, lookback: int, horizon: int, targets: int, past: int, future: int,
                 mean: list[float], std: list[float], window_norm: str = "last",
                 cell: str = "gru", units: int = 64, **kwargs):
        if kwargs.get("quantiles"):
            raise ValueError("`quantiles` are not available to the autoregressive forecaster: "
                             "each step feeds one forecast to the next, not a distribution; "
                             "use the segrnn or rnn forecaster for quantile heads")
        kwargs.pop("quantiles", None)
        super().__init__(lookback, horizon, targets, past, future, mean, std, window_norm,
                         **kwargs)
        self.cell_type, self.units = cell, int(units)
        kinds = {"gru": keras.layers.GRU, "lstm": keras.layers.LSTM,
                 "simple": keras.layers.SimpleRNN}
        _check("cell", cell, tuple(kinds))
        self.encoder = kinds[cell](units, return_state=True, name="encoder")
        self.decoder = keras.layers.RNN(FeedbackCell(targets, cell, units, name="feedback"),
                                        return_sequences=True, name="decoder")

    def build(self, input_shape):
        self.encoder.build((None, self.lookback, self.targets + self.covariates))
        self.decoder.build((None, self.horizon, max(1, self.future)))

    def call(self, inputs, training=None):
        values, covariates, ahead = self._split(inputs)
        values, stats = self._normalize(values)
        x = values if covariates is None else ops.concatenate([values, covariates], axis=-1)
        _, *carried = self.encoder(x, training=training)
        if ahead is None:
            ahead = ops.zeros((ops.shape(values)[0], self.horizon, 1))
        forecast = self.decoder(ahead, initial_state=[*carried, values[:, -1, :]],
                                training=training)
        return self._restore(forecast, stats)

    def get_config(self):
        return {**super().get_config(), "cell": self.cell_type, "units": self.units}


def window_scale(window, mean, std, lookback: int, targets: int):
    """Each window's own spread: the standard deviation over the lookback of each
    standardized target, ``(batch, 1, targets)``, floored at 0.01.

    Scales the conformal errors, so intervals widen on rough windows and
    narrow on calm ones (locally adaptive split-conformal).
    """
    values = (ops.cast(window[:, :lookback, :targets], "float32")
              - ops.array(mean[:targets], "float32")) / ops.array(std[:targets], "float32")
    return ops.sqrt(ops.var(values, axis=1, keepdims=True)) + 0.01


@keras.saving.register_keras_serializable(package="rnn_templates")
class ForecastOutputs(keras.layers.Layer):
    """Standardized forecast ``(batch, horizon, targets)`` to original units with intervals.

    Output ``(batch, horizon, targets, 5)``: the point forecast, then the
    lower and upper bounds of the 80% and of the 95% interval. ``widths``
    hold the half-widths of both intervals, one per horizon step and target
    ``(2, horizon, targets)`` (split-conformal quantiles of validation
    errors): in standardized units, or, with ``lookback`` given, in units of
    each window's own spread (:func:`window_scale`), which the layer then
    reads from the raw window passed as its second input.
    """

    def __init__(self, mean: list[float], std: list[float], widths: list,
                 lookback: int | None = None, input_mean: list[float] | None = None,
                 input_std: list[float] | None = None, **kwargs):
        super().__init__(**kwargs)
        self.mean, self.std, self.widths = list(mean), list(std), widths
        self.lookback = lookback
        self.input_mean = list(input_mean or mean)
        self.input_std = list(input_std or std)

    def call(self, forecast, window=None):
        mean = ops.array(self.mean, "float32")
        std = ops.array(self.std, "float32")
        widths = ops.array(self.widths, "float32")
        scale = 1.0
        if self.lookback is not None:
            scale = window_scale(window, self.input_mean, self.input_std, self.lookback,
                                 len(self.mean))
        parts = [forecast]
        for level in range(2):
            parts += [forecast - widths[level] * scale, forecast + widths[level] * scale]
        return ops.stack(parts, axis=-1) * std[:, None] + mean[:, None]

    def compute_output_shape(self, forecast_shape, window_shape=None):
        return (*forecast_shape, 5)

    def get_config(self):
        return {**super().get_config(), "mean": self.mean, "std": self.std,
                "widths": self.widths, "lookback": self.lookback,
                "input_mean": self.input_mean, "input_std": self.input_std}


def level_quantiles(levels, quantiles) -> list[tuple[int, int]]:
    """Indexes of the lower and upper quantiles of each central interval ``level``
    (``(1 - level) / 2`` and ``(1 + level) / 2``) in ``quantiles``."""
    found = []
    for level in levels:
        pair = []
        for bound in ((1 - level) / 2, (1 + level) / 2):
            near = [i for i, q in enumerate(quantiles) if abs(q - bound) < 1e-6]
            if not near:
                raise ValueError(f"the {level:.0%} interval needs the quantile {bound:g}; "
                                 f"`quantiles` {list(quantiles)!r} lack it")
            pair.append(near[0])
        found.append(tuple(pair))
    return found


@keras.saving.register_keras_serializable(package="rnn_templates")
class QuantileOutputs(keras.layers.Layer):
    """Standardized quantiles ``(batch, horizon, targets, len(quantiles))`` to the five
    outputs of :class:`ForecastOutputs` in original units.

    The median is the forecast; the 80% and 95% bounds are the 0.1/0.9 and
    0.025/0.975 quantiles, each moved outwards by ``corrections`` ``(2,
    horizon, targets)`` (standardized units; negative values move them
    inwards: the conformalized quantile regression correction), or kept as
    they are when ``corrections`` is None. The bands are then kept nested
    (``lower_95 <= lower_80 <= forecast <= upper_80 <= upper_95``), which a
    large inward correction could otherwise break; that only widens a band.
    """

    def __init__(self, mean: list[float], std: list[float], quantiles=QUANTILES,
                 corrections: list | None = None, **kwargs):
        super().__init__(**kwargs)
        self.mean, self.std = list(mean), list(std)
        self.quantiles = check_quantiles(quantiles)
        self.bounds = level_quantiles((0.8, 0.95), self.quantiles)
        self.corrections = corrections

    def call(self, quantiles):
        mean = ops.array(self.mean, "float32")
        std = ops.array(self.std, "float32")
        forecast = quantiles[..., self.quantiles.index(0.5)]
        (low80, high80), (low95, high95) = [
            (quantiles[..., lower], quantiles[..., upper]) for lower, upper in self.bounds]
        if self.corrections is not None:
            corrections = ops.array(self.corrections, "float32")
            low80, high80 = low80 - corrections[0], high80 + corrections[0]
            low95, high95 = low95 - corrections[1], high95 + corrections[1]
        low80, high80 = ops.minimum(low80, forecast), ops.maximum(high80, forecast)
        low95, high95 = ops.minimum(low95, low80), ops.maximum(high95, high80)
        parts = [forecast, low80, high80, low95, high95]
        return ops.stack(parts, axis=-1) * std[:, None] + mean[:, None]

    def compute_output_shape(self, quantiles_shape):
        return (*quantiles_shape[:-1], 5)

    def get_config(self):
        return {**super().get_config(), "mean": self.mean, "std": self.std,
                "quantiles": list(self.quantiles), "corrections": self.corrections}


def build_forecaster(kind: str, *, rows: int, columns: int, name: str = "forecaster",
                     members: int = 1, **options) -> keras.Model:
    """A functional model around one forecaster layer: raw window in, standardized forecast out.

    Args:
        kind: ``"segrnn"``, ``"rnn"`` (direct multi-step; ``horizon=1`` is single-step) or
            ``"autoregressive"`` (state carried step by step through the horizon).
            ``quantiles`` among the options gives quantile heads (not autoregressive).
        rows: Rows of the input window (``lookback`` or ``lookback + horizon``).
        columns: Columns of the input window.
        members: More than 1: that many forecaster layers side by side, a deep
            ensemble (:mod:`rnn_templates.ensemble`; compile it with
            :class:`~rnn_templates.ensemble.EnsembleLoss` and
            :class:`~rnn_templates.ensemble.EnsembleMetric`), answering with
            their mean.
        **options: The layer's arguments.
    """
    kinds = {"segrnn": SegmentRecurrentForecaster, "rnn": RecurrentForecaster,
             "autoregressive": AutoregressiveForecaster}
    _check("kind", kind, tuple(kinds))
    if int(members) < 1:
        raise ValueError(f"`members` must be at least 1; received {members!r}")
    inputs = keras.Input((rows, columns), name="window")
    if members == 1:
        return keras.Model(inputs, kinds[kind](name=kind, **options)(inputs), name=name)
    outputs = [kinds[kind](name=f"{kind}_{i}", **options)(inputs) for i in range(members)]
    return keras.Model(inputs, MemberOutputs(name="members")(outputs), name=name)
