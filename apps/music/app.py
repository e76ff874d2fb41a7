"""Music generation: the hooks the shared runner calls, top to bottom.

1. data: read pieces (MIDI or chorale CSV) as grids of voices, split by piece,
   cut windows of ``window + 1`` time steps; the pitch range is fitted on the
   training pieces;
2. model: a note language model over windows flattened voice by voice; the
   saved model takes raw MIDI pitches (``PitchTokens`` inside it);
3. serving: ``serve(notes, seed_chords, steps, temperature, top_k, top_p,
   seed) -> {notes, seed}``, the compiled stateful sampler of
   :mod:`rnn_templates.sampling` inside the SavedModel;
4. metrics: next-note accuracy and negative log-likelihood on held-out
   windows, and statistics of pieces generated from held-out openings against
   the held-out music, beside a repeat-the-last-note baseline.
"""

from __future__ import annotations

import dataclasses
import sys
from pathlib import Path
from typing import Any

import keras
import numpy as np
import tensorflow as tf

from apps.music import data as data_io
from apps.music import midi
from apps.music.config import MusicConfig
from apps.music.model import LM_NAME, MusicHyperModel
from rnn_templates import io
from rnn_templates.app import App, Prepared
from rnn_templates.errors import UserInputError
from rnn_templates.sampling import RecurrentSampler

TEST_FILE = "test_windows.npz"
GENERATED_STEPS = 64  # time steps generated per held-out opening for the statistics


@keras.saving.register_keras_serializable(package="rnn_templates.music")
class PitchTokens(keras.layers.Layer):
    """MIDI pitches (0 = silence) to note tokens ``0..high - low + 1``.

    Pitches outside ``[low, high]`` (the training range) move by octaves into
    it, so a seed in another register still reads as the same notes.
    """

    def __init__(self, low: int, high: int, **kwargs):
        super().__init__(**kwargs)
        if not 1 <= low <= high <= 127:
            raise ValueError(f"`low` and `high` must satisfy 1 <= low <= high <= 127; "
                             f"received low={low}, high={high}")
        self.low, self.high = int(low), int(high)

    def call(self, pitches):
        ops = keras.ops
        p = ops.cast(pitches, "int32")
        up = ops.where(p < self.low, p + 12 * ((self.low - p + 11) // 12), p)
        folded = ops.where(up > self.high, up - 12 * ((up - self.high + 11) // 12), up)
        folded = ops.clip(folded, self.low, self.high)  # a range narrower than an octave
        return ops.where(p == 0, 0, folded - self.low + 1)

    def get_config(self):
        return {**super().get_config(), "low": self.low, "high": self.high}


def tokens_of(grids: np.ndarray, artifacts: dict[str, Any]) -> np.ndarray:
    """Pitch windows (n, steps, voices) -> flat note tokens (n, steps * voices)."""
    tokens = keras.ops.convert_to_numpy(
        PitchTokens(artifacts["low"], artifacts["high"])(np.asarray(grids, np.int32)))
    return tokens.reshape(len(tokens), -1)


def pitches_of(tokens: np.ndarray, low: int) -> np.ndarray:
    return np.where(tokens == 0, 0, tokens + low - 1)


def windows(grids: list[np.ndarray], length: int, stride: int) -> np.ndarray:
    """Every window of ``length`` steps, ``stride`` apart; a shorter piece is padded
    with silence to one window."""
    out = []
    for grid in grids:
        if len(grid) < length:
            grid = np.concatenate([grid, np.zeros((length - len(grid), grid.shape[1]),
                                                  grid.dtype)])
        starts = range(0, len(grid) - length + 1, stride)
        out += [grid[start:start + length] for start in starts]
    voices = grids[0].shape[1] if grids else 1
    return np.stack(out).astype(np.int16) if out else np.zeros((0, length, voices), np.int16)


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


class MusicApp(App):
    name = "music"
    config_class = MusicConfig
    monitor = "val_loss"

    def __init__(self):
        self.artifacts: dict[str, Any] = {}
        self.options: dict[str, Any] = {}

    # --- 1. data -------------------------------------------------------------------

    def load_data(self, config: MusicConfig) -> data_io.Pieces:
        pieces = data_io.load(config.data, config.voices, config.steps_per_quarter)
        _report(pieces)
        return pieces

    def from_arrays(self, config, inputs, targets=None) -> data_io.Pieces:
        grids = [np.asarray(grid, np.int16) for grid in inputs]
        if not grids or any(g.ndim != 2 or g.shape[1] != config.voices for g in grids):
            raise ValueError(f"`inputs` must be grids of shape (steps, {config.voices}); "
                             f"received {[np.shape(g) for g in grids[:3]]}")
        return data_io.Pieces(grids, [f"piece {i}" for i in range(len(grids))],
                              [None] * len(grids), "memory")

    def prepare(self, config: MusicConfig, pieces: data_io.Pieces) -> Prepared:
        split = _split(pieces, config)
        train = [pieces.grids[i] for i in split["train"]]
        sounding = np.concatenate([grid[grid > 0] for grid in train])
        if not len(sounding):
            raise UserInputError("the training pieces have no notes", where=pieces.source)
        openings = []
        for grid in train:
            first = grid[np.flatnonzero(grid.any(axis=1))[0]].tolist()
            if first not in openings:
                openings.append(first)
        artifacts = {"low": int(sounding.min()), "high": int(sounding.max()),
                     "voices": config.voices, "steps_per_quarter": config.steps_per_quarter,
                     "window": config.window, "stride": config.stride, "tempo": config.tempo,
                     "openings": openings[:64],
                     "generation": {"steps": config.generate_steps,
                                    "temperature": config.temperature,
                                    "top_k": config.top_k, "top_p": config.top_p}}
        splits = {}
        for name, indices in split.items():
            inputs = windows([pieces.grids[i] for i in indices], config.window + 1,
                             config.stride)
            splits[name] = (inputs, tokens_of(inputs, artifacts)[:, 1:])
        moved = sum(int(((g > 0) & ((g < artifacts["low"]) | (g > artifacts["high"]))).sum())
                    for name in ("validation", "test") for g in splits[name][0])
        if moved:
            print(f"{moved} held-out notes outside the training range "
                  f"{artifacts['low']}-{artifacts['high']} read an octave or more inside it")
        for name in ("train", "validation"):
            if not len(splits[name][0]):
                raise UserInputError(f"no {name} window", where=pieces.source,
                                     received=f"{len(pieces)} pieces",
                                     fix="add pieces, or lower --set validation_fraction")
        return Prepared(splits, artifacts, None)

    def labelled(self, pieces: data_io.Pieces, artifacts):
        chosen = [g for g, s in zip(pieces.grids, pieces.splits, strict=True) if s == "test"]
        inputs = windows(chosen or pieces.grids, artifacts["window"] + 1, artifacts["stride"])
        return inputs, tokens_of(inputs, artifacts)[:, 1:]

    def write_held_out(self, directory: Path, inputs, targets, artifacts) -> None:
        with io.atomic_path(directory / TEST_FILE) as temporary, open(temporary, "wb") as file:
            np.savez_compressed(file, windows=np.asarray(inputs, np.int16))

    def read_held_out(self, directory: Path, artifacts):
        with np.load(directory / TEST_FILE) as stored:
            inputs = stored["windows"]
        targets = tokens_of(inputs, artifacts)[:, 1:] if len(inputs) else np.zeros((0, 0), int)
        return inputs, targets

    # --- 2. model ------------------------------------------------------------------

    def hypermodel(self, config, prepared) -> MusicHyperModel:
        artifacts = prepared.artifacts
        return MusicHyperModel(config, artifacts["high"] - artifacts["low"] + 2)

    def fit_data(self, prepared: Prepared) -> dict[str, Any]:
        data = {}
        for name in ("train", "validation"):
            tokens = tokens_of(prepared.splits[name][0], prepared.artifacts)
            data[name] = (tokens[:, :-1], tokens[:, 1:])
        return data

    def serving_model(self, prepared: Prepared, core: keras.Model) -> keras.Model:
        artifacts = prepared.artifacts
        notes = keras.Input((None, artifacts["voices"]), dtype="int32", name="notes")
        tokens = PitchTokens(artifacts["low"], artifacts["high"], name="pitch_tokens")(notes)
        flat = keras.layers.Reshape((-1,), name="flatten_voices")(tokens)
        return keras.Model(notes, core(flat), name="music")

    def baselines(self, config, prepared) -> list[Any]:
        return [RepeatLastNote(prepared.artifacts)]

    # --- 3. serving ----------------------------------------------------------------

    def input_signature(self) -> list[tf.TensorSpec]:
        return [tf.TensorSpec([None, None, None], tf.int32, name="notes"),
                tf.TensorSpec([None], tf.int32, name="seed_chords"),
                tf.TensorSpec([], tf.int32, name="steps"),
                tf.TensorSpec([], tf.float32, name="temperature"),
                tf.TensorSpec([], tf.int32, name="top_k"),
                tf.TensorSpec([], tf.float32, name="top_p"),
                tf.TensorSpec([], tf.int32, name="seed")]

    def serve(self, model: keras.Model, artifacts: dict[str, Any]):
        sampler = RecurrentSampler.from_model(model.get_layer(LM_NAME))
        to_tokens = model.get_layer("pitch_tokens")
        voices, low = artifacts["voices"], artifacts["low"]
        openings = tf.constant(artifacts["openings"], tf.int32)

        @tf.function(autograph=False)
        def serve(notes, seed_chords, steps, temperature, top_k, top_p, seed):
            """Seeds (batch, chords, <= voices) left-padded, their chord counts (0 = none);
            returns the seeds as used and ``steps`` new chords per piece."""
            notes = tf.cast(notes, tf.int32)
            notes = tf.pad(notes, [[0, 0], [0, 0], [0, voices - tf.shape(notes)[2]]])
            batch, length = tf.shape(notes)[0], tf.shape(notes)[1]
            # A piece with no seed starts from a training piece's opening chord.
            pick = tf.math.floormod(seed + tf.range(batch), tf.shape(openings)[0])
            empty = tf.reshape(seed_chords <= 0, (-1, 1, 1))
            last = tf.reshape(tf.range(length) == length - 1, (1, -1, 1))
            notes = tf.where(tf.logical_and(empty, last),
                             tf.gather(openings, pick)[:, None, :], notes)
            chords = tf.maximum(seed_chords, 1)
            tokens = tf.reshape(to_tokens(notes), (batch, -1))
            draws = voices * steps
            uniforms = tf.transpose(tf.random.stateless_uniform(
                tf.stack([batch, draws]), tf.stack([seed, 0])))
            generated = sampler.loop(tokens, uniforms, temperature, top_k, top_p,
                                     starts=(length - chords) * voices)
            generated = tf.where(generated == 0, 0, generated + low - 1)
            generated = tf.reshape(generated, (batch, steps, voices))
            return {"notes": generated, "seed": notes}

        return serve

    def use_artifacts(self, artifacts: dict[str, Any]) -> None:
        self.artifacts = artifacts

    def use_options(self, options: dict[str, Any]) -> None:
        checks = {"steps": (1, 100000), "top_k": (0, None)}
        for key, (low, high) in checks.items():
            value = options.get(key)
            if value is not None and (value < low or (high and value > high)):
                raise UserInputError(f"--{key.replace('_', '-')} out of range", where="predict",
                                     expected=f">= {low}" + (f" and <= {high}" if high else ""),
                                     received=str(value))
        if options.get("temperature") is not None and options["temperature"] < 0:
            raise UserInputError("--temperature must be >= 0", where="predict",
                                 received=str(options["temperature"]))
        if options.get("top_p") is not None and not 0 < options["top_p"] <= 1:
            raise UserInputError("--top-p must be in (0, 1]", where="predict",
                                 received=str(options["top_p"]))
        self.options = options

    def parse_input(self, text: str) -> np.ndarray:
        """A seed: a .mid/.midi/.csv file, pitches ('60 64 67; 62 65 69'), or '' for none."""
        text = str(text).strip()
        voices = self.artifacts.get("voices", 4)
        if Path(text).suffix.lower() in (*data_io.MIDI_SUFFIXES, ".csv"):
            path = Path(text)
            if not path.is_file():
                raise UserInputError("no such seed file", where=text,
                                     fix="give a .mid/.csv file, pitches, or '' for no seed")
            try:
                grid, _ = data_io.read_piece(path, voices,
                                             self.artifacts.get("steps_per_quarter", 4))
            except (ValueError, OSError) as error:
                raise UserInputError("cannot read the seed", where=text,
                                     received=str(error)) from None
            return grid
        return data_io.parse_pitches(text, voices, where=f"seed {text!r}")

    def to_batch(self, items: list[np.ndarray]) -> list[tf.Tensor]:
        generation = {**self.artifacts.get("generation", {}), **{
            k: v for k, v in self.options.items()
            if k in ("steps", "temperature", "top_k", "top_p") and v is not None}}
        length = max([1, *(len(item) for item in items)])
        width = max([1, *(np.shape(item)[1] for item in items)])
        notes = np.zeros((len(items), length, width), np.int32)
        for row, item in enumerate(items):
            if len(item):
                notes[row, length - len(item):, :np.shape(item)[1]] = item
        return [tf.constant(notes), tf.constant([len(item) for item in items], tf.int32),
                tf.constant(int(generation.get("steps", GENERATED_STEPS)), tf.int32),
                tf.constant(float(generation.get("temperature", 1.0)), tf.float32),
                tf.constant(int(generation.get("top_k", 0)), tf.int32),
                tf.constant(float(generation.get("top_p", 1.0)), tf.float32),
                tf.constant(int(self.options.get("seed") or 0), tf.int32)]

    def prediction_rows(self, outputs, items) -> list[dict[str, Any]]:
        rows = []
        out_dir = self.options.get("output_dir")
        for row, item in enumerate(items):
            seed = outputs["seed"][row]
            seed = seed[np.flatnonzero(seed.any(axis=1))[0]:] if seed.any() else seed[-1:]
            piece = np.concatenate([seed, outputs["notes"][row]]).astype(int)
            entry: dict[str, Any] = {"seed": str(item), "seed_steps": len(seed),
                                     "steps": len(piece)}
            if out_dir:
                entry.update(self.write_piece(piece, Path(out_dir)))
            else:
                entry["notes"] = "; ".join(" ".join(map(str, chord)) for chord in piece)
            rows.append(entry)
        return rows

    def write_piece(self, grid: np.ndarray, directory: Path) -> dict[str, str]:
        """``piece-NNN.mid`` and its piano roll, numbered after what is there already."""
        directory.mkdir(parents=True, exist_ok=True)
        number = 1 + max((int(p.stem[6:]) for p in directory.glob("piece-*.mid")
                          if p.stem[6:].isdigit()), default=0)
        spq = self.artifacts.get("steps_per_quarter", 4)
        path = directory / f"piece-{number:03d}.mid"
        with io.atomic_path(path) as temporary:
            temporary.write_bytes(midi.midi_bytes(
                midi.grid_to_midi(grid, spq, self.artifacts.get("tempo", 100.0))))
        plot_piano_roll(grid, spq, directory / f"piece-{number:03d}.png", title=path.name)
        return {"midi": str(path), "piano_roll": str(path.with_suffix(".png"))}

    def format_prediction(self, row: dict[str, Any]) -> str:
        what = row.get("midi") or row["notes"]
        return f"{what}\t{row['steps']} steps\tseed {row['seed']!r}"

    # --- 4. metrics and plots ----------------------------------------------------------

    def outputs(self, model: keras.Model, inputs) -> np.ndarray:
        # Position i of a window predicts note i + 1: the last position predicts nothing.
        parts = [keras.ops.convert_to_numpy(model(np.asarray(chunk, np.int32),
                                                  training=False))[:, :-1]
                 for chunk in np.array_split(inputs, max(1, len(inputs) // 128))] \
            if len(inputs) else []
        return np.concatenate(parts) if parts else np.zeros((0,))

    def scored_outputs(self, model, inputs, artifacts) -> dict[str, np.ndarray]:
        probabilities = self.outputs(model, inputs)
        # Pieces from the held-out openings (their first time step), for the statistics.
        sampler = RecurrentSampler.from_model(model.get_layer(LM_NAME))
        seeds = tokens_of(np.asarray(inputs)[:64, :1], artifacts)
        generated = sampler.sample(seeds, GENERATED_STEPS * artifacts["voices"], seed=0) \
            if len(seeds) else np.zeros((0, 0), int)
        return {"probabilities": probabilities,
                "generated": pitches_of(generated, artifacts["low"]).reshape(
                    len(seeds), -1, artifacts["voices"])}

    def metrics(self, targets, outputs, artifacts) -> dict:
        from apps.music.stats import music_statistics, note_metrics

        if isinstance(outputs, dict):
            metrics = note_metrics(targets, outputs["probabilities"], artifacts["voices"])
            reference = music_statistics(self._held_out_grids(targets, artifacts), artifacts)
            generated = music_statistics(list(outputs["generated"]), artifacts, reference)
            metrics["generated"] = generated
            metrics["held_out_music"] = reference
            return metrics
        return note_metrics(targets, outputs, artifacts["voices"])

    @staticmethod
    def _held_out_grids(targets, artifacts) -> list[np.ndarray]:
        voices = artifacts["voices"]
        # Targets are notes 1..end of each window: drop the first partial chord.
        whole = np.asarray(targets)[:, voices - 1:]
        return list(pitches_of(whole, artifacts["low"]).reshape(len(whole), -1, voices))

    def plots(self, metrics, artifacts, directory: Path, name: str) -> None:
        from apps.music.stats import plot_statistics

        if name == "test" and "generated" in metrics:
            plot_statistics(metrics, directory / "generated_vs_held_out.png")

    def summary(self, name: str, metrics: dict) -> str:
        line = (f"{name:10s} next-note accuracy {metrics['accuracy']:.4f}  nll/note "
                f"{metrics['nll_per_note']:.4f}  nll/step {metrics['nll_per_step']:.3f}  "
                f"({metrics['notes']} notes)")
        if "generated" in metrics:
            g = metrics["generated"]
            line += (f"\n{'':10s} generated: pitch-class distance {g['pitch_class_distance']:.3f}"
                     f"  out-of-key {g['out_of_key']:.3f}  repeated bars "
                     f"{g['repeated_bars']:.3f}  density {g['density']:.3f}")
        return line


def plot_piano_roll(grid: np.ndarray, steps_per_quarter: int, path: Path, title: str) -> None:
    from apps.music.stats import plot_piano_roll as plot

    plot(grid, steps_per_quarter, path, title)


def _split(pieces: data_io.Pieces, config: MusicConfig) -> dict[str, list[int]]:
    """Pieces per split: the folder's own train/valid/test, else a seeded shuffle."""
    if any(pieces.splits):
        split = {name: [i for i, s in enumerate(pieces.splits) if s == name]
                 for name in ("train", "validation", "test")}
        split["train"] += [i for i, s in enumerate(pieces.splits) if s is None]
        return split
    order = np.random.default_rng(config.seed).permutation(len(pieces))
    tests = int(round(config.test_fraction * len(pieces)))
    validations = max(1, int(round(config.validation_fraction * len(pieces))))
    if len(pieces) - tests - validations < 1:
        raise UserInputError("too few pieces to split", where=pieces.source,
                             received=f"{len(pieces)} pieces",
                             expected="at least one each for training and validation",
                             fix="add pieces, or put them in train/ and valid/ folders")
    return {"validation": sorted(order[:validations].tolist()),
            "test": sorted(order[validations:validations + tests].tolist()),
            "train": sorted(order[validations + tests:].tolist())}


def _report(pieces: data_io.Pieces) -> None:
    print(f"read {len(pieces)} pieces from {pieces.source}")
    for note in pieces.notes:
        print(f"  {note}")
    if pieces.skipped:
        print(f"skipped {len(pieces.skipped)} unreadable files:", file=sys.stderr)
        for line in pieces.skipped:
            print(f"  {line}", file=sys.stderr)


def fit_music_model(config: MusicConfig, grids: list[np.ndarray], work_dir) -> tuple:
    """Train on in-memory grids; returns ``(serving model, artifacts, training)``."""
    from rnn_templates.app import Runner

    return Runner(MusicApp()).fit(dataclasses.replace(config), grids, None, work_dir)
