"""Compile defaults, standard callbacks, and a killed fit that resumes as if never killed."""

import csv
from pathlib import Path

import keras
import numpy as np
import pytest

from rnn_templates.data import EpochShuffle
from rnn_templates.topologies import build_many_to_one
from rnn_templates.training import (
    compile_model,
    history_is_finite,
    progress_verbosity,
    set_seed,
    standard_callbacks,
)

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
    joint = compile_model(_tiny_model(), loss="mse", global_clipnorm=2.0).optimizer
    assert joint.global_clipnorm == 2.0 and joint.clipnorm is None


def test_adamw_decays_only_as_asked():
    # Keras's AdamW decays by 0.004 by default: weight_decay=0 (the default) means none.
    assert compile_model(_tiny_model(), loss="mse", optimizer="adamw").optimizer.weight_decay == 0
    decaying = compile_model(_tiny_model(), loss="mse", optimizer="adamw", weight_decay=0.01)
    assert decaying.optimizer.weight_decay == pytest.approx(0.01)


@pytest.mark.parametrize("argument, value", [
    ("learning_rate", -0.01), ("clipnorm", 0.0), ("global_clipnorm", -1.0),
    ("weight_decay", -0.1)])
def test_compile_model_refuses_values_that_would_not_learn_or_clip(argument, value):
    with pytest.raises(ValueError, match=f"`{argument}` must be"):
        compile_model(_tiny_model(), loss="mse", **{argument: value})


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


def test_history_is_finite():
    history = keras.callbacks.History()
    history.history = {"loss": [1.0, 0.5], "val_loss": [1.1, 0.6], "accuracy": [float("nan")]}
    assert history_is_finite(history)
    history.history["val_loss"].append(float("inf"))
    assert not history_is_finite(history)
    history.history = {"loss": [float("nan")]}
    assert not history_is_finite(history)


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
        "TerminateOnNaN", "ResumableEarlyStopping", "RunLog", "AtomicBackupAndRestore",
        "ModelCheckpoint", "TensorBoard",
    ]
    early = callbacks[1]
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
    assert keras.models.load_model(best).output_shape == (None, 1)
    # The backup outlives fit: the caller removes it once the model is saved.
    assert (tmp_path / "backup").is_dir()


class _KillAt(keras.callbacks.Callback):
    """Raise at the start of one epoch, as a killed process would stop there."""

    def __init__(self, epoch):
        super().__init__()
        self.epoch = epoch

    def on_epoch_begin(self, epoch, logs=None):
        if epoch == self.epoch:
            raise RuntimeError(f"killed at epoch {epoch}")


def _dropout_model():
    inputs = keras.Input((5, 2))
    hidden = keras.layers.GRU(8, dropout=0.3, name="rnn_1")(inputs)
    hidden = keras.layers.Dropout(0.3)(hidden)
    return keras.Model(inputs, keras.layers.Dense(1)(hidden))


def _fit(run_dir: Path, extra=(), **schedule):
    """A seeded fit with dropout and a per-epoch shuffle, as the apps train."""
    set_seed(5)
    x, y = _data()
    shuffle = EpochShuffle(seed=5)
    import tensorflow as tf

    parts = (tf.constant(x), tf.constant(y))
    train = shuffle.indices(24).map(lambda i: tuple(tf.gather(p, i) for p in parts)).batch(6)
    validation = tf.data.Dataset.from_tensor_slices((x[24:], y[24:])).batch(8)
    model = compile_model(_dropout_model(), loss="mse", learning_rate=0.05)
    history = model.fit(train, validation_data=validation, epochs=12, verbose=0, shuffle=False,
                        callbacks=[shuffle, *standard_callbacks(run_dir, patience=2,
                                                                tensorboard=False, **schedule),
                                   *extra])
    return model, history, callbacks_state(run_dir)


def callbacks_state(run_dir: Path) -> list[dict]:
    with (run_dir / "history.csv").open(encoding="utf-8", newline="") as stream:
        return list(csv.DictReader(stream))


@pytest.mark.parametrize("kill_at", [1, pytest.param(3, marks=pytest.mark.slow)])
def test_a_killed_fit_resumes_to_the_same_end_as_an_uninterrupted_one(tmp_path, kill_at,
                                                                        capsys):
    whole_model, whole_history, whole_rows = _fit(tmp_path / "whole")
    assert len(whole_rows) < 12  # early stopping ended it, so its state matters

    with pytest.raises(RuntimeError, match=f"^killed at epoch {kill_at}$"):
        _fit(tmp_path / "killed", [_KillAt(kill_at)])
    assert _csv_epochs(tmp_path / "killed" / "history.csv") == list(range(kill_at))
    # The backup names one complete weights file; a write cut short by a kill is ignored.
    backup = tmp_path / "killed" / "backup"
    assert [p.name for p in backup.glob("*.weights.h5")] == [f"epoch-{kill_at}-0.weights.h5"]
    (backup / ".partial-999.weights.h5").write_bytes(b"cut short")
    # A new process: fresh model (other weights, other seed state) and fresh callbacks.
    set_seed(99)
    model, history, rows = _fit(tmp_path / "killed")
    assert history.epoch[0] == kill_at
    done = "1 epoch was" if kill_at == 1 else f"{kill_at} epochs were"
    assert (f"note: resuming from the backup in {backup}: {done} trained "
            "already (delete that folder to train from scratch)") in capsys.readouterr().err
    assert [r["epoch"] for r in rows] == [r["epoch"] for r in whole_rows]
    for resumed, whole in zip(rows, whole_rows, strict=True):
        for key in whole:
            assert float(resumed[key]) == pytest.approx(float(whole[key]), rel=1e-4, abs=1e-6)
    for resumed, whole in zip(model.get_weights(), whole_model.get_weights(), strict=True):
        np.testing.assert_allclose(resumed, whole, rtol=1e-4, atol=1e-5)


class _Rates(keras.callbacks.Callback):
    """The learning rate each epoch trained at."""

    def __init__(self):
        super().__init__()
        self.rates = {}

    def on_epoch_end(self, epoch, logs=None):
        self.rates[epoch] = float(keras.ops.convert_to_numpy(self.model.optimizer.learning_rate))


def test_the_learning_rate_decay_follows_the_epoch_and_survives_a_resume(tmp_path):
    schedule = {"lr_decay": 0.5, "lr_decay_after": 1}
    assert "EpochDecay" in [type(c).__name__ for c in standard_callbacks(
        tmp_path / "kinds", tensorboard=False, **schedule)][:4]
    whole = _Rates()
    _, whole_history, whole_rows = _fit(tmp_path / "whole", [whole], **schedule)
    assert whole.rates == pytest.approx({e: 0.05 * 0.5 ** e for e in whole_history.epoch})
    with pytest.raises(RuntimeError, match="^killed at epoch 2$"):
        _fit(tmp_path / "killed", [_KillAt(2)], **schedule)
    resumed = _Rates()
    set_seed(99)
    _, history, rows = _fit(tmp_path / "killed", [resumed], **schedule)
    assert history.epoch[0] == 2
    assert resumed.rates == pytest.approx({e: whole.rates[e] for e in history.epoch})
    for again, first in zip(rows, whole_rows, strict=True):
        assert float(again["val_loss"]) == pytest.approx(float(first["val_loss"]), rel=1e-4)


def test_smoothed_crossentropy_matches_keras_losses_and_masks():
    from rnn_templates.training import SmoothedSparseCrossentropy

    rng = np.random.default_rng(0)
    logits = rng.normal(size=(3, 5, 7)).astype("float32")
    labels = rng.integers(0, 7, size=(3, 5))
    plain = keras.losses.SparseCategoricalCrossentropy(from_logits=True)
    np.testing.assert_allclose(float(SmoothedSparseCrossentropy(0.0)(labels, logits)),
                               float(plain(labels, logits)), rtol=1e-5)
    # With smoothing: Keras's dense loss on one-hot labels with label_smoothing.
    dense = keras.losses.CategoricalCrossentropy(from_logits=True, label_smoothing=0.1)
    np.testing.assert_allclose(
        float(SmoothedSparseCrossentropy(0.1)(labels, logits)),
        float(dense(keras.ops.one_hot(labels, 7), logits)), rtol=1e-5)
    # A padding mask on the predictions leaves the padded steps out, as Keras's losses do.
    mask = np.arange(5)[None, :] < np.array([[5], [3], [1]])
    masked = keras.ops.convert_to_tensor(logits)
    masked._keras_mask = keras.ops.convert_to_tensor(mask)
    expected = plain(labels[mask], logits[mask])
    np.testing.assert_allclose(float(SmoothedSparseCrossentropy(0.0)(labels, masked)),
                               float(expected), rtol=1e-5)
    restored = keras.losses.deserialize(keras.losses.serialize(SmoothedSparseCrossentropy(0.2)))
    assert restored.smoothing == 0.2
    with pytest.raises(ValueError, match="`smoothing` must be in"):
        SmoothedSparseCrossentropy(1.0)


def test_a_round_killed_in_its_first_epoch_above_epoch_0_starts_over(tmp_path):
    """A Hyperband round continuing another trial starts at epoch 2, say; killed after its
    first epoch was recorded but before any backup, it trains again from epoch 2."""
    from rnn_templates.training import RunLog

    stopping = standard_callbacks(tmp_path, monitor="val_loss", patience=2,
                                  tensorboard=False)[1]
    log = RunLog(tmp_path, stopping)
    state = tmp_path / "backup" / "run_log"
    state.mkdir(parents=True)
    (state / "records.json").write_text('[{"epoch": 2, "logs": {"loss": 0.5}, '
                                        '"early_stopping": {}}]', encoding="utf-8")
    (tmp_path / "history.csv").write_text("epoch,loss\n2,0.5\n", encoding="utf-8")
    log.on_train_begin()
    log.on_epoch_begin(2)  # used to fail: no record before epoch 2 to restore from
    assert log.records == [] and _csv_epochs(tmp_path / "history.csv") == []
