"""Start `streamlit run` on a free loopback port, wait until it serves, stop it after.

One helper for the browser test and every benchmark that needs a live app, so they all start
the server the same way (headless, no usage stats, loopback only) and fail the same way: a
server that exits early or never answers raises with the tail of its log.
"""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
HEALTH = "/_stcore/health"


@dataclass(frozen=True)
class App:
    """A running app: its base URL, the server process and the file its output goes to."""

    url: str
    process: subprocess.Popen
    log_path: Path
    temporary_log: bool = False  # made by `start`: removed by `stop`

    @property
    def pid(self) -> int:
        return self.process.pid

    def log_tail(self, chars: int = 4000) -> str:
        """The end of the server's output (for a failure message)."""
        try:
            return self.log_path.read_text(errors="replace")[-chars:]
        except OSError:
            return ""


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def server_command(port: int, script: str | Path = "streamlit_app.py") -> list[str]:
    """`python -m streamlit run SCRIPT` on 127.0.0.1:`port`, headless, without usage stats.

    `MNISTKIT_BENCH_SERVER=wrapper.py` runs that file instead of `-m streamlit run SCRIPT`
    (with the same options after it), e.g. to profile each script run.
    """
    command = [sys.executable, "-m", "streamlit", "run", str(script)]
    if os.environ.get("MNISTKIT_BENCH_SERVER"):
        command = [sys.executable, os.environ["MNISTKIT_BENCH_SERVER"], str(script)]
    command += ["--server.port", str(port), "--server.address", "127.0.0.1"]
    return command + ["--server.headless", "true", "--browser.gatherUsageStats", "false"]


def wait_until_serving(url: str, process: subprocess.Popen, timeout: float = 60) -> None:
    """Poll `url`'s health endpoint every 20 ms until it answers 200; raise if the server
    exits first or `timeout` seconds pass."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"streamlit exited early with status {process.returncode}")
        try:
            with urllib.request.urlopen(url + HEALTH, timeout=2) as reply:
                if reply.status == 200:
                    return
        except OSError:
            time.sleep(0.02)
    raise TimeoutError(f"no answer from {url} within {timeout:.0f} s")


def start(
    script: str | Path = "streamlit_app.py",
    env: Mapping[str, str] | None = None,
    log_path: Path | None = None,
    wait: bool = True,
    timeout: float = 60,
) -> App:
    """Start the app (`env` added to this process's environment); by default return once it
    serves. The server's stdout and stderr go to `log_path` (a temporary file if None)."""
    port = free_port()
    full_env = {"PYTHONPATH": str(ROOT), "TF_CPP_MIN_LOG_LEVEL": "2", **os.environ, **(env or {})}
    temporary_log = log_path is None
    if log_path is None:
        handle, name = tempfile.mkstemp(prefix="mnistkit-streamlit-", suffix=".log")
        os.close(handle)
        log_path = Path(name)
    with log_path.open("wb") as log:  # the child keeps its own copy of the descriptor
        process = subprocess.Popen(
            server_command(port, script), cwd=ROOT, env=full_env, stdout=log, stderr=log
        )
    app = App(f"http://127.0.0.1:{port}", process, log_path, temporary_log)
    if wait:
        try:
            wait_until_serving(app.url, process, timeout)
        except Exception as exc:
            tail = app.log_tail()
            stop(app)
            raise RuntimeError(f"{exc}; the server said:\n{tail}") from exc
    return app


def stop(app: App, timeout: float = 10) -> None:
    """Terminate the server (kill it if it does not exit within `timeout` seconds); remove
    its log if `start` made it."""
    if app.process.poll() is None:
        app.process.terminate()
        try:
            app.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            app.process.kill()
            app.process.wait()
    if app.temporary_log:
        app.log_path.unlink(missing_ok=True)


@contextlib.contextmanager
def running_app(
    script: str | Path = "streamlit_app.py",
    env: Mapping[str, str] | None = None,
    log_path: Path | None = None,
    wait: bool = True,
    timeout: float = 60,
) -> Iterator[App]:
    """`start(...)` as a context manager: the server is stopped when the block ends; if the
    block raises, the end of the server's log goes to stderr first."""
    app = start(script, env, log_path, wait, timeout)
    try:
        yield app
    except BaseException:
        sys.stderr.write(app.log_tail(3000))
        raise
    finally:
        stop(app)
