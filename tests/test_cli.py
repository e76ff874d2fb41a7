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
        assert len(err) == 1 and err[0].startswith(
            "rnnt sentiment: error: config: `tuning_objective` must be one of 'val_accuracy', ")
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
