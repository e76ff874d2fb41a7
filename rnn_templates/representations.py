"""The two ways a music app reads a piece, behind one interface.

``voices``: chords of ``voices`` MIDI pitches on a time grid (0 = rest),
flattened voice by voice into one note language model (token 0 = rest,
1.. = the training pitch range). ``events``: a melody as (pitch, step,
duration) per note, steps and durations in quarter notes (see
:mod:`rnn_templates.note_events`).

:func:`representation` picks the class from a run's artifacts; each class
knows the windows' targets, the training arrays, the layer that turns raw
notes into model input, the baseline, the compiled generation loop of the
exported generator with its serving signature and the checks of a request,
seeds read from files or text, the pieces generated for the statistics, the
metrics, MIDI files and piano rolls written without replacing any, and the
text form of a piece. An app holds no branch on the representation.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import keras
import numpy as np

from rnn_templates.data import midi
from rnn_templates.data import pieces as data_io
from rnn_templates.errors import UserInputError
from rnn_templates.note_events import EventSampler, RepeatLastEvent, event_metrics
from rnn_templates.notes import note_metrics
from rnn_templates.pitch_tokens import EventFeatures, PitchTokens, pitches_of, tokens_of
from rnn_templates.sampling import RecurrentSampler


class RepeatLastNote:
    """Baseline: every voice holds its note (probability 0.9, the rest spread evenly)."""

    name = "repeat last note"

    def __init__(self, artifacts: dict[str, Any]):
        self.artifacts = {key: artifacts[key] for key in ("low", "high", "voices")}
        self.settings = {"kept_probability": 0.9}

    def outputs(self, inputs: np.ndarray) -> np.ndarray:
        tokens = tokens_of(inputs, self.artifacts)[:, :-1]
        vocab = self.artifacts["high"] - self.artifacts["low"] + 2
        voices = self.artifacts["voices"]
        probabilities = np.full((*tokens.shape, vocab), 0.1 / vocab, np.float32)
        # Position i predicts note i + 1, whose voice last sounded at i + 1 - voices.
        previous = np.roll(tokens, voices - 1, axis=1)
        rows, cols = np.indices(tokens.shape)
        probabilities[rows, cols, previous] += 0.9
        probabilities[:, :voices - 1] = 1.0 / vocab
        return probabilities


class Voices:
    """Chords of ``voices`` pitches per time step, read voice by voice."""

    name = "voices"
    features = "pitch_tokens"  # the serving model's layer from raw notes to tokens

    def __init__(self, artifacts: dict[str, Any]):
        self.artifacts = artifacts
        self.low, self.high = artifacts.get("low", 1), artifacts.get("high", 127)
        self.width = int(artifacts.get("voices", 4))
        self.spq = artifacts.get("steps_per_quarter", 4)

    def pitches(self, grid: np.ndarray) -> np.ndarray:
        return grid

    def opening(self, row: list) -> list:
        """A training piece's first sounding time step, a seed for unseeded pieces."""
        return row

    def targets(self, inputs: np.ndarray) -> np.ndarray:
        """Window position i predicts note token i + 1."""
        return tokens_of(inputs, self.artifacts)[:, 1:]

    def fit_arrays(self, inputs: np.ndarray) -> tuple[Any, Any]:
        tokens = tokens_of(inputs, self.artifacts)
        return tokens[:, :-1], tokens[:, 1:]

    def serving_model(self, core: keras.Model, name: str) -> keras.Model:
        notes = keras.Input((None, self.width), dtype="int32", name="notes")
        tokens = PitchTokens(self.low, self.high, name=self.features)(notes)
        flat = keras.layers.Reshape((-1,), name="flatten_voices")(tokens)
        return keras.Model(notes, core(flat), name=name)

    def baseline(self) -> RepeatLastNote:
        return RepeatLastNote(self.artifacts)

    def draws(self, steps):
        """Random numbers a piece of ``steps`` time steps needs (one per note)."""
        return self.width * steps

    def generator(self, model: keras.Model, lm_name: str):
        """``generate(notes, first, uniforms, temperature, top_k, top_p) -> notes``, traceable:
        ``notes`` (batch, length, width) MIDI pitches, left-padded, each seed starting at
        ``first``; returns (batch, steps, width) pitches."""
        import tensorflow as tf

        sampler = RecurrentSampler.from_model(model.get_layer(lm_name))
        to_tokens = model.get_layer(self.features)

        def generate(notes, first, uniforms, temperature, top_k, top_p):
            batch = tf.shape(notes)[0]
            tokens = tf.reshape(to_tokens(tf.cast(tf.round(notes), tf.int32)), (batch, -1))
            generated = sampler.loop(tokens, uniforms, temperature, top_k, top_p,
                                     starts=first * self.width)
            generated = tf.where(generated == 0, 0, generated + self.low - 1)
            return tf.reshape(generated, (batch, -1, self.width))

        return generate

    def read_seed(self, text: str, voices: int) -> np.ndarray:
        """A seed: a .mid/.midi/.csv file, notes as text (:meth:`parse`), or '' for
        none; notes outside the training range are reported (the model folds them in)."""
        text = str(text).strip()
        if Path(text).suffix.lower() in (*data_io.MIDI_SUFFIXES, ".csv"):
            path = Path(text)
            if not path.is_file():
                raise UserInputError("no such seed file", where=text,
                                     fix="give a .mid/.csv file, notes, or '' for no seed")
            try:
                grid, notes = data_io.read_piece(path, voices, self.spq, self.name,
                                                 pad=True)
            except (ValueError, OSError) as error:
                raise UserInputError("cannot read the seed", where=text,
                                     expected="a MIDI file, or a chorale CSV (one column per "
                                     "voice)", received=str(error),
                                     fix="check the file, or give the notes as text") from None
            if not len(grid) or not grid.any():
                raise UserInputError("the seed file has no notes", where=text,
                                     expected="pitched notes (drums are not voiced)",
                                     received="; ".join(notes) or None,
                                     fix="give another seed, or '' for none")
            for note in notes:
                print(f"seed {text}: {note}", file=sys.stderr)
        else:
            grid = self.parse(text, where=f"seed {text!r}")
        pitches = self.pitches(grid)
        moved = int(((pitches > 0) & ((pitches < self.low) | (pitches > self.high))).sum())
        if moved:
            print(f"seed {text!r}: {moved} notes outside the model's range {self.low}-"
                  f"{self.high} move by octaves into it", file=sys.stderr)
        return grid

    def serving_function(self, model: keras.Model, lm_name: str, openings: list) -> Any:
        """``serve(notes, seed_chords, steps, temperature, top_k, top_p, seed, first_row)``,
        the exported generator (see the music app's ``serve``); ``openings`` start the
        pieces that have no seed."""
        import tensorflow as tf

        openings = tf.constant(openings, tf.float32)
        generate = self.generator(model, lm_name)

        @tf.function(autograph=False)
        def serve(notes, seed_chords, steps, temperature, top_k, top_p, seed, first_row):
            if keras.backend.backend() == "tensorflow":
                # A serving client's request is checked here, as predict checks its
                # options: a NaN pitch or an out-of-range option would otherwise turn
                # into arbitrary notes instead of an error.
                checks = self.serving_checks(notes, seed_chords, steps, temperature, top_k,
                                             top_p)
                with tf.control_dependencies(checks):
                    notes = tf.identity(notes)
            notes = tf.cast(notes, tf.float32)
            notes = tf.pad(notes, [[0, 0], [0, 0], [0, self.width - tf.shape(notes)[2]]])
            batch, length = tf.shape(notes)[0], tf.shape(notes)[1]
            rows = first_row + tf.range(batch)
            pick = tf.math.floormod(seed + rows, tf.shape(openings)[0])
            empty = tf.reshape(seed_chords <= 0, (-1, 1, 1))
            last = tf.reshape(tf.range(length) == length - 1, (1, -1, 1))
            notes = tf.where(tf.logical_and(empty, last),
                             tf.gather(openings, pick)[:, None, :], notes)
            first = length - tf.maximum(seed_chords, 1)
            draws = tf.reshape(self.draws(steps), [1])
            uniforms = tf.transpose(tf.map_fn(
                lambda row: tf.random.stateless_uniform(draws, tf.stack([seed, row])),
                rows, fn_output_signature=tf.float32))
            generated = generate(notes, first, uniforms, temperature, top_k, top_p)
            if self.name == "voices":
                notes = tf.cast(tf.round(notes), tf.int32)
            return {"notes": generated, "seed": notes, "seed_length": length - first}

        return serve

    def serving_checks(self, notes, seed_chords, steps, temperature, top_k, top_p) -> list:
        """The serving signature's checks of a request, as ``tf.debugging`` assertions."""
        import tensorflow as tf

        a = tf.debugging
        if self.name == "voices":
            shape, pitches, checks = f"(batch, chords, at most {self.width} voices)", notes, []
        else:
            shape, pitches = "(batch, notes, 3): pitch, step, duration", notes[..., :1]
            timing = f"expected steps and durations from 0 to {midi.MAX_QUARTERS} quarter notes"
            checks = [a.assert_non_negative(notes[..., 1:], message=timing),
                      a.assert_less_equal(notes[..., 1:], float(midi.MAX_QUARTERS),
                                          message=timing)]
        checks.append(a.assert_less_equal(tf.shape(notes)[2], self.width,
                                          message=f"expected notes of shape {shape}"))
        length = tf.shape(notes)[1]
        return checks + [
            a.assert_positive(tf.shape(notes)[0], message="expected at least one row of notes"),
            a.assert_positive(length, message="expected at least one chord per row (a row of "
                              "zeros with seed length 0 for a piece without a seed)"),
            a.assert_all_finite(notes, f"expected finite notes {shape}"),
            a.assert_non_negative(pitches, message="expected MIDI pitches 0 (rest) to 127"),
            a.assert_less_equal(pitches, 127.0, message="expected MIDI pitches 0 (rest) to 127"),
            a.assert_equal(tf.shape(seed_chords)[0], tf.shape(notes)[0],
                           message="expected one seed length per row of notes"),
            a.assert_non_negative(seed_chords, message="expected seed lengths >= 0"),
            a.assert_less_equal(seed_chords, length,
                                message="expected seed lengths <= the number of chords in notes"),
            a.assert_greater_equal(steps, 1, message="expected steps from 1 to 100000"),
            a.assert_less_equal(steps, 100000, message="expected steps from 1 to 100000"),
            a.assert_all_finite(temperature, "expected a temperature from 0 to 100"),
            a.assert_non_negative(temperature, message="expected a temperature from 0 to 100"),
            a.assert_less_equal(temperature, 100.0,
                                message="expected a temperature from 0 to 100"),
            a.assert_non_negative(top_k, message="expected top_k >= 0 (0 = every note)"),
            a.assert_greater(top_p, 0.0, message="expected top_p in (0, 1]"),
            a.assert_less_equal(top_p, 1.0, message="expected top_p in (0, 1]"),
        ]

    def write_piece(self, piece: np.ndarray, directory: Path, tempo: float) -> dict[str, str]:
        """``piece-NNN.mid`` and its piano roll in ``directory``, numbered after every
        ``piece-NNN.*`` there already (so no file is replaced)."""
        from rnn_templates import io
        from rnn_templates.notes import plot_piano_roll

        try:
            music, grid = self.to_midi(piece, tempo)
        except ValueError as error:  # longer than a MIDI file holds
            raise UserInputError("piece too long to write as MIDI", where=str(directory),
                                 expected=f"at most {midi.MAX_TICKS} ticks",
                                 received=str(error), fix="ask for fewer --steps") from None
        io.make_folder(directory, option="--output-dir")
        first = 1 + max((int(p.stem[6:]) for p in directory.glob("piece-*")
                         if p.stem[6:].isdigit()), default=0)
        # The number is taken when the file is linked into place: another predict
        # writing into the same folder at once gets the next one.
        number, path = io.write_numbered(lambda n: directory / f"piece-{n:03d}.mid", first,
                                         midi.midi_bytes(music))
        try:
            plot_piano_roll(grid, self.spq, directory / f"piece-{number:03d}.png", path.name)
        except BaseException:  # Ctrl-C, say: no piece without its piano roll
            path.unlink(missing_ok=True)
            raise
        return {"midi": str(path), "piano_roll": str(path.with_suffix(".png"))}

    def generate(self, model: keras.Model, lm_name: str, seeds: np.ndarray,
                 steps: int) -> list[np.ndarray]:
        """Pieces of ``steps`` time steps from ``seeds`` (sampled with seed 0), as grids."""
        if not len(seeds):
            return []
        sampler = RecurrentSampler.from_model(model.get_layer(lm_name))
        chosen = sampler.sample(tokens_of(seeds, self.artifacts), steps * self.width, seed=0)
        return list(pitches_of(chosen, self.low).reshape(len(seeds), -1, self.width))

    def metrics(self, targets, outputs) -> dict[str, Any]:
        return note_metrics(targets, outputs, self.width)

    def held_out_grids(self, targets) -> list[np.ndarray]:
        # Targets are notes 1..end of each window: drop the first partial chord.
        whole = np.asarray(targets)[:, self.width - 1:]
        return list(pitches_of(whole, self.low).reshape(len(whole), -1, self.width))

    def rounded(self, piece: np.ndarray) -> np.ndarray:
        return piece.astype(int)

    def to_midi(self, piece: np.ndarray, tempo: float) -> tuple[Any, np.ndarray]:
        """``(PrettyMIDI, grid)`` of a generated piece."""
        return midi.grid_to_midi(piece, self.spq, tempo), piece

    def text(self, piece: np.ndarray) -> str:
        return "; ".join(" ".join(map(str, chord)) for chord in piece)

    def parse(self, text: str, where: str) -> np.ndarray:
        return data_io.parse_pitches(text, self.width, where=where)


class Events(Voices):
    """A melody as (pitch, step, duration) per note."""

    name = "events"
    features = "event_features"

    def __init__(self, artifacts: dict[str, Any]):
        super().__init__(artifacts)
        self.width = 3

    def pitches(self, grid: np.ndarray) -> np.ndarray:
        return grid[:, 0]

    def opening(self, row: list) -> list:
        return [row[0], 0.0, row[2]]  # the first note, from the start

    def targets(self, inputs: np.ndarray) -> np.ndarray:
        return np.asarray(inputs, np.float32)[:, 1:]

    def fit_arrays(self, inputs: np.ndarray) -> tuple[Any, Any]:
        tokens, timing = (keras.ops.convert_to_numpy(t)
                          for t in EventFeatures(self.low, self.high)(inputs))
        return ((tokens[:, :-1], timing[:, :-1]),
                {"pitch": tokens[:, 1:], "step": timing[:, 1:, :1],
                 "duration": timing[:, 1:, 1:]})

    def serving_model(self, core: keras.Model, name: str) -> keras.Model:
        notes = keras.Input((None, 3), name="notes")
        features = EventFeatures(self.low, self.high, name=self.features)(notes)
        return keras.Model(notes, core(features), name=name)

    def baseline(self) -> RepeatLastEvent:
        return RepeatLastEvent(self.artifacts)

    def draws(self, steps):
        return steps

    def generator(self, model: keras.Model, lm_name: str):
        import tensorflow as tf

        sampler = EventSampler(model.get_layer(lm_name))
        to_features = model.get_layer(self.features)

        def generate(notes, first, uniforms, temperature, top_k, top_p):
            tokens, timing = to_features(notes)
            chosen, timing = sampler.event_loop(tokens, timing, uniforms, temperature, top_k,
                                                top_p, starts=first)
            pitches = tf.cast(tf.where(chosen == 0, 0, chosen + self.low - 1), tf.float32)
            return tf.concat([pitches[..., None], timing], axis=-1)

        return generate

    def generate(self, model: keras.Model, lm_name: str, seeds: np.ndarray,
                 steps: int) -> list[np.ndarray]:
        if not len(seeds):
            return []
        sampler = EventSampler(model.get_layer(lm_name))
        tokens, timing = (keras.ops.convert_to_numpy(t) for t in model.get_layer(
            self.features)(seeds.astype(np.float32)))
        uniforms = np.random.default_rng(0).random((steps, len(seeds)), np.float32)
        chosen, timing = (keras.ops.convert_to_numpy(t)
                          for t in sampler.compiled(sampler.event_loop)(tokens, timing,
                                                                        uniforms))
        pieces = np.concatenate([pitches_of(chosen, self.low)[..., None], timing], axis=-1)
        return [midi.events_to_grid(piece, self.spq) for piece in pieces]

    def metrics(self, targets, outputs) -> dict[str, Any]:
        return event_metrics(targets, outputs, self.artifacts)

    def held_out_grids(self, targets) -> list[np.ndarray]:
        return [midi.events_to_grid(t, self.spq) for t in targets]

    def rounded(self, piece: np.ndarray) -> np.ndarray:
        return np.round(piece, 3)

    def to_midi(self, piece: np.ndarray, tempo: float) -> tuple[Any, np.ndarray]:
        return midi.events_to_midi(piece, tempo), midi.events_to_grid(piece, self.spq)

    def text(self, piece: np.ndarray) -> str:
        return " ".join(f"{int(p)}:{s:g}:{d:g}" for p, s, d in piece)

    def parse(self, text: str, where: str) -> np.ndarray:
        return data_io.parse_melody(text, where=where)


def representation(artifacts: dict[str, Any]) -> Voices:
    """The class for ``artifacts["representation"]`` (``voices`` when absent)."""
    return Events(artifacts) if artifacts.get("representation") == "events" \
        else Voices(artifacts)
