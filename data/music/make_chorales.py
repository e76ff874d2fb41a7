"""Write the music app's default corpus: four-part chorale-style pieces.

Run from the repository root: ``python data/music/make_chorales.py``. It writes
``data/music/chorales/piece_NNN.csv``: one row per 16th note, the columns
soprano, alto, tenor and bass as MIDI pitches (0 = silence), the layout of
the JSB chorale files, so the same reader takes both.

Each piece is a few four-bar phrases in a major or minor key. The harmony
walks a table of common chord successions (I to IV, V or vi; ii to V; V to I
or vi...) one chord per beat, sometimes held for two, and every phrase ends
on a cadence: V-I (the last phrase always), IV-I, or a half cadence on V,
held like a fermata. The bass takes the chord's root, or its third for a
first inversion; the soprano moves to the nearest chord tone, preferring
steps; alto and tenor take the nearest chord tones below, each within an
octave of the voice above. Thirds in the soprano and the bass are sometimes
filled with a passing note on the second eighth of the beat.

Only the standard library and one fixed seed are used, so the corpus is the
same on every machine.
"""

from __future__ import annotations

import csv
import os
import random
from pathlib import Path

SEED = 1729
PIECES = 120
STEPS_PER_BEAT = 4
OUT = Path(__file__).resolve().parent / "chorales"

MAJOR = (0, 2, 4, 5, 7, 9, 11)
MINOR = (0, 2, 3, 5, 7, 8, 11)  # harmonic minor: a leading tone for the dominant
# Scale degree of each chord's root (0 = tonic) and what may follow it, weighted.
SUCCESSIONS = {
    0: ((3, 3), (4, 3), (5, 2), (1, 2), (2, 1)),
    1: ((4, 4), (6, 1)),
    2: ((5, 2), (3, 2)),
    3: ((4, 3), (0, 2), (1, 2)),
    4: ((0, 4), (5, 2)),
    5: ((3, 2), (1, 2), (4, 1)),
    6: ((0, 3), (4, 1)),
}
RANGES = {"soprano": (60, 79), "alto": (55, 74), "tenor": (48, 69), "bass": (40, 62)}


def chord_pitch_classes(tonic: int, scale: tuple[int, ...], degree: int) -> list[int]:
    return [(tonic + scale[(degree + step) % 7]) % 12 for step in (0, 2, 4)]


def nearest(previous: int, classes: list[int], low: int, high: int, rng: random.Random,
            leap_penalty: float = 0.0) -> int:
    options = [p for p in range(low, high + 1) if p % 12 in classes]
    while not options:  # squeezed between the neighbours: allow a little more room
        low, high = low - 2, high + 2
        options = [p for p in range(low, high + 1) if p % 12 in classes]
    return min(options, key=lambda p: abs(p - previous) + leap_penalty * (abs(p - previous) > 4)
               + rng.random() * 0.5)


def progression(rng: random.Random, beats: int, cadence: str) -> list[int]:
    """Chord roots for one phrase, ending on the cadence."""
    ending = {"authentic": [4, 0], "plagal": [3, 0], "half": [1, 4]}[cadence]
    roots = [0]
    while len(roots) < beats - len(ending):
        choices, weights = zip(*SUCCESSIONS[roots[-1]], strict=True)
        roots.append(rng.choices(choices, weights)[0])
    return roots + ending


def passing(first: int, second: int, tonic: int, scale: tuple[int, ...]) -> int | None:
    """The scale note between two pitches a third apart, if there is one."""
    if abs(second - first) not in (3, 4):
        return None
    middle = [p for p in range(min(first, second) + 1, max(first, second))
              if (p - tonic) % 12 in scale]
    return middle[0] if len(middle) == 1 else None


def piece(rng: random.Random) -> list[tuple[int, int, int, int]]:
    tonic = rng.choice(range(12))
    scale = rng.choice((MAJOR, MAJOR, MINOR))
    phrases = rng.choice((2, 3, 3, 4))
    cadences = [rng.choice(("authentic", "plagal", "half")) for _ in range(phrases - 1)]
    cadences.append("authentic")
    voices = {"soprano": 72, "alto": 65, "tenor": 57, "bass": 48}
    beats: list[tuple[dict[str, int], int]] = []  # (pitches, length in beats)
    for cadence in cadences:
        roots = progression(rng, 14, cadence)
        for index, degree in enumerate(roots):
            classes = chord_pitch_classes(tonic, scale, degree)
            bass_class = classes[1] if rng.random() < 0.2 and index < len(roots) - 2 \
                else classes[0]
            bass = nearest(voices["bass"], [bass_class], *RANGES["bass"], rng)
            soprano = nearest(voices["soprano"], classes, *RANGES["soprano"], rng,
                              leap_penalty=3)
            low, high = RANGES["alto"]
            alto = nearest(voices["alto"], classes, max(low, soprano - 12),
                           min(high, soprano - 1), rng)
            low, high = RANGES["tenor"]
            tenor = nearest(voices["tenor"], classes, max(low, alto - 12, bass + 1),
                            min(high, alto - 1), rng)
            voices = {"soprano": soprano, "alto": alto, "tenor": tenor, "bass": bass}
            last = index == len(roots) - 1
            length = 2 if last else rng.choices((1, 2), (5, 1))[0]
            beats.append((dict(voices), length))
    rows: list[tuple[int, int, int, int]] = []
    for index, (voices, length) in enumerate(beats):
        following = beats[index + 1][0] if index + 1 < len(beats) else None
        for step in range(length * STEPS_PER_BEAT):
            row = dict(voices)
            second_half = step >= (length - 1) * STEPS_PER_BEAT + STEPS_PER_BEAT // 2
            if following and second_half:
                for name in ("soprano", "bass"):
                    note = passing(voices[name], following[name], tonic, scale)
                    if note is not None and (index * 7 + len(name)) % 3 != 0:
                        row[name] = note
            rows.append((row["soprano"], row["alto"], row["tenor"], row["bass"]))
    rows += [(0, 0, 0, 0)] * STEPS_PER_BEAT  # a beat of silence at the end
    return rows


def main() -> None:
    rng = random.Random(SEED)
    OUT.mkdir(exist_ok=True)
    names = set()
    for number in range(PIECES):
        path = OUT / f"piece_{number:03d}.csv"
        temporary = path.with_name(f".{path.name}.tmp")
        with open(temporary, "w", newline="", encoding="utf-8") as file:
            writer = csv.writer(file, lineterminator="\n")
            writer.writerow(["soprano", "alto", "tenor", "bass"])
            writer.writerows(piece(rng))
        os.replace(temporary, path)  # each file whole, old or new, never half written
        names.add(path.name)
    for stale in OUT.glob("piece_*.csv"):  # pieces beyond PIECES from an earlier run
        if stale.name not in names:
            stale.unlink()
    print(f"wrote {PIECES} pieces to {OUT}")


if __name__ == "__main__":
    main()
