"""Music data: MIDI round trips, broken MIDI files of each kind, CSV grids, tokens."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pretty_midi
import pytest

from rnn_templates.data import midi
from rnn_templates.data import pieces as data_io
from rnn_templates.errors import UserInputError
from rnn_templates.pitch_tokens import PitchTokens, tokens_of
from rnn_templates.representations import RepeatLastNote

CHORALE = np.array([[72, 67, 64, 48]] * 4 + [[74, 67, 62, 43]] * 4 + [[0, 0, 0, 0]] * 2
                   + [[72, 67, 64, 48]] * 6 + [[71, 67, 62, 55]] * 8, dtype=np.int16)


def _midi_file(path: Path, grid=CHORALE) -> bytes:
    raw = midi.midi_bytes(midi.grid_to_midi(grid, 4, 100))
    path.write_bytes(raw)
    return raw


def test_a_grid_written_then_read_back_is_the_same(tmp_path):
    _midi_file(tmp_path / "piece.mid")
    grid, notes = data_io.read_piece(tmp_path / "piece.mid", 4, 4)
    np.testing.assert_array_equal(grid, CHORALE)
    assert notes == []


def test_tempo_changes_keep_the_grid(tmp_path):
    music = midi.grid_to_midi(CHORALE, 4, 100)
    raw_path = tmp_path / "tempo.mid"
    music.write(str(raw_path))
    # Double the tempo half-way through: ticks stay where they were.
    import mido

    file = mido.MidiFile(raw_path)
    file.tracks[0].insert(1, mido.MetaMessage("set_tempo", tempo=300000, time=1000))
    file.save(raw_path)
    grid, _ = data_io.read_piece(raw_path, 4, 4)
    np.testing.assert_array_equal(grid, CHORALE)


def test_more_notes_than_voices_keep_the_highest_and_say_how_many_were_left_out(tmp_path):
    music = pretty_midi.PrettyMIDI(initial_tempo=120)
    piano = pretty_midi.Instrument(program=0)
    for pitch in (48, 55, 60, 64, 67, 72):  # six notes at once, one instrument
        piano.notes.append(pretty_midi.Note(velocity=80, pitch=pitch, start=0, end=0.5))
    drums = pretty_midi.Instrument(program=0, is_drum=True)
    drums.notes.append(pretty_midi.Note(velocity=80, pitch=36, start=0, end=0.1))
    music.instruments += [piano, drums]
    music.write(str(tmp_path / "dense.mid"))
    grid, notes = data_io.read_piece(tmp_path / "dense.mid", 4, 4)
    np.testing.assert_array_equal(grid[0], [72, 67, 64, 60])
    assert notes == ["2 notes beyond the 4 highest voices left out",
                     "1 drum notes kept apart (not voiced)"]


def _broken(raw: bytes, kind: str) -> bytes:
    """A readable file broken the way files in the wild are."""
    track = raw.index(b"MTrk", raw.index(b"MTrk") + 4)  # the first voice's track
    start = track + 8
    if kind == "truncated":
        return raw[:start + 40]
    if kind == "wrong track length":
        return raw[:track + 4] + (10**6).to_bytes(4, "big") + raw[track + 8:]
    # The other two add a track (and count it in the header).
    more = raw[:10] + (int.from_bytes(raw[10:12], "big") + 1).to_bytes(2, "big") + raw[12:]
    if kind == "running status after meta":
        # A text meta event, then note data relying on the status byte before it.
        body = (b"\x00\x90\x3c\x50" + b"\x00\xff\x01\x02hi" + b"\x60\x3c\x00"
                + b"\x00\xff\x2f\x00")
        return more + b"MTrk" + len(body).to_bytes(4, "big") + body
    if kind == "data byte above 127":
        body = b"\x00\x90\x3c\x50\x60\x80\x3c\xc0\x00\xff\x2f\x00"
        return more + b"MTrk" + len(body).to_bytes(4, "big") + body
    raise AssertionError(kind)


@pytest.mark.parametrize("kind", ["truncated", "wrong track length",
                                  "running status after meta", "data byte above 127"])
def test_broken_files_are_read_leniently_and_the_repair_is_named(tmp_path, kind):
    raw = _midi_file(tmp_path / "good.mid")
    path = tmp_path / "broken.mid"
    path.write_bytes(_broken(raw, kind))
    pieces = data_io.load(str(tmp_path), 4, 4)
    assert pieces.names == ["broken.mid", "good.mid"] and pieces.skipped == []
    grid = pieces.grids[0]
    assert grid.shape[1] == 4 and grid.any()
    _, repairs, _ = midi.load_pretty_midi(path)
    if kind != "running status after meta":  # mido refuses these: repaired, and said
        assert repairs and pieces.notes[0].startswith("broken.mid: repaired (")
    else:  # mido reads this one itself: the added track's note, under the top three
        assert repairs == [] and (grid[:2, 3] == 60).all()
    if kind != "truncated":
        np.testing.assert_array_equal(grid[:len(CHORALE), :3], CHORALE[:, :3])


def test_the_forgiving_reader_reports_what_it_repaired():
    raw = midi.midi_bytes(midi.grid_to_midi(CHORALE, 4, 100))
    _, repairs = midi.forgiving_midi(_broken(raw, "running status after meta"))
    assert "1 running status after meta/sysex" in repairs
    _, repairs = midi.forgiving_midi(_broken(raw, "data byte above 127"))
    assert "1 unreadable events" in repairs
    _, repairs = midi.forgiving_midi(_broken(raw, "truncated"))
    assert "1 truncated tracks" in repairs


def test_unreadable_files_are_named_and_skipped_without_stopping(tmp_path):
    _midi_file(tmp_path / "good.mid")
    (tmp_path / "text.mid").write_bytes(b"this is not a MIDI file at all")
    huge = bytearray(midi.midi_bytes(midi.grid_to_midi(CHORALE, 4, 100)))
    at = huge.index(b"MTrk", huge.index(b"MTrk") + 4) + 8
    huge[at:at + 4] = b"\x8f\xff\xff\x7f"  # a delta time of 2**28 ticks
    (tmp_path / "absurd.mid").write_bytes(bytes(huge))
    pieces = data_io.load(str(tmp_path), 4, 4)
    assert pieces.names[-1] == "good.mid"
    assert [line.split(":")[0] for line in pieces.skipped] == ["text.mid"]
    assert "no MIDI header" in pieces.skipped[0]
    # The absurd delta is clipped (a repair), not read as hours of silence.
    absurd = pieces.grids[pieces.names.index("absurd.mid")]
    assert len(absurd) < 1000


@pytest.mark.parametrize("representation", ["voices", "events"])
def test_empty_and_drums_only_files_say_why_they_are_skipped(tmp_path, representation):
    _midi_file(tmp_path / "good.mid")
    (tmp_path / "empty.mid").write_bytes(b"")
    music = pretty_midi.PrettyMIDI()
    drums = pretty_midi.Instrument(program=0, is_drum=True)
    drums.notes += [pretty_midi.Note(velocity=80, pitch=36, start=t / 4, end=t / 4 + 0.1)
                    for t in range(8)]
    music.instruments.append(drums)
    music.write(str(tmp_path / "drums.mid"))
    pieces = data_io.load(str(tmp_path), 4, 4, representation)
    assert pieces.names == ["good.mid"]
    assert pieces.skipped == ["drums.mid: only drum notes (8), and drums are not voiced",
                              "empty.mid: empty file (0 bytes)"]


def test_csv_grids_with_and_without_a_header_and_their_errors(tmp_path):
    (tmp_path / "a.csv").write_text("note0,note1\n60,55\n62,0\n")
    (tmp_path / "b.csv").write_text("60,55\n62,x\n")
    (tmp_path / "c.csv").write_text("60.0,55.0\n62.0,0.0\n")
    (tmp_path / "d.csv").write_text("-1,60\n62,0\n")
    # A first row with numbers is data, never a header dropped in silence.
    np.testing.assert_array_equal(data_io.read_csv_piece(tmp_path / "c.csv", 2),
                                  [[60, 55], [62, 0]])
    with pytest.raises(ValueError, match="line 1, column 1: expected a MIDI pitch"):
        data_io.read_csv_piece(tmp_path / "d.csv", 2)
    np.testing.assert_array_equal(data_io.read_csv_piece(tmp_path / "a.csv", 2),
                                  [[60, 55], [62, 0]])
    with pytest.raises(ValueError, match=r"line 2, column 2: expected a MIDI pitch 0-127 "
                       r"\(0 = silence\), received 'x'"):
        data_io.read_csv_piece(tmp_path / "b.csv", 2)
    with pytest.raises(ValueError, match="2 columns, expected one per voice \\(4\\)"):
        data_io.read_csv_piece(tmp_path / "a.csv", 4)


def test_no_readable_piece_is_one_clear_error(tmp_path):
    (tmp_path / "x.csv").write_text("1,2,3\n")
    with pytest.raises(UserInputError, match="no readable piece.*first: x.csv: 3 columns"):
        data_io.load(str(tmp_path), 4, 4)


def test_seed_pitches_are_voiced_from_the_top():
    grid = data_io.parse_pitches("60 64 67 72; 62 65; 72 0 64 48", 4, "seed")
    np.testing.assert_array_equal(grid, [[72, 67, 64, 60], [65, 62, 0, 0], [72, 0, 64, 48]])
    with pytest.raises(UserInputError, match="not a MIDI pitch"):
        data_io.parse_pitches("60 200", 4, "seed")


def test_pitch_tokens_fold_octaves_into_the_training_range():
    layer = PitchTokens(48, 72)
    tokens = np.asarray(layer(np.array([[0, 48, 72, 36, 84, 100]])))
    np.testing.assert_array_equal(tokens, [[0, 1, 25, 1, 25, 17]])  # 100 -> 76 -> 64


def test_windows_and_the_repeat_baseline():
    grids = [CHORALE, CHORALE[:5]]
    cut = data_io.windows(grids, 8, 4)
    assert cut.shape == (5, 8, 4)  # 24 steps: starts 0, 4, 8, 12, 16; the short piece: none
    np.testing.assert_array_equal(cut[1], CHORALE[4:12])
    artifacts = {"low": 43, "high": 74, "voices": 4}
    probabilities = RepeatLastNote(artifacts).outputs(cut[:1])
    targets = tokens_of(cut[:1], artifacts)[:, 1:]
    assert probabilities.shape == (1, 31, 33)
    # Within the first held chord every note repeats its voice: the baseline's pick is right.
    assert (probabilities[0, 3:12].argmax(-1) == targets[0, 3:12]).all()


# --- note events -------------------------------------------------------------------


def test_event_windows_keep_fractional_steps_and_durations():
    events = np.array([[60, 0, 0.5], [62, 0.5, 0.25], [64, 0.25, 1.5]], np.float32)
    cut = data_io.windows([events], 2, 1)
    assert cut.dtype == np.float32 and cut.shape == (2, 2, 3)
    np.testing.assert_allclose(cut[1], events[1:])


def test_events_from_midi_grids_and_text_have_pitch_step_duration(tmp_path):
    _midi_file(tmp_path / "piece.mid")
    events, notes = data_io.read_piece(tmp_path / "piece.mid", 4, 4, "events")
    # The melody is the top voice: 72 (1 quarter), 74 (1), rest, 72 (1.5), 71 (2).
    np.testing.assert_allclose(events, [[72, 0, 1], [74, 1, 1], [72, 1.5, 1.5], [71, 1.5, 2]],
                               atol=1e-3)
    # Alto 2, tenor 4 and bass 4 notes start with a higher note.
    assert notes == ["10 notes under the melody (starting with a higher one) left out"]
    np.testing.assert_allclose(midi.grid_to_events(CHORALE, 4), events, atol=1e-6)
    np.testing.assert_allclose(data_io.parse_melody("60 62:0.5 64:0.5:2", "seed"),
                               [[60, 0, 1], [62, 0.5, 0.5], [64, 0.5, 2]])
    with pytest.raises(UserInputError, match="not a note"):
        data_io.parse_melody("60:-1", "seed")


def test_events_written_as_midi_read_back_the_same(tmp_path):
    events = np.array([[60, 0, 1], [64, 1, 0.5], [67, 0.5, 0.5], [72, 1, 2]], np.float32)
    (tmp_path / "m.mid").write_bytes(midi.midi_bytes(midi.events_to_midi(events, 90)))
    back, _ = data_io.read_piece(tmp_path / "m.mid", 4, 4, "events")
    np.testing.assert_allclose(back, events, atol=1e-2)
    grid = midi.events_to_grid(events, 4)
    assert grid.shape == (19, 1) and grid[0, 0] == 60 and grid[10, 0] == 72


def test_the_event_sampler_agrees_with_the_fused_model():
    import keras

    from rnn_templates.cells import RecurrentConfig
    from rnn_templates.note_events import EventSampler, build_event_model

    keras.utils.set_random_seed(1)
    model = build_event_model(9, 4, RecurrentConfig(cell="gru", units=8, num_layers=2), 0.0,
                              "lm")
    model.set_weights([w * 3 for w in model.get_weights()])
    tokens = np.array([[1, 2, 3]], np.int32)
    timing = np.array([[[0.0, 1.0], [1.0, 0.5], [0.5, 0.5]]], np.float32)
    chosen, predicted = (np.asarray(t) for t in EventSampler(model).event_loop(
        tokens, timing, np.zeros((4, 1), np.float32), temperature=0.0))
    assert chosen.shape == (1, 4) and predicted.shape == (1, 4, 2)
    all_tokens = np.concatenate([tokens, chosen], axis=1)
    all_timing = np.concatenate([timing, predicted], axis=1)
    full = model([all_tokens[:, :-1], all_timing[:, :-1]])
    np.testing.assert_array_equal(np.asarray(full["pitch"])[:, 2:].argmax(-1), chosen)
    np.testing.assert_allclose(np.asarray(full["step"])[:, 2:, 0], predicted[..., 0], atol=1e-5)
    np.testing.assert_allclose(np.asarray(full["duration"])[:, 2:, 0], predicted[..., 1],
                               atol=1e-5)


def test_generated_steps_and_durations_stay_within_what_a_midi_file_holds():
    import keras

    from rnn_templates.cells import RecurrentConfig
    from rnn_templates.note_events import EventSampler, build_event_model

    model = build_event_model(9, 4, RecurrentConfig(cell="gru", units=8), 0.0, "lm")
    for head in ("step", "duration"):  # softplus of 5000: far beyond 1024 quarter notes
        kernel, bias = model.get_layer(head).get_weights()
        model.get_layer(head).set_weights([kernel * 0, bias + 5000])
    _, predicted = EventSampler(model).event_loop(
        np.array([[1, 2]], np.int32), np.ones((1, 2, 2), np.float32),
        np.zeros((3, 1), np.float32))
    np.testing.assert_allclose(keras.ops.convert_to_numpy(predicted)[0, 1:],
                               midi.MAX_QUARTERS)


def test_a_piece_longer_than_a_midi_file_holds_is_one_clear_error(tmp_path):
    from rnn_templates.errors import UserInputError
    from rnn_templates.representations import Events

    piece = np.tile([[60.0, 1024.0, 1.0]], (9000, 1))  # 9.2 million quarter notes
    with pytest.raises(UserInputError, match="too long to write as MIDI.*fewer --steps"):
        Events({"low": 50, "high": 70}).write_piece(piece, tmp_path / "out", 100.0)
    assert not (tmp_path / "out").exists()


def test_a_chord_inside_one_part_is_counted_when_parts_are_voices(tmp_path):
    music = pretty_midi.PrettyMIDI(initial_tempo=120)
    for pitches in ((72,), (64, 67, 71), (55,), (40,)):  # four parts, the second a chord
        part = pretty_midi.Instrument(program=0)
        part.notes += [pretty_midi.Note(velocity=80, pitch=p, start=0, end=0.5) for p in pitches]
        music.instruments.append(part)
    music.write(str(tmp_path / "parts.mid"))
    grid, notes = data_io.read_piece(tmp_path / "parts.mid", 4, 4)
    assert grid[0, 0] == 72 and grid[0, 2:].tolist() == [55, 40]
    assert notes == ["2 notes beyond the 4 highest voices left out"]


# --- MIDI files as found in the wild, built byte by byte ------------------------------


def _vlq(value: int) -> bytes:
    out = [value & 0x7F]
    while value > 0x7F:
        value >>= 7
        out.insert(0, (value & 0x7F) | 0x80)
    return bytes(out)


def _notes(pitches, ticks: int = 480, off: bool = True) -> bytes:
    """Back-to-back quarter notes on channel 1 (``off=False``: note-ons only)."""
    body = b""
    for pitch in pitches:
        body += _vlq(0) + bytes([0x90, pitch, 80])
        if off:
            body += _vlq(ticks) + bytes([0x80, pitch, 0])
    return body


def _smf(*tracks: bytes, kind: int = 0, end: int = 0) -> bytes:
    """A MIDI file of ``tracks`` (event bytes; End of Track added ``end`` ticks after the
    last event), 480 ticks a beat."""
    header = b"MThd" + (6).to_bytes(4, "big") + bytes([0, kind, 0, len(tracks), 0x01, 0xE0])
    tracks = [body + _vlq(end) + b"\xff\x2f\x00" for body in tracks]
    return header + b"".join(b"MTrk" + len(body).to_bytes(4, "big") + body for body in tracks)


SCALE = [60, 62, 64, 65, 67, 69, 71, 72]


def _read(tmp_path, raw: bytes, representation: str = "voices"):
    path = tmp_path / "wild.mid"
    path.write_bytes(raw)
    return data_io.read_piece(path, 4, 4, representation)


def _top_voice(pitches) -> np.ndarray:
    return np.repeat(pitches, 4)  # quarter notes on a 16th-note grid


def test_a_seed_step_or_duration_beyond_a_midi_file_is_one_clear_error():
    for token in ("60:1e30", "60:1e9:1e9", "60:1:1e6", "60:1025"):
        with pytest.raises(UserInputError, match="seed: a step or duration too long for a MIDI "
                           "file; expected at most 1024 quarter notes"):
            data_io.parse_melody(f"62 {token}", "seed")
    np.testing.assert_allclose(data_io.parse_melody("60 62:1024:1024", "seed"),
                               [[60, 0, 1], [62, 1024, 1024]])


def test_every_written_piece_reads_back_however_long(tmp_path):
    import io

    # 40 notes 1024 quarter notes apart: too many ticks at pretty_midi's 220 a quarter note.
    events = np.array([[60 + k % 12, 1024 * (k > 0), 1024] for k in range(40)], np.float32)
    raw = midi.midi_bytes(midi.events_to_midi(events, 100))
    music = pretty_midi.PrettyMIDI(io.BytesIO(raw))
    assert music.get_end_time() == pytest.approx(40 * 1024 * 0.6, rel=1e-3)
    (tmp_path / "long.mid").write_bytes(raw)
    back, _ = data_io.read_piece(tmp_path / "long.mid", 4, 4, "events")
    np.testing.assert_allclose(back, events, rtol=1e-3)
    grid = np.repeat(np.array([[72, 67, 64, 48], [74, 67, 62, 43]], np.int16), 100_000, axis=0)
    raw = midi.midi_bytes(midi.grid_to_midi(grid, 4, 100))
    music = pretty_midi.PrettyMIDI(io.BytesIO(raw))
    assert music.resolution % 4 == 0 and len(music.instruments[0].notes) == 2
    assert music.get_end_time() == pytest.approx(50_000 * 0.6, rel=1e-6)


@pytest.mark.parametrize("meta", [b"\xff\x51\x02\x07\xa1", b"\xff\x58\x02\x04\x02"],
                         ids=["tempo", "time signature"])
def test_a_malformed_meta_event_is_skipped_and_the_track_read_on(tmp_path, meta):
    grid, notes = _read(tmp_path, _smf(b"\x00" + meta + _notes(SCALE)))
    np.testing.assert_array_equal(grid[:, 0], _top_voice(SCALE))
    assert notes == ["repaired (1 unreadable events)"]


def test_a_key_out_of_range_is_dropped_and_a_tempo_of_0_replaced(tmp_path):
    grid, notes = _read(tmp_path, _smf(b"\x00\xff\x59\x02\x14\x00" + _notes(SCALE)))
    np.testing.assert_array_equal(grid[:, 0], _top_voice(SCALE))
    assert notes == ["repaired (1 key signatures out of range dropped)"]
    grid, notes = _read(tmp_path, _smf(b"\x00\xff\x51\x03\x00\x00\x00" + _notes(SCALE)))
    np.testing.assert_array_equal(grid[:, 0], _top_voice(SCALE))
    assert notes == ["repaired (1 tempos of 0 replaced by the default 120 bpm)"]
    music, _, _ = midi.load_pretty_midi(tmp_path / "wild.mid")
    assert music.get_tempo_changes()[1].tolist() == pytest.approx([120.0])


def test_notes_without_a_note_off_end_where_a_sequencer_ends_them(tmp_path):
    # Each note ended by All Notes Off (CC 123) or All Sound Off (CC 120) a beat later.
    body = b"".join(_vlq(0) + bytes([0x90, pitch, 80]) + _vlq(480)
                    + bytes([0xB0, 123 if k % 2 else 120, 0]) for k, pitch in enumerate(SCALE))
    grid, notes = _read(tmp_path, _smf(body))
    np.testing.assert_array_equal(grid[:, 0], _top_voice(SCALE))
    assert notes == ["repaired (8 notes without a note-off ended by All Notes Off or All "
                     "Sound Off)"]
    # A last note held for two beats until the end of the track.
    body = _notes(SCALE[:4]) + _vlq(0) + bytes([0x90, 72, 80])
    grid, notes = _read(tmp_path, _smf(body, end=960))
    np.testing.assert_array_equal(grid[:, 0], np.repeat([60, 62, 64, 65, 72, 72], 4))
    assert notes == ["repaired (1 notes without a note-off ended at the end of their track)"]
    # All Notes Off on another channel ends nothing there.
    body = _notes([60]) + _vlq(0) + b"\x90\x40\x50" + _vlq(480) + b"\xb1\x7b\x00"
    events, notes = _read(tmp_path, _smf(body, end=480), "events")
    np.testing.assert_allclose(events, [[60, 0, 1], [64, 1, 2]])
    assert notes == ["repaired (1 notes without a note-off ended at the end of their track)"]


def test_notes_of_zero_length_are_counted_where_they_are_left_out(tmp_path):
    # Two notes whose note-off shares the note-on's tick (pretty_midi drops them), then
    # the scale.
    body = (_vlq(0) + b"\x90\x30\x50" + _vlq(0) + b"\x80\x30\x00"
            + _vlq(0) + b"\x90\x31\x50" + _vlq(0) + b"\x90\x31\x00" + _notes(SCALE))
    grid, notes = _read(tmp_path, _smf(body))
    np.testing.assert_array_equal(grid[:, 0], _top_voice(SCALE))
    assert notes == ["2 notes of zero length (a note-off on the note-on's own tick) left out"]
    events, notes = _read(tmp_path, _smf(_notes([60, 60]) + _notes([62], ticks=0)), "events")
    np.testing.assert_allclose(events, [[60, 0, 1], [60, 1, 1]])
    assert notes == ["1 notes of zero length (a note-off on the note-on's own tick) left out"]


def test_a_data_byte_above_127_is_read_as_the_next_status_byte_without_a_gap(tmp_path):
    # A note-on whose pitch byte is 0xC8: a lenient sequencer reads C8 50 as a program change.
    raw = _smf(_notes(SCALE) + b"\x00\x90\xc8\x50" + _notes(SCALE[::-1]))
    grid, notes = _read(tmp_path, raw)
    np.testing.assert_array_equal(grid[:, 0], _top_voice(SCALE + SCALE[::-1]))
    assert notes == ["repaired (1 unreadable events, 1 data bytes above 127 read as a status "
                     "byte)"]
    events, _ = _read(tmp_path, raw, "events")
    assert len(events) == 16 and events[1:, 1].tolist() == [1.0] * 15
    # A velocity of 0xC8: the bytes read on as one bad event, then the next delta time.
    raw = _smf(_notes(SCALE[:4]) + b"\x00\x90\x43\xc8" + _vlq(480) + b"\x80\x43\x00"
               + _notes(SCALE[4:]))
    grid, notes = _read(tmp_path, raw)
    np.testing.assert_array_equal(grid[:, 0], _top_voice([60, 62, 64, 65, 0, 67, 69, 71, 72]))
    assert notes == ["repaired (1 unreadable events)"]


def test_format_2_patterns_play_one_after_another(tmp_path):
    raw = _smf(_notes(SCALE), _notes([p + 12 for p in SCALE]), kind=2)
    grid, notes = _read(tmp_path, raw)
    np.testing.assert_array_equal(grid, np.pad(_top_voice(SCALE + [p + 12 for p in SCALE])
                                               [:, None], [(0, 0), (0, 3)]))
    assert notes == ["repaired (format 2: 2 patterns played one after another)"]
    events, notes = _read(tmp_path, raw, "events")
    assert len(events) == 16 and notes == ["repaired (format 2: 2 patterns played one after "
                                           "another)"]


@pytest.mark.parametrize("representation", ["voices", "events"])
def test_notes_of_pitch_0_are_counted_as_left_out(tmp_path, representation):
    (tmp_path / "zero.mid").write_bytes(_smf(_notes([0, 60] * 4)))
    (tmp_path / "only_zero.mid").write_bytes(_smf(_notes([0] * 4)))
    pieces = data_io.load(str(tmp_path), 4, 4, representation)
    assert pieces.names == ["zero.mid"]
    assert pieces.notes == ["zero.mid: 4 notes of pitch 0 left out: 0 is silence here, so "
                            "they cannot be voiced"]
    assert pieces.skipped == ["only_zero.mid: no notes (4 notes of pitch 0 left out: 0 is "
                              "silence here, so they cannot be voiced)"]
    if representation == "events":
        np.testing.assert_allclose(pieces.grids[0], [[60, 0, 1], [60, 2, 1], [60, 2, 1],
                                                     [60, 2, 1]])
