"""How long training takes on this machine, measured by the runs it has already trained.

A number from another machine is wrong here: the same CNN lesson took 21 s on a quiet laptop
and 76-168 s on a busy 2-core classroom server. So the app measures itself: each epoch's
`epoch_seconds` is in a run's history, and the newest finished run of the same architecture
gives the seconds per training image per epoch.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from mnistkit.config import TrainConfig
from mnistkit.runs import RunInfo

MNIST_TRAIN = 60_000  # training images before the validation split


@dataclass(frozen=True)
class Estimate:
    """`seconds` for a config, measured on `run` (a run this machine trained)."""

    seconds: float
    run: RunInfo


def train_images(config: TrainConfig) -> int:
    """How many images one epoch trains on (the subset, less its validation share)."""
    total = MNIST_TRAIN if config.subset is None else min(config.subset, MNIST_TRAIN)
    return max(1, round(total * (1.0 - config.val_split)))


def estimate(config: TrainConfig, runs: Iterable[RunInfo]) -> Estimate | None:
    """Seconds `config` will take if this machine is as busy as for its newest finished run
    of the same architecture; None when it has trained none yet."""
    for info in runs:  # newest first
        if info.broken or info.arch != config.arch or info.status not in ("completed", "stopped"):
            continue
        seconds = [s for s in (info.history or {}).get("epoch_seconds") or [] if s]
        try:
            done = TrainConfig.from_dict(info.config or {})
        except (TypeError, ValueError):
            continue
        if not seconds:
            continue
        per_image = sum(seconds) / len(seconds) / train_images(done)
        return Estimate(per_image * train_images(config) * config.epochs, info)
    return None
