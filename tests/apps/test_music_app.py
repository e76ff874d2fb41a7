"""Music end to end on a slice of the shipped pieces: train, evaluate, export, predict."""

from __future__ import annotations

import contextlib
import io
import json
import shutil
from pathlib import Path

import mido
import numpy as np
import pytest

from apps.music.app import MusicApp
from rnn_templates.cli import main
from rnn_templates.export import call_in_fresh_process

REPO = Path(__file__).resolve().parents[2]
TINY = ["--set", "epochs=2", "--set", "units=16", "--set", "num_layers=1", "--set", "window=8",
        "--set", "stride=4", "--set", "embedding_dim=8", "--set", "validation_fraction=0.2",
        "--set", "test_fraction=0.2"]


@pytest.fixture(scope="module")
def workspace(tmp_path_factory):
    return tmp_path_factory.mktemp("music")


@pytest.fixture(scope="module")
def pieces(workspace):
    folder = workspace / "pieces"
    folder.mkdir()
    for path in sorted((REPO / "data/music/chorales").glob("*.csv"))[:15]:
        shutil.copy(path, folder / path.name)
    (folder / "broken.mid").write_bytes(b"MThd nonsense")
    return folder


@pytest.fixture(scope="module")
def trained_run(workspace, pieces):
    run_dir = workspace / "run"
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        assert main(["music", "train", "--data", str(pieces), "--run-dir", str(run_dir),
                     *TINY]) == 0
    for name, text in (("stdout", out), ("stderr", err)):
        (workspace / f"train-{name}.txt").write_text(text.getvalue(), encoding="utf-8")
    return run_dir


def test_train_reports_notes_beside_the_baseline_and_skips_the_broken_file(trained_run,
                                                                            workspace):
    err = (workspace / "train-stderr.txt").read_text(encoding="utf-8")
    assert "skipped 1 unreadable files:" in err and "broken.mid" in err
    assert f"read 15 pieces from {workspace / 'pieces'}" in (
        workspace / "train-stdout.txt").read_text(encoding="utf-8")
    names = {p.name for p in trained_run.iterdir()}
    assert {"metrics.json", "model.keras", "saved_model", "test_windows.npz",
            "learning_curves.png", "generated_vs_held_out.png", "baselines.joblib"} <= names
    metrics = json.loads((trained_run / "metrics.json").read_text())
    test = metrics["test"]
    assert 0 <= test["accuracy"] <= 1 and test["nll_per_note"] > 0
    assert test["nll_per_step"] == pytest.approx(4 * test["nll_per_note"], rel=1e-6)
    baseline = test["baselines"]["repeat last note"]
    assert baseline["accuracy"] > 0.5  # held notes: a strong baseline on chorales
    generated = test["generated"]
    assert generated["pieces"] >= 1 and 0 <= generated["pitch_class_distance"] <= 1
    assert metrics["export"]["notes"] == 0  # the fresh-process check matched exactly


def test_evaluate_matches_the_training_report(trained_run, capsys):
    assert main(["music", "evaluate", "--run-dir", str(trained_run)]) == 0
    evaluation = json.loads((trained_run / "evaluation-test.json").read_text())
    metrics = json.loads((trained_run / "metrics.json").read_text())
    assert evaluation["accuracy"] == pytest.approx(metrics["test"]["accuracy"], abs=1e-6)
    assert evaluation["baselines"]["repeat last note"]["accuracy"] == pytest.approx(
        metrics["test"]["baselines"]["repeat last note"]["accuracy"], abs=1e-6)


def test_the_exported_generator_runs_alone_and_agrees(trained_run):
    app = MusicApp()
    app.use_artifacts(json.loads((trained_run / "artifacts.json").read_text()))
    app.use_options({"steps": 6, "temperature": 1.0, "seed": 5})
    seeds = [app.parse_input("72 67 64 48; 74 67 62 43"), app.parse_input("")]
    batch = [np.asarray(t) for t in app.to_batch(seeds)]
    fresh = call_in_fresh_process(trained_run / "saved_model", batch)
    assert fresh["notes"].shape == (2, 6, 4)
    assert set(np.unique(fresh["notes"])) <= {0, *range(30, 90)}
    from rnn_templates.app import load_keras_model

    serve = app.serve(load_keras_model(trained_run / "model.keras"), app.artifacts)
    np.testing.assert_array_equal(serve(*batch)["notes"].numpy(), fresh["notes"])
    # A piece depends on its seed and its number, not on the batch it came in.
    alone = [np.asarray(t) for t in app.to_batch(seeds[:1])]
    np.testing.assert_array_equal(serve(*alone)["notes"].numpy()[0], fresh["notes"][0])
    second = [np.asarray(t) for t in app.to_batch(seeds[1:], first=1)]
    np.testing.assert_array_equal(serve(*second)["notes"].numpy()[0], fresh["notes"][1])
    renumbered = [np.asarray(t) for t in app.to_batch(seeds[1:], first=2)]
    assert not np.array_equal(serve(*renumbered)["notes"].numpy()[0], fresh["notes"][1])
    other = app.to_batch(seeds)
    other[-1] = np.int32(6)
    assert not np.array_equal(serve(*other)["notes"].numpy(), fresh["notes"])


def test_the_exported_generator_refuses_a_bad_request(trained_run):
    # A serving client bypasses predict's checks: the signature makes the same ones.
    import tensorflow as tf

    from rnn_templates.export import SERVING_ENDPOINT

    app = MusicApp()
    app.use_artifacts(json.loads((trained_run / "artifacts.json").read_text()))
    app.use_options({"steps": 4, "temperature": 1.0, "seed": 5})
    good = [tf.constant(t) for t in app.to_batch([app.parse_input("72 67 64 48")])]
    signature = tf.saved_model.load(str(trained_run / "saved_model")).signatures[
        SERVING_ENDPOINT]
    names = ["notes", "seed_chords", "steps", "temperature", "top_k", "top_p", "seed",
             "first_row"]
    assert signature(**dict(zip(names, good, strict=True)))["notes"].shape == (1, 4, 4)
    notes = good[0].numpy()
    nan, high, wide = notes.copy(), notes.copy(), np.concatenate([notes, notes], axis=2)
    nan[0, 0, 0], high[0, 0, 0] = np.nan, 200
    bad = {"notes": [(nan, "finite notes"), (high, "MIDI pitches 0 \\(rest\\) to 127"),
                     (wide, "at most 4 voices")],
           "seed_chords": [(np.array([5], np.int32), "seed lengths <= the number of chords"),
                           (np.array([-1], np.int32), "seed lengths >= 0")],
           "steps": [(np.int32(0), "steps from 1 to 100000")],
           "temperature": [(np.float32(-1), "temperature from 0 to 100"),
                           (np.float32(np.nan), "temperature from 0 to 100")],
           "top_k": [(np.int32(-2), "top_k >= 0")],
           "top_p": [(np.float32(0), "top_p in \\(0, 1\\]"),
                     (np.float32(1.5), "top_p in \\(0, 1\\]")]}
    for name, cases in bad.items():
        for value, message in cases:
            request = dict(zip(names, good, strict=True))
            request[name] = tf.constant(value)
            with pytest.raises(tf.errors.InvalidArgumentError, match=message):
                signature(**request)
    for rows, chords, message in ((1, 0, "at least one chord per row"),
                                  (0, 1, "at least one row of notes")):
        request = dict(zip(names, good, strict=True))
        request["notes"] = tf.zeros((rows, chords, 4), tf.float32)
        request["seed_chords"] = tf.zeros((rows,), tf.int32)
        with pytest.raises(tf.errors.InvalidArgumentError, match=message):
            signature(**request)


def test_predict_writes_midi_and_piano_rolls(trained_run, workspace, capsys):
    out = workspace / "generated"
    seed_file = sorted((REPO / "data/music/chorales").glob("*.csv"))[-1]
    code = main(["music", "predict", "--model", str(trained_run / "saved_model"), "",
                 "72 67 64 48", str(seed_file), "--steps", "8", "--seed", "1",
                 "--output-dir", str(out)])
    assert code == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert len(lines) == 3 and lines[0].startswith(str(out / "piece-001.mid"))
    assert sorted(p.name for p in out.iterdir()) == [
        "piece-001.mid", "piece-001.png", "piece-002.mid", "piece-002.png", "piece-003.mid",
        "piece-003.png"]
    second = mido.MidiFile(out / "piece-002.mid")
    assert len([t for t in second.tracks if any(m.type == "note_on" for m in t)]) >= 1
    # The seed comes first: the written piece is seed + 8 new time steps.
    assert "9 steps" in lines[1]
    # A file of the user's with the next number (any extension) is never replaced.
    (out / "piece-004.png").write_text("mine")
    assert main(["music", "predict", "--model", str(trained_run / "saved_model"), "72",
                 "--steps", "2", "--output-dir", str(out)]) == 0
    assert (out / "piece-004.png").read_text() == "mine" and (out / "piece-005.mid").is_file()


def test_a_piano_roll_draws_each_voice_at_once_and_never_goes_missing(trained_run, workspace,
                                                                     monkeypatch, capsys):
    import rnn_templates.io as project_io
    import rnn_templates.notes as notes

    drawn = []
    monkeypatch.setattr(project_io, "save_figure", lambda figure, path: drawn.append(figure))
    grid = np.repeat(np.random.default_rng(0).integers(40, 80, size=(5000, 4)), 2, axis=0)
    notes.plot_piano_roll(grid, 4, workspace / "roll.png", "long")
    axes = drawn[0].axes[0]
    assert len(axes.collections) == 4 and not axes.patches  # one collection per voice
    assert sum(len(c.get_paths()) for c in axes.collections) == sum(
        len(notes.note_runs(grid[:, v])[0]) for v in range(4))
    monkeypatch.undo()

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(notes, "plot_piano_roll", interrupted)
    out = workspace / "interrupted"
    assert main(["music", "predict", "--model", str(trained_run / "saved_model"), "72",
                 "--steps", "2", "--output-dir", str(out)]) == 130
    assert not list(out.glob("piece-*"))  # no MIDI file without its piano roll


def test_evaluate_on_other_pieces_says_what_it_changed_or_cannot_use(trained_run, workspace,
                                                                    capsys):
    folder = workspace / "other_pieces"
    folder.mkdir()
    header = open(sorted((REPO / "data/music/chorales").glob("*.csv"))[0]).readline()
    (folder / "short.csv").write_text(header + "72,67,64,48\n" * 4)
    assert main(["music", "evaluate", "--run-dir", str(trained_run), "--data",
                 str(folder)]) == 2
    err = capsys.readouterr().err.strip().splitlines()[-1]
    assert ("nothing to evaluate: every piece is shorter than the model's window + 1 = 9 time "
            "steps; received 1 piece(s), the longest 4 time steps") in err
    high = "".join(f"{96 + i % 4},67,64,48\n" for i in range(40))
    (folder / "short.csv").write_text(header + high)
    assert main(["music", "evaluate", "--run-dir", str(trained_run), "--data",
                 str(folder)]) == 0
    artifacts = json.loads((trained_run / "artifacts.json").read_text())
    assert (f"40 notes outside the training range {artifacts['low']}-{artifacts['high']} read an "
            "octave or more inside it") in capsys.readouterr().err


def test_predict_prints_notes_without_an_output_folder(trained_run, capsys):
    assert main(["music", "predict", "--model", str(trained_run / "saved_model"), "72 67 64 48",
                 "--steps", "3", "--temperature", "0"]) == 0
    notes = capsys.readouterr().out.split("\t")[0].split(";")
    assert len(notes) == 4 and notes[0].split() == ["72", "67", "64", "48"]


def test_the_batch_size_never_changes_the_music(trained_run, capsys):
    def pieces(batch_size):
        assert main(["music", "predict", "--model", str(trained_run / "saved_model"), "", "",
                     "72 67 64 48", "", "--steps", "4", "--seed", "3",
                     "--batch-size", str(batch_size)]) == 0
        return [line.split("\t")[0] for line in capsys.readouterr().out.splitlines()]

    whole = pieces(4)
    assert pieces(1) == whole and pieces(3) == whole
    # Pieces without a seed each draw their own numbers, whichever batch they are in.
    assert len({whole[0], whole[1], whole[3]}) == 3


def test_split_folders_without_training_or_validation_pieces_are_one_line(workspace, capsys):
    folder = workspace / "only-test"
    (folder / "test").mkdir(parents=True)
    shutil.copy(REPO / "data/music/chorales/piece_000.csv", folder / "test" / "a.csv")
    code = main(["music", "train", "--data", str(folder), "--run-dir",
                 str(workspace / "never"), *TINY])
    err = capsys.readouterr().err
    assert code == 2 and "the data has split folders but no train pieces" in err
    assert "Traceback" not in err and not (workspace / "never").exists()


def test_a_seed_file_without_notes_is_refused(trained_run, workspace, capsys):
    empty = workspace / "empty.csv"
    empty.write_text("soprano,alto,tenor,bass\n0,0,0,0\n")
    code = main(["music", "predict", "--model", str(trained_run / "saved_model"), str(empty)])
    assert code == 2 and "the seed file has no notes" in capsys.readouterr().err
    import pretty_midi

    music = pretty_midi.PrettyMIDI()
    piano = pretty_midi.Instrument(0)
    piano.notes += [pretty_midi.Note(80, 0, k * 0.5, k * 0.5 + 0.5) for k in range(8)]
    music.instruments.append(piano)
    music.write(str(workspace / "keyswitches.mid"))
    code = main(["music", "predict", "--model", str(trained_run / "saved_model"),
                 str(workspace / "keyswitches.mid")])
    err = capsys.readouterr().err  # why there are none: the reading's notes
    assert code == 2 and "the seed file has no notes" in err
    assert "received 8 notes of pitch 0 left out" in err


def test_a_window_longer_than_the_pieces_names_the_window(workspace, pieces, capsys):
    settings = [s if not s.startswith("window=") else "window=5000" for s in TINY]
    code = main(["music", "train", "--data", str(pieces), "--run-dir", str(workspace / "never"),
                 *settings])
    err = capsys.readouterr().err
    assert code == 2 and "shorter than window + 1 = 5001 time steps" in err
    assert "lower --set window to at most" in err and "validation_fraction" not in err
    assert not (workspace / "never").exists()


def test_a_seed_csv_with_fewer_voices_leaves_the_lowest_silent(trained_run, workspace, capsys):
    three = workspace / "three.csv"
    three.write_text("72,67,64\n74,67,62\n")
    assert main(["music", "predict", "--model", str(trained_run / "saved_model"), str(three),
                 "--steps", "2", "--temperature", "0"]) == 0
    chords = capsys.readouterr().out.split("\t")[0].split(";")
    assert [c.split() for c in chords[:2]] == [["72", "67", "64", "0"], ["74", "67", "62", "0"]]
    five = workspace / "five.csv"
    five.write_text("72,67,64,48,36\n")
    code = main(["music", "predict", "--model", str(trained_run / "saved_model"), str(five)])
    err = capsys.readouterr().err
    assert code == 2 and "5 columns, but the model has 4 voices" in err and "--set" not in err


@pytest.mark.parametrize("argument, message", [
    (["--steps", "0"], "--steps out of range"),
    (["--top-p", "0"], "--top-p must be in (0, 1]"),
    (["--temperature", "nan"], "--temperature out of range"),
    (["--temperature", "1e9"], "expected 0 (always the likeliest note) to 100; received 1e+09"),
    (["--seed", "4294967296"], "--seed out of range; expected >= 0 and <= 2147483647"),
    (["60 x"], "not a MIDI pitch"),
    (["missing.mid"], "no such seed file"),
])
def test_bad_predict_input_is_one_line(trained_run, capsys, argument, message):
    code = main(["music", "predict", "--model", str(trained_run / "saved_model"), *argument])
    assert code == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err and len(err.strip().splitlines()) == 1


@pytest.mark.slow
def test_the_event_representation_end_to_end(workspace, pieces, capsys):
    """Melodies as (pitch, step, duration): train, the fresh-process export check, predict."""
    run_dir = workspace / "events"
    settings = [s if s != "window=8" else "window=12" for s in TINY]
    assert main(["music", "train", "--data", str(pieces), "--run-dir", str(run_dir), *settings,
                 "--set", "representation=events", "--set", "epochs=1"]) == 0
    metrics = json.loads((run_dir / "metrics.json").read_text())
    assert set(metrics["export"].values()) == {0.0}
    assert metrics["test"]["step_mae"] >= 0 and "repeat last note" in metrics["test"]["baselines"]
    capsys.readouterr()
    assert main(["music", "predict", "--model", str(run_dir / "saved_model"), "60 62:0.5 64",
                 "--steps", "4", "--temperature", "0"]) == 0
    notes = capsys.readouterr().out.split("\t")[0].split()
    assert len(notes) == 7 and notes[:3] == ["60:0:1", "62:0.5:0.5", "64:1:1"]
    pitch, step, duration = (float(v) for v in notes[-1].split(":"))
    assert 1 <= pitch <= 127 and step >= 0 and duration > 0
    # A serving client's seed is held to what predict reads: at most 1024 quarter notes.
    import tensorflow as tf

    from rnn_templates.export import SERVING_ENDPOINT

    app = MusicApp()
    app.use_artifacts(json.loads((run_dir / "artifacts.json").read_text()))
    app.use_options({"steps": 2})
    request = app.to_batch([app.parse_input("60 62:0.5 64")])
    request[0] = tf.constant(request[0].numpy() * np.float32([1, 2000, 1]))
    signature = tf.saved_model.load(str(run_dir / "saved_model")).signatures[SERVING_ENDPOINT]
    names = ["notes", "seed_chords", "steps", "temperature", "top_k", "top_p", "seed",
             "first_row"]
    with pytest.raises(tf.errors.InvalidArgumentError, match="from 0 to 1024 quarter notes"):
        signature(**dict(zip(names, request, strict=True)))
