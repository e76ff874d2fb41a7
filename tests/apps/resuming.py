"""A run interrupted mid-training and resumed, compared with an uninterrupted one."""

import csv
from pathlib import Path

import keras
import numpy as np
import pytest

import rnn_templates.app as runner_module
from rnn_templates.cli import main


def interrupt_then_resume(monkeypatch, command: list[str], run_dir: Path, epoch: int = 2):
    """Run ``command --run-dir run_dir``, stopped by Ctrl-C as ``epoch`` begins (exit 130),
    then the same command again, which resumes and finishes (exit 0)."""
    real_callbacks = runner_module.standard_callbacks

    class Interrupt(keras.callbacks.Callback):
        def on_epoch_begin(self, number, logs=None):
            if number == epoch:
                raise KeyboardInterrupt

    argv = [*command, "--run-dir", str(run_dir)]
    monkeypatch.setattr(runner_module, "standard_callbacks",
                        lambda *a, **k: [*real_callbacks(*a, **k), Interrupt()])
    assert main(argv) == 130
    monkeypatch.setattr(runner_module, "standard_callbacks", real_callbacks)
    assert main(argv) == 0


def assert_same_training(whole: Path, resumed: Path) -> list[dict]:
    """Both runs logged the same epochs and metrics and saved the same weights; returns the
    uninterrupted run's ``history.csv`` rows."""
    with open(whole / "history.csv") as a, open(resumed / "history.csv") as b:
        rows_a, rows_b = list(csv.DictReader(a)), list(csv.DictReader(b))
    assert [row["epoch"] for row in rows_b] == [row["epoch"] for row in rows_a]
    for row_a, row_b in zip(rows_a, rows_b, strict=True):
        for key in row_a:
            assert float(row_b[key]) == pytest.approx(float(row_a[key]), rel=1e-3, abs=1e-5)
    weights_a = keras.saving.load_model(whole / "model.keras").get_weights()
    weights_b = keras.saving.load_model(resumed / "model.keras").get_weights()
    for a, b in zip(weights_a, weights_b, strict=True):
        np.testing.assert_allclose(b, a, rtol=1e-3, atol=1e-4)
    return rows_a
