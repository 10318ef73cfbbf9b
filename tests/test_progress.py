"""Tests for mnistkit.progress (Progress, Snapshot)."""

from __future__ import annotations

import threading
import types

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
    """The estimate is measured from the first recorded step on: the start-up before it (data,
    TensorFlow tracing: 20 s here) would make the first estimates far too long."""
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
    clock.now += 20.0  # start-up
    p.add_batch(0, 1, {"loss": 1.0})
    assert p.snapshot().eta is None  # nothing measured yet: no wild guess
    clock.now += 4.0
    p.add_batch(0, 5, {"loss": 1.0})
    s = p.snapshot()
    assert (s.epoch, s.step) == (0, 5)
    assert s.fraction == pytest.approx(0.25)
    assert s.elapsed == pytest.approx(24.0)
    assert s.eta == pytest.approx(4.0 / 0.4 * 1.5)  # 1 s per step, 15 steps left
    clock.now += 6.0  # 5 more steps and the validation pass
    p.add_epoch(0, {"loss": 0.5, "val_loss": 0.6})
    s = p.snapshot()
    assert (s.epoch, s.step, s.fraction) == (1, 0, 0.5)
    assert s.eta == pytest.approx(10.0 / 0.9)  # one epoch at the measured 10 s per 0.9 epoch
    assert s.history == {"loss": [0.5], "val_loss": [0.6]}


def test_the_step_never_passes_the_epochs_steps():
    """With 16 steps per execution Keras ends an epoch of 375 steps at "384"."""
    p = Progress()
    p.begin(epochs=1, steps_per_epoch=375)
    p.add_batch(0, 384, {"loss": 1.0})
    assert p.snapshot().step == 375


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
    p.begin(1, 10_000)
    n = 4 * MAX_POINTS + 7
    for i in range(n):
        p.add_batch(0, i + 1, {"loss": float(i)})
    b = p.snapshot().batches
    assert MAX_POINTS // 2 < len(b) <= MAX_POINTS + 1
    assert b[0]["epoch"] == pytest.approx(1 / 10_000)
    assert b[-1]["epoch"] == pytest.approx(n / 10_000)  # the newest point is always shown
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
