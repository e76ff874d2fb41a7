"""One way to write a file: a unique temporary name beside the target, fsync, rename.

Every JSON, YAML, TSV, PNG, leaderboard, model and SavedModel the project
writes goes through :func:`atomic_path`, so a reader (or a crash) only ever
sees the complete old file or the complete new one. Temporary files are made
with the user's normal permissions (``0o666`` less the umask, folders
``0o777`` less the umask), not the ``0o600`` of ``tempfile``, so a serving
process running as another user can read an export.

Folders are replaced only when this project wrote them: :func:`check_replaceable`
refuses a destination that holds anything else (at any depth), or a folder of
another kind (a training run where an export goes), and names it.
"""

from __future__ import annotations

import contextlib
import contextvars
import csv
import errno
import glob
import io
import json
import math
import os
import re
import secrets
import shutil
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any, NamedTuple

from rnn_templates.errors import UserInputError, counted

# A file this project leaves in every folder it creates as a whole (run
# directories, exports): replacing a folder without it is refused. Its first
# line names the folder's kind; every later line is the relative path of a file
# or folder this project wrote there (a folder sealed on its own, an export
# inside a run, is listed by name and checked against its own marker). A marker
# of earlier versions lists top-level names only, with no header.
MARKER = ".rnnt"
_HEADER = "# rnnt "
BUILDING = "building"  # the kind of a folder still being written (a run's .partial)
# The temporary names of _temporary_name and save_weights, with the writer's pid.
_TEMPORARY = re.compile(r"^\.(?:.+\.(\d+)\.[0-9a-f]{8}\.tmp|partial-(\d+)-.+)")


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def normal_permissions(path: str | os.PathLike) -> None:
    """Give ``path`` the mode a plain ``open``/``mkdir`` would have given it."""
    path = Path(path)
    mode = 0o777 if path.is_dir() else 0o666
    os.chmod(path, mode & ~_umask())


def named(path: str | os.PathLike) -> Path:
    """``path``, made absolute where it has no name of its own (``.``, ``..``), so that
    names beside it (temporaries, ``.partial``) can be made."""
    path = Path(path)
    return Path(os.path.abspath(path)) if path.name in ("", ".", "..") else path


def _temporary_name(target: Path) -> Path:
    # The target's suffix is kept at the end: some writers (Keras) check it.
    return target.with_name(
        f".{target.name}.{os.getpid()}.{secrets.token_hex(4)}.tmp{target.suffix}")


def _fsync(path: Path) -> None:
    if path.is_file():
        with open(path, "rb") as stream:
            os.fsync(stream.fileno())


@contextlib.contextmanager
def atomic_path(target: str | os.PathLike, *, directory: bool = False,
                kind: str = "export") -> Iterator[Path]:
    """Yield a temporary path beside ``target``; rename it onto ``target`` on success.

    The caller writes a file (or, with ``directory=True``, fills a folder) at
    the yielded path. On success it is fsynced, given normal permissions and
    renamed into place (a folder replaces an earlier one only if
    :func:`check_replaceable` allows it); on any error it is removed and
    ``target`` is left untouched.

    Example:
        >>> import tempfile, pathlib
        >>> folder = pathlib.Path(tempfile.mkdtemp())
        >>> with atomic_path(folder / "hello.txt") as temporary:
        ...     _ = temporary.write_text("hi")
        >>> sorted(p.name for p in folder.iterdir())
        ['hello.txt']
    """
    target = named(target)
    if not directory and target.is_dir():
        raise UserInputError("the output path is a folder", where=str(target),
                             expected="a file name", fix="give a file path, not a folder")
    make_folder(target.parent)
    _remove_stale_temporaries(target)
    temporary = _temporary_name(target)
    if directory:
        temporary.mkdir()
    try:
        yield temporary
        if directory:
            for inner in [temporary, *temporary.rglob("*")]:
                normal_permissions(inner)
            seal(temporary, kind)
            replace_directory(temporary, target, kind=kind)
        else:
            _fsync(temporary)
            normal_permissions(temporary)
            os.replace(temporary, target)
        _register(target)
    except BaseException:
        if temporary.is_dir():
            shutil.rmtree(temporary, ignore_errors=True)
        else:
            temporary.unlink(missing_ok=True)
        raise


def make_folder(folder: str | os.PathLike, *, option: str = "--output") -> Path:
    """``mkdir -p``, with a file in the way reported as one line instead of an OSError."""
    folder = Path(folder)
    missing = [p for p in [folder, *folder.parents] if not p.exists()]
    try:
        folder.mkdir(parents=True, exist_ok=True)
        for created in reversed(missing):  # ours now: listed in a sealed folder around them
            _register(created)
    except (FileExistsError, NotADirectoryError):
        check_folder_path(folder, option=option, blocked=True)
    return folder


def check_folder_path(folder: Path, *, option: str, blocked: bool = False) -> None:
    """Refuse, in one line, a file standing at ``folder`` or at one of its parents
    (without creating anything); ``blocked``: mkdir already failed, so refuse anyway."""
    blocker = next((p for p in [folder, *folder.parents] if p.exists() and not p.is_dir()),
                   folder if blocked else None)
    if blocker is not None:
        raise UserInputError("a file stands where a folder is needed", where=str(blocker),
                             expected=f"a folder for {folder}",
                             fix=f"choose another {option}, or move that file") from None


def stale_temporary(path: Path) -> bool:
    """Whether ``path`` is a temporary file or folder of this project whose writer is gone
    (a process killed mid-write leaves one)."""
    match = _TEMPORARY.match(path.name)
    if not match:
        return False
    pid = int(match.group(1) or match.group(2))
    if pid == os.getpid():
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    return False


def _remove_stale_temporaries(target: Path) -> None:
    """Remove the temporaries that writers of ``target`` killed mid-write left beside it
    (named by :func:`_temporary_name`, their process gone)."""
    prefix, suffix = f".{target.name}.", f".tmp{target.suffix}"
    for path in target.parent.glob(f".{glob.escape(target.name)}.*"):
        if path.name.startswith(prefix) and path.name.endswith(suffix) and stale_temporary(path):
            _remove(path)


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path, ignore_errors=True)
    else:
        path.unlink(missing_ok=True)


def _written(folder: Path) -> list[str]:
    """Relative paths of everything in ``folder``; a sealed sub-folder by name only.
    Stale temporaries (this project's, their writer gone) are removed, not listed."""
    entries = []
    for path in sorted(folder.iterdir()):
        if path.name == MARKER:
            continue
        if stale_temporary(path):
            _remove(path)
            continue
        entries.append(path.name)
        if path.is_dir() and not path.is_symlink() and not (path / MARKER).is_file():
            entries.extend(f"{path.name}/{inner}" for inner in _written(path))
    return entries


def seal(folder: str | os.PathLike, kind: str = "export") -> None:
    """Write the marker of a finished folder of ``kind`` (``run``, ``export``), listing
    everything this project wrote in it.

    :func:`check_replaceable` then refuses to replace the folder if anything
    else has been put in it since, at any depth.
    """
    folder = Path(folder)
    lines = [f"{_HEADER}{kind}", *_written(folder)]
    (folder / MARKER).write_text("".join(f"{line}\n" for line in lines), encoding="utf-8")


def mark_building(folder: str | os.PathLike, kind: str = "run") -> None:
    """The marker of a folder this project is still filling (a run's ``.partial``)."""
    marker = Path(folder) / MARKER
    if not marker.is_file() or not marker.read_text(encoding="utf-8").strip():
        marker.write_text(f"{_HEADER}{BUILDING} {kind}\n", encoding="utf-8")


class Marker(NamedTuple):
    """A folder's marker: its kind, the entries written (None while it is being built),
    and whether it is of an earlier version (top-level names only, kind inferred)."""

    kind: str | None
    entries: list[str] | None
    legacy: bool


def read_marker(folder: Path) -> Marker:
    lines = (folder / MARKER).read_text(encoding="utf-8").splitlines()
    if lines and lines[0].startswith(_HEADER):
        kind = lines[0][len(_HEADER):].strip()
        return Marker(kind, None if kind.startswith(BUILDING) else lines[1:], False)
    if not lines:  # an empty marker of earlier versions: being built
        return Marker(f"{BUILDING} run", None, True)
    kind = ("export" if "saved_model.pb" in lines else
            "run" if "model.keras" in lines or "config.yaml" in lines else None)
    return Marker(kind, lines, True)


_USERS_OUTPUTS: contextvars.ContextVar[bool] = contextvars.ContextVar("users_outputs",
                                                                      default=False)


@contextlib.contextmanager
def users_outputs() -> Iterator[None]:
    """Files and folders written inside this block belong to the user (``predict``'s
    outputs): still written atomically, but never listed in a sealed folder around
    them, so replacing or re-exporting that run refuses to delete them rather than
    deleting them as its own."""
    token = _USERS_OUTPUTS.set(True)
    try:
        yield
    finally:
        _USERS_OUTPUTS.reset(token)


def _register(written: Path) -> None:
    """Add ``written`` to the list of the nearest sealed folder above it (a report
    that ``evaluate`` or ``export`` adds to a finished run), so that folder can still be
    replaced. Folders on the way that this project did not list stay unlisted: a
    user's folder holding an output is still the user's, and so is what is written
    under :func:`users_outputs`."""
    if _USERS_OUTPUTS.get():
        return
    for folder in written.parents:
        marker = folder / MARKER
        if marker.is_file():
            found = read_marker(folder)
            if found.entries is None:  # a folder still being built
                return
            relative = written.relative_to(folder)
            entry = relative.parts[0] if found.legacy else relative.as_posix()
            if entry not in found.entries:
                with open(marker, "a", encoding="utf-8") as stream:
                    stream.write(f"{entry}\n")
                if not found.legacy and written.is_dir() and not (written / MARKER).is_file():
                    with open(marker, "a", encoding="utf-8") as stream:
                        stream.writelines(f"{entry}/{inner}\n" for inner in _written(written))
            return


KIND_NAMES = {"run": "training run", "export": "exported model"}


def _foreign(folder: Path, written: set[str], prefix: str = "") -> list[str]:
    """Entries under ``folder`` missing from ``written`` (relative paths), at any depth;
    a listed sub-folder with a marker of its own is checked against that one."""
    foreign = []
    for path in sorted(folder.iterdir()):
        relative = f"{prefix}{path.name}"
        if path.name == MARKER or stale_temporary(path):
            continue
        if relative not in written:
            foreign.append(relative)
        elif path.is_dir() and not path.is_symlink():
            if (path / MARKER).is_file():
                foreign.extend(f"{relative}/{name}"
                               for name in _foreign_of(path, read_marker(path)))
            else:
                foreign.extend(_foreign(path, written, f"{relative}/"))
    return foreign


def _foreign_of(folder: Path, marker: Marker) -> list[str]:
    if marker.entries is None:  # still being built: all of it is this project's
        return []
    if marker.legacy:  # top-level names only
        return sorted(p.name for p in folder.iterdir()
                      if p.name != MARKER and p.name not in marker.entries
                      and not stale_temporary(p))
    return _foreign(folder, set(marker.entries))


def check_replaceable(target: str | os.PathLike, *, option: str = "--output",
                      kind: str | None = None) -> None:
    """Refuse ``target`` unless it is absent or a folder this project wrote (of ``kind``).

    Raises:
        UserInputError: ``target`` is a file, a folder without the marker
            (it would hold the user's own files), a folder of another kind
            (``kind``: ``run`` or ``export``), or a sealed folder holding entries
            added after this project wrote it, at any depth.
    """
    target = Path(target)
    if not target.exists():
        return
    if not target.is_dir():
        raise UserInputError(
            "destination is a file, not a folder",
            where=str(target),
            expected="a new folder, or one this tool wrote",
            fix=f"choose another {option}",
        )
    marker = target / MARKER
    if marker.is_file():  # a sealed folder: anything not in its list was added since
        marker_found = read_marker(target)
        found = marker_found.kind
        if kind is not None and found is not None and found.split()[-1] != kind:
            building = found.startswith(BUILDING)
            what = KIND_NAMES.get(found.split()[-1], found)
            want = KIND_NAMES.get(kind, kind)
            raise UserInputError(
                f"destination is {'an unfinished' if building else 'a'} {what}, not "
                f"{'an' if want[0] in 'aeiou' else 'a'} {want}; nothing was replaced",
                where=str(target), fix=f"choose another {option}")
        foreign = _foreign_of(target, marker_found)
        problem, expected = "files added after rnnt wrote it", "only what rnnt wrote there"
        kind, plural = "added entry", "added entries"
        fix = f"move them out first, or choose another {option}"
    else:
        foreign = sorted(p.name for p in target.iterdir() if not stale_temporary(p))
        problem, expected = ("files this tool did not write",
                             "a new or empty folder, or one written by rnnt")
        kind, plural, fix = "entry", "entries", f"choose another {option}"
    if foreign:
        raise UserInputError(
            f"destination folder holds {problem}; nothing was replaced", where=str(target),
            expected=expected,
            received=f"{counted(len(foreign), kind, plural)} such as {foreign[:3]}",
            fix=fix)


def replace_directory(source: Path, target: Path, *, kind: str | None = None) -> None:
    """Rename ``source`` onto ``target``; an old ``target`` is removed only afterwards."""
    check_replaceable(target, kind=kind)
    if not target.exists():
        os.replace(source, target)
        return
    aside = _temporary_name(target)
    os.replace(target, aside)
    try:
        os.replace(source, target)
    except BaseException:
        os.replace(aside, target)
        raise
    _remove(aside)  # a symbolic link goes, not the folder it points to


# What link() answers where a file system has no hard links.
_NO_HARD_LINKS = {errno.EPERM, errno.ENOTSUP, errno.EOPNOTSUPP, errno.ENOSYS, errno.EMLINK}


def write_numbered(name: Any, first: int, data: bytes) -> tuple[int, Path]:
    """Write ``data`` whole to the first free ``name(number)`` from ``first`` on.

    The file is written under a temporary name, then hard-linked to its name,
    which fails if the name is taken: two processes numbering files in one
    folder at once never write over each other's. On a file system without
    hard links (FAT, exFAT, some network shares) the name is claimed by
    creating it exclusively, and the written file is renamed onto the claim.

    Returns:
        ``(number, path)`` of the file written.
    """
    number = first
    target = Path(name(number))
    make_folder(target.parent)
    temporary = _temporary_name(target)
    try:
        temporary.write_bytes(data)
        _fsync(temporary)
        normal_permissions(temporary)
        linking = True
        while True:
            try:
                if linking:
                    os.link(temporary, target)
                else:
                    os.close(os.open(target, os.O_CREAT | os.O_EXCL | os.O_WRONLY))
                    try:
                        os.replace(temporary, target)
                    except BaseException:
                        target.unlink(missing_ok=True)  # our empty claim, never a file
                        raise
                break
            except FileExistsError:
                number += 1
                target = Path(name(number))
            except OSError as error:
                if not linking or error.errno not in _NO_HARD_LINKS:
                    raise
                linking = False
    finally:
        temporary.unlink(missing_ok=True)
    _register(target)
    return number, target


def write_text(path: str | os.PathLike, text: str) -> Path:
    """Write UTF-8 text atomically."""
    with atomic_path(path) as temporary:
        temporary.write_text(text, encoding="utf-8")
    return Path(path)


def save_weights(model: Any, path: str | os.PathLike) -> Path:
    """``model.save_weights`` to a name of this process's beside ``path``, then renamed onto it.

    A writer killed or hung mid-write (HDF5 keeps the file it writes locked)
    leaves neither a half-written nor a locked file at ``path``. The
    temporary name ends like ``path`` (Keras checks for ``.weights.h5``).
    """
    target = Path(path)
    partial = target.with_name(f".partial-{os.getpid()}-{target.name}")
    model.save_weights(str(partial))
    os.replace(partial, target)
    return target


def write_json(path: str | os.PathLike, data: Any) -> Path:
    """Write indented, key-sorted JSON atomically; NaN and infinite numbers (a score
    with nothing to score, say) are written as ``null``, which every JSON reader takes.

    Example:
        >>> import tempfile, pathlib
        >>> path = write_json(pathlib.Path(tempfile.mkdtemp()) / "m.json", {"auc": float("nan")})
        >>> json.loads(path.read_text())
        {'auc': None}
    """
    return write_text(path, json.dumps(_finite(data), indent=2, sort_keys=True,
                                       allow_nan=False) + "\n")


def _finite(data: Any) -> Any:
    """``data`` with every NaN or infinite float replaced by None."""
    if isinstance(data, float):
        return data if math.isfinite(data) else None
    if isinstance(data, dict):
        return {key: _finite(value) for key, value in data.items()}
    if isinstance(data, list | tuple):
        return [_finite(value) for value in data]
    return data


def write_yaml(path: str | os.PathLike, data: dict[str, Any]) -> Path:
    """Write a mapping as YAML atomically, keys in their given order."""
    import yaml

    return write_text(path, yaml.safe_dump(data, sort_keys=False, allow_unicode=True))


def write_table(
    path: str | os.PathLike, header: list[str], rows: Iterable[Iterable[Any]], delimiter: str = "\t"
) -> Path:
    """Write a CSV or TSV table (a header, then rows) atomically."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, delimiter=delimiter, lineterminator="\n")
    writer.writerow(header)
    writer.writerows(rows)
    return write_text(path, buffer.getvalue())


def markdown_table(rows: Iterable[dict[str, Any]], columns: list[str] | None = None) -> str:
    """A Markdown table of ``rows`` (dicts): ``columns``, or every key in first-seen order.

    Missing cells are empty; ``|`` and line breaks inside a cell are escaped.

    Example:
        >>> print(markdown_table([{"a": 1, "b": "x|y"}, {"a": 2}]), end="")
        | a | b |
        |---|---|
        | 1 | x\\|y |
        | 2 |  |
    """
    rows = list(rows)
    if columns is None:
        columns = []
        for row in rows:
            columns.extend(key for key in row if key not in columns)
    lines = ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    for row in rows:
        cells = (" ".join(str(row.get(c, "")).split()).replace("|", "\\|") for c in columns)
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def save_figure(figure: Any, path: str | os.PathLike) -> Path:
    """Save a matplotlib figure as PNG atomically and close it."""
    import matplotlib.pyplot as plt

    try:
        with atomic_path(path) as temporary:
            figure.savefig(temporary, format="png", dpi=120, bbox_inches="tight")
    finally:
        plt.close(figure)
    return Path(path)


# Every character str.splitlines() ends a line at, but "\n" (a line never holds one).
_LINE_BREAKS = dict.fromkeys(map(ord, "\r\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029"), " ")


def one_line(text: str) -> str:
    """``text`` with every character that some reader takes for a line break (carriage
    return, form feed, U+0085, U+2028...) written as a space, so that output line N
    stays input line N.

    Example:
        >>> one_line("mid" + chr(13) + "line" + chr(0x2028) + "end")
        'mid line end'
    """
    return text.translate(_LINE_BREAKS).replace("\n", " ")


def json_line(row: dict[str, Any]) -> str:
    """One JSON object on one line, even for readers that also split at U+0085/U+2028/U+2029.

    Example:
        >>> json_line({"text": "a\u2028b"})
        '{"text": "a\\\\u2028b"}'
    """
    text = json.dumps(row, ensure_ascii=False)
    for character in ("\u0085", "\u2028", "\u2029"):
        text = text.replace(character, f"\\u{ord(character):04x}")
    return text
