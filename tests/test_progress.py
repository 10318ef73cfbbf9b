"""Tests for mnistkit.progress (Progress, Snapshot) and mnistkit.callbacks."""

from __future__ import annotations

import math
import threading
import types

import numpy as np
import pytest

from mnistkit import progress as progress_module
from mnistkit.progress import MAX_POINTS, SMOOTHING, Progress, Snapshot


class Clock:
    """A fake `time` module whose monotonic clock only moves when told."""

    def __init__(self, now: float = 100.0) -> None:
        self.now = now

    def monotonic(self) -> float:
        return self.now


@pytest.fixture
def clock(monkeypatch) -> Clock:
    c = Clock()
    monkeypatch.setattr(progress_module, "time", types.SimpleNamespace(monotonic=c.monotonic))
    return c


def snap(**changes) -> Snapshot:
    base = dict(
        status="running",
        epoch=0,
        epochs=4,
        step=0,
        steps_per_epoch=10,
        batches=[],
        history={},
        elapsed=0.0,
        eta=None,
        message="",
        run_dir=None,
        metrics=None,
    )
    return Snapshot(**{**base, **changes})


# --- Snapshot / Progress arithmetic ---------------------------------------------------


@pytest.mark.parametrize(
    "epoch, step, epochs, steps, expected",
    [
        (0, 0, 4, 10, 0.0),
        (1, 5, 4, 10, 15 / 40),
        (4, 0, 4, 10, 1.0),
        (5, 3, 4, 10, 1.0),  # never above 1
        (0, 0, 0, 0, 0.0),  # nothing planned
        (1, 0, 2, 0, 0.0),  # unknown steps per epoch: no division by zero
    ],
)
def test_snapshot_fraction(epoch, step, epochs, steps, expected):
    assert snap(epoch=epoch, step=step, epochs=epochs, steps_per_epoch=steps).fraction == (
        pytest.approx(expected)
    )


@pytest.mark.parametrize(
    "status, finished",
    [
        ("idle", False),
        ("queued", False),
        ("running", False),
        ("completed", True),
        ("stopped", True),
        ("failed", True),
        ("interrupted", True),
    ],
)
def test_snapshot_finished(status, finished):
    assert snap(status=status).finished is finished


def test_fraction_and_eta_from_progress(clock):
    p = Progress()
    p.begin(epochs=2, steps_per_epoch=10, run_dir="/runs/x")
    s = p.snapshot()
    assert (s.status, s.elapsed, s.eta, s.fraction, s.run_dir) == (
        "running",
        0.0,
        None,
        0,
        "/runs/x",
    )
    clock.now += 10.0
    p.add_batch(0, 5, {"loss": 1.0})
    s = p.snapshot()
    assert (s.epoch, s.step) == (0, 5)
    assert s.fraction == pytest.approx(0.25)
    assert s.elapsed == pytest.approx(10.0)
    assert s.eta == pytest.approx(10.0 / 0.5 * 1.5)  # 10 s per half epoch, 1.5 epochs left
    clock.now += 10.0
    p.add_epoch(0, {"loss": 0.5, "val_loss": 0.6})
    s = p.snapshot()
    assert (s.epoch, s.step, s.fraction) == (1, 0, 0.5)
    assert s.eta == pytest.approx(20.0)
    assert s.history == {"loss": [0.5], "val_loss": [0.6]}


def test_finish_freezes_elapsed_and_clears_eta(clock):
    p = Progress()
    p.begin(3, 4)
    clock.now += 2.0
    p.add_batch(0, 1, {"loss": 1.0})
    p.finish("stopped", "asked to stop", metrics={"test_accuracy": 0.5})
    clock.now += 50.0
    s = p.snapshot()
    assert (s.status, s.message, s.eta) == ("stopped", "asked to stop", None)
    assert s.elapsed == pytest.approx(2.0)
    assert s.metrics == {"test_accuracy": 0.5} and s.finished


def test_batches_are_smoothed():
    p = Progress()
    p.begin(1, 4)
    for step, loss in enumerate([1.0, 0.0, 0.0], start=1):
        p.add_batch(0, step, {"loss": loss})
    b = p.snapshot().batches
    assert [pt["epoch"] for pt in b] == pytest.approx([0.25, 0.5, 0.75])
    assert [pt["loss"] for pt in b] == pytest.approx([1.0, SMOOTHING, SMOOTHING**2])


def test_thinning_keeps_first_and_last():
    p = Progress()
    p.begin(1, 5000)
    n = 4 * MAX_POINTS + 7
    for i in range(n):
        p.add_batch(0, i + 1, {"loss": float(i)})
    b = p.snapshot().batches
    assert MAX_POINTS // 2 < len(b) <= MAX_POINTS + 1
    assert b[0]["epoch"] == pytest.approx(1 / 5000)
    assert b[-1]["epoch"] == pytest.approx(n / 5000)  # the newest point is always shown
    epochs = [pt["epoch"] for pt in b]
    assert epochs == sorted(epochs) and len(set(epochs)) == len(epochs)


def test_no_thinning_below_max_points():
    p = Progress()
    n = MAX_POINTS - 1
    p.begin(1, n)
    for i in range(n):
        p.add_batch(0, i + 1, {"loss": 1.0})
    assert len(p.snapshot().batches) == n


def test_snapshot_is_a_copy():
    p = Progress()
    p.begin(1, 2)
    p.add_batch(0, 1, {"loss": 1.0})
    p.add_epoch(0, {"loss": 1.0})
    s = p.snapshot()
    s.history["loss"].append(99.0)
    s.batches[0]["loss"] = 99.0
    again = p.snapshot()
    assert again.history == {"loss": [1.0]} and again.batches[0]["loss"] == 1.0


def test_update_sets_public_fields_only():
    p = Progress()
    p.update(status="queued", queue_position=2, message="wait")
    s = p.snapshot()
    assert (s.status, s.queue_position, s.message) == ("queued", 2, "wait")
    with pytest.raises(AttributeError):
        p.update(_epoch=3)
    with pytest.raises(AttributeError):
        p.update(no_such_field=1)
    p.begin(1, 1)
    assert p.snapshot().queue_position is None  # starting clears the queue position


def test_stop_event():
    p = Progress()
    assert not p.stop_requested
    p.request_stop()
    assert p.stop_requested and p.stop_event.is_set()


def test_threads_write_and_read_concurrently():
    p = Progress()
    epochs, steps = 20, 200
    p.begin(epochs, steps)
    errors: list[BaseException] = []
    done = threading.Event()

    def writer():
        try:
            for e in range(epochs):
                for s in range(1, steps + 1):
                    p.add_batch(e, s, {"loss": 1.0 / (s + e), "accuracy": 0.5})
                p.add_epoch(e, {"loss": 1.0 / (e + 1), "val_loss": 1.0})
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)
        finally:
            done.set()

    def reader():
        last_epochs = -1
        try:
            while not done.is_set():
                s = p.snapshot()
                n = len(s.history.get("loss", []))
                assert n >= last_epochs  # history only grows
                assert len(s.history.get("val_loss", [])) == n  # an epoch is added whole
                assert 0.0 <= s.fraction <= 1.0
                last_epochs = n
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=writer)] + [
        threading.Thread(target=reader) for _ in range(2)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert not errors, errors
    final = p.snapshot()
    assert len(final.history["loss"]) == epochs and final.epoch == epochs
    assert final.fraction == 1.0


# --- callbacks ------------------------------------------------------------------------

keras = pytest.importorskip("keras")
from mnistkit.callbacks import BestCheckpoint, RecorderCallback  # noqa: E402
from tests.helpers import images, labels, tiny_model  # noqa: E402


@pytest.fixture
def model():
    m = tiny_model(seed=0, hidden=4)
    m.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    return m


@pytest.fixture
def raw_progress(monkeypatch) -> Progress:
    """A Progress whose batch points are the raw recovered values (no smoothing)."""
    monkeypatch.setattr(progress_module, "SMOOTHING", 0.0)
    p = Progress()
    p.begin(2, 4)
    return p


def running_means(values):
    return list(np.cumsum(values) / np.arange(1, len(values) + 1))


def test_recorder_recovers_per_batch_losses(model, raw_progress):
    cb = RecorderCallback(raw_progress)
    cb.set_model(model)
    losses = [2.0, 1.0, 0.5, 0.25]
    accs = [0.0, 0.5, 0.75, 1.0]
    for epoch in range(2):
        cb.on_epoch_begin(epoch)
        for i, (m, a) in enumerate(zip(running_means(losses), running_means(accs), strict=True)):
            cb.on_train_batch_end(i, {"loss": m, "accuracy": a, "other": 7.0})
    b = raw_progress.snapshot().batches
    assert [pt["loss"] for pt in b] == pytest.approx(losses * 2)
    assert [pt["accuracy"] for pt in b] == pytest.approx(accs * 2)
    assert all(set(pt) == {"epoch", "loss", "accuracy"} for pt in b)
    assert [pt["epoch"] for pt in b[:4]] == pytest.approx([0.25, 0.5, 0.75, 1.0])
    assert [pt["epoch"] for pt in b[4:]] == pytest.approx([1.25, 1.5, 1.75, 2.0])


def test_recorder_with_steps_per_execution(model, raw_progress):
    """Keras reports every k-th batch: each point is the mean loss of the k new batches."""
    cb = RecorderCallback(raw_progress)
    cb.set_model(model)
    losses = [4.0, 2.0, 1.0, 1.0, 0.5, 0.5]
    means = running_means(losses)
    cb.on_epoch_begin(0)
    cb.on_train_batch_end(2, {"loss": means[2]})
    cb.on_train_batch_end(5, {"loss": means[5]})
    b = raw_progress.snapshot().batches
    assert [pt["loss"] for pt in b] == pytest.approx([7.0 / 3, 2.0 / 3])
    assert raw_progress.snapshot().step == 6


def test_recorder_stops_in_the_same_batch(model):
    p = Progress()
    p.begin(1, 10)
    cb = RecorderCallback(p)
    cb.set_model(model)
    cb.on_epoch_begin(0)
    cb.on_train_batch_end(0, {"loss": 1.0})
    assert not model.stop_training
    p.request_stop()
    cb.on_train_batch_end(1, {"loss": 1.0})
    assert model.stop_training is True and cb.stopped_mid_epoch
    cb.on_test_batch_end(0, {})
    assert model.stop_evaluating is True
    logs = {"loss": 1.0, "val_loss": 0.1, "val_accuracy": 0.9}
    cb.on_epoch_end(0, logs)
    # the partial epoch is hidden from the checkpoint and early stopping, and not recorded
    assert logs["val_loss"] == math.inf and "val_accuracy" not in logs
    assert p.snapshot().history == {}


def test_recorder_stop_during_validation_hides_the_epoch(model):
    """A stop while validating cuts the pass short: that epoch's val_* must not count."""
    p = Progress()
    p.begin(2, 1)
    cb = RecorderCallback(p)
    cb.set_model(model)
    cb.on_epoch_begin(0)
    cb.on_train_batch_end(0, {"loss": 1.0})  # the training part of the epoch is complete
    assert not model.stop_training
    p.request_stop()
    cb.on_test_batch_end(0, {"loss": 0.1})
    assert model.stop_evaluating is True
    assert model.stop_training is True  # no extra batch of the next epoch
    logs = {"loss": 1.0, "val_loss": 0.1, "val_accuracy": 1.0}
    cb.on_epoch_end(0, logs)
    assert logs["val_loss"] == math.inf and "val_accuracy" not in logs
    assert p.snapshot().history == {}


def test_recorder_epoch_end_records_numbers_and_seconds(model):
    p = Progress()
    p.begin(1, 1)
    cb = RecorderCallback(p)
    cb.set_model(model)
    cb.on_epoch_begin(0)
    logs = {"loss": np.float32(0.5), "val_loss": 0.25, "note": "text"}
    cb.on_epoch_end(0, logs)
    h = p.snapshot().history
    assert h["loss"] == [0.5] and h["val_loss"] == [0.25] and "note" not in h
    assert len(h["epoch_seconds"]) == 1 and h["epoch_seconds"][0] >= 0
    assert "epoch_seconds" in logs  # later callbacks (history writer) see it too


def test_recorder_stops_a_real_fit_within_one_batch(model):
    p = Progress()
    p.begin(3, 10)

    class StopAt(keras.callbacks.Callback):
        def on_train_batch_begin(self, batch, logs=None):
            if batch == 3:
                p.request_stop()

    seen: list[int] = []
    counter = keras.callbacks.LambdaCallback(on_train_batch_end=lambda b, logs: seen.append(b))
    model.fit(
        images(80),
        labels(80),
        batch_size=8,
        epochs=3,
        verbose=0,
        callbacks=[StopAt(), RecorderCallback(p), counter],
    )
    assert seen == [0, 1, 2, 3]  # batch 3 was the last one
    s = p.snapshot()
    assert (s.epoch, s.step, len(s.batches)) == (0, 4, 4)
    assert s.history == {}


def test_best_checkpoint_saves_only_on_improvement(model, tmp_path):
    path = tmp_path / "model.keras"
    cb = BestCheckpoint(path)
    cb.set_model(model)
    cb.on_epoch_end(0, {"loss": 1.0})  # no val_loss: nothing to compare
    assert not path.exists() and cb.best_weights is None

    cb.on_epoch_end(0, {"val_loss": 1.0})
    assert path.is_file() and (cb.best, cb.best_epoch) == (1.0, 0)
    saved = path.read_bytes()
    first_weights = [w.copy() for w in model.get_weights()]

    model.set_weights([w + 1.0 for w in first_weights])
    cb.on_epoch_end(1, {"val_loss": 1.5})
    cb.on_epoch_end(2, {"val_loss": 1.0})  # equal is not better
    assert path.read_bytes() == saved and (cb.best, cb.best_epoch) == (1.0, 0)
    for kept, first in zip(cb.best_weights, first_weights, strict=True):
        np.testing.assert_array_equal(kept, first)

    cb.on_epoch_end(3, {"val_loss": 0.5})
    assert (cb.best, cb.best_epoch) == (0.5, 3)
    loaded = keras.saving.load_model(path, compile=False)
    for a, b in zip(loaded.get_weights(), model.get_weights(), strict=True):
        np.testing.assert_array_equal(a, b)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model.keras"]  # no .tmp- left


def test_best_checkpoint_writes_atomically(model, tmp_path, monkeypatch):
    from mnistkit import atomic

    path = tmp_path / "model.keras"
    replaced: list[tuple[str, str]] = []
    real_replace = atomic.os.replace

    def spy(src, dst):
        replaced.append((str(src), str(dst)))
        real_replace(src, dst)

    monkeypatch.setattr(atomic.os, "replace", spy)
    cb = BestCheckpoint(path)
    cb.set_model(model)
    cb.on_epoch_end(0, {"val_loss": 1.0})
    ((src, dst),) = replaced
    assert dst == str(path)
    assert src != dst and src.startswith(str(tmp_path / ".tmp-")) and src.endswith(".keras")
    good = path.read_bytes()

    def broken_save(*args, **kwargs):
        with open(args[0], "wb") as f:  # a half-written temporary file ...
            f.write(b"partial")
        raise OSError("disk full")

    monkeypatch.setattr(model, "save", broken_save)
    with pytest.raises(OSError, match="disk full"):
        cb.on_epoch_end(1, {"val_loss": 0.5})
    assert path.read_bytes() == good  # ... never replaces the good model
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model.keras"]
