"""Beam search against greedy search, per decoder step, on a decoder of the translation size.

What it measures
    ``rnn_templates.search``'s own cost: batched greedy search and beam search
    (width 4, length penalty 0.6) over the same step function, a GRU-like
    recurrent step with random weights of the translation benchmark's size
    (256 units, a target vocabulary of 8,000 tokens, 500 sentences at a
    time). The end token is made impossible, so both searches run every one of
    ``--steps`` steps: the worst case for beam search, whose early stop
    (once every sentence's best beam is final) never triggers here. On a
    trained model, sentences end and beams settle, and
    ``benchmarks/translation_fra.py`` measures that case.

    Beam search runs 4 times as many rows through the step as greedy does, so
    its time per step cannot fall below about 4x; the rest is the search's own
    work (ranking the continuations, reordering the states). Beam search is
    timed twice: on all the sentences in one call (4 times greedy's rows per
    step), and as ``apps.translation.app.translate`` runs it, a quarter of
    the sentences per call (as many decoder rows per step as greedy).

Usage (one thread, one core):
    taskset -c 0 .venv/bin/python benchmarks/search_speed.py
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

sys.path[:0] = [str(Path(__file__).resolve().parents[1]), str(Path(__file__).resolve().parent)]

import rnn_templates  # noqa: E402,F401  (TensorFlow set up as in the apps: quiet, oneDNN off)

# isort: split
from bench_common import RESULTS, machine_info, write_text_atomic  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--vocab", type=int, default=8000)
    parser.add_argument("--units", type=int, default=256)
    parser.add_argument("--sentences", type=int, default=500)
    parser.add_argument("--steps", type=int, default=30)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--output", type=Path, default=RESULTS / "search_speed")
    args = parser.parse_args(argv)

    import numpy as np
    import tensorflow as tf

    from rnn_templates.search import beam_search, greedy_search

    tf.config.threading.set_intra_op_parallelism_threads(1)
    tf.config.threading.set_inter_op_parallelism_threads(1)
    start, end = 2, 1
    rng = np.random.default_rng(0)
    embed = tf.constant(rng.normal(size=(args.vocab, args.units)) * 0.1, tf.float32)
    recur = tf.constant(rng.normal(size=(args.units, args.units)) / args.units ** 0.5,
                        tf.float32)
    read = tf.constant(rng.normal(size=(args.units, args.vocab)) / args.units ** 0.5,
                       tf.float32)
    bias = np.zeros(args.vocab, "float32")
    bias[end] = -1e4  # never emitted: both searches run every step
    bias = tf.constant(bias)

    def step(tokens, states, context):
        (hidden,) = states
        hidden = tf.tanh(hidden @ recur + tf.gather(embed, tokens))
        return tf.nn.log_softmax(hidden @ read + bias), [hidden]

    states = [tf.constant(rng.normal(size=(args.sentences, args.units)), tf.float32)]
    options = {"start_token": start, "end_token": end, "max_length": args.steps}
    greedy_fn = tf.function(lambda s: greedy_search(step, s, **options).tokens)
    beam_fn = tf.function(lambda s: beam_search(step, s, beam_width=4, length_penalty=0.6,
                                                 **options).tokens)
    quarter = max(1, args.sentences // 4)

    def in_quarters(s):
        return [beam_fn([s[0][i:i + quarter]]) for i in range(0, args.sentences, quarter)][-1]

    searches = {"greedy": lambda s: greedy_fn(s), "beam4": lambda s: beam_fn(s),
                "beam4_same_rows": in_quarters}
    for search in searches.values():
        search(states)  # trace and compile, outside the timing
    seconds: dict[str, list[float]] = {name: [] for name in searches}
    for _ in range(args.repeats):  # alternating, the best of each kept
        for name, search in searches.items():
            started = time.perf_counter()
            tokens = search(states)
            seconds[name].append(time.perf_counter() - started)
            assert tokens.shape[-1] == args.steps
    greedy, beam = min(seconds["greedy"]), min(seconds["beam4"])
    same_rows = min(seconds["beam4_same_rows"])
    result = {"machine": machine_info(), "settings": vars(args) | {"output": str(args.output)},
              "greedy_seconds": round(greedy, 3), "beam4_seconds": round(beam, 3),
              "beam4_same_rows_seconds": round(same_rows, 3),
              "beam4_over_greedy": round(beam / greedy, 2),
              "beam4_same_rows_over_greedy": round(same_rows / greedy, 2),
              "greedy_ms_per_step": round(1000 * greedy / args.steps, 1),
              "beam4_ms_per_step": round(1000 * beam / args.steps, 1),
              "beam4_same_rows_ms_per_step": round(1000 * same_rows / args.steps, 1)}
    info = result["machine"]
    text = "\n".join([
        "# Beam search (width 4) against greedy search, per decoder step", "",
        f"{info['date']}, {info['machine']}, TensorFlow {info['tensorflow']}, one thread. "
        f"A random GRU-like step of {args.units} units over {args.vocab:,} tokens, "
        f"{args.sentences} sentences, {args.steps} steps each (the end token made "
        f"impossible), best of {args.repeats}.", "",
        "| search | sentences per call | seconds | ms per step | over greedy |",
        "|---|---|---|---|---|",
        f"| greedy | {args.sentences} | {greedy:.3f} | {result['greedy_ms_per_step']} | 1 |",
        f"| beam, width 4 | {args.sentences} | {beam:.3f} | {result['beam4_ms_per_step']} | "
        f"{result['beam4_over_greedy']}x |",
        f"| beam, width 4 | {quarter} | {same_rows:.3f} | "
        f"{result['beam4_same_rows_ms_per_step']} | **{result['beam4_same_rows_over_greedy']}x** |",
        "",
        "4 times the rows per step set the floor near 4x; the first step, which all beams "
        "share, runs once per sentence.", ""])
    write_text_atomic(args.output.with_suffix(".json"), json.dumps(result, indent=2))
    write_text_atomic(args.output.with_suffix(".md"), text)
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
