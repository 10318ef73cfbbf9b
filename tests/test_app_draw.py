"""AppTest for the Draw page. AppTest cannot draw on a canvas, so these tests replace the
canvas component with a fake that returns a PIL-drawn picture (`sys.modules` patch: the page
imports `streamlit_drawable_canvas` when it shows the canvas).

Models come from the shared `trained_runs` fixture (tests/conftest.py): one tiny dense and
one tiny CNN run in a temporary runs folder.
"""

from __future__ import annotations

import base64
import io
import os
import sys
import traceback
import types
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageDraw
from streamlit.testing.v1 import AppTest

from tests import helpers
from tests.helpers import save_tiny_model, shown
from tests.test_ui_bars import highlighted
from ui.digit_input import TOOLBAR_STRIP
from ui.messages import PREPROCESS_REASONS, plain

PAGE = Path(__file__).resolve().parents[1] / "app_pages" / "draw.py"
TIMEOUT = 120  # the first run imports TensorFlow and loads the models
SEVEN = [(90, 60), (190, 60), (120, 230)]


def canvas_drawing(points=SEVEN, ink=255, paper=0, width=20) -> np.ndarray:
    """An RGBA 280×280 picture like the canvas sends: a round-brush stroke through `points`."""
    img = Image.new("RGBA", (280, 280), (paper, paper, paper, 255))
    pen, colour, r = ImageDraw.Draw(img), (ink, ink, ink, 255), width // 2
    if len(points) > 1:
        pen.line(points, fill=colour, width=width, joint="curve")
    for x, y in points:  # round ends; a single point is one dab of the brush
        pen.ellipse((x - r, y - r, x + r, y + r), fill=colour)
    return np.asarray(img)


def png_bytes(image: np.ndarray) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(image).save(buf, format="PNG")
    return buf.getvalue()


class FakeCanvas:
    """Stands in for `streamlit_drawable_canvas`: records the keys and initial drawings it was
    shown with, and keeps a widget state under its key as the real component does."""

    def __init__(self, image: np.ndarray | None) -> None:
        self.image = image
        self.keys: list[str] = []
        self.initial: list[dict | None] = []

    def st_canvas(self, **kwargs):
        import streamlit as st

        self.keys.append(kwargs["key"])
        self.initial.append(kwargs.get("initial_drawing"))
        assert kwargs["return_image_data"] and kwargs["width"] == 280
        assert kwargs["height"] == 280 + TOOLBAR_STRIP  # the pad starts below the toolbar
        st.session_state[kwargs["key"]] = {"drawing": None}
        json = None if self.image is None else {"objects": [{"type": "path"}]}
        return types.SimpleNamespace(image_data=self.image, json_data=json)


@pytest.fixture
def canvas(monkeypatch: pytest.MonkeyPatch):
    """Install a fake canvas; set `.image` to what the user 'drew'."""
    fake = FakeCanvas(canvas_drawing())
    module = types.ModuleType("streamlit_drawable_canvas")
    module.st_canvas = fake.st_canvas
    monkeypatch.setitem(sys.modules, "streamlit_drawable_canvas", module)
    return fake


def run_page(**session) -> AppTest:
    at = AppTest.from_file(str(PAGE), default_timeout=TIMEOUT)
    for key, value in session.items():
        at.session_state[key] = value
    at.run()
    assert not at.exception, at.exception
    return at


def predictions(at: AppTest, prefix: str = "Prediction") -> list:
    return [m for m in at.metric if shown(m.label).startswith(prefix)]


SVG = "data:image/svg+xml;base64,"


def charts(at: AppTest) -> list[str]:
    """The probability bar charts on the page, as SVG text."""
    urls = [url for image in at.image for url in image.value]
    return [base64.b64decode(u[len(SVG) :]).decode() for u in urls if u.startswith(SVG)]


def step_images(at: AppTest) -> dict[str, str]:
    """The "What the models see" strip: caption → image URL."""
    return {
        caption: url
        for image in at.image
        for caption, url in zip(image.captions, image.value, strict=True)
        if caption
    }


def test_a_drawn_seven_gets_a_prediction_per_model(trained_copy, canvas):
    at = run_page()
    shown = predictions(at)
    assert len(shown) == 2  # the default: one dense and one CNN
    assert all(m.value in set("0123456789") for m in shown)
    assert any("dense" in m.label for m in shown) and any("cnn" in m.label for m in shown)
    assert len(charts(at)) == 2
    assert not at.info and not at.error
    last = at.session_state["last_drawing"]
    assert last.shape == (28, 28, 1) and last.max() == pytest.approx(1.0)
    strip = step_images(at)
    assert len(strip) == 4 and "4 · centred 28×28 input (28×28)" in strip
    assert any(c.startswith("2 · cropped to the ink (") for c in strip)
    assert all(url.startswith("data:image/png;base64,") for url in strip.values())  # inline
    for metric, bars in zip(shown, charts(at), strict=True):  # the red bar is the answer
        assert highlighted(bars) == [metric.value]


def test_choosing_one_model_shows_one_prediction(trained_copy, canvas):
    at = run_page()
    models = at.multiselect(key="draw_models")
    models.set_value(models.value[:1]).run()
    assert not at.exception
    assert len(predictions(at)) == 1 and len(charts(at)) == 1


@pytest.mark.parametrize("image", [None, canvas_drawing(points=[])], ids=["untouched", "blank"])
def test_an_empty_canvas_asks_for_a_digit(trained_copy, canvas, image):
    canvas.image = image
    at = run_page()
    assert at.info[0].value == "Draw a digit"
    assert not predictions(at) and not charts(at) and not step_images(at)
    assert "last_drawing" not in at.session_state


def test_a_single_dot_is_not_a_digit(trained_copy, canvas):
    canvas.image = canvas_drawing(points=[(140, 140)])
    at = run_page()
    assert at.info[0].value == PREPROCESS_REASONS["dot"]
    assert not predictions(at)


def test_a_digit_too_small_for_the_pen_says_draw_bigger(trained_copy, canvas):
    """A 3 drawn 64 px tall in a corner: no confident wrong answer, a plain request."""
    t = np.radians(np.linspace(150, -90, 24))
    top = [(230 + 14 * np.cos(a), 40 - 11 * np.sin(a)) for a in t]
    bottom = [(230 + 15 * np.cos(-a), 62 - 11 * np.sin(-a)) for a in t]
    canvas.image = canvas_drawing(top + bottom)
    at = run_page()
    assert not predictions(at)
    assert at.info[0].value == PREPROCESS_REASONS["small"]


def test_dark_ink_on_light_paper_is_inverted_and_read(trained_copy, canvas):
    canvas.image = canvas_drawing(ink=20, paper=245)
    at = run_page()
    assert len(predictions(at)) == 2
    assert any("inverted" in c.value for c in at.caption)


def test_clear_gives_the_canvas_a_new_key(trained_copy, canvas):
    at = run_page()
    at.button[0].click().run()
    assert not at.exception
    assert canvas.keys[0] != canvas.keys[-1]


def test_the_drawing_survives_a_visit_to_another_page(trained_copy, canvas):
    """Streamlit drops a widget's state when its page is left: back on Draw, the canvas
    comes up under a new key with the last drawing as its initial drawing, and the
    prediction is still shown before the canvas sends anything."""
    at = run_page()
    first = [m.value for m in predictions(at)]
    assert len(first) == 2
    del at.session_state[canvas.keys[-1]]  # what a page switch does to the widget's state
    canvas.image = None  # a freshly mounted canvas has sent nothing yet
    at.run()
    assert canvas.keys[-1] != canvas.keys[0]
    assert canvas.initial[-1] == {"objects": [{"type": "path"}]}
    assert [m.value for m in predictions(at)] == first
    at.run()  # the new key lives on: no second remount
    assert canvas.keys[-1] == canvas.keys[-2]


def test_no_models_says_how_to_get_one(runs_dir, canvas, monkeypatch, tmp_path):
    monkeypatch.setattr("mnistkit.catalog.BUNDLED_DIR", tmp_path / "no-bundled-models")
    at = run_page()
    assert "Train" in at.warning[0].value
    assert not predictions(at)


def test_a_broken_model_file_is_reported_and_the_other_still_predicts(trained_copy, canvas):
    (trained_copy.root / trained_copy.cnn / "model.keras").write_bytes(b"not a zip archive")
    at = run_page()
    models = at.multiselect(key="draw_models")
    runs = [o for o in models.options if o.startswith("shared-")]
    models.set_value(runs).run()
    assert not at.exception
    shown = predictions(at)
    assert len(shown) == 1 and "shared-dense" in helpers.shown(shown[0].label)
    error = helpers.shown(at.error[0].value)
    assert "shared-cnn" in error and "not a valid .keras file" in error


def test_the_students_own_latest_run_is_preselected_with_its_short_name(trained_copy, canvas):
    """Issue 13, item 5: after training, Draw shows the student's run, by the name typed."""
    from mnistkit import ownership
    from mnistkit.config import TrainConfig
    from mnistkit.jobs import TrainingJob
    from mnistkit.runs import RunStore

    secret = "d" * 22  # this browser's identity cookie: the job follows its owner
    owner = ownership.owner_id(ownership.server_key(trained_copy.root), secret)
    job = TrainingJob(TrainConfig(), RunStore(trained_copy.root), owner=owner)  # never started
    job.progress.finish("completed", "done", run_dir=str(trained_copy.root / trained_copy.cnn))
    at = run_page(identity_secret=secret)
    assert not at.exception
    picked = at.multiselect(key="draw_models").value
    assert any(label.startswith("shared-cnn · ") for label in picked), picked
    labels = [helpers.shown(m.label) for m in predictions(at)]
    assert any(label.startswith("Prediction — shared-cnn · ") for label in labels), labels


def test_upload_a_picture(trained_copy, canvas):
    at = run_page(draw_source="Upload a picture")
    assert at.info[0].value == PREPROCESS_REASONS["no_upload"]  # not "Draw a digit"
    at.file_uploader(key="draw_upload").set_value(
        ("seven.png", png_bytes(canvas_drawing(ink=0, paper=255)), "image/png")
    )
    at.run()
    assert not at.exception and not at.error
    assert len(predictions(at)) == 2


@pytest.mark.parametrize(
    "name, content",
    [
        ("broken.png", b"\x89PNG\r\n\x1a\n" + b"\x00" * 40),
        ("notes.png", b"this is not an image"),
        ("cut.png", png_bytes(canvas_drawing())[:200]),
        ("<b>bold</b> *[link](javascript:x)*.png", b"GIF89a"),
    ],
)
def test_a_bad_upload_shows_an_error_and_nothing_else_breaks(trained_copy, canvas, name, content):
    at = run_page(draw_source="Upload a picture")
    at.file_uploader(key="draw_upload").set_value((name, content, "image/png"))
    at.run()
    assert not at.exception
    assert plain(name) in at.error[0].value
    assert not predictions(at) and at.info[0].value == PREPROCESS_REASONS["no_upload"]


def test_move_my_digit_compares_dense_and_cnn(trained_copy, canvas):
    at = run_page(draw_move=True)  # the expander is open
    moved = predictions(at, "Moved")
    assert len(moved) == 2
    at.slider(key="move_dx").set_value(6)
    at.slider(key="move_angle").set_value(30)
    at.slider(key="move_scale").set_value(0.7)
    at.run()
    assert not at.exception
    assert len(predictions(at, "Moved")) == 2
    assert len(charts(at)) == 2 + 2  # main bars, moved bars
    assert len(at.get("vega_lite_chart")) == 1  # the sideways-slide curves
    at.button(key="move_reset").click().run()  # issue 13, item 14: back to the digit as drawn
    assert [at.slider(key=f"move_{k}").value for k in ("dx", "dy", "scale", "angle")] == [
        0,
        0,
        1.0,
        0,
    ]
    shown = predictions(at, "Moved")
    assert all("unmoved: " + m.value + "," in m.delta for m in shown)


# --- loading the models before the first stroke --------------------------------------------


def test_the_page_preloads_its_models_and_the_first_stroke_uses_them(
    trained_copy, canvas, monkeypatch, tmp_path
):
    from ui import resources

    monkeypatch.setattr("mnistkit.catalog.BUNDLED_DIR", tmp_path / "none")  # this test's runs only
    runs = {
        str(trained_copy.root / r / "model.keras") for r in (trained_copy.dense, trained_copy.cnn)
    }
    assert not runs & set(preloaded_paths(resources))
    canvas.image = None  # the page just opened: nothing drawn yet
    at = run_page()
    assert runs <= set(preloaded_paths(resources))  # both are loading in the background

    canvas.image = canvas_drawing()
    at.run()  # the first stroke
    assert not at.exception
    assert len(predictions(at)) == 2
    for path in runs:  # the predictors came from the background loads, handed over once
        assert resources._preloads[(path, resources.model_mtime(path))] is None


def preloaded_paths(resources) -> list[str]:
    with resources._preload_lock:
        return [path for path, _ in resources._preloads]


def test_a_failed_preload_gives_the_same_error_as_a_direct_load(tmp_path):
    from mnistkit.predict import ModelError
    from ui import resources

    bad = tmp_path / "bad.keras"
    bad.write_bytes(b"not a zip archive")
    assert resources.preload_models([bad]) == [bad]
    assert resources.preload_models([bad]) == []  # once per file version
    for _ in range(2):
        with pytest.raises(ModelError, match="not a valid .keras file"):
            resources.predictor(bad)


def test_a_failed_load_is_remembered_per_file_version(tmp_path, monkeypatch):
    """A zip bomb cost ~10 s and +2 GB on every stroke of a session that picked it, because a
    failed load was never cached: now each file version fails once; a new file is tried."""
    from mnistkit import predict
    from mnistkit.predict import ModelError
    from ui import resources

    monkeypatch.setenv(resources.PRELOAD_ENV, "0")
    loads = []
    real = predict.load_predictor
    monkeypatch.setattr(predict, "load_predictor", lambda path: loads.append(path) or real(path))
    bad = tmp_path / "bomb.keras"
    bad.write_bytes(b"not a zip archive")
    raised = []
    for _ in range(3):  # three strokes
        with pytest.raises(ModelError, match="not a valid .keras file") as info:
            resources.predictor(bad)
        raised.append(info.value)
    assert len(loads) == 1
    # a new exception each stroke: one re-raised object would keep every stroke's frames
    # (a 2048 px upload's arrays among them) in its growing traceback: +150 MB a round
    depth = [len(traceback.extract_tb(e.__traceback__)) for e in raised]
    assert len({id(e) for e in raised}) == 3 and depth[2] == depth[1]
    save_tiny_model(bad)  # the file is replaced by a good one: a new version, loaded again
    os.utime(bad, ns=(bad.stat().st_atime_ns, bad.stat().st_mtime_ns + 10**9))
    assert resources.predictor(bad).proba(np.zeros((28, 28), np.float32)).shape == (1, 10)
    assert len(loads) == 2


def test_preloading_can_be_switched_off(tmp_path, monkeypatch):
    from ui import resources

    monkeypatch.setenv(resources.PRELOAD_ENV, "0")
    model = tmp_path / "m.keras"
    model.write_bytes(b"x")
    assert resources.preload_models([model]) == []
    assert str(model) not in preloaded_paths(resources)


def test_the_shared_model_list_sees_a_new_run_at_once(trained_copy, make_run, monkeypatch):
    from mnistkit import catalog
    from ui import resources

    listings = []
    real = catalog.list_choices
    monkeypatch.setattr(catalog, "list_choices", lambda *a: listings.append(1) or real(*a))
    before = resources.model_choices()
    assert resources.model_choices() == before and len(listings) == 1  # listed once, shared
    run = make_run(trained_copy.root, "20991231-000000-new")
    model = trained_copy.root / trained_copy.dense / "model.keras"
    (run / "model.keras").write_bytes(model.read_bytes())
    after = [c.path for c in resources.model_choices()]  # a new folder: listed again at once
    assert run / "model.keras" in after and len(after) == len(before) + 1
