"""Two small Keras callbacks: one records progress and honours Stop, one keeps the best model."""

from __future__ import annotations

import time
from pathlib import Path

import keras
import numpy as np

from mnistkit.atomic import atomic_replace
from mnistkit.progress import Progress


class RecorderCallback(keras.callbacks.Callback):
    """Appends per-batch and per-epoch logs to a `Progress`; stops within one batch when asked.

    Keras reports a running mean of the epoch's loss after each batch; the loss of the
    latest batches is recovered from two consecutive means, so the curve shows how the
    loss moves now, not the epoch average.
    """

    def __init__(self, progress: Progress) -> None:
        super().__init__()
        self.progress = progress
        self._epoch = 0
        self._last: tuple[int, dict[str, float]] = (0, {})
        self.stopped_mid_epoch = False
        self._epoch_start = time.perf_counter()

    def on_epoch_begin(self, epoch: int, logs: dict | None = None) -> None:
        self._epoch = epoch
        self._last = (0, {})
        self._epoch_start = time.perf_counter()

    def on_train_batch_end(self, batch: int, logs: dict | None = None) -> None:
        steps = batch + 1
        means = {k: float(v) for k, v in (logs or {}).items() if k in ("loss", "accuracy")}
        prev_steps, prev_means = self._last
        recent = {
            k: (m * steps - prev_means.get(k, 0.0) * prev_steps) / (steps - prev_steps)
            for k, m in means.items()
        }
        self._last = (steps, means)
        self.progress.add_batch(self._epoch, steps, recent)
        if self.progress.stop_requested:
            self.stopped_mid_epoch = True
            self.model.stop_training = True

    def on_test_batch_end(self, batch: int, logs: dict | None = None) -> None:
        if self.progress.stop_requested:
            self.stopped_mid_epoch = True  # a cut-short validation pass is partial too
            self.model.stop_training = True
            self.model.stop_evaluating = True

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        logs = logs if logs is not None else {}
        if self.stopped_mid_epoch:
            # A partial epoch and a partial validation pass are not comparable with full
            # ones: hide them so the checkpoint and early stopping ignore this epoch.
            for key in [k for k in logs if k.startswith("val_")]:
                logs.pop(key)
            logs["val_loss"] = float("inf")
            return
        logs["epoch_seconds"] = time.perf_counter() - self._epoch_start
        self.progress.add_epoch(epoch, {k: float(v) for k, v in logs.items() if _is_number(v)})


class BestCheckpoint(keras.callbacks.Callback):
    """Saves the model whenever validation loss improves, atomically (temp file, then rename).

    Keeps the best weights in memory too, so training can end on the best model without
    reading the file back.
    """

    def __init__(self, path: str | Path, monitor: str = "val_loss") -> None:
        super().__init__()
        self.path = Path(path)
        self.monitor = monitor
        self.best = np.inf
        self.best_epoch: int | None = None
        self.best_weights: list[np.ndarray] | None = None

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        value = (logs or {}).get(self.monitor)
        if value is None or not float(value) < self.best:
            return
        self.best, self.best_epoch = float(value), epoch
        self.best_weights = self.model.get_weights()
        atomic_replace(self.path, self.model.save, suffix=".keras")


def _is_number(value: object) -> bool:
    try:
        float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return False
    return True
