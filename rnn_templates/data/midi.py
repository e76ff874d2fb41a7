"""MIDI in and out: pretty_midi for the music, a forgiving reader for broken files.

Files found in the wild break strict parsers in a few recurring ways: running
status carried across meta or system-exclusive events, tracks cut short or
with a wrong declared length, data bytes above 127, absurd delta times. When
pretty_midi (on mido) refuses a file, :func:`read_midi` re-reads its bytes the
way a forgiving sequencer does, writes a clean copy in memory and hands that
to pretty_midi, and says what it repaired. A file nothing can read is
reported by name and skipped; a run never stops on one bad file.

Pieces are grids of voices: ``(steps, voices)`` MIDI pitches on a time grid
(``steps_per_quarter`` steps per quarter note), 0 meaning silence.
"""

from __future__ import annotations

import dataclasses
import io as _io
import warnings
from pathlib import Path

import mido
import numpy as np
import pretty_midi

# More steps than this in one piece is a broken file, not music (about 3 hours
# of 16th notes at 120 bpm).
MAX_STEPS = 200_000


@dataclasses.dataclass
class MidiRead:
    """A file's grid of voices and what reading it had to say."""

    grid: np.ndarray
    repairs: list[str]
    dropped_notes: int = 0
    drum_notes: int = 0


def _varlen(data: bytes, i: int) -> tuple[int, int]:
    value = 0
    for _ in range(4):
        if i >= len(data):
            raise EOFError
        byte = data[i]
        i += 1
        value = (value << 7) | (byte & 0x7F)
        if byte < 0x80:
            return value, i
    return value, i


def forgiving_midi(raw: bytes) -> tuple[mido.MidiFile, list[str]]:
    """Parse MIDI bytes leniently into a ``mido.MidiFile``; returns it and the repairs made."""
    repairs: list[str] = []
    start = raw.find(b"MThd")
    if start < 0:
        raise ValueError("no MIDI header (MThd) in the file")
    if start:
        repairs.append(f"skipped {start} bytes before the header")
    header_length = int.from_bytes(raw[start + 4:start + 8], "big")
    kind, _, division = (int.from_bytes(raw[start + 8 + 2 * k:start + 10 + 2 * k], "big")
                         for k in range(3))
    if division == 0 or division & 0x8000:
        repairs.append(f"time division {division} replaced by 480 ticks per beat")
        division = 480
    midi = mido.MidiFile(type=min(kind, 1), ticks_per_beat=division)
    pos = start + 8 + max(header_length, 6)
    counts = {"running status after meta/sysex": 0, "stray data bytes": 0,
              "truncated tracks": 0, "clipped delta times": 0, "unreadable events": 0}
    longest_delta = division * 4 * 256  # 256 bars of 4/4 in one gap: corrupt
    while True:
        pos = raw.find(b"MTrk", pos)
        if pos < 0:
            break
        declared = int.from_bytes(raw[pos + 4:pos + 8], "big")
        i = pos + 8
        track = mido.MidiTrack()
        status = None
        meta_since_status = False
        pending = 0
        ended = False
        while i < len(raw) and not ended:
            try:
                delta, i = _varlen(raw, i)
                if delta > longest_delta:
                    counts["clipped delta times"] += 1
                    delta = 0
                pending += delta
                byte = raw[i]
                if byte == 0xFF:
                    kind_byte = raw[i + 1]
                    length, j = _varlen(raw, i + 2)
                    payload = raw[j:j + length]
                    i = j + length
                    meta_since_status = True
                    if kind_byte == 0x2F:
                        ended = True
                        continue
                    try:
                        track.append(_meta(kind_byte, payload, pending))
                        pending = 0
                    except (ValueError, KeyError, TypeError):
                        counts["unreadable events"] += 1
                    continue
                if byte in (0xF0, 0xF7):
                    length, i = _varlen(raw, i + 1)
                    i += length
                    meta_since_status = True
                    continue
                if byte >= 0x80:
                    if byte >= 0xF0:  # system common/real-time bytes inside a file: skip
                        counts["stray data bytes"] += 1
                        i += 1
                        continue
                    status = byte
                    meta_since_status = False
                    i += 1
                elif status is None:
                    counts["stray data bytes"] += 1
                    i += 1
                    continue
                elif meta_since_status:
                    counts["running status after meta/sysex"] += 1
                    meta_since_status = False
                size = 1 if status & 0xF0 in (0xC0, 0xD0) else 2
                data = raw[i:i + size]
                if len(data) < size or any(b >= 0x80 for b in data):
                    counts["unreadable events"] += 1
                    i += next((k for k, b in enumerate(data) if b >= 0x80), len(data))
                    continue
                i += size
                track.append(mido.Message.from_bytes([status, *data], time=pending))
                pending = 0
            except (EOFError, IndexError):
                break
        if not ended:
            counts["truncated tracks"] += 1
        elif i - (pos + 8) != declared:
            repairs.append(f"a track's declared length {declared} was wrong")
        midi.tracks.append(track)
        pos = max(i, pos + 8)
    repairs += [f"{count} {what}" for what, count in counts.items() if count]
    if not midi.tracks:
        raise ValueError("no track (MTrk) in the file")
    return midi, repairs


def _meta(kind: int, payload: bytes, time: int) -> mido.MetaMessage:
    from mido.midifiles.meta import build_meta_message

    return build_meta_message(kind, list(payload), delta=time)


def load_pretty_midi(path: Path) -> tuple[pretty_midi.PrettyMIDI, list[str]]:
    """pretty_midi's reading of ``path``, through the forgiving reader if needed.

    Raises:
        ValueError: with the reason, when neither can make sense of the file.
    """
    raw = path.read_bytes()
    if not raw:
        raise ValueError("empty file (0 bytes)")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # pretty_midi warns about type-0 files and such
        try:
            return pretty_midi.PrettyMIDI(_io.BytesIO(raw)), []
        except Exception as strict_error:  # mido raises many kinds on broken files
            try:
                midi, repairs = forgiving_midi(raw)
                buffer = _io.BytesIO()
                midi.save(file=buffer)
                buffer.seek(0)
                return pretty_midi.PrettyMIDI(buffer), repairs
            except Exception as error:
                raise ValueError(f"{str(error) or type(error).__name__} (strict reader: "
                                 f"{str(strict_error) or type(strict_error).__name__})") from None


def to_grid(music: pretty_midi.PrettyMIDI, voices: int, steps_per_quarter: int) -> MidiRead:
    """The voices of a MIDI file on a time grid (tempo changes respected).

    With exactly ``voices`` pitched instruments each becomes a voice, highest
    first (a four-part chorale written one part per track). Otherwise every
    step keeps its ``voices`` highest sounding notes; notes beyond those are
    counted in ``dropped_notes``. Drum tracks are kept apart (counted, not
    voiced).
    """
    ticks_per_step = music.resolution / steps_per_quarter
    pitched = [inst for inst in music.instruments if not inst.is_drum and inst.notes]
    drum_notes = sum(len(inst.notes) for inst in music.instruments if inst.is_drum)

    def span(note) -> tuple[int, int]:
        first = int(round(music.time_to_tick(note.start) / ticks_per_step))
        last = int(round(music.time_to_tick(note.end) / ticks_per_step))
        return first, max(last, first + 1)

    spans = [[(*span(note), note.pitch) for note in inst.notes] for inst in pitched]
    steps = max((end for notes in spans for _, end, _ in notes), default=0)
    if steps > MAX_STEPS:
        raise ValueError(f"the notes span {steps} steps, more than {MAX_STEPS}: "
                         "the file's times are probably corrupt")
    grid = np.zeros((steps, voices), dtype=np.int16)
    dropped = 0
    if len(pitched) == voices:
        order = np.argsort([-np.mean([p for *_, p in notes]) for notes in spans])
        for column, index in enumerate(order):
            for first, end, pitch in spans[index]:
                grid[first:end, column] = pitch
            # A chord inside one part keeps one note per step: count the notes it hides.
            dropped += sum(pitch not in grid[first:end, column]
                           for first, end, pitch in spans[index])
    else:
        sounding = np.zeros((steps, 128), dtype=bool)
        for notes in spans:
            for first, end, pitch in notes:
                sounding[first:end, pitch] = True
        for step in np.flatnonzero(sounding.any(axis=1)):
            pitches = np.flatnonzero(sounding[step])[::-1]
            grid[step, :min(voices, len(pitches))] = pitches[:voices]
        # A note is left out when no voice carries it where it starts.
        dropped = sum(pitch not in grid[first] for notes in spans for first, _, pitch in notes)
    return MidiRead(grid, [], dropped, drum_notes)


def grid_to_midi(grid: np.ndarray, steps_per_quarter: int, tempo: float,
                 program: int = 19) -> pretty_midi.PrettyMIDI:
    """One instrument per voice; a pitch held over consecutive steps is one note."""
    music = pretty_midi.PrettyMIDI(initial_tempo=float(tempo))
    seconds = 60.0 / tempo / steps_per_quarter
    for column in range(grid.shape[1]):
        instrument = pretty_midi.Instrument(program=program, name=f"voice {column + 1}")
        voice = np.asarray(grid[:, column])
        step = 0
        while step < len(voice):
            pitch = int(voice[step])
            end = step + 1
            while end < len(voice) and voice[end] == pitch:
                end += 1
            if pitch:
                instrument.notes.append(pretty_midi.Note(
                    velocity=80, pitch=pitch, start=step * seconds, end=end * seconds))
            step = end
        music.instruments.append(instrument)
    return music


def midi_bytes(music: pretty_midi.PrettyMIDI) -> bytes:
    buffer = _io.BytesIO()
    music.write(buffer)
    return buffer.getvalue()


def to_events(music: pretty_midi.PrettyMIDI) -> tuple[np.ndarray, int]:
    """The melody as note events ``(notes, 3)``: pitch, step and duration in quarter notes.

    ``step`` is the time from the previous note's start. Where several notes
    start together the highest is the melody; the others are counted (the
    second value returned). Drum tracks are left out.
    """
    resolution = float(music.resolution)
    notes = [(music.time_to_tick(note.start) / resolution, music.time_to_tick(note.end)
              / resolution, note.pitch)
             for inst in music.instruments if not inst.is_drum for note in inst.notes]
    notes.sort(key=lambda note: (note[0], -note[2]))
    events, previous, dropped = [], None, 0
    for start, end, pitch in notes:
        if previous is not None and abs(start - previous) < 1e-6:
            dropped += 1
            continue
        events.append((pitch, 0.0 if previous is None else start - previous,
                       max(end - start, 1e-3)))
        previous = start
    return np.array(events, dtype=np.float32).reshape(-1, 3), dropped


def grid_to_events(grid: np.ndarray, steps_per_quarter: int) -> np.ndarray:
    """The top voice of a grid as note events (a held pitch is one note)."""
    voice = np.asarray(grid)[:, 0] if np.ndim(grid) == 2 else np.asarray(grid)
    events, step, previous = [], 0, None
    while step < len(voice):
        end = step + 1
        while end < len(voice) and voice[end] == voice[step]:
            end += 1
        if voice[step]:
            since = 0 if previous is None else step - previous
            events.append((voice[step], since / steps_per_quarter,
                           (end - step) / steps_per_quarter))
            previous = step
        step = end
    return np.array(events, dtype=np.float32).reshape(-1, 3)


def events_to_midi(events: np.ndarray, tempo: float, program: int = 0) -> pretty_midi.PrettyMIDI:
    """Note events (pitch, step, duration in quarter notes) as a one-instrument MIDI file."""
    music = pretty_midi.PrettyMIDI(initial_tempo=float(tempo))
    seconds = 60.0 / tempo
    instrument = pretty_midi.Instrument(program=program, name="melody")
    start = 0.0
    for pitch, step, duration in np.asarray(events, dtype=np.float64):
        start += max(step, 0.0)
        if 0 < pitch <= 127:
            instrument.notes.append(pretty_midi.Note(
                velocity=80, pitch=int(round(pitch)), start=start * seconds,
                end=(start + max(duration, 1e-3)) * seconds))
    music.instruments.append(instrument)
    return music


def events_to_grid(events: np.ndarray, steps_per_quarter: int) -> np.ndarray:
    """Note events on a one-voice time grid (for the statistics and the piano roll)."""
    starts = np.cumsum(np.maximum(np.asarray(events)[:, 1], 0)) if len(events) else np.zeros(0)
    ends = starts + np.maximum(np.asarray(events)[:, 2], 0) if len(events) else starts
    steps = int(np.ceil(ends.max() * steps_per_quarter)) + 1 if len(events) else 0
    grid = np.zeros((min(steps, MAX_STEPS), 1), dtype=np.int16)
    for (pitch, _, _), start, end in zip(events, starts, ends, strict=True):
        first = int(round(start * steps_per_quarter))
        last = max(first + 1, int(round(end * steps_per_quarter)))
        grid[first:last, 0] = int(round(pitch))
    return grid
