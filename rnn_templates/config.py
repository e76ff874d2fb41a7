"""Typed app configs: a dataclass of defaults, a YAML file, then ``--set`` overrides.

Precedence is defaults < YAML file < ``--set key=value`` (last wins), the
lightning-hydra habit of small override files that hold only what differs.
Values are parsed as YAML scalars (``3``, ``0.5``, ``true``, ``null``,
``[1, 2]``) and checked against the field's type, so a typo fails before any
work starts, with the list of valid keys.

The options every app shares are declared once, here, as dataclass mixins an
app config inherits: :class:`RecurrentOptions`, :class:`TrainingOptions`,
:class:`TuningOptions`, :class:`EnsembleOptions`, and for time series
:class:`SeriesOptions` and :class:`IntervalOptions`. Each knob is a
:func:`knob` carrying its help text and its allowed values, which
:class:`AppConfig` checks on construction, so a value that would reach Keras
is refused first with a message that names it.

This module imports neither TensorFlow nor Keras: the CLI reads configs and
reports mistakes in a fraction of a second.
"""

from __future__ import annotations

import dataclasses
import datetime
import difflib
import math
import os
import re
import types
import typing
from pathlib import Path
from typing import Any, TypeVar

import yaml

from rnn_templates import io
from rnn_templates.errors import UserInputError

C = TypeVar("C")
_EXPONENT_FLOAT = re.compile(r"[-+]?(\d+\.?\d*|\.\d+)[eE][-+]?\d+")


def _coerce(field: dataclasses.Field, value: Any, where: str, hints: dict[str, Any]) -> Any:
    """Check ``value`` against the field's annotation; ints pass where floats go."""
    annotation = hints[field.name]
    is_union = typing.get_origin(annotation) in (typing.Union, types.UnionType)
    allowed = typing.get_args(annotation) if is_union else ()
    allowed = allowed or (annotation,)
    if value is None and type(None) in allowed:
        return None
    for kind in allowed:
        origin = typing.get_origin(kind) or kind
        if origin is float and isinstance(value, (int, float)) and not isinstance(value, bool):
            return float(value)
        if origin is float and isinstance(value, str) and _EXPONENT_FLOAT.fullmatch(value.strip()):
            return float(value)  # YAML 1.1 reads 1e-3 (no dot) as a string
        if origin is bool and isinstance(value, bool):
            return value
        if origin is int and isinstance(value, int) and not isinstance(value, bool):
            return value
        if origin is str and isinstance(value, (str, int, float)) and not isinstance(value, bool):
            return str(value)
        if origin is str and isinstance(value, datetime.date):
            # YAML reads 2020-09-01 (and 2020-09-01 12:00:00) as a date: back to its ISO text.
            if isinstance(value, datetime.datetime):
                return value.isoformat(sep=" ")
            return value.isoformat()
        if origin in (list, tuple) and isinstance(value, (list, tuple)):
            return list(value)
        if (origin is list and typing.get_args(kind) in ((), (str,))
                and isinstance(value, str) and value.strip()):
            return [value]  # --set targets=OT: a list of one name
    names = " or ".join(getattr(k, "__name__", str(k)) for k in allowed)
    listed = any((typing.get_origin(k) or k) in (list, tuple) for k in allowed)
    example = f"'{field.name}=[a, b]'" if listed else f"{field.name}=<{names}>"
    raise UserInputError(
        f"wrong type for config key '{field.name}'",
        where=where,
        expected=names,
        received=f"{value!r} ({type(value).__name__})",
        fix=f"set it like --set {example}",
    )


def parse_overrides(pairs: list[str]) -> dict[str, Any]:
    """Turn ``["units=128", "cell=gru"]`` into ``{"units": 128, "cell": "gru"}``."""
    overrides: dict[str, Any] = {}
    for pair in pairs:
        key, sep, raw = pair.partition("=")
        if not sep or not key.strip():
            raise UserInputError(
                "malformed override",
                where="--set",
                expected="key=value",
                received=repr(pair),
                fix="write it as --set units=128",
            )
        try:
            overrides[key.strip()] = yaml.safe_load(raw) if raw.strip() else ""
        except yaml.YAMLError:
            overrides[key.strip()] = raw
    return overrides


def _app_name(config_class: type) -> str | None:
    """The ``rnnt`` app whose config is ``config_class``, from the installed apps (None if
    none is): only for messages, so a broken app or entry point counts as none."""
    from importlib.metadata import entry_points

    target = f"{config_class.__module__}:{config_class.__qualname__}"
    try:
        found = list(entry_points(group="rnn_templates.apps"))
    except Exception:
        return None
    for entry_point in found:
        try:
            spec = entry_point.load()
        except Exception:
            continue
        if getattr(spec, "config", None) == target:
            return getattr(spec, "name", None)
    return None


def _help_config(app: str | None) -> str:
    """Where to read the keys and their allowed values."""
    command = f"rnnt {app} train --help-config" if app else "--help-config"
    return f"`{command}` lists each key's allowed values"


def _read_yaml(path: Path) -> tuple[dict[str, Any], dict[str, int]]:
    """The mapping of a ``--config`` file, and the line each of its keys is on."""
    if not path.is_file():
        raise UserInputError(
            "config file not found", where=str(path), fix="check the path given to --config"
        )
    raw = path.read_bytes()
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as error:
        before = raw[:error.start].decode("utf-8", errors="replace")
        line, column = before.count("\n") + 1, len(before) - before.rfind("\n")
        raise UserInputError(
            "config file is not valid UTF-8", where=f"{path}:{line}:{column}",
            received=f"byte 0x{raw[error.start]:02x}", fix="save the file as UTF-8",
        ) from None
    text = text.removeprefix("\ufeff")
    try:
        loaded = yaml.safe_load(text)
        node = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        problem = getattr(error, "problem", None)
        where = f"{path}:{mark.line + 1}:{mark.column + 1}" if mark is not None else str(path)
        raise UserInputError(
            "config file is not valid YAML", where=where,
            received=problem or str(error).splitlines()[0],
            fix="write one key: value per line, indented with spaces (no tabs)",
        ) from None
    loaded = {} if loaded is None else loaded
    if not isinstance(loaded, dict):
        raise UserInputError(
            "config file must hold a mapping of keys to values",
            where=str(path),
            received=type(loaded).__name__,
        )
    lines: dict[str, int] = {}
    if isinstance(node, yaml.MappingNode):
        for key_node, _ in node.value:
            lines[str(key_node.value)] = key_node.start_mark.line + 1
    return loaded, lines


@dataclasses.dataclass(frozen=True)
class _Source:
    """Where a config key's value came from: ``--set``, a named option, or a file."""

    kind: str  # "set", "option" or "file"
    name: str  # "--set", the option ("--objective"), or the file's path
    line: int | None = None

    def where(self, key: str) -> str:
        """The place of ``key`` in a message: ``--set units``, ``--objective``,
        ``small.yaml:3``."""
        if self.kind == "set":
            return f"--set {key}"
        if self.kind == "option":
            return self.name
        return f"{self.name}:{self.line}" if self.line else f"{self.name}, key {key}"

    def place(self) -> str:
        """The source as a whole, for a mistake not tied to one key of it."""
        return self.name if self.line is None else f"{self.name}:{self.line}"


def _yaml_text(value: Any) -> str:
    """``value`` as it would be written after ``key=`` or ``key:``."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return "null"
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(_yaml_text(v) for v in value) + "]"
    return str(value)


def _example(field: dataclasses.Field, source: _Source) -> str | None:
    """How to give ``field`` its default from ``source`` (``--set units=64``), or None."""
    default = field.default
    if default is dataclasses.MISSING and field.default_factory is not dataclasses.MISSING:
        default = field.default_factory()
    if default is dataclasses.MISSING or default in ("", [], ()):
        return None  # no example to give: the message or --help-config lists the values
    value = _yaml_text(default)
    if source.kind == "option":
        return f"set it like {source.name} {value}"
    if source.kind == "file":
        return f"change it in {source.name}, e.g. {field.name}: {value}"
    pair = f"{field.name}={value}"
    return f"set it like --set {pair if ' ' not in pair and '[' not in pair else repr(pair)}"


_NAMED_KEY = re.compile(r"`(\w+)`|\b(\w+)(?=<=|>=|=)")
# A check's message that already says what to do after the value it received.
_ADVISED = re.compile(r"received [^;]*;|\(use ")


def _check_error(error: ValueError, fields: dict[str, dataclasses.Field],
                 origins: dict[str, _Source], app: str | None) -> UserInputError:
    """A config check's ``ValueError`` placed at the ``--set``, option or file that gave
    the keys it names, with a fix."""
    text = str(error)
    named: list[str] = []
    for match in _NAMED_KEY.finditer(text):
        key = match.group(1) or match.group(2)
        if key in fields and key not in named:
            named.append(key)
    given = [key for key in named if key in origins]
    places: list[str] = []
    set_keys = [key for key in given if origins[key].kind == "set"]
    for key in given:
        source = origins[key]
        if source.kind == "set":
            place = "--set " + ", ".join(set_keys)
        else:
            place = source.where(key)
        if place not in places:
            places.append(place)
    where = ", ".join(places) or "config"
    pointer = _help_config(app)
    if _ADVISED.search(text):
        fix = None  # the check says what to do
    elif len(given) == 1:
        example = _example(fields[given[0]], origins[given[0]])
        fix = f"{example}; {pointer}" if example else f"set another value; {pointer}"
    elif given:
        fix = f"change {' or '.join(given)}; {pointer}"
    else:
        fix = pointer
    return UserInputError(text, where=where, fix=fix)


def load_config(
    config_class: type[C],
    yaml_path: str | os.PathLike | None = None,
    overrides: list[str] | dict[str, Any] | None = None,
    *,
    app: str | None = None,
    options: dict[str, str] | None = None,
) -> C:
    """Build a config from defaults, an optional YAML file and overrides.

    Args:
        config_class: The app's config dataclass.
        yaml_path: A YAML mapping of keys to values, or None.
        overrides: ``key=value`` strings (from ``--set``) or a dict.
        app: The app's name on the command line, for the fixes messages give
            (``rnnt <app> train --help-config``); by default the installed app
            whose config is ``config_class``, if any.
        options: Keys of ``overrides`` that a command-line option of their own
            gave, with the option (``{"tuning_objective": "--objective"}``), so a
            message names the option the user typed rather than ``--set``.

    Returns:
        An instance of ``config_class``.

    Raises:
        UserInputError: unreadable YAML, an unknown key (the message lists the
            valid keys), a value of the wrong type, or a value the config's own
            checks refuse (placed at the ``--set``, option or file line that gave it).
    """
    fields = {f.name: f for f in dataclasses.fields(config_class)}
    hints = typing.get_type_hints(config_class)
    values: dict[str, Any] = {}
    origins: dict[str, _Source] = {}
    sources: list[tuple[_Source, dict[str, Any]]] = []
    if yaml_path is not None:
        path = Path(yaml_path)
        loaded, lines = _read_yaml(path)
        for key, value in loaded.items():
            sources.append((_Source("file", str(path), lines.get(str(key))), {key: value}))
    if overrides:
        parsed = parse_overrides(overrides) if isinstance(overrides, list) else dict(overrides)
        for key, value in parsed.items():
            option = (options or {}).get(key)
            source = _Source("option", option) if option else _Source("set", "--set")
            sources.append((source, {key: value}))
    for source, mapping in sources:
        for key, value in mapping.items():
            where = source.place()
            if key not in fields:
                if app is None:
                    app = _app_name(config_class)
                close = difflib.get_close_matches(str(key), list(fields), n=1)
                hint = f"did you mean '{close[0]}'?" if close else "check the spelling;"
                command = f"rnnt {app} train --help-config" if app else "--help-config"
                raise UserInputError(
                    f"unknown config key '{key}'",
                    where=where,
                    expected=f"one of {', '.join(sorted(fields))}",
                    received=repr(key),
                    fix=f"{hint} `{command}` lists each key",
                )
            values[key] = _coerce(fields[key], value, where, hints)
            origins[key] = source
    try:
        return config_class(**values)
    except ValueError as error:
        if app is None:
            app = _app_name(config_class)
        raise _check_error(error, fields, origins, app) from None


def data_overrides(config_class: type, yaml_path: str | os.PathLike | None,
                   overrides: list[str], *, has_data: bool,
                   app: str | None = None) -> dict[str, Any]:
    """The ``--config`` and ``--set`` values a command that reads other data
    (``evaluate --data``) may take, ``--set`` winning.

    Only ``config_class.DATA_KEYS`` (how to read a file) apply; anything else
    would be silently ignored, so it is refused (naming the file or ``--set``
    and the key), as is an unknown key.
    """
    requested = parse_overrides(overrides)
    load_config(config_class, yaml_path, requested, app=app)  # unknown keys, bad values first
    from_file, lines = _read_yaml(Path(yaml_path)) if yaml_path is not None else ({}, {})
    allowed = tuple(getattr(config_class, "DATA_KEYS", ()))
    expected = f"only keys that say how to read --data: {', '.join(allowed)}"
    for key in from_file:
        if key not in allowed:
            line = lines.get(str(key))
            raise UserInputError(
                f"config key '{key}' does not apply to evaluate",
                where=f"{yaml_path}:{line}" if line else str(yaml_path), expected=expected,
                fix="evaluate uses the run's own config; remove the key from the file",
            )
    unused = sorted(set(requested) - set(allowed))
    if unused:
        raise UserInputError(
            f"config key '{unused[0]}' does not apply to evaluate", where="--set",
            expected=expected, fix="evaluate uses the run's own config; drop the option",
        )
    for option, given in (("--config", from_file), ("--set", requested)):
        if given and not has_data:
            raise UserInputError(f"{option} needs --data with evaluate", where=option,
                                 fix=f"add --data FILE, or drop {option}")
    return {**from_file, **requested}


def describe_config(config_class: type) -> str:
    """One line per key: name, type and default, for ``--help-config``."""
    hints = typing.get_type_hints(config_class)
    lines = []
    for field in dataclasses.fields(config_class):
        default = field.default
        if default is dataclasses.MISSING and field.default_factory is not dataclasses.MISSING:
            default = field.default_factory()
        kind = getattr(hints[field.name], "__name__", str(hints[field.name]))
        line = f"{field.name:24s} {kind:16s} default: {default!r}"
        if field.metadata.get("help"):
            line += f"  ({field.metadata['help']})"
        lines.append(line)
    return "\n".join(lines)


def write_yaml_atomic(data: dict[str, Any], path: str | os.PathLike) -> None:
    """Write ``data`` as YAML through a temporary file renamed into place."""
    io.write_yaml(path, data)


# --- knobs and the shared option mixins -------------------------------------------

_INTERVAL = re.compile(r"([\[(])\s*(-?inf|[-+0-9.e]+)\s*,\s*(-?inf|[-+0-9.e]+)\s*([\])])")


def knob(
    default: Any,
    help: str = "",  # noqa: A002 (the argparse spelling)
    *,
    choices: tuple[Any, ...] | None = None,
    interval: str | None = None,
    search: bool = True,
) -> Any:
    """A config field with its help text and allowed values.

    Args:
        default: The default value.
        help: One line for ``--help-config``.
        choices: The allowed values, if it is a choice.
        interval: Allowed range in interval notation, e.g. ``"[0, 1)"`` or
            ``"[1, inf)"``.
        search: False for a knob that changes only the report, the export or
            generation, never what a trial trains or scores: a search ignores it,
            so changing it reuses a finished search (see :func:`searched`).

    Example:
        >>> import dataclasses
        >>> @dataclasses.dataclass
        ... class Small(AppConfig):
        ...     units: int = knob(64, "width", interval="[1, inf)")
        >>> Small(units=0)
        Traceback (most recent call last):
        ...
        ValueError: `units` must be a positive integer; received 0
    """
    if interval is not None and not _INTERVAL.fullmatch(interval.strip()):
        raise ValueError(f"`interval` must look like '[0, 1)'; received {interval!r}")
    metadata = {"help": help, "choices": choices, "interval": interval, "search": search}
    if isinstance(default, (list, dict)):
        return dataclasses.field(default_factory=lambda: type(default)(default),
                                 metadata=metadata)
    return dataclasses.field(default=default, metadata=metadata)


def searched(config: Any) -> dict[str, Any]:
    """``config``'s knobs that a search depends on (``search=True``), by name."""
    return {field.name: getattr(config, field.name) for field in dataclasses.fields(config)
            if field.metadata.get("search", True)}


def new_default(mixin: type, name: str, default: Any) -> Any:
    """Redeclare a shared knob with another default, keeping its help and checks.

    Example:
        >>> import dataclasses
        >>> @dataclasses.dataclass
        ... class Wide(RecurrentOptions):
        ...     units: int = new_default(RecurrentOptions, "units", 256)
        >>> Wide().units
        256
    """
    metadata = mixin.__dataclass_fields__[name].metadata
    return dataclasses.field(default=default, metadata=metadata)


def _check_interval(name: str, value: Any, interval: str, integer: bool) -> None:
    opening, low, high, closing = _INTERVAL.fullmatch(interval.strip()).groups()
    low_value, high_value = float(low), float(high)
    inside = (
        (value >= low_value if opening == "[" else value > low_value)
        and (value <= high_value if closing == "]" else value < high_value)
    )
    if isinstance(value, float) and not math.isfinite(value):
        inside = False
    if inside:
        return
    if integer and low_value == 1 and opening == "[" and high_value == math.inf:
        raise ValueError(f"`{name}` must be a positive integer; received {value!r}")
    raise ValueError(f"`{name}` must be in {interval}; received {value!r}")


def check_knobs(config: Any) -> None:
    """Check every :func:`knob` of ``config`` against its choices and interval."""
    hints = typing.get_type_hints(type(config))
    for field in dataclasses.fields(config):
        value = getattr(config, field.name)
        choices = field.metadata.get("choices")
        if choices is not None and value not in choices:
            raise ValueError(
                f"`{field.name}` must be one of {', '.join(map(repr, choices))}; "
                f"received {value!r}"
            )
        interval = field.metadata.get("interval")
        if interval is not None and value is not None:
            _check_interval(field.name, value, interval, hints[field.name] is int)


@dataclasses.dataclass
class AppConfig:
    """Base of every app config: knobs are checked on construction.

    Subclasses add cross-field checks in :meth:`check`, calling ``super().check()``.
    """

    def __post_init__(self) -> None:
        check_knobs(self)
        self.check()

    def check(self) -> None:
        """Checks that involve more than one field (none here)."""

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


CELLS = ("simple", "lstm", "gru")
TUNERS = ("random", "hyperband", "bayesian", "grid")


@dataclasses.dataclass
class RecurrentOptions(AppConfig):
    """The recurrent stack (see :class:`rnn_templates.cells.RecurrentConfig`)."""

    cell: str = knob("lstm", "simple | lstm | gru", choices=CELLS)
    units: int = knob(64, "units per recurrent layer (per direction)", interval="[1, inf)")
    num_layers: int = knob(1, "stacked recurrent layers", interval="[1, inf)")
    bidirectional: bool = knob(False, "read the sequence both ways")
    dropout: float = knob(0.2, "dropout on the recurrent layers' inputs (keeps cuDNN)",
                          interval="[0, 1)")
    recurrent_dropout: float = knob(0.0, "dropout on the recurrent state (>0 leaves cuDNN)",
                                    interval="[0, 1)")
    activation: str = knob("tanh", "cell activation: tanh | relu | sigmoid (not tanh: no cuDNN)",
                           choices=("tanh", "relu", "sigmoid"))

    def recurrent_options(self) -> dict[str, Any]:
        """The fields that configure the recurrent stack, for ``RecurrentConfig(**...)``."""
        return {name: getattr(self, name) for name in (
            "cell", "units", "num_layers", "bidirectional", "dropout", "recurrent_dropout",
            "activation")}


@dataclasses.dataclass
class EnsembleOptions(AppConfig):
    """Deep ensembles (see :mod:`rnn_templates.ensemble`)."""

    members: int = knob(1, "models trained side by side, each from its own random weights, "
                        "answering with their mean (a deep ensemble: lower error, members x "
                        "the training time)", interval="[1, inf)")


@dataclasses.dataclass
class TrainingOptions(AppConfig):
    """Optimisation, early stopping, seeds."""

    learning_rate: float = knob(1e-3, "Adam learning rate", interval="(0, 1]")
    clipnorm: float = knob(1.0, "gradient clipping by norm against exploding gradients; 0 = off",
                           interval="[0, inf)")
    weight_decay: float = knob(0.0, "decoupled weight decay (AdamW-style) of all weights but "
                               "embeddings and biases; 0 = off", interval="[0, 1)")
    lr_decay: float = knob(1.0, "learning-rate factor per epoch once lr_decay_after epochs "
                           "have run (0.9 is close to SegRNN's schedule); 1 = constant",
                           interval="(0, 1]")
    lr_decay_after: int = knob(3, "epochs at the full learning rate before lr_decay applies",
                               interval="[0, inf)")
    batch_size: int = knob(32, "examples per batch", interval="[1, inf)")
    epochs: int = knob(20, "upper bound: early stopping usually ends sooner", interval="[1, inf)")
    patience: int = knob(3, "epochs without validation improvement before stopping",
                         interval="[1, inf)")
    seed: int = knob(42, "seed for weights, splits, shuffling and dropout")
    split_seed: int = knob(-1, "seed of the train/validation/test split alone; -1 = seed (set "
                           "it to train models with other seeds on one split, to compare or "
                           "ensemble them)", interval="[-1, inf)")
    deterministic: bool = knob(False, "bit-identical reruns, somewhat slower")

    @property
    def splitting_seed(self) -> int:
        """The seed of the data split: ``split_seed``, or ``seed`` when it is -1."""
        return self.seed if self.split_seed < 0 else self.split_seed


@dataclasses.dataclass
class TuningOptions(AppConfig):
    """keras-tuner search.

    An app lists the metrics its models log in ``TUNING_OBJECTIVES``.
    """

    TUNING_OBJECTIVES: typing.ClassVar[tuple[str, ...]] = ("val_loss", "loss")

    tuner: str = knob("random", "random | hyperband | bayesian | grid", choices=TUNERS)
    max_trials: int = knob(10, "trials (random, bayesian, grid)", interval="[1, inf)")
    executions_per_trial: int = knob(1, "models trained per trial, their scores averaged",
                                     interval="[1, inf)")
    tuning_epochs: int = knob(8, "epochs per trial (hyperband: the most per model)",
                              interval="[1, inf)")
    tuning_objective: str = knob("val_loss", "the metric the search optimises, optionally "
                                 "with its direction (val_accuracy:max)")
    refit: str = knob("train+validation", "the best model's training data: train+validation "
                      "(for the best trial's epochs) or train (early stopping on validation)",
                      choices=("train+validation", "train"))

    def check(self) -> None:
        super().check()
        name, _, direction = self.tuning_objective.partition(":")
        if name not in self.TUNING_OBJECTIVES or direction not in ("", "min", "max"):
            raise ValueError(
                f"`tuning_objective` must be one of "
                f"{', '.join(map(repr, self.TUNING_OBJECTIVES))}, optionally followed by "
                f":min or :max; received {self.tuning_objective!r}"
            )


CALENDAR = ("hour", "dayofweek", "dayofmonth", "month", "dayofyear", "weekofyear")


@dataclasses.dataclass
class SeriesOptions(AppConfig):
    """A timestamped table read into a series, split in time and cut into windows
    (see :mod:`rnn_templates.data.series`).

    ``READER_KEYS`` are the knobs that say how a file is read: a trained model
    keeps them, so ``predict`` reads its history as training read the series.
    """

    READER_KEYS: typing.ClassVar[tuple[str, ...]] = (
        "time_column", "date_format", "targets", "past_covariates", "future_covariates",
        "calendar", "freq", "missing", "max_inserted")

    time_column: str = knob("", "the datetime column; empty: the first column of dates")
    date_format: str = knob("", "strftime format of the time column, e.g. %d.%m.%Y %H:%M:%S, "
                            "or unix / unix_ms for seconds / milliseconds since 1970; empty: "
                            "detected")
    targets: list = knob([], "columns to forecast; empty: every column that is not the time "
                         "or a covariate")
    past_covariates: list = knob([], "columns known only up to the forecast origin")
    future_covariates: list = knob([], "columns known in advance: their values over the "
                                   "horizon are the file's last rows at prediction time")
    calendar: list = knob([], f"calendar features generated as known-future covariates: "
                          f"some of {', '.join(CALENDAR)}")
    freq: str = knob("", "pandas frequency (15min, h, D, W-SAT, MS...); empty: inferred")
    missing: str = knob("interpolate", "gaps and empty/NaN/inf cells: interpolate (linear in "
                        "time), ffill, or error (refuse)", choices=("interpolate", "ffill",
                                                                     "error"))
    max_inserted: float = knob(0.5, "largest share of the series that rows inserted for "
                               "missing steps may make up; more is refused (a mistyped "
                               "timestamp, a file at another frequency)", interval="[0, 1]")
    validation_fraction: float = knob(0.15, "share of the series after training, for early "
                                      "stopping and interval calibration", interval="(0, 0.5)")
    test_fraction: float = knob(0.15, "the last share of the series, held out",
                                interval="[0, 0.5)")
    validation_start: str = knob("", "timestamp where validation starts (instead of the "
                                 "fraction)")
    test_start: str = knob("", "timestamp where the test part starts (instead of the fraction)")
    lookback: int = knob(96, "history steps the model reads", interval="[2, inf)")
    horizon: int = knob(24, "steps forecast at once", interval="[1, inf)")
    stride: int = knob(1, "steps between training windows", interval="[1, inf)")

    def check(self) -> None:
        super().check()
        for name in ("targets", "past_covariates", "future_covariates", "calendar"):
            if not all(isinstance(v, str) for v in getattr(self, name)):
                raise ValueError(f"`{name}` must be a list of column names; received "
                                 f"{getattr(self, name)!r}")
        unknown = [v for v in self.calendar if v not in CALENDAR]
        if unknown:
            raise ValueError(f"`calendar` must hold some of {', '.join(CALENDAR)}; received "
                             f"{unknown[0]!r}")

    def reader(self) -> dict[str, Any]:
        """The reading knobs, by name (what a trained model keeps)."""
        return {key: getattr(self, key) for key in self.READER_KEYS}


INTERVALS = ("conformal", "quantile", "cqr")


@dataclasses.dataclass
class IntervalOptions(AppConfig):
    """Prediction intervals of a forecaster (see :mod:`rnn_templates.forecasting`)."""

    intervals: str = knob("conformal", "how the 80% and 95% intervals are made: conformal "
                          "(split-conformal widths from validation errors around the point "
                          "forecast), quantile (quantile heads trained with the pinball loss; "
                          "the median is the forecast), cqr (the quantile heads' bands "
                          "conformalized on the validation windows)", choices=INTERVALS)
    interval_scale: str = knob("window", "split-conformal intervals: window (errors scaled by "
                               "each window's spread: wider on rough windows) or none (one "
                               "width per step)", choices=("window", "none"))
    recalibration_window: int = knob(
        720, "backtests also report the bands recalibrated as the truth arrives: on the "
        "scores of the last N windows that had ended (0: off)", interval="[0, inf)",
        search=False)
    recalibration_every: int = knob(24, "how many origins share one recalibration",
                                    interval="[1, inf)", search=False)
