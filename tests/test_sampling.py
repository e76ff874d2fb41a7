"""The compiled stateful sampler: same answers as the fused model, on every backend."""

from __future__ import annotations

import importlib.util
import inspect
import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import keras
import numpy as np
import pytest

from rnn_templates.sampling import RecurrentSampler, choose_tokens
from rnn_templates.topologies import build_many_to_many

VOCAB = 7


def _model(cell: str, layers: int = 2, seed: int = 3) -> keras.Model:
    keras.utils.set_random_seed(seed)
    model = build_many_to_many(VOCAB, vocab_size=VOCAB, embedding_dim=5, mask_zero=False,
                               rnn={"cell": cell, "units": 6, "num_layers": layers},
                               output_activation="softmax")
    # Larger weights than the initializer's, so the distributions are far from uniform.
    model.set_weights([w * 3 for w in model.get_weights()])
    return model


@pytest.mark.parametrize("cell", ["lstm", "gru", "simple"])
def test_greedy_equals_the_fused_model_argmax(cell):
    model = _model(cell)
    prompts = np.array([[1, 2, 3], [4, 0, 6]])
    tokens = RecurrentSampler.from_model(model).sample(prompts, 6, temperature=0)
    full = np.concatenate([prompts, tokens], axis=1)
    probabilities = keras.ops.convert_to_numpy(model(full[:, :-1]))
    # Each generated token is the argmax of the full model read over everything before it.
    np.testing.assert_array_equal(probabilities[:, 2:].argmax(-1), tokens)


def test_log_probabilities_match_the_fused_model():
    model = _model("lstm")
    sampler = RecurrentSampler.from_model(model)
    prompts = np.array([[1, 2], [3, 4]])
    tokens = sampler.sample(prompts, 5, seed=1)
    full = np.concatenate([prompts, tokens], axis=1)
    probabilities = keras.ops.convert_to_numpy(model(full[:, :-1]))[:, 1:]
    expected = np.log(np.take_along_axis(probabilities, tokens[..., None], -1)[..., 0])
    # rtol: on a GPU float32 matrix products may run as TF32 (seen on an H100 with JAX:
    # 1.3e-4 apart), and the fused and the cell-by-cell paths round differently.
    np.testing.assert_allclose(sampler.log_probabilities(prompts, tokens), expected,
                               atol=1e-4, rtol=1e-3)


def test_left_padded_prompts_sample_as_if_alone():
    sampler = RecurrentSampler.from_model(_model("lstm"))
    alone = sampler.sample(np.array([[5, 6]]), 8, seed=2)
    # Batched with a longer prompt: padded on the left, started at position 2.
    both = sampler.sample(np.array([[0, 0, 5, 6], [1, 2, 3, 4]]), 8, seed=2, starts=[2, 0])
    longer = sampler.sample(np.array([[1, 2, 3, 4]]), 8, temperature=0)
    np.testing.assert_array_equal(
        sampler.sample(np.array([[0, 0, 5, 6], [1, 2, 3, 4]]), 8, temperature=0,
                       starts=[2, 0])[1], longer[0])
    np.testing.assert_array_equal(both[0], alone[0])
    np.testing.assert_array_equal(
        sampler.sample(np.array([[0, 5], [1, 2]]), 8, temperature=0, starts=[1, 0])[0],
        sampler.sample(np.array([[5]]), 8, temperature=0)[0])
    assert longer.shape == (1, 8)


def test_a_seed_repeats_and_other_seeds_differ():
    sampler = RecurrentSampler.from_model(_model("gru"))
    prompts = np.ones((8, 1), dtype=int)
    first = sampler.sample(prompts, 30, seed=5)
    np.testing.assert_array_equal(first, sampler.sample(prompts, 30, seed=5))
    assert not np.array_equal(first, sampler.sample(prompts, 30, seed=6))
    assert first.min() >= 0 and first.max() < VOCAB


def test_draws_follow_the_distribution_and_the_filters():
    logits = np.log(np.array([[0.5, 0.3, 0.15, 0.05]], dtype=np.float32))
    rows = np.repeat(logits, 20000, axis=0)
    uniforms = np.random.default_rng(0).random(20000, dtype=np.float32)

    def frequencies(**kwargs):
        tokens = keras.ops.convert_to_numpy(choose_tokens(rows, uniforms, **kwargs))
        return np.bincount(tokens, minlength=4) / len(tokens)

    np.testing.assert_allclose(frequencies(temperature=1.0, top_k=0, top_p=1.0),
                               [0.5, 0.3, 0.15, 0.05], atol=0.015)
    # Temperature 2 flattens: p ** (1/2) renormalized.
    flat = np.sqrt([0.5, 0.3, 0.15, 0.05])
    np.testing.assert_allclose(frequencies(temperature=2.0, top_k=0, top_p=1.0),
                               flat / flat.sum(), atol=0.015)
    np.testing.assert_allclose(frequencies(temperature=1.0, top_k=2, top_p=1.0),
                               [0.625, 0.375, 0, 0], atol=0.015)
    # p = 0.7: the mass before the third token is 0.8, so two tokens stay.
    np.testing.assert_allclose(frequencies(temperature=1.0, top_k=0, top_p=0.7),
                               [0.625, 0.375, 0, 0], atol=0.015)
    # Both filters: top-p applies to what top-k kept (0.625 >= 0.6: one token), as in NumPy.
    np.testing.assert_allclose(frequencies(temperature=1.0, top_k=2, top_p=0.6), [1, 0, 0, 0])
    np.testing.assert_allclose(frequencies(temperature=0.0, top_k=0, top_p=1.0), [1, 0, 0, 0])
    np.testing.assert_allclose(frequencies(temperature=1.0, top_k=1, top_p=1.0), [1, 0, 0, 0])


def test_the_unfiltered_fast_path_draws_what_a_filter_keeping_everything_draws():
    rows = np.random.default_rng(1).normal(size=(500, 6)).astype(np.float32)
    uniforms = np.random.default_rng(2).random(500, dtype=np.float32)
    plain = choose_tokens(rows, uniforms, 1.3, 0, 1.0)  # no sort: the default settings
    # top-p just under 1 sorts and masks, yet keeps every token of these rows.
    kept_all = choose_tokens(rows, uniforms, 1.3, 6, 1.0 - 1e-7)
    np.testing.assert_array_equal(keras.ops.convert_to_numpy(plain),
                                  keras.ops.convert_to_numpy(kept_all))


def test_xla_and_the_graph_executor_sample_the_same_tokens():
    model = _model("lstm")
    compiled, graph = RecurrentSampler.from_model(model), RecurrentSampler.from_model(model)
    graph.jit_compile = False
    prompts = np.array([[1, 2, 3], [4, 5, 6]])
    for settings in ({"seed": 4}, {"seed": 4, "top_k": 3, "top_p": 0.8}):
        np.testing.assert_array_equal(compiled.sample(prompts, 12, **settings),
                                      graph.sample(prompts, 12, **settings))


def test_bad_arguments_name_the_argument():
    sampler = RecurrentSampler.from_model(_model("gru", layers=1))
    with pytest.raises(ValueError, match="`prompts` must be ids of shape"):
        sampler.sample(np.array([1, 2]), 3)
    with pytest.raises(ValueError, match="`temperature` must be >= 0 and finite; received -1"):
        sampler.sample(np.ones((1, 1), int), 3, temperature=-1)
    with pytest.raises(ValueError, match="`temperature` must be >= 0 and finite; received nan"):
        sampler.sample(np.ones((1, 1), int), 3, temperature=float("nan"))
    with pytest.raises(ValueError, match=r"`top_p` must be in \(0, 1\]; received 0"):
        sampler.sample(np.ones((1, 1), int), 3, top_p=0)
    assert sampler.sample(np.ones((2, 1), int), 0).shape == (2, 0)
    bidirectional = build_many_to_many(VOCAB, vocab_size=VOCAB, rnn={"units": 4,
                                                                     "bidirectional": True})
    with pytest.raises(ValueError, match="bidirectional layer reads the future"):
        RecurrentSampler.from_model(bidirectional)


_OTHER_BACKEND = textwrap.dedent("""
    import json, sys
    import keras, numpy as np
    from rnn_templates.note_events import EventSampler
    from rnn_templates.sampling import RecurrentSampler
    model = keras.saving.load_model(sys.argv[1])
    sampler = RecurrentSampler.from_model(model)
    prompts = np.array([[1, 2, 3], [4, 5, 6]])
    greedy = sampler.sample(prompts, 12, temperature=0).tolist()
    sampled = sampler.sample(prompts, 12, temperature=1.0, top_k=5, seed=4).tolist()
    # New weights (more training, say): the compiled loop must use them, not old constants.
    model.set_weights([w[::-1] if w.ndim == 1 else -w for w in model.get_weights()])
    sequence = prompts
    for _ in range(6):
        last = keras.ops.convert_to_numpy(model(sequence))[:, -1].argmax(-1)
        sequence = np.concatenate([sequence, last[:, None]], axis=1)
    print(json.dumps({
        "backend": keras.backend.backend(), "greedy": greedy, "sampled": sampled,
        "after_new_weights": sampler.sample(prompts, 6, temperature=0).tolist(),
        "argmax_after_new_weights": sequence[:, 3:].tolist(),
        "events": _events(EventSampler(keras.saving.load_model(sys.argv[2]))),
        # On PyTorch the steps run through torch.compile: the graphs it compiled.
        "compiled_graphs": sys.modules["torch._dynamo.utils"].counters["stats"]["unique_graphs"]
        if keras.backend.backend() == "torch" else None,
    }))
""")


def _events(sampler) -> list:
    """Notes the event sampler writes after a fixed seed (sampled pitches, predicted timing)."""
    tokens = np.array([[1, 2, 3], [4, 5, 6]], np.int32)
    timing = np.tile(np.array([[0.0, 1.0], [1.0, 0.5], [0.5, 0.5]], np.float32), (2, 1, 1))
    uniforms = np.random.default_rng(0).random((10, 2), np.float32)
    chosen, predicted = sampler.compiled(sampler.event_loop)(
        *(keras.ops.convert_to_tensor(value) for value in (tokens, timing, uniforms)),
        keras.ops.convert_to_tensor(np.float32(1.0)), keras.ops.convert_to_tensor(np.int32(4)))
    return [keras.ops.convert_to_numpy(chosen).tolist(),
            keras.ops.convert_to_numpy(predicted).tolist()]


@pytest.mark.parametrize("backend", ["jax", "torch"])
def test_the_same_tokens_on_the_jax_and_torch_backends(backend, tmp_path: Path):
    if importlib.util.find_spec(backend) is None:
        pytest.skip(f"{backend} is not installed")
    from rnn_templates.cells import RecurrentConfig
    from rnn_templates.note_events import EventSampler, build_event_model

    model = _model("lstm")
    model.save(tmp_path / "model.keras")
    events = build_event_model(VOCAB, 4, RecurrentConfig(cell="gru", units=8, num_layers=2),
                               0.0, "lm")
    events.set_weights([w * 3 for w in events.get_weights()])
    events.save(tmp_path / "events.keras")
    sampler = RecurrentSampler.from_model(model)
    prompts = np.array([[1, 2, 3], [4, 5, 6]])
    env = dict(os.environ, KERAS_BACKEND=backend, JAX_PLATFORMS="cpu", CUDA_VISIBLE_DEVICES="")
    process = subprocess.run([sys.executable, "-c", inspect.getsource(_events) + _OTHER_BACKEND,
                              str(tmp_path / "model.keras"), str(tmp_path / "events.keras")],
                             capture_output=True, text=True, env=env, check=False,
                             cwd=Path(__file__).resolve().parents[1])
    assert process.returncode == 0, process.stderr[-2000:]
    other = json.loads(process.stdout.strip().splitlines()[-1])
    assert other["backend"] == backend
    # Read and write, for each sampler: a new step count compiles nothing new.
    assert backend != "torch" or other["compiled_graphs"] == 4, other["compiled_graphs"]
    np.testing.assert_array_equal(other["greedy"], sampler.sample(prompts, 12, temperature=0))
    np.testing.assert_array_equal(other["sampled"],
                                  sampler.sample(prompts, 12, temperature=1.0, top_k=5, seed=4))
    assert other["after_new_weights"] != [row[:6] for row in other["greedy"]]
    np.testing.assert_array_equal(other["after_new_weights"], other["argmax_after_new_weights"])
    # The note-event sampler: the same pitches, the same predicted timing.
    chosen, predicted = _events(EventSampler(events))
    np.testing.assert_array_equal(other["events"][0], chosen)
    np.testing.assert_allclose(other["events"][1], predicted, atol=1e-5)


def test_without_a_cxx_compiler_torch_generates_eagerly_with_a_warning(tmp_path: Path):
    if importlib.util.find_spec("torch") is None:
        pytest.skip("torch is not installed")
    model = _model("gru", layers=1)
    model.save(tmp_path / "model.keras")
    script = textwrap.dedent("""
        import sys, warnings
        import keras, numpy as np
        from rnn_templates.sampling import RecurrentSampler
        sampler = RecurrentSampler.from_model(keras.saving.load_model(sys.argv[1]))
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            tokens = sampler.sample(np.array([[1, 2]]), 6, seed=3)
        print([str(w.message) for w in caught if "torch.compile failed" in str(w.message)])
        print(sampler.jit_compile, tokens.tolist())
    """)
    env = dict(os.environ, KERAS_BACKEND="torch", CUDA_VISIBLE_DEVICES="",
               CXX=str(tmp_path / "no-compiler"), TORCHINDUCTOR_CACHE_DIR=str(tmp_path / "cache"))
    process = subprocess.run([sys.executable, "-c", script, str(tmp_path / "model.keras")],
                             capture_output=True, text=True, env=env, check=False,
                             cwd=Path(__file__).resolve().parents[1])
    assert process.returncode == 0, process.stderr[-2000:]
    warned, result = process.stdout.strip().splitlines()[-2:]
    assert "No working C++ compiler" in warned
    expected = RecurrentSampler.from_model(model).sample(np.array([[1, 2]]), 6, seed=3)
    assert result == f"False {expected.tolist()}"
