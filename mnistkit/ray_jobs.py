"""Training jobs on a Ray cluster, behind the interface of `mnistkit.jobs.TrainingJob`.

A `Trainer` actor reserves `MNISTKIT_RAY_JOB_CPUS` cores on some node, sizes TensorFlow's
thread pools to match, and runs `training.train` in a thread into a worker-local run folder.
The app keeps one thread per job (`RayTrainingJob`) that polls the actor every POLL_S: the
snapshot goes into the job's local `Progress`, and run files that changed (history, best
model, metrics) are written into the app's own run folder as they appear, so a worker that
dies leaves the epochs it finished and its best model. No shared filesystem is needed.

The app's run folder carries the app's pid. If the app dies, Ray ends the actors it owns,
and the next app start marks those runs interrupted, as it does for the thread engine.
"""

from __future__ import annotations

import hashlib
import io
import os
import shutil
import tempfile
import threading
import time
import uuid
from dataclasses import replace
from pathlib import Path

import numpy as np
import ray
from ray.exceptions import GetTimeoutError, RayActorError, RayError

from mnistkit import ray_cluster
from mnistkit.atomic import atomic_write_bytes
from mnistkit.config import TrainConfig
from mnistkit.data import DATA_ENV, NPZ_NAME, DataError, load_mnist
from mnistkit.jobs import TrainingJob
from mnistkit.liveness import unregister_active
from mnistkit.progress import Progress, Snapshot
from mnistkit.runs import RunStore

POLL_S = 0.5  # the app asks each actor for news this often (the page redraws every 0.7 s)
CALL_TIMEOUT_S = 10.0  # one poll may take this long before it counts as silence
LOST_S = 30.0  # a cluster silent this long is given up: the run is marked interrupted
STALE_S = 30.0  # a waiting job not heard of this long leaves the queue board
BOARD_NAME = "queue-board"


class RayJobError(RuntimeError):
    """A job on Ray ended failed or interrupted; the message is the run's."""


@ray.remote(max_restarts=0)
class Trainer:
    """Trains one run in its own worker process with `threads` cores; the app polls it."""

    def __init__(self, threads: int) -> None:
        size_thread_pools(threads)
        self.root = Path(tempfile.mkdtemp(prefix="mnistkit-ray-run-"))
        self.progress = Progress()
        self.threads = threads

    def info(self) -> dict:
        """Where this actor runs and how TensorFlow is sized (answers once it is scheduled)."""
        import tensorflow as tf

        return {
            "pid": os.getpid(),
            "node": ray.get_runtime_context().get_node_id(),
            "intra_op": tf.config.threading.get_intra_op_parallelism_threads(),
            "inter_op": tf.config.threading.get_inter_op_parallelism_threads(),
        }

    def start(self, config_json: str, name: str | None, data_key: str, data: list) -> bool:
        """Begin training; False (nothing started) when this node needs the data sent first."""
        data_dir = worker_data_dir(data_key, data)
        if data_dir is None:
            return False
        config = TrainConfig.from_json(config_json)
        self.progress.update(status="running", message="loading data")
        thread = threading.Thread(
            target=self._train, args=(config, name, data_dir), name="train", daemon=True
        )
        thread.start()
        return True

    def _train(self, config: TrainConfig, name: str | None, data_dir: str) -> None:
        from mnistkit.training import train

        try:
            train(config, RunStore(self.root), name=name, data_dir=data_dir, progress=self.progress)
        except BaseException as exc:  # train() already marked the run failed; the app reads it
            if not self.progress.snapshot().finished:
                self.progress.finish("failed", f"{type(exc).__name__}: {exc}")

    def poll(self, seen: dict[str, list[int]]) -> tuple[Snapshot, dict[str, tuple]]:
        """The snapshot, then every run file whose (mtime, size) differs from `seen`."""
        snap = self.progress.snapshot()  # first: once finished, the files below are final
        changed: dict[str, tuple] = {}
        if snap.run_dir:
            for path in sorted(Path(snap.run_dir).iterdir()):
                if path.name.startswith(".") or path.name == "status.json" or not path.is_file():
                    continue
                stat = path.stat()
                stamp = [stat.st_mtime_ns, stat.st_size]
                if seen.get(path.name) != stamp:
                    changed[path.name] = (stamp, path.read_bytes())
        return snap, changed

    def stop(self) -> None:
        self.progress.request_stop()

    def close(self) -> None:
        shutil.rmtree(self.root, ignore_errors=True)


@ray.remote(num_cpus=0)
class QueueBoard:
    """The cluster-wide order of jobs waiting for CPUs, shared by every app and CLI."""

    def __init__(self) -> None:
        self.waiting: dict[str, float] = {}  # ticket -> last heard of; insertion order = arrival

    def wait(self, ticket: str) -> int:
        """Note that `ticket` still waits; its 1-based place in line."""
        now = time.monotonic()
        self.waiting = {t: s for t, s in self.waiting.items() if now - s < STALE_S}
        self.waiting[ticket] = now  # a known ticket keeps its place
        return list(self.waiting).index(ticket) + 1

    def leave(self, ticket: str) -> None:
        self.waiting.pop(ticket, None)


def size_thread_pools(threads: int) -> None:
    """Give TensorFlow exactly `threads` threads per pool, before it runs anything here."""
    for var in ("TF_NUM_INTRAOP_THREADS", "TF_NUM_INTEROP_THREADS", "OMP_NUM_THREADS"):
        os.environ[var] = str(threads)
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    import tensorflow as tf

    tf.config.threading.set_intra_op_parallelism_threads(threads)
    tf.config.threading.set_inter_op_parallelism_threads(threads)


def worker_data_dir(key: str, data: list) -> str | None:
    """This node's MNIST folder: its own `MNISTKIT_DATA_DIR`, else the copy an earlier job left,
    else one written now from `data` (`[ObjectRef]`); None when it must be sent."""
    own = os.environ.get(DATA_ENV)
    if own:
        try:
            load_mnist(own)
            return own
        except DataError:
            pass
    folder = Path(tempfile.gettempdir()) / "mnistkit-ray-data" / key
    if (folder / NPZ_NAME).is_file():
        return str(folder)
    if not data:
        return None
    (x_train, y_train), (x_test, y_test) = ray.get(data[0])
    folder.mkdir(parents=True, exist_ok=True)
    buffer = io.BytesIO()
    np.savez(buffer, x_train=x_train, y_train=y_train, x_test=x_test, y_test=y_test)
    atomic_write_bytes(folder / NPZ_NAME, buffer.getvalue())
    return str(folder)


_data_lock = threading.Lock()
_data: dict[str, tuple[str, object]] = {}  # app data dir -> (digest, ObjectRef or None)
_board = None


def app_data(data_dir: str | Path | None) -> str:
    """Load the app's MNIST (errors surface as the job's) and return its digest."""
    with _data_lock:
        source = str(data_dir or "")
        if source not in _data:
            arrays = load_mnist(data_dir)
            digest = hashlib.sha256()
            for array in (a for split in arrays for a in split):
                digest.update(np.ascontiguousarray(array).data)
            _data[source] = (digest.hexdigest()[:16], None)
        return _data[source][0]


def data_ref(data_dir: str | Path | None) -> object:
    """The app's MNIST in Ray's object store, put there once per app process."""
    key = app_data(data_dir)
    with _data_lock:
        source = str(data_dir or "")
        if _data[source][1] is None:
            _data[source] = (key, ray.put(load_mnist(data_dir)))
        return _data[source][1]


def queue_board():
    """The cluster's one QueueBoard actor (created by the first app or CLI that needs it)."""
    global _board
    if _board is None:
        _board = QueueBoard.options(
            name=BOARD_NAME,
            namespace=ray_cluster.NAMESPACE,
            get_if_exists=True,
            lifetime="detached",
        ).remote()
    return _board


class _NoQueue:
    """Ray schedules these jobs; the thread engine's queue is not used."""

    def wake(self) -> None:
        pass


class RayTrainingJob(TrainingJob):
    """A TrainingJob trained by a Ray actor: the same start/stop/snapshot/alive/join/id."""

    def __init__(
        self,
        config: TrainConfig,
        store: RunStore,
        *,
        name: str | None = None,
        data_dir: str | Path | None = None,
        progress: Progress | None = None,
        **owner,  # owner, owner_name, owner_fields: see TrainingJob
    ) -> None:
        super().__init__(config, store, name=name, data_dir=data_dir, queue=_NoQueue(), **owner)
        if progress is not None:
            self.progress = progress
            progress.update(epochs=config.epochs)
        self.actor = None
        self.worker: dict | None = None  # the actor's pid, node and TF pool sizes, once it runs
        self.run_dir: Path | None = None
        self.ticket = uuid.uuid4().hex  # the job's place on the queue board (not its secret id)

    def stop(self) -> None:
        """Cancel if waiting; else ask the actor to stop within one batch."""
        super().stop()
        if self.actor is not None:
            try:
                self.actor.stop.remote()
            except Exception:  # the job's thread forwards the stop again on its next poll
                pass

    def _work(self) -> None:
        try:
            self._run()
        except BaseException as exc:  # recorded for the page; the thread must not die silently
            self.error = exc.with_traceback(None)
            text = str(exc) if isinstance(exc, ray_cluster.ClusterError) else None
            message = text or f"{type(exc).__name__}: {exc}"
            if self.run_dir is not None:
                self.store.set_status(self.run_dir, "failed", message)
            if not self.progress.snapshot().finished:
                self.progress.finish("failed", message)
        finally:
            self.finished_at = time.monotonic()
            self._release()

    def _run(self) -> None:
        self.progress.update(message="connecting to the Ray cluster")
        ray_cluster.connect()
        cpus = ray_cluster.job_cpus()
        ray_cluster.check_fits(cpus)
        self.progress.update(message="waiting for free CPUs on the Ray cluster")
        self.actor = Trainer.options(num_cpus=cpus).remote(cpus)
        if not self._wait_for_cpus(self.actor.info.remote()):
            self.progress.finish("stopped", "cancelled before it started", queue_position=None)
            return
        self.run_dir = self.store.create(
            self.name or self.config.arch, self.config.to_dict(), owner=self.owner_fields
        )
        self.progress.update(
            status="running", message="loading data", run_dir=str(self.run_dir), queue_position=None
        )
        key = app_data(self.data_dir)
        args = (self.config.to_json(), self.name, key)
        if not ray.get(self.actor.start.remote(*args, [])):
            self.progress.update(message="sending the data to the Ray worker")
            ray.get(self.actor.start.remote(*args, [data_ref(self.data_dir)]))
        self._follow()

    def _wait_for_cpus(self, ready) -> bool:
        """Wait until Ray has started the actor; publish the queue position meanwhile."""
        try:
            while True:
                done, _ = ray.wait([ready], timeout=POLL_S)
                if done:
                    self.worker = ray.get(ready)
                    return True
                if self.progress.stop_requested:
                    return False
                self.progress.update(queue_position=self._position())
        finally:
            try:
                queue_board().leave.remote(self.ticket)
            except RayError:
                pass

    def _position(self) -> int | None:
        global _board
        try:
            return ray.get(queue_board().wait.remote(self.ticket), timeout=CALL_TIMEOUT_S)
        except RayError:
            _board = None  # the board died with a cluster restart: make a new one next time
            return None

    def _follow(self) -> None:
        """Poll the actor until the run ends: snapshots into the Progress, files into the store."""
        seen: dict[str, list[int]] = {}
        silent_since: float | None = None
        while True:
            if self.progress.stop_requested:
                self.actor.stop.remote()
            try:
                snap, files = ray.get(self.actor.poll.remote(seen), timeout=CALL_TIMEOUT_S)
            except RayActorError as exc:
                reason = str(exc).strip().splitlines()[0][:160] if str(exc).strip() else "died"
                self._interrupted(f"the Ray worker training this run ended ({reason})")
                return
            except (GetTimeoutError, RayError, ConnectionError) as exc:
                silent_since = silent_since or time.monotonic()
                if time.monotonic() - silent_since > LOST_S:
                    self._interrupted(f"lost contact with the Ray cluster ({type(exc).__name__})")
                    return
                time.sleep(POLL_S)
                continue
            silent_since = None
            for name, (stamp, blob) in files.items():
                if name == Path(name).name and not name.startswith(".") and name != "status.json":
                    atomic_write_bytes(self.run_dir / name, blob)
                    seen[name] = stamp
            self.progress.load(replace(snap, run_dir=str(self.run_dir)))
            if snap.finished:
                self.store.set_status(self.run_dir, snap.status, snap.message)
                return
            time.sleep(POLL_S)

    def _interrupted(self, why: str) -> None:
        epochs = self.progress.snapshot().epoch
        kept = " and its best model" if self.store.model_path(self.run_dir).is_file() else ""
        message = f"{why}; kept the {epochs} epoch(s) it finished{kept}"
        self.store.set_status(self.run_dir, "interrupted", message)
        self.progress.finish("interrupted", message)

    def _release(self) -> None:
        """Free the actor's CPUs and its temporary folder."""
        if self.run_dir is not None:
            unregister_active(self.run_dir)
        actor, self.actor = self.actor, None
        if actor is None:
            return
        try:
            ray.get(actor.close.remote(), timeout=5)
        except Exception:  # dead already, or still waiting for CPUs
            pass
        try:
            ray.kill(actor, no_restart=True)
        except Exception:
            pass


def run_on_ray(
    config: TrainConfig,
    store: RunStore,
    *,
    name: str | None = None,
    data_dir: str | Path | None = None,
    progress: Progress | None = None,
):
    """Train on Ray until the run ends; the `RunResult` that `training.train` would return."""
    from mnistkit.training import RunResult

    job = RayTrainingJob(config, store, name=name, data_dir=data_dir, progress=progress).start()
    try:
        while job.alive:
            job.join(0.5)
    except KeyboardInterrupt:
        job.stop()
        job.join(10)
        raise
    if job.error is not None:
        raise job.error
    snap = job.snapshot()
    if snap.status in ("failed", "interrupted"):
        raise RayJobError(f"run {snap.status}: {snap.message}")
    return RunResult(Path(snap.run_dir), snap.status, snap.metrics, snap.message)
