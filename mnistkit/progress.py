"""A thread-safe record of a training run that a UI can poll while a worker thread trains.

The worker (through `RecorderCallback`) writes; any thread may call `snapshot()`, which
returns plain copies, so a page never holds the lock while it draws. `request_stop()` sets
the stop event that `StopOnRequest` honours within one execution step of training.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field

SMOOTHING = 0.9  # exponential moving average factor for the per-batch loss curve
MAX_POINTS = 1500  # per-batch points returned by a snapshot (older ones are thinned)
MIN_MEASURE_S = 2.0  # no time estimate before training has run this long after its first step


@dataclass(frozen=True)
class Snapshot:
    """What a page needs to draw one frame of a training run."""

    status: str  # idle, queued, running, completed, stopped, failed, interrupted
    epoch: int  # epochs finished
    epochs: int  # epochs planned (early stopping may end sooner)
    step: int  # steps done in the current epoch
    steps_per_epoch: int
    batches: list[dict]  # {"epoch": float, "loss": smoothed, "accuracy": smoothed}
    history: dict[str, list[float]]  # per-epoch loss, accuracy, val_loss, val_accuracy
    elapsed: float
    eta: float | None  # seconds left if every planned epoch runs (None while measuring)
    message: str
    run_dir: str | None
    metrics: dict | None
    queue_position: int | None = None

    @property
    def fraction(self) -> float:
        """Share of the planned steps done, 0..1."""
        total = self.epochs * max(self.steps_per_epoch, 1)
        done = self.epoch * self.steps_per_epoch + self.step
        return 0.0 if total == 0 else min(1.0, done / total)

    @property
    def finished(self) -> bool:
        return self.status in ("completed", "stopped", "failed", "interrupted")


@dataclass
class Progress:
    """Mutable run state guarded by a lock; the stop event asks the trainer to stop."""

    status: str = "idle"
    epochs: int = 0
    steps_per_epoch: int = 0
    message: str = ""
    run_dir: str | None = None
    metrics: dict | None = None
    queue_position: int | None = None
    stop_event: threading.Event = field(default_factory=threading.Event)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)
    _batches: list[dict] = field(default_factory=list, repr=False)
    _history: dict[str, list[float]] = field(default_factory=dict, repr=False)
    _epoch: int = 0
    _step: int = 0
    _started: float | None = None
    _ended: float | None = None
    _ema: dict[str, float] = field(default_factory=dict, repr=False)
    _first: tuple[float, float] | None = None  # (time, epochs done) at the first recorded step
    _last_epoch_end: tuple[float, float] | None = None  # (time, epochs done) at an epoch's end
    _loaded_eta: float | None = None  # the estimate in a snapshot taken over with `load`

    def request_stop(self) -> None:
        self.stop_event.set()

    @property
    def stop_requested(self) -> bool:
        return self.stop_event.is_set()

    def update(self, **fields: object) -> None:
        """Set public fields (status, message, run_dir, metrics, queue_position, ...)."""
        with self._lock:
            for key, value in fields.items():
                if key.startswith("_") or not hasattr(self, key):
                    raise AttributeError(key)
                setattr(self, key, value)

    def begin(self, epochs: int, steps_per_epoch: int, run_dir: str | None = None) -> None:
        with self._lock:
            self.status, self.epochs, self.steps_per_epoch = "running", epochs, steps_per_epoch
            self.run_dir = run_dir
            self.queue_position = None
            self._started = time.monotonic()
            self._ended = None
            self._first = self._last_epoch_end = None

    def add_batch(self, epoch: int, step: int, values: dict[str, float]) -> None:
        """Record training metrics for the steps ending at `step` (1-based) of `epoch` (0-based).

        `step` is capped at `steps_per_epoch`: with several steps per execution Keras reports
        the last execution's end as a multiple of it (384 of 375)."""
        with self._lock:
            if self.steps_per_epoch:
                step = min(step, self.steps_per_epoch)
            self._epoch, self._step = epoch, step
            if self._first is None:  # start-up (data, tracing) is over: the clock starts
                self._first = (time.monotonic(), epoch + step / max(self.steps_per_epoch, 1))
            point = {"epoch": epoch + step / max(self.steps_per_epoch, 1)}
            for key, value in values.items():
                prev = self._ema.get(key)
                smoothed = value if prev is None else SMOOTHING * prev + (1 - SMOOTHING) * value
                self._ema[key] = smoothed
                point[key] = smoothed
            self._batches.append(point)

    def add_epoch(self, epoch: int, logs: dict[str, float]) -> None:
        """Record the per-epoch logs of `epoch` (0-based)."""
        with self._lock:
            self._epoch, self._step = epoch + 1, 0
            self._last_epoch_end = (time.monotonic(), float(epoch + 1))
            for key, value in logs.items():
                self._history.setdefault(key, []).append(float(value))

    def finish(self, status: str, message: str = "", **fields: object) -> None:
        self.update(status=status, message=message, **fields)
        with self._lock:
            self._ended = time.monotonic()

    def load(self, snap: Snapshot) -> None:
        """Take over a snapshot recorded elsewhere (a remote worker's): the UI then reads it."""
        with self._lock:
            self.status, self.epochs = snap.status, snap.epochs
            self.steps_per_epoch, self.message = snap.steps_per_epoch, snap.message
            self.run_dir, self.queue_position = snap.run_dir, snap.queue_position
            self.metrics = None if snap.metrics is None else dict(snap.metrics)
            self._batches = [dict(b) for b in snap.batches]
            self._history = {k: list(v) for k, v in snap.history.items()}
            self._epoch, self._step = snap.epoch, snap.step
            now = time.monotonic()
            self._started = now - snap.elapsed
            self._ended = now if snap.finished else None
            self._loaded_eta = snap.eta  # measured where it trains
            self._first = self._last_epoch_end = None

    def _eta(self, done: float) -> float | None:
        """Seconds left, measured on this machine from the first recorded step on (start-up
        and the first step's tracing would make the first estimates far too long). Once an
        epoch has ended, its validation and saving are in the rate too."""
        if self._first is None:
            return self._loaded_eta
        since, done_then = self._first
        now, measured = time.monotonic(), done
        if self._last_epoch_end is not None and self._last_epoch_end[1] > done_then:
            now, measured = self._last_epoch_end
        if now - since < MIN_MEASURE_S or measured <= done_then:
            return None
        per_epoch = (now - since) / (measured - done_then)
        return per_epoch * max(self.epochs - done, 0.0)

    def snapshot(self) -> Snapshot:
        with self._lock:
            now = self._ended or time.monotonic()
            elapsed = 0.0 if self._started is None else now - self._started
            done = self._epoch + self._step / max(self.steps_per_epoch, 1)
            eta = self._eta(done) if self.status == "running" else None
            stride = max(1, -(-len(self._batches) // MAX_POINTS))  # ceil: ≤ MAX_POINTS kept
            batches = self._batches[::stride]
            if stride > 1 and batches[-1] is not self._batches[-1]:
                batches.append(self._batches[-1])
            return Snapshot(
                status=self.status,
                epoch=self._epoch,
                epochs=self.epochs,
                step=self._step,
                steps_per_epoch=self.steps_per_epoch,
                batches=[dict(b) for b in batches],
                history={k: list(v) for k, v in self._history.items()},
                elapsed=elapsed,
                eta=eta,
                message=self.message,
                run_dir=self.run_dir,
                metrics=None if self.metrics is None else dict(self.metrics),
                queue_position=self.queue_position,
            )
