"""Music: next-note accuracy on the JSB chorales, and the sampler's speed.

Accuracy (``--part accuracy``): the music app trained on the 229 training
chorales and scored on the 76 validation chorales, each chord flattened into
4 consecutive notes, windows of 32 chords (33 with the target) every 16 time
steps: the protocol of Géron's Bach chorale model (Hands-On Machine Learning,
2nd ed., chapter 15: 0.816 on the test split, about 0.825 on validation).

Speed (``--part sampling``), in one run on the same trained weights:

- notes per second of the app's compiled sampler (the recurrent state carried
  step to step, one compiled loop) against the TensorFlow music tutorial's
  loop (one ``model.predict`` per note on a sliding 25-note window), 500 notes;
- 64 pieces in one batch against one piece (the time ratio);
- on the PyTorch backend, beside both, a hand-written PyTorch sampling loop of
  the same size (``nn.LSTM`` carrying its state, ``torch.multinomial``).

Without an accuracy run in ``runs/benchmarks/music_jsb`` (on a GPU machine
with JAX or PyTorch and no TensorFlow, say), the sampler times a model of the
accuracy run's size with random weights: the time does not depend on them.

Piano roll (``--part pianoroll``): the same chorales as 88-key piano rolls
sampled at quarter notes (every fourth 16th-note row, as in the
Boulanger-Lewandowski et al. 2012 set), a GRU from ``rnn_templates`` with a
sigmoid per key, and the negative log-likelihood per time step (the sum over
the 88 keys) on the validation chorales. Published on that set's test split
(Chung et al. 2014): GRU 8.54, LSTM 8.67. The split and the conversion differ
from theirs (these CSVs, validation not test), so the figures are a guide,
not a replication.

Usage::

    python benchmarks/music_jsb.py --data ../shared/datasets/music/jsb_chorales
    python benchmarks/music_jsb.py --part sampling --data ...   (after accuracy)
    KERAS_BACKEND=jax python benchmarks/music_jsb.py --part sampling \
        --results music_jsb_gpu-jax                              (on a GPU)

Writes ``benchmarks/results/music_jsb.{json,md}`` (or ``<--results>.{json,md}``).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
import time
from pathlib import Path

sys.path[:0] = [str(Path(__file__).resolve().parent), str(Path(__file__).resolve().parents[1])]

import numpy as np  # noqa: E402

import rnn_templates  # noqa: E402,F401  (TensorFlow set up as in the apps: quiet, oneDNN off)

# isort: split
from bench_common import RESULTS, machine_info, torch_sampling_loop, write_text_atomic  # noqa: E402

PUBLISHED = {"geron_conv_lstm_test": 0.816, "geron_conv_lstm_validation_about": 0.825,
             "chung_2014_pianoroll_test_nll_gru": 8.54, "chung_2014_pianoroll_test_nll_lstm": 8.67}
RUN_DIR = Path("runs/benchmarks/music_jsb")


def accuracy(data: Path, settings: list[str]) -> dict:
    from apps.music.app import MusicApp
    from apps.music.config import MusicConfig
    from rnn_templates.app import Runner
    from rnn_templates.config import load_config

    config = load_config(MusicConfig, None, [f"data={data}", *settings])
    started = time.perf_counter()
    metrics = Runner(MusicApp()).train(config, RUN_DIR, overwrite=True)
    seconds = time.perf_counter() - started
    validation = metrics["validation"]
    # Training time as the runner recorded it (a resumed run only evaluates).
    return {"config": dataclasses.asdict(config), "wall_seconds": round(seconds, 1),
            "train_seconds": metrics["training"]["seconds"],
            "epochs_run": metrics["training"]["epochs_run"],
            "kept_epoch": metrics["training"]["kept_epoch"],
            "validation_accuracy": validation["accuracy"],
            "validation_nll_per_note": validation["nll_per_note"],
            "validation_nll_per_step": validation["nll_per_step"],
            "validation_windows": validation["windows"],
            "repeat_last_note_accuracy":
                validation["baselines"]["repeat last note"]["accuracy"],
            "generated": {k: v for k, v in validation["generated"].items()
                          if k != "pitch_class_histogram"},
            "held_out_music": {k: v for k, v in validation["held_out_music"].items()
                               if k != "pitch_class_histogram"}}


# The accuracy run's model (the music app's defaults on the JSB chorales: pitches 36-81,
# so 46 pitches and silence): used untrained where no accuracy run is at hand, for the
# sampler's speed does not depend on the weights.
LM_SIZE = {"vocab": 47, "embedding_dim": 16, "cell": "lstm", "units": 128}


def sampling_model():
    """The trained accuracy run's language model, else one of its size with random weights."""
    path = RUN_DIR / "model.keras"
    if path.is_file():
        from apps.music.model import LM_NAME
        from rnn_templates.app import load_keras_model

        return load_keras_model(path).get_layer(LM_NAME), "trained"
    from rnn_templates import build_many_to_many

    size = LM_SIZE
    model = build_many_to_many(size["vocab"], vocab_size=size["vocab"], mask_zero=False,
                               embedding_dim=size["embedding_dim"],
                               rnn={"cell": size["cell"], "units": size["units"]},
                               output_activation="softmax")
    return model, "untrained, same size"


def sampling(notes: int = 500, window: int = 25, repeats: int = 3) -> dict:
    import keras

    from rnn_templates.sampling import RecurrentSampler

    lm, weights = sampling_model()
    sampler = RecurrentSampler.from_model(lm)
    rng = np.random.default_rng(0)
    prompt = rng.integers(1, sampler.vocab_size, size=(1, window))

    def fastest(run) -> float:
        run()  # compiles for these shapes
        times = []
        for _ in range(repeats):
            started = time.perf_counter()
            run()
            times.append(time.perf_counter() - started)
        return min(times)

    def ours(batch: int) -> float:
        prompts = np.repeat(prompt, batch, axis=0)
        return fastest(lambda: sampler.sample(prompts, notes, seed=1))

    def tutorial(count: int) -> float:
        # One model.predict per note on the last `window` notes, as the TF tutorial does.
        history = list(prompt[0])
        lm.predict(np.array([history[-window:]]), verbose=0)  # warm-up, as ours compiles once
        started = time.perf_counter()
        for _ in range(count):
            probabilities = lm.predict(np.array([history[-window:]]), verbose=0)[0, -1]
            probabilities = probabilities / probabilities.sum()
            history.append(int(rng.choice(len(probabilities), p=probabilities)))
        return time.perf_counter() - started

    one = ours(1)
    batch64 = ours(64)
    # The tutorial loop is timed on 100 notes and scaled: it is linear in notes.
    peer_notes = 100
    peer = tutorial(peer_notes) * notes / peer_notes
    result = {"backend": keras.backend.backend(), "weights": weights, "notes": notes,
              "window": window, "ours_seconds_one_piece": round(one, 4),
              "ours_notes_per_second": round(notes / one, 1),
              "tutorial_notes_per_second": round(notes / peer, 1),
              "speedup_vs_tutorial": round(peer / one, 1),
              "ours_seconds_64_pieces": round(batch64, 4),
              "batch64_over_one_time_ratio": round(batch64 / one, 2),
              "tutorial_notes_timed": peer_notes}
    if keras.backend.backend() == "torch":
        size = (LM_SIZE["vocab"], LM_SIZE["embedding_dim"], LM_SIZE["units"])
        loop_one = fastest(torch_sampling_loop(*size, prompt, notes))
        loop_64 = fastest(torch_sampling_loop(*size, np.repeat(prompt, 64, axis=0), notes))
        result.update(torch_loop_seconds_one_piece=round(loop_one, 4),
                      torch_loop_seconds_64_pieces=round(loop_64, 4),
                      ours_over_torch_loop_time_one=round(one / loop_one, 2),
                      ours_over_torch_loop_time_64=round(batch64 / loop_64, 2))
    return result


def piano_rolls(folder: Path) -> list[np.ndarray]:
    """Chorales as (quarter-note steps, 88) binary rolls (A0 = MIDI 21 is key 0)."""
    from rnn_templates.data.pieces import read_csv_piece

    rolls = []
    for path in sorted(folder.glob("*.csv")):
        grid = read_csv_piece(path, 4)[::4]
        roll = np.zeros((len(grid), 88), np.float32)
        rows, cols = np.nonzero(grid)
        roll[rows, grid[rows, cols] - 21] = 1.0
        rolls.append(roll)
    return rolls


def pianoroll(data: Path, units: int = 128, epochs: int = 200) -> dict:
    import keras

    from rnn_templates.topologies import build_many_to_many
    from rnn_templates.training import compile_model

    keras.utils.set_random_seed(0)

    def arrays(rolls):
        length = max(len(r) for r in rolls)
        x = np.zeros((len(rolls), length, 88), np.float32)
        y = np.zeros_like(x)
        weight = np.zeros((len(rolls), length), np.float32)
        for i, roll in enumerate(rolls):
            x[i, 1:len(roll)] = roll[:-1]  # step t reads the steps before it
            y[i, :len(roll)] = roll
            weight[i, :len(roll)] = 1.0
        return x, y, weight

    train, valid = piano_rolls(data / "train"), piano_rolls(data / "valid")
    x, y, w = arrays(train)
    vx, vy, vw = arrays(valid)
    model = build_many_to_many(88, input_dim=88, rnn={"cell": "gru", "units": units},
                               output_activation="sigmoid", head_dropout=0.3)
    compile_model(model, loss=keras.losses.BinaryCrossentropy(
        reduction="sum_over_batch_size"), learning_rate=1e-3)
    started = time.perf_counter()
    model.fit(x, y, sample_weight=w, validation_data=(vx, vy, vw), epochs=epochs,
              batch_size=16, verbose=2,
              callbacks=[keras.callbacks.EarlyStopping(patience=8, restore_best_weights=True)])
    seconds = time.perf_counter() - started
    p = np.clip(keras.ops.convert_to_numpy(model.predict(vx, verbose=0)), 1e-7, 1 - 1e-7)
    per_key = -(vy * np.log(p) + (1 - vy) * np.log(1 - p))
    nll_per_step = float((per_key.sum(-1) * vw).sum() / vw.sum())
    # A reference: every key's training frequency, the same at every step.
    frequency = np.clip(np.concatenate(train).mean(0), 1e-7, 1 - 1e-7)
    flat = -(vy * np.log(frequency) + (1 - vy) * np.log(1 - frequency))
    return {"model": f"GRU({units})", "epochs_max": epochs, "wall_seconds": round(seconds, 1),
            "validation_nll_per_step": round(nll_per_step, 3),
            "key_frequency_nll_per_step": round(float((flat.sum(-1) * vw).sum() / vw.sum()), 3),
            "validation_steps": int(vw.sum())}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data", type=Path,
                        default=Path("../shared/datasets/music/jsb_chorales"))
    parser.add_argument("--part", choices=("accuracy", "sampling", "pianoroll", "both"),
                        default="both", help="both = accuracy then sampling")
    parser.add_argument("--set", action="append", default=[], dest="settings",
                        help="music config overrides for the accuracy run")
    parser.add_argument("--results", default="music_jsb",
                        help="name of the results files in benchmarks/results (a GPU run: "
                        "music_jsb_gpu-<backend>)")
    args = parser.parse_args()
    path = RESULTS / f"{args.results}.json"
    results = json.loads(path.read_text()) if path.is_file() else {}
    results["machine"] = machine_info()
    results["published"] = PUBLISHED
    if args.part in ("accuracy", "both"):
        if not (args.data / "train").is_dir():
            sys.exit(f"{args.data}: expected train/ and valid/ folders of chorale CSVs")
        results["accuracy"] = accuracy(args.data, args.settings)
    if args.part in ("sampling", "both"):
        results["sampling"] = sampling()
    if args.part == "pianoroll":
        results["pianoroll"] = pianoroll(args.data)
    write_text_atomic(path, json.dumps(results, indent=2) + "\n")
    write_text_atomic(RESULTS / f"{args.results}.md", report(results))
    print(report(results))


def report(results: dict) -> str:
    machine = results["machine"]
    versions = (f"TensorFlow {machine['tensorflow']}, " if machine.get("tensorflow") else "") \
        + f"Keras {machine['keras']}"
    lines = ["# Music: JSB chorales", "", f"Machine: {machine['machine']}, "
             f"{machine['date']}, {versions}.", ""]
    if "accuracy" in results:
        a = results["accuracy"]
        c = a["config"]
        lines += [
            "## Next-note accuracy, validation chorales (windows of 32 chords every 16 steps)",
            "",
            "| model | validation accuracy | NLL per note | NLL per time step |",
            "|---|---|---|---|",
            f"| ours: {c['cell']}({c['units']}) x {c['num_layers']}, embedding "
            f"{c['embedding_dim']}, {a['epochs_run']} epochs (kept {a['kept_epoch']}), "
            f"{a.get('train_seconds', a['wall_seconds']) / 60:.1f} min of training on the CPU | "
            f"{a['validation_accuracy']:.4f} | "
            f"{a['validation_nll_per_note']:.4f} | {a['validation_nll_per_step']:.3f} |",
            f"| repeat last note (baseline) | {a['repeat_last_note_accuracy']:.4f} | | |",
            "| Géron, conv + LSTM (published) | about 0.825 (test: 0.816) | | |",
            "",
            "The JSB files have no test split: the validation chorales also chose the kept "
            "epoch (early stopping on their loss), so the accuracy is slightly optimistic.",
            "",
            "Generated from the validation openings (64 time steps each) against the "
            "validation music:",
            "",
            "| | voices sounding | out of key | repeated bars | pitch-class distance |",
            "|---|---|---|---|---|",
            f"| validation music | {a['held_out_music']['density']:.3f} | "
            f"{a['held_out_music']['out_of_key']:.3f} | "
            f"{a['held_out_music']['repeated_bars']:.3f} | |",
            f"| generated | {a['generated']['density']:.3f} | {a['generated']['out_of_key']:.3f} "
            f"| {a['generated']['repeated_bars']:.3f} | "
            f"{a['generated']['pitch_class_distance']:.3f} |", ""]
    if "pianoroll" in results:
        p = results["pianoroll"]
        lines += [
            "## Piano roll (88 keys, quarter-note steps): NLL per time step, lower is better",
            "",
            "| model | NLL per step |", "|---|---|",
            f"| ours: {p['model']}, validation chorales, {p['wall_seconds'] / 60:.1f} min | "
            f"{p['validation_nll_per_step']} |",
            f"| every key's training frequency (reference) | {p['key_frequency_nll_per_step']} |",
            "| Chung et al. 2014, GRU / LSTM (published, test split of the "
            "Boulanger-Lewandowski set) | 8.54 / 8.67 |", ""]
    if "sampling" in results:
        s = results["sampling"]
        lines += [
            f"## Sampling speed ({s['notes']} notes, backend {s['backend']})", "",
            "| | notes per second | ratio |", "|---|---|---|",
            f"| ours: compiled loop, state carried | {s['ours_notes_per_second']} | "
            f"{s['speedup_vs_tutorial']}x |",
            f"| tutorial: model.predict per note on a {s['window']}-note window | "
            f"{s['tutorial_notes_per_second']} | 1x |", "",
            f"64 pieces in one batch take {s['batch64_over_one_time_ratio']}x the time of one "
            f"({s['ours_seconds_64_pieces']} s against {s['ours_seconds_one_piece']} s): "
            f"{64 * s['notes'] / s['ours_seconds_64_pieces']:.0f} notes per second in the "
            f"batch. Weights: {s.get('weights', 'trained')}.", ""]
        if "torch_loop_seconds_one_piece" in s:
            lines += [
                "Beside it, a hand-written PyTorch loop of the same size (nn.Embedding, "
                "nn.LSTM carrying (h, c), nn.Linear, torch.multinomial per note):", "",
                "| pieces | ours, s | PyTorch loop, s | ours / loop (time) |", "|---|---|---|---|",
                f"| 1 | {s['ours_seconds_one_piece']} | {s['torch_loop_seconds_one_piece']} | "
                f"{s['ours_over_torch_loop_time_one']} |",
                f"| 64 | {s['ours_seconds_64_pieces']} | {s['torch_loop_seconds_64_pieces']} | "
                f"{s['ours_over_torch_loop_time_64']} |", ""]
    return "\n".join(lines)


if __name__ == "__main__":
    main()
