"""Sentiment analysis end to end: train, tune, evaluate, export, predict.

Reads top to bottom like the pipeline it runs:

1. data: load and check the labelled texts, split train / validation / test;
2. vectorize: fit the vocabulary on the training texts only;
3. model: build from the HyperModel (the config's values, or tuned ones);
4. train: bucketed batches, early stopping on validation loss;
5. report: test-set metrics and plots into the run directory;
6. export: a SavedModel that takes raw strings, checked in a fresh process.

Run directory (``runs/sentiment/<name>``): ``config.yaml``, ``metrics.json``,
``history.csv``, ``learning_curves.png``, ``confusion_matrix.png``, ``logs/``
(TensorBoard), ``checkpoints/``, ``model.keras``, ``saved_model/``,
``test.tsv`` (the held-out split that ``evaluate`` reads).
"""

from __future__ import annotations

import csv
import dataclasses
import os
import sys
import time
from pathlib import Path
from typing import Any

import keras
import keras_tuner
import numpy as np
import tensorflow as tf

import rnn_templates.layers  # noqa: F401  (registers TrimPadding for model loading)
from apps.sentiment import data as data_io
from apps.sentiment import report
from apps.sentiment.config import SentimentConfig
from apps.sentiment.model import SentimentHyperModel, make_vectorizer, serving_model, token_ids
from rnn_templates.config import write_yaml_atomic
from rnn_templates.errors import UserInputError
from rnn_templates.export import check_in_fresh_process, export_saved_model
from rnn_templates.training import (
    history_is_finite,
    progress_verbosity,
    run_directory,
    set_seed,
    standard_callbacks,
    write_json_atomic,
)
from rnn_templates.tuning import leaderboard, make_tuner, write_leaderboard

MODEL_FILE = "model.keras"
SAVED_MODEL_DIR = "saved_model"
TEST_FILE = "test.tsv"


# --- 1. data ----------------------------------------------------------------------


@dataclasses.dataclass
class Prepared:
    """Everything training needs, derived from the config and the data."""

    class_names: list[str]
    texts: dict[str, np.ndarray]  # "train", "validation", "test"
    labels: dict[str, np.ndarray]  # class indices
    vectorizer: keras.layers.TextVectorization
    ids: dict[str, np.ndarray]


def _indices(labels: np.ndarray, class_names: list[str], source: str) -> np.ndarray:
    lookup = {name: i for i, name in enumerate(class_names)}
    unknown = sorted(set(labels.tolist()) - set(lookup))
    if unknown:
        raise UserInputError(
            "labels not seen in training",
            where=source,
            expected=f"classes {class_names}",
            received=f"{unknown[:5]}",
            fix="use the same class names as the training data",
        )
    return np.array([lookup[label] for label in labels], dtype="int32")


def prepare(config: SentimentConfig, dataset: data_io.LabelledTexts) -> Prepared:
    """Split, fit the vocabulary on the training part, and turn texts into ids."""
    class_names = dataset.classes
    labels = _indices(dataset.labels, class_names, dataset.source)
    if dataset.test is not None:
        train_idx, val_idx = data_io.stratified_split(
            labels, (config.validation_fraction,), config.seed
        )
        test_texts = dataset.test.texts
        test_labels = _indices(dataset.test.labels, class_names, dataset.test.source)
    else:
        train_idx, val_idx, test_idx = data_io.stratified_split(
            labels, (config.validation_fraction, config.test_fraction), config.seed
        )
        test_texts, test_labels = dataset.texts[test_idx], labels[test_idx]
    texts = {
        "train": dataset.texts[train_idx],
        "validation": dataset.texts[val_idx],
        "test": test_texts,
    }
    split_labels = {"train": labels[train_idx], "validation": labels[val_idx], "test": test_labels}
    if len(texts["validation"]) == 0:
        raise UserInputError(
            "too few examples for a validation split",
            where=dataset.source,
            received=f"{len(dataset)} examples",
            fix="add data or raise --set validation_fraction",
        )
    vectorizer = make_vectorizer(config, texts["train"])
    ids = {name: token_ids(vectorizer, split) for name, split in texts.items() if len(split)}
    return Prepared(class_names, texts, split_labels, vectorizer, ids)


def _write_split(path: Path, texts: np.ndarray, labels: np.ndarray, class_names: list[str]) -> None:
    temporary = path.with_name(f".{path.name}.tmp")
    with open(temporary, "w", encoding="utf-8", newline="") as stream:
        writer = csv.writer(stream, delimiter="\t", lineterminator="\n")
        writer.writerow(["text", "label"])
        for text, label in zip(texts, labels, strict=True):
            writer.writerow([" ".join(str(text).split()), class_names[label]])
    os.replace(temporary, path)


# --- 3-5. model, training and report --------------------------------------------


def fit_prepared(
    config: SentimentConfig,
    prepared: Prepared,
    work: Path,
    hyperparameters: keras_tuner.HyperParameters,
) -> tuple[keras.Model, dict[str, Any]]:
    """Build the core classifier from ``hyperparameters``, train it, report on the test split."""
    hypermodel = SentimentHyperModel(
        config, prepared.vectorizer.vocabulary_size(), len(prepared.class_names)
    )
    core = hypermodel.build(hyperparameters)
    started = time.perf_counter()
    history = hypermodel.fit(
        hyperparameters,
        core,
        train=(prepared.ids["train"], prepared.labels["train"]),
        validation=(prepared.ids["validation"], prepared.labels["validation"]),
        callbacks=standard_callbacks(work, monitor="val_loss", patience=config.patience),
        verbose=progress_verbosity(),
    )
    seconds = time.perf_counter() - started
    if not history_is_finite(history):
        raise UserInputError(
            "training diverged (the loss became NaN or infinite)",
            where="config",
            received=f"learning_rate={hyperparameters.get('learning_rate')}",
            fix="lower --set learning_rate=..., or keep gradient clipping on (clipnorm=1.0)",
        )
    epochs_run = len(history.history.get("loss", []))
    model = serving_model(prepared.vectorizer, core)
    metrics: dict[str, Any] = {
        "training": {
            "epochs_run": epochs_run,
            "train_examples": int(len(prepared.texts["train"])),
            "seconds": round(seconds, 2),
            "hyperparameters": dict(hyperparameters.values),
        }
    }
    for split in ("validation", "test"):
        if len(prepared.texts[split]):
            probabilities = _predict(model, prepared.texts[split])
            metrics[split] = report.classification_metrics(
                prepared.labels[split], probabilities, prepared.class_names
            )
    report.plot_learning_curves(work / "history.csv", work / "learning_curves.png")
    if "test" in metrics:
        report.plot_confusion_matrix(
            metrics["test"]["confusion_matrix"], prepared.class_names,
            work / "confusion_matrix.png", "Test split",
        )
    return model, metrics


def _predict(model: keras.Model, texts: np.ndarray, batch_size: int = 256) -> np.ndarray:
    # Batches of similar length would be faster, but order must be kept; the
    # serving model trims each batch to its longest text anyway.
    outputs = [
        np.asarray(model(tf.constant(texts[i : i + batch_size].astype(str)), training=False))
        for i in range(0, len(texts), batch_size)
    ]
    return np.concatenate(outputs) if outputs else np.zeros((0, model.output_shape[-1]))


def _finish_run(
    config: SentimentConfig,
    prepared: Prepared,
    work: Path,
    model: keras.Model,
    metrics: dict[str, Any],
) -> None:
    """Save the model, the held-out split, the config and metrics; export and check."""
    model.save(work / MODEL_FILE)
    _write_split(work / TEST_FILE, prepared.texts["test"], prepared.labels["test"],
                 prepared.class_names)
    write_yaml_atomic(dataclasses.asdict(config), work / "config.yaml")
    held_out = prepared.texts["test"]
    if not len(held_out):
        held_out = prepared.texts["validation"]
    metrics["export"] = export_and_check(
        model, prepared.class_names, work / SAVED_MODEL_DIR, held_out[:8]
    )
    write_json_atomic(metrics, work / "metrics.json")


def _summary(run_dir: Path, metrics: dict[str, Any]) -> str:
    lines = [f"run directory: {run_dir}"]
    for split in ("validation", "test"):
        if split in metrics:
            m = metrics[split]
            auc = f"  roc_auc {m['roc_auc']:.4f}" if "roc_auc" in m else ""
            lines.append(
                f"{split:10s} accuracy {m['accuracy']:.4f}  macro_f1 {m['macro_f1']:.4f}{auc}"
                f"  ({m['examples']} examples)"
            )
    return "\n".join(lines)


def train(config: SentimentConfig, run_dir: str | os.PathLike, *, overwrite: bool = False) -> dict:
    """Train the configured model and write a complete run directory.

    Returns:
        The run's metrics (also in ``metrics.json``).
    """
    dataset = data_io.load(config)  # bad input fails here, before anything is written
    run_dir = Path(run_dir)
    with run_directory(run_dir, overwrite=overwrite) as work:
        set_seed(config.seed, config.deterministic)
        prepared = prepare(config, dataset)
        model, metrics = fit_prepared(config, prepared, work, keras_tuner.HyperParameters())
        _finish_run(config, prepared, work, model, metrics)
    print(_summary(run_dir, metrics))
    return metrics


def search_hyperparameters(
    config: SentimentConfig,
    prepared: Prepared,
    tuning_dir: str | os.PathLike,
    *,
    restart: bool = False,
) -> tuple[keras_tuner.HyperParameters, list[dict[str, Any]]]:
    """Run (or resume) the keras-tuner search on the training and validation splits.

    Returns:
        The best hyperparameters and the leaderboard rows (also written to
        ``tuning_dir`` as CSV and Markdown).
    """
    hypermodel = SentimentHyperModel(
        config, prepared.vectorizer.vocabulary_size(), len(prepared.class_names)
    )
    tuner = make_tuner(
        hypermodel,
        kind=config.tuner,
        objective=config.tuning_objective,
        max_trials=config.max_trials,
        max_epochs=config.tuning_epochs,
        directory=tuning_dir,
        project_name="sentiment",
        seed=config.seed,
        overwrite=restart,
    )
    tuner.search(
        train=(prepared.ids["train"], prepared.labels["train"]),
        validation=(prepared.ids["validation"], prepared.labels["validation"]),
        epochs=config.tuning_epochs,
        callbacks=[keras.callbacks.EarlyStopping(monitor="val_loss", patience=config.patience)],
        verbose=progress_verbosity(),
    )
    rows = leaderboard(tuner)
    write_leaderboard(rows, tuning_dir)
    return tuner.get_best_hyperparameters(1)[0], rows


def fit_classifier(
    config: SentimentConfig,
    texts: np.ndarray,
    labels: np.ndarray,
    work_dir: str | os.PathLike,
    hyperparameters: keras_tuner.HyperParameters | None = None,
) -> tuple[keras.Model, list[str], dict[str, Any]]:
    """Train on in-memory texts and string labels (for benchmarks and notebooks).

    ``config.validation_fraction`` of the data is held out for early stopping;
    nothing is held out for testing (``test_fraction`` is ignored), so score
    the returned model on data of your own.

    Returns:
        ``(serving_model, class_names, metrics)``; the model maps raw strings
        to class probabilities.
    """
    config = dataclasses.replace(config, test_fraction=0.0)
    dataset = data_io.LabelledTexts(
        np.asarray(texts, dtype=object), np.asarray(labels).astype(str).astype(object), "memory"
    )
    data_io.check_classes(dataset, config.max_classes)
    work = Path(work_dir)
    work.mkdir(parents=True, exist_ok=True)
    set_seed(config.seed, config.deterministic)
    prepared = prepare(config, dataset)
    model, metrics = fit_prepared(
        config, prepared, work, hyperparameters or keras_tuner.HyperParameters()
    )
    return model, prepared.class_names, metrics


def predict_probabilities(model: keras.Model, texts: np.ndarray) -> np.ndarray:
    """Class probabilities (n, classes) from a serving model, in input order."""
    return _predict(model, np.asarray(texts, dtype=object))


def tune(
    config: SentimentConfig,
    run_dir: str | os.PathLike,
    *,
    tuning_dir: str | os.PathLike,
    overwrite: bool = False,
    restart: bool = False,
) -> dict:
    """Search hyperparameters, then retrain the best and write a run directory.

    The search lives in ``tuning_dir``; running the same command again resumes
    it (``restart=True`` starts afresh). Trials use the validation split only;
    the test split is read once, by the retrained best model.
    """
    dataset = data_io.load(config)
    run_dir = Path(run_dir)
    with run_directory(run_dir, overwrite=overwrite) as work:
        set_seed(config.seed, config.deterministic)
        prepared = prepare(config, dataset)
        best, rows = search_hyperparameters(config, prepared, tuning_dir, restart=restart)
        write_leaderboard(rows, work)
        model, metrics = fit_prepared(config, prepared, work, best)
        metrics["tuning"] = {"tuner": config.tuner, "trials": len(rows), "best": dict(best.values)}
        _finish_run(config, prepared, work, model, metrics)
    print(_summary(run_dir, metrics))
    print(f"leaderboard: {run_dir / 'leaderboard.md'}")
    return metrics


# --- evaluation ---------------------------------------------------------------------


def load_run_model(run_dir: str | os.PathLike) -> tuple[keras.Model, list[str]]:
    run_dir = Path(run_dir)
    model_path = run_dir / MODEL_FILE
    if not model_path.is_file():
        hint = " (an interrupted run: train again to resume)" if Path(
            f"{run_dir}.partial").exists() else ""
        raise UserInputError(
            f"no trained model in the run directory{hint}",
            where=str(model_path),
            fix="train first (rnnt sentiment train --run-dir ...) or check --run-dir",
        )
    import json

    metrics = json.loads((run_dir / "metrics.json").read_text(encoding="utf-8"))
    class_names = (metrics.get("test") or metrics["validation"])["classes"]
    return keras.saving.load_model(model_path), class_names


def evaluate(run_dir: str | os.PathLike, data_path: str | None = None,
             config: SentimentConfig | None = None) -> dict:
    """Metrics and a confusion-matrix plot on the run's test split or another file.

    Results go to ``evaluation-<name>.json`` and ``evaluation-<name>.png`` in
    the run directory, ``<name>`` being ``test`` or the file's stem.
    """
    run_dir = Path(run_dir)
    model, class_names = load_run_model(run_dir)
    if data_path is None:
        dataset = data_io.read_table(run_dir / TEST_FILE, "tsv", "text", "label")
        name = "test"
    else:
        config = dataclasses.replace(config or SentimentConfig(), data=data_path)
        fmt = data_io.resolve_format(config.data, config.format)
        if fmt == "folder":
            dataset = data_io.read_folder(config.data)
            dataset = dataset.test or dataset
        else:
            dataset = data_io.load(config)
        name = Path(data_path).stem
    true = _indices(dataset.labels, class_names, dataset.source)
    metrics = report.classification_metrics(true, _predict(model, dataset.texts), class_names)
    write_json_atomic(metrics, run_dir / f"evaluation-{name}.json")
    report.plot_confusion_matrix(metrics["confusion_matrix"], class_names,
                                 run_dir / f"evaluation-{name}.png", f"Evaluation: {name}")
    auc = f"  roc_auc {metrics['roc_auc']:.4f}" if "roc_auc" in metrics else ""
    print(f"{name}: accuracy {metrics['accuracy']:.4f}  macro_f1 {metrics['macro_f1']:.4f}{auc}"
          f"  ({metrics['examples']} examples)")
    print(_format_confusion(metrics["confusion_matrix"], class_names))
    return metrics


def _format_confusion(matrix: list[list[int]], class_names: list[str]) -> str:
    width = max(8, *(len(c) for c in class_names)) + 2
    lines = ["true \\ predicted".ljust(width) + "".join(c.rjust(width) for c in class_names)]
    for name, row in zip(class_names, matrix, strict=True):
        lines.append(name.ljust(width) + "".join(str(v).rjust(width) for v in row))
    return "\n".join(lines)


# --- 6. export and prediction ---------------------------------------------------------


def export_and_check(
    model: keras.Model, class_names: list[str], path: str | os.PathLike, sample_texts: np.ndarray
) -> dict[str, float]:
    """Export ``serve(texts: string[batch]) -> {label, score, probabilities}`` and verify it.

    The check reloads the SavedModel in a fresh TensorFlow-only process and
    compares its answers on ``sample_texts`` with the in-memory model.
    """
    names = tf.constant(class_names)

    def serve(texts):
        probabilities = model(texts, training=False)
        best = tf.argmax(probabilities, axis=-1)
        return {
            "label": tf.gather(names, best),
            "score": tf.reduce_max(probabilities, axis=-1),
            "probabilities": probabilities,
        }

    export_saved_model(model, path, serve, [tf.TensorSpec([None], tf.string, name="text")])
    sample = np.asarray(sample_texts).astype(str)
    probabilities = _predict(model, sample)
    expected = {
        "probabilities": probabilities,
        "label": np.array(class_names)[probabilities.argmax(axis=1)],
    }
    return check_in_fresh_process(path, sample, expected, atol=1e-4)


def export(run_dir: str | os.PathLike, output: str | None = None, *, check: bool = True) -> Path:
    """(Re)export a run's model as a SavedModel taking raw strings."""
    run_dir = Path(run_dir)
    model, class_names = load_run_model(run_dir)
    destination = Path(output) if output else run_dir / SAVED_MODEL_DIR
    sample = data_io.read_table(run_dir / TEST_FILE, "tsv", "text", "label").texts[:8]
    if check:
        differences = export_and_check(model, class_names, destination, sample)
        print(f"exported {destination}; fresh-process check passed "
              f"(max probability difference {differences['probabilities']:.2g})")
    else:
        export_saved_model(
            model, destination,
            lambda texts: {"probabilities": model(texts, training=False)},
            [tf.TensorSpec([None], tf.string, name="text")],
        )
        print(f"exported {destination}")
    return destination


def predict(model_path: str | os.PathLike, texts: list[str]) -> list[dict[str, Any]]:
    """Classify raw texts with an exported SavedModel (or a run's ``model.keras``)."""
    model_path = Path(model_path)
    if not texts:
        raise UserInputError(
            "nothing to classify", where="predict",
            fix='give texts as arguments, or --input FILE with one text per line',
        )
    if model_path.is_dir() and (model_path / "saved_model.pb").is_file():
        loaded = tf.saved_model.load(str(model_path))  # keep it alive: it owns the variables
        result = {k: v.numpy() for k, v in loaded.serve(tf.constant(texts)).items()}
        labels = [label.decode("utf-8") for label in result["label"]]
        scores = result["score"]
    elif model_path.suffix == ".keras" and model_path.is_file():
        model, class_names = load_run_model(model_path.parent)
        probabilities = _predict(model, np.array(texts, dtype=object))
        labels = [class_names[i] for i in probabilities.argmax(axis=1)]
        scores = probabilities.max(axis=1)
    else:
        raise UserInputError(
            "no exported model found",
            where=str(model_path),
            expected="a SavedModel folder (with saved_model.pb) or a .keras file",
            fix="run `rnnt sentiment export --run-dir ...` first, or check --model",
        )
    return [
        {"label": label, "score": float(score), "text": text}
        for label, score, text in zip(labels, scores, texts, strict=True)
    ]


def read_lines(path: str) -> list[str]:
    """Texts to classify, one per non-empty line (``-`` reads standard input)."""
    if path == "-":
        return [line.rstrip("\n") for line in sys.stdin if line.strip()]
    file = Path(path)
    if not file.is_file():
        raise UserInputError("input file not found", where=path, fix="check the --input path")
    text = data_io.decode_utf8(file.read_bytes(), path)
    return [line for line in text.splitlines() if line.strip()]
