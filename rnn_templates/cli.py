"""The ``rnnt`` console script: ``rnnt <app> <verb> [options]``, five verbs built once.

Apps are found through the ``rnn_templates.apps`` entry-point group, each
naming an :class:`AppSpec`: a name, a help line and where its config and
:class:`~rnn_templates.app.App` live. Registering imports only the app's
config module, so ``rnnt --help`` and a mistake in the options answer without
importing TensorFlow; the app itself is imported when a verb runs.

A :class:`~rnn_templates.errors.UserInputError` raised anywhere becomes one
line on stderr and exit status 2, with no traceback; Ctrl-C becomes one line
and exit status 130.
"""

from __future__ import annotations

import argparse
import dataclasses
import errno
import importlib
import json
import os
import sys
from collections.abc import Callable
from importlib.metadata import entry_points
from pathlib import Path
from typing import Any

from rnn_templates.config import describe_config, load_config
from rnn_templates.distribute import STRATEGIES, tuning_distribution
from rnn_templates.errors import UserInputError
from rnn_templates.io import json_line, one_line
from rnn_templates.standby import StandbyWorkers, parse_address, pin_to_share

APP_GROUP = "rnn_templates.apps"
VERBS = ("train", "tune", "evaluate", "export", "predict")


def _load(reference: str) -> Any:
    module, _, attribute = reference.partition(":")
    return getattr(importlib.import_module(module), attribute)


@dataclasses.dataclass(frozen=True)
class AppSpec:
    """How an app registers with ``rnnt``, cheaply (no TensorFlow).

    Attributes:
        name: The app's name: ``rnnt <name> <verb>`` and ``runs/<name>/``.
        help: One line for ``rnnt --help``.
        config: ``"module:Class"`` of its config dataclass (a light module).
        app: ``"module:Class"`` of its :class:`~rnn_templates.app.App` (imported
            when a verb runs).
        predict_help: What ``predict``'s positional inputs are.
        arguments: Optional ``"module:function"`` called as ``function(verb,
            parser)`` for every verb, to add app-specific options (a window of
            values, a prompt, a seed file); the parsed values reach the app's
            hooks through the verb's ``args``.
    """

    name: str
    help: str
    config: str
    app: str
    predict_help: str = "inputs to predict"
    arguments: str | None = None

    def config_class(self) -> type:
        return _load(self.config)

    def runner(self):
        from rnn_templates.app import Runner

        return Runner(_load(self.app)())


class _HelpConfig(argparse.Action):
    """``--help-config``: print every config key with its type and default."""

    def __init__(self, option_strings, dest, config_class=None, **kwargs):
        self.config_class = config_class
        super().__init__(option_strings, dest, nargs=0, **kwargs)

    def __call__(self, parser, namespace, values, option_string=None):
        print(describe_config(self.config_class))
        parser.exit(0)


def add_config_options(parser: argparse.ArgumentParser, config_class: type) -> None:
    """``--config FILE``, repeatable ``--set key=value`` and ``--help-config``."""
    parser.add_argument("--config", metavar="FILE", help="YAML file of config overrides")
    parser.add_argument(
        "--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
        help="override one config key (repeatable), e.g. --set units=128",
    )
    parser.add_argument(
        "--help-config", action=_HelpConfig, config_class=config_class,
        help="list every config key with its type and default, then exit",
    )


# --- the verbs -------------------------------------------------------------------


def _config(spec: AppSpec, args: argparse.Namespace) -> Any:
    overrides = list(args.overrides)
    options = dict(getattr(args, "option_keys", {}))
    for option in ("data", "test_data"):
        value = getattr(args, option, None)
        flag = "--" + option.replace("_", "-")
        _refuse_empty(value, flag, "use the shipped sample" if option == "data"
                      else "test on a split of --data")
        if value is not None:
            overrides.append(f"{option}={value}")
            options[option] = flag
    config = load_config(spec.config_class(), args.config, overrides, app=spec.name,
                         options=options)
    if isinstance(getattr(config, "data", None), str) and not config.data.strip():
        raise UserInputError("empty path", where="config key 'data'",
                             expected="a file or folder",
                             fix="give the path of your data, or leave data unset for the "
                             "shipped sample")
    return config


def _refuse_empty(value: str | None, flag: str, instead: str,
                  expected: str = "a file or folder") -> None:
    """An option given as an empty path (an unset shell variable) is refused, not dropped."""
    if value is not None and not value.strip():
        raise UserInputError("empty path", where=flag, expected=expected,
                             fix=f"give a path (omit {flag} to {instead})")


def _run_dir(spec: AppSpec, args: argparse.Namespace) -> Path:
    from rnn_templates.runs import default_run_dir

    return Path(args.run_dir) if args.run_dir else default_run_dir(args.runs_root, spec.name)


def _train(spec: AppSpec, args: argparse.Namespace) -> None:
    config = _config(spec, args)
    spec.runner().train(config, _run_dir(spec, args), overwrite=args.overwrite,
                        strategy=args.strategy)


def _objective(text: str) -> str:
    """``--objective``: ``METRIC`` or ``METRIC:min|max``, spaces around the colon dropped
    (the config then checks the metric and the direction)."""
    name, colon, direction = text.partition(":")
    return name.strip() + (f":{direction.strip()}" if colon else "")


def _tune(spec: AppSpec, args: argparse.Namespace) -> None:
    if args.objective is not None:  # quoted: "val_loss: min" is no YAML mapping
        args.objective = json.dumps(_objective(args.objective))
    args.option_keys = {}  # config key -> the option that set it, for messages
    for option, key in (("tuner", "tuner"), ("max_trials", "max_trials"),
                        ("executions_per_trial", "executions_per_trial"),
                        ("objective", "tuning_objective")):
        if getattr(args, option) is not None:
            args.overrides.append(f"{key}={getattr(args, option)}")
            args.option_keys[key] = "--" + option.replace("_", "-")
    config = _config(spec, args)
    tuning_dir = args.tuning_dir or Path(args.runs_root) / spec.name / "tuning"
    if args.oracle_address is not None:
        parse_address(args.oracle_address)  # a typo is refused before any worker starts
    # Local workers start before this process imports TensorFlow: side by side.
    with StandbyWorkers(args.workers, (spec.app.partition(":")[0],)) as standby:
        runner = spec.runner()
        runner.distribution = tuning_distribution(args.strategy)  # the best model's retraining
        runner.tune(config, _run_dir(spec, args), tuning_dir=tuning_dir,
                    overwrite=args.overwrite, restart=args.restart, workers=args.workers,
                    oracle_address=args.oracle_address, worker_timeout=args.worker_timeout,
                    standby=standby)


def _evaluate(spec: AppSpec, args: argparse.Namespace) -> None:
    from rnn_templates.config import data_overrides

    _refuse_empty(args.data, "--data", "score the run's own held-out test split")
    # Checked before the app (and TensorFlow) is imported, and again by the runner.
    data_overrides(spec.config_class(), args.config, args.overrides, has_data=bool(args.data),
                   app=spec.name)
    spec.runner().evaluate(args.run_dir, args.data, args.overrides, args.config)


def _export(spec: AppSpec, args: argparse.Namespace) -> None:
    spec.runner().export(args.run_dir, args.output, check=args.check)


def _predict(spec: AppSpec, args: argparse.Namespace) -> None:
    from rnn_templates.data.readers import blank, iter_lines

    _refuse_empty(args.input, "--input", "predict only the inputs given as arguments",
                  "a file with one input per line, or - for standard input")
    blanks = []  # where each blank input is

    def items():
        for number, item in enumerate(args.inputs, start=1):
            try:
                item.encode("utf-8")  # undecodable bytes reach argv as lone surrogates
            except UnicodeEncodeError as error:
                raise UserInputError("argument is not valid UTF-8",
                                     where=f"input argument {number}",
                                     received=f"byte 0x{ord(item[error.start]) & 0xFF:02x}",
                                     fix="pass UTF-8 text, or use --input FILE") from None
            if blank(item):
                blanks.append(f"input argument {number}")
            yield item
        if args.input:
            for number, line in enumerate(iter_lines(args.input), start=1):
                if blank(line):
                    blanks.append(f"line {number} of {source}")
                yield line

    source = "standard input" if args.input == "-" else args.input

    def describe(index: int) -> str:
        if index < len(args.inputs):
            return f"input argument {index + 1}"
        return f"line {index - len(args.inputs) + 1} of {source}"

    if args.output:
        _check_output(args)
    if args.input and args.input != "-":
        output = Path(args.output) if args.output and Path(args.output).exists() else None
        # A bad line is refused before any prediction, and so is a line naming --output.
        for number, line in enumerate(iter_lines(args.input), start=1):
            if output is not None and _same_file(output, line):
                _refuse_input_output(f"line {number} of {args.input}", args.output)
    runner = spec.runner()
    runner.app.use_options(vars(args))  # the options the app added (AppSpec.arguments) too
    progress = bool(args.input) and sys.stderr.isatty()
    lines = (json_line(row) if args.json else one_line(runner.app.format_prediction(row))
             for row in runner.predict(args.model, items(), batch_size=args.batch_size,
                                       progress=progress, describe=describe))
    from rnn_templates.io import users_outputs, write_text

    with users_outputs():  # what predict writes is the user's, even inside a run directory
        if args.output:  # written whole, atomically, once every input is predicted
            header = None if args.json else runner.app.prediction_header()
            body = [*([header] if header else []), *lines]
            write_text(args.output, "\n".join(body) + "\n")
            print(f"{len(body) - bool(header)} predictions written to {args.output}")
        else:
            try:
                for line in lines:
                    print(line, flush=progress)
            except UserInputError as error:
                done = getattr(error, "inputs_done", 0)  # an input may print several lines
                if not done:
                    raise
                first = "the first input" if done == 1 else f"the first {done} inputs"
                raise UserInputError(
                    error.what, where=error.where, expected=error.expected,
                    received=error.received,
                    fix=f"{error.fix + '; ' if error.fix else ''}what was printed before "
                    f"this error is the predictions for {first} only") from None
    if blanks:
        print(f"note: {len(blanks)} blank input(s) (empty, or only spaces and invisible "
              f"characters) predicted as empty inputs, one output each ({', '.join(blanks[:5])}"
              f"{', ...' if len(blanks) > 5 else ''})", file=sys.stderr)


def _check_output(args: argparse.Namespace) -> None:
    """``predict --output``: never a file it reads, and an existing file only when asked.

    The files read are ``--input`` and, for an app whose inputs are files (forecasting),
    each input argument that names an existing file (the lines of ``--input`` are
    checked as they are read through before predicting).
    """
    output = Path(args.output)
    if output.exists():
        if args.input and args.input != "-" and _same_file(output, args.input):
            raise UserInputError("--output is the --input file", where=args.output,
                                 fix="write the predictions to another file")
        for number, item in enumerate(args.inputs, start=1):
            if _same_file(output, item):
                _refuse_input_output(f"input argument {number}", args.output)
    from rnn_templates.runs import served_model

    model = served_model(Path(args.model))
    if model.exists() and ((output.exists() and os.path.samefile(output, model))
                           or (model.is_dir() and model.resolve() in output.resolve().parents)):
        raise UserInputError("--output is inside the --model it predicts with",
                             where=args.output, expected="a file outside the model's folder",
                             fix="write the predictions to another file (re-exporting the model "
                             "replaces its folder)")
    if output.is_file() and not args.overwrite:
        raise UserInputError("file exists", where=args.output,
                             fix="choose another --output, or add --overwrite to replace it")


def _refuse_input_output(where: str, output: str) -> None:
    raise UserInputError(f"--output is an input file ({where})", where=output,
                         expected="a file that is not read",
                         fix="write the predictions to another file (--overwrite never "
                         "replaces an input)")


def _same_file(path: Path, other: str) -> bool:
    """Whether ``other`` (a path, or any text a user gave) names the file ``path``."""
    try:
        return bool(other.strip()) and os.path.exists(other) and os.path.samefile(path, other)
    except (OSError, ValueError):  # a long text, or one with a NUL, is no file name
        return False


def _positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be a positive integer; received {text}")
    return value


def _non_negative(text: str) -> int:
    value = int(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be 0 or more; received {text}")
    return value


def _seconds(text: str) -> float:
    value = float(text)
    if not value >= 0:
        raise argparse.ArgumentTypeError(f"must be 0 or more seconds; received {text}")
    return value


# argparse names a type by its function ("invalid _positive value: 'abc'").
_positive.__name__, _non_negative.__name__ = "positive integer", "non-negative integer"
_seconds.__name__ = "number of seconds"


def register(apps: argparse._SubParsersAction, spec: AppSpec) -> None:
    """Add ``<spec.name>`` and its five verbs to the ``rnnt`` parser."""
    config_class = spec.config_class()
    extra: Callable[[str, argparse.ArgumentParser], None] | None = (
        _load(spec.arguments) if spec.arguments else None)
    parser = apps.add_parser(spec.name, help=spec.help, description=spec.help)
    verbs = parser.add_subparsers(dest="verb", metavar="<verb>", required=True)

    def add(verb: str, handler, help_line: str, description: str) -> argparse.ArgumentParser:
        sub = verbs.add_parser(verb, help=help_line, description=description)
        sub.set_defaults(handler=handler, spec=spec)
        return sub

    def training_options(verb: argparse.ArgumentParser) -> None:
        verb.add_argument("--data", help="the data to train on (default: the shipped sample)")
        if "test_data" in {field.name for field in dataclasses.fields(config_class)}:
            verb.add_argument("--test-data", metavar="FILE",
                              help="a separate labelled file to test on (no test split is "
                              "then taken from --data)")
        verb.add_argument("--run-dir", help=f"output directory (default: "
                          f"<runs-root>/{spec.name}/<date>-<time>-<pid>)")
        verb.add_argument("--runs-root", default="runs",
                          help="where default run directories go (default: ./runs)")
        verb.add_argument("--overwrite", action="store_true",
                          help="replace an existing run directory (only one rnnt wrote)")
        verb.add_argument("--strategy", choices=STRATEGIES, default="none",
                          help="train on more than one device: mirrored (this machine's "
                          "devices) or multiworker (hosts named in TF_CONFIG) with TensorFlow, "
                          "data-parallel with JAX; batch_size stays the global batch "
                          "(default: %(default)s)")
        add_config_options(verb, config_class)

    train = add("train", _train, "train and write a run directory",
                "Train, evaluate on the held-out split, save and export. A killed run "
                "resumes when the same command is run again.")
    training_options(train)

    tune = add("tune", _tune, "hyperparameter search, then retrain the best",
               "keras-tuner search, then retrain the best hyperparameters (on the data "
               "--set refit names: train + validation by default; the training split alone "
               "where the validation split calibrates something, as in forecasting), test "
               "once and export. Killed, the "
               "same command resumes it: finished trials are kept, the interrupted one "
               "resumes from its last epoch. "
               "--workers N runs the trials in N local worker processes; workers on other "
               "hosts join with keras-tuner's KERASTUNER_TUNER_ID, KERASTUNER_ORACLE_IP and "
               "KERASTUNER_ORACLE_PORT (the chief prints the command).")
    training_options(tune)
    tune.add_argument("--tuner", choices=("random", "hyperband", "bayesian", "grid"),
                      help="search algorithm (same as --set tuner=...)")
    tune.add_argument("--max-trials", type=_positive, metavar="N",
                      help="trials to run (random, bayesian, grid)")
    tune.add_argument("--executions-per-trial", type=_positive, metavar="N",
                      help="models per trial, their scores averaged")
    tune.add_argument("--objective", metavar="METRIC[:min|max]",
                      help="the metric to optimise, e.g. val_accuracy or val_loss:min")
    tune.add_argument("--workers", type=_non_negative, default=0, metavar="N",
                      help="local worker processes, each pinned to its share of the cores "
                      "(default 0: trials run in this process)")
    tune.add_argument("--worker-timeout", type=_seconds, default=0.0, metavar="SECONDS",
                      help="the chief re-queues the trial of a worker on another host that "
                      "finished no epoch for this long (default 0: wait for it)")
    tune.add_argument("--oracle-address", metavar="HOST:PORT",
                      help="serve the search there for workers (0.0.0.0:PORT accepts workers "
                      "on other hosts; port 0: any free one); given with --workers 0, this "
                      "process serves only workers on other hosts (default with --workers: "
                      "127.0.0.1:0)")
    tune.add_argument("--tuning-dir", metavar="DIR", help="where searches live "
                      "(default: <runs-root>/<app>/tuning)")
    tune.add_argument("--restart", action="store_true",
                      help="discard the earlier search for the same data and settings")

    evaluate = add("evaluate", _evaluate, "metrics and plots of a finished run",
                   "Evaluate a run on its held-out test split, or on another labelled file "
                   "given with --data (read with the run's own settings; --set may change only "
                   "how that file is read).")
    evaluate.add_argument("--run-dir", required=True, help="a finished run directory")
    evaluate.add_argument("--data", help="another labelled file or folder to evaluate on")
    add_config_options(evaluate, config_class)

    export = add("export", _export, "SavedModel that takes raw input",
                 "Export the run's model as a TensorFlow SavedModel with a `serve` signature "
                 "that takes raw input.")
    export.add_argument("--run-dir", required=True, help="a finished run directory")
    export.add_argument("--output", help="destination folder (default: <run-dir>/saved_model); "
                        "an existing folder is replaced only if rnnt wrote it")
    export.add_argument("--check", action=argparse.BooleanOptionalAction, default=True,
                        help="reload in a fresh TensorFlow-only process and compare (default on)")

    predict = add("predict", _predict, "predict with an exported model",
                  "Print one prediction per input, in input order.")
    predict.add_argument("inputs", nargs="*", help=spec.predict_help)
    predict.add_argument("--model", required=True,
                         help="SavedModel folder, a run's model.keras, or a run directory "
                         "(its saved_model, else its model.keras)")
    predict.add_argument("--input", help="file with one input per line ('-' for stdin)")
    predict.add_argument("--json", action="store_true", help="one JSON object per line")
    predict.add_argument("--output", metavar="FILE",
                         help="write the predictions to FILE (with the app's header line, "
                         "e.g. CSV) instead of printing them; an existing FILE is replaced "
                         "only with --overwrite, and never the --input file")
    predict.add_argument("--overwrite", action="store_true",
                         help="replace an existing --output file")
    predict.add_argument("--batch-size", type=_positive, default=256,
                         help="inputs per model call (default: %(default)s)")
    if extra is not None:
        for verb, sub in zip(VERBS, (train, tune, evaluate, export, predict), strict=True):
            extra(verb, sub)


class _OneLineParser(argparse.ArgumentParser):
    """argparse whose mistakes are one line (``rnnt sentiment tune: error: ...``, exit
    status 2), with where to read the usage, rather than the usage block first."""

    def error(self, message: str):
        self.exit(2, f"{self.prog}: error: {message}; see {self.prog} --help\n")


def build_parser() -> argparse.ArgumentParser:
    parser = _OneLineParser(
        prog="rnnt",
        description="Recurrent-network application templates: train, tune, evaluate, "
        "export and predict per app.",
    )
    apps = parser.add_subparsers(dest="app", metavar="<app>", required=True)
    for entry_point in sorted(entry_points(group=APP_GROUP), key=lambda ep: ep.name):
        try:
            register(apps, entry_point.load())
        except Exception as error:  # one app's broken code must not take the others down
            _register_broken(apps, entry_point.name, error)
    return parser


def _register_broken(apps: argparse._SubParsersAction, name: str, error: Exception) -> None:
    """``rnnt <name> ...`` for an app that failed to load: one line saying why."""
    sub = apps.add_parser(name, help=f"(cannot be loaded: {type(error).__name__})",
                          add_help=False)
    sub.add_argument("rest", nargs=argparse.REMAINDER)

    def fail(spec: Any, args: argparse.Namespace) -> None:
        raise UserInputError(f"the {name} app cannot be loaded", where=name,
                             received=f"{type(error).__name__}: {error}",
                             fix="fix that error in the app's code, or reinstall it "
                             "(make install)")

    sub.set_defaults(handler=fail, spec=None)


def main(argv: list[str] | None = None) -> int:
    pin_to_share()  # a tuning worker's share of the cores, set by its chief
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        args.handler(args.spec, args)
    except UserInputError as error:
        print(f"rnnt {args.app}: error: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt as interrupt:
        print(f"rnnt {args.app}: {str(interrupt) or 'interrupted'}", file=sys.stderr)
        return 130
    except BrokenPipeError:  # `rnnt ... predict | head`
        sys.stderr.close()
        return 0
    except OSError as error:
        if error.errno not in _UNWRITABLE:
            raise
        where = error.filename or "output"
        print(f"rnnt {args.app}: error: {where}: cannot write ({error.strerror}); "
              "choose a writable location with free space", file=sys.stderr)
        return 2
    return 0


# A read-only folder or a full disk is the user's to fix, not a bug.
_UNWRITABLE = {errno.EACCES, errno.EPERM, errno.EROFS, errno.ENOSPC, errno.EDQUOT}


if __name__ == "__main__":
    sys.exit(main())
