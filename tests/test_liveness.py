"""Tests for mnistkit.liveness: this process's active runs, and whether a process exists."""

import os
from pathlib import Path

from mnistkit.liveness import is_active, pid_alive, register_active, unregister_active
from tests.helpers import dead_pid


def test_pid_alive() -> None:
    assert pid_alive(os.getpid())
    assert pid_alive(os.getppid())
    assert not pid_alive(dead_pid())
    assert not pid_alive(0)
    assert not pid_alive(-1)


def test_register_and_unregister_by_resolved_path(tmp_path: Path) -> None:
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    assert not is_active(run_dir)
    register_active(tmp_path / "." / "run")
    try:
        assert is_active(run_dir) and is_active(str(run_dir))
    finally:
        unregister_active(run_dir)
    assert not is_active(run_dir)
    unregister_active(run_dir)  # forgetting twice is fine
