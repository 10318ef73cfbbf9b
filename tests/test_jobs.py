"""Tests for mnistkit.jobs: the bounded FIFO JobQueue and TrainingJob threads."""

from __future__ import annotations

import threading
import time

import pytest

from mnistkit import jobs
from mnistkit.config import TrainConfig
from mnistkit.jobs import JobQueue, TrainingJob, default_max_jobs, find_job, shared_queue
from mnistkit.progress import Progress
from mnistkit.runs import RunStore
from tests.helpers import DATA_DIR, requires_data, wait_until


class FakeJob:
    """What JobQueue needs from a job: a Progress."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.progress = Progress()

    def __repr__(self) -> str:
        return f"FakeJob({self.name})"


def acquire_in_thread(queue: JobQueue, job: FakeJob, results: dict) -> threading.Thread:
    thread = threading.Thread(target=lambda: results.__setitem__(job.name, queue.acquire(job)))
    thread.start()
    return thread


def position(job: FakeJob) -> int | None:
    return job.progress.snapshot().queue_position


# --- JobQueue with fake jobs ----------------------------------------------------------


def test_one_slot_three_jobs_positions_and_cancel():
    queue = JobQueue(slots=1)
    a, b, c = FakeJob("a"), FakeJob("b"), FakeJob("c")
    results: dict[str, bool] = {}
    assert queue.acquire(a) is True
    assert (queue.running, queue.waiting) == (1, 0)

    tb = acquire_in_thread(queue, b, results)
    wait_until(lambda: queue.waiting == 1, what="b queued")
    tc = acquire_in_thread(queue, c, results)
    wait_until(lambda: queue.waiting == 2, what="c queued")
    wait_until(lambda: (position(b), position(c)) == (1, 2), what="positions 1, 2")
    assert results == {}  # both still waiting

    queue.release(a)
    tb.join(timeout=5)
    assert results == {"b": True}
    assert (queue.running, queue.waiting) == (1, 1)
    wait_until(lambda: position(c) == 1, what="c moves up")

    c.progress.request_stop()  # cancel while queued
    queue.wake()
    tc.join(timeout=5)
    assert results == {"b": True, "c": False}
    assert (queue.running, queue.waiting) == (1, 0)
    queue.release(b)
    assert queue.running == 0


def test_cancel_is_noticed_without_wake():
    """Even if nobody calls wake(), a cancelled waiter leaves within the poll interval."""
    queue = JobQueue(slots=1)
    holder, waiter = FakeJob("holder"), FakeJob("waiter")
    queue.acquire(holder)
    results: dict[str, bool] = {}
    t = acquire_in_thread(queue, waiter, results)
    wait_until(lambda: queue.waiting == 1)
    waiter.progress.request_stop()
    t.join(timeout=3)
    assert results == {"waiter": False} and queue.waiting == 0


def test_cancelled_before_acquire_never_runs():
    queue = JobQueue(slots=1)
    job = FakeJob("x")
    job.progress.request_stop()
    assert queue.acquire(job) is False
    assert (queue.running, queue.waiting) == (0, 0)


def test_fifo_order_with_one_slot():
    queue = JobQueue(slots=1)
    first = FakeJob("first")
    queue.acquire(first)
    order: list[str] = []
    waiters = [FakeJob(f"j{i}") for i in range(5)]
    threads = []

    def run(job):
        assert queue.acquire(job)
        order.append(job.name)
        time.sleep(0.01)
        queue.release(job)

    for i, job in enumerate(waiters):
        t = threading.Thread(target=run, args=(job,))
        t.start()
        threads.append(t)
        wait_until(lambda n=i + 1: queue.waiting == n)
    assert [position(j) for j in waiters] == [1, 2, 3, 4, 5]
    queue.release(first)
    for t in threads:
        t.join(timeout=10)
    assert order == [j.name for j in waiters]
    assert (queue.running, queue.waiting) == (0, 0)


def test_two_slots_admit_two():
    queue = JobQueue(slots=2)
    a, b, c = FakeJob("a"), FakeJob("b"), FakeJob("c")
    assert queue.acquire(a) and queue.acquire(b)
    results: dict[str, bool] = {}
    t = acquire_in_thread(queue, c, results)
    wait_until(lambda: position(c) == 1)
    queue.release(a)
    t.join(timeout=5)
    assert results == {"c": True} and queue.running == 2


@pytest.mark.parametrize(
    "value, expected",
    [("3", 3), ("1", 1), ("0", None), ("-2", None), ("many", None), ("", None)],
)
def test_default_max_jobs(monkeypatch, value, expected):
    monkeypatch.setenv(jobs.MAX_JOBS_ENV, value)
    monkeypatch.setattr(jobs.os, "cpu_count", lambda: 6)
    assert default_max_jobs() == (expected if expected is not None else 3)
    monkeypatch.setattr(jobs.os, "cpu_count", lambda: None)
    assert default_max_jobs() == (expected if expected is not None else 1)


def test_shared_queue_is_one_per_process():
    assert shared_queue() is shared_queue()
    assert JobQueue().slots == default_max_jobs()
    assert JobQueue(slots=4).slots == 4


# --- TrainingJob ----------------------------------------------------------------------


def test_stop_while_queued_creates_no_run(tmp_path):
    queue = JobQueue(slots=1)
    blocker = FakeJob("blocker")
    queue.acquire(blocker)
    store = RunStore(tmp_path / "runs")
    job = TrainingJob(TrainConfig(arch="dense", epochs=1), store, queue=queue).start()
    wait_until(lambda: job.snapshot().queue_position == 1, what="job queued")
    s = job.snapshot()
    assert s.status == "queued" and not s.finished and job.alive
    assert find_job(job.id) is job

    job.stop()
    job.join(timeout=5)
    assert not job.alive
    s = job.snapshot()
    assert s.status == "stopped" and "cancelled" in s.message and s.queue_position is None
    assert s.run_dir is None and job.error is None
    assert store.list() == [] and not (tmp_path / "runs").exists()
    assert (queue.running, queue.waiting) == (1, 0)
    queue.release(blocker)


def test_job_ids_are_unique_secrets(tmp_path):
    store = RunStore(tmp_path)
    a = TrainingJob(TrainConfig(), store, queue=JobQueue(1))
    b = TrainingJob(TrainConfig(), store, queue=JobQueue(1))
    assert a.id != b.id and len(a.id) >= 20
    assert find_job(a.id) is a and find_job(b.id) is b
    assert find_job("no-such-job") is None
    assert a.snapshot().status == "idle" and a.snapshot().epochs == 20


def test_failing_job_records_error(tmp_path):
    empty = tmp_path / "empty"
    empty.mkdir()
    store = RunStore(tmp_path / "runs")
    queue = JobQueue(slots=1)
    job = TrainingJob(TrainConfig(arch="dense"), store, data_dir=empty, queue=queue).start()
    job.join(timeout=60)
    assert not job.alive
    s = job.snapshot()
    assert s.status == "failed" and s.message.startswith("no MNIST data in ")
    assert type(job.error).__name__ == "DataError"
    assert store.list() == []  # no "failed" run folder for data that cannot be read
    assert queue.running == 0  # the slot is given back after a failure


@pytest.mark.slow
@requires_data
def test_training_job_end_to_end(tmp_path):
    queue = JobQueue(slots=1)
    store = RunStore(tmp_path)
    config = TrainConfig(arch="dense", subset=300, epochs=1, patience=0)
    first = TrainingJob(config, store, name="first", data_dir=DATA_DIR, queue=queue)
    second = TrainingJob(config, store, name="second", data_dir=DATA_DIR, queue=queue)
    first.start()
    second.start()
    seen_queued = False
    deadline = time.monotonic() + 120
    while first.alive or second.alive:
        assert time.monotonic() < deadline
        # second first: if it is running, first must already have finished and released
        s2, s1 = second.snapshot(), first.snapshot()
        assert not (s1.status == "running" and s2.status == "running")  # one slot
        seen_queued |= s2.queue_position == 1 and s1.status == "running"
        time.sleep(0.01)
    for job in (first, second):
        s = job.snapshot()
        assert s.status == "completed", s.message
        assert job.error is None and s.metrics and s.metrics["epochs_run"] == 1
        assert s.run_dir and (store.root / s.run_dir).joinpath("model.keras").is_file()
        assert find_job(job.id) is job
    assert seen_queued
    assert {i.name for i in store.list()} == {"first", "second"}
    assert (queue.running, queue.waiting) == (0, 0)


@pytest.mark.slow
@requires_data
def test_stop_a_running_job(tmp_path):
    job = TrainingJob(
        TrainConfig(arch="dense", subset=5000, epochs=50, patience=0),
        RunStore(tmp_path),
        data_dir=DATA_DIR,
        queue=JobQueue(slots=1),
    ).start()
    wait_until(lambda: job.snapshot().epoch >= 1 or not job.alive, timeout=120)
    job.stop()
    job.join(timeout=30)
    s = job.snapshot()
    assert s.status == "stopped" and s.metrics is not None and s.epoch < 50
    assert job.error is None
