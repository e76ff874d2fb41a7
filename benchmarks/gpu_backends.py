"""Library builders on a GPU through Keras's JAX or PyTorch backend: training and generation speed.

Protocol (one backend per process: ``KERAS_BACKEND=jax`` or ``torch``):

1. Training throughput, token classification at the keras-io "Bidirectional LSTM on
   IMDB" size (vocabulary 20,000, embedding 128, one bidirectional LSTM(64), batch 64,
   every sequence 200 tokens, random ids 1..19999 so no step is padding):

   - ``peer``: that recipe written with stock Keras layers, no mask;
   - ``ours``: ``build_many_to_one(2, vocab_size=20000, embedding_dim=128,
     rnn={"cell": "lstm", "units": 64, "bidirectional": True})``, whose embedding
     masks padding (``mask_zero=True``, the default);
   - ``ours_unmasked``: the same with ``mask_zero=False``, as for batches that hold
     no padding;

   alternated in one process, ``--repeats`` times; each run trains ``--steps`` batches
   after ``--warmup`` untimed ones (compilation). Reported: the median samples/s and the
   ratio ours/peer.
2. Generation: ``build_many_to_many(vocab, stateful=True, batch_size=B)`` (LSTM(256),
   vocabulary 128, as a character model) and ``rnn_templates.decoding.generate``
   (the compiled sampler): ``--tokens`` tokens after a 16-token prompt, for B = 1 and
   B = 64, after one untimed warm-up call of the same length (compilation). Reported:
   tokens/s (B x tokens / seconds), from the fastest of 5 timed calls. On PyTorch,
   beside it, the peer the music issue names: a hand-written ``nn.Embedding`` ->
   ``nn.LSTM(256)`` -> ``nn.Linear`` loop under ``no_grad`` that carries ``(h, c)``
   and draws each token with ``torch.multinomial``, at the same sizes.

``--parts generation`` skips the training part (on a CPU, PyTorch's masked LSTM
takes minutes per batch).

Writes ``<output>-<backend>.json`` and prints a Markdown table.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import time
from pathlib import Path

# Runs from a plain checkout: the repository and this folder (bench_common) on the path.
sys.path[:0] = [str(Path(__file__).resolve().parents[1]), str(Path(__file__).resolve().parent)]


def _sync(value):
    # Reading a value back waits for the device, so the clock sees the real work.
    import keras

    return keras.ops.convert_to_numpy(value)


def training_run(model, steps: int, warmup: int, batch: int, length: int, vocab: int, seed: int):
    import keras
    import numpy as np

    rng = np.random.default_rng(seed)
    x = rng.integers(1, vocab, size=(batch * (steps + warmup), length)).astype("int32")
    y = rng.integers(0, 2, size=(len(x),)).astype("int32")
    model.compile(optimizer=keras.optimizers.Adam(1e-3, clipnorm=1.0),
                  loss="sparse_categorical_crossentropy")
    model.fit(x[: batch * warmup], y[: batch * warmup], batch_size=batch, epochs=1, verbose=0)
    _sync(model.weights[0])
    started = time.perf_counter()
    model.fit(x[batch * warmup:], y[batch * warmup:], batch_size=batch, epochs=1, verbose=0,
              shuffle=False)
    _sync(model.weights[0])
    return batch * steps / (time.perf_counter() - started)


def peer_model(vocab: int):
    import keras

    return keras.Sequential([
        keras.Input((None,), dtype="int32"),
        keras.layers.Embedding(vocab, 128),
        keras.layers.Bidirectional(keras.layers.LSTM(64)),
        keras.layers.Dense(2, activation="softmax"),
    ])


def ours_model(vocab: int, mask_zero: bool = True):
    from rnn_templates import build_many_to_one

    return build_many_to_one(2, vocab_size=vocab, embedding_dim=128,
                             rnn={"cell": "lstm", "units": 64, "bidirectional": True},
                             output_activation="softmax", mask_zero=mask_zero)


GENERATION_VOCAB, GENERATION_UNITS, GENERATION_EMBEDDING, PROMPT = 128, 256, 64, 16


def generation_speed(batch: int, tokens: int, seed: int) -> float:
    import numpy as np

    from rnn_templates import build_many_to_many
    from rnn_templates.decoding import generate

    vocab = GENERATION_VOCAB
    model = build_many_to_many(vocab, vocab_size=vocab, embedding_dim=GENERATION_EMBEDDING,
                               rnn={"cell": "lstm", "units": GENERATION_UNITS},
                               output_activation="softmax", stateful=True, batch_size=batch)
    prompts = np.random.default_rng(seed).integers(1, vocab, size=(batch, PROMPT))
    generate(model, prompts, tokens, seed=seed)  # warm-up: compiles for these shapes
    return batch * tokens / _fastest(lambda: generate(model, prompts, tokens, seed=seed))


def _fastest(run, repeats: int = 5) -> float:
    """The shortest of ``repeats`` timed calls of ``run`` (seconds)."""
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        run()
        times.append(time.perf_counter() - started)
    return min(times)


def torch_peer_generation_speed(batch: int, tokens: int, seed: int) -> float:
    """The hand-written PyTorch sampling loop (see the module docstring)."""
    import numpy as np
    from bench_common import torch_sampling_loop

    prompts = np.random.default_rng(seed).integers(1, GENERATION_VOCAB, size=(batch, PROMPT))
    run = torch_sampling_loop(GENERATION_VOCAB, GENERATION_EMBEDDING, GENERATION_UNITS,
                              prompts, tokens, seed)
    run()  # warm-up
    return batch * tokens / _fastest(run)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=60)
    parser.add_argument("--warmup", type=int, default=5)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--tokens", type=int, default=200)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--output", default="benchmarks/results/gpu_backends")
    parser.add_argument("--parts", nargs="+", choices=("training", "generation"),
                        default=["training", "generation"])
    args = parser.parse_args()
    import keras

    backend = keras.backend.backend()
    vocab, batch, length = 20000, 64, 200
    rates: dict[str, list[float]] = {"peer": [], "ours": [], "ours_unmasked": []}
    builders = (("peer", peer_model), ("ours", ours_model),
                ("ours_unmasked", lambda vocab: ours_model(vocab, mask_zero=False)))
    for repeat in range(args.repeats if "training" in args.parts else 0):
        for name, build in builders:
            keras.utils.set_random_seed(args.seed + repeat)
            rate = training_run(build(vocab), args.steps, args.warmup, batch, length, vocab,
                                args.seed + repeat)
            rates[name].append(round(rate, 1))
            print(f"[{backend}] repeat {repeat + 1} {name}: {rate:.0f} samples/s", flush=True)
    generation, peer_generation = {}, {}
    for b in (1, 64) if "generation" in args.parts else ():
        generation[f"batch_{b}"] = round(generation_speed(b, args.tokens, args.seed), 1)
        if backend == "torch":
            peer_generation[f"batch_{b}"] = round(
                torch_peer_generation_speed(b, args.tokens, args.seed), 1)
    print(f"[{backend}] generation tokens/s: {generation}, hand-written PyTorch loop: "
          f"{peer_generation or '-'}", flush=True)
    device = "cpu"
    if backend == "jax":
        import jax

        device = str(jax.devices()[0].device_kind)
    elif backend == "torch":
        import torch

        device = torch.cuda.get_device_name(0) if torch.cuda.is_available() else "cpu"
    median = {name: statistics.median(values) if values else None
              for name, values in rates.items()}
    result = {
        "backend": backend, "device": device, "keras": keras.__version__,
        "python": platform.python_version(), "args": vars(args),
        "training_samples_per_second": rates, "median": median,
        "ratio_ours_to_peer": round(median["ours"] / median["peer"], 3) if rates["peer"]
        else None,
        "ratio_ours_unmasked_to_peer": round(median["ours_unmasked"] / median["peer"], 3)
        if rates["peer"] else None,
        "generation_tokens_per_second": generation,
        "peer_generation_tokens_per_second": peer_generation,
        "generation_ratio_ours_to_peer": {
            key: round(generation[key] / peer_generation[key], 2) for key in peer_generation},
    }
    if backend == "torch":
        import torch

        result["torch"] = torch.__version__
    os.makedirs(os.path.dirname(args.output) or ".", exist_ok=True)
    with open(f"{args.output}-{backend}.json", "w", encoding="utf-8") as stream:
        json.dump(result, stream, indent=2)
    print(f"| {backend} | {device} | {median['peer'] or '-'} | {median['ours'] or '-'} | "
          f"{result['ratio_ours_to_peer'] or '-'} | {generation.get('batch_1', '-')} | "
          f"{generation.get('batch_64', '-')} |")


if __name__ == "__main__":
    main()
