"""The shared runner through the sentiment app: runs that are safe to kill, resume,
overwrite and share, and the one-line errors of every verb."""

import csv
import json
import os
import socket
import stat
import subprocess
import sys
from pathlib import Path

import keras
import pytest

import rnn_templates.app as runner_module
from rnn_templates.cli import main
from tests.apps.resuming import assert_same_training, interrupt_then_resume

REPO = Path(__file__).resolve().parents[2]
TINY = ["--set", "epochs=2", "--set", "units=8", "--set", "embedding_dim=8",
        "--set", "max_tokens=2000", "--set", "patience=2"]


@pytest.fixture(scope="module")
def workspace(tmp_path_factory):
    return tmp_path_factory.mktemp("runs")


def _slice(path: Path, start: int, rows: int) -> Path:
    with open(REPO / "data/sentiment/reviews.tsv", encoding="utf-8") as stream:
        reader = list(csv.DictReader(stream, delimiter="\t"))
    with open(path, "w", encoding="utf-8", newline="") as stream:
        writer = csv.writer(stream)
        writer.writerow(["text", "label"])
        writer.writerows([row["text"], row["label"]] for row in reader[start:start + rows])
    return path


@pytest.fixture(scope="module")
def small_csv(workspace):
    return _slice(workspace / "small.csv", 0, 300)


@pytest.fixture(scope="module")
def run(workspace, small_csv):
    run_dir = workspace / "run"
    assert main(["sentiment", "train", "--data", str(small_csv), "--run-dir", str(run_dir),
                 *TINY]) == 0
    return run_dir


def _epochs(run_dir: Path) -> list[int]:
    with open(run_dir / "history.csv", encoding="utf-8") as stream:
        return [int(row["epoch"]) for row in csv.DictReader(stream)]


def _one_error_line(capsys) -> str:
    err = capsys.readouterr().err
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1, err
    assert "Traceback" not in err
    return lines[0]


# --- 1. replace only what this project wrote -----------------------------------------


def test_export_refuses_a_folder_holding_other_files_and_deletes_nothing(run, workspace, capsys):
    mine = workspace / "my_folder"
    mine.mkdir()
    (mine / "notes.txt").write_text("mine", encoding="utf-8")
    assert main(["sentiment", "export", "--run-dir", str(run), "--output", str(mine)]) == 2
    assert "destination folder holds files this tool did not write" in _one_error_line(capsys)
    assert (mine / "notes.txt").read_text(encoding="utf-8") == "mine"
    assert sorted(p.name for p in mine.iterdir()) == ["notes.txt"]


def test_train_overwrite_refuses_a_folder_of_runs(run, small_csv, capsys):
    # `--run-dir runs/sentiment --overwrite` once deleted every sibling run.
    parent = run.parent
    before = sorted(p.name for p in parent.iterdir())
    assert main(["sentiment", "train", "--data", str(small_csv), "--run-dir", str(parent),
                 "--overwrite", *TINY]) == 2
    assert "holds files this tool did not write" in _one_error_line(capsys)
    assert sorted(p.name for p in parent.iterdir()) == before


# --- 2, 3. nothing trained is lost; resume is faithful ----------------------------------


@pytest.mark.slow
def test_a_failure_after_training_keeps_the_run_and_a_rerun_does_not_retrain(
        workspace, small_csv, monkeypatch, capsys):
    run_dir = workspace / "export-fails"
    args = ["sentiment", "train", "--data", str(small_csv), "--run-dir", str(run_dir), *TINY]

    def broken_export(*args, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(runner_module, "export_saved_model", broken_export)
    assert main(args) == 2
    partial = Path(f"{run_dir}.partial")
    assert (partial / "model.keras").is_file() and _epochs(partial) == [0, 1]
    err = capsys.readouterr().err.splitlines()
    assert err[-2:] == [f"the trained work is kept in {partial}; run the same command again "
                        f"(with --run-dir {run_dir}) to resume from its last finished epoch",
                        "rnnt sentiment: error: output: cannot write (No space left on "
                        "device); choose a writable location with free space"]
    assert all(line.startswith("word vectors ") for line in err[:-2])  # progress only

    # A rerun with other settings is refused, naming the key, and deletes nothing.
    assert main([*args, "--set", "units=16"]) == 2
    line = _one_error_line(capsys)
    assert "started with other settings; expected its settings to resume (units=8); " \
           "received units=16" in line
    assert (partial / "model.keras").is_file()

    monkeypatch.undo()
    fits = []
    real_fit = keras.Model.fit
    monkeypatch.setattr(keras.Model, "fit", lambda *a, **k: fits.append(1) or real_fit(*a, **k))
    assert main(args) == 0
    assert fits == []  # the trained model was reused, not retrained
    assert _epochs(run_dir) == [0, 1] and not partial.exists()
    metrics = json.loads((run_dir / "metrics.json").read_text(encoding="utf-8"))
    assert metrics["training"]["epochs_run"] == 2
    assert not list(run_dir.glob(".saved_model*"))  # no orphaned temporary export


def test_a_resumed_default_run_ends_like_an_uninterrupted_one(workspace, small_csv, monkeypatch):
    args = ["--data", str(small_csv), *TINY, "--set", "epochs=8", "--set", "patience=2",
            "--set", "learning_rate=0.02"]
    whole = workspace / "whole"
    assert main(["sentiment", "train", "--run-dir", str(whole), *args]) == 0

    resumed = workspace / "resumed"
    interrupt_then_resume(monkeypatch, ["sentiment", "train", *args], resumed)

    def facts(run_dir):
        return json.loads((run_dir / "metrics.json").read_text(encoding="utf-8"))["training"]

    assert _epochs(resumed) == _epochs(whole)
    assert facts(resumed)["epochs_run"] == facts(whole)["epochs_run"] == len(_epochs(whole))
    assert facts(resumed)["kept_epoch"] == facts(whole)["kept_epoch"]
    assert_same_training(whole, resumed)


def test_an_interrupted_run_is_not_resumed_on_other_data(workspace, monkeypatch, capsys):
    data = _slice(workspace / "changing.csv", 0, 300)
    original = data.read_bytes()
    run_dir = workspace / "changing"
    args = ["sentiment", "train", "--data", str(data), "--run-dir", str(run_dir), *TINY,
            "--set", "epochs=3"]
    real_callbacks = runner_module.standard_callbacks

    class Interrupt(keras.callbacks.Callback):
        def on_epoch_begin(self, number, logs=None):
            if number == 1:
                raise KeyboardInterrupt

    monkeypatch.setattr(runner_module, "standard_callbacks",
                        lambda *a, **k: [*real_callbacks(*a, **k), Interrupt()])
    assert main(args) == 130
    monkeypatch.setattr(runner_module, "standard_callbacks", real_callbacks)
    _slice(data, 0, 360)  # rows added while the run was stopped
    capsys.readouterr()
    assert main(args) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err[-1].startswith(f"rnnt sentiment: error: {run_dir}.partial: the data changed since "
                              "this interrupted run started")
    assert not any("Traceback" in line for line in err)
    data.write_bytes(original)  # the data it started with: the run resumes and finishes
    assert main(args) == 0 and _epochs(run_dir) == [0, 1, 2]


# --- 5. a search is tied to its data ------------------------------------------------


@pytest.mark.slow
def test_tuning_other_data_starts_another_search(workspace, small_csv, capsys, monkeypatch):
    from apps.sentiment.app import SentimentApp
    from apps.sentiment.data import read_labelled_table
    from rnn_templates.config import load_config

    runner = runner_module.Runner(SentimentApp())
    config = load_config(SentimentApp.config_class, None, [
        "units=8", "embedding_dim=8", "max_tokens=2000", "max_trials=1", "tuning_epochs=1"])
    tuning_dir = workspace / "tuning"
    first = read_labelled_table(small_csv, "csv", "text", "label")
    other = read_labelled_table(_slice(workspace / "other.csv", 300, 300), "csv", "text", "label")
    for data in (first, other):
        _, rows = runner.search(config, data.texts, data.labels, tuning_dir)
        assert len(rows) == 1  # a new search runs its trial, not 0 trials from the old one
    assert capsys.readouterr().err.count("(new)") == 2
    assert len(list(tuning_dir.glob("sentiment-*"))) == 2
    # The same data and settings resume their search (its one trial is done already),
    # however the data file's path is spelt; its search.yaml names it in full for workers.
    import dataclasses

    import yaml

    named = dataclasses.replace(config, data="reviews/other.csv")
    _, rows = runner.search(named, other.texts, other.labels, tuning_dir)
    assert len(rows) == 1 and "(resumed)" in capsys.readouterr().err
    # A knob no trial depends on (the report's baseline) reuses the search too.
    _, rows = runner.search(dataclasses.replace(named, baseline=False), other.texts,
                            other.labels, tuning_dir)
    assert len(rows) == 1 and "(resumed)" in capsys.readouterr().err
    assert len(list(tuning_dir.glob("sentiment-*"))) == 2
    stored = [yaml.safe_load(p.read_text()) for p in tuning_dir.glob("sentiment-*/search.yaml")]
    assert os.path.abspath("reviews/other.csv") in [entry["data"] for entry in stored]
    # The shipped sample, found in the project from another folder: named where it is.
    monkeypatch.chdir(workspace)
    shipped = dataclasses.replace(config, data="data/sentiment/reviews.tsv")
    runner.search(shipped, other.texts, other.labels, tuning_dir)
    stored = [yaml.safe_load(p.read_text()) for p in tuning_dir.glob("sentiment-*/search.yaml")]
    assert str(REPO / "data/sentiment/reviews.tsv") in [entry["data"] for entry in stored]
    monkeypatch.undo()
    capsys.readouterr()
    # A search another command is running (it holds its lock) is refused, --restart too.
    import re

    from rnn_templates.errors import UserInputError
    from rnn_templates.runs import DirectoryLock

    runner.search(config, first.texts, first.labels, tuning_dir)
    project = Path(re.search(r"search (\S+) \(resumed\)", capsys.readouterr().err).group(1))
    assert not (tuning_dir / ".locks" / project.name / ".lock").exists()  # released
    held = DirectoryLock(tuning_dir / ".locks" / project.name)
    held.acquire()
    try:
        for restart in (False, True):
            with pytest.raises(UserInputError, match="search is in use"):
                runner.search(config, first.texts, first.labels, tuning_dir, restart=restart)
    finally:
        held.release()
    assert (project / "oracle.json").is_file()  # not wiped by the refused --restart


def test_a_tune_killed_while_retraining_is_not_resumed_on_other_data(workspace, monkeypatch,
                                                                     capsys):
    data = _slice(workspace / "tuned.csv", 0, 300)
    run_dir = workspace / "tuned_run"
    args = ["sentiment", "tune", "--data", str(data), "--run-dir", str(run_dir),
            "--tuning-dir", str(workspace / "tuned_search"), *TINY, "--max-trials", "1",
            "--set", "tuning_epochs=1"]

    def killed_retrain(self, config, prepared, work, *rest, **kwargs):
        (work / "history.csv").write_text("epoch,loss\n0,0.7\n", encoding="utf-8")
        raise KeyboardInterrupt

    monkeypatch.setattr(runner_module.Runner, "_train_in", killed_retrain)
    assert main(args) == 130
    monkeypatch.undo()
    _slice(data, 0, 340)  # rows added while it was stopped
    searched = []
    real_search = runner_module.Runner._search
    monkeypatch.setattr(runner_module.Runner, "_search",
                        lambda *a, **k: searched.append(1) or real_search(*a, **k))
    capsys.readouterr()
    assert main(args) == 2
    assert searched == []  # refused before any trial of a new search
    assert "the data changed since this interrupted run started" in capsys.readouterr().err


# --- 6, 7. one serve function; the model does not depend on the report ------------------


def test_no_check_export_serves_like_the_checked_one_without_the_report(run, workspace, capsys):
    (run / "metrics.json").rename(run / "metrics.moved")
    try:
        destination = workspace / "unchecked"
        assert main(["sentiment", "export", "--run-dir", str(run), "--output",
                     str(destination), "--no-check"]) == 0
        capsys.readouterr()
        outputs = []
        for model in (destination, run / "saved_model", run / "model.keras"):
            assert main(["sentiment", "predict", "--model", str(model), "--json",
                         "Terrible support.", "Works perfectly."]) == 0
            outputs.append([json.loads(line) for line in capsys.readouterr().out.splitlines()])
        assert [r["label"] for r in outputs[0]] == [r["label"] for r in outputs[1]] == \
            [r["label"] for r in outputs[2]]
        for rows in outputs[1:]:
            for a, b in zip(outputs[0], rows, strict=True):
                assert a["score"] == pytest.approx(b["score"], abs=1e-5)
        assert json.loads((run / "artifacts.json").read_text())["class_names"] == \
            ["negative", "positive"]
        assert main(["sentiment", "evaluate", "--run-dir", str(run)]) == 0
    finally:
        (run / "metrics.moved").rename(run / "metrics.json")


def test_export_and_config_have_normal_permissions(run):
    umask = os.umask(0)
    os.umask(umask)
    for path in (run / "saved_model", run / "saved_model" / "variables"):
        assert stat.S_IMODE(path.stat().st_mode) == 0o777 & ~umask
    for path in (run / "config.yaml", run / "model.keras", run / "metrics.json"):
        assert stat.S_IMODE(path.stat().st_mode) == 0o666 & ~umask


# --- 9. configured values are used exactly ------------------------------------------


def test_a_configured_dropout_is_used_exactly(small_csv, workspace):
    from apps.sentiment.app import SentimentApp
    from rnn_templates.config import load_config

    app = SentimentApp()
    config = load_config(app.config_class, None, ["dropout=0.25", "head_dropout=0.35",
                                                  "units=8", "embedding_dim=8",
                                                  f"data={small_csv}"])
    prepared = app.prepare(config, app.load_data(config))
    import keras_tuner

    model = app.hypermodel(config, prepared).build(keras_tuner.HyperParameters())
    assert model.get_layer("rnn_1").forward_layer.dropout == pytest.approx(0.25)
    assert model.get_layer("output_head_dropout").rate == pytest.approx(0.35)


# --- 10. one line, exit 2, no traceback ---------------------------------------------------


def test_corrupt_models_are_one_clear_line(run, workspace, capsys):
    broken = workspace / "broken_run"
    broken.mkdir()
    (broken / "model.keras").write_bytes((run / "model.keras").read_bytes()[:500])
    (broken / "artifacts.json").write_text((run / "artifacts.json").read_text())
    assert main(["sentiment", "predict", "--model", str(broken / "model.keras"), "hi"]) == 2
    assert "cannot load the model file (corrupt, truncated or not a .keras file)" in \
        _one_error_line(capsys)
    assert main(["sentiment", "evaluate", "--run-dir", str(broken)]) == 2
    assert "cannot load the model file" in _one_error_line(capsys)

    saved = workspace / "broken_saved_model"
    saved.mkdir()
    (saved / "saved_model.pb").write_bytes(b"\x00not a protobuf")
    assert main(["sentiment", "predict", "--model", str(saved), "hi"]) == 2
    assert "cannot load the SavedModel (corrupt or incomplete)" in _one_error_line(capsys)


def test_a_read_only_output_folder_is_one_clear_line(run, workspace, monkeypatch, capsys):
    locked = workspace / "read_only"
    locked.mkdir()
    if os.geteuid() == 0:  # root writes anywhere: make the folder refuse as it would a user
        import errno

        real_mkdir = Path.mkdir

        def refusing_mkdir(self, *args, **kwargs):
            if self.parent == locked:
                raise PermissionError(errno.EACCES, "Permission denied", str(self))
            return real_mkdir(self, *args, **kwargs)

        monkeypatch.setattr(Path, "mkdir", refusing_mkdir)
    locked.chmod(0o555)
    try:
        assert main(["sentiment", "export", "--run-dir", str(run), "--output",
                     str(locked / "model")]) == 2
        line = _one_error_line(capsys)
        assert line.startswith("rnnt sentiment: error: ") and str(locked) in line
        assert "cannot write (Permission denied); choose a writable location" in line
    finally:
        locked.chmod(0o755)
    assert list(locked.iterdir()) == []


def test_output_naming_a_file_is_one_clear_line(run, workspace, capsys):
    target = workspace / "file.txt"
    target.write_text("keep", encoding="utf-8")
    assert main(["sentiment", "export", "--run-dir", str(run), "--output", str(target)]) == 2
    assert f"{target}: destination is a file, not a folder" in _one_error_line(capsys)
    assert target.read_text(encoding="utf-8") == "keep"


def test_ctrl_c_is_one_line_and_exit_130(run, monkeypatch, capsys):
    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(runner_module.Runner, "evaluate", interrupted)
    assert main(["sentiment", "evaluate", "--run-dir", str(run)]) == 130
    assert _one_error_line(capsys) == "rnnt sentiment: interrupted"


@pytest.mark.parametrize("args, message", [
    (["--set", "units=16"], "--set: config key 'units' does not apply to evaluate; expected only "
                            "keys that say how to read --data: format, header, text_column, "
                            "label_column, duplicates"),
    (["--set", "colour=red"], "--set: unknown config key 'colour'"),
    (["--set", "text_column=review"], "--set: --set needs --data with evaluate"),
])
def test_evaluate_refuses_keys_it_does_not_use(run, capsys, args, message):
    assert main(["sentiment", "evaluate", "--run-dir", str(run), *args]) == 2
    assert message in _one_error_line(capsys)


def test_evaluate_reads_another_file_with_its_own_columns(run, workspace):
    other = workspace / "other.tsv"
    other.write_text("review\tstars\nThe waiter was rude.\tnegative\nLovely pasta.\tpositive\n",
                     encoding="utf-8")
    assert main(["sentiment", "evaluate", "--run-dir", str(run), "--data", str(other),
                 "--set", "text_column=review", "--set", "label_column=stars"]) == 0
    assert json.loads((run / "evaluation-other.json").read_text())["examples"] == 2


# --- 11. predict streams its input --------------------------------------------------------


def test_predict_streams_the_input_in_batches_in_order(run, workspace, monkeypatch, capsys):
    lines = [f"review number {i}: {'great' if i % 2 else 'awful'}" for i in range(10)]
    source = workspace / "many.txt"
    source.write_text("\n".join(lines) + "\n", encoding="utf-8")
    from apps.sentiment.app import SentimentApp

    sizes = []
    real_rows = SentimentApp.prediction_rows

    def recording(self, outputs, items, parsed):
        sizes.append(len(items))
        return real_rows(self, outputs, items, parsed)

    monkeypatch.setattr(SentimentApp, "prediction_rows", recording)
    assert main(["sentiment", "predict", "--model", str(run / "saved_model"), "--input",
                 str(source), "--batch-size", "3", "--json"]) == 0
    rows = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [r["text"] for r in rows] == lines
    assert sizes == [3, 3, 3, 1]


# --- 12. the shipped data and make from anywhere ------------------------------------------


def test_the_default_data_is_found_from_another_directory(tmp_path, monkeypatch):
    from apps.sentiment import data as data_io
    from apps.sentiment.config import SentimentConfig

    monkeypatch.chdir(tmp_path)
    assert len(data_io.load(SentimentConfig())) >= 2000


def test_make_predict_passes_input_literally():
    text = 'it\'s "quoted" $HOME `date` \\n'
    result = subprocess.run(["make", "-n", "-s", "predict-sentiment", f"INPUT={text}"], cwd=REPO,
                            capture_output=True, text=True, check=True,
                            env=dict(os.environ, MAKEFLAGS=""))
    command = result.stdout.replace("\\\n", " ")
    assert "'it'\\''s \"quoted\" $HOME `date` \\n'" in command


# --- 8. distributed tuning -------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.mark.slow
def test_a_chief_and_a_worker_finish_a_search_together(workspace, small_csv):
    port = str(_free_port())
    tuning_dir, run_dir = workspace / "shared-tuning", workspace / "distributed"
    command = [sys.executable, "-m", "rnn_templates.cli", "sentiment", "tune", "--data",
               str(small_csv), "--tuning-dir", str(tuning_dir), "--run-dir", str(run_dir),
               *TINY, "--set", "epochs=1", "--set", "max_trials=2", "--set", "tuning_epochs=1"]
    base = dict(os.environ, CI="1", KERASTUNER_ORACLE_IP="127.0.0.1",
                KERASTUNER_ORACLE_PORT=port)
    chief = subprocess.Popen(command, env=dict(base, KERASTUNER_TUNER_ID="chief"), cwd=REPO,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    worker = subprocess.Popen(command, env=dict(base, KERASTUNER_TUNER_ID="tuner0"), cwd=REPO,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        worker_out, worker_err = worker.communicate(timeout=400)
        chief_out, chief_err = chief.communicate(timeout=200)
    finally:
        for process in (chief, worker):
            process.kill()
    print("chief:", chief_out, chief_err[-2000:], "worker:", worker_out, worker_err[-2000:],
          sep="\n")
    assert worker.returncode == 0, worker_err[-2000:]
    assert chief.returncode == 0, chief_err[-2000:]
    assert "worker tuner0: trials finished" in worker_out
    assert "leaderboard:" in chief_out
    metrics = json.loads((run_dir / "metrics.json").read_text(encoding="utf-8"))
    assert metrics["tuning"]["trials"] == 2
    assert (run_dir / "saved_model" / "saved_model.pb").is_file()
    board = (run_dir / "leaderboard.md").read_text(encoding="utf-8").splitlines()
    print("\n".join(board))
    assert len(board) == 4  # header, rule, two trials
    assert "joining as tuner0" in worker_err
