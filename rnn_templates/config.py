"""Typed app configs: a dataclass of defaults, a YAML file, then ``--set`` overrides.

Precedence is defaults < YAML file < ``--set key=value`` (last wins), the
lightning-hydra habit of small override files that hold only what differs.
Values are parsed as YAML scalars (``3``, ``0.5``, ``true``, ``null``,
``[1, 2]``) and checked against the field's type, so a typo fails before any
work starts, with the list of valid keys.
"""

from __future__ import annotations

import dataclasses
import os
import re
import tempfile
import types
import typing
from pathlib import Path
from typing import Any, TypeVar

import yaml

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
        if origin in (list, tuple) and isinstance(value, (list, tuple)):
            return list(value)
    names = " or ".join(getattr(k, "__name__", str(k)) for k in allowed)
    raise UserInputError(
        f"wrong type for config key '{field.name}'",
        where=where,
        expected=names,
        received=f"{value!r} ({type(value).__name__})",
        fix=f"set it like --set {field.name}=<{names}>",
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


def load_config(
    config_class: type[C],
    yaml_path: str | os.PathLike | None = None,
    overrides: list[str] | dict[str, Any] | None = None,
) -> C:
    """Build a config from defaults, an optional YAML file and overrides.

    Args:
        config_class: The app's config dataclass.
        yaml_path: A YAML mapping of keys to values, or None.
        overrides: ``key=value`` strings (from ``--set``) or a dict.

    Returns:
        An instance of ``config_class``.

    Raises:
        UserInputError: unreadable YAML, an unknown key (the message lists the
            valid keys), a value of the wrong type, or a value the config's own
            checks refuse.
    """
    fields = {f.name: f for f in dataclasses.fields(config_class)}
    hints = typing.get_type_hints(config_class)
    values: dict[str, Any] = {}
    sources: list[tuple[str, dict[str, Any]]] = []
    if yaml_path is not None:
        path = Path(yaml_path)
        if not path.is_file():
            raise UserInputError(
                "config file not found", where=str(path), fix="check the path given to --config"
            )
        try:
            loaded = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        except (yaml.YAMLError, UnicodeDecodeError) as error:
            first_line = str(error).splitlines()[0]
            raise UserInputError(
                "config file is not valid YAML", where=str(path), received=first_line
            ) from None
        if not isinstance(loaded, dict):
            raise UserInputError(
                "config file must hold a mapping of keys to values",
                where=str(path),
                received=type(loaded).__name__,
            )
        sources.append((str(path), loaded))
    if overrides:
        parsed = parse_overrides(overrides) if isinstance(overrides, list) else dict(overrides)
        sources.append(("--set", parsed))
    for where, mapping in sources:
        for key, value in mapping.items():
            if key not in fields:
                raise UserInputError(
                    f"unknown config key '{key}'",
                    where=where,
                    expected=f"one of {', '.join(sorted(fields))}",
                    received=repr(key),
                    fix="check the spelling; `rnnt <app> train --help-config` lists each key",
                )
            values[key] = _coerce(fields[key], value, where, hints)
    try:
        return config_class(**values)
    except ValueError as error:
        raise UserInputError(str(error), where="config") from None


def describe_config(config_class: type) -> str:
    """One line per key: name, type and default, for ``--help-config``."""
    hints = typing.get_type_hints(config_class)
    lines = []
    for field in dataclasses.fields(config_class):
        default = field.default
        if default is dataclasses.MISSING and field.default_factory is not dataclasses.MISSING:
            default = field.default_factory()
        kind = getattr(hints[field.name], "__name__", str(hints[field.name]))
        lines.append(f"{field.name:24s} {kind:16s} default: {default!r}")
    return "\n".join(lines)


def write_yaml_atomic(data: dict[str, Any], path: str | os.PathLike) -> None:
    """Write ``data`` as YAML through a temporary file renamed into place."""
    path = Path(path)
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as stream:
            yaml.safe_dump(data, stream, sort_keys=False)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
