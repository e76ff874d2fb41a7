"""Music generation: the hooks the shared runner calls, top to bottom.

1. data: read pieces (MIDI or chorale CSV) as grids of voices, split by piece,
   cut windows of ``window + 1`` time steps; the pitch range is fitted on the
   training pieces;
2. model: a note language model over windows flattened voice by voice; the
   saved model takes raw MIDI pitches (``PitchTokens`` inside it);
3. serving: ``serve(notes, seed_chords, steps, temperature, top_k, top_p,
   seed, first_row) -> {notes, seed, seed_length}``, the compiled stateful sampler of
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

from apps.music.config import MusicConfig
from apps.music.model import LM_NAME, MusicHyperModel
from rnn_templates import io
from rnn_templates.app import App, Prepared
from rnn_templates.data import pieces as data_io
from rnn_templates.errors import UserInputError
from rnn_templates.representations import representation

TEST_FILE = "test_windows.npz"
GENERATED_STEPS = 64  # time steps generated per held-out opening for the statistics


class MusicApp(App):
    name = "music"
    config_class = MusicConfig
    monitor = "val_loss"

    def __init__(self):
        self.artifacts: dict[str, Any] = {}
        self.options: dict[str, Any] = {}

    @property
    def kind(self):
        """The representation of the pieces (:mod:`rnn_templates.representations`)."""
        return representation(self.artifacts)

    # --- 1. data -------------------------------------------------------------------

    def load_data(self, config: MusicConfig) -> data_io.Pieces:
        pieces = data_io.load(config.data, config.voices, config.steps_per_quarter,
                              config.representation)
        pieces.report()
        return pieces

    def from_arrays(self, config, inputs, targets=None) -> data_io.Pieces:
        events = config.representation == "events"
        width = 3 if events else config.voices
        grids = [np.asarray(grid, np.float32 if events else np.int16) for grid in inputs]
        if not grids or any(g.ndim != 2 or g.shape[1] != width for g in grids):
            what = "note events of shape (notes, 3)" if events else \
                f"grids of shape (steps, {config.voices})"
            raise ValueError(f"`inputs` must be {what}; received "
                             f"{[np.shape(g) for g in grids[:3]]}")
        return data_io.Pieces(grids, [f"piece {i}" for i in range(len(grids))],
                              [None] * len(grids), "memory")

    def prepare(self, config: MusicConfig, pieces: data_io.Pieces) -> Prepared:
        split = pieces.split(config.splitting_seed, config.validation_fraction,
                             config.test_fraction)
        kind = representation({"representation": config.representation,
                               "voices": config.voices})
        train = [pieces.grids[i] for i in split["train"]]
        sounding = np.concatenate([p[p > 0] for p in map(kind.pitches, train)])
        if not len(sounding):
            raise UserInputError("the training pieces have no notes", where=pieces.source)
        openings = []
        for grid in train:
            first = kind.opening(grid[np.flatnonzero(grid.any(axis=1))[0]].tolist())
            if first not in openings:
                openings.append(first)
        artifacts = {
            "representation": config.representation, "low": int(sounding.min()),
            "high": int(sounding.max()), "voices": config.voices,
            "steps_per_quarter": config.steps_per_quarter, "window": config.window,
            "stride": config.held_out_stride, "tempo": config.tempo, "openings": openings[:64],
            "generation": {"steps": config.generate_steps, "temperature": config.temperature,
                           "top_k": config.top_k, "top_p": config.top_p}}
        kind = representation(artifacts)
        splits = data_io.window_splits(pieces, split, kind, config.window + 1,
                                       config.stride, config.held_out_stride)
        return Prepared(splits, artifacts, None)

    def labelled(self, pieces: data_io.Pieces, artifacts):
        chosen = [g for g, s in zip(pieces.grids, pieces.splits, strict=True) if s == "test"]
        grids = chosen or pieces.grids
        kind, length = representation(artifacts), artifacts["window"] + 1
        inputs = data_io.windows(grids, length, artifacts["stride"])
        unit = "notes" if kind.name == "events" else "time steps"
        if grids and not len(inputs):
            raise UserInputError(
                f"nothing to evaluate: every piece is shorter than the model's window + 1 = "
                f"{length} {unit}", where=pieces.source,
                received=f"{len(grids)} piece(s), the longest {max(map(len, grids))} {unit}",
                fix="evaluate on longer pieces, or use a model trained with a smaller window")
        moved = sum(int(((p > 0) & ((p < kind.low) | (p > kind.high))).sum())
                    for p in map(kind.pitches, grids))
        if moved:
            print(f"{pieces.source}: {moved} notes outside the training range "
                  f"{kind.low}-{kind.high} read an octave or more inside it", file=sys.stderr)
        return inputs, kind.targets(inputs)

    def write_held_out(self, directory: Path, inputs, targets, artifacts) -> None:
        with io.atomic_path(directory / TEST_FILE) as temporary, open(temporary, "wb") as file:
            np.savez_compressed(file, windows=np.asarray(inputs))

    def read_held_out(self, directory: Path, artifacts):
        with np.load(directory / TEST_FILE) as stored:
            inputs = stored["windows"]
        return inputs, representation(artifacts).targets(inputs)

    # --- 2. model ------------------------------------------------------------------

    def hypermodel(self, config, prepared) -> MusicHyperModel:
        artifacts = prepared.artifacts
        return MusicHyperModel(config, artifacts["high"] - artifacts["low"] + 2)

    def fit_data(self, prepared: Prepared) -> dict[str, Any]:
        kind = representation(prepared.artifacts)
        return {name: kind.fit_arrays(prepared.splits[name][0])
                for name in ("train", "validation")}

    def serving_model(self, prepared: Prepared, core: keras.Model) -> keras.Model:
        return representation(prepared.artifacts).serving_model(core, "music")

    def baselines(self, config, prepared) -> list[Any]:
        return [representation(prepared.artifacts).baseline()]

    # --- 3. serving ----------------------------------------------------------------

    def input_signature(self) -> list[tf.TensorSpec]:
        return [tf.TensorSpec([None, None, None], tf.float32, name="notes"),
                tf.TensorSpec([None], tf.int32, name="seed_chords"),
                tf.TensorSpec([], tf.int32, name="steps"),
                tf.TensorSpec([], tf.float32, name="temperature"),
                tf.TensorSpec([], tf.int32, name="top_k"),
                tf.TensorSpec([], tf.float32, name="top_p"),
                tf.TensorSpec([], tf.int32, name="seed"),
                tf.TensorSpec([], tf.int32, name="first_row")]

    def serve(self, model: keras.Model, artifacts: dict[str, Any]):
        """``serve(notes, seed_chords, steps, temperature, top_k, top_p, seed, first_row)``.

        ``notes`` holds the seeds, left-padded: (batch, chords, <= voices) MIDI pitches,
        or (batch, notes, 3) note events; ``seed_chords`` their lengths (0 = no seed:
        the piece starts from a training piece's opening, picked by ``seed`` and the
        row). Row ``r`` is piece number ``first_row + r``: its random numbers come from
        the stream keyed ``(seed, first_row + r)``, so a piece depends on its seed and
        its number, never on the batch it came in. Returns the seeds as used and
        ``steps`` new time steps (or notes) per piece.
        """
        return representation(artifacts).serving_function(model, LM_NAME,
                                                          artifacts["openings"])

    def use_artifacts(self, artifacts: dict[str, Any]) -> None:
        self.artifacts = artifacts

    def use_options(self, options: dict[str, Any]) -> None:
        checks = {"steps": (1, 100000), "top_k": (0, None), "seed": (0, 2**31 - 1)}
        for key, (low, high) in checks.items():
            value = options.get(key)
            if value is not None and (value < low or (high and value > high)):
                raise UserInputError(f"--{key.replace('_', '-')} out of range", where="predict",
                                     expected=f">= {low}" + (f" and <= {high}" if high else ""),
                                     received=str(value))
        if options.get("temperature") is not None and not 0 <= options["temperature"] <= 100:
            raise UserInputError("--temperature out of range", where="predict",
                                 expected="0 (always the likeliest note) to 100",
                                 received=f"{options['temperature']:g}")
        if options.get("top_p") is not None and not 0 < options["top_p"] <= 1:
            raise UserInputError("--top-p must be in (0, 1]", where="predict",
                                 received=str(options["top_p"]))
        self.options = options

    def parse_input(self, text: str) -> np.ndarray:
        """A seed: a .mid/.midi/.csv file, notes as text, or '' for none.

        Voices: chords ``'72 67 64 48; 74 67 62 43'``. Events: a melody
        ``'60 62:0.5 64:0.5:1'`` (``pitch[:step[:duration]]`` in quarter notes).
        """
        return self.kind.read_seed(text, self.artifacts.get("voices", 4))

    def to_batch(self, items: list[np.ndarray], first: int = 0) -> list[tf.Tensor]:
        generation = {**self.artifacts.get("generation", {}), **{
            k: v for k, v in self.options.items()
            if k in ("steps", "temperature", "top_k", "top_p") and v is not None}}
        length = max([1, *(len(item) for item in items)])
        width = max([1, *(np.shape(item)[1] for item in items)])
        notes = np.zeros((len(items), length, width), np.float32)
        for row, item in enumerate(items):
            if len(item):
                notes[row, length - len(item):, :np.shape(item)[1]] = item
        return [tf.constant(notes), tf.constant([len(item) for item in items], tf.int32),
                tf.constant(int(generation.get("steps", GENERATED_STEPS)), tf.int32),
                tf.constant(float(generation.get("temperature", 1.0)), tf.float32),
                tf.constant(int(generation.get("top_k", 0)), tf.int32),
                tf.constant(float(generation.get("top_p", 1.0)), tf.float32),
                tf.constant(int(self.options.get("seed") or 0), tf.int32),
                tf.constant(first, tf.int32)]

    def prediction_rows(self, outputs, items, parsed) -> list[dict[str, Any]]:
        kind = self.kind
        rows = []
        out_dir = self.options.get("output_dir")
        for row, item in enumerate(items):
            seed = outputs["seed"][row][len(outputs["seed"][row]) - outputs["seed_length"][row]:]
            piece = kind.rounded(np.concatenate([seed, outputs["notes"][row]]))
            entry: dict[str, Any] = {"seed": str(item), "seed_steps": len(seed),
                                     "steps": len(piece)}
            if out_dir:
                entry.update(kind.write_piece(piece, Path(out_dir),
                                              self.artifacts.get("tempo", 100.0)))
            else:
                entry["notes"] = kind.text(piece)
            rows.append(entry)
        return rows

    def format_prediction(self, row: dict[str, Any]) -> str:
        what = row.get("midi") or row["notes"]
        return f"{what}\t{row['steps']} steps\tseed {row['seed']!r}"

    # --- 4. metrics and plots ----------------------------------------------------------

    def outputs(self, model: keras.Model, inputs) -> Any:
        """Next-note probabilities (events: and step, duration) at every window position
        but the last (position i predicts note i + 1)."""
        if not len(inputs):
            return np.zeros((0,))
        inputs = np.asarray(inputs)
        parts = []
        for chunk in np.array_split(inputs, max(1, len(inputs) // 128)):
            out = model(chunk.astype(np.float32 if inputs.dtype.kind == "f" else np.int32),
                        training=False)
            parts.append(keras.tree.map_structure(
                lambda t: keras.ops.convert_to_numpy(t)[:, :-1], out))
        return keras.tree.map_structure(lambda *p: np.concatenate(p), *parts)

    def scored_outputs(self, model, inputs, artifacts) -> dict[str, Any]:
        """The outputs, and pieces generated from the held-out openings (their first
        time step or note) for the statistics."""
        seeds = np.asarray(inputs)[:64, :1]
        generated = representation(artifacts).generate(model, LM_NAME, seeds, GENERATED_STEPS)
        return {"model": self.outputs(model, inputs), "generated": generated}

    def metrics(self, targets, outputs, artifacts) -> dict:
        from rnn_templates.notes import music_statistics

        kind = representation(artifacts)
        metrics = kind.metrics(targets, outputs["model"] if "generated" in outputs else outputs)
        if "generated" in outputs:
            reference = music_statistics(kind.held_out_grids(targets), artifacts)
            metrics["generated"] = music_statistics(outputs["generated"], artifacts, reference)
            metrics["held_out_music"] = reference
        return metrics

    def plots(self, metrics, artifacts, directory: Path, name: str) -> None:
        from rnn_templates.notes import plot_statistics

        if name == "test" and "generated" in metrics:
            plot_statistics(metrics, directory / "generated_vs_held_out.png")

    def summary(self, name: str, metrics: dict) -> str:
        line = (f"{name:10s} next-note accuracy {metrics['accuracy']:.4f}  nll/note "
                f"{metrics['nll_per_note']:.4f}  nll/step {metrics['nll_per_step']:.3f}  "
                f"({metrics['notes']} notes)")
        if "step_mae" in metrics:
            line += (f"\n{'':10s} step error {metrics['step_mae']:.3f}  duration error "
                     f"{metrics['duration_mae']:.3f} (quarter notes)")
        if "generated" in metrics:
            g = metrics["generated"]
            line += (f"\n{'':10s} generated: pitch-class distance {g['pitch_class_distance']:.3f}"
                     f"  out-of-key {g['out_of_key']:.3f}  repeated bars "
                     f"{g['repeated_bars']:.3f}  density {g['density']:.3f}")
        return line


def fit_music_model(config: MusicConfig, grids: list[np.ndarray], work_dir) -> tuple:
    """Train on in-memory grids; returns ``(serving model, artifacts, training)``."""
    from rnn_templates.app import Runner

    return Runner(MusicApp()).fit(dataclasses.replace(config), grids, None, work_dir)
