"""Deep ensembles in one model: members learn alone, the model answers with their mean."""

import keras
import numpy as np
import pytest
from keras.ops import convert_to_numpy as to_numpy

from rnn_templates.ensemble import EnsembleLoss, EnsembleMetric
from rnn_templates.topologies.forecast import build_forecaster

SHAPE = dict(rows=24, columns=2, lookback=24, horizon=6, targets=2, past=0, future=0,
             mean=[0.0, 0.0], std=[1.0, 1.0], segment_length=6, units=8)


def _data():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(32, 24, 2)).astype("float32")
    return x, x[:, -6:, :] * 0.5


def _ensemble(members=2, loss="mse"):
    keras.utils.set_random_seed(1)
    model = build_forecaster("segrnn", members=members, **SHAPE)
    model.compile(keras.optimizers.SGD(0.1), loss=EnsembleLoss(loss),
                  metrics=[EnsembleMetric("mse"), EnsembleMetric("mae")])
    return model


def _members(model):
    return [layer for layer in model.layers if layer.name.startswith("segrnn_")]


def test_each_member_takes_the_step_it_would_take_alone():
    x, y = _data()
    ensemble = _ensemble(members=2)
    alone = []
    for member in _members(ensemble):
        single = build_forecaster("segrnn", **SHAPE)
        single.set_weights(member.get_weights())
        # The loss is the members' mean: at rate 0.1 each takes half its own gradient.
        single.compile(keras.optimizers.SGD(0.05), loss="mse")
        alone.append(single)
    assert not np.allclose(alone[0].get_weights()[0], alone[1].get_weights()[0])
    ensemble.train_on_batch(x, y)
    for member, single in zip(_members(ensemble), alone, strict=True):
        single.train_on_batch(x, y)
        for a, b in zip(member.get_weights(), single.get_weights(), strict=True):
            np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-6)


def test_validation_and_prediction_score_the_mean_forecast():
    x, y = _data()
    model = _ensemble(members=3, loss="mae")
    parts = [to_numpy(member(x, training=False)) for member in _members(model)]
    mean = np.mean(parts, axis=0)
    np.testing.assert_allclose(model.predict(x, verbose=0), mean, rtol=1e-5, atol=1e-6)
    scores = model.evaluate(x, y, verbose=0, return_dict=True)
    assert scores["loss"] == pytest.approx(float(np.mean(np.abs(mean - y))), rel=1e-5)
    assert scores["mse"] == pytest.approx(float(np.mean((mean - y) ** 2)), rel=1e-5)
    # In training the loss is the members' mean loss, the metrics those of the mean.
    logs = model.test_on_batch(x, y, return_dict=True)
    assert logs["mae"] == pytest.approx(float(np.mean(np.abs(mean - y))), rel=1e-5)
    member_losses = [float(np.mean(np.abs(part - y))) for part in parts]
    stacked = model(x, training=True)
    assert tuple(stacked.shape) == (32, 6, 2, 3)
    loss = EnsembleLoss("mae")(y, np.stack(parts, axis=-1))
    assert float(loss) == pytest.approx(np.mean(member_losses), rel=1e-5)


def test_an_ensemble_saves_and_reloads(tmp_path):
    x, y = _data()
    model = _ensemble(members=2)
    model.fit(x, y, epochs=1, verbose=0)
    model.save(tmp_path / "ensemble.keras")
    again = keras.models.load_model(tmp_path / "ensemble.keras")
    np.testing.assert_allclose(again.predict(x, verbose=0), model.predict(x, verbose=0),
                               rtol=1e-6, atol=1e-6)
    assert again.evaluate(x, y, verbose=0) == pytest.approx(model.evaluate(x, y, verbose=0))


def test_unknown_metrics_and_member_counts_are_refused():
    with pytest.raises(ValueError, match="keras.metrics"):
        EnsembleMetric("no_such_metric")
    with pytest.raises(ValueError, match="members"):
        build_forecaster("segrnn", members=0, **SHAPE)
