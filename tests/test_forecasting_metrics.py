"""Forecast metrics, baselines, conformal intervals, season detection and windows."""

import json

import numpy as np
import pytest

from rnn_templates import forecasting as fc
from rnn_templates.data.windows import forecast_windows, sliding_windows, window_dataset
from rnn_templates.errors import UserInputError


def test_conformal_intervals_cover_noise_of_known_variance():
    rng = np.random.default_rng(0)
    sigma = 2.0
    calibration = np.abs(rng.normal(0, sigma, size=(2000, 4, 3)))
    widths = fc.conformal_widths(calibration, (0.8, 0.95))
    # The half-widths approach the normal quantiles 1.2816 and 1.96 sigma.
    np.testing.assert_allclose(widths[0].mean(), 1.2816 * sigma, rtol=0.06)
    np.testing.assert_allclose(widths[1].mean(), 1.96 * sigma, rtol=0.06)
    truth = rng.normal(0, sigma, size=(5000, 4, 3))
    forecast = np.zeros_like(truth)
    assert fc.coverage(truth, forecast, widths[0]) == pytest.approx(0.8, abs=0.03)
    assert fc.coverage(truth, forecast, widths[1]) == pytest.approx(0.95, abs=0.03)


def test_conformal_widths_take_the_finite_sample_rank():
    errors = np.arange(1.0, 20.0)  # 19 calibration errors: ranks 16 (80%) and 19 (95%)
    assert fc.conformal_widths(errors[::-1], (0.8, 0.95)).tolist() == [16.0, 19.0]
    assert fc.conformal_widths(errors[:3], (0.95,)).tolist() == [3.0]  # rank above n: the largest


def test_filled_in_truth_is_left_out_of_every_score_and_calibration():
    rng = np.random.default_rng(3)
    targets = rng.normal(5, 1, (40, 6, 2))
    forecast = targets + rng.normal(0, 0.8, targets.shape)
    outputs = np.stack([forecast + shift for shift in (0, -1, 1, -2, 2)], axis=-1)
    filled = np.zeros(targets.shape, bool)
    filled[10:14] = True  # a gap: four origins' whole horizons
    filled[20, 2:, 1] = True
    gappy = np.where(filled, np.nan, targets)
    kwargs = dict(std=np.array([1.0, 2.0]), naive_scale=np.array([0.5, 0.5]), names=["a", "b"],
                  recalibration={"window": 20, "every": 2})
    metrics = fc.forecast_metrics(gappy, outputs, **kwargs)
    error = np.abs(forecast - targets)
    assert metrics["filled_values_left_out"] == int(filled.sum())
    assert metrics["mae"] == pytest.approx(error[~filled].mean())
    assert metrics["per_target"]["b"]["mae"] == pytest.approx(error[..., 1][~filled[..., 1]].mean())
    assert metrics["coverage_80"] < 0.9  # (else the comparison below would prove little)
    inside = error <= 1  # the 80% band is the forecast +- 1
    assert metrics["coverage_80"] == pytest.approx(inside[~filled].mean())
    assert metrics["backtest"]["mae_normalized"][10:14] == [None] * 4
    assert None not in metrics["per_step"]["mae_normalized"]
    assert "NaN" not in json.dumps(metrics) and "filled-in values not scored" in fc.summary_line(
        "test", metrics)
    # Scored as truth, the filled-in values would dominate the error.
    assert fc.forecast_metrics(np.where(filled, 1e6, gappy), outputs, **kwargs)["mae"] > 1000
    # Conformal ranks count each column's observed errors only.
    errors = np.abs(rng.normal(0, 1, (30, 3)))
    holes = errors.copy()
    holes[:12, 1] = np.nan
    widths = fc.conformal_widths(holes, (0.8, 0.95))
    np.testing.assert_array_equal(widths[:, 1], fc.conformal_widths(errors[12:, 1:2])[:, 0])
    np.testing.assert_array_equal(widths[:, [0, 2]], fc.conformal_widths(errors[:, [0, 2]]))
    assert np.isnan(fc.conformal_widths(np.full((5, 1), np.nan))).all()
    # No observed value at a horizon step: the intervals cannot be calibrated there.
    widths = np.ones((2, 6, 2))
    widths[:, 4, 1] = np.nan
    with pytest.raises(UserInputError, match="target 2 at horizon step 5"):
        fc._refuse_unobserved(widths)


@pytest.mark.parametrize("loss", ["mae", "pinball", "ensemble"])
def test_the_validation_loss_counts_observed_horizon_steps_only(loss):
    import keras

    from rnn_templates.ensemble import EnsembleLoss
    from rnn_templates.topologies.forecast import PinballLoss

    rng = np.random.default_rng(4)
    values = rng.normal(0, 1, (60, 2)).astype("float32")
    targets = values[:, :2].copy()
    observed = np.ones(60, bool)
    observed[[20, 21, 22, 40]] = False  # rows whose targets were filled in
    targets[~observed] = 50.0  # scored, they would dominate the loss
    lookback, horizon = 6, 3
    outputs = {"mae": 1, "pinball": 3, "ensemble": 2}[loss]
    inputs = keras.Input((lookback, 2))
    flat = keras.layers.Dense(horizon * 2 * outputs)(keras.layers.Flatten()(inputs))
    model = keras.Model(inputs, keras.layers.Reshape(
        (horizon, 2) if outputs == 1 else (horizon, 2, outputs))(flat))
    quantiles = (0.1, 0.5, 0.9)
    model.compile(loss={"mae": "mae", "pinball": PinballLoss(quantiles),
                        "ensemble": EnsembleLoss("mae")}[loss],
                  weighted_metrics=["mae"] if loss == "mae" else None)
    dataset = window_dataset(values, targets, lookback, horizon, future_rows=False,
                             batch_size=7, observed=observed)
    assert len(dataset.element_spec) == 3
    # The mean over the observed horizon steps of every window, by hand.
    windows = forecast_windows(values, targets, lookback, horizon, future_rows=False)
    predicted = np.asarray(model.predict(windows[0], verbose=0))
    truth = np.asarray(windows[1])
    if loss == "pinball":
        error = truth[..., None] - predicted
        levels = np.array(quantiles)
        step_loss = np.maximum(levels * error, (levels - 1) * error).mean(axis=(-1, -2))
    elif loss == "ensemble":
        step_loss = np.abs(truth[..., None] - predicted).mean(axis=(-2, -1))
    else:
        step_loss = np.abs(truth - predicted).mean(axis=-1)
    starts = np.arange(len(truth))[:, None] + lookback + np.arange(horizon)
    kept = observed[starts]
    scores = np.atleast_1d(model.evaluate(dataset, verbose=0))  # [loss(, mae)]
    np.testing.assert_allclose(scores, step_loss[kept].mean(), rtol=1e-4)
    # Every step observed: no weights, the plain mean.
    plain = window_dataset(values, values, lookback, horizon, future_rows=False, batch_size=7,
                           observed=np.ones(60, bool))
    assert len(plain.element_spec) == 2


def test_metrics_values_on_a_known_error():
    targets = np.ones((2, 3, 1)) * 10
    outputs = np.stack([targets + 1, targets - 2, targets + 2, targets - 3, targets + 3],
                       axis=-1)
    metrics = fc.forecast_metrics(targets, outputs, std=np.array([2.0]),
                                  naive_scale=np.array([0.5]), names=["y"])
    assert metrics["mae"] == pytest.approx(1.0)
    assert metrics["rmse"] == pytest.approx(1.0)
    assert metrics["mase"] == pytest.approx(2.0)
    assert metrics["smape"] == pytest.approx(100 * 2 / 21)
    assert metrics["mse_normalized"] == pytest.approx(0.25)
    assert metrics["per_step"]["mae_normalized"] == pytest.approx([0.5, 0.5, 0.5])
    assert metrics["backtest"]["mae_normalized"] == pytest.approx([0.5, 0.5])
    assert metrics["coverage_80"] == 1.0 and metrics["width_95"] == pytest.approx(6.0)


def test_baselines_on_a_seasonal_window():
    season = np.tile(np.arange(4.0), 3)[None, :, None]  # lookback 12, season 4
    shape = (12, 6, 1)
    assert fc.LastValue(*shape).outputs(season)[0, :, 0, 0].tolist() == [3.0] * 6
    assert fc.SeasonalNaive(*shape, season=4).outputs(season)[0, :, 0, 0].tolist() == [
        0, 1, 2, 3, 0, 1]
    assert fc.RepeatWindow(*shape).outputs(season)[0, :, 0, 0].tolist() == [0, 1, 2, 3, 0, 1]


def test_linear_baseline_learns_a_linear_rule():
    rng = np.random.default_rng(0)
    series = np.cumsum(rng.normal(size=600))[:, None]
    inputs, targets = forecast_windows(series, series, 10, 3, future_rows=False)
    linear = fc.LinearWindow(10, 3, 1).fit(inputs[:400], targets[:400], inputs[400:],
                                           targets[400:])
    error = np.abs(linear.outputs(inputs[400:])[..., 0] - targets[400:]).mean()
    last = np.abs(fc.LastValue(10, 3, 1).outputs(inputs[400:])[..., 0] - targets[400:]).mean()
    assert error < 1.1 * last  # a random walk: the last value is optimal, linear finds it
    # An oscillating AR(2) series, x[t] = 1.6 x[t-1] - 0.9 x[t-2] + noise: the last value
    # is far from the best forecast, a linear rule on the window is the best there is.
    noise = rng.normal(size=600)
    series = np.zeros(600)
    for t in range(2, 600):
        series[t] = 1.6 * series[t - 1] - 0.9 * series[t - 2] + noise[t]
    inputs, targets = forecast_windows(series[:, None], series[:, None], 10, 3,
                                       future_rows=False)
    linear = fc.LinearWindow(10, 3, 1).fit(inputs[:400], targets[:400], inputs[400:500],
                                           targets[400:500])
    error = np.abs(linear.outputs(inputs[500:])[..., 0] - targets[500:]).mean()
    last = np.abs(fc.LastValue(10, 3, 1).outputs(inputs[500:])[..., 0] - targets[500:]).mean()
    assert error < 0.75 * last
    # One step ahead, the rule it learnt is the series' own: the noise's spread is all
    # that is left of the error (mean absolute value of a standard normal: 0.80).
    assert np.abs(linear.outputs(inputs[500:])[:, 0, 0] - targets[500:, 0]).mean() < 0.95


@pytest.mark.parametrize("period", [7, 24, 52])
def test_season_is_detected(period):
    steps = np.arange(20 * period)
    noise = np.random.default_rng(period).normal(0, 0.3, len(steps))
    values = (np.sin(2 * np.pi * steps / period) + 0.01 * steps + noise)[:, None]
    assert fc.detect_season(values, 2 * period) == period
    assert fc.detect_season(np.random.default_rng(1).normal(size=(500, 1)), 50) == 1


def test_a_cycle_longer_than_the_lookback_is_noted_with_its_length():
    steps = np.arange(3000)
    noise = 0.1 * np.random.default_rng(0).normal(size=(3000, 1))
    daily = np.sin(2 * np.pi * steps / 144)[:, None] + noise  # 10-minute steps
    note = fc.season_beyond_lookback(daily, 1, 104, "10min")
    assert note.startswith("the training rows repeat every 144 steps (1 day), more than the "
                           "lookback (104) holds, so the baselines and MASE use no season")
    assert "every 144 steps, more" in fc.season_beyond_lookback(daily, 1, 104, "MS")
    assert fc.season_beyond_lookback(daily, 144, 200, "10min") is None  # within reach
    assert fc.season_beyond_lookback(daily[:, :] * 0 + noise, 1, 104, "10min") is None
    weekly = np.sin(2 * np.pi * steps / 52)[:, None] + noise
    assert fc.season_beyond_lookback(weekly, 52, 60, "W") is None  # its multiples are no news


def test_windows_without_python_loops_agree_with_tf_data():
    values = np.arange(40, dtype="float32").reshape(20, 2)
    targets = values[:, :1] * 10
    inputs, outputs = forecast_windows(values, targets, 5, 3, future_rows=True)
    assert inputs.shape == (13, 8, 2) and outputs.shape == (13, 3, 1)
    assert outputs[0, :, 0].tolist() == [100, 120, 140]
    batches = list(window_dataset(values, targets, 5, 3, future_rows=True, batch_size=4))
    assert [len(x) for x, _ in batches] == [4, 4, 4, 1]  # the last partial batch is kept
    np.testing.assert_array_equal(np.concatenate([x for x, _ in batches]), inputs)
    np.testing.assert_array_equal(np.concatenate([y for _, y in batches]), outputs)
    assert sliding_windows(values[:2], 3).shape == (0, 3, 2)


def test_shuffled_windows_cover_every_origin_once_per_epoch_reproducibly():
    values = np.arange(60, dtype="float32").reshape(30, 2)
    targets = values[:, 1:]
    inputs, outputs = forecast_windows(values, targets, 4, 2, future_rows=False, stride=3)

    def epochs(seed):
        dataset = window_dataset(values, targets, 4, 2, future_rows=False, batch_size=3,
                                 stride=3, shuffle=True, seed=seed)
        return [[(x.numpy(), y.numpy()) for x, y in dataset] for _ in range(2)]

    first, again = epochs(7), epochs(7)
    orders = []
    for epoch, repeat in zip(first, again, strict=True):
        x = np.concatenate([b[0] for b in epoch])
        y = np.concatenate([b[1] for b in epoch])
        np.testing.assert_array_equal(x, np.concatenate([b[0] for b in repeat]))
        order = np.argsort(x[:, 0, 0])  # the first value of a window names its origin
        np.testing.assert_array_equal(x[order], inputs)
        np.testing.assert_array_equal(y[order], outputs)
        orders.append(x[:, 0, 0].tolist())
    assert orders[0] != orders[1]  # reshuffled every epoch


def test_bands_recalibrated_as_the_truth_arrives_follow_a_change_of_noise():
    # Bands calibrated for noise of scale 1; from origin 0 the noise has scale 0.5:
    # the fixed bands over-cover, the recalibrated ones come back to nominal.
    rng = np.random.default_rng(0)
    n, horizon = 3000, 4
    truth = 0.5 * rng.normal(size=(n, horizon, 1))
    forecast = np.zeros_like(truth)
    z80, z95 = 1.2816, 1.96
    outputs = np.stack([forecast, forecast - z80, forecast + z80, forecast - z95,
                        forecast + z95], axis=-1)
    fixed = fc.forecast_metrics(truth, outputs, std=np.ones(1), naive_scale=np.ones(1),
                                names=["y"], recalibration={"window": 400, "every": 10})
    assert fixed["coverage_80"] > 0.98
    recalibrated = fixed["recalibrated"]
    assert recalibrated["recalibrated_windows"] == n - 110  # warm-up 100 + horizon 4 - 1
    assert recalibrated["coverage_80"] == pytest.approx(0.8, abs=0.02)
    assert recalibrated["coverage_95"] == pytest.approx(0.95, abs=0.015)


def test_band_scores_are_one_on_the_edge_and_rescaling_keeps_the_bands_nested():
    outputs = np.array([[[[10.0, 8.0, 14.0, 6.0, 18.0]]]])
    truth = np.array([[[14.0]]])
    np.testing.assert_allclose(fc.band_scores(truth, outputs)[0, 0, 0], [1.0, 0.5])
    wider = fc.rescale_bands(outputs, np.array([[[[3.0, 1.0]]]]))[0, 0, 0]
    np.testing.assert_allclose(wider, [10.0, 4.0, 22.0, 4.0, 22.0])  # 95% kept around 80%
    # Only ended windows count: with horizon 5, origin i uses scores of origins <= i - 5,
    # the last 20 of them. The 95% factor takes the 20th smallest of 20: the first 7 (of
    # origin 30) counts from origin 35; the 80% factor the 17th smallest: four 7s needed.
    scores = np.ones((60, 1, 1, 2))
    scores[30:] = 7.0
    factors = fc.rolling_factors(scores, horizon=5, window=20, every=1, warmup=20)
    assert (factors[:35] == 1).all()
    assert factors[35, 0, 0, 1] == 7.0 and factors[37, 0, 0, 0] == 1.0
    assert factors[38, 0, 0, 0] == 7.0


def test_epoch_shuffled_windows_depend_on_the_epoch_alone():
    from rnn_templates.data.shuffle import EpochShuffle

    values = np.arange(60, dtype="float32").reshape(30, 2)
    inputs, _ = forecast_windows(values, values[:, 1:], 4, 2, future_rows=False, stride=3)

    def origins(epoch):
        shuffle = EpochShuffle(seed=7)  # a new process, as after a resume
        dataset = window_dataset(values, values[:, 1:], 4, 2, future_rows=False, batch_size=3,
                                 stride=3, shuffle=shuffle)
        shuffle.on_epoch_begin(epoch)
        return np.concatenate([x.numpy() for x, _ in dataset])[:, 0, 0].tolist()

    assert origins(1) == origins(1) != origins(0)
    assert sorted(origins(2)) == inputs[:, 0, 0].tolist()


def test_a_batch_of_files_recalibrates_each_forecast_on_its_own_recent_windows():
    # Three files: a long calm one, a short one (no ended window) and a long rough one. One
    # batch holds the three windows, then the recent windows of the first and the third.
    lookback, horizon = 6, 2
    artifacts = {"lookback": lookback, "horizon": horizon, "targets": 1, "future_rows": False,
                 "recalibration": {"window": 120}}
    rng = np.random.default_rng(0)
    calm, rough = rng.normal(0, 0.2, (300, 1)), rng.normal(0, 3.0, (300, 1))
    items = [fc.forecast_input(known[-lookback:], None, known, None, artifacts)
             for known in (calm, np.zeros((7, 1)), rough)]
    assert [len(item.recent_truth) for item in items] == [120, 0, 120]
    batch = fc.forecast_batch(items)
    assert batch.shape == (3 + 240, lookback, 1)
    # A model forecasting 0 with unit-scale bands (z of the normal's 80% and 95% levels).
    z = np.array([0.0, -1.2816, 1.2816, -1.96, 1.96])
    outputs = np.broadcast_to(z, (len(batch), horizon, 1, 5)).copy()
    (first, how_first), (second, how_second), (third, how_third) = fc.calibrated_forecasts(
        outputs, items, 120)
    assert (how_first, how_second, how_third) == ("last 120 windows", "validation",
                                                  "last 120 windows")
    np.testing.assert_array_equal(second, outputs[1])  # nothing to recalibrate on
    # Each file's bands follow its own noise: about 0.2x and 3x the unit-scale widths.
    assert 0.1 < first[0, 0, 2] / 1.2816 < 0.35 and 2.2 < third[0, 0, 2] / 1.2816 < 4.0
    alone, _ = fc.recalibrate_latest(outputs[2:3], outputs[3 + 120:], items[2].recent_truth,
                                     120)
    np.testing.assert_allclose(third, alone[0])
