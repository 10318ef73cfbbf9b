"""AppTests for the Compare page: real runs, broken runs, a run deleted while listed, delete."""

from __future__ import annotations

import json
import os
import re
import shutil
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from mnistkit.runs import register_active, unregister_active
from tests.helpers import shown

ROOT = Path(__file__).resolve().parents[1]
COMPARE = str(ROOT / "app_pages" / "compare.py")


def open_page() -> AppTest:
    return AppTest.from_file(COMPARE, default_timeout=60).run()


def test_no_runs(runs_dir):
    at = open_page()
    assert not at.exception
    assert "No runs to compare yet" in at.info[0].value


def test_only_broken_runs(runs_dir, make_run):
    make_run(runs_dir, "20240101-120000-corrupt", status=None)
    make_run(runs_dir, "20240101-130000-odd", status="exploded")
    at = open_page()
    assert not at.exception
    assert at.expander[0].label == "2 run folder(s) cannot be read"
    reasons = at.dataframe[0].value.set_index("run")["reason"]
    assert "not valid JSON" in reasons["20240101-120000-corrupt"]
    assert "unknown status" in reasons["20240101-130000-odd"]


def test_hand_made_run_without_model_or_predictions(runs_dir, make_run):
    """A run with odd but readable files: shown, with captions where data is missing."""
    make_run(
        runs_dir,
        "20240101-120000-partial",
        status="stopped",
        history={"loss": [0.5, 0.4], "val_loss": [0.6, None], "accuracy": [0.8, 0.9]},
        metrics={"test_accuracy": "n/a", "confusion_matrix": [[1, 2], [3]]},
    )
    at = open_page()
    assert not at.exception
    assert at.multiselect(key="compare_runs").value == ["20240101-120000-partial"]
    row = at.dataframe[0].value.iloc[0]
    assert row["test accuracy"] == "—"  # unknown: a dash, never "None"
    shown = [w.value.replace("\\", "") for w in at.warning]  # plain() escapes Markdown
    assert any("ignored bad test_accuracy, confusion_matrix" in text for text in shown)
    assert "This run kept no model." in [c.value for c in at.caption]


@pytest.mark.slow  # uses the two runs the session fixture trains
def test_compares_trained_runs(trained_copy):
    at = open_page()
    assert not at.exception
    runs = trained_copy
    assert sorted(at.multiselect(key="compare_runs").value) == sorted([runs.dense, runs.cnn])
    assert len(at.get("vega_lite_chart")) == 2  # overlaid loss and accuracy

    table = at.dataframe[0].value.set_index("run")
    assert set(table.index) == {runs.dense, runs.cnn}
    assert table.loc[runs.dense, "architecture"] == "dense"
    assert table.loc[runs.cnn, "architecture"] == "cnn"
    assert table.loc[runs.dense, "parameters"] == 218_058
    assert re.fullmatch(r"\d+\.\d\d %", table.loc[runs.cnn, "test accuracy"])  # as everywhere
    for column in ("epochs", "optimizer", "dropout", "learning rate", "training time (s)"):
        assert table[column].notna().all(), column

    # two confusion matrices + misclassified grid + first-N grid, then the replay's pictures
    captions = [c for image in at.get("image") for c in image.proto.imgs for c in [c.caption]]
    assert len(at.get("image")) >= 4 and any("hidden-space map" in c for c in captions)
    labels = {b.proto.label for b in at.get("download_button")}
    assert labels == {"Model (.keras)", "History (.csv)"}
    history = next(b for b in at.get("download_button") if b.proto.label == "History (.csv)")
    assert history.proto.url or history.proto.deferred_file_id is not None


@pytest.mark.slow  # uses the two runs the session fixture trains
def test_broken_run_beside_good_ones(trained_copy, make_run):
    make_run(trained_copy.root, "20000101-000000-corrupt", status=None)
    at = open_page()
    assert not at.exception
    assert "cannot be read" in at.expander[0].label
    assert len(at.multiselect(key="compare_runs").value) == 2


@pytest.mark.slow  # uses the two runs the session fixture trains
def test_run_deleted_while_listed(trained_copy):
    at = open_page()
    shutil.rmtree(trained_copy.root / trained_copy.dense)
    at.run()
    assert not at.exception
    assert any(trained_copy.dense in shown(w.value) for w in at.warning)
    assert at.multiselect(key="compare_runs").value == [trained_copy.cnn]


@pytest.mark.slow  # uses the two runs the session fixture trains
def test_delete_needs_confirmation(trained_copy):
    at = open_page()
    at.selectbox(key="compare_delete").set_value(trained_copy.cnn).run()
    assert at.button(key="compare_delete_button").disabled
    at.checkbox(key="compare_confirm").check().run()
    at.button(key="compare_delete_button").click().run()
    assert not at.exception
    assert not (trained_copy.root / trained_copy.cnn).exists()
    assert any(f"Deleted {trained_copy.cnn}" in shown(s.value) for s in at.success)
    assert at.multiselect(key="compare_runs").value == [trained_copy.dense]


@pytest.mark.slow  # uses the two runs the session fixture trains
def test_compare_does_not_import_tensorflow(trained_copy, render_in_subprocess):
    result = render_in_subprocess(COMPARE)
    assert result[COMPARE]["exceptions"] == []
    assert not result["tensorflow_imported"]


def test_delete_refuses_a_run_that_is_still_training(runs_dir, make_run):
    busy = make_run(runs_dir, "20240101-120000-busy", status="running")
    status = json.loads((busy / "status.json").read_text())
    (busy / "status.json").write_text(json.dumps({**status, "pid": os.getpid()}))
    register_active(busy)  # this process is training it (else start-up marks it interrupted)
    try:
        at = open_page()
        at.selectbox(key="compare_delete").set_value(busy.name).run()
        at.checkbox(key="compare_confirm").check().run()
        at.button(key="compare_delete_button").click().run()
    finally:
        unregister_active(busy)
    assert not at.exception
    assert busy.is_dir()
    assert [shown(e.value) for e in at.error] == [f"{busy.name} is still training: stop it first."]


def test_predictions_json_is_read_through_the_store(runs_dir, make_run):
    """A damaged predictions.json: a caption, never a crash."""
    run = make_run(runs_dir, "20240101-120000-odd", predictions=[7, "x"])
    at = open_page()
    assert not at.exception
    assert run.is_dir() and any("no predictions" in c.value for c in at.caption)


def test_damaged_files_of_the_latest_run_do_not_break_the_page(runs_dir, make_run):
    """The attack: the newest CNN run's files hold a string in the history, 1e30 in the
    confusion matrix and 2**70 in the predictions; its folder name is Markdown. The page shows
    what it can, says what it dropped, and still offers Delete for that run."""
    name = "20240102-120000-[link](http---x.example) **b**"
    folder = make_run(
        runs_dir,
        name,
        history={"loss": [0.5, "oops"], "val_loss": [0.6, 0.5]},
        metrics={"test_accuracy": 0.9, "confusion_matrix": [[1e30] * 10] * 10},
        predictions=[2**70] * 10_000,
    )
    (folder / "config.json").write_text(json.dumps({"arch": "cnn"}))
    at = open_page()
    assert not at.exception
    assert at.multiselect(key="compare_runs").value == [name]
    notes = " ".join(w.value for w in at.warning)
    assert "\\[link\\]\\(http" in notes and "**b**" not in notes  # shown literally
    assert "ignored bad values in loss" in shown(notes) and "confusion_matrix" in shown(notes)
    assert "This run has no predictions for the test set (predictions.json)." in [
        c.value for c in at.caption
    ]
    at.selectbox(key="compare_delete").set_value(name)
    at.checkbox(key="compare_confirm").check().run()
    at.button(key="compare_delete_button").click().run()
    assert not at.exception and not folder.exists()
    assert any("Deleted" in s.value and "\\[link\\]" in s.value for s in at.success)
