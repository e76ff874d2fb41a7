"""Music app configuration: every knob with its default and why.

The shared knobs (recurrent stack, training, tuning) come from the library's
mixins; this file declares what is particular to music. Override with
``--set key=value`` or ``--config FILE``; ``rnnt music train --help-config``
lists them.
"""

from __future__ import annotations

import argparse
import dataclasses
import typing

from rnn_templates.config import (
    RecurrentOptions,
    TrainingOptions,
    TuningOptions,
    knob,
    new_default,
)


@dataclasses.dataclass
class MusicConfig(TuningOptions, TrainingOptions, RecurrentOptions):
    # voices: accuracy is the next note's; events: pitch_accuracy (loss covers all three).
    TUNING_OBJECTIVES: typing.ClassVar[tuple[str, ...]] = (
        "val_loss", "val_accuracy", "val_pitch_accuracy", "loss", "accuracy", "pitch_accuracy")
    DATA_KEYS: typing.ClassVar[tuple[str, ...]] = ("voices", "steps_per_quarter")

    # --- data -------------------------------------------------------------------
    data: str = knob("data/music/chorales",
                     "a folder of .mid/.midi files and/or chorale .csv files (one row per "
                     "time step, one column per voice, MIDI pitches, 0 = silence); "
                     "train/ valid/ test/ subfolders are kept as the splits")
    representation: str = knob(
        "voices", "voices: every voice on a time grid (polyphonic); events: the melody as "
        "note events (pitch, step, duration), monophonic", choices=("voices", "events"))
    voices: int = knob(4, "voices per time step (4: soprano, alto, tenor, bass)",
                       interval="[1, 16]")
    steps_per_quarter: int = knob(4, "time-grid steps per quarter note (4: 16th notes)",
                                  interval="[1, 48]")
    window: int = knob(32, "time steps per training window (each flattened to "
                       "window x voices notes); events: notes per window", interval="[2, inf)")
    stride: int = knob(4, "time steps (events: notes) between consecutive training windows",
                       interval="[1, inf)")
    held_out_stride: int = knob(16, "time steps between held-out windows (16 with window 32: "
                                "the JSB chorale protocol)", interval="[1, inf)")
    test_fraction: float = knob(0.15, "held-out test share of the pieces",
                                interval="[0, 0.5)")
    validation_fraction: float = knob(0.15, "validation share of the pieces",
                                      interval="(0, 0.5)")

    # --- model: pitch embedding -> recurrent stack -> softmax over pitches ------------
    embedding_dim: int = knob(16, "pitch embedding width", interval="[1, inf)")
    head_dropout: float = knob(0.1, "dropout before the output layer", interval="[0, 1)")

    # --- generation (train writes a few samples; predict's options override) ----------
    generate_steps: int = knob(64, "time steps a generated piece adds to its seed",
                               interval="[1, 100000]", search=False)
    temperature: float = knob(1.0, "sampling temperature; 0 = always the likeliest note",
                              interval="[0, 100]", search=False)
    top_k: int = knob(0, "sample among the k likeliest notes (0 = all)", interval="[0, inf)",
                      search=False)
    top_p: float = knob(1.0, "sample among the likeliest notes holding this much probability",
                        interval="(0, 1]", search=False)
    tempo: float = knob(100.0, "beats per minute of the MIDI files written", interval="(0, 1000]",
                        search=False)

    # --- shared knobs with other defaults here -------------------------------------
    # One LSTM(128) reaches 0.89 next-note accuracy on the shipped pieces in 8 epochs.
    units: int = new_default(RecurrentOptions, "units", 128)
    learning_rate: float = new_default(TrainingOptions, "learning_rate", 3e-3)
    tuning_objective: str = new_default(TuningOptions, "tuning_objective", "val_loss")

    def check(self) -> None:
        super().check()
        events = self.representation == "events"
        if ("pitch" in self.tuning_objective) != events and "accuracy" in self.tuning_objective:
            expected = "val_pitch_accuracy" if events else "val_accuracy"
            raise ValueError(f"with representation={self.representation} the accuracy is "
                             f"`{expected}`; received tuning_objective="
                             f"{self.tuning_objective!r}")


def add_arguments(verb: str, parser: argparse.ArgumentParser) -> None:
    """``predict``'s generation options (the other verbs have none of their own)."""
    if verb != "predict":
        return
    parser.add_argument("--steps", type=int, default=None,
                        help="time steps (events: notes) to add to each seed "
                        "(default: the run's generate_steps)")
    parser.add_argument("--temperature", type=float, default=None,
                        help="0 = always the likeliest note (default: the run's temperature)")
    parser.add_argument("--top-k", type=int, default=None,
                        help="sample among the k likeliest notes, 0 = all")
    parser.add_argument("--top-p", type=float, default=None,
                        help="nucleus sampling mass, 1 = off")
    parser.add_argument("--seed", type=int, default=0,
                        help="random seed, 0 to 2147483647: the same seed gives the same "
                        "pieces (default: 0)")
    parser.add_argument("--output-dir",
                        help="write each piece as <output-dir>/piece-NNN.mid and a piano-roll PNG")
