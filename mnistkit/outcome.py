"""Did a finished run learn? A reason code when it plainly did not (the words are in the UI).

A "completed" run only means the epochs ran. A learning rate far too high makes the loss
explode and leaves the model guessing (lr 1.0 with Adam: loss 5 890, test accuracy 9.92 %,
measured here); such a run must not be reported as a success.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Literal

GUESSING = 0.2  # test accuracy at or below this is barely better than guessing (0.1)
EXPLODED = 10.0  # a final loss above this (a fresh model starts near ln 10 ≈ 2.3) diverged

Verdict = Literal["diverged", "guessing"]


def judge(metrics: Mapping | None, history: Mapping[str, Sequence] | None = None) -> Verdict | None:
    """Why a finished run did not learn: `diverged` (the loss blew up or is not a number),
    `guessing` (test accuracy near chance); None when it learnt something."""
    metrics, history = metrics or {}, history or {}
    losses = [v for v in (history.get("loss") or []) if v is not None]
    final = [metrics.get("test_loss"), *(losses[-1:])]
    if any(v is not None and (not math.isfinite(v) or v > EXPLODED) for v in final):
        return "diverged"
    accuracy = metrics.get("test_accuracy")
    if accuracy is not None and accuracy <= GUESSING:
        return "guessing"
    return None
