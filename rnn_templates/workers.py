"""Serve a search to workers over keras-tuner's own chief/worker protocol.

The chief holds the oracle and answers keras-tuner's gRPC service (the same
``OracleServicer`` keras-tuner's chief runs); workers are ordinary
``rnnt <app> tune`` processes with ``KERASTUNER_TUNER_ID``,
``KERASTUNER_ORACLE_IP`` and ``KERASTUNER_ORACLE_PORT`` set. What this module
adds to keras-tuner's chief:

- it starts ``N`` local workers itself, each pinned to its share of the CPU
  cores, with its output in ``<search>/workers/<name>.log``; they start with
  the chief (:class:`StandbyWorkers`), so their imports overlap its reading
  of the data, and join once the search is served;
- a worker that dies does not stall the search: its trial goes back to the
  queue (it resumes from its last finished epoch on whichever worker takes
  it), the worker is replaced, and the leaderboard notes the trial ran twice;
- it stops as soon as the last trial ends (keras-tuner's chief polls every 20
  seconds) and prints how to add workers on other hosts.
"""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from concurrent import futures
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import keras_tuner

from rnn_templates.errors import UserInputError
from rnn_templates.standby import (
    StandbyWorkers,
    cpu_shares,
    hand_off,
    keep_startup_output,
    start_standby,
)


def quiet_condition_messages() -> None:
    """Silence keras-tuner 1.4's stray print of a condition's first value (``True``,
    ``segrnn``...) each time a trial with conditional hyperparameters is sent between
    chief and worker (``Parent.to_proto``); what it returns is unchanged."""
    import contextlib
    import io

    from keras_tuner.src.engine import conditions

    original = conditions.Parent.to_proto
    if getattr(original, "quiet", False):
        return

    def to_proto(self):
        with contextlib.redirect_stdout(io.StringIO()):
            return original(self)

    to_proto.quiet = True
    conditions.Parent.to_proto = to_proto


@dataclass
class Worker:
    name: str
    process: subprocess.Popen
    cpus: list[int]
    log: Path


def _describe_exit(code: int) -> str:
    if code < 0:
        try:
            return f"signal {signal.Signals(-code).name}"
        except ValueError:
            return f"signal {-code}"
    return f"exit status {code}"


@keras_tuner.synchronized
def _release(oracle: Any, tuner_id: str, reason: str) -> str | None:
    """Send a dead worker's trial back to the queue (or fail it after its retries)."""
    trial = oracle.ongoing_trials.get(tuner_id)
    oracle.tuner_ids.discard(tuner_id)
    if trial is None:
        return None
    trial.status = "INVALID"  # keras-tuner retries it, up to the oracle's retries
    trial.message = reason
    oracle.end_trial(trial)
    return trial.trial_id


@keras_tuner.synchronized
def silent_workers(oracle: Any, trial_dir: Any, timeout: float, skip: set[str],
                   now: float | None = None) -> list[str]:
    """Workers (not in ``skip``) whose trial has written nothing for ``timeout`` seconds.

    A running trial rewrites its ``run.json`` when it starts and after every
    epoch, so a file older than ``timeout`` means its worker is gone (or an
    epoch takes longer than ``timeout``: choose it above the longest epoch).
    """
    now = time.time() if now is None else now
    silent = []
    for tuner_id, trial in oracle.ongoing_trials.items():
        if tuner_id in skip:
            continue
        record = Path(trial_dir(trial.trial_id)) / "run.json"
        try:
            quiet = now - record.stat().st_mtime
        except OSError:
            continue  # not started writing yet
        if quiet > timeout:
            silent.append(tuner_id)
    return silent


@keras_tuner.synchronized
def _needs_a_worker(oracle: Any) -> bool:
    """Trials wait in the queue, or nothing runs and the search is not over."""
    return bool(oracle._retry_queue) or not oracle.ongoing_trials


@keras_tuner.synchronized
def _joined(oracle: Any) -> int:
    """Workers taking part in the search now."""
    return len(oracle.tuner_ids)


@keras_tuner.synchronized
def _finished(oracle: Any, stop_triggered: bool) -> bool:
    """Every trial has ended and every worker was let go, with none waiting for a retry
    (a remote worker's trial sent back to the queue after the last local worker left)."""
    return (stop_triggered and not oracle.ongoing_trials and not oracle.tuner_ids
            and not oracle._retry_queue)


class Chief:
    """Serves ``tuner``'s oracle at ``host:port`` and runs ``workers`` local workers.

    Args:
        tuner: The chief's tuner (it owns the oracle; it runs no trial).
        host: Address to listen on: ``127.0.0.1`` for local workers only,
            ``0.0.0.0`` to accept workers on other hosts too.
        port: Port, 0 for any free one.
        argv: A worker's ``rnnt`` arguments (``<app> tune --config ...``).
        workers: Local workers to start.
        standby: Local workers already started (:class:`StandbyWorkers`); else the
            chief starts its ``workers`` when it serves.
        log_dir: Where each worker's output goes.
        worker_timeout: Seconds without a finished epoch after which a
            worker this chief did not start (on another host) counts as
            dead and its trial goes back to the queue; 0: never.
    """

    def __init__(self, tuner: keras_tuner.Tuner, *, host: str, port: int, argv: list[str],
                 workers: int, log_dir: Path, worker_timeout: float = 0.0,
                 standby: StandbyWorkers | None = None):
        self.tuner, self.host, self.port = tuner, host, port
        self.argv, self.workers, self.log_dir = argv, workers, Path(log_dir)
        self.worker_timeout = worker_timeout
        self.standby = standby or StandbyWorkers(0)
        self.local: dict[str, Worker] = {}
        self.started = 0
        # Workers started in place of dead ones since a trial last ended: a setup that
        # crashes every worker must not respawn forever, but each trial gets its retries.
        self.replaced = 0
        self._ended = 0
        self.events: list[str] = []
        self._alone_since: float | None = None
        self._notices = 0

    def _start(self, cpus: list[int], process: subprocess.Popen | None = None) -> None:
        """Hand the search to a standby worker on ``cpus`` (a new one if none is given)."""
        name = f"tuner{self.started}"
        self.started += 1
        self.log_dir.mkdir(parents=True, exist_ok=True)
        log = self.log_dir / f"{name}.log"
        local_host = "127.0.0.1" if self.host in ("0.0.0.0", "::", "") else self.host
        env = {"KERASTUNER_TUNER_ID": name, "KERASTUNER_ORACLE_IP": local_host,
               "KERASTUNER_ORACLE_PORT": str(self.port)}
        process = process or start_standby(cpus, self.standby.preload)
        hand_off(process, self.argv, env, log)
        self.local[name] = Worker(name, process, cpus, log)
        print(f"worker {name}: pid {process.pid}, cores {','.join(map(str, cpus))}, "
              f"log {log}", file=sys.stderr)

    def serve(self, poll: float = 0.5) -> list[str]:
        """Run until every trial has ended; returns what happened to workers, in order."""
        import grpc
        from keras_tuner.src import protos
        from keras_tuner.src.distribute.oracle_chief import OracleServicer

        oracle = self.tuner.oracle
        self.tuner.save()
        server = grpc.server(futures.ThreadPoolExecutor(max_workers=self.workers + 4))
        servicer = OracleServicer(oracle)
        protos.get_service_grpc().add_OracleServicer_to_server(servicer, server)
        self.port = server.add_insecure_port(f"{self.host}:{self.port}")
        if not self.port:
            raise UserInputError("cannot listen for workers", where=f"{self.host}",
                                 fix="choose another --oracle-address (the port may be in use)")
        server.start()
        self._explain()
        ready = self.standby.take() or [(cpus, None) for cpus in (
            cpu_shares(self.workers) if self.workers else [])]
        shares = [cpus for cpus, _ in ready]
        try:
            for cpus, process in ready:
                self._start(cpus, process)
            while True:
                time.sleep(poll)
                for name, worker in list(self.local.items()):
                    code = worker.process.poll()
                    if code is None:
                        continue
                    del self.local[name]
                    if code != 0:
                        self._lost(worker, code)
                if not self.workers:
                    self._note_waiting(oracle, time.monotonic())
                if self.worker_timeout:
                    for name in silent_workers(oracle, self.tuner.get_trial_dir,
                                               self.worker_timeout, set(self.local)):
                        self._silent(name)
                if _finished(oracle, servicer.stop_triggered) and not self.local:
                    break
                ended = sum(t.status in ("COMPLETED", "FAILED")
                            for t in list(oracle.trials.values()))
                if ended > self._ended:  # progress: the replacement budget starts again
                    self._ended, self.replaced = ended, 0
                if self.workers and not self.local and _needs_a_worker(oracle):
                    # keras-tuner lets workers go once every trial exists; a trial sent
                    # back to the queue afterwards needs a new one.
                    if self.replaced >= self._budget():
                        raise UserInputError(
                            "every worker stopped before the search ended",
                            where=str(self.log_dir), fix="read the workers' logs there")
                    self.replaced += 1
                    self._start(shares[0])
        finally:
            for worker in self.local.values():
                worker.process.terminate()
            for worker in self.local.values():
                try:
                    worker.process.wait(timeout=20)
                except subprocess.TimeoutExpired:
                    worker.process.kill()
                    worker.process.wait()
                keep_startup_output(worker.process, worker.log)  # stopped while starting
            server.stop(grace=1)
        return self.events

    def _note_waiting(self, oracle: Any, now: float, every: float = 60.0) -> None:
        """A chief without local workers says so, once a minute, while none has joined."""
        if _joined(oracle):
            self._alone_since, self._notices = None, 0
        elif self._alone_since is None:
            self._alone_since = now
        elif now - self._alone_since >= every * (self._notices + 1):
            self._notices += 1
            print(f"no worker has joined the search for {now - self._alone_since:.0f} s; "
                  f"start one with the command above", file=sys.stderr)

    def _lost(self, worker: Worker, code: int) -> None:
        keep_startup_output(worker.process, worker.log)  # if it died while starting
        reason = f"worker {worker.name} died ({_describe_exit(code)}); see {worker.log}"
        trial_id = _release(self.tuner.oracle, worker.name, reason)
        event = reason + (f"; trial {trial_id} was sent back to the queue" if trial_id else "")
        self.events.append(event)
        print(event, file=sys.stderr)
        if self.replaced < self._budget():  # a crashing setup must not respawn forever
            self.replaced += 1
            self._start(worker.cpus)

    def _budget(self) -> int:
        """Replacements allowed until a trial ends: enough for every worker's trial to be
        run again up to its retries (``RETRIES + 1`` runs in all), then FAILED, and the search
        go on."""
        from rnn_templates.tuning import RETRIES

        return self.workers * (RETRIES + 1)

    def _silent(self, name: str) -> None:
        reason = (f"worker {name} finished no epoch for {self.worker_timeout:g} s "
                  "(--worker-timeout)")
        trial_id = _release(self.tuner.oracle, name, reason)
        event = f"{reason}; trial {trial_id} was sent back to the queue"
        self.events.append(event)
        print(event, file=sys.stderr)

    def _explain(self) -> None:
        import shlex
        import socket

        command = shlex.join(self.argv)
        reach = socket.gethostname() if self.host in ("0.0.0.0", "::", "") else self.host
        print(f"search served at {self.host}:{self.port}; to add a worker on another host "
              f"(with the tuning directory on shared storage), run there, with a name of "
              f"its own for each worker:\n"
              f"  KERASTUNER_TUNER_ID=remote1 KERASTUNER_ORACLE_IP={shlex.quote(reach)} "
              f"KERASTUNER_ORACLE_PORT={self.port} rnnt {command}", file=sys.stderr)
        if self.host.startswith("127."):
            print("  (this chief listens on loopback only: start it with "
                  "--oracle-address 0.0.0.0:PORT to accept other hosts)", file=sys.stderr)
