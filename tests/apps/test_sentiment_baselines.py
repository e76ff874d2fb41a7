"""Sentiment reports that show what a simple baseline scores, separate test files,
pretrained word vectors through the app, and no report on zero examples."""

import csv
import json
from pathlib import Path

import numpy as np
import pytest

from apps.sentiment.app import SentimentApp
from apps.sentiment.config import SentimentConfig
from rnn_templates.app import Runner
from rnn_templates.cli import main

REPO = Path(__file__).resolve().parents[2]
TINY = ["--set", "epochs=2", "--set", "units=8", "--set", "embedding_dim=8",
        "--set", "max_tokens=2000", "--set", "patience=2"]


def _rows(start: int, count: int) -> list[dict]:
    with open(REPO / "data/sentiment/reviews.tsv", encoding="utf-8") as stream:
        return list(csv.DictReader(stream, delimiter="\t"))[start:start + count]


def _write(path: Path, rows: list[dict]) -> Path:
    with open(path, "w", encoding="utf-8", newline="") as stream:
        writer = csv.writer(stream)
        writer.writerow(["text", "label"])
        writer.writerows([row["text"], row["label"]] for row in rows)
    return path


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    folder = tmp_path_factory.mktemp("baselines")
    return {"train": _write(folder / "train.csv", _rows(0, 300)),
            "test": _write(folder / "exam.csv", _rows(300, 80)),
            "folder": folder}


@pytest.fixture(scope="module")
def run(files):
    run_dir = files["folder"] / "run"
    assert main(["sentiment", "train", "--data", str(files["train"]), "--test-data",
                 str(files["test"]), "--run-dir", str(run_dir), *TINY]) == 0
    return run_dir


def test_every_report_has_the_baseline_beside_the_model(run, files, capsys):
    metrics = json.loads((run / "metrics.json").read_text())
    for split in ("validation", "test"):
        baseline = metrics[split]["baselines"]["tfidf_logreg"]
        assert baseline["examples"] == metrics[split]["examples"]
        assert 0.0 <= baseline["accuracy"] <= 1.0
        assert baseline["settings"]["C"] in (0.1, 1.0, 10.0, 100.0)
    assert (run / "baselines.joblib").is_file()
    capsys.readouterr()
    assert main(["sentiment", "evaluate", "--run-dir", str(run), "--data",
                 str(files["train"])]) == 0
    out = capsys.readouterr().out
    assert "tfidf_logreg" in out
    report = json.loads((run / "evaluation-train.json").read_text())
    # On its own training texts the linear baseline is close to perfect: it was
    # fitted there, and the report scores that same fitted model.
    assert report["baselines"]["tfidf_logreg"]["accuracy"] > 0.9


def test_the_baseline_matches_scikit_learn_fitted_the_same_way(files):
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline

    from rnn_templates.baselines import TfidfLogisticRegression

    rows = _rows(0, 300)
    texts = [row["text"] for row in rows]
    labels = np.array([row["label"] == "positive" for row in rows], dtype=int)
    baseline = TfidfLogisticRegression(c_grid=(10.0,)).fit(texts[:250], labels[:250],
                                                           texts[250:], labels[250:])
    reference = make_pipeline(TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True),
                              LogisticRegression(C=10.0, max_iter=2000)).fit(texts[:250],
                                                                             labels[:250])
    np.testing.assert_allclose(baseline.outputs(texts[250:])[:, 1],
                               reference.predict_proba(texts[250:])[:, 1], atol=1e-6)


def test_test_data_is_the_test_split(run, files):
    metrics = json.loads((run / "metrics.json").read_text())
    assert metrics["test"]["examples"] == 80
    # No test share was taken from --data: 300 rows minus the validation share.
    assert metrics["training"]["train_examples"] == 300 - 30
    with open(run / "test.tsv", encoding="utf-8") as stream:
        assert sum(1 for _ in stream) == 81


def test_test_data_with_unknown_classes_is_refused(files, capsys):
    odd = files["folder"] / "odd.csv"
    _write(odd, [{"text": "fine", "label": "neutral"}, *_rows(300, 5)])
    code = main(["sentiment", "train", "--data", str(files["train"]), "--test-data", str(odd),
                 "--run-dir", str(files["folder"] / "never"), *TINY])
    assert code == 2
    err = capsys.readouterr().err.strip()
    assert "classes the training data lacks" in err and "neutral" in err
    assert "\n" not in err
    assert not (files["folder"] / "never").exists()
    missing = files["folder"] / "nope.csv"
    for app, data in (("sentiment", ["--data", str(files["train"])]), ("translation", [])):
        assert main([app, "train", *data, "--test-data", str(missing),
                     "--run-dir", str(files["folder"] / "never")]) == 2
        assert capsys.readouterr().err == (
            f"rnnt {app}: error: {missing}: data file not found; check the path given to "
            "--test-data\n")
    assert not (files["folder"] / "never").exists()


@pytest.mark.slow
def test_no_test_examples_means_no_test_report_and_no_unchecked_export(files, capsys):
    run_dir = files["folder"] / "no_test"
    assert main(["sentiment", "train", "--data", str(files["train"]), "--run-dir", str(run_dir),
                 "--set", "test_fraction=0", *TINY]) == 0
    metrics = json.loads((run_dir / "metrics.json").read_text())
    assert "test" not in metrics and metrics["validation"]["examples"] > 0
    capsys.readouterr()
    assert main(["sentiment", "evaluate", "--run-dir", str(run_dir)]) == 2
    assert "nothing to evaluate" in capsys.readouterr().err
    assert main(["sentiment", "export", "--run-dir", str(run_dir)]) == 2
    assert "nothing to check the export on" in capsys.readouterr().err
    assert main(["sentiment", "export", "--run-dir", str(run_dir), "--no-check"]) == 0


def test_pretrained_vectors_from_a_file_start_the_model(files, tmp_path):
    rows = _rows(0, 200)
    texts = [row["text"] for row in rows]
    labels = [row["label"] for row in rows]
    words = sorted({w for t in texts for w in t.lower().split() if w.isalpha()})[:150]
    vectors = tmp_path / "tiny.vec"
    rng = np.random.default_rng(0)
    with open(vectors, "w", encoding="utf-8") as stream:
        stream.write(f"{len(words)} 6\n")
        for word in words:
            stream.write(word + " " + " ".join(f"{v:.4f}" for v in rng.normal(size=6)) + "\n")
    config = SentimentConfig(embeddings=str(vectors), embeddings_training="frozen", units=8,
                             epochs=1, max_tokens=500, baseline=False)
    model, artifacts, training = Runner(SentimentApp()).fit(config, texts, labels,
                                                             tmp_path / "work")
    coverage = artifacts["embeddings"]
    assert coverage["dim"] == 6 and coverage["found"] <= len(words)
    assert 0.0 < coverage["oov_rate"] < 1.0 and 0.0 < coverage["token_oov_rate"] < 1.0
    vocabulary = model.get_layer("vectorizer").get_vocabulary()
    embedding = model.get_layer("sentiment_core").get_layer("embedding").get_weights()[0]
    assert embedding.shape == (len(vocabulary), 6)
    with open(vectors, encoding="utf-8") as stream:
        next(stream)
        pretrained = {w: np.array(v, float) for w, *v in (line.split() for line in stream)}
    shared = [(row, word) for row, word in enumerate(vocabulary) if word in pretrained]
    assert len(shared) == coverage["found"] >= 10
    for row, word in shared:  # frozen: still exactly the file's vectors
        np.testing.assert_allclose(embedding[row], pretrained[word], atol=1e-4)
