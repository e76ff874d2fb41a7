"""The apps' search spaces: what a grid search tries first, and no choice that cannot work."""

import keras_tuner
import pytest

from apps.forecasting.config import ForecastingConfig
from apps.forecasting.model import CELL_MODELS, ForecastingHyperModel
from apps.music.config import MusicConfig
from apps.music.model import MusicHyperModel
from apps.sentiment.config import SentimentConfig
from apps.sentiment.model import SentimentHyperModel
from apps.translation.config import TranslationConfig
from apps.translation.model import TranslationHyperModel
from rnn_templates.tuning import float_around, make_tuner


def _forecaster(**options) -> ForecastingHyperModel:
    config = ForecastingConfig(**options)
    shape = {"targets": 1, "past": 0, "future": 0, "rows": config.lookback, "columns": 1}
    return ForecastingHyperModel(config, shape, [0.0], [1.0])


HYPERMODELS = {
    "forecasting": lambda tuner: _forecaster(tuner=tuner),
    "music": lambda tuner: MusicHyperModel(MusicConfig(tuner=tuner), 20),
    "sentiment": lambda tuner: SentimentHyperModel(SentimentConfig(tuner=tuner, embeddings=""),
                                                   50, 2),
    "translation": lambda tuner: TranslationHyperModel(TranslationConfig(tuner=tuner), 50, 50),
}


def _grid_trials(hypermodel, directory, count: int) -> list[dict]:
    """The values of the first ``count`` trials a grid search hands out (none trained)."""
    tuner = make_tuner(hypermodel, kind="grid", objective="val_loss", max_trials=count,
                       directory=directory, project_name="grid", seed=1)
    oracle, trials = tuner.oracle, []
    for _ in range(count):
        trial = oracle.create_trial("tester")
        assert trial.status == "RUNNING"
        trials.append(dict(trial.hyperparameters.values))
        oracle.update_trial(trial.trial_id, {"val_loss": 1.0})
        trial.status = "COMPLETED"
        oracle.end_trial(trial)
    return trials


@pytest.mark.parametrize("app", sorted(HYPERMODELS))
def test_the_first_grid_trials_vary_more_than_the_learning_rate(tmp_path, app):
    trials = _grid_trials(HYPERMODELS[app]("grid"), tmp_path, 10)  # the default max_trials
    assert len({tuple(sorted(values.items())) for values in trials}) == 10
    varied = {name for name in trials[0] if len({values.get(name) for values in trials}) > 1}
    assert len(varied - {"learning_rate"}) >= 2, varied
    # the learning rate: the configured value and one step either side
    configured = HYPERMODELS[app]("grid").config.learning_rate
    rates = sorted({values["learning_rate"] for values in trials})
    assert trials[0]["learning_rate"] == configured
    assert len(rates) == 3 and rates[0] < configured < rates[-1]
    # the other searches keep sampling it from its whole range
    hp = keras_tuner.HyperParameters()
    HYPERMODELS[app]("random").build(hp)
    rate = next(h for h in hp.space if h.name == "learning_rate")
    assert type(rate).__name__ == "Float" and rate.sampling == "log" and rate.step is None


def test_a_grid_float_keeps_its_neighbours_in_range():
    hp = keras_tuner.HyperParameters()
    assert float_around(hp, "rate", 5e-4, 5e-3, 3e-3, sampling="log", grid=True) == 3e-3
    assert float_around(hp, "dropout", 0.0, 0.5, 0.0, step=0.1, grid=True) == 0.0
    assert float_around(hp, "head_dropout", 0.0, 0.5, 0.2, step=0.1, grid=True) == 0.2
    values = {h.name: h.values for h in hp.space}
    assert values == {"rate": [0.001, 0.003, 0.005], "dropout": [0.0, 0.1],
                      "head_dropout": [0.1, 0.2, 0.3]}


def _segment_lengths(**options) -> keras_tuner.engine.hyperparameters.HyperParameter:
    """The ``segment_length`` hyperparameter of a SegRNN trial of the forecaster."""
    hp = keras_tuner.HyperParameters()
    hp.values["model"] = "segrnn"
    _forecaster(**options).build(hp)
    return next(h for h in hp.space if h.name == "segment_length")


@pytest.mark.parametrize(("lookback", "segment_length", "stand_in"), [(100, 13, 25), (30, 4, 3)])
def test_no_segment_length_choice_fails_to_divide_the_lookback(lookback, segment_length,
                                                               stand_in):
    # segment_length need not divide the lookback when the configured model is not segrnn
    segment = _segment_lengths(model="rnn", lookback=lookback, segment_length=segment_length)
    assert segment.values and all(lookback % value == 0 for value in segment.values), (
        segment.values)
    assert segment.default == stand_in  # the divisor nearest the configured length
    # a configured length that divides the lookback stays the default
    assert _segment_lengths(model="rnn", lookback=104, segment_length=13).default == 13


def test_forecasting_cell_is_conditional_on_the_models_that_use_it():
    hypermodel = _forecaster()
    hp = keras_tuner.HyperParameters()
    hp.values["model"] = "rnn"
    hypermodel.build(hp)
    cells = [h for h in hp.space if h.name == "cell"]
    assert len(cells) == 1 and [c.name for c in cells[0].conditions] == ["model"]
    assert set(cells[0].conditions[0].values) == set(CELL_MODELS)
    for model in CELL_MODELS:
        hp.values["model"] = model
        assert hp.is_active(cells[0])
    hp.values["model"] = "segrnn"  # SegRNN always reads its segments with a GRU
    assert not hp.is_active(cells[0])
    # an autoregressive build declares the same conditional hyperparameter
    hp.values["model"] = "autoregressive"
    hypermodel.build(hp)
    assert [h.name for h in hp.space].count("cell") == 1
