"""Sentiment analysis: the hooks the shared runner calls, top to bottom.

1. data: load and check labelled texts, split train / validation / test
   (stratified), fit the vocabulary on the training texts only;
2. model: the HyperModel over token ids, wrapped so the saved model takes
   raw strings;
3. serving: ``serve(text: string[batch]) -> {label, score, probabilities}``;
4. metrics: accuracy, macro F1, ROC AUC and a confusion matrix.

Everything else (run directories, resuming, tuning, export and its check,
the CLI) is :mod:`rnn_templates.app`.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import keras
import numpy as np
import tensorflow as tf

from apps.sentiment import data as data_io
from apps.sentiment.config import SentimentConfig
from apps.sentiment.model import SentimentHyperModel
from rnn_templates import io, reporting
from rnn_templates.app import App, Prepared
from rnn_templates.baselines import TfidfLogisticRegression
from rnn_templates.data.labelled import with_test
from rnn_templates.data.labels import (
    check_classes,
    class_indices,
    note_missing_classes,
    stratified_split,
)
from rnn_templates.data.readers import require_file, resolve_path
from rnn_templates.data.splits import example_keys
from rnn_templates.embeddings import pretrained_embedding
from rnn_templates.errors import UserInputError, counted
from rnn_templates.text import TextState, make_vectorizer, string_model, token_ids

TEST_FILE = "test.tsv"


class SentimentApp(App):
    name = "sentiment"
    needs_tensorflow = True  # the model reads raw strings (TextVectorization)
    config_class = SentimentConfig

    # --- 1. data -------------------------------------------------------------------

    def load_data(self, config: SentimentConfig) -> data_io.LabelledTexts:
        data = data_io.load(config)
        if config.test_data:
            require_file(resolve_path(config.test_data), "--test-data", folder_ok=True)
            test = data_io.load(dataclasses.replace(config, data=config.test_data, test_data=""),
                                training=False)
            data.test = with_test(data, test)
            if not len(data.test):
                raise UserInputError(
                    "nothing left to test on: every text of the test data is also in the "
                    "training data", where=test.source, received=counted(len(test), "text"),
                    fix="give test texts the model does not train on, or leave out "
                    "--test-data to hold out part of --data")
        return data

    def load_evaluation_data(self, config: SentimentConfig) -> data_io.LabelledTexts:
        return data_io.load(config, training=False)  # one class is enough to score

    def from_arrays(self, config, inputs, targets) -> data_io.LabelledTexts:
        data = data_io.LabelledTexts(np.asarray(inputs, dtype=object),
                                     np.asarray(targets).astype(str).astype(object), "memory")
        check_classes(data.labels, data.source, config.max_classes)
        return data

    def prepare(self, config: SentimentConfig, data: data_io.LabelledTexts) -> Prepared:
        class_names = data.classes
        labels = class_indices(data.labels, class_names, data.source)
        fractions = (config.validation_fraction,)
        if data.test is None:
            fractions += (config.test_fraction,)
        train, validation, *test = stratified_split(labels, fractions, config.splitting_seed)
        if not len(validation):
            raise UserInputError("too few examples for a validation split", where=data.source,
                                 received=counted(len(data), "example"),
                                 fix="add data or raise --set validation_fraction")
        if data.test is not None:
            held_out = (data.test.texts, class_indices(data.test.labels, class_names,
                                                       data.test.source))
        else:
            held_out = (data.texts[test[0]], labels[test[0]])
        splits = {"train": (data.texts[train], labels[train]),
                  "validation": (data.texts[validation], labels[validation]),
                  "test": held_out}
        note_missing_classes({name: splits[name][1] for name in ("validation", "test")},
                             class_names, data.source if data.test is None
                             else f"{data.source} and {data.test.source}")
        vectorizer = make_vectorizer(splits["train"][0], max_tokens=config.max_tokens,
                                     max_length=config.max_length)
        artifacts: dict[str, Any] = {"class_names": class_names}
        pretrained = None
        if config.embeddings:
            pretrained, artifacts["embeddings"] = pretrained_embedding(
                config.embeddings, vectorizer.get_vocabulary(),
                token_ids(vectorizer, splits["train"][0]), seed=config.seed)
        return Prepared(splits, artifacts, TextState(vectorizer, pretrained))

    def labelled(self, data, artifacts):
        data = data.test or data  # a folder with train/ and test/: evaluate on test/
        return data.texts, class_indices(data.labels, artifacts["class_names"], data.source)

    def write_held_out(self, directory: Path, inputs, targets, artifacts) -> None:
        names = artifacts["class_names"]
        io.write_table(directory / TEST_FILE, ["text", "label"],
                       ([" ".join(str(text).split()), names[label]]
                        for text, label in zip(inputs, targets, strict=True)))

    def example_keys(self, inputs, targets):
        return example_keys(inputs)  # the same text, whatever its label

    def read_held_out(self, directory: Path, artifacts):
        path = directory / TEST_FILE
        if path.is_file() and len(path.read_text(encoding="utf-8").splitlines()) <= 1:
            return np.array([], dtype=object), np.array([], dtype=int)  # trained without one
        data = data_io.read_labelled_table(path, "tsv", "text", "label")
        return data.texts, class_indices(data.labels, artifacts["class_names"], data.source)

    # --- 2. model ------------------------------------------------------------------

    def hypermodel(self, config, prepared) -> SentimentHyperModel:
        return SentimentHyperModel(config, prepared.state.vectorizer.vocabulary_size(),
                                   len(prepared.artifacts["class_names"]),
                                   pretrained=prepared.state.pretrained)

    def fit_data(self, prepared: Prepared) -> dict[str, Any]:
        return {split: (token_ids(prepared.state.vectorizer, prepared.splits[split][0]),
                        prepared.splits[split][1]) for split in ("train", "validation")}

    def serving_model(self, prepared: Prepared, core: keras.Model) -> keras.Model:
        return string_model(prepared.state.vectorizer, core, name="sentiment")

    def baselines(self, config: SentimentConfig, prepared: Prepared) -> list[Any]:
        if not config.baseline:
            return []
        return [TfidfLogisticRegression(seed=config.seed).fit(
            *prepared.splits["train"], *prepared.splits["validation"])]

    # --- 3. serving ----------------------------------------------------------------

    def input_signature(self) -> list[tf.TensorSpec]:
        return [tf.TensorSpec([None], tf.string, name="text")]

    def serve(self, model: keras.Model, artifacts: dict[str, Any]):
        names = tf.constant(artifacts["class_names"])

        def serve(texts):
            probabilities = model(texts, training=False)
            return {"label": tf.gather(names, tf.argmax(probabilities, axis=-1)),
                    "score": tf.reduce_max(probabilities, axis=-1),
                    "probabilities": probabilities}

        return serve

    def to_batch(self, items: list[Any], first: int = 0) -> list[tf.Tensor]:
        return [tf.constant([str(item) for item in items], dtype=tf.string)]

    def prediction_rows(self, outputs, items, parsed) -> list[dict[str, Any]]:
        return [{"label": str(label), "score": float(score), "text": text}
                for label, score, text in zip(outputs["label"], outputs["score"], items,
                                              strict=True)]

    def format_prediction(self, row: dict[str, Any]) -> str:
        return f"{row['label']}\t{row['score']:.3f}\t{row['text']}"

    # --- 4. metrics and plots ----------------------------------------------------------

    def metrics(self, targets, outputs, artifacts) -> dict:
        return reporting.classification_metrics(np.asarray(targets), outputs,
                                                artifacts["class_names"])

    def plots(self, metrics, artifacts, directory: Path, name: str) -> None:
        if name == "test":
            path, title = directory / "confusion_matrix.png", "Test split"
        elif name.startswith("evaluation-"):
            path, title = directory / f"{name}.png", f"Evaluation: {name[11:]}"
        else:
            return
        reporting.plot_confusion_matrix(metrics["confusion_matrix"], artifacts["class_names"],
                                        path, title)

    def summary(self, name: str, metrics: dict) -> str:
        auc = f"  roc_auc {metrics['roc_auc']:.4f}" if "roc_auc" in metrics else ""
        return (f"{name:10s} accuracy {metrics['accuracy']:.4f}  macro_f1 "
                f"{metrics['macro_f1']:.4f}{auc}  ({metrics['examples']} examples)")

    def details(self, metrics: dict) -> str:
        return reporting.format_confusion(metrics["confusion_matrix"], metrics["classes"])


def fit_classifier(config: SentimentConfig, texts, labels, work_dir, hyperparameters=None):
    """Train on in-memory texts and string labels; returns ``(model, class_names, training)``."""
    from rnn_templates.app import Runner

    model, artifacts, training = Runner(SentimentApp()).fit(
        dataclasses.replace(config), texts, labels, work_dir, hyperparameters)
    return model, artifacts["class_names"], training


def predict_probabilities(model: keras.Model, texts) -> np.ndarray:
    """Class probabilities (n, classes) from a serving model, in input order."""
    return SentimentApp().outputs(model, list(np.asarray(texts, dtype=object)))
