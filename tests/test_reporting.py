"""Reporting: scikit-learn metrics, learning curves of any logged metric."""

import numpy as np
import pytest

from rnn_templates import io, reporting


def test_learning_curves_plot_every_logged_metric_and_mark_the_kept_epoch(tmp_path, monkeypatch):
    history = io.write_table(tmp_path / "history.csv", ["epoch", "loss", "mae", "val_loss",
                                                         "val_mae"],
                             [[0, 1.0, 0.9, 1.1, 1.0], [1, 0.5, 0.6, 0.7, 0.8]], delimiter=",")
    panels = []
    real = reporting.plt.subplots

    def recording(*args, **kwargs):
        figure, axes = real(*args, **kwargs)
        panels.append(axes)
        return figure, axes

    monkeypatch.setattr(reporting.plt, "subplots", recording)
    reporting.plot_learning_curves(history, tmp_path / "curves.png", kept_epoch=1)
    axes = panels[0][0]
    assert [axis.get_title() for axis in axes] == ["Loss", "Mae"]
    assert [line.get_label() for line in axes[1].get_lines()] == [
        "training", "validation", "kept (epoch 2)"]
    assert (tmp_path / "curves.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_classification_metrics_with_a_missing_class_in_the_split():
    metrics = reporting.classification_metrics(np.array([1, 1]), np.array([[0.2, 0.8],
                                                                           [0.7, 0.3]]),
                                               ["neg", "pos"])
    assert metrics["accuracy"] == pytest.approx(0.5)
    assert metrics["confusion_matrix"] == [[0, 0], [1, 1]]
    assert np.isnan(metrics["roc_auc"])  # undefined with one class present, not an error
