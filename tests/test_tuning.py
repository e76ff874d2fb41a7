"""keras-tuner wiring: make_tuner, resuming a search, and the leaderboard files."""

import csv
import io
import json
import os
from pathlib import Path
from types import SimpleNamespace

import keras
import keras_tuner
import numpy as np
import pytest

from rnn_templates.tuning import (
    TUNERS,
    best_epochs,
    leaderboard,
    make_tuner,
    parse_objective,
    trial_runs,
    write_leaderboard,
    write_reports,
)


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


COLUMNS = ["rank", "trial", "status", "score", "epochs", "best_epoch", "seconds", "workers",
           "note", "units", "learning_rate"]


def _search(tuner, x, y, **kwargs):
    options = dict(validation_split=0.25, epochs=2, batch_size=16, shuffle=False, verbose=0)
    options.update(kwargs)
    tuner.search(x, y, **options)


def test_search_leaderboard_files_and_resume(tmp_path):
    x, y = _data()
    tuner = _tuner(tmp_path)
    assert isinstance(tuner.oracle, keras_tuner.oracles.RandomSearchOracle)
    _search(tuner, x, y)

    rows = leaderboard(tuner)
    assert [row["rank"] for row in rows] == [1, 2, 3]
    assert {row["status"] for row in rows} == {"COMPLETED"}
    scores = [row["score"] for row in rows]
    assert scores == sorted(scores)  # val_loss: lower is better, best first
    assert [list(row) for row in rows] == [COLUMNS] * 3
    assert all(row["epochs"] == 2 and row["workers"] == "local" and row["seconds"] > 0
               and row["best_epoch"] in ("1", "2") and row["note"] == "" for row in rows)
    best_trial = tuner.oracle.get_best_trials(1)[0]
    assert rows[0]["trial"] == best_trial.trial_id
    assert rows[0]["score"] == pytest.approx(best_trial.score, abs=1e-5)
    assert rows[0]["units"] == best_trial.hyperparameters.get("units")
    assert len({row["trial"] for row in rows}) == 3
    assert leaderboard(tuner, num_trials=2) == rows[:2]
    assert best_epochs(tuner, best_trial.trial_id) == int(rows[0]["best_epoch"])

    write_reports(tuner, tmp_path)
    with (tmp_path / "leaderboard.csv").open(encoding="utf-8", newline="") as stream:
        table = list(csv.DictReader(stream))
    assert list(table[0]) == COLUMNS
    assert [row["trial"] for row in table] == [row["trial"] for row in rows]
    assert [int(row["units"]) for row in table] == [row["units"] for row in rows]
    markdown = (tmp_path / "leaderboard.md").read_text(encoding="utf-8").splitlines()
    assert markdown[0] == "| " + " | ".join(COLUMNS) + " |"
    cells = [cell.strip() for cell in markdown[2].strip().strip("|").split("|")]
    assert cells[:3] == ["1", rows[0]["trial"], "COMPLETED"]
    assert float(cells[3]) == pytest.approx(rows[0]["score"], rel=1e-6)
    assert len(markdown) == 5
    assert (tmp_path / "search.png").stat().st_size > 1000
    assert not list(tmp_path.glob(".*"))  # no temporary files left
    # Finished executions keep their history and result, not their epoch backups.
    execution = Path(tuner.get_trial_dir(best_trial.trial_id)) / "execution_0"
    assert sorted(p.name for p in execution.iterdir()) == ["history.csv", "result.json"]
    # TensorBoard logs with the trial's hyperparameters (the HParams dashboard).
    assert list((tmp_path / "search" / "logs" / best_trial.trial_id).rglob("*tfevents*"))

    # The saved state lists no trial as still running once the search has ended.
    saved = json.loads((tmp_path / "search" / "oracle.json").read_text())
    assert saved["ongoing_trials"] == {}

    # Building the tuner again on the same directory resumes the search.
    resumed = _tuner(tmp_path, max_trials=4)
    assert sorted(resumed.oracle.trials) == sorted(tuner.oracle.trials)
    assert leaderboard(resumed) == rows
    _search(resumed, x, y)
    assert len(resumed.oracle.trials) == 4  # only the one missing trial ran
    # ...and no finished trial ran again (each ran once, ended once).
    assert set(resumed.oracle._run_times.values()) == {1}
    assert sorted(resumed.oracle.end_order) == sorted(resumed.oracle.trials)
    assert [row["note"] for row in leaderboard(resumed)] == [""] * 4
    # A state saved by keras-tuner alone (the last trial still listed as running) resumes
    # without running that trial again either.
    path = tmp_path / "search" / "oracle.json"
    state = json.loads(path.read_text())
    state["ongoing_trials"] = {"tuner0": resumed.oracle.end_order[-1]}
    path.write_text(json.dumps(state))
    again = _tuner(tmp_path, max_trials=4)
    assert again.oracle.ongoing_trials == {}
    # overwrite=True starts afresh.
    assert _tuner(tmp_path, overwrite=True).oracle.trials == {}


class KillAt(keras.callbacks.Callback):
    """Stops the whole process's search (as a kill would) after epoch ``epoch`` of trial 1.

    The tuner copies callbacks for each trial, so the count lives on the class.
    """

    calls = 0

    def __init__(self, epoch):
        super().__init__()
        self.epoch = epoch

    def on_epoch_end(self, epoch, logs=None):
        KillAt.calls += 1
        if KillAt.calls == 3 + self.epoch:  # trial 0 ran 3 epochs, then trial 1's epochs
            raise KeyboardInterrupt("killed")


def test_an_interrupted_trial_resumes_from_its_last_epoch_and_ends_as_uninterrupted(tmp_path):
    x, y = _data()
    keras.utils.set_random_seed(0)
    reference = _tuner(tmp_path / "reference", max_trials=2)
    _search(reference, x, y, epochs=3)

    keras.utils.set_random_seed(0)
    killed = _tuner(tmp_path / "killed", max_trials=2)
    KillAt.calls = 0
    with pytest.raises(KeyboardInterrupt):
        _search(killed, x, y, epochs=3, callbacks=[KillAt(2)])
    resumed = _tuner(tmp_path / "killed", max_trials=2)
    _search(resumed, x, y, epochs=3)

    rows, expected = leaderboard(resumed), leaderboard(reference)
    assert [row["trial"] for row in rows] == [row["trial"] for row in expected]
    for row, want in zip(rows, expected, strict=True):
        assert row["score"] == pytest.approx(want["score"], rel=1e-4)
        assert row["epochs"] == want["epochs"] == 3  # no epoch trained twice, none lost
    notes = {row["trial"]: row["note"] for row in rows}
    assert notes == {"0": "", "1": "resumed after epoch 2; run 2 times"}
    runs = trial_runs(resumed)
    assert runs["0"]["workers"] == ["local"]  # the finished trial was not run again


def test_kinds_objectives_and_bad_kind(tmp_path):
    assert list(TUNERS) == ["random", "hyperband", "bayesian", "grid"]
    hyperband = _tuner(tmp_path, kind="hyperband", max_epochs=4, project_name="hb")
    assert isinstance(hyperband, keras_tuner.Hyperband)
    assert hyperband.oracle.max_epochs == 4
    bayesian = _tuner(tmp_path, kind="bayesian", max_trials=5, project_name="bo")
    assert isinstance(bayesian.oracle, keras_tuner.oracles.BayesianOptimizationOracle)
    assert bayesian.oracle.max_trials == 5
    grid = _tuner(tmp_path, kind="grid", max_trials=2, project_name="grid",
                  objective="val_loss:min")
    assert isinstance(grid.oracle, keras_tuner.oracles.GridSearchOracle)
    x, y = _data()
    _search(grid, x, y, epochs=1)
    assert [row["status"] for row in leaderboard(grid)] == ["COMPLETED"] * 2
    with pytest.raises(ValueError) as caught:
        _tuner(tmp_path, kind="evolution")
    assert str(caught.value) == (
        "`tuner` must be one of 'random', 'hyperband', 'bayesian', 'grid'; received 'evolution'"
    )
    assert parse_objective("val_accuracy").direction == "max"
    assert parse_objective("val_mae").direction == "min"
    assert parse_objective("val_bleu:max").direction == "max"
    assert parse_objective("val_bleu").direction == parse_objective("chrf").direction == "max"
    with pytest.raises(ValueError, match="needs a direction"):
        parse_objective("val_custom_score")


class ConditionalHyperModel(keras_tuner.HyperModel):
    """Defaults away from the first choices, and one hyperparameter under a condition."""

    def build(self, hp):
        units = hp.Int("units", 2, 8, step=2, default=6)
        layers = hp.Choice("layers", [1, 2], default=2)
        with hp.conditional_scope("layers", [2]):
            second = hp.Int("second_units", 2, 4, step=2, default=4) if layers == 2 else 0
        stack = [keras.Input((3,)), keras.layers.Dense(units, activation="relu")]
        if second:
            stack.append(keras.layers.Dense(second, activation="relu"))
        model = keras.Sequential([*stack, keras.layers.Dense(1)])
        model.compile(optimizer=keras.optimizers.Adam(hp.Float(
            "learning_rate", 1e-3, 1e-1, sampling="log", default=0.02)), loss="mse")
        return model


DEFAULTS = {"units": 6, "layers": 2, "second_units": 4, "learning_rate": 0.02}


def _values(tuner):
    return [{k: v for k, v in tuner.oracle.trials[i].hyperparameters.values.items()
             if not k.startswith("tuner/")} for i in tuner.oracle.start_order]


@pytest.mark.parametrize("kind", ["random", "bayesian"])
def test_a_search_starts_with_the_configured_model_then_samples(tmp_path, kind):
    x, y = _data()
    tuner = make_tuner(ConditionalHyperModel(), kind=kind, objective="val_loss", max_trials=4,
                       directory=tmp_path, project_name=kind, seed=1)
    _search(tuner, x, y, epochs=1)
    trials = _values(tuner)
    assert trials[0] == DEFAULTS
    assert len(trials) == 4
    assert len({tuple(sorted(values.items())) for values in trials}) == 4
    # a resumed search does not put the defaults first again
    resumed = make_tuner(ConditionalHyperModel(), kind=kind, objective="val_loss", max_trials=6,
                         directory=tmp_path, project_name=kind, seed=1)
    _search(resumed, x, y, epochs=1)
    again = _values(resumed)
    assert again[:4] == trials and len(again) == 6
    assert DEFAULTS not in again[4:]


class IdleChoiceHyperModel(keras_tuner.HyperModel):
    """Trials differ only by a hyperparameter that the model does not use."""

    def build(self, hp):
        hp.Choice("unused", [0, 1, 2])
        model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(4, activation="relu"),
                                  keras.layers.Dropout(0.3), keras.layers.Dense(1)])
        model.compile(optimizer=keras.optimizers.Adam(0.01), loss="mse")
        return model


def test_every_trial_starts_from_the_same_random_state_whatever_ran_before(tmp_path):
    x, y = _data()
    scores = []
    for executions in (1, 2):
        tuner = make_tuner(IdleChoiceHyperModel(), kind="grid", objective="val_loss",
                           max_trials=3, directory=tmp_path, project_name=f"e{executions}",
                           seed=5, executions_per_trial=executions)
        _search(tuner, x, y, shuffle=True)
        scores.append([tuner.oracle.trials[i].score for i in tuner.oracle.start_order])
    assert len(scores[0]) == 3
    assert scores[0] == pytest.approx([scores[0][0]] * 3, rel=1e-6)
    # a second execution starts elsewhere, so the mean of two differs from the first alone
    assert scores[1] == pytest.approx([scores[1][0]] * 3, rel=1e-6)
    assert scores[1][0] != pytest.approx(scores[0][0], rel=1e-4)


def test_a_trial_scores_the_epoch_its_early_stopping_keeps():
    from rnn_templates.tuning import _kept_record

    records = [{"epoch": 0, "logs": {"val_loss": 1.0, "val_accuracy": 0.9}},
               {"epoch": 1, "logs": {"val_loss": 0.5, "val_accuracy": 0.8}},
               {"epoch": 2, "logs": {"val_loss": 0.7}}]
    goal = keras_tuner.Objective("val_accuracy", "max")
    kept = SimpleNamespace(best_epoch=1, best=0.5)
    assert _kept_record(records, kept, goal)["epoch"] == 1
    # nothing kept, or the kept epoch has no objective: the best epoch on the objective
    assert _kept_record(records, SimpleNamespace(best_epoch=0, best=None), goal)["epoch"] == 0
    assert _kept_record(records, SimpleNamespace(best_epoch=2, best=0.7), goal)["epoch"] == 0


def test_a_trials_checkpoint_holds_the_epoch_its_early_stopping_keeps(tmp_path):
    from rnn_templates.tuning import _ResumedBest

    target = tmp_path / "checkpoint.weights.h5"
    model = TinyHyperModel().build(keras_tuner.HyperParameters())
    stopping = SimpleNamespace(best=0.5, best_epoch=0)
    callback = _ResumedBest(keras_tuner.Objective("val_accuracy", "max"), str(target),
                            SimpleNamespace(records=[]), stopping)
    callback.set_model(model)
    callback.on_epoch_end(0, {"val_loss": 0.5, "val_accuracy": 0.8})
    kept = model.get_weights()
    model.set_weights([w + 1.0 for w in kept])
    # a better accuracy, a worse loss: early stopping still keeps epoch 0
    callback.on_epoch_end(1, {"val_loss": 0.6, "val_accuracy": 0.9})
    restored = TinyHyperModel().build(keras_tuner.HyperParameters())
    restored.load_weights(target)
    for saved, loaded in zip(kept, restored.get_weights(), strict=True):
        np.testing.assert_allclose(loaded, saved)


def test_hyperband_starts_its_first_bracket_with_the_configured_model(tmp_path):
    x, y = _data()
    tuner = make_tuner(ConditionalHyperModel(), kind="hyperband", objective="val_loss",
                       max_epochs=2, directory=tmp_path, project_name="hb", seed=1)
    _search(tuner, x, y)
    trials = _values(tuner)
    assert trials[0] == DEFAULTS
    assert DEFAULTS not in trials[1:] and len(trials) > 1


@pytest.mark.slow
def test_hyperband_rounds_run_through_the_resumable_trials(tmp_path):
    x, y = _data()
    tuner = _tuner(tmp_path, kind="hyperband", max_epochs=3, project_name="hb")
    _search(tuner, x, y, epochs=3)
    rows = leaderboard(tuner)
    assert rows and {row["status"] for row in rows} == {"COMPLETED"}
    assert "tuner/epochs" not in rows[0]


def _fake_tuner(direction, scores):
    trials = {
        str(i): SimpleNamespace(
            trial_id=str(i), score=score, status="COMPLETED" if score is not None else "RUNNING",
            message=None, hyperparameters=SimpleNamespace(values={"units": i})
        )
        for i, score in enumerate(scores)
    }
    space = SimpleNamespace(space=[SimpleNamespace(name="units")])
    return SimpleNamespace(
        oracle=SimpleNamespace(trials=trials, objective=SimpleNamespace(direction=direction),
                               get_space=lambda: space),
        get_trial_dir=lambda trial_id: "/nonexistent",
    )


def test_leaderboard_follows_the_objective_direction_and_lists_unfinished_trials_last():
    scores = [0.5, None, 0.9, 0.123456789]
    best_first = leaderboard(_fake_tuner("max", scores))
    assert [row["score"] for row in best_first] == [0.9, 0.5, 0.12346, ""]
    assert [row["trial"] for row in best_first] == ["2", "0", "3", "1"]
    assert [row["rank"] for row in best_first] == [1, 2, 3, ""]
    assert best_first[-1]["status"] == "RUNNING"
    assert [row["score"] for row in leaderboard(_fake_tuner("min", scores))] == [
        0.12346, 0.5, 0.9, ""
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


@pytest.mark.parametrize("args, env, message", [
    (["--workers", "2", "--oracle-address", "localhost"], {},
     "rnnt sentiment: error: --oracle-address: the oracle address is not host:port; expected "
     "host:port, e.g. 0.0.0.0:8000 (port 0 picks a free one); received localhost; "
     "write the address as host:port"),
    (["--workers", "2"], {"KERASTUNER_ORACLE_IP": "127.0.0.1", "KERASTUNER_ORACLE_PORT": "1",
                          "KERASTUNER_TUNER_ID": "tuner0"},
     "rnnt sentiment: error: --workers: --workers makes this process the chief; received "
     "KERASTUNER_TUNER_ID=tuner0; unset the KERASTUNER_* variables, or drop --workers"),
    (["--oracle-address", "0.0.0.0:8000"], {"KERASTUNER_ORACLE_IP": "127.0.0.1",
                                            "KERASTUNER_ORACLE_PORT": "1",
                                            "KERASTUNER_TUNER_ID": "tuner0"},
     "rnnt sentiment: error: --oracle-address: --oracle-address makes this process the chief; "
     "received KERASTUNER_TUNER_ID=tuner0; unset the KERASTUNER_* variables, or drop "
     "--oracle-address"),
    (["--oracle-address", "8000"], {},
     "rnnt sentiment: error: --oracle-address: the oracle address is not host:port; expected "),
    (["--objective", "val_accuracy:up"], {},
     "rnnt sentiment: error: --objective: `tuning_objective` must be one of "
     "'val_accuracy', "),
])
def test_tune_options_refuse_mistakes_before_anything_runs(tmp_path, monkeypatch, capsys, args,
                                                            env, message):
    from rnn_templates.cli import main

    for key, value in env.items():
        monkeypatch.setenv(key, value)
    run_dir = tmp_path / "run"
    assert main(["sentiment", "tune", "--run-dir", str(run_dir), "--tuning-dir",
                 str(tmp_path / "tuning"), *args]) == 2
    err = capsys.readouterr().err
    assert err.startswith(message) and err.count("\n") == 1
    assert not list(tmp_path.iterdir())  # nothing written


def test_a_remote_worker_silent_past_the_timeout_is_named(tmp_path):
    import os

    from rnn_templates.workers import silent_workers

    class Oracle:  # what silent_workers reads of keras-tuner's oracle
        ongoing_trials = {name: SimpleNamespace(trial_id=trial) for name, trial in
                          (("remote0", "0"), ("remote1", "1"), ("tuner0", "2"), ("new", "3"))}

    for trial, age in (("0", 500), ("1", 5), ("2", 500)):
        record = tmp_path / f"trial_{trial}" / "run.json"
        record.parent.mkdir()
        record.write_text("{}")
        os.utime(record, (1000.0 - age, 1000.0 - age))
    trial_dir = lambda trial_id: tmp_path / f"trial_{trial_id}"  # noqa: E731
    # remote1 wrote 5 s ago, tuner0 is a local worker (watched by its process), "new" has
    # not written yet: only remote0 is silent.
    assert silent_workers(Oracle(), trial_dir, 60, {"tuner0"}, now=1000.0) == ["remote0"]
    assert silent_workers(Oracle(), trial_dir, 600, {"tuner0"}, now=1000.0) == []


def test_a_chief_without_local_workers_says_when_none_has_joined(tmp_path, capsys):
    from rnn_templates.workers import Chief

    class Oracle:  # what the chief reads of keras-tuner's oracle
        tuner_ids: set[str] = set()

    oracle = Oracle()
    chief = Chief(SimpleNamespace(oracle=oracle), host="0.0.0.0", port=0, argv=[],
                  workers=0, log_dir=tmp_path)
    for now in (0.0, 30.0, 61.0, 90.0, 125.0):
        chief._note_waiting(oracle, now)
    oracle.tuner_ids.add("remote0")
    chief._note_waiting(oracle, 200.0)
    oracle.tuner_ids.clear()  # the worker left: the clock starts again
    for now in (300.0, 330.0):
        chief._note_waiting(oracle, now)
    assert capsys.readouterr().err.splitlines() == [
        f"no worker has joined the search for {seconds} s; start one with the command above"
        for seconds in (61, 125)]


def test_a_worker_hung_while_writing_a_trial_checkpoint_does_not_block_the_next(tmp_path):
    """A worker frozen mid-write keeps its HDF5 file lock on the trial's best-epoch
    checkpoint; the worker that takes the trial over still saves its own."""
    import h5py

    from rnn_templates.tuning import _ResumedBest

    target = tmp_path / "checkpoint.weights.h5"
    model = TinyHyperModel().build(keras_tuner.HyperParameters())
    hung = h5py.File(target, "w")  # open for writing, locked, never closed by its writer
    try:
        callback = _ResumedBest(keras_tuner.Objective("val_loss", "min"), str(target),
                                SimpleNamespace(records=[]), SimpleNamespace(best=None))
        callback.set_model(model)
        callback.on_epoch_end(0, {"val_loss": 1.0})
    finally:
        hung.close()
    restored = TinyHyperModel().build(keras_tuner.HyperParameters())
    restored.load_weights(target)
    for saved, loaded in zip(model.get_weights(), restored.get_weights(), strict=True):
        np.testing.assert_allclose(loaded, saved)
    assert [p.name for p in tmp_path.iterdir()] == [target.name]


class FailingFit(TinyHyperModel):
    def fit(self, hp, model, *args, **kwargs):
        raise ValueError("this trial cannot train")


def test_a_failed_trial_keeps_its_error_for_the_leaderboard_when_the_chief_has_none(tmp_path):
    x, y = _data()
    tuner = _tuner(tmp_path, max_trials=1)
    tuner.hypermodel = FailingFit()
    _search(tuner, x, y)
    (trial,) = tuner.oracle.trials.values()
    assert trial.status == "FAILED"
    run = trial_runs(tuner)[trial.trial_id]
    assert run["errors"] == ["ValueError: this trial cannot train"] * len(run["workers"])
    # A worker's keras-tuner messages to the chief drop the error text: the note comes
    # from the trial's own record then.
    trial.message = None
    (row,) = leaderboard(tuner)
    assert row["status"] == "FAILED" and row["note"].endswith("ValueError: this trial cannot train")


def test_a_standby_worker_loads_tensorflow_before_it_is_given_work(tmp_path):
    import time

    from rnn_templates.standby import StandbyWorkers, hand_off

    def loaded(pid: int) -> bool:
        return "libtensorflow" in Path(f"/proc/{pid}/maps").read_text()

    log = tmp_path / "worker.log"
    # Importing `this` prints the Zen of Python: output from before the order.
    with StandbyWorkers(1, ("apps.sentiment.app", "this")) as standby:
        (_, process), = standby.take()
        deadline = time.monotonic() + 120
        while not loaded(process.pid):  # the slow imports happen before any order
            assert process.poll() is None and time.monotonic() < deadline
            time.sleep(0.2)
        hand_off(process, ["sentiment", "tune", "--help"], {}, log)
        assert process.wait(timeout=120) == 0
    text = log.read_text()
    # What it printed while starting heads its log; its start-up file is gone.
    assert text.index("Beautiful is better than ugly") < text.index("usage: rnnt sentiment tune")
    assert not process.startup_output.exists()
    # One never given work is stopped when the chief leaves the block (an error, say).
    with StandbyWorkers(1) as standby:
        (_, idle), = standby.waiting
    assert idle.poll() is not None and not idle.startup_output.exists()


def test_a_worker_that_dies_while_starting_leaves_its_error_in_its_log(tmp_path, capfd):
    from rnn_templates.standby import keep_startup_output, start_standby

    process = start_standby(sorted(os.sched_getaffinity(0))[:1], ("rnnt_no_such_module",))
    assert process.wait(timeout=120) != 0
    keep_startup_output(process, tmp_path / "workers" / "tuner0.log")
    assert ("No module named 'rnnt_no_such_module'"
            in (tmp_path / "workers" / "tuner0.log").read_text())
    assert not process.startup_output.exists()
    captured = capfd.readouterr()
    assert "rnnt_no_such_module" not in captured.out + captured.err  # not the chief's terminal


def test_a_worker_whose_chief_was_killed_stops(tmp_path):
    import signal
    import subprocess
    import sys
    import time

    # A stand-in chief starts a worker, orders it to search with an oracle that never
    # answers (the worker waits for it), and is killed: the worker must not go on alone.
    order = ["sentiment", "tune", "--run-dir", str(tmp_path / "run"),
             "--tuning-dir", str(tmp_path / "search")]
    chief = subprocess.Popen(
        [sys.executable, "-c",
         "import time\n"
         "from pathlib import Path\n"
         "from rnn_templates.standby import hand_off, start_standby\n"
         "worker = start_standby([], ())\n"
         f"hand_off(worker, {order!r}, {{'KERASTUNER_TUNER_ID': 'tuner0', "
         "'KERASTUNER_ORACLE_IP': '127.0.0.1', 'KERASTUNER_ORACLE_PORT': '9'}, "
         f"Path({str(tmp_path / 'worker.log')!r}))\n"
         "print(worker.pid, flush=True)\n"
         "time.sleep(300)\n"],
        stdout=subprocess.PIPE, text=True)
    worker = int(chief.stdout.readline())

    def running(pid: int) -> bool:
        try:
            state = Path(f"/proc/{pid}/status").read_text()
        except FileNotFoundError:
            return False
        return "\nState:\tZ" not in state  # a zombie has exited

    time.sleep(2)
    assert running(worker)  # waiting for the oracle while its chief lives
    chief.send_signal(signal.SIGKILL)
    chief.wait(timeout=30)
    deadline = time.monotonic() + 120
    while running(worker):
        assert time.monotonic() < deadline, "the worker outlived its chief"
        time.sleep(0.5)


def _hand_out(tuner, count: int, first: int = 0) -> list[dict]:
    """Values of ``count`` new trials, each taken by its own worker (none ends)."""
    values = []
    for i in range(first, first + count):
        trial = tuner.oracle.create_trial(f"worker{i}")
        values.append(dict(trial.hyperparameters.values))
    return values


def test_parallel_workers_get_the_costliest_trials_first_and_a_resume_keeps_the_order(
        tmp_path):
    def cost(values):  # the wider, the costlier; any order-giving function will do
        return values["units"]

    plain = _hand_out(_tuner(tmp_path / "plain", max_trials=6), 6)
    served = _hand_out(_tuner(tmp_path / "served", max_trials=6, trial_cost=cost), 6)
    # The same trials (the configured model first), the rest from the costliest down.
    assert served[0] == plain[0]
    key = lambda v: sorted(v.items())  # noqa: E731
    assert sorted(served[1:], key=key) == sorted(plain[1:], key=key)
    assert [v["units"] for v in served[1:]] == sorted((v["units"] for v in plain[1:]),
                                                      reverse=True)
    assert served[1:] != plain[1:]  # (this seed draws them in another order)
    # A chief killed after three trials and started again hands out the same others.
    killed = _tuner(tmp_path / "resumed", max_trials=6, trial_cost=cost)
    killed.save()  # as the chief does when it starts serving
    _hand_out(killed, 3)
    again = _tuner(tmp_path / "resumed", max_trials=6, trial_cost=cost)
    trials = again.oracle.trials
    assert [dict(trials[i].hyperparameters.values) for i in sorted(trials)] == served[:3]
    fresh = [v for v in _hand_out(again, 6, first=10) if v not in served[:3]]
    assert fresh == served[3:]
    # Resumed without workers (no cost), it still hands out what was queued.
    killed = _tuner(tmp_path / "alone", max_trials=6, trial_cost=cost)
    killed.save()
    _hand_out(killed, 3)
    alone = _tuner(tmp_path / "alone", max_trials=6)
    assert [v for v in _hand_out(alone, 6, first=10) if v not in served[:3]] == served[3:]


def test_a_trials_cost_counts_its_recurrent_steps_per_epoch():
    from rnn_templates.tuning import trial_cost

    config = SimpleNamespace(units=64, num_layers=1, bidirectional=False, batch_size=32)
    base = trial_cost({}, config)  # the configured model
    assert base == pytest.approx(1.25 / 32)
    # Both ways and two layers: four times the steps; twice the batch: half the batches.
    assert trial_cost({"bidirectional": True, "num_layers": 2}, config) == pytest.approx(4 * base)
    assert trial_cost({"batch_size": 64}, config) == pytest.approx(base / 2)
    assert trial_cost({"units": 256}, config) > base


def test_a_search_with_a_trial_back_in_the_queue_is_not_over():
    from rnn_templates.workers import _finished

    # Every worker let go and nothing running, but a remote worker's trial was sent back to
    # the queue after the last local worker left: the chief must start another, not stop.
    class Oracle:  # what the chief reads of keras-tuner's oracle
        ongoing_trials: dict = {}
        tuner_ids: set = set()
        _retry_queue = ["1"]

    oracle = Oracle()
    assert not _finished(oracle, stop_triggered=True)
    oracle._retry_queue.clear()
    assert _finished(oracle, stop_triggered=True)
    assert not _finished(oracle, stop_triggered=False)


def test_the_reported_hyperparameters_leave_out_hyperbands_bookkeeping():
    from rnn_templates.app import _chosen

    hp = keras_tuner.HyperParameters()
    hp.Int("units", 8, 64, default=16)
    hp.values.update({"tuner/epochs": 2, "tuner/initial_epoch": 0, "tuner/bracket": 1})
    assert _chosen(hp) == {"units": 16}


def test_a_conditional_hyperparameter_crosses_to_a_worker_without_a_stray_print(capsys):
    from rnn_templates.workers import quiet_condition_messages

    hp = keras_tuner.HyperParameters()
    hp.Choice("model", ["segrnn", "rnn"], default="segrnn")
    with hp.conditional_scope("model", ["rnn"]):
        hp.Choice("cell", ["gru", "lstm"], default="gru")
    quiet_condition_messages()
    quiet_condition_messages()  # once is enough; twice changes nothing
    message = hp.to_proto()
    assert capsys.readouterr().out == ""
    again = keras_tuner.HyperParameters.from_proto(message)
    assert [(h.name, [c.get_config() for c in h.conditions]) for h in again.space] == [
        ("model", []), ("cell", [{"name": "model", "values": ["rnn"]}])]
