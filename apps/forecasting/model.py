"""Forecasting models and their search space: SegRNN, direct and autoregressive RNN, single-step.

Every model takes the raw window (``lookback`` rows, plus the horizon's rows
when known-future covariates are read) and returns the standardized
forecast (with ``intervals=quantile`` or ``cqr``, the quantiles
:data:`~rnn_templates.topologies.forecast.QUANTILES` of every step and
target, trained with the pinball loss); the app wraps it so the saved model
answers in original units with intervals
(:class:`rnn_templates.topologies.forecast.ForecastOutputs`,
:class:`~rnn_templates.topologies.forecast.QuantileOutputs`).
"""

from __future__ import annotations

import keras
import keras_tuner

from apps.forecasting.config import ForecastingConfig
from rnn_templates.data.shuffle import EpochShuffle
from rnn_templates.data.windows import window_dataset
from rnn_templates.ensemble import EnsembleLoss, EnsembleMetric
from rnn_templates.topologies.forecast import (
    QUANTILES,
    PinballLoss,
    build_forecaster,
    median_metrics,
)
from rnn_templates.training import compile_model
from rnn_templates.tuning import choice, float_around

LOSSES = {"mae": "mae", "mse": "mse", "huber": keras.losses.Huber(delta=1.0)}
# The model kinds built on a recurrent cell of the configured type (SegRNN always uses a GRU).
CELL_MODELS = ("rnn", "autoregressive", "single_step")


class ForecastingHyperModel(keras_tuner.HyperModel):
    """Search space over model kind, cell, units, layers, segment length and learning rate.

    ``build(keras_tuner.HyperParameters())`` is the config's own model.

    Args:
        config: Defaults for every hyperparameter.
        shape: ``{"targets", "past", "future", "rows", "columns"}`` of the windows.
        mean, std: Training statistics of every input column.
    """

    def __init__(self, config: ForecastingConfig, shape: dict, mean: list, std: list):
        super().__init__(name="forecasting")
        self.config, self.shape, self.mean, self.std = config, shape, mean, std

    def build(self, hp: keras_tuner.HyperParameters) -> keras.Model:
        c = self.config
        heads = c.intervals != "conformal"  # quantile heads: no autoregressive decoding
        kinds = (["single_step"] if c.horizon == 1 and c.model == "single_step"
                 else ["segrnn", "rnn"] if heads else ["segrnn", "rnn", "autoregressive"])
        kind = choice(hp, "model", kinds, c.model)
        units = choice(hp, "units", [32, 64, 128, 256], c.units)
        common = dict(lookback=c.lookback, horizon=c.horizon, targets=self.shape["targets"],
                      past=self.shape["past"], future=self.shape["future"], mean=self.mean,
                      std=self.std, window_norm=c.window_norm)
        if heads:
            common["quantiles"] = list(QUANTILES)
        cell_condition = dict(parent_name="model", parent_values=list(CELL_MODELS))
        if kind == "segrnn":
            divisors = [d for d in (c.lookback // 8, c.lookback // 4, c.lookback // 2)
                        if d >= 1 and c.lookback % d == 0] or [c.lookback]
            # The configured length need not divide the lookback when the configured model
            # is not segrnn: the divisor nearest it stands in, so no trial draws a length
            # that cannot work.
            default = (c.segment_length if c.lookback % c.segment_length == 0
                       else min(divisors, key=lambda d: abs(d - c.segment_length)))
            segment = choice(hp, "segment_length", divisors, default, parent_name="model",
                             parent_values=["segrnn"])
            if c.lookback % segment:
                raise keras_tuner.errors.FailedTrialError(
                    f"segment_length {segment} does not divide lookback {c.lookback}")
            options = dict(segment_length=segment, units=units, dropout=c.dropout)
        elif kind == "autoregressive":
            options = dict(cell=choice(hp, "cell", ["lstm", "gru"], c.cell, **cell_condition),
                           units=units)
        else:
            rnn = dict(
                cell=choice(hp, "cell", ["lstm", "gru"], c.cell, **cell_condition),
                units=units,
                num_layers=hp.Int("num_layers", 1, max(2, c.num_layers), default=c.num_layers,
                                  parent_name="model", parent_values=["rnn", "single_step"]),
                bidirectional=c.bidirectional, dropout=c.dropout,
                recurrent_dropout=c.recurrent_dropout, activation=c.activation)
            options = dict(rnn=rnn)
        model = build_forecaster("rnn" if kind == "single_step" else kind,
                                 rows=self.shape["rows"], columns=self.shape["columns"],
                                 name="forecasting_core", members=c.members, **common,
                                 **options)
        learning_rate = float_around(hp, "learning_rate", 3e-4, 1e-2, c.learning_rate,
                                     sampling="log", grid=c.tuner == "grid")
        if heads:  # the pinball loss; mse and mae of the median, the point forecast
            loss, metrics = PinballLoss(QUANTILES), median_metrics(QUANTILES)
        else:
            loss, metrics = LOSSES[c.loss], ["mse", "mae"]
        if c.members > 1:  # each member learns from its own loss; the metrics score the mean
            loss = EnsembleLoss(loss, output_axes=int(heads))
            if not heads:
                metrics = [EnsembleMetric("mse"), EnsembleMetric("mae")]
        # Weighted, as the loss is: a validation step whose target was filled in has
        # weight 0 (see fit).
        return compile_model(model, loss=loss, weighted_metrics=metrics,
                             learning_rate=learning_rate, clipnorm=c.clipnorm or None,
                             weight_decay=c.weight_decay)

    def declare_hyperparameters(self, hp: keras_tuner.HyperParameters) -> int:
        """The batch size: tuned in ``fit``, declared up front so every worker samples it."""
        c = self.config
        return choice(hp, "batch_size", [32, 64, 128], c.batch_size)

    def fit(self, hp, model, train, validation, *args, callbacks=None, **kwargs):
        """Train on ``train=(rows, standardized targets)``, validating on ``validation``
        (the same, and optionally per row whether every target value was observed: the
        validation loss then counts observed horizon steps only).

        Windows are cut by tf.data (:func:`rnn_templates.data.windows.window_dataset`),
        in an order that depends on (seed, epoch) only: a resumed run repeats it.
        """
        c = self.config
        batch_size = self.declare_hyperparameters(hp)
        future_rows = self.shape["rows"] > c.lookback
        shuffle = EpochShuffle(c.seed)
        train_ds = window_dataset(*train, c.lookback, c.horizon, future_rows=future_rows,
                                  batch_size=batch_size, stride=c.stride, shuffle=shuffle)
        # validation: (rows, standardized targets[, per row: every target observed]).
        val_ds = (None if validation is None else  # (never refitted: see the app)
                  window_dataset(*validation[:2], c.lookback, c.horizon,
                                 future_rows=future_rows, batch_size=512,
                                 observed=validation[2] if len(validation) > 2 else None))
        kwargs.setdefault("epochs", c.epochs)
        kwargs["shuffle"] = False  # the dataset shuffles its windows itself
        return model.fit(train_ds, *args, validation_data=val_ds,
                         callbacks=[shuffle, *(callbacks or [])], **kwargs)
