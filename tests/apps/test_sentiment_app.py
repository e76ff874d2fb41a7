"""Sentiment end to end on small data: train, evaluate, export, predict, tune, CLI."""

import csv
import json
import os
import subprocess
import sys
from pathlib import Path

import keras
import numpy as np
import pytest

from apps.sentiment import app
from apps.sentiment.config import SentimentConfig
from rnn_templates import io
from rnn_templates import reporting as report
from rnn_templates.cli import main
from rnn_templates.errors import UserInputError
from rnn_templates.export import call_in_fresh_process

REPO = Path(__file__).resolve().parents[2]
TINY = ["--set", "epochs=2", "--set", "units=8", "--set", "embedding_dim=8",
        "--set", "max_tokens=2000", "--set", "patience=2"]


def _slice_of_corpus(path: Path, rows: int) -> Path:
    with open(REPO / "data/sentiment/reviews.tsv", encoding="utf-8") as stream:
        reader = list(csv.DictReader(stream, delimiter="\t"))
    with open(path, "w", encoding="utf-8", newline="") as stream:
        writer = csv.writer(stream)
        writer.writerow(["text", "label"])
        for row in reader[:rows]:
            writer.writerow([row["text"], row["label"]])
    return path


@pytest.fixture(scope="module")
def workspace(tmp_path_factory):
    return tmp_path_factory.mktemp("sentiment")


@pytest.fixture(scope="module")
def small_csv(workspace):
    return _slice_of_corpus(workspace / "small.csv", 400)


@pytest.fixture(scope="module")
def trained_run(workspace, small_csv):
    run_dir = workspace / "run"
    code = main(["sentiment", "train", "--data", str(small_csv), "--run-dir", str(run_dir), *TINY])
    assert code == 0
    return run_dir


def test_train_writes_a_complete_run_directory(trained_run):
    names = {p.name for p in trained_run.iterdir()}
    expected = {"config.yaml", "metrics.json", "history.csv", "learning_curves.png",
                "confusion_matrix.png", "logs", "checkpoints", "model.keras", "saved_model",
                "test.tsv"}
    assert expected <= names
    assert not Path(f"{trained_run}.partial").exists()
    metrics = json.loads((trained_run / "metrics.json").read_text())
    assert metrics["test"]["classes"] == ["negative", "positive"]
    assert metrics["test"]["examples"] == 60  # 15% of 400, stratified
    assert set(metrics["test"]) >= {"accuracy", "macro_f1", "roc_auc", "confusion_matrix"}
    assert sum(map(sum, metrics["test"]["confusion_matrix"])) == 60
    assert metrics["training"]["epochs_run"] == 2
    assert metrics["export"]["probabilities"] < 1e-4
    for png in ("learning_curves.png", "confusion_matrix.png"):
        assert (trained_run / png).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    with open(trained_run / "history.csv") as stream:
        assert len(list(csv.DictReader(stream))) == 2


def test_existing_run_directory_is_refused_without_overwrite(trained_run, small_csv, capsys):
    code = main(["sentiment", "train", "--data", str(small_csv), "--run-dir", str(trained_run)])
    assert code == 2
    assert "run directory already exists" in capsys.readouterr().err


def test_keras_model_round_trip_matches_saved_model(trained_run):
    model = keras.saving.load_model(trained_run / "model.keras")
    texts = ["The soup was cold and bland.", "Great acting, but the plot dragged."]
    probabilities = app.predict_probabilities(model, np.array(texts, dtype=object))
    fresh = call_in_fresh_process(trained_run / "saved_model", np.array(texts))
    np.testing.assert_allclose(fresh["probabilities"], probabilities, atol=1e-5)
    assert [label.decode() if isinstance(label, bytes) else str(label)
            for label in fresh["label"]] == [
        ["negative", "positive"][i] for i in probabilities.argmax(axis=1)
    ]
    np.testing.assert_allclose(fresh["score"], probabilities.max(axis=1), atol=1e-5)


def test_evaluate_reproduces_the_test_metrics(trained_run, capsys):
    assert main(["sentiment", "evaluate", "--run-dir", str(trained_run)]) == 0
    evaluation = json.loads((trained_run / "evaluation-test.json").read_text())
    recorded = json.loads((trained_run / "metrics.json").read_text())["test"]
    assert evaluation["accuracy"] == pytest.approx(recorded["accuracy"])
    assert evaluation["confusion_matrix"] == recorded["confusion_matrix"]
    assert (trained_run / "evaluation-test.png").is_file()
    assert "true \\ predicted" in capsys.readouterr().out


def test_evaluate_on_another_file(trained_run, workspace):
    other = workspace / "other.jsonl"
    other.write_text("\n".join(json.dumps({"text": t, "label": y}) for t, y in [
        ("The waiter was rude.", "negative"), ("Lovely pasta.", "positive")]) + "\n")
    assert main(["sentiment", "evaluate", "--run-dir", str(trained_run), "--data", str(other)]) == 0
    evaluation = json.loads((trained_run / "evaluation-other.json").read_text())
    assert evaluation["examples"] == 2 and evaluation["seen_in_training"] == 0


def test_a_file_of_one_class_can_be_evaluated_and_tested_on(trained_run, workspace, capsys):
    complaints = workspace / "complaints.tsv"
    complaints.write_text("text\tlabel\nThe waiter was rude.\tnegative\n"
                          "Cold soup, slow service.\tnegative\n")
    assert main(["sentiment", "evaluate", "--run-dir", str(trained_run), "--data",
                 str(complaints)]) == 0
    evaluation = json.loads((trained_run / "evaluation-complaints.json").read_text())
    assert evaluation["examples"] == 2 and evaluation["roc_auc"] is None
    unknown = workspace / "unknown.tsv"
    unknown.write_text("text\tlabel\nMeh.\tneutral\n")
    assert main(["sentiment", "evaluate", "--run-dir", str(trained_run), "--data",
                 str(unknown)]) == 2
    assert "labels not seen in training" in capsys.readouterr().err


def test_evaluate_on_the_training_data_says_so(trained_run, small_csv, capsys):
    capsys.readouterr()
    assert main(["sentiment", "evaluate", "--run-dir", str(trained_run), "--data",
                 str(small_csv)]) == 0
    evaluation = json.loads((trained_run / "evaluation-small.json").read_text())
    held_out = len((trained_run / "test.tsv").read_text().splitlines()) - 1  # header
    learnt = evaluation["examples"] - held_out
    assert evaluation["seen_in_training"] == learnt > 300
    assert (f"note: {learnt} of {evaluation['examples']} examples of {small_csv} are also among "
            "the examples the model learnt from") in capsys.readouterr().err


def test_export_to_another_folder_and_predict(trained_run, workspace, capsys):
    destination = workspace / "exported"
    assert main(["sentiment", "export", "--run-dir", str(trained_run),
                 "--output", str(destination)]) == 0
    assert "fresh-process check passed" in capsys.readouterr().out
    assert not [p for p in workspace.iterdir() if p.name.startswith(".exported")]
    inputs = workspace / "inputs.txt"
    inputs.write_text("Terrible support.\n\nWorks perfectly.\n")
    assert main(["sentiment", "predict", "--model", str(destination), "--json",
                 "Not bad at all.", "--input", str(inputs)]) == 0
    rows = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [r["text"] for r in rows] == ["Not bad at all.", "Terrible support.", "",
                                         "Works perfectly."]
    assert all(r["label"] in ("negative", "positive") and 0.5 <= r["score"] <= 1 for r in rows)
    # --output never replaces the --input file, and another existing file only on request.
    assert main(["sentiment", "predict", "--model", str(destination), "--input", str(inputs),
                 "--output", str(inputs)]) == 2
    assert "--output is the --input file" in capsys.readouterr().err
    assert inputs.read_text() == "Terrible support.\n\nWorks perfectly.\n"
    mine = workspace / "mine.csv"
    mine.write_text("my notes\n")
    assert main(["sentiment", "predict", "--model", str(destination), "--output", str(mine),
                 "Fine."]) == 2
    assert "file exists" in capsys.readouterr().err and mine.read_text() == "my notes\n"
    assert main(["sentiment", "predict", "--model", str(destination), "--output", str(mine),
                 "--overwrite", "Fine."]) == 0
    assert mine.read_text() != "my notes\n" and "Fine." in mine.read_text()
    # Nor the model it predicts with, nor a file inside it.
    model_file = trained_run / "model.keras"
    before = model_file.read_bytes()
    for target in (model_file, destination / "saved_model.pb"):
        model = model_file if target == model_file else destination
        assert main(["sentiment", "predict", "--model", str(model), "--output", str(target),
                     "--overwrite", "Fine."]) == 2
        assert "--output is inside the --model it predicts with" in capsys.readouterr().err
    assert model_file.read_bytes() == before
    assert main(["sentiment", "predict", "--model", str(destination), "--output",
                 str(destination / "new.tsv"), "Fine."]) == 2  # re-exporting would delete it
    assert not (destination / "new.tsv").exists()
    # Predictions written into a run directory are the user's: replacing the run keeps them.
    kept = trained_run / "my_predictions.tsv"
    assert main(["sentiment", "predict", "--model", str(destination), "--output", str(kept),
                 "Fine."]) == 0
    assert "my_predictions.tsv" not in io.read_marker(trained_run).entries
    with pytest.raises(UserInputError, match="my_predictions.tsv"):
        io.check_replaceable(trained_run, option="--run-dir", kind="run")
    kept.unlink()
    # A bad line late in the input is refused before anything is printed.
    late = workspace / "late.txt"
    late.write_bytes(b"Fine.\n" * 300 + b"caf\xe9\n")
    capsys.readouterr()
    assert main(["sentiment", "predict", "--model", str(destination), "--input", str(late)]) == 2
    captured = capsys.readouterr()
    assert captured.out == "" and f"{late}:301" in captured.err
    # An export never replaces a training run (its own, say).
    assert main(["sentiment", "export", "--run-dir", str(trained_run),
                 "--output", str(trained_run)]) == 2
    assert "is a training run, not an exported model" in capsys.readouterr().err
    assert model_file.read_bytes() == before and (trained_run / "training.json").is_file()
    # A folder given as --input is named as one.
    assert main(["sentiment", "predict", "--model", str(destination), "--input",
                 str(workspace)]) == 2
    assert "is a folder, expected a file" in capsys.readouterr().err


def test_an_ensemble_trains_exports_and_evaluates_as_one_model(workspace, small_csv):
    run_dir = workspace / "ensemble"
    assert main(["sentiment", "train", "--data", str(small_csv), "--run-dir", str(run_dir),
                 *TINY, "--set", "members=3", "--set", "pooling=mean_max"]) == 0
    model = keras.saving.load_model(run_dir / "model.keras")
    core = model.get_layer("sentiment_core")
    members = [layer for layer in core.layers if layer.name.startswith("member_")]
    assert len(members) == 3
    texts = np.array(["The soup was cold and bland.", "Great acting, but the plot dragged."],
                     dtype=object)
    probabilities = app.predict_probabilities(model, texts)
    ids = model.get_layer("vectorizer")(texts)
    each = np.stack([np.asarray(member(ids)) for member in members])
    assert np.std(each, axis=0).max() > 1e-4  # the members differ ...
    np.testing.assert_allclose(probabilities, each.mean(axis=0), atol=1e-5)  # ... and average
    fresh = call_in_fresh_process(run_dir / "saved_model", texts.astype(str))
    np.testing.assert_allclose(fresh["probabilities"], probabilities, atol=1e-5)
    assert main(["sentiment", "evaluate", "--run-dir", str(run_dir)]) == 0
    evaluation = json.loads((run_dir / "evaluation-test.json").read_text())
    recorded = json.loads((run_dir / "metrics.json").read_text())
    assert evaluation["accuracy"] == pytest.approx(recorded["test"]["accuracy"])
    history = (run_dir / "history.csv").read_text().splitlines()
    assert "val_accuracy" in history[0]


def test_predict_with_a_run_directory_serves_its_export(trained_run, workspace, capsys):
    outputs = {}
    for model in (trained_run, trained_run / "saved_model"):
        assert main(["sentiment", "predict", "--model", str(model), "--json",
                     "Not bad at all.", "Terrible support."]) == 0
        outputs[model] = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert outputs[trained_run] == outputs[trained_run / "saved_model"]
    # Predictions written into the run directory (not into its export) are allowed.
    target = trained_run / "predictions.tsv"
    try:
        assert main(["sentiment", "predict", "--model", str(trained_run), "--output",
                     str(target), "Fine."]) == 0
        assert target.read_text().endswith("\tFine.\n")
    finally:
        target.unlink(missing_ok=True)


def test_a_predict_that_fails_part_way_says_which_inputs_were_printed(trained_run, capsys):
    undecodable = b"caf\xe9".decode("utf-8", "surrogateescape")  # argv of a Latin-1 shell
    assert main(["sentiment", "predict", "--model", str(trained_run), "--batch-size", "1",
                 "Great value.", "Awful.", undecodable]) == 2
    captured = capsys.readouterr()
    assert len(captured.out.splitlines()) == 2
    assert captured.err.strip().endswith(
        "input argument 3: argument is not valid UTF-8; received byte 0xe9; pass UTF-8 text, "
        "or use --input FILE; what was printed before this error is the predictions for the "
        "first 2 inputs only")


def test_predict_without_a_model_is_one_clear_line(workspace, capsys):
    assert main(["sentiment", "predict", "--model", str(workspace / "nope"), "hi"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("rnnt sentiment: error: ") and "no exported model found" in err
    assert "\n" not in err


def test_model_learns_a_learnable_task(workspace):
    rng = np.random.default_rng(0)
    good, bad = ["great", "lovely", "superb", "tasty"], ["awful", "bland", "rude", "broken"]
    nouns = ["soup", "phone", "film", "hotel", "service"]
    texts, labels = [], []
    for _ in range(400):
        positive = rng.random() < 0.5
        word = rng.choice(good if positive else bad)
        texts.append(f"the {rng.choice(nouns)} was {word}")
        labels.append("positive" if positive else "negative")
    config = SentimentConfig(units=16, embedding_dim=16, epochs=8, learning_rate=1e-2)
    model, classes, _ = app.fit_classifier(config, texts[:300], labels[:300], workspace / "learn")
    probabilities = app.predict_probabilities(model, np.array(texts[300:], dtype=object))
    accuracy = (np.array(classes)[probabilities.argmax(1)] == np.array(labels[300:])).mean()
    assert accuracy > 0.9


@pytest.mark.slow
def test_tune_writes_leaderboard_retrains_and_exports(workspace, small_csv):
    # Resuming a search is covered in tests/test_tuning.py; here the app's wiring.
    tuning_dir = workspace / "tuning"
    assert main(["sentiment", "tune", "--data", str(small_csv), "--tuning-dir", str(tuning_dir),
                 "--run-dir", str(workspace / "tuned"), *TINY, "--set", "epochs=1",
                 "--set", "max_trials=2", "--set", "tuning_epochs=1"]) == 0
    board = (workspace / "tuned" / "leaderboard.md").read_text().splitlines()
    assert board[0].startswith("| rank | trial | status | score |") and len(board) == 4
    assert "units" in board[0] and "batch_size" in board[0]
    searches = list(tuning_dir.glob("sentiment-*"))
    assert len(searches) == 1 and (searches[0] / "leaderboard.csv").is_file()
    metrics = json.loads((workspace / "tuned" / "metrics.json").read_text())
    assert metrics["tuning"]["trials"] == 2 and metrics["tuning"]["objective"] == "val_accuracy"
    assert metrics["training"]["hyperparameters"] == metrics["tuning"]["best"]
    # Retrained on train + validation for the best trial's epochs, then tested once.
    assert metrics["tuning"]["refit"] == "train+validation"
    assert metrics["training"]["kept_epoch"] == metrics["tuning"]["refit_epochs"] == 1
    assert "validation" not in metrics and "test" in metrics
    # Nothing is held out while it retrains: no val_* column scores data it learns from.
    header = (workspace / "tuned" / "history.csv").read_text().splitlines()[0].split(",")
    assert "loss" in header and not [name for name in header if name.startswith("val_")]
    assert (workspace / "tuned" / "saved_model" / "saved_model.pb").is_file()


def test_metrics_agree_with_scikit_learn():
    sklearn_metrics = pytest.importorskip("sklearn.metrics")
    rng = np.random.default_rng(1)
    true = rng.integers(0, 2, 200)
    scores = np.clip(true * 0.3 + rng.random(200) * 0.7, 0, 1).round(2)  # ties on purpose
    probabilities = np.stack([1 - scores, scores], axis=1)
    metrics = report.classification_metrics(true, probabilities, ["neg", "pos"])
    assert metrics["roc_auc"] == pytest.approx(sklearn_metrics.roc_auc_score(true, scores))
    predicted = probabilities.argmax(1)
    assert metrics["macro_f1"] == pytest.approx(
        sklearn_metrics.f1_score(true, predicted, average="macro"))
    assert metrics["confusion_matrix"] == sklearn_metrics.confusion_matrix(true, predicted).tolist()
    three = rng.dirichlet(np.ones(3), 100)
    labels3 = rng.integers(0, 3, 100)
    multi = report.classification_metrics(labels3, three, ["a", "b", "c"])
    assert "roc_auc" not in multi
    assert multi["macro_f1"] == pytest.approx(
        sklearn_metrics.f1_score(labels3, three.argmax(1), average="macro"))


# --- the console script itself: exit codes, one-line errors, help --------------------


def _rnnt(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    env = dict(os.environ, CI="1")
    return subprocess.run([sys.executable, "-m", "rnn_templates.cli", *args], cwd=cwd,
                          capture_output=True, text=True, env=env, timeout=300)


@pytest.mark.parametrize(
    "args, message",
    [
        (["--data", "missing.csv"], "missing.csv: data file not found"),
        (["--set", "colour=blue"], "--set: unknown config key 'colour'; expected one of "
                                   "activation, baseline, batch_size,"),
    ],
)
def test_console_script_user_errors_exit_2_with_one_line_and_write_nothing(tmp_path, args, message):
    result = _rnnt("sentiment", "train", "--run-dir", "out", *args, cwd=tmp_path)
    assert result.returncode == 2
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("rnnt sentiment: error: ")
    assert message in lines[0]
    assert "Traceback" not in result.stderr
    assert list(tmp_path.iterdir()) == []  # no run directory, partial or otherwise


@pytest.mark.parametrize(
    "args, message",
    [
        (["--set", "cell=transformer"], "--set cell: `cell` must be one of 'simple', 'lstm', "
                                        "'gru'; received 'transformer'"),
        (["--set", "units=many"], "--set: wrong type for config key 'units'; expected int; "
                                  "received 'many' (str)"),
        (["--set", "test_fraction=0.7"], "--set test_fraction: `test_fraction` must be in "
                                         "[0, 0.5); received 0.7"),
        (["--config", "nope.yaml"], "nope.yaml: config file not found"),
    ],
)
def test_config_errors_exit_2(tmp_path, monkeypatch, capsys, args, message):
    monkeypatch.chdir(tmp_path)
    assert main(["sentiment", "train", "--run-dir", "out", *args]) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1
    assert list(tmp_path.iterdir()) == []


def test_help_for_every_verb(capsys):
    for args in (["sentiment"], *(["sentiment", verb] for verb in
                                  ("train", "tune", "evaluate", "predict", "export"))):
        with pytest.raises(SystemExit) as exited:
            main([*args, "--help"])
        assert exited.value.code == 0
    assert "rnnt sentiment predict" in capsys.readouterr().out
    with pytest.raises(SystemExit):
        main(["sentiment", "train", "--help-config"])
    listing = capsys.readouterr().out
    assert "learning_rate" in listing and "default: 'lstm'" in listing


# The fast tier covers this (and more) in test_sentiment_runs.py's
# test_a_resumed_default_run_ends_like_an_uninterrupted_one.
@pytest.mark.slow
def test_interrupted_run_resumes_from_its_last_epoch(workspace, small_csv, monkeypatch, capsys):
    import rnn_templates.app as app_module

    real_callbacks = app_module.standard_callbacks

    class Interrupt(keras.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            if epoch == 1:
                raise KeyboardInterrupt  # as if Ctrl-C'd after the second epoch

    monkeypatch.setattr(app_module, "standard_callbacks",
                        lambda *a, **k: [*real_callbacks(*a, **k), Interrupt()])
    run_dir = workspace / "resumable"
    args = ["sentiment", "train", "--data", str(small_csv), "--run-dir", str(run_dir), *TINY,
            "--set", "epochs=4", "--set", "patience=10"]
    assert main(args) == 130  # Ctrl-C: one line, no traceback
    partial = Path(f"{run_dir}.partial")
    assert partial.is_dir() and not run_dir.exists()
    *progress, last = capsys.readouterr().err.splitlines()
    assert last == ("rnnt sentiment: interrupted; run the same command again (with --run-dir "
                    f"{run_dir}) to resume from {partial}")
    assert all(line.startswith("word vectors ") for line in progress)  # no traceback

    monkeypatch.setattr(app_module, "standard_callbacks", real_callbacks)
    assert main(args) == 0
    assert "resuming the interrupted run" in capsys.readouterr().err
    assert run_dir.is_dir() and not partial.exists()
    with open(run_dir / "history.csv") as stream:
        epochs = [int(row["epoch"]) for row in csv.DictReader(stream)]
    assert epochs == [0, 1, 2, 3]  # two before the interruption, two after, none repeated


def test_on_jax_training_is_refused_up_front_and_the_export_is_built_under_tensorflow(
        trained_run, workspace, small_csv):
    env = dict(os.environ, CI="1", KERAS_BACKEND="jax", JAX_PLATFORMS="cpu")
    run_dir = workspace / "jax-run"
    for verb in ("train", "tune"):
        result = subprocess.run(
            [sys.executable, "-m", "rnn_templates.cli", "sentiment", verb, "--data",
             str(small_csv), "--run-dir", str(run_dir), *TINY], cwd=workspace,
            capture_output=True, text=True, env=env, timeout=300)
        assert result.returncode == 2, result.stderr[-2000:]
        lines = result.stderr.strip().splitlines()
        assert len(lines) == 1 and f"sentiment {verb} needs the TensorFlow backend" in lines[0]
        assert "KERAS_BACKEND=tensorflow" in lines[0]
        assert not run_dir.exists() and not Path(f"{run_dir}.partial").exists()
    # A SavedModel that takes raw strings cannot be traced in JAX: export builds it in a
    # TensorFlow process, from the same weights, and checks it as usual.
    output = workspace / "export-from-jax"
    result = subprocess.run(
        [sys.executable, "-m", "rnn_templates.cli", "sentiment", "export", "--run-dir",
         str(trained_run), "--output", str(output)], cwd=workspace, capture_output=True,
        text=True, env=env, timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]
    assert "fresh-process check passed" in result.stdout
    texts = np.array(["a wonderful, moving film", "dull and far too long"], dtype=object)
    ours = call_in_fresh_process(output, texts)
    reference = call_in_fresh_process(trained_run / "saved_model", texts)
    np.testing.assert_allclose(ours["probabilities"], reference["probabilities"], atol=1e-5)


def test_a_test_file_made_only_of_training_texts_is_refused_before_training(workspace,
                                                                            small_csv, capsys):
    run_dir = workspace / "all_seen"
    assert main(["sentiment", "train", "--data", str(small_csv), "--test-data", str(small_csv),
                 "--run-dir", str(run_dir), *TINY]) == 2
    err = capsys.readouterr().err.strip().splitlines()[-1]
    assert err.startswith(f"rnnt sentiment: error: {small_csv}: nothing left to test on: every "
                          "text of the test data is also in the training data")
    assert not run_dir.exists()
