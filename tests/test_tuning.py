"""keras-tuner wiring: make_tuner, resuming a search, and the leaderboard files."""

import csv
import io
from types import SimpleNamespace

import keras
import keras_tuner
import numpy as np
import pytest

from rnn_templates.tuning import TUNERS, leaderboard, make_tuner, write_leaderboard


class TinyHyperModel(keras_tuner.HyperModel):
    def build(self, hp):
        units = hp.Int("units", 2, 8, step=2)
        learning_rate = hp.Choice("learning_rate", [0.03, 0.001])
        model = keras.Sequential(
            [keras.Input((3,)), keras.layers.Dense(units, activation="relu"), keras.layers.Dense(1)]
        )
        model.compile(optimizer=keras.optimizers.Adam(learning_rate), loss="mse")
        return model


def _data():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(64, 3)).astype("float32")
    return x, x.sum(axis=1, keepdims=True)


def _tuner(directory, **kwargs):
    options = dict(kind="random", objective="val_loss", max_trials=3, directory=directory,
                   project_name="search", seed=3)
    options.update(kwargs)
    return make_tuner(TinyHyperModel(), **options)


def test_search_leaderboard_files_and_resume(tmp_path):
    x, y = _data()
    tuner = _tuner(tmp_path)
    assert isinstance(tuner, keras_tuner.RandomSearch)
    tuner.search(x, y, validation_split=0.25, epochs=1, batch_size=16, verbose=0)

    rows = leaderboard(tuner)
    assert [row["rank"] for row in rows] == [1, 2, 3]
    scores = [row["score"] for row in rows]
    assert scores == sorted(scores)  # val_loss: lower is better, best first
    assert [list(row) for row in rows] == [["rank", "trial", "score", "units", "learning_rate"]] * 3
    best_trial = tuner.oracle.get_best_trials(1)[0]
    assert rows[0]["trial"] == best_trial.trial_id
    assert rows[0]["score"] == round(best_trial.score, 5)
    assert rows[0]["units"] == best_trial.hyperparameters.get("units")
    assert len({row["trial"] for row in rows}) == 3
    assert leaderboard(tuner, num_trials=2) == rows[:2]

    write_leaderboard(rows, tmp_path)
    with (tmp_path / "leaderboard.csv").open(encoding="utf-8", newline="") as stream:
        table = list(csv.DictReader(stream))
    assert list(table[0]) == ["rank", "trial", "score", "units", "learning_rate"]
    assert [row["trial"] for row in table] == [row["trial"] for row in rows]
    assert [int(row["units"]) for row in table] == [row["units"] for row in rows]
    markdown = (tmp_path / "leaderboard.md").read_text(encoding="utf-8").splitlines()
    assert markdown[0] == "| rank | trial | score | units | learning_rate |"
    assert markdown[1] == "|---|---|---|---|---|"
    assert markdown[2].startswith(f"| 1 | {rows[0]['trial']} | {rows[0]['score']} | ")
    assert len(markdown) == 5
    assert not list(tmp_path.glob(".leaderboard*"))  # no temporary files left

    # Building the tuner again on the same directory resumes the search.
    resumed = _tuner(tmp_path, max_trials=4)
    assert sorted(resumed.oracle.trials) == sorted(tuner.oracle.trials)
    assert leaderboard(resumed) == rows
    resumed.search(x, y, validation_split=0.25, epochs=1, batch_size=16, verbose=0)
    assert len(resumed.oracle.trials) == 4  # only the one missing trial ran
    # overwrite=True starts afresh.
    assert _tuner(tmp_path, overwrite=True).oracle.trials == {}


def test_other_kinds_and_bad_kind(tmp_path):
    assert list(TUNERS) == ["random", "hyperband", "bayesian"]
    hyperband = _tuner(tmp_path, kind="hyperband", max_epochs=4, project_name="hb")
    assert isinstance(hyperband, keras_tuner.Hyperband)
    assert hyperband.oracle.max_epochs == 4
    bayesian = _tuner(tmp_path, kind="bayesian", max_trials=5, project_name="bo")
    assert isinstance(bayesian, keras_tuner.BayesianOptimization)
    assert bayesian.oracle.max_trials == 5
    with pytest.raises(ValueError) as caught:
        _tuner(tmp_path, kind="grid")
    assert str(caught.value) == (
        "`tuner` must be one of 'random', 'hyperband', 'bayesian'; received 'grid'"
    )


def _fake_tuner(direction, scores):
    trials = {
        str(i): SimpleNamespace(
            trial_id=str(i), score=score, hyperparameters=SimpleNamespace(values={"units": i})
        )
        for i, score in enumerate(scores)
    }
    return SimpleNamespace(
        oracle=SimpleNamespace(trials=trials, objective=SimpleNamespace(direction=direction))
    )


def test_leaderboard_follows_the_objective_direction_and_skips_unfinished_trials():
    scores = [0.5, None, 0.9, 0.123456789]
    best_first = leaderboard(_fake_tuner("max", scores))
    assert [row["score"] for row in best_first] == [0.9, 0.5, 0.12346]
    assert [row["trial"] for row in best_first] == ["2", "0", "3"]
    assert [row["score"] for row in leaderboard(_fake_tuner("min", scores))] == [
        0.12346, 0.5, 0.9
    ]


def test_write_leaderboard_with_different_hyperparameters_per_trial(tmp_path):
    rows = [
        {"rank": 1, "trial": "a", "score": 0.1, "cell": "lstm", "units": 8},
        {"rank": 2, "trial": "b", "score": 0.2, "cell": "gru", "dropout": 0.5},
    ]
    write_leaderboard(rows, tmp_path)
    text = (tmp_path / "leaderboard.csv").read_text(encoding="utf-8")
    assert list(csv.reader(io.StringIO(text))) == [
        ["rank", "trial", "score", "cell", "units", "dropout"],
        ["1", "a", "0.1", "lstm", "8", ""],
        ["2", "b", "0.2", "gru", "", "0.5"],
    ]
    assert (tmp_path / "leaderboard.md").read_text(encoding="utf-8") == (
        "| rank | trial | score | cell | units | dropout |\n"
        "|---|---|---|---|---|---|\n"
        "| 1 | a | 0.1 | lstm | 8 |  |\n"
        "| 2 | b | 0.2 | gru |  | 0.5 |\n"
    )
