"""The lesson's limits: caps on students' runs and which controls they see.

The teacher sets them on the teacher's page; they live in the runs folder (``LIMITS_FILE``,
written atomically) so every session and a restarted server read the same ones. `admit`
enforces them when a job is created, whatever the page's widgets allowed: a scripted value
beyond a cap is refused like a typed one. The teacher is never capped. Standard library only.
"""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Callable
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any, TypeVar

from mnistkit.atomic import atomic_write_json
from mnistkit.config import PRESETS, TrainConfig
from mnistkit.errors import MnistkitError
from mnistkit.ownership import Actor

LIMITS_FILE = ".lesson-limits.json"  # hidden: run listings skip it
ALL_IMAGES = 60_000
# The Train page's controls a teacher may hide (TrainConfig fields, plus the preset picker).
CONTROLS = (
    "preset",
    "arch",
    "epochs",
    "batch_size",
    "optimizer",
    "learning_rate",
    "lr_schedule",
    "seed",
    "activation",
    "dropout",
    "subset",
    "patience",
    "augment",
)

T = TypeVar("T")


class LimitError(MnistkitError):
    """A job the lesson's limits refuse; the message says which limit, in one clause."""


@dataclass(frozen=True)
class LessonLimits:
    """Caps for students' runs (None: no cap) and what the Train page shows them."""

    max_epochs: int | None = None
    max_images: int | None = None  # training images (the subset; None = all 60 000)
    min_batch_size: int | None = None  # small batches make many steps: slow for everyone
    max_batch_size: int | None = None
    jobs_per_student: int = 1  # unfinished jobs (queued or training) per owner, all tabs
    presets: tuple[str, ...] | None = None  # preset ids offered; None = all
    hidden: tuple[str, ...] = ()  # CONTROLS students do not see
    require_name: bool = False  # students must give a display name before training

    def __post_init__(self) -> None:
        for name in ("max_epochs", "max_images", "min_batch_size", "max_batch_size"):
            value = getattr(self, name)
            if value is not None and (type(value) is not int or value < 1):
                raise ValueError(f"{name} must be a positive whole number or None, not {value!r}")
        if type(self.jobs_per_student) is not int or not 1 <= self.jobs_per_student <= 10:
            raise ValueError("jobs_per_student must be a whole number from 1 to 10")
        if self.presets is not None:
            object.__setattr__(self, "presets", tuple(p for p in self.presets if p in PRESETS))
        object.__setattr__(self, "hidden", tuple(c for c in self.hidden if c in CONTROLS))
        object.__setattr__(self, "require_name", bool(self.require_name))

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> LessonLimits:
        """Limits from JSON-ish data; unknown keys are ignored, lists become tuples."""
        known = {f.name for f in fields(cls)}
        values = {k: v for k, v in data.items() if k in known}
        for key in ("presets", "hidden"):
            if isinstance(values.get(key), list):
                values[key] = tuple(str(v) for v in values[key])
        return cls(**values)


def load_limits(root: str | os.PathLike[str]) -> LessonLimits:
    """The lesson's limits from the runs folder; defaults when none are set or the file is
    unreadable (a damaged file must not stop the lesson)."""
    try:
        data = json.loads((Path(root) / LIMITS_FILE).read_text(encoding="utf-8"))
        return LessonLimits.from_dict(data) if isinstance(data, dict) else LessonLimits()
    except (OSError, ValueError, TypeError):
        return LessonLimits()


def save_limits(root: str | os.PathLike[str], limits: LessonLimits) -> None:
    """Write the lesson's limits (atomically) for every session to read."""
    Path(root).mkdir(parents=True, exist_ok=True)
    atomic_write_json(Path(root) / LIMITS_FILE, limits.to_dict())


def check_config(config: TrainConfig, limits: LessonLimits) -> None:
    """Raise `LimitError` naming the first cap the config goes beyond."""
    images = ALL_IMAGES if config.subset is None else min(config.subset, ALL_IMAGES)
    if limits.max_epochs is not None and config.epochs > limits.max_epochs:
        raise LimitError(
            f"this lesson allows at most {limits.max_epochs} epochs, not {config.epochs}"
        )
    if limits.max_images is not None and images > limits.max_images:
        raise LimitError(
            f"this lesson allows at most {limits.max_images:,} training images, not {images:,}"
        )
    if limits.min_batch_size is not None and config.batch_size < limits.min_batch_size:
        raise LimitError(
            f"this lesson allows batches of at least {limits.min_batch_size}, "
            f"not {config.batch_size}"
        )
    if limits.max_batch_size is not None and config.batch_size > limits.max_batch_size:
        raise LimitError(
            f"this lesson allows batches of at most {limits.max_batch_size}, "
            f"not {config.batch_size}"
        )


_admit_lock = threading.Lock()


def admit(
    config: TrainConfig,
    actor: Actor,
    limits: LessonLimits,
    *,
    active_jobs: Callable[[str], int],
    create: Callable[[], T],
) -> T:
    """Create a job (``create()``) if the limits allow it for ``actor``, else `LimitError`.

    ``active_jobs(owner_id)`` counts the owner's unfinished jobs; the count and the creation
    happen under one lock, so two tabs pressing Start at once cannot both slip through.
    """
    with _admit_lock:
        if not actor.teacher:
            if limits.require_name and not actor.name:
                raise LimitError("give your name in the sidebar first: this lesson asks for it")
            check_config(config, limits)
            running = active_jobs(actor.owner_id)
            if running >= limits.jobs_per_student:
                n = limits.jobs_per_student
                raise LimitError(
                    f"you already have {running} training{'s' if running != 1 else ''} "
                    f"queued or running (this lesson allows {n} at once): stop one first"
                )
        return create()
