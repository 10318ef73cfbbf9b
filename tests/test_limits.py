"""Lesson limits: stored in the runs folder, enforced when a job is created."""

from __future__ import annotations

import threading

import pytest

from mnistkit.config import TrainConfig
from mnistkit.limits import LessonLimits, LimitError, admit, check_config, load_limits, save_limits
from mnistkit.ownership import Actor

ADA = Actor("a" * 32, name="Ada", teacher_code_set=True)
TEACHER = Actor("t" * 32, teacher=True, teacher_code_set=True)


def test_round_trip_and_a_damaged_file(tmp_path):
    limits = LessonLimits(
        max_epochs=3, max_images=2_000, presets=("quick", "nope"), hidden=("x", "seed")
    )
    assert limits.presets == ("quick",) and limits.hidden == ("seed",)
    save_limits(tmp_path, limits)
    assert load_limits(tmp_path) == limits
    (tmp_path / ".lesson-limits.json").write_text('{"max_epochs": -4}')
    assert load_limits(tmp_path) == LessonLimits()  # refused values: the defaults, no crash
    (tmp_path / ".lesson-limits.json").write_text("not json")
    assert load_limits(tmp_path) == LessonLimits()


@pytest.mark.parametrize(
    ("config", "words"),
    [
        (TrainConfig(epochs=20), "at most 5 epochs, not 20"),
        (TrainConfig(epochs=1, subset=None), "at most 5,000 training images, not 60,000"),
        (TrainConfig(epochs=1, subset=10_000), "not 10,000"),
        (TrainConfig(epochs=1, subset=500, batch_size=16), "batches of at least 32, not 16"),
        (TrainConfig(epochs=1, subset=500, batch_size=512), "batches of at most 256, not 512"),
    ],
)
def test_caps_refuse_in_one_clause(config, words):
    limits = LessonLimits(max_epochs=5, max_images=5_000, min_batch_size=32, max_batch_size=256)
    with pytest.raises(LimitError, match=words) as caught:
        check_config(config, limits)
    assert str(caught.value)[0].islower() and not str(caught.value).endswith(".")


def test_admit_counts_the_owners_jobs_and_spares_the_teacher():
    made = []
    limits = LessonLimits(max_epochs=2, jobs_per_student=1)
    small, big = TrainConfig(epochs=1), TrainConfig(epochs=9)
    assert admit(small, ADA, limits, active_jobs=lambda o: 0, create=lambda: made.append(1)) is None
    with pytest.raises(LimitError, match="already have 1 training queued or running"):
        admit(small, ADA, limits, active_jobs=lambda o: 1, create=lambda: made.append(2))
    with pytest.raises(LimitError, match="at most 2 epochs"):
        admit(big, ADA, limits, active_jobs=lambda o: 0, create=lambda: made.append(3))
    admit(big, TEACHER, limits, active_jobs=lambda o: 5, create=lambda: made.append(4))
    assert made == [1, 4]
    with pytest.raises(LimitError, match="give your name"):
        admit(
            small,
            Actor("b" * 32),
            LessonLimits(require_name=True),
            active_jobs=lambda o: 0,
            create=lambda: None,
        )


def test_two_tabs_pressing_start_at_once_get_one_job():
    """The count and the creation happen under one lock."""
    jobs: list[int] = []
    barrier = threading.Barrier(8)
    refused = []

    def press() -> None:
        barrier.wait()
        try:
            admit(
                TrainConfig(epochs=1),
                ADA,
                LessonLimits(),
                active_jobs=lambda o: len(jobs),
                create=lambda: jobs.append(1),
            )
        except LimitError:
            refused.append(1)

    threads = [threading.Thread(target=press) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(jobs) == 1 and len(refused) == 7
