"""What each backend can finish is refused up front, in one line, before any work."""

from __future__ import annotations

import keras
import pytest

from apps.forecasting.app import ForecastingApp
from apps.forecasting.config import ForecastingConfig
from apps.sentiment.app import SentimentApp
from apps.sentiment.config import SentimentConfig
from rnn_templates.app import Runner
from rnn_templates.errors import UserInputError


@pytest.fixture
def on_jax(monkeypatch):
    monkeypatch.setattr(keras.backend, "backend", lambda: "jax")


def test_a_string_model_refuses_every_training_entry_point(on_jax, tmp_path):
    runner = Runner(SentimentApp())
    config = SentimentConfig()
    calls = {"train": lambda: runner.train(config, tmp_path / "run"),
             "tune": lambda: runner.tune(config, tmp_path / "run", tuning_dir=tmp_path / "t"),
             "evaluate": lambda: runner.evaluate(tmp_path / "run"),
             "fit": lambda: runner.fit(config, ["good", "bad"], ["pos", "neg"], tmp_path / "w"),
             "search": lambda: runner.search(config, ["good", "bad"], ["pos", "neg"],
                                             tmp_path / "t")}
    for verb, call in calls.items():
        with pytest.raises(UserInputError, match=f"sentiment {verb} needs the TensorFlow "
                                                 "backend.*KERAS_BACKEND=tensorflow"):
            call()
    assert not any(tmp_path.iterdir())


def test_predicting_from_a_keras_file_on_another_backend_names_the_saved_model(on_jax,
                                                                              tmp_path):
    model = tmp_path / "model.keras"
    model.write_bytes(b"not read")
    with pytest.raises(UserInputError, match="needs the TensorFlow backend.*saved_model"):
        Runner(ForecastingApp())._load_serving(model)


class ScriptForecasting(ForecastingApp):
    """An app the TensorFlow export process could not import by name."""


ScriptForecasting.__module__ = "__main__"


def test_an_app_that_cannot_be_imported_by_name_is_refused_before_training(on_jax, tmp_path):
    with pytest.raises(UserInputError, match="cannot be imported by name"):
        Runner(ScriptForecasting()).train(ForecastingConfig(), tmp_path / "run")
    assert not any(tmp_path.iterdir())
    # An importable app trains on JAX (the forecasting app's model runs there).
    Runner(ForecastingApp())._check_backend("train")


def test_a_search_folder_must_stand_apart_from_the_run(tmp_path):
    runner = Runner(SentimentApp())
    for tuning_dir in (tmp_path / "run", tmp_path / "run" / "search", tmp_path):
        with pytest.raises(UserInputError, match="--tuning-dir and --run-dir overlap"):
            runner.tune(SentimentConfig(), tmp_path / "run", tuning_dir=tuning_dir)
    (tmp_path / "a-file").write_text("mine")
    with pytest.raises(UserInputError, match="a file stands where a folder is needed"):
        runner.tune(SentimentConfig(), tmp_path / "run", tuning_dir=tmp_path / "a-file")
