"""Training beyond one device: what ``--strategy`` of ``rnnt <app> train`` and ``tune`` means.

- ``none``: the default device, as Keras picks it;
- ``mirrored``: ``tf.distribute.MirroredStrategy`` over this machine's
  devices (every GPU, or the CPU when there is none), one model replica per
  device, gradients all-reduced across them after every step (TensorFlow backend);
- ``multiworker``: ``tf.distribute.MultiWorkerMirroredStrategy`` over several
  processes, usually one per host, each running the same ``rnnt <app> train``
  command with its own ``TF_CONFIG`` (the cluster and this task's place in
  it) (TensorFlow backend);
- ``data-parallel``: ``keras.distribution.DataParallel`` over this process's
  devices (JAX backend): variables replicated, each batch sharded across the
  devices.

``batch_size`` is always the global batch: each step's batch is split across
the replicas (a batch of 64 on 4 replicas gives each 16), so a run has the
same number of steps per epoch on any number of devices. The learning rate
is not rescaled.

With ``multiworker`` every worker runs the whole lifecycle, since saving a
distributed model takes every worker's part. Only the chief (the task of type
``chief``, or worker 0 when the cluster names no chief) writes the run
directory; every other worker writes into a private temporary directory that
it removes at the end, the pattern TensorFlow documents for multi-worker
saving. To resume an interrupted multi-worker run the workers read (never
write) the chief's ``<run>.partial`` directory, so it must be on storage
every host sees; workers that would resume from different epochs stop, all of
them, with one line that says so.

This module imports neither TensorFlow nor Keras at load time: the CLI lists
the strategies without them.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import os
import shutil
import tempfile
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from rnn_templates.errors import UserInputError

STRATEGIES = ("none", "mirrored", "multiworker", "data-parallel")
TF_STRATEGIES = ("mirrored", "multiworker")
TF_CONFIG = "TF_CONFIG"
_TF_CONFIG_SHAPE = ('{"cluster": {"worker": ["host1:port", "host2:port"]}, '
                    '"task": {"type": "worker", "index": 0}}')
_DOCS = "see docs/distributed-training.md"


@dataclasses.dataclass(frozen=True)
class Distribution:
    """How this process trains: a strategy name, the object behind it, its place in a cluster.

    Attributes:
        name: One of :data:`STRATEGIES`.
        strategy: The ``tf.distribute.Strategy`` or ``keras.distribution.DataParallel``
            (None for ``none``).
        task: ``(type, index)`` of this process in ``TF_CONFIG`` (multiworker only).
        chief: Whether this process writes the run directory.
    """

    name: str = "none"
    strategy: Any = None
    task: tuple[str, int] | None = None
    chief: bool = True

    @property
    def replicas(self) -> int:
        """Model replicas that share each batch (all workers' devices together)."""
        if self.strategy is None:
            return 1
        if self.name == "data-parallel":
            return int(self.strategy.device_mesh.devices.size)
        return int(self.strategy.num_replicas_in_sync)

    def scope(self) -> contextlib.AbstractContextManager:
        """Where models, optimizers and their variables are built, and ``fit`` runs."""
        return contextlib.nullcontext() if self.strategy is None else self.strategy.scope()

    def __str__(self) -> str:
        where = f" ({self.task[0]} {self.task[1]})" if self.task else ""
        plural = "s" if self.replicas != 1 else ""
        return f"strategy {self.name}{where}: {self.replicas} replica{plural}"


SINGLE = Distribution()


def distribution(strategy: str | Distribution = "none") -> Distribution:
    """The :class:`Distribution` for a ``--strategy`` value.

    Create it before anything else runs TensorFlow operations: a multi-worker
    strategy must configure the runtime first.

    Args:
        strategy: One of :data:`STRATEGIES`, or a ready :class:`Distribution`
            (returned as it is).

    Raises:
        UserInputError: an unknown name, a strategy the Keras backend cannot
            run, or (multiworker) a missing or malformed ``TF_CONFIG``.
    """
    if isinstance(strategy, Distribution):
        return strategy
    if strategy not in STRATEGIES:
        raise UserInputError("unknown distribution strategy", where="--strategy",
                             expected=f"one of {', '.join(STRATEGIES)}", received=repr(strategy),
                             fix="choose one of those")
    if strategy == "none":
        return SINGLE
    _check_backend(strategy)
    if strategy == "data-parallel":
        return Distribution(strategy, _data_parallel())
    import tensorflow as tf

    if strategy == "mirrored":
        return Distribution(strategy, tf.distribute.MirroredStrategy())
    cluster, task_type, index = read_tf_config()  # checked here; TensorFlow reads it again
    multiworker = tf.distribute.MultiWorkerMirroredStrategy()
    _fit_across_workers()
    return Distribution(strategy, multiworker, task=(task_type, index),
                        chief=is_chief(cluster, task_type, index))


def is_chief(cluster: Mapping[str, list[str]], task_type: str, index: int) -> bool:
    """Whether this task writes the run: the ``chief``, else worker 0 of a cluster without one.

    Example:
        >>> is_chief({"worker": ["a:1", "b:2"]}, "worker", 0)
        True
        >>> is_chief({"chief": ["a:1"], "worker": ["b:2"]}, "worker", 0)
        False
    """
    return task_type == "chief" or (task_type == "worker" and index == 0
                                    and "chief" not in cluster)


def tuning_distribution(strategy: str | Distribution = "none") -> Distribution:
    """:func:`distribution` for ``tune``, whose retraining of the best model it applies to.

    ``multiworker`` is refused: every worker would run its own search.
    """
    name = strategy.name if isinstance(strategy, Distribution) else strategy
    if name == "multiworker":
        raise UserInputError(
            "multiworker trains with `rnnt <app> train` only", where="--strategy",
            received="tune --strategy multiworker",
            fix="spread the search's trials with tune --workers (or the KERASTUNER_* "
            "variables), then train the best settings with train --strategy multiworker")
    return distribution(strategy)


def _fit_across_workers() -> None:
    """Make Keras 3's ``fit`` run under a multi-worker strategy (TensorFlow backend).

    Keras 3 breaks there in two places (keras-team/keras#20585), both only
    where a model's strategy spans several workers:

    - before the first step it averages the first input batch across every
      replica just to learn its shapes; that fails on an ``(inputs, targets)``
      batch, and bucketed batches differ in shape between workers anyway. The
      shapes of this worker's own first batch are used instead;
    - it averages each step's metric values across workers along an axis 0
      that scalar metrics do not have. They are averaged across the workers'
      replicas, element by element, instead.

    Every other model trains as Keras trains it. Installed once per process.
    """
    import keras
    import tensorflow as tf
    from keras.src.backend.tensorflow import trainer

    if getattr(trainer.reduce_per_replica, "across_workers", False):
        return
    original_build = trainer.TensorFlowTrainer._maybe_symbolic_build
    original_reduce = trainer.reduce_per_replica

    across_workers = trainer._collective_all_reduce_multi_worker  # Keras's own test

    def maybe_symbolic_build(model, iterator=None, data_batch=None):
        strategy = model._distribute_strategy
        if iterator is None or not across_workers(strategy):
            return original_build(model, iterator=iterator, data_batch=data_batch)
        for _, _, batches in iterator:
            data_batch = keras.tree.map_structure(
                lambda value: strategy.experimental_local_results(value)[0]
                if isinstance(value, tf.distribute.DistributedValues) else value, next(batches))
            break
        with strategy.scope():
            model._symbolic_build(data_batch=data_batch)

    def reduce_per_replica(values, strategy, reduction):
        if reduction in ("auto", "mean") and across_workers(strategy):
            return keras.tree.map_structure(
                lambda value: strategy.reduce("MEAN", value, axis=None), values)
        return original_reduce(values, strategy, reduction)

    reduce_per_replica.across_workers = True
    trainer.TensorFlowTrainer._maybe_symbolic_build = maybe_symbolic_build
    trainer.reduce_per_replica = reduce_per_replica


def _data_parallel() -> Any:
    """``keras.distribution.DataParallel`` over every local device, for batches of any size.

    Keras shards each batch evenly across the devices and fails on a batch
    they cannot share evenly, which bucketed datasets and every epoch's last
    batch produce. Such a batch is given whole to every device instead: the
    same result, computed redundantly, for those few batches only
    (:func:`_layouts_per_batch_shape` makes ``fit`` ask for it).
    """
    import keras

    class DataParallel(keras.distribution.DataParallel):
        def get_data_layout(self, data_shape):
            if data_shape and data_shape[0] is not None and data_shape[0] % self.num_model_replicas:
                return keras.distribution.TensorLayout([None] * len(data_shape),
                                                       self.device_mesh)
            return super().get_data_layout(data_shape)

    _layouts_per_batch_shape()
    return DataParallel(devices=keras.distribution.list_devices())


def _layouts_per_batch_shape() -> None:
    """Make Keras's JAX ``fit`` ask the distribution for each batch shape's layout.

    Keras 3.15 takes the layouts of a dataset's first batch and applies them to
    every later batch, so a last batch the devices cannot split fails however
    the distribution lays it out. Here each new batch shape gets its own layout
    (once: the layouts are kept per shape).
    """
    from keras.src import tree
    from keras.src.backend.jax import trainer as jax_trainer

    iterator = jax_trainer.JAXEpochIterator
    if getattr(iterator, "_layouts_per_shape", False):
        return

    def _get_distributed_iterator(self, distribution):
        def layout(d):
            return None if d is None else distribution.get_data_layout(d.shape).backend_layout

        layouts: dict[str, Any] = {}
        for data in self.data_adapter.get_jax_iterator():
            key = str(tree.map_structure(lambda d: None if d is None else tuple(d.shape), data))
            if key not in layouts:
                layouts[key] = tree.map_structure(layout, data)
            yield jax_trainer._distribute_data(data, layouts[key])

    iterator._get_distributed_iterator = _get_distributed_iterator
    iterator._layouts_per_shape = True


def _check_backend(strategy: str) -> None:
    import keras

    backend = keras.backend.backend()
    if strategy in TF_STRATEGIES and backend != "tensorflow":
        raise UserInputError(
            f"{strategy} is a tf.distribute strategy and needs the TensorFlow backend",
            where="--strategy", received=f"KERAS_BACKEND={backend}",
            fix="run with KERAS_BACKEND=tensorflow, or use --strategy data-parallel on JAX")
    if strategy == "data-parallel" and backend != "jax":
        raise UserInputError(
            "data-parallel (keras.distribution) needs the JAX backend",
            where="--strategy", received=f"KERAS_BACKEND={backend}",
            fix="run with KERAS_BACKEND=jax, or use --strategy mirrored on TensorFlow")


def read_tf_config(environ: Mapping[str, str] | None = None
                   ) -> tuple[dict[str, list[str]], str, int]:
    """``(cluster, task type, task index)`` from ``TF_CONFIG``, checked.

    Only ``chief`` and ``worker`` tasks take part in multi-worker mirrored
    training; every address is ``host:port``.

    Example:
        >>> read_tf_config({"TF_CONFIG": '{"cluster": {"worker": ["a:1", "b:2"]}, '
        ...                                '"task": {"type": "worker", "index": 1}}'})
        ({'worker': ['a:1', 'b:2']}, 'worker', 1)
    """
    environ = os.environ if environ is None else environ
    raw = environ.get(TF_CONFIG, "")

    def malformed(received: str) -> UserInputError:
        return UserInputError("malformed cluster description", where=TF_CONFIG,
                              expected=f"JSON like {_TF_CONFIG_SHAPE}", received=received,
                              fix=f"set TF_CONFIG on each worker ({_DOCS})")

    if not raw.strip():
        raise UserInputError(
            "not set; --strategy multiworker reads the cluster from this environment variable",
            where=TF_CONFIG, expected=f"JSON like {_TF_CONFIG_SHAPE}", received="nothing",
            fix=f"set TF_CONFIG on each worker, its own task index on each ({_DOCS})")
    try:
        parsed = json.loads(raw)
    except json.JSONDecodeError as error:
        raise malformed(f"not JSON ({error.msg} at character {error.pos})") from None
    if not isinstance(parsed, dict):
        raise malformed(f"a JSON {type(parsed).__name__}")
    cluster, task = parsed.get("cluster"), parsed.get("task")
    if not isinstance(cluster, dict) or not cluster:
        raise malformed(f"cluster={json.dumps(cluster)}")
    if not isinstance(task, dict):
        raise malformed(f"task={json.dumps(task)}")
    for role, addresses in cluster.items():
        if role not in ("chief", "worker"):
            raise malformed(f"a '{role}' job (multiworker runs 'chief' and 'worker' tasks only)")
        if (not isinstance(addresses, list) or not addresses
                or not all(_is_address(address) for address in addresses)):
            raise malformed(f"{role}={json.dumps(addresses)} (a list of host:port)")
    if len(cluster.get("chief", [])) > 1:
        raise malformed(f"{len(cluster['chief'])} chiefs (at most one)")
    task_type, index = task.get("type"), task.get("index", 0)
    if task_type not in cluster:
        raise malformed(f"task type {json.dumps(task_type)} (one of the cluster's jobs: "
                        f"{', '.join(cluster)})")
    if (not isinstance(index, int) or isinstance(index, bool)
            or not 0 <= index < len(cluster[task_type])):
        raise malformed(f"task index {json.dumps(index)} (0 to "
                        f"{len(cluster[task_type]) - 1} for '{task_type}')")
    return cluster, task_type, index


def _is_address(address: Any) -> bool:
    if not isinstance(address, str):
        return False
    host, sep, port = address.rpartition(":")
    return bool(sep and host.strip() and not any(c.isspace() for c in address)
                and port.isdigit() and 0 < int(port) < 65536)


@contextlib.contextmanager
def output_directory(run_dir: str | os.PathLike, distribution: Distribution) -> Iterator[Path]:
    """The run directory this process writes: ``run_dir`` itself on the chief.

    Any other worker of a multi-worker run gets a private temporary directory,
    removed when the block ends, however it ends; it never writes ``run_dir``,
    its ``.partial`` or its lock. Resuming, it starts from a copy of the
    chief's interrupted ``<run>.partial`` when it can read it. A worker that
    loses the others (one stopped or cannot be reached) stops with one line.
    """
    run_dir = Path(run_dir)
    if distribution.task is None:
        yield run_dir
        return
    import tensorflow as tf

    try:
        if distribution.chief:
            yield run_dir
            return
        with _scratch(run_dir, distribution.task) as mine:
            yield mine
    except tf.errors.UnavailableError as error:
        raise UserInputError(
            "lost contact with the other workers", where=f"{TF_CONFIG} task "
            f"{distribution.task[0]} {distribution.task[1]}", received=_cause(str(error)),
            fix="read the other workers' errors, then start every worker again with the same "
            "command") from None


def _cause(message: str) -> str:
    """The line of a TensorFlow error that says what happened (not where).

    Example:
        >>> _cause("Graph execution error:\\n\\nDetected at node x:\\n  File \\"a.py\\"\\n"
        ...        "Collective ops is aborted by: Socket closed\\n\\t [[{{node x}}]]")
        'Collective ops is aborted by: Socket closed'
    """
    skipped = ("Graph execution error", "Detected at node", "File ", "[[")
    for line in message.splitlines():
        if line.strip() and not line[0].isspace() and not line.startswith(skipped):
            return line.strip()[:160]
    return "unavailable"


@contextlib.contextmanager
def _scratch(run_dir: Path, task: tuple[str, int]) -> Iterator[Path]:
    from rnn_templates.runs import LOCK_FILE, has_trained_work, partial_path

    scratch = Path(tempfile.mkdtemp(prefix=f"rnnt-{task[0]}-{task[1]}-"))
    try:
        mine = scratch / run_dir.name
        chiefs = partial_path(run_dir)
        if chiefs.is_dir() and has_trained_work(chiefs):
            shutil.copytree(chiefs, partial_path(mine), ignore=shutil.ignore_patterns(LOCK_FILE))
        yield mine
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def resume_point(work: Path) -> int:
    """Where training in ``work`` starts: the epoch to resume at, or -1 (already trained)."""
    from rnn_templates.training import BACKUP_DIR

    if (work / "model.keras").is_file() and (work / "training.json").is_file():
        return -1
    metadata = work / BACKUP_DIR / "training_metadata.json"  # written by BackupAndRestore
    if metadata.is_file():
        return int(json.loads(metadata.read_text(encoding="utf-8"))["epoch"])
    return 0


def check_same_start(distribution: Distribution, work: Path) -> None:
    """Stop every worker alike when they would start training from different epochs.

    Each worker of a multi-worker run resumes from its own directory's
    backup; should they differ (the chief's ``<run>.partial`` was not readable
    by the others), their steps would no longer pair up. Every worker must
    call this at the same point; other strategies return at once.
    """
    if distribution.name != "multiworker":
        return
    import tensorflow as tf

    strategy = distribution.strategy
    mine = resume_point(work)
    values = strategy.run(lambda: tf.constant([mine], tf.int64))
    starts = sorted(set(strategy.gather(values, axis=0).numpy().tolist()))
    if len(starts) > 1:
        def said(start: int) -> str:
            return "a finished model" if start < 0 else f"epoch {start}"

        raise UserInputError(
            "the workers would resume an interrupted run from different points",
            where=str(work), received=", ".join(said(start) for start in starts),
            fix="put the run directory on storage every worker reads, or start a new run "
            "with another --run-dir")
