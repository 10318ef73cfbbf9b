"""Training jobs in background threads, behind one process-wide bounded queue.

Training is CPU-bound: running more jobs than the cores can feed only slows everyone. The
queue lets `MNISTKIT_MAX_JOBS` jobs train at once (default: one per two cores) and keeps the
rest waiting in order; a waiting job knows its position and can be cancelled. A job owns its
thread and its `Progress`; the worker never touches any UI.
"""

from __future__ import annotations

import os
import secrets
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from mnistkit.config import TrainConfig
from mnistkit.progress import Progress, Snapshot
from mnistkit.runs import RunStore

if TYPE_CHECKING:
    import keras

MAX_JOBS_ENV = "MNISTKIT_MAX_JOBS"
RAY_ADDRESS_ENV = "MNISTKIT_RAY_ADDRESS"  # set: jobs train on that Ray cluster (mnistkit.ray_jobs)
KEEP_FINISHED_S = 3600.0  # a finished job stays findable (for a reloaded tab) this long


def default_max_jobs() -> int:
    """`MNISTKIT_MAX_JOBS` if set, else one job per two cores (at least one)."""
    value = os.environ.get(MAX_JOBS_ENV, "")
    if value.strip().isdigit() and int(value) > 0:
        return int(value)
    return max(1, (os.cpu_count() or 2) // 2)


class JobQueue:
    """FIFO admission of jobs: at most `slots` run at once."""

    def __init__(self, slots: int | None = None) -> None:
        self.slots = slots or default_max_jobs()
        self._cond = threading.Condition()
        self._waiting: list[TrainingJob] = []
        self._running: set[TrainingJob] = set()

    def acquire(self, job: TrainingJob) -> bool:
        """Wait for a slot; False if the job was cancelled while waiting."""
        with self._cond:
            self._waiting.append(job)
            try:
                while True:
                    self._publish_positions()
                    if job.progress.stop_requested:
                        return False
                    if self._waiting[0] is job and len(self._running) < self.slots:
                        self._running.add(job)
                        return True
                    self._cond.wait(timeout=0.5)
            finally:
                self._waiting.remove(job)
                self._publish_positions()
                self._cond.notify_all()

    def release(self, job: TrainingJob) -> None:
        with self._cond:
            self._running.discard(job)
            self._cond.notify_all()

    def wake(self) -> None:
        """Let waiting jobs re-check (e.g. after a cancel)."""
        with self._cond:
            self._cond.notify_all()

    def _publish_positions(self) -> None:
        for i, waiting in enumerate(self._waiting, start=1):
            waiting.progress.update(queue_position=i)

    @property
    def running(self) -> int:
        with self._cond:
            return len(self._running)

    @property
    def waiting(self) -> int:
        with self._cond:
            return len(self._waiting)


_queue: JobQueue | None = None
_queue_lock = threading.Lock()
_jobs: dict[str, TrainingJob] = {}


def shared_queue() -> JobQueue:
    """The process-wide queue every browser session's jobs go through."""
    global _queue
    with _queue_lock:
        if _queue is None:
            _queue = JobQueue()
        return _queue


def find_job(job_id: str) -> TrainingJob | None:
    """A job by its secret id (so a reloaded browser tab can find its own job again)."""
    with _queue_lock:
        return _jobs.get(job_id)


def all_jobs() -> list[TrainingJob]:
    """Every job this process still knows, oldest first (the teacher's queue view)."""
    with _queue_lock:
        return sorted(_jobs.values(), key=lambda j: j.created)


def jobs_of(owner: str) -> list[TrainingJob]:
    """One owner's jobs (every tab of theirs), newest first."""
    return [j for j in reversed(all_jobs()) if j.owner is not None and j.owner == owner]


def active_jobs(owner: str) -> int:
    """How many of one owner's jobs are queued or training."""
    return sum(not j.snapshot().finished for j in jobs_of(owner))


class TrainingJob:
    """One training run in a daemon thread; `snapshot()` and `stop()` are safe from any thread."""

    def __init__(
        self,
        config: TrainConfig,
        store: RunStore,
        *,
        name: str | None = None,
        data_dir: str | Path | None = None,
        queue: JobQueue | None = None,
        callbacks: Sequence[keras.callbacks.Callback] = (),
        owner: str | None = None,
        owner_name: str | None = None,
        owner_fields: Callable[[str], Mapping[str, str]] | None = None,
    ) -> None:
        self.id = secrets.token_urlsafe(16)
        # Who may see and stop it (`mnistkit.ownership`), and what its run folder records.
        self.owner, self.owner_name, self.owner_fields = owner, owner_name, owner_fields
        self.created = time.time()
        self.config, self.store, self.name, self.data_dir = config, store, name, data_dir
        self.callbacks = tuple(callbacks)  # extra Keras callbacks for `train` (e.g. a timer)
        self.queue = queue or shared_queue()
        self.progress = Progress(epochs=config.epochs)
        self.error: BaseException | None = None
        self.finished_at: float | None = None
        self._thread = threading.Thread(target=self._work, name=f"train-{self.id[:6]}", daemon=True)
        with _queue_lock:
            _forget_old_jobs()
            _jobs[self.id] = self

    def start(self) -> TrainingJob:
        self.progress.update(status="queued", message="waiting for a free training slot")
        self._thread.start()
        return self

    def stop(self) -> None:
        """Cancel if queued; if training, stop within one execution step (`steps_per_execution`
        batches), keeping the best checkpoint."""
        self.progress.request_stop()
        self.queue.wake()

    def snapshot(self) -> Snapshot:
        return self.progress.snapshot()

    @property
    def alive(self) -> bool:
        return self._thread.is_alive()

    def join(self, timeout: float | None = None) -> None:
        self._thread.join(timeout)

    def _work(self) -> None:
        if not self.queue.acquire(self):
            self.progress.finish("stopped", "cancelled before it started", queue_position=None)
            self.finished_at = time.monotonic()
            return
        try:
            from mnistkit.training import train  # TensorFlow loads here, off the page's thread

            train(
                self.config,
                self.store,
                name=self.name,
                data_dir=self.data_dir,
                progress=self.progress,
                callbacks=self.callbacks,
                owner=self.owner_fields,
            )
        except BaseException as exc:  # recorded for the page; the thread must not die silently
            self.error = exc.with_traceback(None)  # its frames would pin the training data
            if not self.progress.snapshot().finished:
                self.progress.finish("failed", f"{type(exc).__name__}: {exc}")
        finally:
            self.finished_at = time.monotonic()
            self.queue.release(self)


def _forget_old_jobs() -> None:
    """Drop jobs finished more than KEEP_FINISHED_S ago (call with `_queue_lock` held)."""
    now = time.monotonic()
    for job_id in [
        i for i, j in _jobs.items() if j.finished_at and now - j.finished_at > KEEP_FINISHED_S
    ]:
        del _jobs[job_id]


def ray_configured() -> bool:
    """True when `MNISTKIT_RAY_ADDRESS` names a Ray cluster for the jobs."""
    return bool(os.environ.get(RAY_ADDRESS_ENV, "").strip())


def make_job(
    config: TrainConfig,
    store: RunStore,
    *,
    name: str | None = None,
    data_dir: str | Path | None = None,
    queue: JobQueue | None = None,
    owner: str | None = None,
    owner_name: str | None = None,
    owner_fields: Callable[[str], Mapping[str, str]] | None = None,
) -> TrainingJob:
    """A job for `config`: a thread here, or a Ray actor when `MNISTKIT_RAY_ADDRESS` is set.
    ``owner*``: who it belongs to (`mnistkit.ownership`), see `TrainingJob`."""
    whose = {"owner": owner, "owner_name": owner_name, "owner_fields": owner_fields}
    if ray_configured():
        from mnistkit.ray_jobs import RayTrainingJob  # the only place Ray gets imported

        return RayTrainingJob(config, store, name=name, data_dir=data_dir, **whose)
    return TrainingJob(config, store, name=name, data_dir=data_dir, queue=queue, **whose)


def run_training(
    config: TrainConfig,
    store: RunStore,
    *,
    name: str | None = None,
    data_dir: str | Path | None = None,
    progress: Progress | None = None,
):
    """Train to the end and return the `RunResult`: in this thread, or on Ray (see `make_job`)."""
    if ray_configured():
        from mnistkit.ray_jobs import run_on_ray

        return run_on_ray(config, store, name=name, data_dir=data_dir, progress=progress)
    from mnistkit.training import train

    return train(config, store, name=name, data_dir=data_dir, progress=progress)
