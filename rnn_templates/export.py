"""SavedModel export with raw-input serving signatures, and a fresh-process check.

An exported model is only useful if something other than this code base can
load it. :func:`check_in_fresh_process` therefore reloads the SavedModel in a
new Python process that imports TensorFlow and NumPy only (never
rnn_templates or an app; TensorFlow itself may load Keras), calls the
serving signature and compares the answers with the in-memory model's.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import keras
import numpy as np

from rnn_templates import io

SERVING_ENDPOINT = "serve"
# A reload check that takes longer than this (seconds) has hung: it is stopped and reported.
FRESH_PROCESS_TIMEOUT = 900.0

_RELOAD_SCRIPT = r"""
import json, os, sys
import numpy as np
import tensorflow as tf
path, inputs_file, outputs_file, endpoint = sys.argv[1:5]
with np.load(inputs_file, allow_pickle=False) as stored:
    inputs = [stored[f"input_{i}"] for i in range(len(stored.files))]
loaded = tf.saved_model.load(path)
function = getattr(loaded, endpoint)
tensors = [tf.constant(a.astype(object) if a.dtype.kind == "U" else a) for a in inputs]
result = function(*tensors)
if not isinstance(result, dict):
    result = {"output": result}
arrays = {}
for key, value in result.items():
    array = value.numpy()
    # tf.string comes back as bytes; decode as UTF-8 (astype(str) assumes ASCII).
    arrays[key] = np.char.decode(array.astype(bytes), "utf-8") if array.dtype == object else array
np.savez(outputs_file, **arrays)
project = sorted(m for m in sys.modules if m.split(".")[0] in ("rnn_templates", "apps"))
print(json.dumps({"project_modules": project}))
"""


def export_saved_model(
    model: keras.Model,
    path: str | os.PathLike,
    serve_fn: Callable[[Any], Any],
    input_signature: list[Any],
    *,
    extra_tracked: list[Any] | None = None,
    extra_endpoints: dict[str, tuple[Callable[..., Any], list[Any]]] | None = None,
    extra_files: dict[str, str] | None = None,
    check: Callable[[Path], Any] | None = None,
) -> Path:
    """Write a SavedModel whose ``serve`` signature is ``serve_fn``.

    The SavedModel is built in a temporary sibling directory and renamed into
    place, so ``path`` is either the complete old export or the complete new
    one, never half of each. An existing ``path`` is replaced only if this
    project wrote it; a folder holding anything else is refused. ``check``,
    given, is called with the temporary directory once it is complete; if it
    raises, the new export is removed and ``path`` keeps what it held.

    Args:
        model: The model whose variables ``serve_fn`` uses.
        path: Destination directory.
        serve_fn: Takes raw input tensors, returns a tensor or a dict of them.
        input_signature: e.g. ``[tf.TensorSpec([None], tf.string)]``.
        extra_tracked: Other resources ``serve_fn`` uses (lookup tables...).
        extra_endpoints: More signatures beside ``serve``, by name: ``(function,
            input_signature)`` (a translator's beam search with a width input, say).
        extra_files: Text files to write into the folder, by name (the
            artifacts ``predict`` reads), renamed into place with the rest.

    Returns:
        The destination path.
    """
    path = Path(path)
    io.check_replaceable(path, kind="export")
    with io.atomic_path(path, directory=True, kind="export") as temporary:
        archive = keras.export.ExportArchive()
        archive.track(model)
        for resource in extra_tracked or []:
            archive.track(resource)
        archive.add_endpoint(SERVING_ENDPOINT, serve_fn, input_signature=input_signature)
        for name, (function, signature) in (extra_endpoints or {}).items():
            archive.add_endpoint(name, function, input_signature=signature)
        archive.write_out(str(temporary), verbose=False)
        for name, text in (extra_files or {}).items():
            (temporary / name).write_text(text, encoding="utf-8")
        if check is not None:
            check(temporary)
    return path


def call_in_fresh_process(
    path: str | os.PathLike, inputs: Any, endpoint: str = SERVING_ENDPOINT,
    timeout: float = FRESH_PROCESS_TIMEOUT,
) -> dict[str, np.ndarray]:
    """Load the SavedModel in a new TensorFlow-only process and call ``endpoint``.

    ``inputs`` is one array, or a list or tuple of arrays for a signature
    with several inputs (a window and its covariates, a seed and a length...).
    The process is stopped after ``timeout`` seconds.

    Raises:
        RuntimeError: the process failed or ran out of time, or it imported
            project code (which would mean the export is not self-contained).
    """
    with tempfile.TemporaryDirectory() as scratch:
        inputs_file = Path(scratch) / "inputs.npz"
        outputs_file = Path(scratch) / "outputs.npz"
        arrays = [np.asarray(a) for a in (inputs if isinstance(inputs, list | tuple)
                                          else [inputs])]
        np.savez(inputs_file, **{f"input_{i}": a.astype(str) if a.dtype == object else a
                                 for i, a in enumerate(arrays)})
        env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2", TF_ENABLE_ONEDNN_OPTS="0")
        # Run from the scratch directory so the project is not importable from
        # the working directory: the SavedModel must stand on TensorFlow alone.
        try:
            process = subprocess.run(
                [sys.executable, "-c", _RELOAD_SCRIPT, str(Path(path).resolve()),
                 str(inputs_file), str(outputs_file), endpoint],
                capture_output=True, text=True, env=env, check=False, cwd=scratch,
                timeout=timeout,
            )
        except subprocess.TimeoutExpired:
            raise RuntimeError(f"reloading {path} in a fresh process did not finish within "
                               f"{timeout:g} s") from None
        if process.returncode != 0:
            tail = process.stderr.strip().splitlines()[-5:]
            raise RuntimeError(f"reloading {path} in a fresh process failed: {' | '.join(tail)}")
        report = json.loads(process.stdout.strip().splitlines()[-1])
        if report["project_modules"]:
            raise RuntimeError(
                f"reloading {path} imported project code {report['project_modules']}; "
                "the export is not standalone"
            )
        with np.load(outputs_file, allow_pickle=False) as stored:
            return {key: stored[key] for key in stored.files}


def check_in_fresh_process(
    path: str | os.PathLike,
    inputs: Any,
    expected: dict[str, np.ndarray],
    *,
    atol: float = 1e-5,
    rtol: float = 0.0,
) -> dict[str, float]:
    """Compare a fresh process's answers with ``expected``, key by key.

    A value matches within ``atol + rtol * |expected|`` (as ``numpy.isclose``):
    ``rtol`` allows for float32's rounding of large values (one unit in the last
    place of 400,000 is 0.03).

    Returns:
        For each key, the largest absolute difference (0 for matching strings).

    Raises:
        RuntimeError: a key is missing or a value differs beyond the tolerance.
    """
    actual = call_in_fresh_process(path, inputs)
    differences = {}
    for key, want in expected.items():
        if key not in actual:
            raise RuntimeError(f"exported signature has no output {key!r}; it has {sorted(actual)}")
        got = actual[key]
        want = np.asarray(want)
        if want.dtype.kind in "USO":
            differences[key] = float(np.sum(got.astype(str) != want.astype(str)))
            matches = differences[key] == 0
        else:
            got, want = got.astype(np.float64), want.astype(np.float64)
            both = np.isnan(got) & np.isnan(want)  # NaN against NaN matches; against a number, not
            gap = np.nan_to_num(np.where(both, 0.0, np.abs(got - want)), nan=np.inf)
            differences[key] = float(gap.max()) if want.size else 0.0
            matches = bool(np.isclose(got, want, rtol=rtol, atol=atol, equal_nan=True).all())
        if not matches:
            raise RuntimeError(
                f"exported output {key!r} differs from the in-memory model by {differences[key]:g}"
            )
    return differences
