"""The `rnnt` console script: apps register cheaply, verbs are built once, hooks add options."""

import argparse
import dataclasses
import subprocess
import sys
import textwrap

import pytest

from rnn_templates.cli import AppSpec, register
from rnn_templates.config import TrainingOptions, knob


@dataclasses.dataclass
class WindowConfig(TrainingOptions):
    lookback: int = knob(24, "steps read per forecast", interval="[1, inf)")


def add_window_options(verb: str, parser: argparse.ArgumentParser) -> None:
    if verb == "predict":
        parser.add_argument("--window", help="comma-separated values")


SPEC = AppSpec(name="toy", help="A toy app.", config="tests.test_cli:WindowConfig",
               app="tests.test_cli:NoSuchApp", arguments="tests.test_cli:add_window_options")


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="rnnt")
    register(parser.add_subparsers(dest="app"), SPEC)
    return parser


def test_every_app_gets_the_five_verbs_and_its_hook_options():
    parser = _parser()
    args = parser.parse_args(["toy", "predict", "--model", "m", "--window", "1,2,3", "a", "b"])
    assert (args.verb, args.window, args.inputs, args.batch_size) == (
        "predict", "1,2,3", ["a", "b"], 256)
    assert args.spec is SPEC
    args = parser.parse_args(["toy", "tune", "--set", "lookback=12", "--restart"])
    assert args.overrides == ["lookback=12"] and args.restart and args.runs_root == "runs"
    for verb in ("train", "evaluate", "export"):
        assert not hasattr(parser.parse_args(
            ["toy", verb, *(["--run-dir", "r"] if verb != "train" else [])]), "window")


def test_help_and_user_errors_do_not_import_tensorflow():
    script = textwrap.dedent("""
        import sys
        from rnn_templates.cli import main
        try:
            main(["--help"])
        except SystemExit as exited:
            assert exited.code == 0
        assert main(["sentiment", "train", "--set", "units=0"]) == 2
        assert main(["sentiment", "evaluate", "--run-dir", "nowhere", "--set", "colour=1"]) == 2
        assert main(["sentiment", "tune", "--workers", "1", "--oracle-address", "nonsense",
                     "--run-dir", "nowhere"]) == 2  # before any worker starts
        print(sorted(m for m in ("tensorflow", "keras", "keras_tuner") if m in sys.modules))
    """)
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                            timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().splitlines()[-1] == "[]"
    assert "`units` must be a positive integer; received 0" in result.stderr


def test_the_library_never_imports_an_app():
    import pathlib
    import re

    library = pathlib.Path(__file__).resolve().parents[1] / "rnn_templates"
    offenders = [str(path) for path in library.rglob("*.py")
                 if re.search(r"^\s*(from|import) apps\b", path.read_text(encoding="utf-8"),
                              re.MULTILINE)]
    assert offenders == []


def test_an_app_that_fails_to_load_does_not_take_the_others_down(monkeypatch, capsys):
    from importlib.metadata import EntryPoint

    from rnn_templates import cli

    real = cli.entry_points
    broken = EntryPoint(name="broken", value="no_such_module_here:APP", group=cli.APP_GROUP)
    monkeypatch.setattr(cli, "entry_points", lambda group: [*real(group=group), broken])
    parser = cli.build_parser()
    assert parser.parse_args(["sentiment", "train", "--set", "units=8"]).app == "sentiment"
    assert cli.main(["broken", "train", "--data", "x.csv"]) == 2
    assert capsys.readouterr().err == (
        "rnnt broken: error: broken: the broken app cannot be loaded; received "
        "ModuleNotFoundError: No module named 'no_such_module_here'; fix that error in the "
        "app's code, or reinstall it (make install)\n")


def test_an_app_whose_to_batch_takes_no_position_still_predicts():
    from rnn_templates.app import App, batch_of

    class Old(App):
        def to_batch(self, items):
            return [items]

    class New(App):
        def to_batch(self, items, first=0):
            return [items, first]

    assert batch_of(Old(), ["a"], 256) == [["a"]]
    assert batch_of(New(), ["a"], 256) == [["a"], 256]


def test_tune_options_are_checked_in_one_line(capsys):
    from rnn_templates.cli import _objective, main

    assert _objective("val_loss: min") == "val_loss:min"
    assert _objective(" val_accuracy ") == "val_accuracy"
    for bad in ("val_loss: minimum", ": max", "val loss"):
        # (no such data file: an objective wrongly accepted fails there, before any training)
        assert main(["sentiment", "tune", "--objective", bad, "--data", "no/such.tsv"]) == 2
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and err[0].startswith("rnnt sentiment: error: --objective: ")
        assert "`tuning_objective` must be one of 'val_accuracy', " in err[0]
        assert "(dict)" not in err[0]  # read as text, never as a YAML mapping
    for argument, message in ((["--max-trials", "abc"], "invalid positive integer value: "
                               "'abc'"), (["--worker-timeout", "-5"], "must be 0 or more "
                                          "seconds; received -5")):
        with pytest.raises(SystemExit) as exit_status:
            main(["sentiment", "tune", *argument])
        assert exit_status.value.code == 2
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and err[0].startswith("rnnt sentiment tune: error: ")
        assert err[0].endswith(f"{message}; see rnnt sentiment tune --help")


def test_a_refused_value_names_its_set_key_and_how_to_fix_it(tmp_path, capsys):
    from rnn_templates.cli import main

    assert main(["sentiment", "train", "--set", "units=0", "--run-dir", str(tmp_path / "r")]) == 2
    assert capsys.readouterr().err == (
        "rnnt sentiment: error: --set units: `units` must be a positive integer; received 0; "
        "set it like --set units=64; `rnnt sentiment train --help-config` lists each key's "
        "allowed values\n")
    small = tmp_path / "small.yaml"
    small.write_text("cell: gru\nunits: 0\n", encoding="utf-8")
    assert main(["sentiment", "train", "--config", str(small)]) == 2
    assert capsys.readouterr().err.startswith(
        f"rnnt sentiment: error: {small}:2: `units` must be a positive integer; received 0; "
        f"change it in {small}, e.g. units: 64; ")


def test_evaluate_takes_a_config_file_that_only_says_how_to_read_data(tmp_path, monkeypatch,
                                                                       capsys):
    from rnn_templates import app as runner_module
    from rnn_templates.cli import main

    calls = []
    monkeypatch.setattr(runner_module.Runner, "evaluate",
                        lambda self, *args: calls.append(args))
    only = tmp_path / "only.yaml"
    only.write_text("encoding: cp1252\n", encoding="utf-8")
    assert main(["sentiment", "evaluate", "--run-dir", "r", "--data", "x.csv",
                 "--config", str(only)]) == 0
    assert calls == [("r", "x.csv", [], str(only))]
    mixed = tmp_path / "mixed.yaml"
    mixed.write_text("encoding: cp1252\nunits: 8\n", encoding="utf-8")
    assert main(["sentiment", "evaluate", "--run-dir", "r", "--data", "x.csv",
                 "--config", str(mixed)]) == 2
    assert capsys.readouterr().err.startswith(
        f"rnnt sentiment: error: {mixed}:2: config key 'units' does not apply to evaluate; ")


def test_an_unloadable_saved_model_names_the_error_and_the_export_command(tmp_path,
                                                                          monkeypatch):
    import types

    from rnn_templates.app import App, Runner
    from rnn_templates.errors import UserInputError

    def refuse(path):
        raise OSError("SavedModel file does not exist at: x\nsecond line")

    fake = types.SimpleNamespace(saved_model=types.SimpleNamespace(load=refuse))
    monkeypatch.setitem(sys.modules, "tensorflow", fake)

    class Toy(App):
        name = "toy"

    runner = Runner(Toy())
    exported = tmp_path / "fakesm"
    exported.mkdir()
    (exported / "saved_model.pb").write_bytes(b"\x00")
    with pytest.raises(UserInputError) as caught:
        runner._load_serving(exported)
    assert str(caught.value) == (
        f"{exported}: cannot load the SavedModel (corrupt or incomplete); received OSError: "
        f"SavedModel file does not exist at: x; export it again with rnnt toy export "
        f"--run-dir RUN_DIR --output {exported}")
    run = tmp_path / "run"
    (run / "saved_model").mkdir(parents=True)
    (run / "saved_model" / "saved_model.pb").write_bytes(b"\x00")
    (run / "model.keras").write_bytes(b"")
    with pytest.raises(UserInputError) as caught:
        runner._load_serving(run / "saved_model")
    assert caught.value.fix == f"export it again with rnnt toy export --run-dir {run}"
    fake.saved_model.load = lambda path: object()  # loads, but has no serve function
    with pytest.raises(UserInputError) as caught:
        runner._load_serving(run / "saved_model")
    assert caught.value.fix == f"export it with rnnt toy export --run-dir {run}"
