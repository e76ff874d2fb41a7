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
    _, repairs = midi.load_pretty_midi(path)
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
