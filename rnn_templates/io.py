"""One way to write a file: a unique temporary name beside the target, fsync, rename.

Every JSON, YAML, TSV, PNG, leaderboard, model and SavedModel the project
writes goes through :func:`atomic_path`, so a reader (or a crash) only ever
sees the complete old file or the complete new one. Temporary files are made
with the user's normal permissions (``0o666`` less the umask, folders
``0o777`` less the umask), not the ``0o600`` of ``tempfile``, so a serving
process running as another user can read an export.

Folders are replaced only when this project wrote them: :func:`check_replaceable`
refuses a destination that holds anything else, and names it.
"""

from __future__ import annotations

import contextlib
import csv
import io
import json
import os
import secrets
import shutil
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from rnn_templates.errors import UserInputError

# A file this project leaves in every folder it creates as a whole (run
# directories, exports): replacing a folder without it is refused.
MARKER = ".rnnt"


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def normal_permissions(path: str | os.PathLike) -> None:
    """Give ``path`` the mode a plain ``open``/``mkdir`` would have given it."""
    path = Path(path)
    mode = 0o777 if path.is_dir() else 0o666
    os.chmod(path, mode & ~_umask())


def _temporary_name(target: Path) -> Path:
    # The target's suffix is kept at the end: some writers (Keras) check it.
    return target.with_name(
        f".{target.name}.{os.getpid()}.{secrets.token_hex(4)}.tmp{target.suffix}")


def _fsync(path: Path) -> None:
    if path.is_file():
        with open(path, "rb") as stream:
            os.fsync(stream.fileno())


@contextlib.contextmanager
def atomic_path(target: str | os.PathLike, *, directory: bool = False) -> Iterator[Path]:
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
    target = Path(target)
    if not directory and target.is_dir():
        raise UserInputError("the output path is a folder", where=str(target),
                             expected="a file name", fix="give a file path, not a folder")
    make_folder(target.parent)
    temporary = _temporary_name(target)
    if directory:
        temporary.mkdir()
    try:
        yield temporary
        if directory:
            for inner in [temporary, *temporary.rglob("*")]:
                normal_permissions(inner)
            seal(temporary)
            replace_directory(temporary, target)
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
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except (FileExistsError, NotADirectoryError):
        blocker = next((p for p in [folder, *folder.parents] if p.exists() and not p.is_dir()),
                       folder)
        raise UserInputError("a file stands where a folder is needed", where=str(blocker),
                             expected=f"a folder for {folder}",
                             fix=f"choose another {option}, or move that file") from None
    return folder


def seal(folder: str | os.PathLike) -> None:
    """Write the marker of a finished folder, listing the entries this project wrote.

    :func:`check_replaceable` then refuses to replace the folder if anything
    else has been put in it since.
    """
    folder = Path(folder)
    names = sorted(p.name for p in folder.iterdir() if p.name != MARKER)
    (folder / MARKER).write_text("".join(f"{name}\n" for name in names), encoding="utf-8")


def _register(written: Path) -> None:
    """Add ``written`` to the list of the nearest sealed folder above it (a report
    that ``evaluate`` or ``export`` adds to a finished run), so that folder can still be
    replaced."""
    for folder in written.parents:
        marker = folder / MARKER
        if marker.is_file():
            names = marker.read_text(encoding="utf-8").splitlines()
            entry = written.relative_to(folder).parts[0]
            if names and entry not in names:  # an empty marker: a folder still being built
                with open(marker, "a", encoding="utf-8") as stream:
                    stream.write(f"{entry}\n")
            return


def check_replaceable(target: str | os.PathLike, *, option: str = "--output") -> None:
    """Refuse ``target`` unless it is absent or a folder this project wrote.

    Raises:
        UserInputError: ``target`` is a file, a folder without the marker
            (it would hold the user's own files), or a sealed folder holding
            entries added after this project wrote it.
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
        written = set(marker.read_text(encoding="utf-8").splitlines())
        foreign = sorted(p.name for p in target.iterdir()
                         if written and p.name != MARKER and p.name not in written)
        problem, expected = "files added after rnnt wrote it", "only what rnnt wrote there"
        kind, fix = "added entries", f"move them out first, or choose another {option}"
    else:
        foreign = sorted(p.name for p in target.iterdir())
        problem, expected = ("files this tool did not write",
                             "a new or empty folder, or one written by rnnt")
        kind, fix = "entries", f"choose another {option}"
    if foreign:
        raise UserInputError(
            f"destination folder holds {problem}; nothing was replaced", where=str(target),
            expected=expected, received=f"{len(foreign)} {kind} such as {foreign[:3]}",
            fix=fix)


def replace_directory(source: Path, target: Path) -> None:
    """Rename ``source`` onto ``target``; an old ``target`` is removed only afterwards."""
    check_replaceable(target)
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
    shutil.rmtree(aside, ignore_errors=True)


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
    """Write indented, key-sorted JSON atomically."""
    return write_text(path, json.dumps(data, indent=2, sort_keys=True) + "\n")


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
