"""Forecasters over raw windows: shapes, save/reload, no look at future targets, checks."""

import keras
import numpy as np
import pytest
from keras.ops import convert_to_numpy as to_numpy

from rnn_templates.topologies.forecast import ForecastOutputs, build_forecaster

COMMON = dict(lookback=8, horizon=6, targets=2, past=1, future=2,
              mean=[1.0, 2.0, 3.0, 0.0, 0.0], std=[2.0, 1.0, 1.0, 1.0, 1.0])


@pytest.mark.parametrize("kind, options, window_norm", [
    ("segrnn", {"segment_length": 4, "units": 8}, "last"),
    ("segrnn", {"segment_length": 4, "units": 8}, "revin"),
    ("rnn", {"rnn": {"cell": "lstm", "units": 8, "num_layers": 2}}, "last"),
    ("rnn", {"rnn": {"cell": "gru", "units": 8}}, "none"),
    ("autoregressive", {"cell": "lstm", "units": 8}, "last"),
])
def test_shape_reload_and_no_future_target_leak(tmp_path, kind, options, window_norm):
    model = build_forecaster(kind, rows=14, columns=5, window_norm=window_norm, **COMMON,
                             **options)
    rng = np.random.default_rng(0)
    window = rng.normal(size=(3, 14, 5)).astype("float32")
    out = to_numpy(model(window))
    assert out.shape == (3, 6, 2)
    # The horizon rows carry known-future covariates; their targets and past
    # covariates must not change the forecast.
    altered = window.copy()
    altered[:, 8:, :3] = 1000.0
    np.testing.assert_allclose(to_numpy(model(altered)), out, atol=1e-5)
    # ... while the known-future covariates do.
    moved = window.copy()
    moved[:, 8:, 3:] += 5.0
    assert np.abs(to_numpy(model(moved)) - out).max() > 1e-4
    model.save(tmp_path / "model.keras")
    reloaded = keras.saving.load_model(tmp_path / "model.keras")
    np.testing.assert_allclose(to_numpy(reloaded(window)), out, atol=1e-6)


def test_last_value_normalization_follows_a_level_shift():
    model = build_forecaster("segrnn", rows=8, columns=1, lookback=8, horizon=4, targets=1,
                             past=0, future=0, mean=[0.0], std=[1.0], segment_length=4,
                             units=4, window_norm="last")
    window = np.random.default_rng(1).normal(size=(2, 8, 1)).astype("float32")
    shifted = to_numpy(model(window + 100.0))
    np.testing.assert_allclose(shifted, to_numpy(model(window)) + 100.0, atol=1e-3)


def test_bad_arguments_name_the_argument():
    with pytest.raises(ValueError, match="`segment_length` must divide `lookback` \\(8\\); "
                                         "received 3"):
        build_forecaster("segrnn", rows=8, columns=1, lookback=8, horizon=2, targets=1, past=0,
                         future=0, mean=[0.0], std=[1.0], segment_length=3)
    with pytest.raises(ValueError, match="`kind` must be one of 'segrnn', 'rnn', "
                                         "'autoregressive'; received 'tcn'"):
        build_forecaster("tcn", rows=8, columns=1)
    with pytest.raises(ValueError, match="`window_norm` must be one of"):
        build_forecaster("rnn", rows=8, columns=1, lookback=8, horizon=2, targets=1, past=0,
                         future=0, mean=[0.0], std=[1.0], window_norm="max")


def test_forecast_outputs_are_in_original_units_and_ordered():
    widths = np.stack([np.full((3, 2), 1.0), np.full((3, 2), 2.0)]).tolist()
    layer = ForecastOutputs([10.0, -5.0], [2.0, 0.5], widths)
    out = to_numpy(layer(np.zeros((1, 3, 2), "float32")))
    assert out.shape == (1, 3, 2, 5)
    np.testing.assert_allclose(out[0, 0, 0], [10, 8, 12, 6, 14])
    np.testing.assert_allclose(out[0, 0, 1], [-5, -5.5, -4.5, -6, -4])


def test_adaptive_intervals_scale_with_each_windows_spread(tmp_path):
    widths = np.stack([np.full((3, 1), 1.0), np.full((3, 1), 2.0)]).tolist()
    layer = ForecastOutputs([0.0], [1.0], widths, lookback=4, input_mean=[0.0], input_std=[1.0])
    window = np.array([[1, -1, 1, -1], [2, -2, 2, -2]], "float32")[:, :, None]  # spread 1 and 2
    out = to_numpy(layer(np.zeros((2, 3, 1), "float32"), window))
    np.testing.assert_allclose(out[:, 0, 0, 2], [1.01, 2.01], rtol=1e-5)  # 80% upper bound
    np.testing.assert_allclose(out[:, 0, 0, 3], [-2.02, -4.02], rtol=1e-5)  # 95% lower bound
    inputs = keras.Input((4, 1))
    model = keras.Model(inputs, layer(keras.layers.Identity()(inputs)[:, :3], inputs))
    model.save(tmp_path / "adaptive.keras")
    reloaded = keras.saving.load_model(tmp_path / "adaptive.keras")
    np.testing.assert_allclose(to_numpy(reloaded(window)), to_numpy(model(window)), atol=1e-6)
