"""Reading pieces: a folder of MIDI files and/or chorale CSV files.

With ``representation="voices"`` every piece becomes an int array ``(steps,
voices)`` of MIDI pitches on a time grid, 0 for silence; with ``"events"`` a
float array ``(notes, 3)`` of its melody's note events: pitch, step (from the
previous note's start) and duration, in quarter notes. What could not be read
is named and skipped, never silently: the reader returns the list, and the
app prints it.
"""

from __future__ import annotations

import dataclasses
import sys
from pathlib import Path

import numpy as np
import pandas as pd

from rnn_templates.data import midi
from rnn_templates.data.readers import resolve_path
from rnn_templates.data.splits import random_split
from rnn_templates.errors import UserInputError, counted

MIDI_SUFFIXES = (".mid", ".midi", ".kar", ".rmi")
SPLIT_FOLDERS = {"train": "train", "valid": "validation", "validation": "validation",
                 "test": "test"}


@dataclasses.dataclass
class Pieces:
    """Pieces (grids of voices or note events) with their names and, when the folder
    says, their splits."""

    grids: list[np.ndarray]
    names: list[str]
    splits: list[str | None]
    source: str
    skipped: list[str] = dataclasses.field(default_factory=list)
    notes: list[str] = dataclasses.field(default_factory=list)

    def __len__(self) -> int:
        return len(self.grids)

    def report(self) -> None:
        """Print what was read, what was repaired, and (to stderr) what was skipped."""
        print(f"read {len(self)} pieces from {self.source}")
        for note in self.notes:
            print(f"  {note}")
        if self.skipped:
            print(f"skipped {len(self.skipped)} unreadable files:", file=sys.stderr)
            for line in self.skipped:
                print(f"  {line}", file=sys.stderr)

    def split(self, seed: int, validation_fraction: float,
              test_fraction: float) -> dict[str, list[int]]:
        """Piece indices per split: the folder's own train/valid/test (pieces outside
        them train), else a shuffle with ``seed`` (at least one validation piece)."""
        if any(self.splits):
            split = {name: [i for i, s in enumerate(self.splits) if s == name]
                     for name in ("train", "validation", "test")}
            split["train"] += [i for i, s in enumerate(self.splits) if s is None]
            for name, folder in (("train", "train/"), ("validation", "valid/")):
                if not split[name]:
                    raise UserInputError(
                        f"the data has split folders but no {name} pieces", where=self.source,
                        expected=f"pieces in {folder} (or, without split folders, one folder "
                        "of pieces that is split by validation_fraction and test_fraction)",
                        fix=f"add a {folder} folder, or put all pieces in one folder")
            return split
        parts = random_split(len(self), {"validation": validation_fraction,
                                         "test": test_fraction}, seed, source=self.source,
                             unit="pieces",
                             fix="add pieces, or put them in train/ and valid/ folders")
        return {name: sorted(part.tolist()) for name, part in parts.items()}


def windows(grids: list[np.ndarray], length: int, stride: int) -> np.ndarray:
    """Every window of ``length`` steps, ``stride`` apart (never padded: a piece shorter
    than one window gives none, see :func:`too_short`)."""
    out = []
    for grid in grids:
        starts = range(0, len(grid) - length + 1, stride)
        out += [grid[start:start + length] for start in starts]
    width = grids[0].shape[1] if grids else 1
    dtype = grids[0].dtype if grids and grids[0].dtype.kind == "f" else np.int16
    return np.stack(out).astype(dtype) if out else np.zeros((0, length, width), dtype)


def too_short(grids: list[np.ndarray], length: int) -> int:
    """How many of ``grids`` give no window of ``length`` steps."""
    return sum(len(grid) < length for grid in grids)


def window_splits(pieces: Pieces, split: dict[str, list[int]], kind, length: int,
                  stride: int, held_out_stride: int) -> dict[str, tuple]:
    """``{split: (windows, targets)}`` of ``length`` steps, held-out splits cut every
    ``held_out_stride``; reports pieces too short for a window and held-out notes outside
    ``kind``'s training range, and refuses a training or validation split with no window.

    ``kind`` is the representation (:mod:`rnn_templates.representations`).
    """
    short = too_short(pieces.grids, length)
    if short:
        print(f"{short} of {len(pieces)} pieces are shorter than window + 1 = {length} steps "
              "and give no window (lower --set window to use them)")
    splits = {}
    for name, indices in split.items():
        inputs = windows([pieces.grids[i] for i in indices], length,
                         stride if name == "train" else held_out_stride)
        splits[name] = (inputs, kind.targets(inputs))
    low, high = kind.low, kind.high
    moved = sum(int(((p > 0) & ((p < low) | (p > high))).sum())
                for name in ("validation", "test") for g in splits[name][0]
                for p in [kind.pitches(g)])
    if moved:
        print(f"{moved} held-out notes outside the training range {low}-{high} read an "
              "octave or more inside it")
    unit = "notes" if kind.name == "events" else "time steps"
    for name in ("train", "validation"):
        if len(splits[name][0]):
            continue
        lengths = [len(pieces.grids[i]) for i in split[name]]
        if lengths:  # pieces, but each shorter than one window
            raise UserInputError(
                f"no {name} window: every {name} piece is shorter than window + 1 = "
                f"{length} {unit}", where=pieces.source,
                received=f"{len(lengths)} {name} piece(s), the longest {max(lengths)} {unit}",
                fix=f"lower --set window to at most {max(lengths) - 1}, or add longer pieces")
        raise UserInputError(f"no {name} piece", where=pieces.source,
                             received=counted(len(pieces), "piece"),
                             fix="add pieces, or change --set validation_fraction")
    return splits


def read_csv_piece(path: Path, voices: int, *, pad: bool = False) -> np.ndarray:
    """A chorale CSV: one row per time step, one integer column per voice (header optional).

    ``pad``: a file with fewer columns than ``voices`` (a seed) leaves the lowest
    voices silent, as a chord with fewer notes does; otherwise it is refused.
    """
    table = pd.read_csv(path, header=None, dtype=str, keep_default_na=False)
    # A header row holds no number at all; a first row with any number is data (and
    # its other cells are checked like every row's).
    header = bool(len(table)) and pd.to_numeric(table.iloc[0].str.strip(),
                                                errors="coerce").isna().all()
    if header:
        table = table.iloc[1:]
    if pad and table.shape[1] > voices:
        raise ValueError(f"{table.shape[1]} columns, but the model has {voices} voices; keep "
                         f"at most {voices} columns, the highest voice first")
    if table.shape[1] != voices and not pad:
        raise ValueError(f"{table.shape[1]} columns, expected one per voice ({voices}); set "
                         f"--set voices={table.shape[1]} if that is right")
    grid = np.zeros(table.shape, dtype=np.int16)
    for column in range(table.shape[1]):
        values = pd.to_numeric(table.iloc[:, column].str.strip(), errors="coerce")
        bad = values.isna() | (values < 0) | (values > 127) | (values % 1 != 0)
        if bad.any():
            row = int(np.flatnonzero(bad.to_numpy())[0])
            line = row + 1 + header
            raise ValueError(f"line {line}, column {column + 1}: expected a MIDI pitch 0-127 "
                             f"(0 = silence), received {table.iloc[row, column]!r}")
        grid[:, column] = values.to_numpy()
    return np.pad(grid, [(0, 0), (0, voices - grid.shape[1])]) if pad else grid


def read_piece(path: Path, voices: int, steps_per_quarter: int,
               representation: str = "voices", *,
               pad: bool = False) -> tuple[np.ndarray, list[str]]:
    """One file's grid (or note events) and notes about it; raises ValueError with the
    reason. ``pad``: a CSV with fewer voices is padded (see :func:`read_csv_piece`)."""
    if path.suffix.lower() == ".csv":
        grid = read_csv_piece(path, voices, pad=pad)
        if representation == "events":
            lower = sum(len(midi.grid_to_events(grid[:, [v]], steps_per_quarter))
                        for v in range(1, grid.shape[1]))
            notes = [f"{lower} notes of the lower voices left out (events keep the top "
                     "voice)"] if lower else []
            return midi.grid_to_events(grid, steps_per_quarter), notes
        return grid, []
    music, repairs, zero_length = midi.load_pretty_midi(path)
    notes = [f"repaired ({', '.join(repairs)})"] if repairs else []
    if zero_length:
        notes.append(f"{zero_length} notes of zero length (a note-off on the note-on's own "
                     "tick) left out")
    drums = sum(len(inst.notes) for inst in music.instruments if inst.is_drum)
    if drums and not any(inst.notes for inst in music.instruments if not inst.is_drum):
        raise ValueError(f"only drum notes ({drums}), and drums are not voiced")
    zero = midi.pitch_zero_notes(music)
    if zero:
        notes.append(f"{zero} notes of pitch 0 left out: 0 is silence here, so they cannot "
                     "be voiced")
    if representation == "events":
        events, dropped = midi.to_events(music)
        if dropped:
            notes.append(f"{dropped} notes under the melody (starting with a higher one) "
                         "left out")
        return events, notes
    read = midi.to_grid(music, voices, steps_per_quarter)
    if read.dropped_notes:
        notes.append(f"{read.dropped_notes} notes beyond the {voices} highest voices left out")
    if read.drum_notes:
        notes.append(f"{read.drum_notes} drum notes kept apart (not voiced)")
    return read.grid, notes


def load(data: str, voices: int, steps_per_quarter: int,
         representation: str = "voices") -> Pieces:
    """Every readable piece under ``data`` (a folder, or one file)."""
    path = Path(resolve_path(data))
    if not path.exists():
        raise UserInputError("no such file or folder", where=str(data),
                             expected="a folder of .mid/.midi or chorale .csv files",
                             fix="check --data")
    files = [path] if path.is_file() else sorted(
        p for p in path.rglob("*") if p.is_file()
        and (p.suffix.lower() in MIDI_SUFFIXES or p.suffix.lower() == ".csv"))
    pieces = Pieces([], [], [], str(path))
    for file in files:
        name = str(file.relative_to(path)) if path.is_dir() else file.name
        try:
            grid, notes = read_piece(file, voices, steps_per_quarter, representation)
        except (ValueError, OSError, EOFError, IndexError, KeyError) as error:
            pieces.skipped.append(f"{name}: {error}")
            continue
        if not len(grid) or not grid.any():
            pieces.skipped.append(f"{name}: no notes" + (f" ({'; '.join(notes)})"
                                                         if notes else ""))
            continue
        pieces.grids.append(grid)
        pieces.names.append(name)
        first = Path(name).parts[0].lower() if path.is_dir() and len(Path(name).parts) > 1 \
            else None
        pieces.splits.append(SPLIT_FOLDERS.get(first))
        pieces.notes += [f"{name}: {note}" for note in notes]
    if not pieces.grids:
        raise UserInputError(
            "no readable piece", where=str(path),
            expected=".mid/.midi files or chorale .csv files (one column per voice)",
            received=f"{counted(len(files), 'candidate file')}, {len(pieces.skipped)} unreadable"
            + (f" (first: {pieces.skipped[0]})" if pieces.skipped else ""),
            fix="check --data and --set voices=...")
    return pieces


def parse_melody(text: str, where: str) -> np.ndarray:
    """``'60 62 64:0.5 65:0.5:2'`` -> note events: each note ``pitch[:step[:duration]]``,
    step and duration in quarter notes (default 1, and the step), each at most
    :data:`rnn_templates.data.midi.MAX_QUARTERS` (256 bars of 4/4: a written MIDI
    file must hold the seed)."""
    events = []
    for token in text.replace(";", " ").replace(",", " ").split():
        parts = token.split(":")
        try:
            pitch = int(parts[0])
            step = float(parts[1]) if len(parts) > 1 else 1.0
            duration = float(parts[2]) if len(parts) > 2 else step
        except ValueError:
            pitch, step, duration = -1, 0.0, 0.0
        if not 1 <= pitch <= 127 or len(parts) > 3 or step < 0 or duration <= 0 \
                or not np.isfinite([step, duration]).all():
            raise UserInputError("not a note", where=where,
                                 expected="pitch[:step[:duration]], e.g. 60 or 62:0.5 or "
                                 "64:0.5:1 (MIDI pitch 1-127, quarter notes)",
                                 received=token)
        if max(step, duration) > midi.MAX_QUARTERS:
            raise UserInputError(
                "a step or duration too long for a MIDI file", where=where,
                expected=f"at most {midi.MAX_QUARTERS} quarter notes (256 bars of 4/4)",
                received=token, fix=f"shorten it to at most {midi.MAX_QUARTERS}")
        events.append((pitch, step if events else 0.0, duration))
    return np.array(events, dtype=np.float32).reshape(-1, 3)


def parse_pitches(text: str, voices: int, where: str) -> np.ndarray:
    """``'72 67 64 48; 74 67 62 43'`` -> a (chords, voices) grid, each chord's pitches
    sorted from the highest voice down; a chord with fewer notes leaves the lowest
    voices silent, and a chord with a 0 (a silent voice) keeps the order given."""
    chords = [chord.split() for chord in text.replace(",", " ").split(";") if chord.strip()]
    grid = np.zeros((len(chords), voices), dtype=np.int16)
    for row, chord in enumerate(chords):
        if len(chord) > voices:
            raise UserInputError(f"a chord has more notes than voices ({voices})", where=where,
                                 received=" ".join(chord), fix="give at most one pitch per voice")
        for column, token in enumerate(chord):
            if not token.isdigit() or not 0 <= int(token) <= 127:
                raise UserInputError("not a MIDI pitch", where=where, expected="0-127",
                                     received=token, fix="e.g. '60 64 67 72; 62 65 69 74'")
            grid[row, column] = int(token)
    # Voices run from the highest down (soprano first), as in the training files. A chord
    # that names a silent voice (0) is taken in the order given.
    for row, chord in enumerate(chords):
        if 0 not in [int(token) for token in chord]:
            grid[row] = -np.sort(-grid[row])
    return grid
