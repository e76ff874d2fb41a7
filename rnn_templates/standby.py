"""Local tuning workers started before their search is served.

A worker spends its first seconds importing TensorFlow, Keras and its app.
``rnnt <app> tune --workers N`` starts its workers (:class:`StandbyWorkers`)
before it imports TensorFlow itself, so those imports run side by side with
the chief's own and with its reading of the data. Each worker
(``python -m rnn_templates.standby``, :func:`main`) then waits on its standard
input for one line of JSON (:func:`hand_off`): the ``rnnt`` arguments to run,
the keras-tuner variables (the chief's port is known only once it serves)
and its log file. End of input before that line means the chief ended
first: the worker exits quietly. What a worker prints while it starts goes
to a file of its own, which the worker puts at the head of its log when it
takes the order; should it die before, the chief moves that file into the
log it would have had (:func:`keep_startup_output`). The chief's terminal
stays clear of its workers' output either way. A worker whose chief has gone
(killed, say) exits too (:func:`follow_chief`): alone it would wait for the
oracle forever, and beside the workers of a rerun it would train their trials
a second time.

This module imports neither TensorFlow nor Keras (the worker's :func:`main`
does, once running).
"""

from __future__ import annotations

import importlib
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

STARTUP_OUTPUT = "RNNT_STANDBY_OUTPUT"  # where a standby worker prints until its order
CHIEF_PID = "RNNT_CHIEF_PID"  # the process a standby worker lives and dies with


def parse_address(text: str) -> tuple[str, int]:
    """``"host:port"`` (port 0: any free port) as ``(host, port)``: where a chief serves
    its search (checked here, before any worker starts or TensorFlow is imported).

    Example:
        >>> parse_address("0.0.0.0:8000"), parse_address("127.0.0.1:0")
        (('0.0.0.0', 8000), ('127.0.0.1', 0))
    """
    from rnn_templates.errors import UserInputError

    host, _, port = text.rpartition(":")
    if not host or not port.isdigit() or int(port) > 65535:
        raise UserInputError("the oracle address is not host:port", where="--oracle-address",
                             expected="host:port, e.g. 0.0.0.0:8000 (port 0 picks a free one)",
                             received=text, fix="write the address as host:port")
    return host, int(port)


def cpu_shares(workers: int, cpus: list[int] | None = None) -> list[list[int]]:
    """The cores each of ``workers`` local workers is pinned to: equal contiguous shares.

    With more workers than cores, workers share cores round-robin.

    Example:
        >>> cpu_shares(2, [0, 1, 2, 3]), cpu_shares(3, [0, 1])
        ([[0, 1], [2, 3]], [[0], [1], [0]])
    """
    cpus = sorted(os.sched_getaffinity(0)) if cpus is None else list(cpus)
    if workers <= len(cpus):
        size = len(cpus) // workers
        return [cpus[i * size:(i + 1) * size] for i in range(workers)]
    return [[cpus[i % len(cpus)]] for i in range(workers)]


def start_standby(cpus: list[int], preload: tuple[str, ...] = ()) -> subprocess.Popen:
    """A local worker process on ``cpus`` that imports TensorFlow and the ``preload``
    modules, then waits for :func:`hand_off` (:mod:`rnn_templates.standby`).

    Until then its output goes to a temporary file, ``process.startup_output``."""
    handle, path = tempfile.mkstemp(prefix="rnnt-worker-", suffix=".log")
    try:
        process = subprocess.Popen(
            [sys.executable, "-m", "rnn_templates.standby", *preload],
            env=dict(os.environ, RNNT_CPUS=",".join(map(str, cpus)),
                     **{STARTUP_OUTPUT: path, CHIEF_PID: str(os.getpid())}),
            stdin=subprocess.PIPE, stdout=handle, stderr=handle)
    except BaseException:
        Path(path).unlink(missing_ok=True)
        raise
    finally:
        os.close(handle)
    process.startup_output = Path(path)
    return process


def keep_startup_output(process: subprocess.Popen, log: Path) -> None:
    """Move what ``process`` printed as a standby worker into ``log``, if it ended
    before taking an order (once it takes one, it does this itself)."""
    startup = getattr(process, "startup_output", None)
    if startup is not None:
        _move_output(startup, log)


def _move_output(startup: Path, log: Path) -> None:
    """Append ``startup`` (if it is still there and holds anything) to ``log``, then
    remove it."""
    if not startup.is_file():
        return
    if startup.stat().st_size:
        log.parent.mkdir(parents=True, exist_ok=True)
        with open(log, "ab") as stream:
            stream.write(startup.read_bytes())
    startup.unlink(missing_ok=True)


def hand_off(process: subprocess.Popen, argv: list[str], env: dict[str, str], log: Path
             ) -> None:
    """Tell a standby worker what to run (``rnnt`` arguments), with which keras-tuner
    variables, and where its output goes; one that has died is left to the caller's
    check of its exit."""
    order = json.dumps({"argv": argv, "env": env, "log": str(log)}) + "\n"
    try:
        process.stdin.write(order.encode())
        process.stdin.close()
    except (BrokenPipeError, OSError):
        pass


class StandbyWorkers:
    """``count`` local workers started ahead of the search, each on its share of the
    cores (:func:`cpu_shares`), for a :class:`rnn_templates.workers.Chief` to
    hand the search to.

    A context manager: those the chief never took are stopped on leaving it.
    """

    def __init__(self, count: int, preload: tuple[str, ...] = ()):
        self.preload = preload
        self.waiting = [(cpus, start_standby(cpus, preload))
                        for cpus in (cpu_shares(count) if count else [])]

    def take(self) -> list[tuple[list[int], subprocess.Popen]]:
        taken, self.waiting = self.waiting, []
        return taken

    def __enter__(self) -> StandbyWorkers:
        return self

    def __exit__(self, *exc: object) -> None:
        for _, process in self.take():  # never given work: nothing of the user's to lose
            process.terminate()
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
            process.startup_output.unlink(missing_ok=True)


def pin_to_share() -> None:
    """Keep this process on the cores its chief gave it (``RNNT_CPUS``), if any; before
    TensorFlow starts, which sizes its thread pools from this affinity."""
    if os.environ.get("RNNT_CPUS"):
        os.sched_setaffinity(0, {int(cpu) for cpu in os.environ["RNNT_CPUS"].split(",")})


def follow_chief(every: float = 1.0) -> threading.Thread | None:
    """Exit this process once its parent, the chief, has gone.

    On Linux the kernel sends this process SIGTERM when the chief dies
    (``PR_SET_PDEATHSIG``), which ends it wherever it is, even waiting inside
    gRPC for an oracle that will never answer. Elsewhere a daemon thread polls
    the parent's process id (an orphan is given another parent). The trial a
    worker leaves resumes from its last finished epoch when the search is run
    again.
    """
    chief = int(os.environ.get(CHIEF_PID) or os.getppid())
    if sys.platform.startswith("linux"):
        import ctypes
        import signal

        ctypes.CDLL(None, use_errno=True).prctl(1, int(signal.SIGTERM))  # PR_SET_PDEATHSIG
        if os.getppid() != chief:  # gone before the request: nothing would signal it
            os._exit(1)
        return None

    def watch() -> None:
        while os.getppid() == chief:
            time.sleep(every)
        print(f"the chief (pid {chief}) has gone: this worker stops", file=sys.stderr,
              flush=True)
        os._exit(1)

    thread = threading.Thread(target=watch, name="follow-chief", daemon=True)
    thread.start()
    return thread


def main(preload: list[str]) -> int:
    """A standby worker: import, wait for the chief's order, run it."""
    follow_chief()
    pin_to_share()
    import keras_tuner  # noqa: F401  (keras and TensorFlow with it: the slow part)

    from rnn_templates import cli

    for module in preload:
        importlib.import_module(module)
    line = sys.stdin.readline()
    if not line:
        return 0
    order = json.loads(line)
    os.environ.update(order["env"])
    sys.stdout.flush()
    sys.stderr.flush()
    os.environ.pop(CHIEF_PID, None)  # not for the processes this worker may start
    startup = os.environ.pop(STARTUP_OUTPUT, "")
    if startup:  # what this worker printed so far heads its log
        _move_output(Path(startup), Path(order["log"]))
    with open(order["log"], "ab") as log:
        os.dup2(log.fileno(), 1)
        os.dup2(log.fileno(), 2)
    return cli.main(order["argv"])


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
