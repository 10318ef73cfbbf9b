"""The leaderboard: best run per student and per architecture, with a parameter cap."""

from __future__ import annotations

from pathlib import Path

from mnistkit.leaderboard import best_per_arch, best_per_student, entry
from mnistkit.ownership import RunOwner
from mnistkit.runs import RunInfo


def _entry(owner: str, arch: str, acc: float | None, params: int, run: str):
    info = RunInfo(
        run_id=run,
        path=Path(run),
        status="completed",
        name=run,
        created=f"2026-01-01T{run}",
        config={"arch": arch, "subset": None, "batch_size": 64},
        metrics={"test_accuracy": acc, "params": params},
    )
    return entry(info, RunOwner(owner, owner.title(), "owned"))


ENTRIES = [
    _entry("ada", "cnn", 0.98, 120_000, "1"),
    _entry("ada", "dense", 0.95, 218_058, "2"),
    _entry("bob", "cnn", 0.97, 40_000, "3"),
    _entry("bob", "cnn", None, 10_000, "4"),  # no test metrics: never on the board
    _entry("cy", "dense", 0.97, 50_000, "5"),
]


def test_best_per_student():
    board = best_per_student(ENTRIES)
    assert [(e.owner, e.test_accuracy) for e in board] == [
        ("Ada", 0.98),
        ("Bob", 0.97),
        ("Cy", 0.97),
    ]
    assert board[0].row()["images"] == 60_000 and "owner_key" not in board[0].row()


def test_challenge_best_cnn_under_50k():
    board = best_per_student(ENTRIES, arch="cnn", max_params=50_000)
    assert [(e.owner, e.run_id) for e in board] == [("Bob", "3")]
    assert [(e.arch, e.params) for e in best_per_arch(ENTRIES)] == [
        ("cnn", 120_000),
        ("dense", 50_000),
    ]
    assert [e.run_id for e in best_per_arch(ENTRIES, max_params=50_000)] == ["3", "5"]


def test_unverified_owners_are_grouped_by_their_label():
    info = RunInfo(
        run_id="x",
        path=Path("x"),
        status="completed",
        name="x",
        created="",
        config={"arch": "cnn"},
        metrics={"test_accuracy": "99%"},
    )
    e = entry(info, RunOwner(None, "Teacher", "unverified"))
    assert e.owner == "Teacher (unverified)" and e.test_accuracy is None
