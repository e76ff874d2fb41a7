"""Tuning at scale: memory over a long search, and two workers against one.

Memory (``--part memory``): the peak resident memory of a 20-trial random search
against a 2-trial one, each in its own fresh process (the sentiment app on its
shipped reviews, ``Runner.search``), with the resident memory after every trial.
Target: 20 trials within 1.2x of 2.

Workers (``--part workers``): the same search (same trials: same seed, every
hyperparameter declared up front) run by ``rnnt sentiment tune --workers 1``
(one worker on both cores) and ``--workers 2`` (one core each), in one run of
this script. The time is the search's own (from the chief's ``search: ...``
line, which starts once the search is served); the retraining after it is the same
for both and left out. The time from the launch to that line, the chief's and the
workers' start-up included, is reported beside it. Target: a ratio of 0.6 or less on 2
cores.

Usage::

    python benchmarks/tuning_scale.py --part memory
    python benchmarks/tuning_scale.py --part workers
    python benchmarks/tuning_scale.py --part workers --trials 20

Writes ``benchmarks/results/tuning_scale.{json,md}`` (each part updates its own
entry, and each worker search size its own).
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import os
import re
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path[:0] = [str(Path(__file__).resolve().parent), str(Path(__file__).resolve().parents[1])]

import rnn_templates  # noqa: E402,F401  (TensorFlow set up as in the apps: quiet, oneDNN off)

# isort: split
from bench_common import REPO_ROOT, RESULTS, machine_info, write_text_atomic  # noqa: E402

DATA = REPO_ROOT / "data" / "sentiment" / "reviews.tsv"
SETTINGS = ["units=32", "embedding_dim=32", "embeddings=", "baseline=false",
            "tuning_epochs=3", "patience=3", "epochs=3"]


def _search_child(trials: int, tuning_dir: str) -> None:
    """In a fresh process: one search of ``trials`` trials; prints JSON facts.

    A thread samples the resident memory every half second; ten evenly spaced
    samples show whether it grows trial after trial.
    """
    import threading

    from apps.sentiment.app import SentimentApp
    from rnn_templates.app import Runner
    from rnn_templates.config import load_config

    samples: list[float] = []
    done = threading.Event()

    def sample():
        while not done.wait(0.5):
            samples.append(_rss_mib())

    config = load_config(SentimentApp.config_class, None,
                         [*SETTINGS, f"max_trials={trials}", f"data={DATA}"])
    runner = Runner(SentimentApp())
    data = runner.app.load_data(config)
    threading.Thread(target=sample, daemon=True).start()
    started = time.perf_counter()
    _, rows = runner.search(config, data.texts, data.labels, tuning_dir)
    done.set()
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    spread = [samples[round(i * (len(samples) - 1) / 9)] for i in range(10)] if samples else []
    print(json.dumps({"trials": len(rows), "seconds": round(time.perf_counter() - started, 1),
                      "peak_mib": round(peak, 1),
                      "rss_over_time_mib": [round(m, 1) for m in spread]}))


def _rss_mib() -> float:
    with open("/proc/self/status", encoding="ascii") as stream:
        for line in stream:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def memory() -> dict:
    results = {}
    for trials in (2, 20):
        with tempfile.TemporaryDirectory() as folder:
            done = subprocess.run(
                [sys.executable, __file__, "--child", str(trials), folder],
                capture_output=True, text=True, env=dict(os.environ, CI="1"), check=False)
        if done.returncode:
            sys.exit(done.stderr[-3000:])
        results[trials] = json.loads(done.stdout.strip().splitlines()[-1])
        print(f"{trials} trials: {results[trials]}", flush=True)
    ratio = results[20]["peak_mib"] / results[2]["peak_mib"]
    return {"two_trials": results[2], "twenty_trials": results[20],
            "peak_ratio": round(ratio, 3), "target": 1.2, "reached": ratio <= 1.2}


def workers(trials: int) -> dict:
    results = {}
    for count in (1, 2):
        with tempfile.TemporaryDirectory() as folder:
            command = [sys.executable, "-m", "rnn_templates.cli", "sentiment", "tune",
                       "--data", str(DATA), "--tuning-dir", f"{folder}/tuning",
                       "--run-dir", f"{folder}/run", "--workers", str(count),
                       "--max-trials", str(trials)]
            for setting in SETTINGS:
                command += ["--set", setting]
            started = time.perf_counter()
            process = subprocess.Popen(command, stdout=subprocess.DEVNULL,
                                       stderr=subprocess.PIPE, text=True, cwd=REPO_ROOT,
                                       env=dict(os.environ, CI="1"))
            stderr, search_end = [], None
            for line in process.stderr:  # when the search ended, counted from the launch
                stderr.append(line)
                if search_end is None and line.startswith("search: "):
                    search_end = time.perf_counter() - started
            total = time.perf_counter() - started
            if process.wait():
                sys.exit("".join(stderr)[-3000:])
            match = re.search(r"search: (\d+) trials, ([\d.]+) s", "".join(stderr))
            board = (Path(folder) / "run" / "leaderboard.csv").read_text(encoding="utf-8")
        trial_seconds = sum(float(row.split(",")[6]) for row in board.strip().splitlines()[1:])
        results[count] = {"search_seconds": float(match[2]), "command_seconds": round(total, 1),
                          "launch_to_search_end": round(search_end, 1),
                          "trials": int(match[1]), "trial_seconds": round(trial_seconds, 1),
                          # the share of the workers' time spent inside trials
                          "busy": round(trial_seconds / (count * float(match[2])), 3),
                          "leaderboard": board}
        print(f"{count} worker(s): search {match[2]} s, whole command {total:.1f} s",
              flush=True)
    same = _trial_values(results[1]["leaderboard"]) == _trial_values(results[2]["leaderboard"])
    scores = [_trial_scores(results[count]["leaderboard"]) for count in (1, 2)]
    score_gap = max(abs(scores[0][trial] - scores[1].get(trial, np.nan)) for trial in scores[0])
    ratio = results[2]["search_seconds"] / results[1]["search_seconds"]
    from_launch = results[2]["launch_to_search_end"] / results[1]["launch_to_search_end"]
    for entry in results.values():
        del entry["leaderboard"]
    return {"one_worker": results[1], "two_workers": results[2], "same_trials": same,
            "largest_score_difference": float(score_gap),
            "ratio": round(ratio, 3), "target": 0.6, "reached": ratio <= 0.6,
            "ratio_from_launch": round(from_launch, 3)}


def _trial_values(board: str) -> dict[str, str]:
    """Each trial's hyperparameters (the columns after ``note``), to check both ran the same."""
    lines = board.strip().splitlines()
    header = lines[0].split(",")
    start = header.index("note") + 1
    return {line.split(",")[1]: ",".join(line.split(",")[start:]) for line in lines[1:]}


def _trial_scores(board: str) -> dict[str, float]:
    """Each trial's score, to check both searches scored the same trials alike."""
    rows = list(csv.DictReader(io.StringIO(board)))
    return {row["trial"]: float(row["score"]) for row in rows if row["score"]}


def _trial_count(key: str) -> int:
    return 8 if key == "workers" else int(key.split("_")[1])


def main() -> None:
    if len(sys.argv) == 4 and sys.argv[1] == "--child":
        _search_child(int(sys.argv[2]), sys.argv[3])
        return
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--part", choices=("memory", "workers"), required=True)
    parser.add_argument("--trials", type=int, default=8, help="trials for --part workers")
    args = parser.parse_args()
    path = RESULTS / "tuning_scale.json"
    stored = json.loads(path.read_text(encoding="utf-8")) if path.is_file() else {}
    # each search size keeps its own entry: "workers" (8 trials, the default) or "workers_N"
    key = args.part if args.part == "memory" or args.trials == 8 else f"workers_{args.trials}"
    stored[key] = memory() if args.part == "memory" else workers(args.trials)
    stored[key]["machine"] = machine_info()
    lines = ["# Tuning at scale", ""]
    if "memory" in stored:
        m = stored["memory"]
        lines += ["## Peak memory of a search (sentiment, shipped reviews)", "",
                  "| trials | peak RSS (MiB) | RSS over the search, 10 samples (MiB) | seconds |",
                  "|---|---|---|---|"]
        for key in ("two_trials", "twenty_trials"):
            row = m[key]
            lines.append(f"| {row['trials']} | {row['peak_mib']} | "
                         f"{', '.join(map(str, row['rss_over_time_mib']))} | "
                         f"{row['seconds']} |")
        lines += ["", f"Ratio 20 / 2 trials: **{m['peak_ratio']}** (target <= 1.2: "
                  f"{'reached' if m['reached'] else 'not reached'}). "
                  f"{m['machine']['date']}, {m['machine']['machine']}.", ""]
    for key in sorted((k for k in stored if k.startswith("workers")), key=_trial_count):
        w = stored[key]
        size = w["one_worker"]["trials"]
        lines += [f"## Two workers against one ({size}-trial search, same trials)", "",
                  "| workers | search (s) | launch to the search's end (s) | whole command (s) "
                  "| trials | seconds inside trials | workers busy |",
                  "|---|---|---|---|---|---|---|"]
        for count, name in ((1, "one_worker"), (2, "two_workers")):
            row = w[name]
            lines.append(f"| {count} | {row['search_seconds']} | "
                         f"{row.get('launch_to_search_end', '')} | {row['command_seconds']} | "
                         f"{row['trials']} | {row.get('trial_seconds', '')} | "
                         f"{row.get('busy', '')} |")
        flag = "" if size == 8 else f" --trials {size}"
        lines += ["", f"Search time ratio 2 / 1 workers: **{w['ratio']}** (target <= 0.6: "
                  f"{'reached' if w['reached'] else 'not reached'})"
                  + (f"; from the launch to the search's end (the chief's and the workers' "
                     f"start-up included): {w['ratio_from_launch']}"
                     if "ratio_from_launch" in w else "")
                  + "; same trials in both: "
                  f"{w['same_trials']}"
                  + (f", largest difference between their scores "
                     f"{w['largest_score_difference']:.2g}"
                     if "largest_score_difference" in w else "")
                  + f". {w['machine']['date']}, {w['machine']['machine']}. "
                  f"Reproduce: `.venv/bin/python benchmarks/tuning_scale.py --part workers{flag}`.",
                  ""]
    write_text_atomic(path, json.dumps(stored, indent=2) + "\n")
    write_text_atomic(RESULTS / "tuning_scale.md", "\n".join(lines))
    print("\n".join(lines))


if __name__ == "__main__":
    main()
