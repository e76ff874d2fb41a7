"""Metrics from scikit-learn and the plots of a run: learning curves, confusion matrix."""

from __future__ import annotations

import csv
import os
import warnings
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")  # files only; no display needed on servers and in CI
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from rnn_templates import io  # noqa: E402


def classification_metrics(
    true: np.ndarray, probabilities: np.ndarray, class_names: list[str]
) -> dict[str, Any]:
    """Accuracy, macro F1, the confusion matrix, and ROC AUC for two classes.

    Macro F1 averages over the classes that occur in ``true`` or among the
    predictions (scikit-learn's default), so a class with no example in the
    split scored adds nothing; the confusion matrix keeps every class.

    Args:
        true: Class indices (n,).
        probabilities: (n, classes) predicted probabilities.
        class_names: Names in index order; with two, index 1 is the positive class.

    Example:
        >>> import numpy as np
        >>> m = classification_metrics(np.array([0, 1, 1]),
        ...                            np.array([[.9, .1], [.2, .8], [.6, .4]]), ["no", "yes"])
        >>> round(m["accuracy"], 3), m["confusion_matrix"], m["roc_auc"]
        (0.667, [[1, 0], [1, 1]], 1.0)
        >>> perfect = classification_metrics(np.array([0, 1]), np.eye(3)[[0, 1]], ["a", "b", "c"])
        >>> perfect["macro_f1"], perfect["confusion_matrix"][2]
        (1.0, [0, 0, 0])
    """
    from sklearn import metrics as sk

    predicted = probabilities.argmax(axis=1)
    labels = list(range(len(class_names)))
    result: dict[str, Any] = {
        "examples": int(len(true)),
        "accuracy": float(sk.accuracy_score(true, predicted)) if len(true) else float("nan"),
        "macro_f1": float(sk.f1_score(true, predicted, average="macro", zero_division=0))
        if len(true) else float("nan"),
        "confusion_matrix": sk.confusion_matrix(true, predicted, labels=labels).tolist(),
        "classes": list(class_names),
    }
    if len(class_names) == 2:
        both = len(set(np.asarray(true).tolist())) == 2
        result["roc_auc"] = float(sk.roc_auc_score(true, probabilities[:, 1])) if both \
            else float("nan")
        result["positive_class"] = class_names[1]
    return result


def read_history(path: str | os.PathLike) -> list[dict[str, float]]:
    """Rows of a ``history.csv`` as floats."""
    with open(path, encoding="utf-8", newline="") as stream:
        return [{k: float(v) for k, v in row.items() if v != ""} for row in csv.DictReader(stream)]


def plot_learning_curves(
    history_csv: str | os.PathLike, path: str | os.PathLike, kept_epoch: int | None = None
) -> None:
    """One panel per metric in ``history.csv``, training and validation together.

    Args:
        history_csv: The run's history (``epoch`` plus a column per logged metric).
        path: The PNG to write.
        kept_epoch: 0-based epoch whose weights the model kept; marked on every panel.
    """
    rows = read_history(history_csv)
    keys = sorted({k for row in rows for k in row} - {"epoch", "learning_rate"})
    metrics = sorted({k.removeprefix("val_") for k in keys}, key=lambda m: (m != "loss", m))
    epochs = [int(r["epoch"]) + 1 for r in rows]
    figure, axes = plt.subplots(1, max(1, len(metrics)), figsize=(5 * max(1, len(metrics)), 4),
                                squeeze=False)
    for axis, metric in zip(axes[0], metrics, strict=False):
        for prefix, style, label in (("", "-o", "training"), ("val_", "--s", "validation")):
            if any(prefix + metric in r for r in rows):
                axis.plot(epochs, [r.get(prefix + metric, np.nan) for r in rows], style,
                          label=label)
        if kept_epoch is not None:
            axis.axvline(kept_epoch + 1, color="tab:green", alpha=0.6, linestyle=":",
                         label=f"kept (epoch {kept_epoch + 1})")
        axis.set_xlabel("epoch")
        axis.set_ylabel(metric)
        axis.set_title(metric.replace("_", " ").capitalize())
        axis.grid(alpha=0.3)
        axis.legend()
    figure.suptitle("Learning curves")
    io.save_figure(figure, path)


def plot_confusion_matrix(
    matrix: np.ndarray | list, class_names: list[str], path: str | os.PathLike, title: str
) -> None:
    """Counts with row-normalised shading, so each true class reads as its recall."""
    matrix = np.asarray(matrix)
    rates = matrix / np.maximum(matrix.sum(axis=1, keepdims=True), 1)
    size = max(4.0, 0.8 * len(class_names) + 2)
    figure, axis = plt.subplots(figsize=(size, size * 0.85))
    image = axis.imshow(rates, cmap="Blues", vmin=0, vmax=1)
    for i in range(len(class_names)):
        for j in range(len(class_names)):
            axis.text(j, i, f"{matrix[i, j]}\n{rates[i, j]:.0%}", ha="center", va="center",
                      color="white" if rates[i, j] > 0.6 else "black")
    axis.set_xticks(range(len(class_names)), class_names, rotation=30, ha="right")
    axis.set_yticks(range(len(class_names)), class_names)
    axis.set_xlabel("predicted")
    axis.set_ylabel("true")
    axis.set_title(title)
    figure.colorbar(image, ax=axis, fraction=0.046, label="share of true class")
    io.save_figure(figure, Path(path))


def format_confusion(matrix: list[list[int]], class_names: list[str]) -> str:
    """The confusion matrix as an aligned text table for the terminal."""
    width = max(8, *(len(c) for c in class_names)) + 2
    lines = ["true \\ predicted".ljust(width) + "".join(c.rjust(width) for c in class_names)]
    for name, row in zip(class_names, matrix, strict=True):
        lines.append(name.ljust(width) + "".join(str(v).rjust(width) for v in row))
    return "\n".join(lines)


def plot_attention(maps: list[dict], path: str | os.PathLike,
                   title: str = "Attention: output tokens (rows) over source tokens (columns)"
                   ) -> None:
    """One heat-map per sequence: output tokens (rows) against source tokens (columns).

    Each map holds ``source`` (its title), ``source_tokens``, ``target_tokens``
    and ``weights``, one row per target token. Tokens the font has no glyph for
    (control characters in a user's text) are drawn as boxes, without warnings.
    """
    figure, axes = plt.subplots(1, len(maps), figsize=(5 * len(maps), 4.5), squeeze=False)
    for axis, entry in zip(axes[0], maps, strict=True):
        weights = np.array(entry["weights"], dtype=float).reshape(
            len(entry["target_tokens"]), len(entry["source_tokens"]))
        axis.imshow(weights, cmap="viridis", vmin=0, vmax=1, aspect="auto")
        axis.set_xticks(range(len(entry["source_tokens"])), entry["source_tokens"], rotation=60,
                        ha="right", fontsize=8)
        axis.set_yticks(range(len(entry["target_tokens"])), entry["target_tokens"], fontsize=8)
        axis.set_title(entry["source"][:40], fontsize=9)
    figure.suptitle(title)
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="Glyph .* missing from font")
        figure.tight_layout()
        io.save_figure(figure, Path(path))
