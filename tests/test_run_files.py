"""Tests for mnistkit.run_files: handed-in and hand-edited run files, read safely.

Each test hands in what a student with a script could: links to private files, strings where
numbers belong, NaN, 1e30, 2**70. Nothing outside the runs folder is read, and every value a
page gets has the type mnistkit writes."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from devtools.hostile import hand_in_run
from mnistkit import run_files
from mnistkit.run_files import Unreadable, clean_config, clean_history, clean_metrics
from mnistkit.runs import RunStore


@pytest.fixture
def secret(tmp_path: Path) -> Path:
    """A private file outside the runs folder."""
    path = tmp_path / "private" / "secret.keras"
    path.parent.mkdir()
    path.write_bytes(b"PK teacher's private model")
    return path


def test_a_link_to_a_private_file_is_never_read(tmp_path, secret):
    link = tmp_path / "model.keras"
    link.symlink_to(secret)
    assert not run_files.is_regular_file(link)
    with pytest.raises(Unreadable, match="is a link"):
        run_files.read_bytes(link)


def test_a_handed_in_run_with_linked_files_offers_nothing_outside(tmp_path, secret):
    runs = tmp_path / "runs"
    folder = hand_in_run(runs, "20240101-120000-handed-in", metrics={"test_accuracy": 0.9})
    (folder / "model.keras").symlink_to(secret)
    outside = tmp_path / "private" / "history.json"
    outside.write_text(json.dumps({"loss": [0.1]}))
    (folder / "history.json").symlink_to(outside)
    store = RunStore(runs)
    info = store.load(folder.name)
    assert not info.has_model and info.history is None
    assert "history.json is a link" in info.error
    with pytest.raises(Unreadable):
        store.model_bytes(folder.name)
    from mnistkit.catalog import list_choices

    assert all(choice.path.parent != folder for choice in list_choices(store, tmp_path / "none"))


def test_a_linked_predictions_file_is_ignored(tmp_path):
    runs = tmp_path / "runs"
    folder = hand_in_run(runs, "20240101-120000-p")
    target = tmp_path / "preds.json"
    target.write_text(json.dumps([1, 2, 3]))
    (folder / "predictions.json").symlink_to(target)
    assert RunStore(runs).predictions(folder.name) is None


def test_fifo_and_huge_files_are_refused_without_reading_them(tmp_path):
    fifo = tmp_path / "status.json"
    os.mkfifo(fifo)  # opening it for reading would block forever
    with pytest.raises(Unreadable, match="not a plain file"):
        run_files.read_bytes(fifo)
    big = tmp_path / "history.json"
    big.write_bytes(b" " * (run_files.MAX_JSON_BYTES + 1))
    with pytest.raises(Unreadable, match="larger than"):
        run_files.read_json(big)


@pytest.mark.parametrize("literal", ["NaN", "Infinity", "-Infinity"])
def test_json_with_nan_or_infinity_is_not_valid(tmp_path, literal):
    path = tmp_path / "metrics.json"
    path.write_text('{"test_accuracy": ' + literal + "}")
    with pytest.raises(Unreadable, match="not valid JSON"):
        run_files.read_json(path)


def test_history_keeps_numbers_and_epochs_aligned():
    history, notes = clean_history({"loss": [0.5, "oops", 2**70, None, 0.25], "val_loss": "x"})
    assert history == {"loss": [0.5, None, 1.1805916207174113e21, None, 0.25]}
    assert notes == ["history.json: ignored bad values in loss, val_loss"]
    history, _ = clean_history({"loss": [0.5, True, 10**400]})
    assert history["loss"] == [0.5, None, None]


def test_metrics_of_the_wrong_kind_are_dropped():
    cm = [[1] * 10 for _ in range(10)]
    metrics, notes = clean_metrics(
        {
            "test_accuracy": 1e30,
            "test_loss": 0.1,
            "params": 2**70,
            "epochs_run": 3,
            "stopped_early": "yes",
            "confusion_matrix": [[1e30] * 10] * 10,
            "per_class_accuracy": [0.5] * 10,
            "note": "<b>x</b>",
        }
    )
    assert metrics == {"test_loss": 0.1, "epochs_run": 3, "per_class_accuracy": [0.5] * 10}
    assert notes == ["metrics.json: ignored bad test_accuracy, params, confusion_matrix"]
    assert clean_metrics({"confusion_matrix": cm})[0]["confusion_matrix"] == cm
    assert "confusion_matrix" not in clean_metrics({"confusion_matrix": [[1, 2], [3]]})[0]


def test_config_keeps_plain_values_and_a_known_arch():
    config, notes = clean_config(
        {
            "arch": ["cnn"],
            "epochs": 5,
            "dropout": float("nan"),
            "optimizer": "adam\x00\x1b[31m" + "x" * 500,
            "conv_filters": [16, 32],
            "nested": {"a": 1},
        }
    )
    assert "arch" not in config and config["epochs"] == 5 and config["conv_filters"] == [16, 32]
    assert config["optimizer"].startswith("adam[31m") and len(config["optimizer"]) == 200
    assert notes == ["config.json: ignored bad arch, dropout, nested"]
    assert clean_config({"arch": "[link](http://x.example) **b**"})[0] == {}


@pytest.mark.parametrize(
    ("values", "read"),
    [([0, 9, 3], [0, 9, 3]), ([2**70], None), ([1.0], None), ([True], None), ([10], None),
     (["3"], None), ({"a": 1}, None)],
)  # fmt: skip
def test_predictions_must_be_digits(tmp_path, values, read):
    path = tmp_path / "predictions.json"
    path.write_text(json.dumps(values))
    assert run_files.read_predictions(path) == read
