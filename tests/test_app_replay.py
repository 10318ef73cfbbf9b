"""AppTests for "see it learn": the epoch slider and Play on Inside and Compare, the
hidden-space map, the Train page's live panel, the drawing on the map, and old runs."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
from streamlit.testing.v1 import AppTest

PAGES = Path(__file__).resolve().parents[1] / "app_pages"
TIMEOUT = 120


def run(page: str, **session) -> AppTest:
    at = AppTest.from_file(str(PAGES / page), default_timeout=TIMEOUT)
    for key, value in session.items():
        at.session_state[key] = value
    at.run()
    assert not at.exception, at.exception
    return at


def label_of(run_id: str) -> str:
    """The label the pages show for a run of the test's runs folder (the name as typed)."""
    from mnistkit.catalog import run_label
    from mnistkit.runs import RunStore

    return run_label(RunStore().load(run_id))


def pick(at: AppTest, key: str, run_id: str) -> AppTest:
    box = at.selectbox(key=key)
    box.set_value(label_of(run_id)).run()
    assert not at.exception, at.exception
    return at


def captions(at: AppTest) -> list[str]:
    return [c for img in at.image for c in img.captions]


def test_inside_slider_moves_every_view_to_that_epoch(trained_copy):
    at = pick(run("inside.py"), "inside_model", trained_copy.cnn)
    slider = at.select_slider(key="inside_replay_epoch")
    assert slider.options == ["0", "1"] and slider.value == 1  # starts at the end
    assert "hidden-space map, epoch 1" in captions(at)
    slider.set_value(0).run()
    assert not at.exception, at.exception
    shown = captions(at)
    for caption in ("saliency, epoch 0", "conv 1 kernels, epoch 0", "hidden-space map, epoch 0"):
        assert caption in shown
    assert any(c.startswith("conv1: 16 feature maps, epoch 0") for c in shown)
    assert any(m.label == "Prediction — at epoch 0" for m in at.metric)
    assert any(m.label == "Right at epoch 0" for m in at.metric)


def test_play_runs_through_the_epochs_and_stops_at_the_end(trained_copy):
    at = pick(run("inside.py"), "inside_model", trained_copy.cnn)
    at.button(key="inside_replay_play").click().run()  # at the end: starts again from 0
    assert not at.exception, at.exception
    assert at.select_slider(key="inside_replay_epoch").value == 1
    assert at.session_state["inside_replay_playing"] is False
    assert at.button(key="inside_replay_play").label == "Play"


def test_inside_map_marks_the_mistakes_of_that_epoch(trained_copy):
    from mnistkit import replay

    at = pick(run("inside.py"), "inside_model", trained_copy.cnn)
    frame = replay.map_at(trained_copy.root / trained_copy.cnn, 1)
    wrong = int(frame.wrong.sum())
    assert f"{wrong} mistakes of 2 000, epoch 1" in captions(at)
    right = next(m for m in at.metric if m.label == "Right at epoch 1")
    assert right.value == f"{frame.accuracy:.1%}"


def test_weight_histograms_for_every_layer(trained_copy):
    at = pick(run("inside.py"), "inside_model", trained_copy.cnn)
    assert at.expander[-1].label == "Weight histograms"
    assert any("grey outline: epoch 0" in c.value for c in at.caption)


def test_a_dense_run_replays_without_feature_maps(trained_copy):
    at = pick(run("inside.py"), "inside_model", trained_copy.dense)
    at.select_slider(key="inside_replay_epoch").set_value(0).run()
    assert not at.exception, at.exception
    shown = captions(at)
    assert "hidden-space map, epoch 0" in shown and "saliency, epoch 0" in shown
    assert not any("kernels" in c or "feature maps" in c for c in shown)


def test_a_run_from_before_snapshots_still_renders(trained_copy):
    shutil.rmtree(trained_copy.root / trained_copy.cnn / "snapshots")
    at = pick(run("inside.py"), "inside_model", trained_copy.cnn)
    assert any("before runs kept snapshots" in c.value for c in at.caption)
    assert not at.select_slider and "**conv1**: 16 maps of 28×28" in "\n".join(
        m.value for m in at.markdown
    )
    at = run("compare.py", compare_runs=[trained_copy.cnn])
    assert any("before runs kept snapshots" in c.value for c in at.caption)


def test_bundled_models_say_they_cannot_be_replayed(trained_copy):
    at = run("inside.py")
    label = at.selectbox(key="inside_model").value
    if label in (label_of(trained_copy.cnn), label_of(trained_copy.dense)):
        pytest.skip("no bundled models here: the first model is a run")
    assert any("bundled models were trained before" in c.value for c in at.caption)


def test_compare_replays_a_finished_run_without_tensorflow_views(trained_copy):
    at = run("compare.py", compare_runs=[trained_copy.cnn])
    slider = at.select_slider(key="compare_replay_epoch")
    slider.set_value(0).run()
    assert not at.exception, at.exception
    assert "hidden-space map, epoch 0" in captions(at)
    assert not any("saliency" in c for c in captions(at))  # no image: no network needed


def test_a_run_stopped_in_its_first_epoch_shows_epoch_0(trained_copy, make_run):
    folder = make_run(trained_copy.root, "20260101-000000-stopped", status="stopped")
    source = trained_copy.root / trained_copy.cnn / "snapshots"
    (folder / "snapshots").mkdir()
    for name in ("sample.npz", "epoch-000.npz"):
        shutil.copyfile(source / name, folder / "snapshots" / name)
    at = run("compare.py", compare_runs=[folder.name])
    assert any("Only epoch 0 was kept" in c.value for c in at.caption)
    assert "hidden-space map, epoch 0" in captions(at)
    assert "This run kept no model." in [c.value for c in at.caption]


def test_a_run_without_model_or_snapshots_renders_on_compare(trained_copy, make_run):
    folder = make_run(trained_copy.root, "20260101-000001-empty", status="stopped")
    at = run("compare.py", compare_runs=[folder.name])
    assert any("before runs kept snapshots" in c.value for c in at.caption)


def test_damaged_snapshots_are_skipped_not_a_crash(trained_copy):
    snaps = trained_copy.root / trained_copy.cnn / "snapshots"
    (snaps / "epoch-001.npz").write_bytes(b"PK\x03\x04 not a zip")
    at = pick(run("inside.py"), "inside_model", trained_copy.cnn)
    assert "No hidden-space map was kept for epoch 1." in [c.value for c in at.caption]
    at.select_slider(key="inside_replay_epoch").set_value(0).run()
    assert not at.exception and "hidden-space map, epoch 0" in captions(at)


# --- the Train page's live panel ----------------------------------------------------------


class FakeJob:
    """A job that is always running at epoch 1 of 2, writing into an existing run folder."""

    id = "fake-job"
    owner = None

    def __init__(self, run_dir: Path) -> None:
        from mnistkit.config import TrainConfig

        self.run_dir = str(run_dir)
        self.config = TrainConfig(arch="cnn", epochs=2)  # the Train page shows what trains
        self.name = None

    def snapshot(self):
        from mnistkit.progress import Snapshot

        return Snapshot(
            status="running", epoch=1, epochs=2, step=3, steps_per_epoch=10,
            batches=[{"epoch": 0.5, "loss": 1.0, "accuracy": 0.5}],
            history={"loss": [0.9], "accuracy": [0.6], "val_loss": [0.8], "val_accuracy": [0.7]},
            elapsed=5.0, eta=5.0, message="training", run_dir=self.run_dir, metrics=None,
        )  # fmt: skip


def test_live_panel_shows_the_latest_kernels_and_map(trained_copy, monkeypatch):
    job = FakeJob(trained_copy.root / trained_copy.cnn)
    monkeypatch.setattr("ui.job.current_job", lambda actor=None: job)  # the student's job
    at = run("train.py", job_id=job.id)
    shown = captions(at)
    assert "conv 1 kernels, epoch 1" in shown and "hidden-space map after epoch 1" in shown
    assert len(at.get("vega_lite_chart")) == 2  # the curves are still there


def test_live_panel_before_the_first_snapshot_shows_the_curves_only(trained_copy, monkeypatch):
    shutil.rmtree(trained_copy.root / trained_copy.cnn / "snapshots")
    job = FakeJob(trained_copy.root / trained_copy.cnn)
    monkeypatch.setattr("ui.job.current_job", lambda actor=None: job)
    at = run("train.py", job_id=job.id)
    assert not any("hidden-space map" in c for c in captions(at))
    assert len(at.get("vega_lite_chart")) == 2


# --- the Draw page: where the drawing lands ------------------------------------------------


def test_the_drawing_lands_on_the_map_among_its_neighbours(trained_copy, monkeypatch):
    from tests.test_app_draw import FakeCanvas, canvas_drawing

    fake = FakeCanvas(canvas_drawing())
    module = __import__("types").ModuleType("streamlit_drawable_canvas")
    module.st_canvas = fake.st_canvas
    monkeypatch.setitem(__import__("sys").modules, "streamlit_drawable_canvas", module)
    at = run("draw.py")
    assert not any("your drawing is the star" in c for c in captions(at))  # closed: not computed
    at = run("draw.py", draw_map=True)
    assert any("your drawing is the star" in c for c in captions(at))
    text = "\n".join(m.value for m in at.markdown)
    assert "reads a **" in text and "mostly **" in text
    digits = np.asarray([c for img in at.image for c in img.captions if c in list("0123456789")])
    assert len(digits) == 0 or digits.size <= 8
