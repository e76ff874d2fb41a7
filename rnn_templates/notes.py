"""Scores of a note model, statistics of music, and the pictures of both.

``note_metrics`` scores next-note predictions (accuracy, negative
log-likelihood per note and per time step). ``music_statistics`` describes
pieces the way listeners notice differences: which pitch classes they use,
how many voices sound, how many notes fall outside the best-fitting key, and
how often a bar repeats the one before.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from rnn_templates import io

# Pitch classes of the major and harmonic-minor scales on C.
_SCALES = {"major": (0, 2, 4, 5, 7, 9, 11), "minor": (0, 2, 3, 5, 7, 8, 11)}


def note_metrics(targets: np.ndarray, probabilities: np.ndarray, voices: int) -> dict[str, Any]:
    """Next-note accuracy and negative log-likelihood (nats) of ``probabilities``
    (windows, positions, vocab) for ``targets`` (windows, positions)."""
    targets = np.asarray(targets, dtype=np.int64)
    if not targets.size:
        return {"accuracy": float("nan"), "nll_per_note": float("nan"),
                "nll_per_step": float("nan"), "notes": 0, "windows": 0}
    chosen = np.take_along_axis(probabilities, targets[..., None], axis=-1)[..., 0]
    nll = float(-np.log(np.clip(chosen, 1e-12, None)).mean())
    return {"accuracy": float((probabilities.argmax(-1) == targets).mean()),
            "nll_per_note": nll, "nll_per_step": nll * voices,
            "perplexity": float(np.exp(nll)), "notes": int(targets.size),
            "windows": int(len(targets))}


def out_of_key(pitches: np.ndarray) -> float:
    """Share of notes outside the major or minor scale that holds most of them."""
    pitches = pitches[pitches > 0]
    if not len(pitches):
        return 0.0
    histogram = np.bincount(pitches % 12, minlength=12)
    inside = max(histogram[[(tonic + step) % 12 for step in scale]].sum()
                 for tonic in range(12) for scale in _SCALES.values())
    return float(1 - inside / len(pitches))


def music_statistics(grids: list[np.ndarray], artifacts: dict[str, Any],
                     reference: dict[str, Any] | None = None) -> dict[str, Any]:
    """Statistics of pieces ``(steps, voices)``; with ``reference`` (the same
    statistics of other music) also the pitch-class histogram distance to it."""
    grids = [np.asarray(g) for g in grids if len(g)]
    if not grids:
        return {"pieces": 0}
    bar = 4 * artifacts["steps_per_quarter"]
    notes = np.concatenate([g.ravel() for g in grids])
    sounding = notes[notes > 0]
    histogram = np.bincount(sounding % 12, minlength=12) / max(1, len(sounding))
    repeats, bars = 0, 0
    for grid in grids:
        whole = len(grid) // bar
        for index in range(1, whole):
            bars += 1
            repeats += np.array_equal(grid[index * bar:(index + 1) * bar],
                                      grid[(index - 1) * bar:index * bar])
    stats = {"pieces": len(grids),
             "density": float((notes > 0).mean()),
             "out_of_key": float(np.mean([out_of_key(g.ravel()) for g in grids])),
             "repeated_bars": repeats / bars if bars else 0.0,
             "pitch_class_histogram": [round(float(v), 5) for v in histogram]}
    if reference is not None:
        # Total variation distance: 0 = the same pitch-class use, 1 = disjoint.
        stats["pitch_class_distance"] = float(0.5 * np.abs(
            histogram - np.asarray(reference["pitch_class_histogram"])).sum())
    return stats


def note_runs(voice: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(starts, ends, pitches)`` of the notes of one voice on a grid (a note: a run of
    one non-zero pitch), found with array operations, not a loop over steps.

    Example:
        >>> [a.tolist() for a in note_runs(np.array([60, 60, 0, 62, 64, 64]))]
        [[0, 3, 4], [2, 4, 6], [60, 62, 64]]
    """
    voice = np.asarray(voice)
    if not len(voice):
        return (np.zeros(0, int),) * 3
    starts = np.flatnonzero(np.r_[True, voice[1:] != voice[:-1]])
    ends = np.r_[starts[1:], len(voice)]
    pitches = voice[starts]
    sounding = pitches != 0
    return starts[sounding], ends[sounding], pitches[sounding]


def plot_piano_roll(grid: np.ndarray, steps_per_quarter: int, path: Path, title: str) -> None:
    """Each voice's notes as horizontal bars, time in quarter notes (one collection of
    rectangles per voice, so a long piece takes time in proportion to its notes)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.collections import PolyCollection

    figure, axes = plt.subplots(figsize=(max(6, min(24, len(grid) / 16)), 4))
    colours = plt.get_cmap("tab10")
    for column in range(grid.shape[1]):
        starts, ends, pitches = note_runs(grid[:, column])
        if not len(starts):
            continue
        left, right = starts / steps_per_quarter, ends / steps_per_quarter
        low, high = pitches - 0.4, pitches + 0.4
        corners = np.stack([np.stack([left, low], -1), np.stack([right, low], -1),
                            np.stack([right, high], -1), np.stack([left, high], -1)], axis=1)
        axes.add_collection(PolyCollection(corners, facecolors=colours(column % 10),
                                           edgecolors="none"))
    sounding = grid[grid > 0]
    if len(sounding):
        axes.set_xlim(0, max(len(grid), 1) / steps_per_quarter)
        axes.set_ylim(sounding.min() - 1, sounding.max() + 1)
    axes.set(xlabel="quarter notes", ylabel="MIDI pitch", title=title)
    axes.grid(alpha=0.3)
    io.save_figure(figure, path)


def plot_statistics(metrics: dict[str, Any], path: Path) -> None:
    """Pitch-class use of generated pieces against the held-out music, and the summary."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    generated, held_out = metrics["generated"], metrics["held_out_music"]
    figure, (left, right) = plt.subplots(1, 2, figsize=(11, 3.8))
    names = ["C", "C#", "D", "D#", "E", "F", "F#", "G", "G#", "A", "A#", "B"]
    x = np.arange(12)
    left.bar(x - 0.2, held_out["pitch_class_histogram"], 0.4, label="held-out music")
    left.bar(x + 0.2, generated["pitch_class_histogram"], 0.4, label="generated")
    left.set_xticks(x, names)
    left.set(title="pitch classes", ylabel="share of notes")
    left.legend()
    keys = ["density", "out_of_key", "repeated_bars"]
    right.bar(np.arange(3) - 0.2, [held_out[k] for k in keys], 0.4, label="held-out music")
    right.bar(np.arange(3) + 0.2, [generated[k] for k in keys], 0.4, label="generated")
    right.set_xticks(np.arange(3), ["voices sounding", "out of key", "repeated bars"])
    right.set(title=f"pitch-class distance {generated['pitch_class_distance']:.3f}")
    right.legend()
    io.save_figure(figure, path)
