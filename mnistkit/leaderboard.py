"""The class at a glance: one row per run, the best run per student and per architecture.

Plain rows (dicts) for the teacher's page and the projector; a parameter cap turns the board
into a challenge ("the best CNN under 50 k parameters"). Standard library only.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from mnistkit.ownership import RunOwner
from mnistkit.runs import RunInfo


def _number(value: Any) -> float | None:
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


@dataclass(frozen=True)
class Entry:
    """One run as the class sees it."""

    run_id: str
    name: str
    owner: str  # the owner's label (plain text)
    owner_key: str  # groups a student's runs: the owner id, or the label when unverified
    arch: str
    status: str
    test_accuracy: float | None
    params: int | None
    epochs: int | None
    subset: int | None
    batch_size: int | None
    seconds: float | None
    created: str

    def row(self) -> dict[str, Any]:
        """The entry as a table row (no owner id)."""
        return {
            "owner": self.owner,
            "run": self.name,
            "architecture": self.arch,
            "test accuracy": self.test_accuracy,
            "parameters": self.params,
            "epochs": self.epochs,
            "images": self.subset,
            "batch": self.batch_size,
            "status": self.status,
            "time (s)": self.seconds,
            "created": self.created,
            "run id": self.run_id,
        }


def entry(info: RunInfo, owner: RunOwner) -> Entry:
    """An `Entry` from a readable run and its verified owner."""
    config, metrics = info.config or {}, info.metrics or {}
    params, epochs = _number(metrics.get("params")), _number(metrics.get("epochs_run"))
    batch = _number(config.get("batch_size"))
    return Entry(
        run_id=info.run_id,
        name=info.name,
        owner=owner.label,
        owner_key=owner.owner_id or owner.label,
        arch=str(info.arch or "?"),
        status=info.status,
        test_accuracy=_number(info.test_accuracy),  # metrics are cleaned on load; be sure
        params=None if params is None else int(params),
        epochs=None if epochs is None else int(epochs),
        subset=_images(config),
        batch_size=None if batch is None else int(batch),
        seconds=_number(metrics.get("train_seconds")),
        created=info.created[:19].replace("T", " "),
    )


def _images(config: dict[str, Any]) -> int | None:
    """Training images of a run: its subset, all 60 000 when the subset is None."""
    if "subset" in config and config["subset"] is None:
        return 60_000
    subset = _number(config.get("subset"))
    return None if subset is None else int(subset)


def _eligible(entries: Iterable[Entry], arch: str | None, max_params: int | None) -> list[Entry]:
    out = []
    for e in entries:
        if e.test_accuracy is None or (arch is not None and e.arch != arch):
            continue
        if max_params is not None and (e.params is None or e.params > max_params):
            continue
        out.append(e)
    return out


def best_per_student(
    entries: Iterable[Entry], arch: str | None = None, max_params: int | None = None
) -> list[Entry]:
    """Each student's best run by test accuracy (fewer parameters break a tie), best first."""
    best: dict[str, Entry] = {}
    for e in _eligible(entries, arch, max_params):
        held = best.get(e.owner_key)
        if held is None or _rank(e) < _rank(held):
            best[e.owner_key] = e
    return sorted(best.values(), key=_rank)


def best_per_arch(entries: Iterable[Entry], max_params: int | None = None) -> list[Entry]:
    """The best run of each architecture (with its parameter count), best first."""
    best: dict[str, Entry] = {}
    for e in _eligible(entries, None, max_params):
        if e.arch not in best or _rank(e) < _rank(best[e.arch]):
            best[e.arch] = e
    return sorted(best.values(), key=_rank)


def _rank(e: Entry) -> tuple[float, float, str]:
    return (-(e.test_accuracy or 0.0), float(e.params or 0), e.created)
