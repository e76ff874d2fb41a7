"""Reference models reported beside every trained network.

A recurrent model earns its cost only if it beats what a simple, well-tuned
classical model does on the same split. Apps return these from
:meth:`rnn_templates.app.App.baselines`; the runner fits them on the training
split, scores them wherever it scores the model (validation, test, ``evaluate
--data``) and saves them as ``baselines.joblib`` in the run directory.

A baseline has ``name``, ``settings`` (what was chosen, for the report) and
``outputs(inputs)``, which returns what the app's ``outputs`` returns for the
model (class probabilities here), so the app's own ``metrics`` score both.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

# Inverse regularization strengths tried; the one with the best validation
# accuracy is kept (the test split is never looked at).
C_GRID = (0.1, 1.0, 10.0, 100.0)


class TfidfLogisticRegression:
    """TF-IDF over word 1-2 grams, then logistic regression (scikit-learn).

    The strong linear baseline of text classification (e.g. Wang & Manning,
    2012). ``C`` is chosen on the validation split from :data:`C_GRID`.

    Example:
        >>> texts = ["good film", "great film", "bad film", "awful plot"] * 5
        >>> labels = np.array([1, 1, 0, 0] * 5)
        >>> baseline = TfidfLogisticRegression().fit(texts, labels, texts[:4], labels[:4])
        >>> baseline.outputs(["a great film", "an awful plot"]).argmax(axis=1).tolist()
        [1, 0]
    """

    name = "tfidf_logreg"

    def __init__(self, c_grid: Sequence[float] = C_GRID, seed: int = 0):
        self.c_grid = tuple(c_grid)
        self.seed = seed
        self.pipeline: Any = None
        self.settings: dict[str, Any] = {}

    def _pipeline(self, c: float):
        from sklearn.feature_extraction.text import TfidfVectorizer
        from sklearn.linear_model import LogisticRegression
        from sklearn.pipeline import make_pipeline

        return make_pipeline(
            TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True, min_df=1),
            LogisticRegression(C=c, max_iter=2000, random_state=self.seed),
        )

    def fit(self, texts, labels, validation_texts, validation_labels) -> TfidfLogisticRegression:
        """Fit on the training split; ``C`` by validation accuracy (ties: the smaller C)."""
        texts = [str(t) for t in texts]
        validation_texts = [str(t) for t in validation_texts]
        self.classes_ = int(np.max(labels)) + 1
        best = None
        for c in self.c_grid:
            pipeline = self._pipeline(c).fit(texts, labels)
            score = float(np.mean(pipeline.predict(validation_texts) == validation_labels))
            if best is None or score > best[0]:
                best = (score, c, pipeline)
        score, c, self.pipeline = best
        self.settings = {"ngram_range": [1, 2], "C": c, "validation_accuracy": round(score, 4)}
        return self

    def outputs(self, texts) -> np.ndarray:
        """Class probabilities ``(n, classes)``, columns in class-index order."""
        probabilities = self.pipeline.predict_proba([str(t) for t in texts])
        full = np.zeros((len(probabilities), self.classes_), dtype="float32")
        full[:, self.pipeline.classes_] = probabilities
        return full
