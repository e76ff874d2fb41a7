"""Forecast scoring, naive baselines, split-conformal intervals and plots (NumPy, scikit-learn).

Shapes: windows of inputs ``(n, rows, columns)`` (targets in the first
columns), targets ``(n, horizon, targets)``, and a model's outputs
``(n, horizon, targets, k)`` where ``k`` is 5 (point forecast, 80% lower and
upper bound, 95% lower and upper bound) or 1 (a point forecast only, as the
baselines give).

Metrics come in original units and in standardized units (divided by the
training standard deviation of each target, the units of the published
long-horizon benchmarks), per horizon step, per origin (the rolling-origin
backtest: every window of the split is one origin, predicted in one batch,
:func:`predict_windows`),
and, when intervals are given, their empirical coverage.

At prediction time, :func:`forecast_input` bundles the window to forecast
from with the file's latest windows whose truth is known, and
:func:`calibrated_forecasts` rescales each forecast's bands on them.
"""

from __future__ import annotations

import dataclasses
import math
from pathlib import Path
from typing import Any

import numpy as np

from rnn_templates import io
from rnn_templates.errors import UserInputError

LEVELS = (0.8, 0.95)
# The five outputs read as quantiles: the median, then the 80% and the 95% bounds.
OUTPUT_QUANTILES = (0.5, 0.1, 0.9, 0.025, 0.975)


def predict_windows(model, inputs: np.ndarray, batch_size: int = 1024) -> np.ndarray:
    """``model``'s outputs for every window of ``inputs``: one call per ``batch_size`` windows.

    A backtest is one batched prediction over every origin. ``predict_on_batch``
    skips the dataset ``model.predict`` builds on every call (about half of
    a first call on 500 ETTh1 windows, a third of later ones), and the last
    chunk is padded to the size of the others, so one traced shape serves
    every call. A model replicated over several devices (a ``mirrored``
    strategy) goes through ``model.predict``, which shares the windows among
    the replicas.

    Example:
        >>> import keras
        >>> model = keras.Sequential([keras.Input((3, 2)), keras.layers.Flatten()])
        >>> windows = np.arange(30, dtype="float32").reshape(5, 3, 2)
        >>> outputs = predict_windows(model, windows, batch_size=2)
        >>> outputs.shape, bool((outputs == windows.reshape(5, 6)).all())
        ((5, 6), True)
    """
    outputs = len(getattr(model, "outputs", None) or [None])
    if outputs != 1:
        raise ValueError(f"`model` must have one output; it has {outputs}")
    inputs = np.asarray(inputs, "float32")
    strategy = getattr(model, "distribute_strategy", None)
    if getattr(strategy, "num_replicas_in_sync", 1) > 1:  # each replica takes a share
        return np.asarray(model.predict(inputs, batch_size=batch_size, verbose=0))
    if len(inputs) <= batch_size:
        return np.asarray(model.predict_on_batch(inputs))[:len(inputs)]
    parts = []
    for start in range(0, len(inputs), batch_size):
        chunk = inputs[start:start + batch_size]
        short = batch_size - len(chunk)
        if short:
            chunk = np.concatenate([chunk, np.repeat(chunk[-1:], short, axis=0)])
        parts.append(np.asarray(model.predict_on_batch(chunk))[:batch_size - short])
    return np.concatenate(parts)


# --- intervals ------------------------------------------------------------------------


def conformal_widths(errors: np.ndarray, levels=LEVELS) -> np.ndarray:
    """Split-conformal half-widths from absolute calibration errors ``(n, ...)``.

    The ``ceil((n + 1) * level)``-th smallest error of each column (the
    largest when that rank exceeds ``n``): the finite-sample rank that
    guarantees coverage of at least ``level`` for exchangeable errors. NaN
    errors (no observed truth) are left out, so ``n`` counts each column's
    finite errors; a column with none gets NaN.

    Returns:
        ``(len(levels), ...)``.

    Example (10 errors, 80%: the 9th smallest):
        >>> conformal_widths(np.arange(1.0, 11.0)[:, None], (0.8,)).tolist()
        [[9.0]]
    """
    errors = np.asarray(errors, dtype=np.float64)
    if len(errors) == 0:
        raise ValueError("`errors` must hold at least one calibration window; received none")
    return np.stack([_conformal_rank(errors, level) for level in levels])


def _conformal_rank(scores: np.ndarray, level: float, tolerance: float = 0.0) -> np.ndarray:
    """Per column of ``scores (n, ...)``, the ``min(m, ceil((m + 1) level))``-th smallest
    of its ``m`` finite scores (NaN left out; NaN where ``m`` is 0)."""
    count = np.isfinite(scores).sum(axis=0)
    rank = np.minimum(count, np.ceil((count + 1) * level - tolerance).astype(int))
    ordered = np.sort(scores, axis=0)  # NaN last
    picked = np.take_along_axis(ordered, np.maximum(rank - 1, 0)[None], axis=0)[0]
    return np.where(count > 0, picked, np.nan)


def cqr_corrections(truth: np.ndarray, lower: np.ndarray, upper: np.ndarray,
                    level: float) -> np.ndarray:
    """Conformalized quantile regression (Romano et al., 2019): the band correction.

    The conformity score of a calibration window is how far its value lies
    outside the band ``[lower, upper]`` given by the quantile heads
    (negative inside it): ``max(lower - truth, truth - upper)``. Its
    finite-sample quantile per column, the ``k``-th smallest score with
    ``k = ceil((n + 1) level)`` (the largest when ``k > n``), is the
    correction ``c``: ``[lower - c, upper + c]`` covers at least ``level``
    of exchangeable new windows. A negative ``c`` narrows a band that was
    too wide.

    Args:
        truth, lower, upper: ``(n, ...)`` calibration values and the band's bounds.
        level: The interval's nominal coverage.

    Returns:
        ``(...)``: one correction per column.

    Example:
        >>> truth = np.array([0.0, 1.0, 2.0, 5.0])
        >>> cqr_corrections(truth[:, None], np.ones((4, 1)), 3 * np.ones((4, 1)), 0.6).tolist()
        [1.0]
    """
    truth, lower, upper = (np.asarray(a, dtype=np.float64) for a in (truth, lower, upper))
    scores = np.maximum(lower - truth, truth - upper)  # NaN where the truth is not observed
    if len(scores) == 0:
        raise ValueError("`truth` must hold at least one calibration window; received none")
    return _conformal_rank(scores, level, tolerance=1e-9)


def calibrated_model(core, inputs: np.ndarray, truth: np.ndarray, *, method: str,
                     mean: list[float], std: list[float], lookback: int, targets: int,
                     interval_scale: str = "window", name: str = "forecasting"):
    """The forecaster ``core`` in original units with its 80% and 95% intervals.

    Calibrated on held-out windows ``inputs`` whose standardized truth is
    ``truth (n, horizon, targets)``. ``conformal``: split-conformal half-widths
    of the absolute errors, in units of each window's own spread when
    ``interval_scale="window"``; ``quantile``: the quantile heads' bands as they
    are; ``cqr``: those bands moved by the conformal correction of the windows.

    Returns:
        ``(keras.Model, facts)``: ``facts`` holds the mean half-widths
        (``interval_half_widths``) or corrections (``interval_corrections``)
        per level, for the run's artifacts.
    """
    import keras

    from rnn_templates.topologies.forecast import (
        QUANTILES,
        ForecastOutputs,
        QuantileOutputs,
        level_quantiles,
        window_scale,
    )

    target_mean, target_std = list(mean[:targets]), list(std[:targets])
    predicted = predict_windows(core, inputs)
    if method != "conformal":
        corrections, facts = None, {}
        if method == "cqr":
            corrections = np.stack([
                cqr_corrections(truth, predicted[..., lower], predicted[..., upper], level)
                for level, (lower, upper) in zip(LEVELS, level_quantiles(LEVELS, QUANTILES),
                                                 strict=True)])
            _refuse_unobserved(corrections)
            facts["interval_corrections"] = corrections.mean(axis=(1, 2)).round(6).tolist()
            corrections = corrections.tolist()
        layer = QuantileOutputs(target_mean, target_std, QUANTILES, corrections,
                                name="original_units")
        return keras.Model(core.input, layer(core.output), name=name), facts
    errors = np.abs(predicted - truth)
    adaptive = interval_scale == "window"
    if adaptive:  # errors in units of each window's own spread
        errors = errors / np.asarray(window_scale(inputs, mean, std, lookback, targets))
    widths = conformal_widths(errors, LEVELS)
    _refuse_unobserved(widths)
    layer = ForecastOutputs(target_mean, target_std, widths.tolist(),
                            lookback=lookback if adaptive else None, input_mean=mean,
                            input_std=std, name="original_units")
    model = keras.Model(core.input, layer(core.output, core.input), name=name)
    return model, {"interval_half_widths": widths.mean(axis=(1, 2)).round(6).tolist()}


def calibration_counts(truth: np.ndarray, horizon: int) -> np.ndarray:
    """Per horizon step and target, how many windows over ``truth (rows, targets)``
    (NaN where a value was filled in; one window per row, stride 1) see an observed
    value there: the ``n`` each interval is calibrated on. Shape ``(horizon, targets)``.

    Example:
        >>> calibration_counts(np.array([[1.0], [np.nan], [3.0], [4.0]]), 2)[:, 0].tolist()
        [2, 2]
    """
    finite = np.isfinite(np.asarray(truth, dtype=np.float64))
    count = max(len(finite) - horizon + 1, 0)
    totals = np.concatenate([np.zeros((1, finite.shape[1]), int), np.cumsum(finite, axis=0)])
    return np.stack([totals[step + count] - totals[step] for step in range(horizon)]) \
        if count else np.zeros((horizon, finite.shape[1]), int)


def check_calibration(truth: np.ndarray, horizon: int, names: list[str], *,
                      calibrated: bool = True, levels=LEVELS) -> list[str]:
    """Before any training: refuse validation windows without one observed value (the
    validation loss that early stopping watches would score only filled-in values),
    or, when the intervals are ``calibrated`` on them (conformal, CQR), without one at
    some horizon step. Return a note for each level whose coverage guarantee needs
    more observed values than some step has: below ``ceil(level / (1 - level))``
    values (4 for 80%, 19 for 95%) the band is just the largest error seen.

    Args:
        truth: The validation rows' targets ``(rows, targets)``, NaN where filled in.
        horizon: Steps forecast.
        names: The targets' names.
    """
    counts = calibration_counts(truth, horizon)
    step, target = np.unravel_index(np.argmin(counts), counts.shape)
    fewest = int(counts[step, target])
    where = f"target {names[target]} at horizon step {step + 1}"
    if not np.isfinite(truth).all(axis=1).any():  # the rows the validation loss scores
        raise UserInputError(
            "no observed value in the validation split", where="the validation split",
            expected="rows whose target values were all observed (not filled in), for the "
            "validation loss", received="only rows with values filled in", fix=_LONGER)
    if not calibrated:
        return []
    if fewest == 0:
        raise _unobserved(where)
    notes = []
    for level in levels:
        needed = math.ceil(level / (1 - level) - 1e-9)
        if fewest < needed:
            notes.append(f"the {level:.0%} intervals are calibrated on {fewest} observed "
                         f"validation values for {where}; their coverage guarantee needs "
                         f"{needed}, so there the band is the largest error seen "
                         f"({_LONGER})")
    return notes


def _refuse_unobserved(calibration: np.ndarray) -> None:
    """Refuse a calibration ``(levels, horizon, targets)`` with no observed truth for
    some horizon step and target (every validation value there was filled in)."""
    missing = np.argwhere(np.isnan(calibration))
    if len(missing):
        _, step, target = map(int, missing[0])
        raise _unobserved(f"target {target + 1} at horizon step {step + 1}")


_LONGER = "give a longer validation split (--set validation_fraction=...) or fill the gap in " \
    "the file"


def _unobserved(where: str) -> UserInputError:
    return UserInputError(
        "no observed value to calibrate the intervals on", where="the validation split",
        expected="observed (not filled-in) target values at every horizon step",
        received=f"only filled-in values for {where}", fix=_LONGER)


def band_scores(truth: np.ndarray, outputs: np.ndarray) -> np.ndarray:
    """How far each band must stretch around its forecast to hold the truth.

    For the 80% and 95% bands of ``outputs (n, horizon, targets, 5)`` and
    ``truth (n, horizon, targets)``: ``max((f - y) / (f - lower), (y - f) /
    (upper - f))``, so 1 is on the band's edge, below 1 inside. Returns
    ``(n, horizon, targets, 2)``.
    """
    truth = np.asarray(truth, np.float64)
    outputs = np.asarray(outputs, np.float64)
    forecast = outputs[..., 0]
    scores = []
    for column in (1, 3):
        below = np.maximum(forecast - outputs[..., column], 1e-12)
        above = np.maximum(outputs[..., column + 1] - forecast, 1e-12)
        scores.append(np.maximum((forecast - truth) / below, (truth - forecast) / above))
    return np.stack(scores, axis=-1)


def recalibration_warmup(window: int) -> int:
    """Ended windows needed before bands are recalibrated: a quarter of ``window``, at
    least 20 (the fewest whose 95% rank is not the largest score)."""
    return max(20, window // 4)


def rolling_factors(scores: np.ndarray, horizon: int, window: int, every: int,
                    warmup: int | None = None, levels=LEVELS) -> np.ndarray:
    """Band factors recalibrated on the most recent windows whose truth is known.

    ``scores`` (:func:`band_scores`) belong to consecutive origins, one step
    apart. The windows of origins ``every`` steps at a time share one factor
    per step, target and level: the split-conformal rank of the scores of the
    last ``window`` windows that ended before the first of those origins
    (origin ``<= i - horizon``), i.e. only what was known at the time. Until
    ``warmup`` windows have ended (default :func:`recalibration_warmup`) the
    factor is 1: the bands as calibrated on the validation split.

    Returns:
        ``(n, horizon, targets, len(levels))``.
    """
    scores = np.asarray(scores, np.float64)
    warmup = recalibration_warmup(window) if warmup is None else warmup
    factors = np.ones_like(scores)
    for start in range(0, len(scores), max(1, every)):
        known = start - horizon + 1
        if known < warmup:
            continue
        recent = scores[max(0, known - window):known]
        for k, level in enumerate(levels):
            # a column with no observed truth among them keeps its validation bands
            factors[start:start + every, ..., k] = np.nan_to_num(
                conformal_widths(recent[..., k], (level,))[0], nan=1.0)
    return factors


def rescale_bands(outputs: np.ndarray, factors: np.ndarray) -> np.ndarray:
    """``outputs (n, horizon, targets, 5)`` with each band stretched around the forecast
    by ``factors (n, horizon, targets, 2)``, the 95% band kept around the 80% band."""
    outputs = np.array(outputs, np.float64)
    forecast = outputs[..., 0]
    for k, column in enumerate((1, 3)):
        outputs[..., column] = forecast - factors[..., k] * (forecast - outputs[..., column])
        outputs[..., column + 1] = forecast + factors[..., k] * (outputs[..., column + 1]
                                                                 - forecast)
    outputs[..., 3] = np.minimum(outputs[..., 3], outputs[..., 1])
    outputs[..., 4] = np.maximum(outputs[..., 4], outputs[..., 2])
    return outputs


def recalibrate_latest(outputs: np.ndarray, recent_outputs: np.ndarray,
                       recent_truth: np.ndarray, window: int) -> tuple[np.ndarray, int]:
    """The bands of ``outputs (n, horizon, targets, 5)``, forecast after ``recent_*``
    (the latest windows that have ended), rescaled on those windows' band scores.

    Returns:
        ``(outputs, windows used)``; unchanged and 0 when fewer than
        :func:`recalibration_warmup` windows are given.
    """
    recent_truth = np.asarray(recent_truth)[-window:]
    if len(recent_truth) < recalibration_warmup(window):
        return np.asarray(outputs, np.float64), 0
    scores = band_scores(recent_truth, np.asarray(recent_outputs)[-len(recent_truth):])
    factors = np.stack([np.nan_to_num(conformal_widths(scores[..., k], (level,))[0], nan=1.0)
                        for k, level in enumerate(LEVELS)], axis=-1)
    return rescale_bands(outputs, factors[None]), len(recent_truth)


def recalibrated_coverage(targets: np.ndarray, outputs: np.ndarray, horizon: int,
                          window: int, every: int) -> dict[str, Any]:
    """Coverage and mean width of the bands recalibrated as the truth arrives
    (:func:`rolling_factors`) over consecutive origins."""
    factors = rolling_factors(band_scores(targets, outputs), horizon, window, every)
    bands = rescale_bands(outputs, factors)
    targets = np.asarray(targets, np.float64)
    every = max(1, every)
    first = -(-(recalibration_warmup(window) + horizon - 1) // every) * every  # first one
    result: dict[str, Any] = {"window": int(window), "every": int(every),
                              "recalibrated_windows": int(max(0, len(targets) - first))}
    for column, level in ((1, 80), (3, 95)):
        lower, upper = bands[..., column], bands[..., column + 1]
        result[f"coverage_{level}"] = _covered(targets, lower, upper)
        result[f"width_{level}"] = float(np.mean(upper - lower))
    return result


def _covered(truth: np.ndarray, lower: np.ndarray, upper: np.ndarray) -> float:
    """Share of the observed (finite) ``truth`` values within ``[lower, upper]``."""
    observed = np.isfinite(truth)
    inside = (truth >= lower) & (truth <= upper)
    return float(inside[observed].mean()) if observed.any() else float("nan")


def pinball(truth: np.ndarray, quantiles: np.ndarray, levels) -> float:
    """Mean pinball loss of ``quantiles (..., len(levels))`` against ``truth (...)``."""
    error = np.asarray(truth, np.float64)[..., None] - np.asarray(quantiles, np.float64)
    levels = np.asarray(levels, np.float64)
    return _mean(np.maximum(levels * error, (levels - 1) * error))


def coverage(truth: np.ndarray, forecast: np.ndarray, width: np.ndarray) -> float:
    """Share of ``truth`` within ``forecast +- width`` (width broadcast over windows)."""
    return float(np.mean(np.abs(np.asarray(truth) - np.asarray(forecast)) <= width))


# --- predicting from a file ----------------------------------------------------------------


@dataclasses.dataclass
class ForecastInput:
    """One history to forecast from: the window the model reads, the timestamps of its
    forecast, and the file's latest windows whose truth is known (``recent_inputs``,
    ``recent_truth``: ``(n, rows, columns)``, ``(n, horizon, targets)``; n may be 0), on
    which its bands are recalibrated."""

    window: np.ndarray
    timestamps: Any
    recent_inputs: np.ndarray
    recent_truth: np.ndarray


def forecast_input(window: np.ndarray, timestamps: Any, known: np.ndarray,
                   truth: np.ndarray | None, artifacts: dict[str, Any]) -> ForecastInput:
    """A :class:`ForecastInput` from a file's history (``known``: its rows whose targets
    are known; ``truth``: their observed targets, NaN where filled in, or None for
    ``known``'s own), keeping as many recent windows as the model's ``recalibration``
    window."""
    from rnn_templates.data.windows import scored_windows

    a = artifacts
    lookback, horizon = a["lookback"], a["horizon"]
    count = a.get("recalibration", {}).get("window", 0)
    inputs = np.zeros((0, *np.shape(window)), "float32")
    recent_truth = np.zeros((0, horizon, a["targets"]), "float32")
    if count:
        span = lookback + horizon + count - 1
        start = max(0, len(known) - span)
        recent, full = scored_windows(known[start:], lookback, horizon, a["targets"],
                                      future_rows=a["future_rows"],
                                      truth=None if truth is None else truth[start:])
        if len(recent):
            inputs, recent_truth = recent, full[:, lookback:]
    return ForecastInput(window, timestamps, inputs, recent_truth)


def forecast_batch(items: list) -> np.ndarray:
    """One array for the model: every item's window, then every item's recent windows
    (an item may also be a bare window)."""
    windows = [np.asarray(getattr(item, "window", item))[None] for item in items]
    recent = [item.recent_inputs for item in items if isinstance(item, ForecastInput)]
    return np.concatenate([*windows, *recent]).astype("float32")


def calibrated_forecasts(outputs: np.ndarray, items: list[ForecastInput], window: int
                         ) -> list[tuple[np.ndarray, str]]:
    """Each item's ``(horizon, targets, 5)`` outputs from those of :func:`forecast_batch`,
    the bands rescaled on its recent windows when it has enough of them
    (:func:`recalibrate_latest`), and what calibrated them."""
    result, start = [], len(items)
    for index, item in enumerate(items):
        count = len(item.recent_truth)
        values, used = outputs[index:index + 1], 0
        if count:
            values, used = recalibrate_latest(values, outputs[start:start + count],
                                              item.recent_truth, window)
            start += count
        result.append((values[0], f"last {used} windows" if used else "validation"))
    return result


# --- seasonality and baselines --------------------------------------------------------


def detect_season(values: np.ndarray, max_lag: int) -> int:
    """The lag of the highest autocorrelation peak of ``values (steps, columns)``, averaged.

    Returns 1 (no season) when no lag from 2 to ``max_lag`` shows a peak
    with autocorrelation above both 0.1 and ``3 / sqrt(steps)`` (noise level).

    Example:
        >>> steps = np.arange(400)
        >>> detect_season(np.sin(2 * np.pi * steps / 12)[:, None], 50)
        12
    """
    values = np.asarray(values, dtype=np.float64)
    values = values - values.mean(axis=0)
    # Remove a linear trend so the autocorrelation reflects the cycle.
    steps = np.arange(len(values))[:, None]
    slope = (steps - steps.mean()).T @ values / max(1.0, float(((steps - steps.mean()) ** 2).sum()))
    values = values - (steps - steps.mean()) * slope
    max_lag = min(max_lag, len(values) // 2 - 1)
    if max_lag < 2:
        return 1
    spectrum = np.fft.rfft(values, n=2 * len(values), axis=0)
    acf = np.fft.irfft(spectrum * np.conj(spectrum), axis=0)[: max_lag + 2]
    acf = (acf / np.maximum(acf[:1], 1e-12)).mean(axis=1)
    # A peak must stand above what noise gives (about 1/sqrt(n) per lag).
    threshold = max(0.1, 3 / np.sqrt(len(values)))
    peaks = [lag for lag in range(2, max_lag + 1) if acf[lag] >= acf[lag - 1]
             and acf[lag] >= acf[lag + 1] and acf[lag] > threshold]
    return int(max(peaks, key=lambda lag: acf[lag])) if peaks else 1


def training_statistics(train_rows: np.ndarray, targets: int, season: int,
                        lookback: int) -> dict[str, Any]:
    """What is fitted on the training rows only: every column's mean and standard
    deviation (1 where constant), the season (``season``, else detected within
    ``lookback``) and each target's mean absolute seasonal difference (MASE's scale)."""
    mean, std = train_rows.mean(axis=0), train_rows.std(axis=0)
    std = np.where(std > 0, std, 1.0)
    season = season or detect_season(train_rows[:, :targets], lookback)
    lagged = train_rows[season:, :targets] - train_rows[:-season, :targets]
    return {"mean": mean.tolist(), "std": std.tolist(), "season": int(season),
            "naive_scale": np.maximum(np.abs(lagged).mean(axis=0), 1e-12).tolist()}


def season_beyond_lookback(train_targets: np.ndarray, season: int, lookback: int,
                           freq: str = "") -> str | None:
    """A note when the training rows' strongest cycle is longer than the lookback, so the
    detected ``season`` (searched up to ``lookback``) misses it, or None.

    Example: 10-minute data repeat every 144 steps (a day), which a lookback of 104
    cannot hold; the note names the cycle and the lookback that would.
    """
    longer = detect_season(train_targets, min(len(train_targets) // 2 - 1, 10 * lookback))
    if longer <= lookback or (season > 1 and longer % season == 0):
        return None  # within reach, or a multiple of the season found
    span = ""
    try:
        import pandas as pd

        seconds = int(pd.Timedelta(pd.tseries.frequencies.to_offset(freq)).total_seconds())
    except (ValueError, TypeError):
        seconds = 0  # calendar frequencies (months, business days) have no fixed length
    for unit, size in (("day", 86400), ("hour", 3600), ("minute", 60), ("second", 1)):
        if seconds and seconds * longer % size == 0:
            count = seconds * longer // size
            span = f" ({count} {unit}{'s' * (count != 1)})"
            break
    found = f"season {season}" if season > 1 else "no season"
    return (f"the training rows repeat every {longer} steps{span}, more than the lookback "
            f"({lookback}) holds, so the baselines and MASE use {found}; a lookback of at "
            f"least {longer} lets the model and the seasonal-naive baseline see whole cycles")


def naive_baselines(lookback: int, horizon: int, targets: int, season: int,
                    train: tuple, validation: tuple) -> list:
    """Last value, repeat the window, seasonal naive, and the linear model fitted on the
    ``train`` windows (``(inputs, history + horizon targets)``) and checked on
    ``validation``."""
    shape = (lookback, horizon, targets)
    linear = LinearWindow(*shape).fit(train[0], train[1][:, lookback:],
                                      validation[0], validation[1][:, lookback:])
    return [LastValue(*shape), RepeatWindow(*shape), SeasonalNaive(*shape, season=season),
            linear]


class _Baseline:
    """A forecast rule over raw windows; ``outputs`` gives ``(n, horizon, targets, 1)``."""

    name = "baseline"

    def __init__(self, lookback: int, horizon: int, targets: int):
        self.lookback, self.horizon, self.targets = lookback, horizon, targets
        self.settings: dict[str, Any] = {}

    def history(self, inputs: np.ndarray) -> np.ndarray:
        return np.asarray(inputs, dtype=np.float64)[:, : self.lookback, : self.targets]

    def outputs(self, inputs) -> np.ndarray:
        return self.forecast(self.history(inputs))[..., None].astype("float32")

    def forecast(self, history: np.ndarray) -> np.ndarray:
        raise NotImplementedError


class LastValue(_Baseline):
    """Every step of the horizon is the window's last value."""

    name = "last_value"

    def forecast(self, history):
        return np.repeat(history[:, -1:], self.horizon, axis=1)


class SeasonalNaive(_Baseline):
    """Each step repeats the value one season earlier (``season=lookback``: the last window)."""

    name = "seasonal_naive"

    def __init__(self, lookback, horizon, targets, season: int):
        super().__init__(lookback, horizon, targets)
        self.season = int(min(max(1, season), lookback))
        self.settings = {"season": self.season}

    def forecast(self, history):
        cycle = history[:, self.lookback - self.season:]
        repeats = -(-self.horizon // self.season)
        return np.tile(cycle, (1, repeats, 1))[:, : self.horizon]


class RepeatWindow(SeasonalNaive):
    """The last ``lookback`` steps repeated over the horizon."""

    name = "repeat_window"

    def __init__(self, lookback, horizon, targets):
        super().__init__(lookback, horizon, targets, lookback)
        self.settings = {}


class LinearWindow(_Baseline):
    """Ridge regression from a window to its horizon, shared by all targets.

    Channel-independent like DLinear/NLinear: each target's lookback, minus
    its last value, maps to its horizon; the regularization strength is
    chosen on the validation windows.
    """

    name = "linear"

    def fit(self, train_inputs, train_targets, validation_inputs, validation_targets,
            alphas=(0.1, 1.0, 10.0, 100.0)) -> LinearWindow:
        from sklearn.linear_model import Ridge

        def design(inputs, targets=None):
            history = self.history(inputs)
            last = history[:, -1:]
            x = np.transpose(history - last, (0, 2, 1)).reshape(-1, self.lookback)
            if targets is None:
                return x, last
            y = np.transpose(np.asarray(targets, np.float64) - last, (0, 2, 1))
            return x, y.reshape(-1, self.horizon)

        x, y = design(train_inputs, train_targets)
        scale = np.std(x) or 1.0  # comparable alphas whatever the units
        x_val, y_val = design(validation_inputs, validation_targets)
        best = None
        for alpha in alphas:
            model = Ridge(alpha=alpha * len(x) * scale**2 / 1000).fit(x, y)
            error = _mean((model.predict(x_val) - y_val) ** 2)  # observed values only
            if best is None or error < best[0]:
                best = (error, alpha, model)
        _, alpha, self.model = best
        self.settings = {"alpha": alpha}
        return self

    def forecast(self, history):
        last = history[:, -1:]
        x = np.transpose(history - last, (0, 2, 1)).reshape(-1, self.lookback)
        y = self.model.predict(x).reshape(len(history), self.targets, self.horizon)
        return np.transpose(y, (0, 2, 1)) + last


# --- metrics ---------------------------------------------------------------------------


def forecast_metrics(targets: np.ndarray, outputs: np.ndarray, *, std: np.ndarray,
                     naive_scale: np.ndarray, names: list[str], history: np.ndarray | None = None,
                     quantile_loss: bool = False,
                     recalibration: dict[str, int] | None = None) -> dict[str, Any]:
    """Point and interval scores of forecasts against ``targets``.

    Args:
        targets: ``(n, horizon, targets)`` in original units; NaN where the
            value was filled in rather than observed, left out of every score.
        outputs: ``(n, horizon, targets, k)``, see the module docstring.
        std: Training standard deviation per target (standardized units).
        naive_scale: Training mean absolute error of the seasonal naive
            forecast per target, the MASE denominator.
        names: Target names.
        history: Optional ``(n, lookback, targets)`` inputs, kept for the
            forecast plot (the last window only).
        quantile_loss: Also report ``pinball_normalized``, the pinball loss
            of the five outputs read as the 0.5, 0.1, 0.9, 0.025 and 0.975
            quantiles, in standardized units (for models with quantile heads).
        recalibration: ``{"window": N, "every": K}``: also report, as
            ``recalibrated``, the bands recalibrated as the truth arrives
            (:func:`recalibrated_coverage`; the windows must be consecutive
            origins, as a backtest's are).

    Returns:
        ``mae``, ``rmse``, ``mase``, ``smape`` (percent) in original units;
        ``mse_normalized``, ``mae_normalized``; ``per_step`` (normalized MAE
        and MSE per horizon step); ``backtest`` (normalized MAE per origin);
        ``per_target``; ``coverage_80``/``coverage_95`` and the mean interval
        widths when ``k == 5``; ``filled_values_left_out`` when some targets
        are NaN; and the last window for plotting.
    """
    targets = np.asarray(targets, np.float64)
    outputs = np.asarray(outputs, np.float64)
    forecast = outputs[..., 0]
    error = forecast - targets  # NaN where the truth was filled in, not observed
    scaled = error / std
    absolute = np.abs(error)
    denominator = np.abs(targets) + np.abs(forecast)
    smape = np.where(denominator > 0, 2 * absolute / np.where(denominator > 0, denominator, 1),
                     np.where(np.isnan(targets), np.nan, 0.0))
    per_target_mae = np.array([_mean(absolute[..., i]) for i in range(targets.shape[-1])])
    metrics: dict[str, Any] = {
        "windows": int(len(targets)),
        "mae": _mean(absolute),
        "rmse": float(np.sqrt(_mean(error**2))),
        "mase": float(np.mean(per_target_mae / naive_scale)),
        "smape": 100 * _mean(smape),
        "mse_normalized": _mean(scaled**2),
        "mae_normalized": _mean(np.abs(scaled)),
        "per_step": {"mae_normalized": _means(np.abs(scaled), axis=(0, 2)),
                     "mse_normalized": _means(scaled**2, axis=(0, 2))},
        "backtest": {"mae_normalized": _means(np.abs(scaled), axis=(1, 2))},
        "per_target": {name: {"mae": float(per_target_mae[i]),
                              "rmse": float(np.sqrt(_mean(error[..., i] ** 2)))}
                       for i, name in enumerate(names)},
    }
    unobserved = int(np.isnan(targets).sum())
    if unobserved:
        metrics["filled_values_left_out"] = unobserved
    if outputs.shape[-1] == 5:
        for column, level in ((1, 80), (3, 95)):
            lower, upper = outputs[..., column], outputs[..., column + 1]
            metrics[f"coverage_{level}"] = _covered(targets, lower, upper)
            metrics[f"width_{level}"] = float(np.mean(upper - lower))
        if recalibration and recalibration.get("window"):
            metrics["recalibrated"] = recalibrated_coverage(
                targets, outputs, targets.shape[1], recalibration["window"],
                recalibration["every"])
        if quantile_loss:
            metrics["pinball_normalized"] = pinball(targets / std, outputs / std[:, None],
                                                    OUTPUT_QUANTILES)
    if len(targets):
        example = {"actual": _listed(targets[-1, :, 0]), "forecast": forecast[-1, :, 0].tolist(),
                   "target": names[0]}
        if history is not None:
            example["history"] = _listed(np.asarray(history, np.float64)[-1, :, 0])
        if outputs.shape[-1] == 5:
            example["lower_80"], example["upper_80"] = (outputs[-1, :, 0, 1].tolist(),
                                                        outputs[-1, :, 0, 2].tolist())
            example["lower_95"], example["upper_95"] = (outputs[-1, :, 0, 3].tolist(),
                                                        outputs[-1, :, 0, 4].tolist())
        metrics["example"] = example
    return metrics


# --- plots ---------------------------------------------------------------------------------


def _mean(values: np.ndarray) -> float:
    """The mean of the finite values (NaN marks a truth filled in, not observed)."""
    values = np.asarray(values, np.float64)
    finite = np.isfinite(values)
    return float(values[finite].mean()) if finite.any() else float("nan")


def _means(values: np.ndarray, axis) -> list[float | None]:
    """Means of the finite values along ``axis``, rounded; None where there are none."""
    values = np.asarray(values, np.float64)
    finite = np.isfinite(values)
    count = finite.sum(axis=axis)
    total = np.where(finite, values, 0.0).sum(axis=axis)
    return _listed(np.where(count > 0, total / np.maximum(count, 1), np.nan).round(6))


def _listed(values: np.ndarray) -> list[float | None]:
    """A list for JSON, None where a value is NaN."""
    return [None if np.isnan(value) else float(value) for value in np.asarray(values, np.float64)]


def summary_line(name: str, metrics: dict[str, Any]) -> str:
    """One line of a split's scores (and coverage, when there are intervals)."""
    coverage = ""
    if "coverage_80" in metrics:
        coverage = (f"  coverage80 {metrics['coverage_80']:.3f}  coverage95 "
                    f"{metrics['coverage_95']:.3f}")
    if metrics.get("recalibrated", {}).get("recalibrated_windows"):
        r = metrics["recalibrated"]
        coverage += (f" (recalibrated: {r['coverage_80']:.3f} / {r['coverage_95']:.3f} over "
                     f"{r['recalibrated_windows']} windows)")
    if "pinball_normalized" in metrics:
        coverage += f"  pinball(std) {metrics['pinball_normalized']:.4f}"
    return (f"{name:16s} MAE {metrics['mae']:.4g}  RMSE {metrics['rmse']:.4g}  MASE "
            f"{metrics['mase']:.3f}  sMAPE {metrics['smape']:.2f}%  MSE(std) "
            f"{metrics['mse_normalized']:.4f}{coverage}  ({metrics['windows']} windows"
            f"{_left_out(metrics)})")


def _left_out(metrics: dict[str, Any]) -> str:
    count = metrics.get("filled_values_left_out", 0)
    return f"; {count} filled-in value{'s' if count != 1 else ''} not scored" if count else ""


def plot_forecast(example: dict[str, Any], path: str | Path, title: str) -> None:
    """The last window: history, actual values, forecast and its interval bands."""
    import matplotlib.pyplot as plt

    history = example.get("history", [])
    steps = np.arange(len(example["actual"])) + len(history)
    figure, axis = plt.subplots(figsize=(9, 4))
    if history:
        axis.plot(np.arange(len(history)), history, color="0.4", label="history")
    axis.plot(steps, example["actual"], color="black", label="actual")
    for level, alpha in (("95", 0.15), ("80", 0.3)):
        if f"lower_{level}" in example:
            axis.fill_between(steps, example[f"lower_{level}"], example[f"upper_{level}"],
                              color="tab:blue", alpha=alpha, label=f"{level}% interval")
    axis.plot(steps, example["forecast"], color="tab:blue", label="forecast")
    axis.axvline(len(history) - 0.5, color="0.6", linestyle=":")
    axis.set_xlabel("step (forecast origin at the dotted line)")
    axis.set_ylabel(example["target"])
    axis.set_title(title)
    axis.grid(alpha=0.3)
    axis.legend(loc="best", fontsize="small")
    io.save_figure(figure, path)


def plot_errors(metrics: dict[str, Any], path: str | Path, title: str) -> None:
    """Normalized MAE by horizon step (model and baselines) and over the backtest's origins."""
    import matplotlib.pyplot as plt

    figure, (by_step, by_origin) = plt.subplots(1, 2, figsize=(12, 4))
    runs = {"model": metrics, **metrics.get("baselines", {})}
    for name, scores in runs.items():
        steps = np.arange(1, len(scores["per_step"]["mae_normalized"]) + 1)
        by_step.plot(steps, scores["per_step"]["mae_normalized"], label=name,
                     linewidth=2 if name == "model" else 1)
        by_origin.plot(scores["backtest"]["mae_normalized"], label=name,
                       linewidth=1.5 if name == "model" else 0.8,
                       alpha=1.0 if name == "model" else 0.6)
    by_step.set_xlabel("horizon step")
    by_step.set_ylabel("MAE (standardized)")
    by_step.set_title("Error by horizon step")
    by_origin.set_xlabel("forecast origin (window of the split, in time order)")
    by_origin.set_ylabel("MAE (standardized)")
    by_origin.set_title("Rolling-origin backtest")
    for axis in (by_step, by_origin):
        axis.grid(alpha=0.3)
        axis.legend(fontsize="small")
    figure.suptitle(title)
    io.save_figure(figure, path)
