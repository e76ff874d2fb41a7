"""Quantile heads, the pinball loss and conformalized quantile regression (CQR)."""

import keras
import numpy as np
import pytest
from keras.ops import convert_to_numpy as to_numpy

from rnn_templates import forecasting as fc
from rnn_templates.topologies.forecast import (
    QUANTILES,
    AutoregressiveForecaster,
    PinballLoss,
    QuantileOutputs,
    build_forecaster,
    pinball_loss,
)


def _pinball_reference(truth, predicted, levels):
    # Written out loop by loop: the definition, not a vectorized copy of the code.
    total, count = 0.0, 0
    for index in np.ndindex(truth.shape):
        for k, level in enumerate(levels):
            error = truth[index] - predicted[index + (k,)]
            total += level * error if error >= 0 else (level - 1) * error
            count += 1
    return total / count


def test_pinball_loss_matches_a_numpy_reference():
    rng = np.random.default_rng(0)
    truth = rng.normal(size=(4, 3, 2)).astype("float32")
    predicted = rng.normal(size=(4, 3, 2, len(QUANTILES))).astype("float32")
    expected = _pinball_reference(truth, predicted, QUANTILES)
    per_value = to_numpy(pinball_loss(truth, predicted, QUANTILES))
    assert per_value.shape == (4, 3, 2)
    assert float(per_value.mean()) == pytest.approx(expected, rel=1e-5)
    assert float(PinballLoss(QUANTILES)(truth, predicted)) == pytest.approx(expected, rel=1e-5)
    assert fc.pinball(truth, predicted, QUANTILES) == pytest.approx(expected, rel=1e-5)
    # The median alone is half the absolute error.
    median = to_numpy(pinball_loss(truth, truth[..., None] + 2.0, (0.5,)))
    np.testing.assert_allclose(median, np.ones_like(truth), atol=1e-6)


def test_cqr_correction_matches_a_hand_computed_example():
    # Band [1, 3] for every window; truth 0, 1, 2, 5, 2.5:
    # scores max(lower - y, y - upper) = 1, 0, -1, 2, -0.5.
    truth = np.array([0.0, 1.0, 2.0, 5.0, 2.5])[:, None]
    lower, upper = np.ones((5, 1)), 3 * np.ones((5, 1))
    # level 0.8, n = 5: the ceil(6 * 0.8) / 5 = 1.0 quantile, the largest score: widen by 2.
    assert fc.cqr_corrections(truth, lower, upper, 0.8).tolist() == pytest.approx([2.0])
    # level 0.5: ceil(6 * 0.5) / 5 = 0.6, the 3rd of the sorted scores -1, -0.5, 0, 1, 2.
    assert fc.cqr_corrections(truth, lower, upper, 0.5).tolist() == pytest.approx([0.0])
    # Too wide a band is narrowed: truth always 2, in [0, 4]: scores -2, correction -2.
    narrowed = fc.cqr_corrections(np.full((9, 1), 2.0), np.zeros((9, 1)), np.full((9, 1), 4.0),
                                  0.8)
    assert narrowed.tolist() == pytest.approx([-2.0])


@pytest.mark.parametrize("kind, options", [
    ("segrnn", {"segment_length": 4, "units": 8}),
    ("rnn", {"rnn": {"cell": "gru", "units": 8}}),
])
def test_quantile_heads_give_ordered_quantiles_per_step_and_target(kind, options):
    model = build_forecaster(kind, rows=8, columns=2, lookback=8, horizon=6, targets=2, past=0,
                             future=0, mean=[1.0, 2.0], std=[2.0, 3.0], window_norm="revin",
                             quantiles=list(QUANTILES), **options)
    windows = np.random.default_rng(1).normal(size=(5, 8, 2)).astype("float32")
    quantiles = to_numpy(model(windows))
    assert quantiles.shape == (5, 6, 2, len(QUANTILES))
    assert np.all(np.diff(quantiles, axis=-1) > 0)  # never crossing
    restored = keras.Model.from_config(model.get_config())
    assert restored.output_shape == (None, 6, 2, len(QUANTILES))


def test_the_autoregressive_forecaster_refuses_quantile_heads():
    with pytest.raises(ValueError, match="not available to the autoregressive"):
        AutoregressiveForecaster(8, 5, 1, 0, 0, [0.0], [1.0], quantiles=list(QUANTILES))


def test_quantile_outputs_keep_the_bands_nested_in_original_units():
    # One window, one step, one target: standardized quantiles -2, -1, 0, 1, 2.
    quantiles = np.array([[[[-2.0, -1.0, 0.0, 1.0, 2.0]]]], "float32")
    raw = to_numpy(QuantileOutputs([10.0], [2.0], QUANTILES)(quantiles))[0, 0, 0]
    np.testing.assert_allclose(raw, [10, 8, 12, 6, 14], atol=1e-6)
    widened = QuantileOutputs([10.0], [2.0], QUANTILES, corrections=[[[0.5]], [[1.0]]])
    np.testing.assert_allclose(to_numpy(widened(quantiles))[0, 0, 0], [10, 7, 13, 4, 16],
                               atol=1e-6)
    # A correction that would cross the forecast stops at it (coverage only grows).
    narrowed = QuantileOutputs([10.0], [2.0], QUANTILES, corrections=[[[-1.5]], [[-0.5]]])
    np.testing.assert_allclose(to_numpy(narrowed(quantiles))[0, 0, 0], [10, 10, 10, 7, 13],
                               atol=1e-6)


def test_forecast_metrics_report_the_pinball_loss_of_the_bands():
    truth = np.zeros((3, 2, 1))
    outputs = np.broadcast_to(np.array([0.0, -1.0, 1.0, -2.0, 2.0]), (3, 2, 1, 5))
    metrics = fc.forecast_metrics(truth, outputs, std=np.array([2.0]),
                                  naive_scale=np.array([1.0]), names=["y"], quantile_loss=True)
    # Standardized: bounds -0.5, 0.5, -1, 1 at levels 0.1, 0.9, 0.025, 0.975.
    # Each bound's error is 0 minus the bound: 0.1 * 0.5, 0.1 * 0.5, 0.025 * 1, 0.025 * 1.
    expected = (0 + 0.05 + 0.05 + 0.025 + 0.025) / 5
    assert metrics["pinball_normalized"] == pytest.approx(expected)
    assert metrics["coverage_80"] == pytest.approx(1.0)
