"""A model built with the library's layers reloads in a script that imports only rnn_templates."""

import subprocess
import sys

import numpy as np

import rnn_templates as rt


def test_a_fresh_process_reloads_every_library_layer_with_rt_load_model(tmp_path):
    vectors = np.random.default_rng(0).normal(size=(20, 8)).astype("float32")
    model = rt.build_many_to_one(2, vocab_size=20, embedding_dim=8, pooling="mean_max",
                                 word_dropout=0.1, pretrained=vectors, freeze="gated",
                                 ngram_buckets=50, members=2, output_activation="softmax",
                                 rnn={"units": 4})
    tokens = np.array([[3, 4, 5, 0], [7, 8, 0, 0]])
    expected = np.asarray(model(tokens, training=False))
    path = tmp_path / "model.keras"
    model.save(path)
    np.save(tmp_path / "tokens.npy", tokens)
    script = (
        "import sys, numpy as np, rnn_templates as rt\n"
        f"model = rt.load_model({str(path)!r})\n"
        f"tokens = np.load({str(tmp_path / 'tokens.npy')!r})\n"
        f"np.save({str(tmp_path / 'out.npy')!r}, np.asarray(model(tokens, training=False)))\n")
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                          timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    np.testing.assert_allclose(np.load(tmp_path / "out.npy"), expected, atol=1e-6)


def test_register_all_covers_every_class_the_library_registers():
    def registered(code: str) -> set[str]:
        shown = subprocess.run(
            [sys.executable, "-c", code + "\nimport keras\nprint('\\n'.join(sorted(name for name "
             "in keras.saving.get_custom_objects() if name.startswith('rnn_templates>'))))"],
            capture_output=True, text=True, check=True).stdout
        return set(shown.split())

    everything = registered(
        "import importlib, pkgutil, rnn_templates\n"
        "for module in pkgutil.walk_packages(rnn_templates.__path__, 'rnn_templates.'):\n"
        "    importlib.import_module(module.name)")
    assert len(everything) >= 10  # the library's layers, losses and metrics
    assert registered("from rnn_templates.saving import register_all\nregister_all()") == \
        everything
