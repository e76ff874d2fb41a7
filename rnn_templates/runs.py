"""Run directories: written as ``<run>.partial``, locked, resumable, renamed when complete.

The rules, each of which protects a user's work:

- a run is built in ``<run>.partial`` and renamed to ``<run>`` only when it
  completes, so a directory without the suffix is always a finished run;
- one process at a time: the partial directory holds a lock (``.lock``, an
  ``flock`` the kernel drops when its owner dies) that names the owner's
  process, and a second process is refused with that name;
- an existing ``<run>`` is replaced only with ``overwrite`` and only if this
  project wrote it (its ``.rnnt`` marker); the old run is removed only after
  the new one is in place;
- the resolved config is written first; a rerun with a different config is
  refused, naming the keys that differ, instead of resuming into a mix;
- once an epoch has finished nothing is deleted: a failure (a bug, a full
  disk, Ctrl-C) keeps the partial directory and says how to resume.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import fcntl
import os
import shutil
import socket
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import yaml

from rnn_templates import io
from rnn_templates.errors import UserInputError

PARTIAL_SUFFIX = ".partial"
LOCK_FILE = ".lock"
CONFIG_FILE = "config.yaml"
# Files whose presence means an epoch (or more) has been trained.
TRAINED_MARKS = ("history.csv", "model.keras", "backup")


def default_run_dir(root: str | os.PathLike, app: str) -> Path:
    """``<root>/<app>/<date>-<time>-<pid>``: unique across processes started together."""
    stamp = dt.datetime.now().strftime("%Y%m%d-%H%M%S")
    return Path(root) / app / f"{stamp}-{os.getpid()}"


def partial_path(final: str | os.PathLike) -> Path:
    final = io.named(final)
    return final.with_name(final.name + PARTIAL_SUFFIX)


def has_trained_work(directory: Path) -> bool:
    return any((directory / name).exists() for name in TRAINED_MARKS)


class DirectoryLock:
    """An exclusive ``flock`` on ``<directory>/.lock`` that records its owner.

    The kernel releases the lock when the owning process dies, so a lock left
    by a killed run never blocks the next one.
    """

    def __init__(self, directory: Path, *, what: str = "run directory",
                 fix: str = "wait for that run to finish, or choose another --run-dir"):
        self.path = directory / LOCK_FILE
        self.what, self.fix = what, fix
        self._stream = None

    def acquire(self) -> None:
        stream = open(self.path, "a+", encoding="utf-8")  # noqa: SIM115 (held until release)
        try:
            fcntl.flock(stream, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            stream.seek(0)
            owner = stream.read().strip() or "another process"
            stream.close()
            raise UserInputError(
                f"{self.what} is in use",
                where=str(self.path.parent),
                received=f"locked by {owner}",
                fix=self.fix,
            ) from None
        stream.seek(0)
        stream.truncate()
        stream.write(f"process {os.getpid()} on {socket.gethostname()}\n")
        stream.flush()
        self._stream = stream

    def release(self) -> None:
        if self._stream is not None:
            with contextlib.suppress(OSError):
                Path(self._stream.name).unlink(missing_ok=True)
            self._stream.close()
            self._stream = None


def _differing_keys(old: dict[str, Any], new: dict[str, Any]) -> list[str]:
    return sorted(key for key in old.keys() | new.keys() if old.get(key) != new.get(key))


def read_config(directory: str | os.PathLike) -> dict[str, Any] | None:
    """The config a run directory was started with (``None`` if it has none)."""
    stored = Path(directory) / CONFIG_FILE
    if not stored.is_file():
        return None
    return yaml.safe_load(stored.read_text(encoding="utf-8")) or {}


def _check_resume_config(work: Path, config: dict[str, Any]) -> None:
    previous = read_config(work)
    if previous is None:
        io.write_yaml(work / CONFIG_FILE, config)
        return
    # Round-trip the new config through YAML so tuples and lists compare alike.
    current = yaml.safe_load(yaml.safe_dump(config))
    differing = _differing_keys(previous, current)
    if differing:
        shown = ", ".join(f"{k}={previous.get(k)!r}" for k in differing[:5])
        raise UserInputError(
            "the interrupted run in this directory was started with other settings",
            where=str(work),
            expected=f"its settings to resume ({shown})",
            received=", ".join(f"{k}={current.get(k)!r}" for k in differing[:5]),
            fix="rerun with the original settings to resume it, or choose another --run-dir "
            f"(the interrupted run stays in {work})",
        )


@contextlib.contextmanager
def run_directory(
    final: str | os.PathLike,
    *,
    overwrite: bool = False,
    config: dict[str, Any] | None = None,
) -> Iterator[Path]:
    """Work in ``<final>.partial`` and rename it to ``final`` when the block completes.

    Args:
        final: The run directory to produce.
        overwrite: Replace an existing ``final`` (only one this project wrote).
        config: The resolved config, written to ``config.yaml`` at the start and
            compared with the stored one when an interrupted run is resumed.

    Yields:
        The partial directory to write into.

    Raises:
        UserInputError: ``final`` exists (without ``overwrite``), is not a run
            directory, is locked by another process, or an interrupted run there
            has a different config.
    """
    final = io.named(final)
    work = partial_path(final)
    if final.exists() and not overwrite:
        raise UserInputError(
            "run directory already exists",
            where=str(final),
            fix="choose another --run-dir, or add --overwrite to replace it",
        )
    io.check_replaceable(final, option="--run-dir", kind="run")
    io.check_replaceable(work, option="--run-dir", kind="run")
    resumed = work.exists() and has_trained_work(work)
    io.make_folder(work, option="--run-dir")
    created = not (work / io.MARKER).exists()
    io.mark_building(work, "run")
    io.normal_permissions(work)
    lock = DirectoryLock(work)
    lock.acquire()
    try:
        if config is not None:
            _check_resume_config(work, config)
    except BaseException:
        lock.release()
        raise
    if resumed:
        print(f"resuming the interrupted run in {work}", file=sys.stderr)
    try:
        yield work
    except BaseException as error:
        lock.release()
        if not has_trained_work(work) and created:
            shutil.rmtree(work, ignore_errors=True)
            raise
        if isinstance(error, KeyboardInterrupt):
            raise RunInterrupted(
                f"interrupted; run the same command again (with --run-dir {final}) to resume "
                f"from {work}") from None
        if not isinstance(error, UserInputError):
            print(f"the trained work is kept in {work}; run the same command again (with "
                  f"--run-dir {final}) to resume from its last finished epoch", file=sys.stderr)
        raise
    lock.release()
    if final.exists() and not overwrite:
        # Another process finished a run of the same name while this one worked.
        raise UserInputError(
            "run directory was written by another process meanwhile", where=str(final),
            fix=f"this run is kept in {work}: rename it, or rerun with --overwrite")
    io.seal(work, "run")
    io.replace_directory(work, final, kind="run")


class RunInterrupted(KeyboardInterrupt):
    """Ctrl-C during a run; ``str()`` says where the kept work is and how to resume."""


def served_model(path: Path) -> Path:
    """``path``, or for a run directory its exported ``saved_model`` (else its
    ``model.keras``), so ``predict --model runs/sentiment/demo`` serves that run."""
    if path.is_dir() and not (path / "saved_model.pb").is_file():
        for inside in (path / "saved_model" / "saved_model.pb", path / "model.keras"):
            if inside.is_file():
                return inside.parent if inside.name == "saved_model.pb" else inside
    return path
