"""Deep ensembles trained side by side in one model.

A deep ensemble is several copies of a network, each started from its own
random weights, whose answers are averaged: the cheapest reliable way to
lower the error of a neural forecaster or classifier, since the copies'
errors partly cancel. Here the members live in one Keras model, so one
``fit`` trains them all (on the same batches, with their own dropout), early
stopping and checkpoints watch the ensemble, and the saved and exported model
is one file that answers with the mean:

- :class:`MemberOutputs` stacks the members' outputs on a new last axis while
  training and averages them otherwise (validation, prediction, export);
- :class:`EnsembleLoss` is the mean over the members of a loss on each
  member's own output, so each member learns as if alone (its gradient is
  that of its own loss, divided by the member count, which Adam does not
  notice); on the averaged output it is the plain loss;
- :class:`EnsembleMetric` scores the averaged output, in training and in
  validation alike, under the metric's own name (``mse``, ``val_mse``).

``output_axes`` is how many axes one member's output has beyond the
target's (1 for quantile heads: ``(batch, horizon, targets, quantiles)``).
"""

from __future__ import annotations

from typing import Any

import keras
from keras import ops


def is_stacked(y_true, y_pred, output_axes: int = 0) -> bool:
    """Whether ``y_pred`` holds the members' outputs on a last axis (while training)."""
    return len(y_pred.shape) == len(y_true.shape) + output_axes + 1


@keras.saving.register_keras_serializable(package="rnn_templates")
class MemberOutputs(keras.layers.Layer):
    """The members' outputs stacked on a last axis (training), else their mean.

    Example:
        >>> a, b = keras.ops.zeros((2, 3)), keras.ops.ones((2, 3))
        >>> tuple(MemberOutputs()([a, b], training=True).shape)
        (2, 3, 2)
        >>> keras.ops.convert_to_numpy(MemberOutputs()([a, b]))[0].tolist()
        [0.5, 0.5, 0.5]
    """

    def call(self, outputs, training=None):
        stacked = ops.stack(outputs, axis=-1)
        return stacked if training else ops.mean(stacked, axis=-1)

    def compute_output_shape(self, shapes):
        return tuple(shapes[0])


@keras.saving.register_keras_serializable(package="rnn_templates")
class EnsembleLoss(keras.losses.Loss):
    """The mean of ``loss`` over the members' stacked outputs; ``loss`` itself on their mean.

    Args:
        loss: A loss name, function or ``keras.losses.Loss``.
        output_axes: Axes of one member's output beyond the target's.
    """

    def __init__(self, loss: Any = "mae", output_axes: int = 0, name: str | None = None,
                 **kwargs):
        self.loss = keras.losses.get(loss)
        self.output_axes = int(output_axes)
        base = getattr(self.loss, "name", None) or getattr(self.loss, "__name__", "loss")
        super().__init__(name=name or f"ensemble_{base}", **kwargs)

    def _one(self, y_true, y_pred):
        if isinstance(self.loss, keras.losses.Loss):
            return self.loss.call(y_true, y_pred)
        return self.loss(y_true, y_pred)

    def call(self, y_true, y_pred):
        if not is_stacked(y_true, y_pred, self.output_axes):
            return self._one(y_true, y_pred)
        members = y_pred.shape[-1]
        return ops.mean(ops.stack([self._one(y_true, y_pred[..., i]) for i in range(members)]),
                        axis=0)

    def get_config(self):
        return {**super().get_config(), "loss": keras.losses.serialize(self.loss),
                "output_axes": self.output_axes}

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        config["loss"] = keras.losses.deserialize(config["loss"])
        return cls(**config)


# Short metric names and the keras.metrics functions they stand for.
ALIASES = {"mse": "mean_squared_error", "mae": "mean_absolute_error",
           "mape": "mean_absolute_percentage_error"}


def _averaged(y_true, y_pred, metric: str, output_axes: int):
    if is_stacked(y_true, y_pred, output_axes):
        y_pred = ops.mean(y_pred, axis=-1)
    return getattr(keras.metrics, ALIASES.get(metric, metric))(y_true, y_pred)


@keras.saving.register_keras_serializable(package="rnn_templates")
class EnsembleMetric(keras.metrics.MeanMetricWrapper):
    """A metric of the members' mean output, by name: ``"mse"``, ``"mae"``, or a function
    of ``keras.metrics``. ``output_axes`` counts the axes of one member's output
    beyond the labels' (1 for class probabilities ``(batch, classes)`` against
    labels ``(batch,)``): whether the output is stacked is read from the ranks.

    Example:
        >>> metric = EnsembleMetric("mae")
        >>> truth = keras.ops.zeros((2, 3))
        >>> _ = metric.update_state(truth, keras.ops.stack([truth - 1, truth + 1], axis=-1))
        >>> float(metric.result()), metric.name
        (0.0, 'mae')
    """

    def __init__(self, metric: str = "mse", output_axes: int = 0, name: str | None = None,
                 dtype: Any = None):
        if not callable(getattr(keras.metrics, ALIASES.get(metric, metric), None)):
            raise ValueError(f"`metric` must name a function of keras.metrics (or be one of "
                             f"{', '.join(ALIASES)}); received {metric!r}")
        self.metric, self.output_axes = metric, int(output_axes)
        super().__init__(fn=_averaged, name=name or metric, dtype=dtype, metric=metric,
                         output_axes=self.output_axes)

    def get_config(self):
        return {"metric": self.metric, "output_axes": self.output_axes, "name": self.name,
                "dtype": self.dtype}
