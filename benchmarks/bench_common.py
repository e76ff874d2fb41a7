"""Helpers the benchmark scripts share: data readers, machine facts, atomic writes.

Not a benchmark itself. The scripts put the repository root and this folder on
``sys.path`` so they run from a plain checkout.
"""

from __future__ import annotations

import datetime as dt
import os
import platform
import sys
from pathlib import Path
from typing import Any

import numpy as np

REPO_ROOT = Path(__file__).resolve().parents[1]
RESULTS = REPO_ROOT / "benchmarks" / "results"
UCI_FOLDER = REPO_ROOT / ".." / "shared" / "datasets" / "sentiment" / "uci"
UCI_FILES = ("yelp_labelled.txt", "amazon_cells_labelled.txt")


def read_uci(folder: Path, names: tuple[str, ...] = UCI_FILES) -> tuple[np.ndarray, np.ndarray]:
    """Sentences and 0/1 labels from UCI ``sentence<TAB>label`` files.

    Each line is split on its LAST tab (a sentence may itself contain tabs).
    A malformed line stops the script with its file and line number.
    """
    texts: list[str] = []
    labels: list[int] = []
    for name in names:
        path = Path(folder) / name
        if not path.is_file():
            sys.exit(f"{path}: data file not found; pass the folder that holds the UCI files")
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
            if not line.strip():
                continue
            sentence, tab, label = line.rpartition("\t")
            if not tab or label.strip() not in ("0", "1") or not sentence.strip():
                sys.exit(f"{path}:{number}: expected 'sentence<TAB>0|1'; received {line[:60]!r}")
            texts.append(sentence.strip())
            labels.append(int(label))
    return np.array(texts, dtype=object), np.array(labels, dtype=int)


def machine_info() -> dict[str, Any]:
    """Date, hardware and library versions, and the load when the run started."""
    import keras

    try:
        import tensorflow as tf
    except ImportError:  # a GPU machine with only JAX or PyTorch: the accelerator as Keras sees it
        tf = None
    if tf is not None and keras.backend.backend() == "tensorflow":
        gpus = [device.name for device in tf.config.list_physical_devices("GPU")]
    else:
        gpus = accelerators()
    info = {
        "date": dt.datetime.now().strftime("%Y-%m-%d %H:%M"),
        "machine": f"{platform.machine()}, {os.cpu_count()} CPU cores, "
        + (f"{len(gpus)} GPU(s): {', '.join(sorted(set(gpus)))}" if gpus else "no GPU"),
        "python": platform.python_version(),
        "tensorflow": tf.__version__ if tf is not None else None,
        "keras": keras.__version__,
        "backend": keras.backend.backend(),
        "load_average_at_start": [round(x, 2) for x in os.getloadavg()],
    }
    try:
        import keras_tuner
        import sklearn

        info["keras_tuner"] = keras_tuner.__version__
        info["sklearn"] = sklearn.__version__
    except ImportError:  # pragma: no cover - both are installed with the bench extra
        pass
    return info


def accelerators() -> list[str]:
    """The GPU names the JAX or PyTorch backend sees (empty on a CPU, or on TensorFlow)."""
    import keras

    if keras.backend.backend() == "jax":
        import jax

        return [d.device_kind for d in jax.devices() if d.platform == "gpu"]
    if keras.backend.backend() == "torch":
        import torch

        return [torch.cuda.get_device_name(i) for i in range(torch.cuda.device_count())]
    return []


def torch_sampling_loop(vocab: int, embedding_dim: int, units: int, prompts: np.ndarray,
                        tokens: int, seed: int = 0):
    """The hand-written PyTorch peer of the compiled sampler: ``nn.Embedding`` ->
    ``nn.LSTM`` -> ``nn.Linear`` under ``no_grad``, carrying ``(h, c)``, one
    ``torch.multinomial`` draw per token, on the GPU when there is one.

    Returns a function that reads ``prompts`` (batch, length) and samples ``tokens``
    tokens after them (a NumPy array, copied back from the device)."""
    import torch

    device = "cuda" if torch.cuda.is_available() else "cpu"
    torch.manual_seed(seed)
    embedding = torch.nn.Embedding(vocab, embedding_dim).to(device)
    lstm = torch.nn.LSTM(embedding_dim, units, batch_first=True).to(device)
    head = torch.nn.Linear(units, vocab).to(device)
    start = torch.as_tensor(prompts, device=device)

    def run() -> np.ndarray:
        with torch.no_grad():
            output, state = lstm(embedding(start))
            logits = head(output[:, -1])
            out = []
            for _ in range(tokens):
                token = torch.multinomial(torch.softmax(logits, -1), 1)
                out.append(token)
                output, state = lstm(embedding(token), state)
                logits = head(output[:, -1])
            return torch.cat(out, 1).cpu().numpy()

    return run


def write_text_atomic(path: Path, text: str) -> None:
    """Write through a temporary file renamed into place, so a killed run leaves no half file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.tmp")
    temporary.write_text(text, encoding="utf-8")
    os.replace(temporary, path)


def mean_std(values) -> tuple[float, float]:
    """Mean and sample standard deviation (ddof=1; 0 for a single value)."""
    values = np.asarray(values, dtype=float)
    return float(values.mean()), float(values.std(ddof=1)) if len(values) > 1 else 0.0
