"""Tests for mnistkit.catalog: which models exist, their labels, the default picks."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from devtools.hostile import hand_in_run
from mnistkit import catalog
from mnistkit.catalog import ModelChoice, default_choices, list_choices, run_label
from mnistkit.runs import RunStore


def choice(label: str, arch: str | None, bundled: bool = False) -> ModelChoice:
    return ModelChoice(label, Path(f"/m/{label}.keras"), arch, bundled)


def labels(choices) -> list[str]:
    return [c.label for c in choices]


def test_the_bundled_folder_is_the_repositorys_models_folder():
    import mnistkit.bundle

    assert catalog.BUNDLED_DIR == Path(__file__).resolve().parents[1] / "models"
    assert mnistkit.bundle.BUNDLED_DIR is catalog.BUNDLED_DIR


def test_defaults_prefer_bundled_then_newest_of_each_kind():
    runs = [choice("new-cnn", "cnn"), choice("new-dense", "dense"), choice("old-cnn", "cnn")]
    assert labels(default_choices(runs)) == ["new-dense", "new-cnn"]
    bundled = [choice("pretrained cnn", "cnn", True), choice("pretrained dense", "dense", True)]
    assert labels(default_choices(bundled + runs)) == ["pretrained dense", "pretrained cnn"]
    assert default_choices([choice("odd", None)]) == []


def test_defaults_come_from_the_picked_models_if_possible():
    offered = [choice("pretrained dense", "dense", True), choice("pretrained cnn", "cnn", True)]
    picked = [choice("my-cnn", "cnn"), choice("other-cnn", "cnn")]
    assert labels(default_choices(offered, picked)) == ["pretrained dense", "my-cnn"]
    odd = [choice("a", None), choice("b", None), choice("c", None)]
    assert labels(default_choices([], odd)) == ["a", "b"]  # no dense nor CNN: the first two


@pytest.mark.parametrize(
    "metrics, shown",
    [
        ({"test_accuracy": 0.97123}, "r · 97.12 %"),
        ({"test_accuracy": "n/a"}, "r"),
        ({"test_accuracy": True}, "r"),
        ({}, "r"),
        (None, "r"),
    ],
)
def test_run_label_is_tolerant_of_odd_metrics(tmp_path, metrics, shown):
    files = {} if metrics is None else {"metrics": metrics}
    hand_in_run(tmp_path, "r", **files)
    assert run_label(RunStore(tmp_path).load("r")) == shown


def test_run_label_of_an_unknown_arch(tmp_path):
    folder = hand_in_run(tmp_path, "r")
    (folder / "config.json").write_text(json.dumps({"optimizer": "adam"}))
    assert run_label(RunStore(tmp_path).load("r")) == "r"


@pytest.mark.parametrize("typed", ["my CNN", "내 CNN", "моя сеть", "ネット 2"])
def test_run_label_is_the_name_as_typed(tmp_path, typed):
    """Issue 13, item 5: not the folder name ("…-run" for a Korean name), not cut off."""
    store = RunStore(tmp_path)
    run_dir = store.create(typed, {"arch": "cnn"})
    store.write_metrics(run_dir, {"test_accuracy": 0.9911})
    assert run_label(store.load(run_dir.name)) == f"{typed} · 99.11 %"


def test_list_choices_bundled_first_then_runs_with_a_model(tmp_path):
    bundled = tmp_path / "bundled"
    bundled.mkdir()
    for name in ("dense", "cnn", "extra"):
        (bundled / f"{name}.keras").write_bytes(b"")
    root = tmp_path / "runs"
    for run_id in ("20240101-120000-a", "20240102-120000-b", "20240103-120000-nomodel"):
        hand_in_run(root, run_id, metrics={"test_accuracy": 0.5})
    for run_id in ("20240101-120000-a", "20240102-120000-b"):
        (root / run_id / "model.keras").write_bytes(b"")
    hand_in_run(root, "20240104-120000-broken", status=None)
    (root / "20240104-120000-broken" / "model.keras").write_bytes(b"")

    choices = list_choices(RunStore(root), bundled)
    assert labels(choices) == [
        "pretrained cnn",
        "pretrained dense",
        "pretrained extra",
        "20240102-120000-b · 50.00 %",
        "20240101-120000-a · 50.00 %",
    ]
    assert [c.arch for c in choices] == ["cnn", "dense", None, "dense", "dense"]
    assert [c.bundled for c in choices] == [True, True, True, False, False]
    assert choices[3].path == root / "20240102-120000-b" / "model.keras"
    assert [c.run_id for c in choices] == [None] * 3 + ["20240102-120000-b", "20240101-120000-a"]


def test_list_choices_reads_the_bundled_folder_when_called(tmp_path, monkeypatch):
    monkeypatch.setattr(catalog, "BUNDLED_DIR", tmp_path / "none")
    assert list_choices(RunStore(tmp_path / "runs")) == []


def test_two_runs_with_one_name_are_told_apart_by_their_start(tmp_path):
    root = tmp_path / "runs"
    for run_id in ("20240101-120000-a", "20240102-093000-b"):
        accuracy = {"test_accuracy": 0.5}
        folder = hand_in_run(root, run_id, fields={"name": "my CNN"}, metrics=accuracy)
        (folder / "model.keras").write_bytes(b"")
    labels_ = labels(list_choices(RunStore(root), tmp_path / "no-bundled"))
    assert labels_ == ["my CNN · 50.00 % · 01-02 09:30", "my CNN · 50.00 % · 01-01 12:00"]
