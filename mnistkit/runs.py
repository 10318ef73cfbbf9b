"""Run folders on disk: create, update, list, load and clean up training runs.

A run folder holds ``config.json``, ``status.json``, ``history.json``,
``metrics.json`` and ``model.keras`` (``MODEL_FILE``); every file is written atomically
(``mnistkit.atomic``), so a reader never sees half a file. Reading never raises for a
damaged run: it comes back with status ``"broken"`` and the reason in
``RunInfo.error``. Standard library only.
"""

from __future__ import annotations

import csv
import io
import os
import re
import shutil
import threading
import unicodedata
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from mnistkit import run_files
from mnistkit.atomic import atomic_write_json
from mnistkit.liveness import (
    is_active,
    pid_alive,
    process_started,
    register_active,
    this_host,
    unregister_active,
)
from mnistkit.run_files import Unreadable, is_regular_file, read_object, text

RUNS_ENV = "MNISTKIT_RUNS_DIR"
STATUSES = ("queued", "running", "completed", "stopped", "failed", "interrupted")
LIVE_STATUSES = ("queued", "running")
INTERRUPTED_MESSAGE = "the training process ended before this run finished"
MODEL_FILE = "model.keras"
HISTORY_KEYS = ("loss", "accuracy", "val_loss", "val_accuracy", "epoch_seconds")
MAX_NAME = 60
OWNER_FIELDS = ("owner", "owner_name", "owner_sig")  # status.json; see mnistkit.ownership

_STATUS_LOCK = threading.Lock()  # serialises read-modify-write of status.json


def resolve_runs_dir(runs_dir: str | os.PathLike[str] | None = None) -> Path:
    """Return the runs folder: argument, else ``$MNISTKIT_RUNS_DIR``, else ./runs."""
    chosen = runs_dir or os.environ.get(RUNS_ENV) or "runs"
    return Path(chosen).expanduser()


# --- names ---------------------------------------------------------------------------


def sanitize_name(name: str) -> str:
    """Return a safe folder-name part: ``[A-Za-z0-9._-]``, no leading dot, <= 60."""
    text = unicodedata.normalize("NFKD", str(name)).encode("ascii", "ignore").decode()
    text = re.sub(r"[^A-Za-z0-9._-]+", "-", text)
    text = re.sub(r"-{2,}", "-", text).lstrip(".-")
    return text[:MAX_NAME].rstrip(".-") or "run"


def history_csv(history: dict[str, Any]) -> str:
    """Return per-epoch history as CSV text: ``epoch,loss,accuracy,val_loss,...``."""
    series = {k: v for k, v in history.items() if isinstance(v, list | tuple)}
    columns = [k for k in HISTORY_KEYS if k in series]
    columns += [k for k in series if k not in columns]
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["epoch", *columns])
    for i in range(max((len(v) for v in series.values()), default=0)):
        row = [series[k][i] if i < len(series[k]) else None for k in columns]
        writer.writerow([i + 1, *("" if v is None else v for v in row)])
    return out.getvalue()


def _now() -> str:
    return datetime.now().astimezone().isoformat(timespec="milliseconds")


def _stamp() -> str:
    return datetime.now().strftime("%Y%m%d-%H%M%S")


def _timestamp(iso: str) -> float:
    try:
        return datetime.fromisoformat(iso).timestamp()
    except (TypeError, ValueError, OverflowError, OSError):
        return 0.0


def _mtime_iso(path: Path) -> str:
    try:
        return datetime.fromtimestamp(path.stat().st_mtime).astimezone().isoformat()
    except OSError:
        return ""


def _is_run_dir(path: Path) -> bool:
    """A visible, real (non-symlink) folder."""
    try:
        return not path.name.startswith(".") and not path.is_symlink() and path.is_dir()
    except OSError:
        return False


# --- the store ------------------------------------------------------------------------


@dataclass
class RunInfo:
    """What is known about one run folder; status "broken" when it cannot be read."""

    run_id: str
    path: Path
    status: str
    name: str
    created: str
    config: dict[str, Any] | None = None
    metrics: dict[str, Any] | None = None
    history: dict[str, Any] | None = None
    error: str | None = None  # why it is broken, or which optional file is unreadable
    has_model: bool = False
    pid: int | None = None
    message: str | None = None
    updated: str | None = None
    pid_started: int | None = None  # the process's start time (pid reuse tells apart)
    host: str | None = None  # the machine the process ran on
    owner: dict[str, Any] | None = None  # OWNER_FIELDS as found: `ownership.run_owner` checks

    @property
    def arch(self) -> str | None:
        """The model architecture from the config ("dense" or "cnn"), if known."""
        return (self.config or {}).get("arch")

    @property
    def test_accuracy(self) -> float | None:
        """The test accuracy from the metrics (a number in [0, 1]), if known."""
        return (self.metrics or {}).get("test_accuracy")

    @property
    def broken(self) -> bool:
        """True when the run folder could not be read."""
        return self.status == "broken"

    @property
    def model_path(self) -> Path:
        """Where this run's model file is (or will be); see ``has_model``."""
        return self.path / MODEL_FILE


class RunBusyError(ValueError):
    """A run that is still queued or training cannot be deleted."""


class RunStore:
    """Run folders under one root; the root is created on the first write."""

    def __init__(self, root: str | os.PathLike[str] | None = None) -> None:
        self.root = resolve_runs_dir(root).resolve()

    # writing

    def create(
        self,
        name: str,
        config: Any,
        owner: Callable[[str], Mapping[str, str]] | None = None,
    ) -> Path:
        """Create ``YYYYmmdd-HHMMSS-<name>[-N]`` with config and status; mark active.

        ``owner(run_id)`` gives the owner fields status.json records (`mnistkit.ownership`)."""
        if hasattr(config, "to_dict"):
            config = config.to_dict()
        self.root.mkdir(parents=True, exist_ok=True)
        base = f"{_stamp()}-{sanitize_name(name)}"
        for n in range(1, 10_000):
            run_dir = self._inside(base if n == 1 else f"{base}-{n}")
            try:
                os.mkdir(run_dir)
            except FileExistsError:
                continue
            break
        else:
            raise FileExistsError(f"no free run folder name for {base!r}")
        register_active(run_dir)
        now = _now()
        status = {
            "status": "running",
            "pid": os.getpid(),
            "pid_started": process_started(os.getpid()),
            "host": this_host(),
            "created": now,
            "updated": now,
            "message": None,
            "name": name,
        }
        if owner is not None:
            status.update({k: v for k, v in owner(run_dir.name).items() if k in OWNER_FIELDS})
        try:
            atomic_write_json(run_dir / "config.json", dict(config))
            atomic_write_json(run_dir / "status.json", status)
        except BaseException:
            unregister_active(run_dir)
            shutil.rmtree(run_dir, ignore_errors=True)
            raise
        return run_dir

    def set_status(
        self, run_dir: str | os.PathLike[str], status: str, message: str | None = None
    ) -> None:
        """Update ``status.json`` (other fields kept); a final status unregisters it."""
        if status not in STATUSES:
            raise ValueError(f"unknown status {status!r}; expected one of {STATUSES}")
        path = self._inside(run_dir)
        with _STATUS_LOCK:
            self._write_status(path, status, message)
        if status not in LIVE_STATUSES:
            unregister_active(path)

    def rename(self, run_id: str | os.PathLike[str], name: str) -> None:
        """Change the name a run is shown with (status.json's ``name``); the folder keeps its
        name, so links and the owner's signature stay valid."""
        path = self._inside(run_id)
        if path.is_symlink() or not path.is_dir():
            raise FileNotFoundError(f"no run folder {path.name!r} in {self.root}")
        shown = " ".join(str(name).split())[:MAX_NAME] or path.name
        with _STATUS_LOCK:
            try:
                data = read_object(path / "status.json") or {}
            except (Unreadable, FileNotFoundError) as exc:
                raise ValueError(f"{path.name} cannot be renamed: {exc}") from None
            data.update(name=shown, updated=_now())
            atomic_write_json(path / "status.json", data)

    def write_history(self, run_dir: str | os.PathLike[str], history: dict[str, Any]) -> None:
        """Write per-epoch history lists to ``history.json``."""
        self.write_json(run_dir, "history.json", history)

    def write_metrics(self, run_dir: str | os.PathLike[str], metrics: dict[str, Any]) -> None:
        """Write final metrics to ``metrics.json``."""
        self.write_json(run_dir, "metrics.json", metrics)

    def write_json(self, run_dir: str | os.PathLike[str], filename: str, obj: Any) -> Path:
        """Atomically write ``obj`` to ``run_dir/filename`` (a plain, visible name)."""
        if (
            not filename
            or filename != Path(filename).name
            or "\\" in filename
            or filename.startswith(".")
        ):
            raise ValueError(f"not a plain file name: {filename!r}")
        target = self._inside(run_dir) / filename
        atomic_write_json(target, obj)
        return target

    def model_path(self, run_dir: str | os.PathLike[str]) -> Path:
        """Where a run's model is saved."""
        return self._inside(run_dir) / MODEL_FILE

    def delete(self, run_id: str | os.PathLike[str]) -> None:
        """Delete a run folder; refuses anything that resolves outside the root, and a run
        that is still training (`RunBusyError`, see `is_live`)."""
        path = self._inside(run_id)
        if path.is_symlink() or not path.is_dir():
            raise FileNotFoundError(f"no run folder {path.name!r} in {self.root}")
        if self.is_live(path.name):
            raise RunBusyError(f"{path.name} is still training: stop it first.")
        unregister_active(path)
        shutil.rmtree(path)

    def mark_interrupted(self) -> list[str]:
        """Set live runs whose process is gone (or is us, unregistered) interrupted."""
        flipped = []
        for info in self.list():
            if info.status in LIVE_STATUSES and self._is_stale(info):
                with _STATUS_LOCK:  # re-check: the owner may have just finished it
                    current = self.load(info.path)
                    if current.status in LIVE_STATUSES and self._is_stale(current):
                        self._write_status(info.path, "interrupted", INTERRUPTED_MESSAGE)
                        flipped.append(info.run_id)
        return flipped

    # reading

    def load(self, run_id_or_path: str | os.PathLike[str]) -> RunInfo:
        """Read a run folder; never raises: a damaged run comes back as "broken"."""
        path = self.root / run_id_or_path
        try:
            return self._load(path)
        except Exception as exc:  # last resort: a listing must never crash the app
            return self._broken(path, f"unexpected error: {exc!r}")

    def list(self) -> list[RunInfo]:
        """All runs, newest first; skips hidden entries and files; never raises."""
        try:
            entries = [p for p in self.root.iterdir() if _is_run_dir(p)]
        except OSError:
            return []
        runs = [self.load(p) for p in entries]
        runs.sort(key=lambda r: (_timestamp(r.created), r.run_id), reverse=True)
        return runs

    def latest(
        self,
        arch: str | None = None,
        status: str | Iterable[str] | None = ("completed", "stopped", "interrupted"),
        with_model: bool = True,
    ) -> RunInfo | None:
        """The newest run matching ``arch``, ``status`` and having a model, or None."""
        wanted = (status,) if isinstance(status, str) else status
        wanted = None if wanted is None else tuple(wanted)
        for info in self.list():
            if arch is not None and info.arch != arch:
                continue
            if wanted is not None and info.status not in wanted:
                continue
            if with_model and not info.has_model:
                continue
            return info
        return None

    # helpers

    def _inside(self, run_dir: str | os.PathLike[str]) -> Path:
        """Return the folder for a run id or path; it must be a direct child of root."""
        path = Path(os.path.abspath(self.root / run_dir))  # lexical: links not followed
        if path.parent != self.root or path.resolve().parent != self.root:
            where = os.fspath(run_dir)
            raise ValueError(f"{where!r} is not a run folder inside {self.root}")
        return path

    def _is_stale(self, info: RunInfo) -> bool:
        """A live status whose process is gone: not on this machine's process table (or a
        new process under the same pid), or this process, which no longer trains it (a
        final status write that failed leaves such a run). Another machine's run: not ours
        to judge."""
        if info.host is not None and info.host != this_host():
            return False
        if info.pid is None:
            return True
        started = process_started(info.pid)
        if info.pid_started is not None and started is not None and started != info.pid_started:
            return True  # the pid was reused after a crash or a reboot
        if info.pid == os.getpid():
            return not is_active(info.path)
        return not pid_alive(info.pid)

    def _write_status(self, path: Path, status: str, message: str | None) -> None:
        try:
            data = read_object(path / "status.json") or {}
        except (Unreadable, FileNotFoundError):
            data = {}
        data.update(status=status, message=message, updated=_now())
        atomic_write_json(path / "status.json", data)

    def _broken(self, path: Path, reason: str, **known: Any) -> RunInfo:
        known.setdefault("created", _mtime_iso(path))
        known.setdefault("name", path.name)
        return RunInfo(run_id=path.name, path=path, status="broken", error=reason, **known)

    def _load(self, path: Path) -> RunInfo:
        if not path.is_dir():
            return self._broken(path, "run folder no longer exists")
        try:
            status = read_object(path / "status.json")
            raw_config = read_object(path / "config.json")
        except Unreadable as exc:
            if not path.is_dir():
                return self._broken(path, "run folder no longer exists")
            return self._broken(path, str(exc))
        assert status is not None and raw_config is not None
        config, notes = run_files.clean_config(raw_config)
        if status.get("status") not in STATUSES:
            shown = text(str(status.get("status")))
            return self._broken(path, f"status.json has unknown status {shown!r}", config=config)
        optional: dict[str, Any] = {}
        cleaners = {"history": run_files.clean_history, "metrics": run_files.clean_metrics}
        for key, clean in cleaners.items():
            try:
                raw = run_files.read_json(path / f"{key}.json", required=False)
            except Unreadable as exc:
                notes.append(str(exc))
                continue
            if raw is not None:
                optional[key], more = clean(raw)
                notes += more
        return RunInfo(
            run_id=path.name,
            path=path,
            status=status["status"],
            name=text(status.get("name")) or text(config.get("name")) or path.name,
            created=text(status.get("created")) or _mtime_iso(path),
            config=config,
            metrics=optional.get("metrics"),
            history=optional.get("history"),
            error="; ".join(notes) or None,
            has_model=is_regular_file(path / MODEL_FILE),
            pid=run_files.count(status.get("pid")),
            message=text(status.get("message")),
            updated=text(status.get("updated")),
            pid_started=run_files.count(status.get("pid_started")),
            host=text(status.get("host")),
            owner={k: status[k] for k in OWNER_FIELDS if k in status} or None,
        )

    def is_live(self, run_id: str | os.PathLike[str]) -> bool:
        """True while a readable run is queued or running and its process still trains it."""
        info = self.load(run_id)
        return info.status in LIVE_STATUSES and not info.broken and not self._is_stale(info)

    def predictions(self, run_id: str | os.PathLike[str]) -> list[int] | None:
        """The run's predicted digit for each test image (``predictions.json``); None when the
        file is missing, unreadable, a link or not a list of digits 0–9. Never raises."""
        try:
            folder = self._inside(run_id)
        except ValueError:
            return None
        return run_files.read_predictions(folder / "predictions.json")

    def model_bytes(self, run_id: str | os.PathLike[str]) -> bytes:
        """The run's model file, for a download; never through a link (`Unreadable`)."""
        from mnistkit.predict import MAX_UNPACKED_BYTES

        return run_files.read_bytes(self._inside(run_id) / MODEL_FILE, MAX_UNPACKED_BYTES)
