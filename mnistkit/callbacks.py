"""The training run's Keras callbacks, each doing one thing; none edits Keras' `logs`.

`StopOnRequest` ends training when the user asks; `RecorderCallback` records progress;
`BestCheckpoint` keeps the best model; `HistoryWriter` writes `history.json`;
`SnapshotWriter` keeps what a replay needs of every epoch. Their order in the callback list
does not matter.

A stop cuts the running epoch short, and a partial epoch (or a cut-short validation pass)
is not comparable with whole ones: the recorder and the checkpoint skip it. They tell by
Keras' own flags, `model.stop_training` / `model.stop_evaluating`, read when the epoch's
validation pass begins and ends: only batch hooks have set them by then, so an
`EarlyStopping` that stops after a whole epoch does not count, wherever it sits in the list.
"""

from __future__ import annotations

import threading
import time
from pathlib import Path

import keras
import numpy as np

from mnistkit import hidden_map, snapshots
from mnistkit.atomic import atomic_replace
from mnistkit.progress import Progress
from mnistkit.runs import RunStore

# What the run is doing, for `Progress.message` (plain words: the Train page shows them).
PREPARING = "getting ready (TensorFlow prepares the model: the first batches are slow)"
TRAINING = "training"
VALIDATING = "checking the validation images"
SAVING = "saving the best model so far"


class StopOnRequest(keras.callbacks.Callback):
    """Sets `model.stop_training` (and `stop_evaluating`) once `event` is set.

    Keras calls batch hooks once per execution, so training ends within one execution
    step (`steps_per_execution` batches) of the request; a validation pass under way ends
    after its current step. Nothing cheaper can cut a compiled execution short. Measured
    (CNN, batch 128, steps_per_execution 16, 2 busy cores): one step 0.18 s, request to
    the end of `fit` 0.32 s (the step in flight plus one validation step), to `train()`
    returning 0.49 s (the test-set evaluation of the best checkpoint).
    """

    def __init__(self, event: threading.Event) -> None:
        super().__init__()
        self.event = event

    def on_train_batch_end(self, batch: int, logs: dict | None = None) -> None:
        if self.event.is_set():
            self.model.stop_training = True

    def on_test_batch_end(self, batch: int, logs: dict | None = None) -> None:
        if self.event.is_set():
            self.model.stop_training = True  # no batch of the next epoch either
            self.model.stop_evaluating = True


class WholeEpochCallback(keras.callbacks.Callback):
    """Base for callbacks that act only on whole epochs: see `epoch_cut_short()`; and
    `epoch_record(logs)`, an epoch's numbers from Keras' logs with its `epoch_seconds`."""

    def __init__(self) -> None:
        super().__init__()
        self._cut_short = False
        self._validated = False
        self._epoch_start = time.perf_counter()

    def on_epoch_begin(self, epoch: int, logs: dict | None = None) -> None:
        self._cut_short, self._validated = False, False
        self._epoch_start = time.perf_counter()

    def epoch_record(self, logs: dict | None) -> dict[str, float]:
        """In `on_epoch_end`: the epoch's numeric logs plus `epoch_seconds`."""
        record = {k: float(v) for k, v in (logs or {}).items() if _is_number(v)}
        record["epoch_seconds"] = time.perf_counter() - self._epoch_start
        return record

    def on_test_begin(self, logs: dict | None = None) -> None:
        self._validated = True
        self._cut_short |= bool(self.model.stop_training)  # the training batches were cut

    def on_test_end(self, logs: dict | None = None) -> None:
        self._cut_short |= bool(getattr(self.model, "stop_evaluating", False))

    def epoch_cut_short(self) -> bool:
        """In `on_epoch_end`: True when a stop cut this epoch's training or validation short."""
        return self._cut_short if self._validated else bool(self.model.stop_training)


class RecorderCallback(WholeEpochCallback):
    """Records per-batch and per-epoch logs into a `Progress` (a cut-short epoch's batches only).

    Keras reports a running mean of the epoch's loss after each batch; the loss of the
    latest batches is recovered from two consecutive means, so the curve shows how the
    loss moves now, not the epoch average. Each epoch's record adds `epoch_seconds`.
    """

    def __init__(self, progress: Progress) -> None:
        super().__init__()
        self.progress = progress
        self._epoch = 0
        self._last: tuple[int, dict[str, float]] = (0, {})

    def on_epoch_begin(self, epoch: int, logs: dict | None = None) -> None:
        super().on_epoch_begin(epoch, logs)
        self._epoch = epoch
        self._last = (0, {})
        self.progress.update(message=PREPARING if epoch == 0 else TRAINING)

    def on_test_begin(self, logs: dict | None = None) -> None:
        super().on_test_begin(logs)
        self.progress.update(message=VALIDATING)

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
        if prev_steps == 0 and self._epoch == 0:
            self.progress.update(message=TRAINING)

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        if not self.epoch_cut_short():
            self.progress.add_epoch(epoch, self.epoch_record(logs))
            self.progress.update(message=SAVING)  # the checkpoint and history writers run next


class BestCheckpoint(WholeEpochCallback):
    """Saves the model whenever validation loss improves, atomically (mode 0644).

    Keeps the best weights in memory too, so training can end on the best model without
    reading the file back. An epoch cut short by a stop is never compared.
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
        if value is None or self.epoch_cut_short() or not float(value) < self.best:
            return
        self.best, self.best_epoch = float(value), epoch
        self.best_weights = self.model.get_weights()
        atomic_replace(self.path, self.model.save, suffix=".keras")


class HistoryWriter(WholeEpochCallback):
    """Writes the run's `history.json` from Keras' own logs the moment each whole epoch ends
    (as Keras' `History` keeps them), and once at the end of training (a run stopped in its
    first epoch gets an empty history). It reads no other callback's output."""

    def __init__(self, store: RunStore, run_dir: str | Path) -> None:
        super().__init__()
        self.store, self.run_dir = store, run_dir
        self.history: dict[str, list[float]] = {}

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        if not self.epoch_cut_short():
            for key, value in self.epoch_record(logs).items():
                self.history.setdefault(key, []).append(value)
            self.store.write_history(self.run_dir, self.history)

    def on_train_end(self, logs: dict | None = None) -> None:
        self.store.write_history(self.run_dir, self.history)


class SnapshotWriter(WholeEpochCallback):
    """Writes `snapshots/epoch-NNN.npz` before training (epoch 0) and after every whole epoch.

    Each holds the layers' weights (float16; on every `every`-th epoch only, see
    `snapshots.weights_every`) and the hidden-space map of `x_sample`: one forward pass
    gives both the map and the predictions for that epoch's confusion matrix. The map is
    turned to line up with the previous one (`hidden_map.fit`). `seconds` and `bytes` record
    each write's cost (benchmarks/snapshots.py). A model without a hidden dense layer keeps
    weights only. An epoch cut short by a stop is skipped, as the checkpoint skips it.
    """

    def __init__(
        self,
        run_dir: str | Path,
        x_sample: np.ndarray,
        sample: snapshots.Sample,
        every: int = 1,
    ) -> None:
        super().__init__()
        self.run_dir, self.x_sample, self.sample, self.every = run_dir, x_sample, sample, every
        self._previous: np.ndarray | None = None
        self.seconds: list[float] = []
        self.bytes: list[int] = []

    def on_train_begin(self, logs: dict | None = None) -> None:
        snapshots.write_sample(self.run_dir, self.sample)
        self._write(0)

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        if not self.epoch_cut_short():
            self._write(epoch + 1)

    def _write(self, epoch: int) -> None:
        from mnistkit import activations

        start = time.perf_counter()
        model = self.model
        hidden_name = activations.hidden_layer(model)
        names = [n for n in (hidden_name, model.layers[-1].name) if n]
        outs = activations.batch_outputs(model, self.x_sample, names)
        hidden = outs[0] if hidden_name else np.zeros((len(self.x_sample), 1), np.float32)
        projection = hidden_map.fit(hidden, self._previous)
        xy = projection.apply(hidden)
        self._previous = xy
        weights = None
        if epoch % self.every == 0:
            weights = {
                layer.name: [np.asarray(w) for w in layer.get_weights()]
                for layer in model.layers
                if layer.trainable_weights
            }
        pred = outs[-1].argmax(axis=1)
        size = snapshots.write_epoch(self.run_dir, epoch, weights, xy, pred, projection)
        self.seconds.append(time.perf_counter() - start)
        self.bytes.append(size)


def _is_number(value: object) -> bool:
    try:
        float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return False
    return True
