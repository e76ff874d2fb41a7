"""What `rnnt` does with the paths and inputs it is given: empty paths are refused, and a
predict that fails part way says which inputs the printed lines belong to."""

import argparse
import types

import pytest

from rnn_templates import cli
from rnn_templates.errors import UserInputError


@pytest.mark.parametrize(("argv", "message"), [
    (["sentiment", "train", "--data", ""],
     "--data: empty path; expected a file or folder; give a path (omit --data to use the "
     "shipped sample)"),
    (["sentiment", "train", "--test-data", " "],
     "--test-data: empty path; expected a file or folder; give a path (omit --test-data to "
     "test on a split of --data)"),
    (["sentiment", "train", "--set", "data="],
     "config key 'data': empty path; expected a file or folder; give the path of your data, "
     "or leave data unset for the shipped sample"),
    (["forecasting", "tune", "--data", ""],
     "--data: empty path; expected a file or folder; give a path (omit --data to use the "
     "shipped sample)"),
    (["sentiment", "evaluate", "--run-dir", "r", "--data", ""],
     "--data: empty path; expected a file or folder; give a path (omit --data to score the "
     "run's own held-out test split)"),
    (["sentiment", "predict", "--model", "m", "--input", ""],
     "--input: empty path; expected a file with one input per line, or - for standard input; "
     "give a path (omit --input to predict only the inputs given as arguments)"),
])
def test_an_empty_path_is_refused_not_replaced_by_the_default(argv, message, capsys):
    # An unset shell variable (--data "$FILE") must not train on the shipped sample.
    assert cli.main(argv) == 2
    assert capsys.readouterr().err == f"rnnt {argv[0]}: error: {message}\n"


class _FailingRunner:
    """Each input gives ``lines`` rows (forecasting: one per step and target); the input
    numbered ``fail_at`` is refused, as ``Runner.predict`` refuses it."""

    def __init__(self, lines: int, fail_at: int):
        self.lines, self.fail_at = lines, fail_at
        self.app = types.SimpleNamespace(
            use_options=lambda options: None, prediction_header=lambda: None,
            format_prediction=lambda row: f"{row['input']} {row['step']}")

    def predict(self, model, items, **kwargs):
        for number, item in enumerate(items, start=1):
            if number == self.fail_at:
                error = UserInputError("bad input", where=f"input argument {number}",
                                       fix="fix it")
                error.inputs_done = number - 1
                raise error
            for step in range(self.lines):
                yield {"input": item, "step": step}


@pytest.mark.parametrize(("lines", "fail_at", "first"), [
    (7, 2, "the first input"), (1, 2, "the first input"), (3, 4, "the first 3 inputs")])
def test_a_failed_predict_counts_the_inputs_printed_not_the_lines(monkeypatch, capsys, lines,
                                                                  fail_at, first):
    spec = types.SimpleNamespace(runner=lambda: _FailingRunner(lines, fail_at))
    args = argparse.Namespace(inputs=["a", "b", "c", "d"], input=None, output=None, json=False,
                              model="m", batch_size=1)
    with pytest.raises(UserInputError) as caught:
        cli._predict(spec, args)
    assert str(caught.value) == (f"input argument {fail_at}: bad input; fix it; what was "
                                 f"printed before this error is the predictions for {first} "
                                 "only")
    assert len(capsys.readouterr().out.splitlines()) == lines * (fail_at - 1)
    spec = types.SimpleNamespace(runner=lambda: _FailingRunner(lines, 1))
    with pytest.raises(UserInputError) as caught:  # nothing printed: the error as it is
        cli._predict(spec, args)
    assert str(caught.value) == "input argument 1: bad input; fix it"
