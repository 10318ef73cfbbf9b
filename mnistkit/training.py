"""Train a model from a `TrainConfig` into a run folder, and evaluate models on the test set."""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import keras
import numpy as np

from mnistkit import data as mdata
from mnistkit import snapshots
from mnistkit.callbacks import (
    BestCheckpoint,
    HistoryWriter,
    RecorderCallback,
    SnapshotWriter,
    StopOnRequest,
)
from mnistkit.catalog import accuracy_text
from mnistkit.config import TrainConfig
from mnistkit.errors import MnistkitError
from mnistkit.liveness import register_active, unregister_active
from mnistkit.models import build_model
from mnistkit.progress import Progress
from mnistkit.runs import RunStore

EVAL_BATCH = 1024


@dataclass(frozen=True)
class PreparedData:
    """Model-ready arrays: float32 (N, 28, 28, 1) in [0, 1] and integer labels."""

    x_train: np.ndarray
    y_train: np.ndarray
    x_val: np.ndarray
    y_val: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray


@dataclass(frozen=True)
class RunResult:
    """Where a run was written, how it ended, and its metrics (None if no model was kept)."""

    run_dir: Path
    status: str
    metrics: dict | None
    message: str = ""


def prepare_data(config: TrainConfig, data_dir: str | Path | None = None) -> PreparedData:
    """Load MNIST, take the stratified subset if asked, split train/validation, scale to [0, 1]."""
    (x, y), (x_test, y_test) = mdata.load_mnist(data_dir)
    x, y = mdata.stratified_subset(x, y, config.subset, seed=config.seed)
    x_tr, y_tr, x_val, y_val = mdata.train_val_split(x, y, config.val_split, seed=config.seed)
    return PreparedData(
        mdata.to_model_input(x_tr),
        np.asarray(y_tr, dtype=np.int64),
        mdata.to_model_input(x_val),
        np.asarray(y_val, dtype=np.int64),
        mdata.to_model_input(x_test),
        np.asarray(y_test, dtype=np.int64),
    )


def _plural(n: int, word: str) -> str:
    """`1 epoch`, `2 epochs`."""
    return f"{n} {word}" if n == 1 else f"{n} {word}s"


def evaluate(model: keras.Model, x: np.ndarray, y: np.ndarray) -> dict:
    """Test loss, accuracy, confusion matrix (rows: true digit), per-class accuracy, predictions."""
    probs = predict_proba(model, x)
    y = np.asarray(y, dtype=np.int64)
    pred = probs.argmax(axis=1)
    loss = float(-np.mean(np.log(np.clip(probs[np.arange(len(y)), y], 1e-7, 1.0))))
    cm = np.bincount(y * 10 + pred, minlength=100).reshape(10, 10)
    per_class = np.diag(cm) / np.maximum(cm.sum(axis=1), 1)
    return {
        "test_loss": loss,
        "test_accuracy": float(np.mean(pred == y)),
        "confusion_matrix": cm.tolist(),
        "per_class_accuracy": [float(a) for a in per_class],
        "predictions": pred.tolist(),
    }


def predict_proba(model: keras.Model, x: np.ndarray, batch_size: int = EVAL_BATCH) -> np.ndarray:
    """Probabilities for many images, in batches, without `model.predict`'s per-call overhead."""
    x = np.asarray(x, dtype=np.float32)
    if len(x) == 0:
        return np.zeros((0, 10), dtype=np.float32)
    chunks = [
        np.asarray(model.predict_on_batch(x[i : i + batch_size]))
        for i in range(0, len(x), batch_size)
    ]
    return np.concatenate(chunks)


def build_state_eagerly(model: keras.Model, x: np.ndarray, y: np.ndarray) -> None:
    """Create the optimizer's and the compiled metrics' variables now, outside any tf.function.

    Keras' TensorFlow backend otherwise creates them while tracing the first training step,
    and TensorFlow then keeps their initialiser functions for the life of the process: 36
    functions and ~8 000 Python objects per CNN run, piling up in a long-running app (every
    full garbage collection walks them). Training results are unchanged.
    """
    y_pred = model(x, training=False)
    model.compute_loss(x, y, y_pred)
    model.compute_metrics(x, y, y_pred, sample_weight=None)
    model.reset_metrics()
    model.optimizer.build(model.trainable_variables)


def snapshot_writer(
    model: keras.Model, run_dir: Path, data: PreparedData, epochs: int
) -> SnapshotWriter:
    """The run's `SnapshotWriter`: the fixed test sample, weights kept within `MAX_BYTES`."""
    indices = snapshots.sample_indices(data.y_test)
    sample = snapshots.Sample(indices, data.y_test[indices])
    every = snapshots.weights_every(int(model.count_params()), epochs)
    return SnapshotWriter(run_dir, data.x_test[indices], sample, every=every)


def train(
    config: TrainConfig,
    store: RunStore,
    *,
    name: str | None = None,
    data: PreparedData | None = None,
    data_dir: str | Path | None = None,
    progress: Progress | None = None,
    verbose: int = 0,
    callbacks: Sequence[keras.callbacks.Callback] = (),
    owner: Callable[[str], Mapping[str, str]] | None = None,
) -> RunResult:
    """Train one run; the best-validation-loss model becomes the run's `model.keras`.

    Writes config, status, per-epoch history (after every epoch), snapshots (before training
    and after every epoch, for replays), metrics and predictions into a new run folder. A
    stop request ends training within one execution step (`steps_per_execution` batches)
    and keeps the best checkpoint as a "stopped" run.
    `callbacks` are extra Keras callbacks, run after the run's own (e.g. a timer).
    `owner(run_id)` gives the owner fields of the run's status.json (`mnistkit.ownership`).
    Errors mark the run "failed" and are re-raised.
    """
    progress = progress or Progress()
    progress.update(status="running", message="loading data")
    try:  # before the run folder: data that cannot be read leaves no "failed" run behind
        data = data or prepare_data(config, data_dir)
    except MnistkitError as exc:
        progress.finish("failed", str(exc))
        raise
    run_dir = store.create(name or config.arch, config.to_dict(), owner=owner)
    register_active(run_dir)
    progress.update(run_dir=str(run_dir))
    try:
        return _train(config, store, run_dir, data, data_dir, progress, verbose, callbacks)
    except Exception as exc:
        message = str(exc) if isinstance(exc, MnistkitError) else f"{type(exc).__name__}: {exc}"
        store.set_status(run_dir, "failed", message)
        progress.finish("failed", message)
        raise
    finally:
        unregister_active(run_dir)


def _train(
    config: TrainConfig,
    store: RunStore,
    run_dir: Path,
    data: PreparedData | None,
    data_dir: str | Path | None,
    progress: Progress,
    verbose: int,
    callbacks: Sequence[keras.callbacks.Callback],
) -> RunResult:
    data = data or prepare_data(config, data_dir)
    keras.utils.set_random_seed(config.seed)
    steps = math.ceil(len(data.x_train) / config.batch_size)
    model = build_model(config, steps_per_epoch=steps)
    build_state_eagerly(model, data.x_train[:1], data.y_train[:1])
    checkpoint = BestCheckpoint(store.model_path(run_dir))
    run_callbacks: list[keras.callbacks.Callback] = [
        StopOnRequest(progress.stop_event),
        RecorderCallback(progress),
        checkpoint,
        HistoryWriter(store, run_dir),
        snapshot_writer(model, run_dir, data, config.epochs),
    ]
    if config.patience > 0:  # a Stop ends training anyway: it does not matter what this sees
        run_callbacks.append(
            keras.callbacks.EarlyStopping(monitor="val_loss", patience=config.patience)
        )
    progress.begin(config.epochs, steps, str(run_dir))
    progress.update(message="training")
    start = time.perf_counter()
    model.fit(
        data.x_train,
        data.y_train,
        validation_data=(data.x_val, data.y_val),
        epochs=config.epochs,
        batch_size=config.batch_size,
        callbacks=[*run_callbacks, *callbacks],
        verbose=verbose,
    )
    train_seconds = time.perf_counter() - start
    stopped = progress.stop_requested
    status = "stopped" if stopped else "completed"
    history = progress.snapshot().history  # HistoryWriter has written it
    if checkpoint.best_weights is None:
        message = "stopped before the first epoch finished: no model was kept"
        store.set_status(run_dir, status, message)
        progress.finish(status, message)
        return RunResult(run_dir, status, None, message)

    progress.update(message="evaluating the best model on the test set")
    model.set_weights(checkpoint.best_weights)
    metrics = evaluate(model, data.x_test, data.y_test)
    predictions = metrics.pop("predictions")
    metrics.update(
        train_seconds=train_seconds,
        params=int(model.count_params()),
        epochs_run=len(history.get("loss", [])),
        best_epoch=int(checkpoint.best_epoch or 0) + 1,
        best_val_loss=checkpoint.best,
        stopped_early=bool(not stopped and len(history.get("loss", [])) < config.epochs),
    )
    store.write_json(run_dir, "predictions.json", predictions)
    store.write_metrics(run_dir, metrics)
    message = (
        f"stopped after {_plural(metrics['epochs_run'], 'epoch')}; kept the best checkpoint"
        if stopped
        else f"test accuracy {accuracy_text(metrics['test_accuracy'])}"
    )
    store.set_status(run_dir, status, message)
    progress.finish(status, message, metrics=metrics)
    return RunResult(run_dir, status, metrics, message)
