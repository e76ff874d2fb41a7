"""MIDI in and out: pretty_midi for the music, a forgiving reader for broken files.

Files found in the wild break strict parsers in a few recurring ways: running
status carried across meta or system-exclusive events, tracks cut short or
with a wrong declared length, data bytes above 127, absurd delta times,
malformed meta events. When mido or pretty_midi refuses a file,
:func:`load_pretty_midi` re-reads its bytes the way a forgiving sequencer
does, hands the result to pretty_midi, and says what it repaired. Either
way, what pretty_midi would lose or misread is repaired and said: notes with
no note-off are ended where a sequencer ends them, a tempo of 0 gets the
default tempo, and the patterns of a format-2 file play one after another.
A file nothing can read is reported by name and skipped; a run never stops
on one bad file.

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
# The longest step or duration (quarter notes) taken as music: 256 bars of 4/4. A longer
# delta time in a file is clipped as corrupt, and a longer one in a seed is refused.
MAX_QUARTERS = 1024
# The most ticks a written file spans: pretty_midi takes a file beyond 10**7 ticks for a
# corrupt one (and 4-byte delta times hold up to 2**28 - 1).
MAX_TICKS = 9_000_000
# What a sequencer assumes without a tempo: 120 quarter notes a minute.
DEFAULT_TEMPO = 500_000  # microseconds per quarter note
ALL_NOTES_OFF = (120, 123)  # All Sound Off, All Notes Off (control changes)


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
    if kind not in (0, 1, 2):
        repairs.append(f"format {kind} read as format 1")
        kind = 1
    midi = mido.MidiFile(type=kind, ticks_per_beat=division)
    pos = start + 8 + max(header_length, 6)
    counts = {"running status after meta/sysex": 0, "stray data bytes": 0,
              "truncated tracks": 0, "clipped delta times": 0, "unreadable events": 0,
              "data bytes above 127 read as a status byte": 0,
              "key signatures out of range dropped": 0}
    longest_delta = division * MAX_QUARTERS  # a longer gap is corrupt
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
        resync = False  # the last event broke off at a byte >= 0x80: read it as a status
        while i < len(raw) and not ended:
            try:
                if resync:  # no delta time before it: the event goes on where it broke off
                    delta, resync = 0, False
                else:
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
                        track.append(mido.MetaMessage("end_of_track", time=pending))
                        continue
                    try:
                        track.append(_meta(kind_byte, payload, pending))
                        pending = 0
                    except Exception:  # mido raises IndexError, KeySignatureError, ...
                        # Skip just this event: a short tempo or an impossible key.
                        if kind_byte == 0x59 and len(payload) == 2:
                            counts["key signatures out of range dropped"] += 1
                        else:
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
                    bad = next((k for k, b in enumerate(data) if b >= 0x80), None)
                    if bad is None:  # the file ends inside the event
                        i += len(data)
                        continue
                    # A lenient sequencer takes a byte >= 0x80 for the next status byte,
                    # with no delta time before it (so no silence is invented), unless
                    # the bytes read on far better as one event with a bad data byte
                    # (a writer that did not keep a velocity under 128, say).
                    as_status = _problems_ahead(raw, i + bad, status, longest_delta, False)
                    as_data = _problems_ahead(raw, i + size, status, longest_delta, True)
                    if as_data < as_status:
                        i += size
                        continue
                    counts["data bytes above 127 read as a status byte"] += 1
                    i += bad
                    resync = True
                    continue
                i += size
                track.append(mido.Message.from_bytes([status, *data], time=pending))
                pending = 0
            except (EOFError, IndexError):
                break
        if not ended:
            counts["truncated tracks"] += 1
            track.append(mido.MetaMessage("end_of_track", time=0))
        elif i - (pos + 8) != declared:
            repairs.append(f"a track's declared length {declared} was wrong")
        midi.tracks.append(track)
        pos = max(i, pos + 8)
    repairs += [f"{count} {what}" for what, count in counts.items() if count]
    if not midi.tracks:
        raise ValueError("no track (MTrk) in the file")
    return midi, repairs


def _problems_ahead(raw: bytes, i: int, status: int | None, longest_delta: int,
                    delta: bool, events: int = 8) -> int:
    """How many problems the next ``events`` events show when read from byte ``i`` (with a
    delta time first, or not): a way to choose between two readings of a broken event."""
    problems = 0
    try:
        for _ in range(events):
            if delta:
                value, i = _varlen(raw, i)
                problems += value > longest_delta
            delta = True
            byte = raw[i]
            if byte == 0xFF:
                if raw[i + 1] == 0x2F:
                    return problems
                length, i = _varlen(raw, i + 2)
                i += length
            elif byte in (0xF0, 0xF7):
                length, i = _varlen(raw, i + 1)
                i += length
            elif byte >= 0xF0 or (byte < 0x80 and status is None):
                problems += 1
                i += 1
            else:
                if byte >= 0x80:
                    status, i = byte, i + 1
                size = 1 if status & 0xF0 in (0xC0, 0xD0) else 2
                if len(raw) < i + size:
                    return problems + 1
                problems += any(b >= 0x80 for b in raw[i:i + size])
                i += size
    except (EOFError, IndexError):
        return problems + 1  # the file ends without an End of Track
    return problems


def _meta(kind: int, payload: bytes, time: int) -> mido.MetaMessage:
    from mido.midifiles.meta import build_meta_message

    return build_meta_message(kind, list(payload), delta=time)


def _end_hanging_notes(track: mido.MidiTrack) -> tuple[mido.MidiTrack, int, int, int]:
    """``track`` with a note-off for every note that has none (pretty_midi drops those),
    where a sequencer ends it: at All Notes Off or All Sound Off on its channel, else at
    the end of the track. Returns the track, how many notes each ended, and how many
    notes last zero ticks (a note-off on the note-on's own tick: pretty_midi leaves
    those out)."""
    tick, offs = 0, []  # offs: (tick, index of the message it goes before, note-off)
    hanging: dict[tuple[int, int], list[int]] = {}  # (channel, note) -> note-on ticks
    at_control = zero_length = 0
    for index, message in enumerate(track):
        tick += message.time
        kind = message.type
        if kind == "note_on" and message.velocity > 0:
            hanging.setdefault((message.channel, message.note), []).append(tick)
        elif kind == "note_on" or kind == "note_off":
            # As pretty_midi pairs them: a note-off ends every earlier note-on of its key.
            starts = hanging.pop((message.channel, message.note), None)
            if starts and starts[-1] == tick and starts[0] != tick:
                hanging[(message.channel, message.note)] = [s for s in starts if s == tick]
            elif starts and starts[0] == tick:
                zero_length += len(starts)
        elif kind == "control_change" and message.control in ALL_NOTES_OFF and hanging:
            for key in [key for key in hanging if key[0] == message.channel]:
                ended = [start for start in hanging[key] if start < tick]
                if ended:
                    offs.append((tick, index, mido.Message(
                        "note_off", channel=key[0], note=key[1], velocity=0)))
                    at_control += len(ended)
                    hanging[key] = [start for start in hanging[key] if start == tick]
                    if not hanging[key]:
                        del hanging[key]
    at_end = sum(len(starts) for starts in hanging.values())
    if not offs and not at_end:
        return track, 0, 0, zero_length
    last = len(track) - bool(len(track) and track[-1].type == "end_of_track")
    for (channel, note), starts in hanging.items():
        # A note that starts at the very end lasts one tick.
        offs.append((tick + (max(starts) >= tick), last,
                     mido.Message("note_off", channel=channel, note=note, velocity=0)))
    place: dict[int, list] = {}
    for off_tick, before, message in offs:
        place.setdefault(before, []).append((off_tick, message))
    merged, tick = [], 0
    for index, message in enumerate([*track, None]):
        merged += place.get(index, [])
        if message is not None:
            tick += message.time
            merged.append((tick, message))
    if merged[-1][1].type == "end_of_track":
        merged[-1] = (max(at for at, _ in merged), merged[-1][1])
    out, previous = mido.MidiTrack(), 0
    for at, message in merged:
        out.append(message.copy(time=at - previous))
        previous = at
    return out, at_control, at_end, zero_length


def _repair(midi: mido.MidiFile) -> tuple[list[str], int]:
    """Repair in place what pretty_midi would lose or misread; returns what was done and
    how many notes of zero length pretty_midi will leave out."""
    repairs = []
    tempo_zero = 0
    for track in midi.tracks:
        for index, message in enumerate(track):
            if message.type == "set_tempo" and message.tempo == 0:
                track[index] = message.copy(tempo=DEFAULT_TEMPO)
                tempo_zero += 1
    if tempo_zero:
        repairs.append(f"{tempo_zero} tempos of 0 replaced by the default 120 bpm")
    at_control = at_end = zero_length = 0
    for index, track in enumerate(midi.tracks):
        midi.tracks[index], control, end, zero = _end_hanging_notes(track)
        at_control, at_end, zero_length = at_control + control, at_end + end, zero_length + zero
    if at_control:
        repairs.append(f"{at_control} notes without a note-off ended by All Notes Off or "
                       "All Sound Off")
    if at_end:
        repairs.append(f"{at_end} notes without a note-off ended at the end of their track")
    if midi.type == 2 and len(midi.tracks) > 1:
        # Format 2: independent patterns, played one after another (not together).
        merged, carry = mido.MidiTrack(), 0
        for track in midi.tracks:
            for message in track:
                if message.type == "end_of_track":
                    carry += message.time
                    continue
                merged.append(message.copy(time=message.time + carry))
                carry = 0
        merged.append(mido.MetaMessage("end_of_track", time=carry))
        repairs.append(f"format 2: {len(midi.tracks)} patterns played one after another")
        midi.tracks[:] = [merged]
        midi.type = 0
    return repairs, zero_length


def load_pretty_midi(path: Path) -> tuple[pretty_midi.PrettyMIDI, list[str], int]:
    """pretty_midi's reading of ``path``, through the forgiving reader if needed, with
    what pretty_midi would lose or misread repaired (:func:`_repair`): the music, the
    repairs, and how many notes of zero length (a note-off on the note-on's own tick)
    were left out.

    Raises:
        ValueError: with the reason, when neither can make sense of the file.
    """
    raw = path.read_bytes()
    if not raw:
        raise ValueError("empty file (0 bytes)")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # pretty_midi warns about type-0 files and such
        try:
            # pretty_midi's own reading (mido, latin-1 text), with the repairs.
            midi = mido.MidiFile(file=_io.BytesIO(raw), charset="latin1")
            repairs, zero_length = _repair(midi)
            return pretty_midi.PrettyMIDI(mido_object=midi), repairs, zero_length
        except Exception as strict_error:  # mido raises many kinds on broken files
            try:
                midi, repairs = forgiving_midi(raw)
                more, zero_length = _repair(midi)
                return pretty_midi.PrettyMIDI(mido_object=midi), repairs + more, zero_length
            except Exception as error:
                raise ValueError(f"{str(error) or type(error).__name__} (strict reader: "
                                 f"{str(strict_error) or type(strict_error).__name__})") from None


def to_grid(music: pretty_midi.PrettyMIDI, voices: int, steps_per_quarter: int) -> MidiRead:
    """The voices of a MIDI file on a time grid (tempo changes respected).

    With exactly ``voices`` pitched instruments each becomes a voice, highest
    first (a four-part chorale written one part per track). Otherwise every
    step keeps its ``voices`` highest sounding notes; notes beyond those are
    counted in ``dropped_notes``. Drum tracks are kept apart (counted, not
    voiced). Notes of pitch 0 (0 is silence on the grid) are left out: count them
    with :func:`pitch_zero_notes`.
    """
    ticks_per_step = music.resolution / steps_per_quarter
    pitched = [[note for note in inst.notes if note.pitch] for inst in music.instruments
               if not inst.is_drum]
    pitched = [notes for notes in pitched if notes]
    drum_notes = sum(len(inst.notes) for inst in music.instruments if inst.is_drum)

    def span(note) -> tuple[int, int]:
        first = int(round(music.time_to_tick(note.start) / ticks_per_step))
        last = int(round(music.time_to_tick(note.end) / ticks_per_step))
        return first, max(last, first + 1)

    spans = [[(*span(note), note.pitch) for note in notes] for notes in pitched]
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


def pitch_zero_notes(music: pretty_midi.PrettyMIDI) -> int:
    """How many pitched (not drum) notes have MIDI pitch 0, which cannot be voiced."""
    return sum(note.pitch == 0 for inst in music.instruments if not inst.is_drum
               for note in inst.notes)


def _resolution(quarters: float, multiple: int = 1) -> int:
    """Ticks per quarter note for a file lasting ``quarters``: pretty_midi's 220, or
    fewer (a multiple of ``multiple``) where that would pass :data:`MAX_TICKS`.

    Raises:
        ValueError: when even one tick per ``1 / multiple`` quarter note is too many.
    """
    if not np.isfinite(quarters):
        raise ValueError(f"the piece lasts {quarters} quarter notes")
    if quarters * 220 <= MAX_TICKS:
        return 220
    resolution = int(MAX_TICKS // (quarters * multiple)) * multiple
    if resolution < multiple:
        raise ValueError(f"the piece lasts {quarters:.0f} quarter notes, more than a MIDI "
                         f"file holds (at most {MAX_TICKS // multiple})")
    return resolution


def grid_to_midi(grid: np.ndarray, steps_per_quarter: int, tempo: float,
                 program: int = 19) -> pretty_midi.PrettyMIDI:
    """One instrument per voice; a pitch held over consecutive steps is one note (at 220
    ticks per quarter note, fewer for a piece too long for that: see :func:`_resolution`)."""
    music = pretty_midi.PrettyMIDI(
        resolution=_resolution(len(grid) / steps_per_quarter, steps_per_quarter),
        initial_tempo=float(tempo))
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
    second value returned). Drum tracks and notes of pitch 0 (see
    :func:`pitch_zero_notes`) are left out.
    """
    resolution = float(music.resolution)
    notes = [(music.time_to_tick(note.start) / resolution, music.time_to_tick(note.end)
              / resolution, note.pitch)
             for inst in music.instruments if not inst.is_drum for note in inst.notes
             if note.pitch]
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
    """Note events (pitch, step, duration in quarter notes) as a one-instrument MIDI file
    (at 220 ticks per quarter note, fewer for a piece too long for that: see
    :func:`_resolution`)."""
    events = np.asarray(events, dtype=np.float64).reshape(-1, 3)
    starts = np.cumsum(np.maximum(events[:, 1], 0.0))
    quarters = float((starts + np.maximum(events[:, 2], 1e-3)).max()) if len(events) else 0.0
    music = pretty_midi.PrettyMIDI(resolution=_resolution(quarters),
                                   initial_tempo=float(tempo))
    seconds = 60.0 / tempo
    instrument = pretty_midi.Instrument(program=program, name="melody")
    start = 0.0
    for pitch, step, duration in events:
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
