"""A finished run that did not learn is named as such (issue 13, item 8), and the app's time
estimates come from this machine's own runs (item 9)."""

from __future__ import annotations

import math

import pytest

from mnistkit.config import TrainConfig
from mnistkit.outcome import judge
from mnistkit.runs import RunInfo
from mnistkit.speed import estimate, train_images


@pytest.mark.parametrize(
    "metrics, history, verdict",
    [
        ({"test_accuracy": 0.9911, "test_loss": 0.03}, {"loss": [0.3, 0.05]}, None),
        ({"test_accuracy": 0.0992, "test_loss": 5890.0}, {"loss": [880.0, 5890.0]}, "diverged"),
        ({"test_accuracy": 0.0992, "test_loss": 2.30}, {"loss": [2.31, 2.30]}, "guessing"),
        ({"test_accuracy": 0.5, "test_loss": math.nan}, {}, "diverged"),
        (None, None, None),
    ],
)
def test_judge(metrics, history, verdict):
    assert judge(metrics, history) == verdict


def _run(arch: str, seconds: list[float], subset: int | None, status: str = "completed"):
    config = TrainConfig(arch=arch, subset=subset).to_dict()
    return RunInfo(
        run_id=f"r-{arch}",
        path=None,
        status=status,
        name=f"my {arch}",
        created="",
        config=config,
        history={"epoch_seconds": seconds},
    )


def test_estimate_scales_this_machines_newest_run_of_the_same_kind():
    runs = [
        _run("dense", [1.0], 1000),
        _run("cnn", [30.0, 20.0], 10_000),  # 25 s per epoch of 8 000 images
        _run("cnn", [1.0], 10_000),  # older: not used
    ]
    planned = TrainConfig(arch="cnn", epochs=4, subset=None)  # 48 000 images
    guess = estimate(planned, runs)
    assert guess.run is runs[1]
    assert guess.seconds == pytest.approx(25.0 / 8_000 * 48_000 * 4)
    assert train_images(planned) == 48_000


def test_no_estimate_without_a_run_measured_here():
    assert estimate(TrainConfig(arch="cnn"), [_run("dense", [1.0], 500)]) is None
    assert estimate(TrainConfig(arch="cnn"), [_run("cnn", [1.0], 500, "failed")]) is None
