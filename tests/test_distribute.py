"""``--strategy``: mirrored and multi-worker training (TensorFlow), data parallelism (JAX),
and the one-line errors of a strategy that cannot run."""

import csv
import dataclasses
import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from apps.sentiment.config import SentimentConfig
from rnn_templates import distribute, io
from rnn_templates.cli import main
from rnn_templates.config import load_config
from rnn_templates.errors import UserInputError
from rnn_templates.runs import partial_path

REPO = Path(__file__).resolve().parents[1]
TINY = ["epochs=2", "units=8", "embedding_dim=8", "max_tokens=2000", "patience=2", "embeddings="]
SETTINGS = [part for setting in TINY for part in ("--set", setting)]
CLI = [sys.executable, "-m", "rnn_templates.cli"]


@pytest.fixture(scope="module")
def workspace(tmp_path_factory):
    return tmp_path_factory.mktemp("distribute")


@pytest.fixture(scope="module")
def small_csv(workspace):
    with open(REPO / "data/sentiment/reviews.tsv", encoding="utf-8") as stream:
        rows = list(csv.DictReader(stream, delimiter="\t"))[:200]
    path = workspace / "small.csv"
    with open(path, "w", encoding="utf-8", newline="") as stream:
        writer = csv.writer(stream)
        writer.writerow(["text", "label"])
        writer.writerows([row["text"], row["label"]] for row in rows)
    return path


def _environment(**changes: str) -> dict[str, str]:
    env = dict(os.environ, CI="1", TF_CPP_MIN_LOG_LEVEL="2", KERAS_BACKEND="tensorflow")
    env.pop("TF_CONFIG", None)
    env.update(changes)
    return env


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _tf_config(ports: list[int], index: int) -> str:
    return json.dumps({"cluster": {"worker": [f"127.0.0.1:{port}" for port in ports]},
                       "task": {"type": "worker", "index": index}})


def _one_line(stderr: str) -> str:
    lines = [line for line in stderr.splitlines() if line.strip()]
    assert len(lines) == 1, stderr
    assert "Traceback" not in stderr
    return lines[0]


def _training(run_dir: Path) -> dict:
    return json.loads((run_dir / "training.json").read_text(encoding="utf-8"))


def _assert_complete(run_dir: Path, epochs: int = 2) -> None:
    for name in ("model.keras", "metrics.json", "config.yaml", "artifacts.json", "test.tsv",
                 "saved_model/saved_model.pb"):
        assert (run_dir / name).is_file(), name
    assert not partial_path(run_dir).exists()
    with open(run_dir / "history.csv", encoding="utf-8") as stream:
        assert [int(row["epoch"]) for row in csv.DictReader(stream)] == list(range(epochs))
    metrics = json.loads((run_dir / "metrics.json").read_text(encoding="utf-8"))
    assert metrics["export"]  # the SavedModel answered like the trained model in a fresh process


# --- TF_CONFIG and the worker's directory (no TensorFlow) ---------------------------------------


def test_tf_config_names_the_cluster_and_the_chief():
    environ = {"TF_CONFIG": json.dumps({"cluster": {"chief": ["h0:2222"],
                                                    "worker": ["h1:2222", "[::1]:2223"]},
                                        "task": {"type": "worker", "index": 1}})}
    cluster, task_type, index = distribute.read_tf_config(environ)
    assert (task_type, index) == ("worker", 1)
    assert distribute.is_chief(cluster, "chief", 0)
    assert not distribute.is_chief(cluster, "worker", 0)  # a named chief outranks worker 0
    assert distribute.is_chief({"worker": ["a:1", "b:1"]}, "worker", 0)
    assert not distribute.is_chief({"worker": ["a:1", "b:1"]}, "worker", 1)


@pytest.mark.parametrize(("tf_config", "received"), [
    ("", "received nothing"),
    ("{cluster", "not JSON"),
    ("[1, 2]", "a JSON list"),
    ('{"task": {"type": "worker", "index": 0}}', "cluster=null"),
    ('{"cluster": {"worker": ["a:1"]}}', "task=null"),
    ('{"cluster": {"worker": ["a"]}, "task": {"type": "worker", "index": 0}}', "host:port"),
    ('{"cluster": {"worker": ["a:99999"]}, "task": {"type": "worker", "index": 0}}',
     "host:port"),
    ('{"cluster": {"ps": ["a:1"], "worker": ["b:1"]}, "task": {"type": "worker", "index": 0}}',
     "a 'ps' job"),
    ('{"cluster": {"worker": ["a:1"]}, "task": {"type": "chief", "index": 0}}', "task type"),
    ('{"cluster": {"worker": ["a:1", "b:1"]}, "task": {"type": "worker", "index": 2}}',
     "task index 2 (0 to 1"),
    ('{"cluster": {"worker": ["a:1"]}, "task": {"type": "worker", "index": "0"}}',
     'task index "0"'),
])
def test_a_bad_tf_config_is_one_line_that_shows_its_shape(tf_config, received):
    with pytest.raises(UserInputError) as caught:
        distribute.read_tf_config({"TF_CONFIG": tf_config})
    message = str(caught.value)
    assert message.startswith("TF_CONFIG: ") and "\n" not in message
    assert received in message
    assert '"task": {"type": "worker", "index": 0}' in message  # the expected shape


def test_the_chief_writes_its_run_directory_and_a_worker_a_scratch_one_it_removes(tmp_path):
    run_dir = tmp_path / "runs" / "run"
    chief = distribute.Distribution("multiworker", task=("worker", 0), chief=True)
    with distribute.output_directory(run_dir, chief) as mine:
        assert mine == run_dir
    worker = distribute.Distribution("multiworker", task=("worker", 1), chief=False)
    with pytest.raises(RuntimeError), distribute.output_directory(run_dir, worker) as mine:
        assert mine.name == run_dir.name and tmp_path not in mine.parents
        mine.mkdir(parents=True)
        (mine / "model.keras").write_text("weights", encoding="utf-8")
        scratch = mine.parent
        raise RuntimeError("the block failed")
    assert not scratch.exists()  # removed however the block ended
    assert not (tmp_path / "runs").exists()  # and nothing written where the chief writes


def test_a_resuming_worker_starts_from_a_copy_of_the_chiefs_partial_run(tmp_path):
    run_dir = tmp_path / "run"
    chiefs = partial_path(run_dir)
    (chiefs / "backup").mkdir(parents=True)
    (chiefs / "backup" / "training_metadata.json").write_text('{"epoch": 3, "batch": 0}')
    (chiefs / "config.yaml").write_text("units: 8\n", encoding="utf-8")
    (chiefs / ".lock").write_text("process 1 on chief\n", encoding="utf-8")
    before = {path: (path.stat().st_mtime_ns, path.read_bytes())
              for path in chiefs.rglob("*") if path.is_file()}
    worker = distribute.Distribution("multiworker", task=("worker", 1), chief=False)
    with distribute.output_directory(run_dir, worker) as mine:
        copy = partial_path(mine)
        assert distribute.resume_point(copy) == distribute.resume_point(chiefs) == 3
        assert (copy / "config.yaml").read_text(encoding="utf-8") == "units: 8\n"
        assert not (copy / ".lock").exists()  # the chief's lock is the chief's
    after = {path: (path.stat().st_mtime_ns, path.read_bytes())
             for path in chiefs.rglob("*") if path.is_file()}
    assert after == before


def test_resume_point_reads_what_the_run_directory_holds(tmp_path):
    assert distribute.resume_point(tmp_path) == 0
    (tmp_path / "backup").mkdir()
    (tmp_path / "backup" / "training_metadata.json").write_text('{"epoch": 2, "batch": 0}')
    assert distribute.resume_point(tmp_path) == 2
    (tmp_path / "model.keras").write_text("x")
    (tmp_path / "training.json").write_text("{}")
    assert distribute.resume_point(tmp_path) == -1


# --- strategies that cannot run: exit status 2, one line, nothing written ------------------------


@pytest.mark.parametrize(("verb", "strategy", "tf_config", "expected"), [
    ("train", "multiworker", None, "TF_CONFIG: not set; --strategy multiworker reads the cluster"),
    ("train", "multiworker", '{"cluster": {"worker": ["a:1"]}',
     "TF_CONFIG: malformed cluster description"),
    ("train", "data-parallel", None, "--strategy: data-parallel (keras.distribution) needs the "
     "JAX backend; received KERAS_BACKEND=tensorflow"),
    ("tune", "multiworker", None, "--strategy: multiworker trains with `rnnt <app> train` only"),
])
def test_a_strategy_that_cannot_run_is_refused_in_one_line(workspace, small_csv, capsys,
                                                           monkeypatch, verb, strategy,
                                                           tf_config, expected):
    monkeypatch.delenv("TF_CONFIG", raising=False)
    if tf_config is not None:
        monkeypatch.setenv("TF_CONFIG", tf_config)
    run_dir = workspace / f"refused-{verb}-{strategy}"
    assert main(["sentiment", verb, "--strategy", strategy, "--data", str(small_csv),
                 "--run-dir", str(run_dir), *SETTINGS]) == 2
    line = _one_line(capsys.readouterr().err)
    assert line.startswith(f"rnnt sentiment: error: {expected}"), line
    assert not run_dir.exists() and not partial_path(run_dir).exists()


@pytest.mark.slow
def test_a_tf_distribute_strategy_on_jax_is_refused_in_one_line(workspace, small_csv):
    run_dir = workspace / "refused-jax"
    result = subprocess.run(
        [*CLI, "sentiment", "train", "--strategy", "mirrored", "--data", str(small_csv),
         "--run-dir", str(run_dir), *SETTINGS],
        cwd=REPO, env=_environment(KERAS_BACKEND="jax"), capture_output=True, text=True,
        timeout=300)
    assert result.returncode == 2, result.stderr[-2000:]
    assert _one_line(result.stderr) == (
        "rnnt sentiment: error: --strategy: mirrored is a tf.distribute strategy and needs the "
        "TensorFlow backend; received KERAS_BACKEND=jax; run with KERAS_BACKEND=tensorflow, or "
        "use --strategy data-parallel on JAX")
    assert not run_dir.exists()


# --- mirrored -------------------------------------------------------------------------------


def test_mirrored_trains_and_writes_a_complete_run(workspace, small_csv, capsys):
    from rnn_templates.cli import main

    run_dir = workspace / "mirrored"
    assert main(["sentiment", "train", "--strategy", "mirrored", "--data", str(small_csv),
                 "--run-dir", str(run_dir), *SETTINGS]) == 0
    assert f"run directory: {run_dir.resolve()}" in capsys.readouterr().out
    _assert_complete(run_dir)
    training = _training(run_dir)
    assert training["strategy"] == "mirrored"
    assert training["replicas"] >= 1  # every GPU, or the CPU
    assert training["hyperparameters"]["batch_size"] == 32  # the global batch, as configured


# --- multiworker ----------------------------------------------------------------------------


def _workers(command: list[str], scratch: Path, count: int = 2, timeout: int = 500
             ) -> list[subprocess.CompletedProcess]:
    """Run ``command`` as ``count`` workers of one cluster on 127.0.0.1; each one's result."""
    ports = [_free_port() for _ in range(count)]
    processes = []
    for index in range(count):
        temporary = scratch / f"tmp-{index}"
        temporary.mkdir(parents=True, exist_ok=True)
        processes.append(subprocess.Popen(
            command, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
            env=_environment(TF_CONFIG=_tf_config(ports, index), TMPDIR=str(temporary))))
    results = []
    try:
        for process in processes:
            out, err = process.communicate(timeout=timeout)
            results.append(subprocess.CompletedProcess(process.args, process.returncode,
                                                       out, err))
    finally:
        for process in processes:
            process.kill()
    for index, result in enumerate(results):
        print(f"worker {index}:", result.stdout, result.stderr[-3000:], sep="\n")
    return results


@pytest.mark.slow
def test_two_workers_train_together_and_only_the_chief_writes_the_run(workspace, small_csv):
    run_dir = workspace / "runs" / "multiworker"
    chief, worker = _workers([*CLI, "sentiment", "train", "--strategy", "multiworker",
                              "--data", str(small_csv), "--run-dir", str(run_dir), *SETTINGS],
                             workspace / "multiworker-tmp")
    assert chief.returncode == 0, chief.stderr[-3000:]
    assert worker.returncode == 0, worker.stderr[-3000:]
    assert f"run directory: {run_dir.resolve()}" in chief.stdout
    assert f"the chief writes {run_dir}" in worker.stdout
    _assert_complete(run_dir)
    training = _training(run_dir)
    assert (training["strategy"], training["replicas"]) == ("multiworker", 2)
    assert sorted(path.name for path in run_dir.parent.iterdir()) == [run_dir.name]
    # Each TensorBoard writer leaves its own events file: one writer wrote these logs.
    for split in ("train", "validation"):
        assert len(list((run_dir / "logs" / split).glob("events.out.tfevents.*"))) == 1
    # The worker's private run directory is gone.
    assert not list((workspace / "multiworker-tmp" / "tmp-1").glob("rnnt-worker-1-*"))


@pytest.mark.slow
def test_workers_that_would_resume_from_different_epochs_stop_together(workspace, small_csv):
    # The chief's interrupted run (its backup says: resume at epoch 1) is out of the
    # worker's reach: the worker writes its run directory elsewhere and starts afresh.
    chiefs_run, workers_run = workspace / "resume" / "chief", workspace / "resume" / "worker"
    partial = partial_path(chiefs_run)
    (partial / "backup").mkdir(parents=True)
    (partial / "backup" / "training_metadata.json").write_text('{"epoch": 1, "batch": 0}')
    config = load_config(SentimentConfig, None, [*TINY, f"data={small_csv}"])
    io.write_yaml(partial / "config.yaml", dataclasses.asdict(config))
    (partial / io.MARKER).touch()
    ports = [_free_port(), _free_port()]
    processes = [subprocess.Popen(
        [*CLI, "sentiment", "train", "--strategy", "multiworker", "--data", str(small_csv),
         "--run-dir", str(run_dir), *SETTINGS], cwd=REPO, stdout=subprocess.PIPE,
        stderr=subprocess.PIPE, text=True, env=_environment(TF_CONFIG=_tf_config(ports, index)))
        for index, run_dir in enumerate((chiefs_run, workers_run))]
    try:
        results = [process.communicate(timeout=300) for process in processes]
    finally:
        for process in processes:
            process.kill()
    for process, (out, err) in zip(processes, results, strict=True):
        print(out, err[-3000:], sep="\n")
        assert process.returncode == 2, err[-3000:]
        last = err.strip().splitlines()[-1]
        assert "the workers would resume an interrupted run from different points" in last
        assert "received epoch 0, epoch 1" in last and "Traceback" not in err
    assert (partial / "backup" / "training_metadata.json").is_file()  # the chief's work is kept
    assert not workers_run.exists() and not partial_path(workers_run).exists()


# --- data-parallel (JAX) --------------------------------------------------------------------

_TWO_DEVICES = "--xla_force_host_platform_device_count=2"


def _on_two_jax_devices(script: str):
    """What ``script`` prints last (JSON), run on JAX with two forced CPU devices."""
    result = subprocess.run([sys.executable, "-c", script], cwd=REPO, capture_output=True,
                            text=True, timeout=300,
                            env=_environment(KERAS_BACKEND="jax", XLA_FLAGS=_TWO_DEVICES))
    assert result.returncode == 0, result.stderr[-3000:]
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_data_parallel_shares_batches_the_devices_can_split_and_copies_the_rest():
    script = (
        "import json\n"
        "from rnn_templates import distribute\n"
        "d = distribute.distribution('data-parallel')\n"
        "layout = d.strategy.get_data_layout\n"
        "print(json.dumps([d.replicas, list(layout((4, 7)).axes), list(layout((3, 7)).axes)]))\n")
    replicas, even, odd = _on_two_jax_devices(script)
    assert replicas == 2
    assert even == ["batch", None]  # split along the batch
    assert odd == [None, None]  # 3 examples on 2 devices: each device gets the whole batch


def test_data_parallel_fits_a_dataset_whose_last_batch_the_devices_cannot_split():
    # 11 examples in batches of 4: the last batch of 3 goes whole to both devices.
    script = (
        "import json, numpy as np, keras, tensorflow as tf\n"
        "from rnn_templates import distribute\n"
        "keras.distribution.set_distribution(distribute.distribution('data-parallel').strategy)\n"
        "x = np.arange(22, dtype='float32').reshape(11, 2); y = x.sum(axis=1, keepdims=True)\n"
        "model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)])\n"
        "model.compile('sgd', 'mse')\n"
        "data = tf.data.Dataset.from_tensor_slices((x, y)).batch(4)\n"
        "history = model.fit(data, epochs=2, verbose=0).history\n"
        "print(json.dumps(len(history['loss'])))\n")
    assert _on_two_jax_devices(script) == 2


@pytest.mark.slow
def test_data_parallel_trains_on_jax_across_two_devices(workspace):
    run_dir = workspace / "data-parallel"
    result = subprocess.run(
        [*CLI, "forecasting", "train", "--strategy", "data-parallel", "--run-dir", str(run_dir),
         "--set", "epochs=2", "--set", "units=8", "--set", "lookback=52", "--set", "horizon=13",
         "--set", "segment_length=13", "--set", "patience=2"],
        cwd=REPO, capture_output=True, text=True, timeout=500,
        env=_environment(KERAS_BACKEND="jax", XLA_FLAGS=_TWO_DEVICES))
    assert result.returncode == 0, result.stderr[-3000:]
    for name in ("model.keras", "metrics.json", "saved_model/saved_model.pb"):
        assert (run_dir / name).is_file(), name
    training = _training(run_dir)
    assert (training["strategy"], training["replicas"], training["epochs_run"]) == (
        "data-parallel", 2, 2)
