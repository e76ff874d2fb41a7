"""Run directories, compile defaults, standard callbacks and resuming a killed fit."""

import csv
import json
import re
from pathlib import Path

import keras
import numpy as np
import pytest

from rnn_templates.errors import UserInputError
from rnn_templates.topologies import build_many_to_one
from rnn_templates.training import (
    compile_model,
    default_run_dir,
    history_is_finite,
    progress_verbosity,
    run_directory,
    set_seed,
    standard_callbacks,
    write_json_atomic,
)

# --- run_directory ------------------------------------------------------------


def test_success_renames_the_partial_directory(tmp_path):
    final = tmp_path / "runs" / "demo"
    with run_directory(final) as work:
        assert work == tmp_path / "runs" / "demo.partial"
        assert work.is_dir() and not final.exists()
        (work / "result.txt").write_text("done", encoding="utf-8")
    assert (final / "result.txt").read_text(encoding="utf-8") == "done"
    assert not work.exists()


def test_an_exception_removes_the_partial_directory(tmp_path):
    final = tmp_path / "demo"
    with pytest.raises(RuntimeError, match="^boom$"), run_directory(final) as work:
        (work / "half.txt").write_text("half", encoding="utf-8")
        raise RuntimeError("boom")
    assert not work.exists() and not final.exists()
    # A refused configuration (UserInputError) is cleaned up the same way.
    with pytest.raises(UserInputError), run_directory(final):
        raise UserInputError("bad")
    assert list(tmp_path.iterdir()) == []


def test_ctrl_c_keeps_the_partial_directory_for_resuming(tmp_path, capsys):
    final = tmp_path / "demo"
    with pytest.raises(KeyboardInterrupt), run_directory(final) as work:
        (work / "epoch1").write_text("x", encoding="utf-8")
        raise KeyboardInterrupt
    assert (work / "epoch1").exists() and not final.exists()
    assert capsys.readouterr().err == (
        f"interrupted; run the same command again to resume from {work}\n"
    )


def test_an_existing_final_directory_is_refused_unless_overwrite(tmp_path):
    final = tmp_path / "demo"
    final.mkdir()
    (final / "old.txt").write_text("old", encoding="utf-8")
    with pytest.raises(UserInputError) as caught, run_directory(final):
        pass
    assert str(caught.value) == (
        f"{final}: run directory already exists; "
        "choose another --run-dir, or add --overwrite to replace it"
    )
    assert (final / "old.txt").exists()
    assert not (tmp_path / "demo.partial").exists()
    with run_directory(final, overwrite=True) as work:
        assert (final / "old.txt").exists()  # the old run stays until the new one succeeds
        (work / "new.txt").write_text("new", encoding="utf-8")
    assert sorted(p.name for p in final.iterdir()) == ["new.txt"]


def test_a_leftover_partial_directory_is_reused(tmp_path, capsys):
    final = tmp_path / "demo"
    partial = tmp_path / "demo.partial"
    (partial / "backup").mkdir(parents=True)
    (partial / "backup" / "state").write_text("epoch 3", encoding="utf-8")
    with run_directory(final) as work:
        assert work == partial
        assert (work / "backup" / "state").read_text(encoding="utf-8") == "epoch 3"
    assert capsys.readouterr().err == f"resuming the interrupted run in {partial}\n"
    assert (final / "backup" / "state").exists() and not partial.exists()


# --- compile_model and small helpers -----------------------------------------------


def _tiny_model():
    return build_many_to_one(1, input_dim=2, rnn={"cell": "gru", "units": 4})


def test_compile_model_clips_gradients_by_default():
    model = compile_model(_tiny_model(), loss="mse")
    assert isinstance(model.optimizer, keras.optimizers.Adam)
    assert model.optimizer.clipnorm == 1.0
    assert float(keras.ops.convert_to_numpy(model.optimizer.learning_rate)) == pytest.approx(1e-3)
    unclipped = compile_model(
        _tiny_model(), loss="mse", clipnorm=None, optimizer="rmsprop", learning_rate=0.01
    )
    assert isinstance(unclipped.optimizer, keras.optimizers.RMSprop)
    assert unclipped.optimizer.clipnorm is None
    assert float(keras.ops.convert_to_numpy(unclipped.optimizer.learning_rate)) == (
        pytest.approx(0.01)
    )
    assert compile_model(_tiny_model(), loss="mse", clipnorm=0.5).optimizer.clipnorm == 0.5


def test_compile_model_refuses_unknown_optimizers():
    with pytest.raises(ValueError) as caught:
        compile_model(_tiny_model(), loss="mse", optimizer="adagrad")
    assert str(caught.value) == (
        "`optimizer` must be one of 'adam', 'rmsprop', 'sgd', 'adamw'; received 'adagrad'"
    )


def test_progress_verbosity(monkeypatch):
    monkeypatch.setenv("RNNT_VERBOSE", "2")
    assert progress_verbosity() == 2
    monkeypatch.delenv("RNNT_VERBOSE")
    monkeypatch.setenv("CI", "true")
    assert progress_verbosity() == 0
    monkeypatch.delenv("CI")
    assert progress_verbosity() == 0  # under pytest
    monkeypatch.delenv("PYTEST_CURRENT_TEST")
    monkeypatch.setattr("sys.stdout.isatty", lambda: True)
    assert progress_verbosity() == 1
    monkeypatch.setattr("sys.stdout.isatty", lambda: False)
    assert progress_verbosity() == 2


def test_set_seed_repeats_weights_and_draws():
    set_seed(7)
    first = (_tiny_model().get_weights()[0], np.random.rand(3))
    set_seed(7)
    second = (_tiny_model().get_weights()[0], np.random.rand(3))
    np.testing.assert_array_equal(first[0], second[0])
    np.testing.assert_array_equal(first[1], second[1])


def test_history_is_finite_and_helpers(tmp_path):
    history = keras.callbacks.History()
    history.history = {"loss": [1.0, 0.5], "val_loss": [1.1, 0.6], "accuracy": [float("nan")]}
    assert history_is_finite(history)
    history.history["val_loss"].append(float("inf"))
    assert not history_is_finite(history)
    history.history = {"loss": [float("nan")]}
    assert not history_is_finite(history)

    run = default_run_dir(tmp_path, "sentiment")
    assert run.parent == tmp_path / "sentiment"
    assert re.fullmatch(r"\d{8}-\d{6}", run.name)

    target = tmp_path / "metrics.json"
    write_json_atomic({"b": 2, "a": [1, 2]}, target)
    assert json.loads(target.read_text(encoding="utf-8")) == {"a": [1, 2], "b": 2}
    assert target.read_text(encoding="utf-8").startswith('{\n  "a"')
    assert sorted(p.name for p in tmp_path.iterdir()) == ["metrics.json"]


# --- standard_callbacks and resuming --------------------------------------------------


def _data():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(32, 5, 2)).astype("float32")
    y = x[:, :, 0].sum(axis=1, keepdims=True)
    return x, y


def _csv_epochs(path: Path) -> list[int]:
    with path.open(encoding="utf-8", newline="") as stream:
        return [int(row["epoch"]) for row in csv.DictReader(stream)]


def test_standard_callbacks_and_their_files(tmp_path):
    callbacks = standard_callbacks(tmp_path, monitor="val_loss", patience=4)
    kinds = [type(c).__name__ for c in callbacks]
    assert kinds == [
        "TerminateOnNaN", "BackupAndRestore", "EarlyStopping", "CSVLogger", "ModelCheckpoint",
        "TensorBoard",
    ]
    early = callbacks[2]
    assert (early.monitor, early.patience, early.restore_best_weights) == ("val_loss", 4, True)
    bare = standard_callbacks(tmp_path / "bare", checkpoint=False, tensorboard=False)
    assert [type(c).__name__ for c in bare] == kinds[:4]

    x, y = _data()
    model = compile_model(_tiny_model(), loss="mse", learning_rate=0.01)
    history = model.fit(
        x, y, validation_split=0.25, epochs=2, batch_size=8, verbose=0, callbacks=callbacks
    )
    assert history.epoch == [0, 1]
    assert _csv_epochs(tmp_path / "history.csv") == [0, 1]
    assert (tmp_path / "logs").is_dir() and any((tmp_path / "logs").rglob("*tfevents*"))
    best = tmp_path / "checkpoints" / "best.keras"
    assert best.is_file()
    reloaded = keras.models.load_model(best)
    assert reloaded.output_shape == (None, 1)
    # A finished fit deletes its backup: only a killed run leaves one.
    assert not (tmp_path / "backup").exists()
    # The run directory exists even without the checkpoint folder (CSVLogger needs it).
    assert (tmp_path / "bare").is_dir() and not (tmp_path / "bare" / "checkpoints").exists()


class _KillAt(keras.callbacks.Callback):
    """Raise at the start of one epoch, as a killed process would stop there."""

    def __init__(self, epoch):
        super().__init__()
        self.epoch = epoch
        self.weights_at_epoch_end = {}

    def on_epoch_end(self, epoch, logs=None):
        self.weights_at_epoch_end[epoch] = [w.copy() for w in self.model.get_weights()]

    def on_epoch_begin(self, epoch, logs=None):
        if epoch == self.epoch:
            raise RuntimeError(f"killed at epoch {epoch}")


class _WeightsAtStart(keras.callbacks.Callback):
    def on_train_begin(self, logs=None):
        self.weights = [w.copy() for w in self.model.get_weights()]


def test_a_killed_fit_resumes_from_the_backup(tmp_path):
    x, y = _data()
    kill = _KillAt(2)
    model = compile_model(_tiny_model(), loss="mse", learning_rate=0.01)
    callbacks = standard_callbacks(tmp_path, tensorboard=False)
    with pytest.raises(RuntimeError, match="^killed at epoch 2$"):
        model.fit(x, y, validation_split=0.25, epochs=5, batch_size=8, verbose=0,
                  callbacks=[*callbacks, kill])
    assert _csv_epochs(tmp_path / "history.csv") == [0, 1]
    assert any((tmp_path / "backup").iterdir())

    # A new process: a fresh model (other weights) and fresh callbacks.
    set_seed(99)
    fresh = compile_model(_tiny_model(), loss="mse", learning_rate=0.01)
    start = _WeightsAtStart()
    history = fresh.fit(
        x, y, validation_split=0.25, epochs=5, batch_size=8, verbose=0,
        callbacks=[*standard_callbacks(tmp_path, tensorboard=False), start],
    )
    assert history.epoch == [2, 3, 4]  # BackupAndRestore restored initial_epoch
    assert _csv_epochs(tmp_path / "history.csv") == [0, 1, 2, 3, 4]
    for restored, saved in zip(start.weights, kill.weights_at_epoch_end[1], strict=True):
        np.testing.assert_array_equal(restored, saved)
    # The finished run removed its backup, so the next fit would start from epoch 0.
    assert not (tmp_path / "backup").exists()
    assert (tmp_path / "checkpoints" / "best.keras").is_file()
