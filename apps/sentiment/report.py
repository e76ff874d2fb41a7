"""Classification metrics and the plots of a run (learning curve, confusion matrix)."""

from __future__ import annotations

import csv
import os
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # files only; no display needed on servers and in CI
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402


def confusion_matrix(true: np.ndarray, predicted: np.ndarray, num_classes: int) -> np.ndarray:
    """Counts, rows = true class, columns = predicted class."""
    matrix = np.zeros((num_classes, num_classes), dtype=int)
    np.add.at(matrix, (true, predicted), 1)
    return matrix


def macro_f1(matrix: np.ndarray) -> float:
    """Unweighted mean of per-class F1 (a class never predicted nor present scores 0)."""
    true_positive = np.diag(matrix).astype(float)
    predicted = matrix.sum(axis=0)
    actual = matrix.sum(axis=1)
    denominator = predicted + actual
    f1 = np.divide(2 * true_positive, denominator, out=np.zeros_like(true_positive),
                   where=denominator > 0)
    return float(f1.mean())


def roc_auc(true_binary: np.ndarray, scores: np.ndarray) -> float:
    """Area under the ROC curve by the rank-sum (Mann-Whitney) formula, ties averaged."""
    true_binary = np.asarray(true_binary).astype(bool)
    positives, negatives = true_binary.sum(), (~true_binary).sum()
    if positives == 0 or negatives == 0:
        return float("nan")
    order = np.argsort(scores, kind="mergesort")
    ranks = np.empty(len(scores), dtype=float)
    sorted_scores = np.asarray(scores)[order]
    start = 0
    while start < len(scores):  # average ranks over ties
        end = start
        while end + 1 < len(scores) and sorted_scores[end + 1] == sorted_scores[start]:
            end += 1
        ranks[order[start : end + 1]] = (start + end) / 2 + 1
        start = end + 1
    rank_sum = ranks[true_binary].sum() - positives * (positives + 1) / 2
    return float(rank_sum / (positives * negatives))


def classification_metrics(
    true: np.ndarray, probabilities: np.ndarray, class_names: list[str]
) -> dict:
    """Accuracy, macro F1, confusion matrix, and ROC AUC when there are two classes.

    Args:
        true: Class indices (n,).
        probabilities: (n, classes) predicted probabilities.
        class_names: Names in index order.
    """
    predicted = probabilities.argmax(axis=1)
    matrix = confusion_matrix(true, predicted, len(class_names))
    metrics = {
        "examples": int(len(true)),
        "accuracy": float((predicted == true).mean()),
        "macro_f1": macro_f1(matrix),
        "confusion_matrix": matrix.tolist(),
        "classes": list(class_names),
    }
    if len(class_names) == 2:
        metrics["roc_auc"] = roc_auc(true == 1, probabilities[:, 1])
        metrics["positive_class"] = class_names[1]
    return metrics


def _save(figure, path: Path) -> None:
    temporary = path.with_name(f".{path.stem}.tmp.png")
    figure.savefig(temporary, dpi=120, bbox_inches="tight")
    plt.close(figure)
    os.replace(temporary, path)


def plot_learning_curves(history_csv: str | os.PathLike, path: str | os.PathLike) -> None:
    """Loss and accuracy per epoch, training vs validation, side by side."""
    with open(history_csv, encoding="utf-8") as stream:
        rows = list(csv.DictReader(stream))
    epochs = [int(r["epoch"]) + 1 for r in rows]
    figure, axes = plt.subplots(1, 2, figsize=(10, 4))
    for axis, metric in zip(axes, ("loss", "accuracy"), strict=True):
        for prefix, style in (("", "-o"), ("val_", "--s")):
            key = prefix + metric
            if rows and key in rows[0]:
                axis.plot(epochs, [float(r[key]) for r in rows], style,
                          label="validation" if prefix else "training")
        axis.set_xlabel("epoch")
        axis.set_ylabel(metric)
        axis.set_title(metric.capitalize())
        axis.grid(alpha=0.3)
        axis.legend()
    figure.suptitle("Learning curves")
    _save(figure, Path(path))


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
    _save(figure, Path(path))
