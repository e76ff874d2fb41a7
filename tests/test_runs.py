"""Run directories: locked, resumable, never deleting a user's files or trained work."""

import os
import re
import stat
import subprocess
import sys
import textwrap

import numpy as np
import pytest

from rnn_templates.errors import UserInputError
from rnn_templates.io import MARKER
from rnn_templates.runs import RunInterrupted, default_run_dir, run_directory


def _mode(path):
    return stat.S_IMODE(path.stat().st_mode)


def test_success_renames_the_partial_directory_with_normal_permissions(tmp_path):
    final = tmp_path / "runs" / "demo"
    with run_directory(final, config={"units": 8}) as work:
        assert work == tmp_path / "runs" / "demo.partial"
        assert work.is_dir() and not final.exists()
        (work / "result.txt").write_text("done", encoding="utf-8")
    assert (final / "result.txt").read_text(encoding="utf-8") == "done"
    assert (final / MARKER).is_file() and not (final / ".lock").exists()
    assert not work.exists()
    umask = os.umask(0)
    os.umask(umask)
    assert _mode(final) == 0o777 & ~umask
    assert _mode(final / "config.yaml") == 0o666 & ~umask


def test_a_failure_before_any_epoch_removes_the_partial_directory(tmp_path):
    final = tmp_path / "demo"
    with pytest.raises(RuntimeError, match="^boom$"), run_directory(final) as work:
        (work / "half.txt").write_text("half", encoding="utf-8")
        raise RuntimeError("boom")
    assert not work.exists() and not final.exists()
    with pytest.raises(UserInputError), run_directory(final):
        raise UserInputError("bad")
    assert list(tmp_path.iterdir()) == []


def test_a_failure_after_training_keeps_the_trained_work(tmp_path, capsys):
    final = tmp_path / "demo"
    with pytest.raises(OSError, match="disk full"), run_directory(final) as work:
        (work / "history.csv").write_text("epoch,loss\n0,1.0\n", encoding="utf-8")
        (work / "model.keras").write_bytes(b"trained")
        raise OSError("disk full")
    assert (work / "model.keras").read_bytes() == b"trained"
    assert not final.exists()
    assert f"the trained work is kept in {work}; run the same command again" in \
        capsys.readouterr().err


def test_ctrl_c_keeps_the_partial_directory_and_says_how_to_resume(tmp_path):
    final = tmp_path / "demo"
    with pytest.raises(RunInterrupted) as caught, run_directory(final) as work:
        (work / "history.csv").write_text("epoch\n0\n", encoding="utf-8")
        raise KeyboardInterrupt
    assert str(caught.value) == (f"interrupted; run the same command again (with --run-dir "
                                 f"{final}) to resume from {work}")
    assert (work / "history.csv").exists() and not final.exists()


def test_an_existing_run_is_refused_unless_overwrite_and_replaced_only_at_the_end(tmp_path):
    final = tmp_path / "demo"
    with run_directory(final) as work:
        (work / "old.txt").write_text("old", encoding="utf-8")
    with pytest.raises(UserInputError) as caught, run_directory(final):
        pass
    assert str(caught.value) == (
        f"{final}: run directory already exists; "
        "choose another --run-dir, or add --overwrite to replace it"
    )
    assert not (tmp_path / "demo.partial").exists()
    with run_directory(final, overwrite=True) as work:
        assert (final / "old.txt").exists()  # the old run stays until the new one succeeds
        (work / "new.txt").write_text("new", encoding="utf-8")
    assert sorted(p.name for p in final.iterdir()) == [MARKER, "new.txt"]


def test_overwrite_never_replaces_a_folder_this_project_did_not_write(tmp_path):
    # `--run-dir runs/sentiment --overwrite` once deleted every sibling run.
    parent = tmp_path / "sentiment"
    for name in ("run-a", "tuning"):
        (parent / name).mkdir(parents=True)
        (parent / name / "keep.txt").write_text("mine", encoding="utf-8")
    with pytest.raises(UserInputError) as caught, run_directory(parent, overwrite=True):
        pass
    assert str(caught.value).startswith(
        f"{parent}: destination folder holds files this tool did not write; nothing was "
        "replaced; expected a new or empty folder, or one written by rnnt; received 2 entries")
    assert (parent / "run-a" / "keep.txt").exists() and (parent / "tuning" / "keep.txt").exists()
    assert not (tmp_path / "sentiment.partial").exists()


def test_overwrite_keeps_a_finished_run_the_user_added_files_to(tmp_path):
    final = tmp_path / "demo"
    with run_directory(final) as work:
        (work / "model.keras").write_text("v1", encoding="utf-8")
    (final / "notes.txt").write_text("mine", encoding="utf-8")
    with pytest.raises(UserInputError, match=r"files added after rnnt wrote it.*notes\.txt"), \
            run_directory(final, overwrite=True):
        pass
    assert (final / "notes.txt").read_text(encoding="utf-8") == "mine"
    assert not (tmp_path / "demo.partial").exists()


def test_a_file_in_the_way_of_the_run_directory_is_one_line(tmp_path):
    data = tmp_path / "data.csv"
    data.write_text("x", encoding="utf-8")
    with pytest.raises(UserInputError) as caught, run_directory(data / "run"):
        pass
    assert str(caught.value) == (
        f"{data}: a file stands where a folder is needed; expected a folder for "
        f"{data / 'run.partial'}; choose another --run-dir, or move that file")


def test_a_leftover_partial_directory_is_resumed(tmp_path, capsys):
    final = tmp_path / "demo"
    partial = tmp_path / "demo.partial"
    (partial / "backup").mkdir(parents=True)
    (partial / MARKER).touch()
    (partial / "backup" / "state").write_text("epoch 3", encoding="utf-8")
    with run_directory(final) as work:
        assert work == partial
        assert (work / "backup" / "state").read_text(encoding="utf-8") == "epoch 3"
    assert capsys.readouterr().err == f"resuming the interrupted run in {partial}\n"
    assert (final / "backup" / "state").exists() and not partial.exists()


def test_resuming_with_other_settings_is_refused_naming_the_keys(tmp_path):
    final = tmp_path / "demo"
    with pytest.raises(KeyboardInterrupt), run_directory(final, config={"units": 8,
                                                                        "cell": "gru"}) as work:
        (work / "history.csv").write_text("epoch\n0\n", encoding="utf-8")
        raise KeyboardInterrupt
    with pytest.raises(UserInputError) as caught, run_directory(
            final, config={"units": 16, "cell": "gru"}):
        pass
    message = str(caught.value)
    assert message.startswith(f"{work}: the interrupted run in this directory was started with "
                              "other settings; expected its settings to resume (units=8); "
                              "received units=16; rerun with the original settings")
    assert (work / "history.csv").exists()  # nothing deleted
    with run_directory(final, config={"units": 8, "cell": "gru"}):
        pass  # the original settings resume
    assert final.is_dir()


def test_a_second_process_is_refused_while_the_first_holds_the_run(tmp_path):
    final = tmp_path / "demo"
    holder = subprocess.Popen(
        [sys.executable, "-c", textwrap.dedent(f"""
            import sys, time
            from rnn_templates.runs import run_directory
            with run_directory({str(final)!r}):
                print("holding", flush=True)
                sys.stdin.readline()
        """)],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "holding"
        with pytest.raises(UserInputError) as caught, run_directory(final):
            pass
        assert re.fullmatch(
            rf"{re.escape(str(final))}\.partial: run directory is in use; received locked by "
            rf"process {holder.pid} on \S+; wait for that run to finish, or choose another "
            r"--run-dir", str(caught.value))
        assert not final.exists()
    finally:
        holder.communicate("\n", timeout=60)
    assert holder.returncode == 0 and final.is_dir()
    with pytest.raises(UserInputError, match="already exists"), run_directory(final):
        pass


def test_default_run_directories_differ_between_processes(tmp_path):
    run = default_run_dir(tmp_path, "sentiment")
    assert run.parent == tmp_path / "sentiment"
    assert re.fullmatch(rf"\d{{8}}-\d{{6}}-{os.getpid()}", run.name)
    other = subprocess.run(
        [sys.executable, "-c", f"from rnn_templates.runs import default_run_dir; "
         f"print(default_run_dir({str(tmp_path)!r}, 'sentiment').name)"],
        capture_output=True, text=True, check=True).stdout.strip()
    assert other != run.name


def test_the_data_fingerprint_takes_several_targets_of_other_shapes():
    from rnn_templates.app import data_fingerprint

    x = np.arange(24.0).reshape(2, 3, 4)
    targets = [np.zeros((2, 3)), np.ones((2, 3, 1))]  # pitch, step and duration heads, say
    first = data_fingerprint({"train": (x, targets), "validation": (x, targets)})
    assert first == data_fingerprint({"validation": (x, targets), "train": (x, targets)})
    changed = [np.zeros((2, 3)), np.full((2, 3, 1), 2.0)]
    assert first != data_fingerprint({"train": (x, changed), "validation": (x, targets)})
    # Plain arrays keep the fingerprint they had (a tuning folder's name depends on it).
    import hashlib

    digest = hashlib.sha256()
    for array in (x, targets[0]):
        digest.update(str((array.shape, array.dtype.str)).encode())
        digest.update(array.tobytes())
    assert data_fingerprint(x, targets[0]) == digest.hexdigest()
