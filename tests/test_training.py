"""Tests for mnistkit.training: real tiny runs on MNIST (slow), stop/failure paths, evaluate()."""

from __future__ import annotations

import json
import os
import threading
import time

import keras
import numpy as np
import pytest

from mnistkit import snapshots, training
from mnistkit.config import TrainConfig
from mnistkit.data import DataError
from mnistkit.liveness import is_active
from mnistkit.predict import load_model
from mnistkit.progress import Progress
from mnistkit.runs import RunStore
from mnistkit.training import PreparedData, evaluate, predict_proba, prepare_data, train
from tests.helpers import DATA_DIR, images, labels, requires_data, shared_run, tiny_model

slow_real = [pytest.mark.slow, requires_data]
RUN_FILES = {
    "config.json",
    "status.json",
    "history.json",
    "metrics.json",
    "predictions.json",
    "model.keras",
}
HISTORY_KEYS = {"loss", "accuracy", "val_loss", "val_accuracy", "epoch_seconds"}


def read(run_dir, name):
    return json.loads((run_dir / name).read_text())


def synthetic_data(n_train=64, n_val=16, n_test=32) -> PreparedData:
    """Random model-ready arrays: enough to drive `train` without MNIST."""
    return PreparedData(
        images(n_train, 1), labels(n_train, 1),
        images(n_val, 2), labels(n_val, 2),
        images(n_test, 3), labels(n_test, 3),
    )  # fmt: skip


# --- evaluate / predict_proba (no data needed) ----------------------------------------


def test_evaluate_matches_numpy():
    model = tiny_model(seed=3)
    x, y = images(300, seed=4), labels(300, seed=5)
    probs = np.asarray(model(x, training=False), dtype=np.float64)
    pred = probs.argmax(axis=1)
    expected_loss = -np.mean(np.log(probs[np.arange(len(y)), y]))
    cm = np.zeros((10, 10), int)
    for t, p in zip(y, pred, strict=True):
        cm[t, p] += 1

    m = evaluate(model, x, y)
    assert m["test_accuracy"] == pytest.approx(np.mean(pred == y))
    assert m["test_loss"] == pytest.approx(expected_loss, rel=1e-5)
    assert m["confusion_matrix"] == cm.tolist()
    assert m["predictions"] == pred.tolist()
    for digit in range(10):
        row = cm[digit].sum()
        expected = cm[digit, digit] / row if row else 0.0
        assert m["per_class_accuracy"][digit] == pytest.approx(expected)
    json.dumps(m)  # plain Python types only


def test_evaluate_perfect_and_confident_model():
    """A model that always answers 3 with p=1: accuracy = share of 3s, loss finite (clipped)."""
    inputs = keras.Input((28, 28, 1))
    flat = keras.layers.Flatten()(inputs)
    out = keras.layers.Dense(
        10,
        activation="softmax",
        kernel_initializer="zeros",
        bias_initializer=keras.initializers.Constant([0, 0, 0, 100, 0, 0, 0, 0, 0, 0]),
    )(flat)
    model = keras.Model(inputs, out)
    y = np.array([3, 3, 3, 1])
    m = evaluate(model, images(4), y)
    assert m["test_accuracy"] == 0.75
    assert np.isfinite(m["test_loss"]) and m["test_loss"] == pytest.approx(-np.log(1e-7) / 4)
    assert m["per_class_accuracy"][3] == 1.0 and m["per_class_accuracy"][1] == 0.0
    assert m["confusion_matrix"][1][3] == 1 and m["confusion_matrix"][3][3] == 3


def test_predict_proba_batches_and_empty():
    model = tiny_model(seed=1)
    x = images(training.EVAL_BATCH + 37, seed=2)
    np.testing.assert_allclose(
        predict_proba(model, x, batch_size=500), np.asarray(model(x)), rtol=1e-5, atol=1e-6
    )
    assert predict_proba(model, x[:0]).shape == (0, 10)


# --- train() on synthetic data: failure and stop paths, no MNIST needed ---------------


def test_unreadable_data_fails_without_leaving_a_run_folder(tmp_path):
    """Every press of Start with a broken data folder used to leave one "failed" run."""
    store = RunStore(tmp_path / "runs")
    empty = tmp_path / "empty"
    empty.mkdir()
    progress = Progress()
    for _ in range(3):
        with pytest.raises(DataError, match="empty"):
            train(TrainConfig(arch="dense", epochs=1), store, data_dir=empty, progress=progress)
    assert store.list() == []
    s = progress.snapshot()
    assert s.status == "failed" and s.finished
    assert s.message.startswith("no MNIST data in ") and str(empty) in s.message


def test_error_during_fit_marks_failed(tmp_path, monkeypatch):
    def broken_build(*args, **kwargs):
        raise RuntimeError("boom in the builder")

    monkeypatch.setattr(training, "build_model", broken_build)
    store = RunStore(tmp_path)
    with pytest.raises(RuntimeError, match="boom"):
        train(TrainConfig(arch="dense", epochs=1), store, data=synthetic_data())
    (info,) = store.list()
    assert info.status == "failed" and info.message == "RuntimeError: boom in the builder"


def test_stop_before_first_batch_ends_keeps_no_model(tmp_path):
    store = RunStore(tmp_path)
    progress = Progress()
    progress.request_stop()  # honoured at the end of the very first batch
    result = train(
        TrainConfig(arch="dense", epochs=3, batch_size=8, patience=0),
        store,
        data=synthetic_data(),
        progress=progress,
    )
    assert result.status == "stopped" and result.metrics is None
    assert "no model" in result.message
    assert not (result.run_dir / "model.keras").exists()
    assert not (result.run_dir / "metrics.json").exists()
    s = progress.snapshot()
    assert s.status == "stopped" and len(s.batches) == 1 and s.history == {}
    status = read(result.run_dir, "status.json")
    assert status["status"] == "stopped" and "no model" in status["message"]


def test_stop_during_validation_keeps_only_full_epochs(tmp_path, monkeypatch):
    """Stop while epoch 2 validates: epoch 1 is the last one recorded and checkpointed."""
    from mnistkit import callbacks

    progress = Progress()
    seen: list[dict] = []
    saves: list[int] = []

    class StopWhileValidating(keras.callbacks.Callback):
        """The user clicks Stop during epoch 2's validation; records what Keras reports."""

        def on_epoch_begin(self, epoch, logs=None):
            self.epoch = epoch

        def on_test_batch_begin(self, batch, logs=None):
            if self.epoch == 1 and batch == 1:
                progress.request_stop()

        def on_epoch_end(self, epoch, logs=None):
            seen.append(dict(logs or {}))

    real_replace = callbacks.atomic_replace
    monkeypatch.setattr(
        callbacks,
        "atomic_replace",
        lambda *a, **k: (saves.append(len(seen)), real_replace(*a, **k)),
    )
    config = TrainConfig(arch="dense", dense_units=(8,), epochs=5, batch_size=8, patience=0)
    result = train(
        config,
        RunStore(tmp_path),
        data=synthetic_data(64, 64),
        progress=progress,
        callbacks=[StopWhileValidating()],
    )
    assert result.status == "stopped"
    assert len(seen) == 2 and "val_accuracy" in seen[1]  # Keras' logs reach everyone unedited
    assert saves == [0]  # only epoch 1 was checkpointed: the cut-short pass never counts
    assert result.metrics["epochs_run"] == 1 and result.metrics["best_epoch"] == 1
    assert result.metrics["best_val_loss"] == pytest.approx(seen[0]["val_loss"])
    history = read(result.run_dir, "history.json")
    assert len(history["val_loss"]) == 1 and len(history["loss"]) == 1
    assert len(progress.snapshot().batches) == 2 * 8  # no batch of a third epoch was trained


def test_train_on_synthetic_data_completes(tmp_path):
    result = train(
        TrainConfig(arch="dense", dense_units=(8,), epochs=2, batch_size=16, patience=0),
        RunStore(tmp_path),
        data=synthetic_data(),
    )
    assert result.status == "completed"
    assert set(p.name for p in result.run_dir.iterdir()) == RUN_FILES | {"snapshots"}
    assert snapshots.epochs(result.run_dir) == [0, 1, 2]  # untrained, then every epoch
    assert result.metrics["params"] == 784 * 8 + 8 + 8 * 10 + 10
    assert sum(map(sum, result.metrics["confusion_matrix"])) == 32


# --- real tiny runs on MNIST ----------------------------------------------------------


@pytest.mark.slow
@requires_data
def test_prepare_data_subset_split():
    config = TrainConfig(arch="dense", subset=500)
    d = prepare_data(config, DATA_DIR)
    assert d.x_train.shape == (400, 28, 28, 1) and d.x_val.shape == (100, 28, 28, 1)
    assert d.x_test.shape == (10_000, 28, 28, 1) and d.y_test.shape == (10_000,)
    for x in (d.x_train, d.x_val, d.x_test):
        assert x.dtype == np.float32 and 0.0 <= x.min() and x.max() <= 1.0
    assert set(np.unique(d.y_train)) == set(range(10))
    again = prepare_data(config, DATA_DIR)
    np.testing.assert_array_equal(d.y_train, again.y_train)  # the split is seeded


@pytest.mark.slow
@requires_data
def test_run_folder_is_complete():
    result, config, progress = shared_run("dense")
    run = result.run_dir
    assert result.status == "completed"
    assert RUN_FILES <= {p.name for p in run.iterdir()}
    assert not [p for p in run.iterdir() if p.name.startswith(".tmp-")]
    assert TrainConfig.from_dict(read(run, "config.json")) == config
    status = read(run, "status.json")
    assert status["status"] == "completed" and "test accuracy" in status["message"]

    m = read(run, "metrics.json")
    for key in (
        "test_accuracy",
        "test_loss",
        "confusion_matrix",
        "per_class_accuracy",
        "train_seconds",
        "params",
        "epochs_run",
    ):
        assert key in m, key
    cm = np.array(m["confusion_matrix"])
    assert cm.shape == (10, 10) and cm.sum() == 10_000
    assert m["test_accuracy"] == pytest.approx(np.trace(cm) / 10_000)
    assert m["test_accuracy"] > 0.5  # 400 images, 2 epochs: far better than chance
    assert np.isfinite(m["test_loss"]) and m["test_loss"] > 0
    np.testing.assert_allclose(m["per_class_accuracy"], np.diag(cm) / cm.sum(axis=1))
    assert m["params"] == 218_058 and m["epochs_run"] == 2 and m["train_seconds"] > 0
    assert m == result.metrics

    history = read(run, "history.json")
    assert set(history) == HISTORY_KEYS
    assert all(len(v) == 2 for v in history.values())
    assert m["best_val_loss"] == pytest.approx(min(history["val_loss"]))
    assert m["best_epoch"] == 1 + int(np.argmin(history["val_loss"]))
    recorded = progress.snapshot().history  # each callback timed the epochs itself
    assert {k: v for k, v in history.items() if k != "epoch_seconds"} == {
        k: v for k, v in recorded.items() if k != "epoch_seconds"
    }
    assert history["epoch_seconds"] == pytest.approx(recorded["epoch_seconds"], abs=0.1)

    predictions = read(run, "predictions.json")
    assert len(predictions) == 10_000 and set(predictions) <= set(range(10))
    assert np.bincount(predictions, minlength=10).tolist() == cm.sum(axis=0).tolist()

    s = progress.snapshot()
    assert s.status == "completed" and s.fraction == 1.0 and s.metrics == m
    assert s.run_dir == str(run) and not is_active(run)


@pytest.mark.slow
@requires_data
def test_saved_model_is_the_evaluated_one():
    result, config, _ = shared_run("dense")
    d = prepare_data(config, DATA_DIR)
    m = evaluate(load_model(result.run_dir), d.x_test, d.y_test)
    assert m["test_accuracy"] == pytest.approx(result.metrics["test_accuracy"], abs=1e-4)
    assert m["test_loss"] == pytest.approx(result.metrics["test_loss"], rel=1e-4)


@pytest.mark.slow
@requires_data
def test_same_seed_same_run(tmp_path, monkeypatch):
    built: list[list[np.ndarray]] = []
    real_build = training.build_model

    def recording_build(config, **kwargs):
        model = real_build(config, **kwargs)
        built.append([w.copy() for w in model.get_weights()])
        return model

    monkeypatch.setattr(training, "build_model", recording_build)
    store = RunStore(tmp_path)
    config = TrainConfig(arch="cnn", subset=300, epochs=2, patience=0, seed=7)
    runs = [train(config, store, data_dir=DATA_DIR) for _ in range(2)]
    other = train(config.replace(seed=8, epochs=1, subset=100), store, data_dir=DATA_DIR)

    for a, b in zip(built[0], built[1], strict=True):
        np.testing.assert_array_equal(a, b)
    assert any(not np.array_equal(a, b) for a, b in zip(built[0], built[2], strict=True))
    h1, h2 = (read(r.run_dir, "history.json") for r in runs)
    for key in ("loss", "accuracy", "val_loss", "val_accuracy"):
        np.testing.assert_allclose(h1[key], h2[key], rtol=1e-3, atol=1e-3)
    assert runs[0].metrics["test_accuracy"] == pytest.approx(
        runs[1].metrics["test_accuracy"], abs=2e-3
    )
    assert other.status == "completed"


@pytest.mark.slow
@requires_data
def test_early_stopping(tmp_path, monkeypatch):
    """Patience 1 stops one epoch after validation loss stops improving."""
    created: list[keras.callbacks.EarlyStopping] = []

    class WorseningEarlyStopping(keras.callbacks.EarlyStopping):
        """EarlyStopping that sees a validation loss rising after the first epoch."""

        def __init__(self, **kwargs):
            super().__init__(**kwargs)
            created.append(self)

        def on_epoch_end(self, epoch, logs=None):
            super().on_epoch_end(epoch, {**(logs or {}), "val_loss": 1.0 + epoch})

    monkeypatch.setattr(keras.callbacks, "EarlyStopping", WorseningEarlyStopping)
    config = TrainConfig(arch="dense", subset=200, epochs=10, patience=1)
    result = train(config, RunStore(tmp_path), data_dir=DATA_DIR)
    assert [c.patience for c in created] == [1]
    assert created[0].monitor == "val_loss"
    assert result.status == "completed"
    assert result.metrics["epochs_run"] == 2 and result.metrics["stopped_early"] is True
    assert len(read(result.run_dir, "history.json")["loss"]) == 2

    created.clear()
    off = train(config.replace(patience=0, epochs=2), RunStore(tmp_path), data_dir=DATA_DIR)
    assert created == [] and off.metrics["epochs_run"] == 2
    assert off.metrics["stopped_early"] is False


@pytest.mark.slow
@requires_data
def test_stop_from_another_thread_after_first_epoch(tmp_path):
    store = RunStore(tmp_path)
    progress = Progress()
    config = TrainConfig(arch="dense", subset=5000, epochs=50, patience=0)
    box: dict = {}

    def worker():
        box["result"] = train(config, store, data_dir=DATA_DIR, progress=progress)
        box["returned"] = time.monotonic()

    thread = threading.Thread(target=worker)
    thread.start()
    deadline = time.monotonic() + 120
    while progress.snapshot().epoch < 1 and thread.is_alive():
        assert time.monotonic() < deadline, "the first epoch never finished"
        time.sleep(0.005)
    asked = time.monotonic()
    progress.request_stop()
    steps_at_request = len(progress.snapshot().batches)
    thread.join(timeout=60)
    assert not thread.is_alive()

    result = box["result"]
    # at most the batch in flight is finished after the request (load-independent) ...
    assert len(progress.snapshot().batches) - steps_at_request <= 1
    # ... and the run (test-set evaluation included) returns within ~2 s on a machine that
    # is not oversubscribed; on a busy one the limit grows with the load
    load = os.getloadavg()[0] / (os.cpu_count() or 1)
    limit = 2.0 * max(1.0, load)
    assert box["returned"] - asked < limit, f"training did not stop promptly (load {load:.1f})"
    assert result.status == "stopped"
    assert (result.run_dir / "model.keras").is_file()
    assert 1 <= result.metrics["epochs_run"] < 50
    assert read(result.run_dir, "status.json")["status"] == "stopped"
    assert "kept the best checkpoint" in result.message
    history = read(result.run_dir, "history.json")
    assert len(history["loss"]) == result.metrics["epochs_run"]  # no partial epoch recorded
    assert all(np.isfinite(v) for v in history["val_loss"])
    assert load_model(result.run_dir).count_params() == 218_058


@pytest.mark.slow
@requires_data
def test_stop_during_first_epoch_keeps_no_model(tmp_path):
    store = RunStore(tmp_path)
    progress = Progress()
    config = TrainConfig(arch="cnn", subset=5000, epochs=3, patience=0)
    box: dict = {}
    thread = threading.Thread(
        target=lambda: box.update(result=train(config, store, data_dir=DATA_DIR, progress=progress))
    )
    thread.start()
    deadline = time.monotonic() + 120
    while progress.snapshot().step < 3 and thread.is_alive():
        assert time.monotonic() < deadline
        time.sleep(0.002)
    assert progress.snapshot().epoch == 0
    progress.request_stop()
    thread.join(timeout=60)
    result = box["result"]
    assert result.status == "stopped" and result.metrics is None
    assert result.message == "stopped before the first epoch finished: no model was kept"
    assert not (result.run_dir / "model.keras").exists()
    (info,) = store.list()
    assert info.status == "stopped" and info.message == result.message and not info.has_model
