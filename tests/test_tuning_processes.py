"""Searches as real processes: SIGKILL mid-trial then resume, and a worker killed mid-search."""

import csv
import json
import os
import re
import shlex
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
TINY = ["--set", "epochs=2", "--set", "units=8", "--set", "embedding_dim=8",
        "--set", "max_tokens=2000", "--set", "patience=10", "--set", "baseline=false"]


@pytest.fixture(scope="module")
def small_tsv(tmp_path_factory):
    lines = (REPO / "data/sentiment/reviews.tsv").read_text(encoding="utf-8").splitlines()
    path = tmp_path_factory.mktemp("tuning") / "small.tsv"
    path.write_text("\n".join(lines[:301]) + "\n", encoding="utf-8")
    return path


def _command(data, tuning_dir, run_dir, *extra):
    return [sys.executable, "-m", "rnn_templates.cli", "sentiment", "tune", "--data", str(data),
            "--tuning-dir", str(tuning_dir), "--run-dir", str(run_dir), *TINY, *extra]


def _records(execution: Path) -> int:
    path = execution / "backup" / "run_log" / "records.json"
    try:
        return len(json.loads(path.read_text(encoding="utf-8")))
    except (OSError, ValueError):
        return 0


def _running_on(tuning_dir: Path, worker: str) -> str | None:
    """The trial (its number) that ``worker`` runs and has finished an epoch of, if any."""
    for run in tuning_dir.glob("*/trial_*/run.json"):
        execution = run.parent / "execution_0"
        if (json.loads(run.read_text(encoding="utf-8"))["workers"][-1:] == [worker]
                and _records(execution) >= 1 and not (execution / "result.json").exists()):
            return run.parent.name.removeprefix("trial_")
    return None


def _wait_for(condition, process, timeout=300):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = condition()
        if found:
            return found
        assert process.poll() is None, "the search ended before the moment to kill it"
        time.sleep(0.05)
    raise AssertionError("timed out waiting")


def _chief_and_remote(command: list[str], name: str):
    """Start the chief, then, as worker ``name``, exactly the command it prints for other
    hosts; returns both processes and the chief's stderr lines read on the way."""
    env = dict(os.environ, CI="1")
    chief = subprocess.Popen(command, env=env, cwd=REPO, stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True)
    head, instructions = [], None
    try:
        while instructions is None:
            line = chief.stderr.readline()
            head.append(line)
            assert line, "the chief ended before printing how to add a worker"
            instructions = re.search(r"KERASTUNER_ORACLE_PORT=(\d+) rnnt (.*)$",
                                     line.rstrip("\n"))
        remote = subprocess.Popen(
            [sys.executable, "-m", "rnn_templates.cli", *shlex.split(instructions[2])],
            env=dict(env, KERASTUNER_TUNER_ID=name, KERASTUNER_ORACLE_IP="127.0.0.1",
                     KERASTUNER_ORACLE_PORT=instructions[1]),
            cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    except BaseException:
        chief.kill()
        raise
    return chief, remote, head


def _started_workers(chief: subprocess.Popen, head: list[str]):
    """``(name, pid)`` of each local worker the chief starts, as its stderr announces them
    (every line read is kept in ``head``)."""
    while True:
        line = chief.stderr.readline()
        head.append(line)
        assert line, "the chief ended before starting the workers expected"
        match = re.match(r"worker (tuner\d+): pid (\d+)", line)
        if match:
            yield match[1], int(match[2])


def _board(run_dir: Path) -> list[dict[str, str]]:
    with (run_dir / "leaderboard.csv").open(encoding="utf-8", newline="") as stream:
        return list(csv.DictReader(stream))


@pytest.mark.slow
def test_sigkill_mid_trial_then_the_same_command_finishes_the_search(small_tsv, tmp_path):
    tuning_dir, run_dir = tmp_path / "tuning", tmp_path / "run"
    command = _command(small_tsv, tuning_dir, run_dir, "--max-trials", "2",
                       "--set", "tuning_epochs=4")
    env = dict(os.environ, CI="1")
    first = subprocess.Popen(command, env=env, cwd=REPO, stdout=subprocess.DEVNULL,
                             stderr=subprocess.PIPE, text=True)
    try:
        execution = _wait_for(lambda: next(iter(tuning_dir.glob("*/trial_1/execution_0")),
                                           None), first)
        _wait_for(lambda: _records(execution) >= 2, first)
        finished_before_kill = _records(execution)
        first.send_signal(signal.SIGKILL)
        first.wait(timeout=30)
    finally:
        first.kill()
    # Read the epochs finished at the kill again: one more may have ended meanwhile.
    finished_before_kill = max(finished_before_kill, _records(execution))

    second = subprocess.run(command, env=env, cwd=REPO, capture_output=True, text=True,
                            timeout=600)
    assert second.returncode == 0, second.stderr[-3000:]
    assert "(resumed)" in second.stderr
    rows = {row["trial"]: row for row in _board(run_dir)}
    assert sorted(rows) == ["0", "1"] and {r["status"] for r in rows.values()} == {"COMPLETED"}
    runs = {t: json.loads((tuning_dir.glob(f"*/trial_{t}/run.json").__next__()).read_text())
            for t in rows}
    assert runs["0"]["workers"] == ["local"]  # trials re-run: 0
    resumed_at = runs["1"]["resumed_at"]
    print(f"trial 1 had finished {finished_before_kill} epochs when killed and resumed at "
          f"epoch {resumed_at}; trial 0 ran {len(runs['0']['workers'])} time(s)")
    assert len(resumed_at) == 1 and finished_before_kill - resumed_at[0] <= 1  # epochs lost <= 1
    assert rows["1"]["note"].startswith(f"resumed after epoch {resumed_at[0]}")
    assert int(rows["1"]["epochs"]) <= 4
    metrics = json.loads((run_dir / "metrics.json").read_text(encoding="utf-8"))
    assert metrics["tuning"]["trials"] == 2 and metrics["tuning"]["refit"] == "train+validation"
    assert "validation" not in metrics  # the refitted model has seen it: test split only
    assert metrics["training"]["kept_epoch"] == metrics["tuning"]["refit_epochs"]
    assert (run_dir / "search.png").is_file() and (run_dir / "saved_model").is_dir()


@pytest.mark.slow
def test_a_killed_worker_loses_no_trial_and_the_search_completes(small_tsv, tmp_path):
    tuning_dir, run_dir = tmp_path / "tuning", tmp_path / "run"
    command = _command(small_tsv, tuning_dir, run_dir, "--max-trials", "4",
                       "--set", "tuning_epochs=3", "--workers", "2")
    chief = subprocess.Popen(command, env=dict(os.environ, CI="1"), cwd=REPO,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    pids: dict[str, int] = {}
    head = []
    try:
        for name, pid in _started_workers(chief, head):
            pids[name] = pid
            if len(pids) == 2:
                break
        victim = _wait_for(lambda: _running_on(tuning_dir, "tuner1"), chief)
        os.kill(pids["tuner1"], signal.SIGKILL)
        out, err = chief.communicate(timeout=600)
        err = "".join(head) + err
    finally:
        chief.kill()
    assert chief.returncode == 0, err[-3000:]
    assert "worker tuner1 died (signal SIGKILL)" in err
    assert f"trial {victim} was sent back to the queue" in err
    assert "search served at 127.0.0.1:" in err and "KERASTUNER_ORACLE_PORT=" in err
    rows = {row["trial"]: row for row in _board(run_dir)}
    assert len(rows) == 4 and {r["status"] for r in rows.values()} == {"COMPLETED"}  # lost: 0
    assert "run 2 times" in rows[victim]["note"] and "tuner1" in rows[victim]["workers"]
    assert {w for r in rows.values() for w in r["workers"].split(",")} >= {"tuner0", "tuner1"}
    assert (tuning_dir.glob("*/workers/tuner1.log").__next__()).is_file()
    metrics = json.loads((run_dir / "metrics.json").read_text(encoding="utf-8"))
    assert metrics["tuning"]["trials"] == 4 and metrics["tuning"]["failed"] == 0


@pytest.mark.slow
def test_a_lone_worker_killed_twice_on_one_trial_is_replaced_and_the_search_completes(
        small_tsv, tmp_path):
    tuning_dir, run_dir = tmp_path / "tuning", tmp_path / "run"
    command = _command(small_tsv, tuning_dir, run_dir, "--max-trials", "2",
                       "--set", "tuning_epochs=3", "--workers", "1")
    chief = subprocess.Popen(command, env=dict(os.environ, CI="1"), cwd=REPO,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    head, killed = [], []
    try:
        # The first worker, then its replacement: each killed mid-trial.
        for name, pid in _started_workers(chief, head):
            killed.append(_wait_for(lambda name=name: _running_on(tuning_dir, name), chief))
            os.kill(pid, signal.SIGKILL)
            if len(killed) == 2:
                break
        out, err = chief.communicate(timeout=600)
        err = "".join(head) + err
    finally:
        chief.kill()
    assert chief.returncode == 0, err[-3000:]
    assert err.count("died (signal SIGKILL)") == 2
    rows = {row["trial"]: row for row in _board(run_dir)}
    assert len(rows) == 2 and {r["status"] for r in rows.values()} == {"COMPLETED"}
    runs = 3 if killed[0] == killed[1] else 2  # each kill sends the trial back once more
    assert all(f"run {runs} times" in rows[trial]["note"] for trial in killed)


@pytest.mark.slow
def test_a_frozen_remote_worker_times_out_and_its_trial_is_requeued(small_tsv, tmp_path):
    tuning_dir, run_dir = tmp_path / "tuning", tmp_path / "run"
    # Enough trials and epochs that the local worker cannot end the search before the
    # remote one has started (its start-up alone takes seconds), nor the remote worker
    # finish its trial between its first epoch and the SIGSTOP.
    command = _command(small_tsv, tuning_dir, run_dir, "--max-trials", "6",
                       "--set", "tuning_epochs=6", "--workers", "1", "--worker-timeout", "20")
    chief, remote, head = _chief_and_remote(command, "remote0")
    try:
        victim = _wait_for(lambda: _running_on(tuning_dir, "remote0"), chief)
        remote.send_signal(signal.SIGSTOP)  # a host that hangs: no exit the chief could see
        out, err = chief.communicate(timeout=600)
        err = "".join(head) + err
    finally:
        chief.kill()
        remote.kill()
        remote.wait(timeout=30)
    assert chief.returncode == 0, err[-3000:]
    assert (f"worker remote0 finished no epoch for 20 s (--worker-timeout); trial {victim} "
            "was sent back to the queue") in err
    rows = {row["trial"]: row for row in _board(run_dir)}
    assert len(rows) == 6, rows
    assert {r["status"] for r in rows.values()} == {"COMPLETED"}, [  # lost: 0
        (r["trial"], r["status"], r["workers"], r["note"]) for r in rows.values()]
    # Finished by a local worker: the one still running, or, when it had already been let
    # go, the replacement the chief starts for the trial waiting in the queue.
    assert re.fullmatch(r"remote0,tuner\d", rows[victim]["workers"]), rows[victim]["workers"]


@pytest.mark.slow
def test_a_chief_without_local_workers_serves_workers_on_other_hosts(small_tsv, tmp_path):
    tuning_dir, run_dir = tmp_path / "tuning", tmp_path / "run"
    command = _command(small_tsv, tuning_dir, run_dir, "--max-trials", "2",
                       "--set", "tuning_epochs=1", "--workers", "0",
                       "--oracle-address", "127.0.0.1:0")
    chief, remote, head = _chief_and_remote(command, "hostb-0")
    try:
        out, err = chief.communicate(timeout=600)
        err = "".join(head) + err
        assert remote.wait(timeout=60) == 0
    finally:
        chief.kill()
        remote.kill()
    assert chief.returncode == 0, err[-3000:]
    assert "worker tuner" not in err  # no local worker was started
    rows = _board(run_dir)
    assert [(r["status"], r["workers"]) for r in rows] == [("COMPLETED", "hostb-0")] * 2
