"""Which training runs are alive: runs this process trains now, and whether a process exists.

`RunStore.mark_interrupted` uses both to tell a live run from one whose process is gone.
Standard library only.
"""

from __future__ import annotations

import os
import socket
import threading
from pathlib import Path

_ACTIVE: set[str] = set()  # run folders this process is training right now
_ACTIVE_LOCK = threading.Lock()


def register_active(run_dir: str | os.PathLike[str]) -> None:
    """Mark ``run_dir`` as trained by this process; ``mark_interrupted`` skips it."""
    with _ACTIVE_LOCK:
        _ACTIVE.add(_key(run_dir))


def unregister_active(run_dir: str | os.PathLike[str]) -> None:
    """Forget ``run_dir`` as an active run of this process."""
    with _ACTIVE_LOCK:
        _ACTIVE.discard(_key(run_dir))


def is_active(run_dir: str | os.PathLike[str]) -> bool:
    """Return True if this process registered ``run_dir`` as active."""
    with _ACTIVE_LOCK:
        return _key(run_dir) in _ACTIVE


def _key(run_dir: str | os.PathLike[str]) -> str:
    return str(Path(run_dir).resolve())


def pid_alive(pid: int) -> bool:
    """Return True if process ``pid`` exists (a permission error counts as alive)."""
    if not isinstance(pid, int) or isinstance(pid, bool) or pid <= 0:
        return False
    if os.name == "nt":  # os.kill(pid, 0) would terminate the process on Windows
        return _pid_alive_windows(pid)
    try:
        os.kill(pid, 0)
    except PermissionError:
        return True
    except OSError:
        return False
    return True


def _pid_alive_windows(pid: int) -> bool:
    import ctypes

    kernel32 = ctypes.windll.kernel32  # type: ignore[attr-defined]
    query_limited_information = 0x1000
    handle = kernel32.OpenProcess(query_limited_information, False, pid)
    if not handle:
        return kernel32.GetLastError() == 5  # access denied: it exists
    try:
        code = ctypes.c_ulong()
        ok = kernel32.GetExitCodeProcess(handle, ctypes.byref(code))
        return bool(ok) and code.value == 259  # STILL_ACTIVE
    finally:
        kernel32.CloseHandle(handle)


def process_started(pid: int) -> int | None:
    """When process `pid` started (clock ticks since boot, Linux `/proc`), or None where that
    cannot be read. A pid reused by a new process gets a new start time."""
    try:
        fields = Path(f"/proc/{int(pid)}/stat").read_text().rsplit(")", 1)[1].split()
        return int(fields[19])  # field 22 of stat(5); the first two are before ")"
    except (OSError, ValueError, IndexError):
        return None


def this_host() -> str:
    """This machine's name, recorded with a pid (a pid means nothing on another machine)."""
    return socket.gethostname()
