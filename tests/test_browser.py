"""A real browser draws a digit on the Draw page and a prediction appears.

Starts `streamlit run streamlit_app.py` on a free loopback port and drives Debian's chromium
through Playwright (never `playwright install`). Saves screenshots to test-artifacts/ (and,
with MNISTKIT_UPDATE_SCREENSHOTS=1, the README's copy to docs/draw.png).
"""

from __future__ import annotations

import base64
import os
import re
import shutil
from pathlib import Path

import pytest

from devtools.appserver import running_app
from devtools.hostile import hand_in_run
from tests.browser import ARTIFACTS, CHROMIUM, ROOT, chromium, watched
from ui.digit_input import TOOLBAR_STRIP

pytestmark = pytest.mark.browser

BUNDLED = [ROOT / "models" / "dense.keras", ROOT / "models" / "cnn.keras"]
SEVEN = [(70, 60), (210, 60), (120, 235)]  # a "7" in pad pixels (the 280×280 black square)
# A "7" begun at the pad's top-right corner, where the canvas toolbar floats
TOP_RIGHT_SEVEN = [(262, 4), (40, 4), (40, 6), (262, 6), (150, 250)]
DIGITS = set("0123456789")
SVG = "data:image/svg+xml;base64,"


@pytest.fixture
def app(request: pytest.FixtureRequest, tmp_path: Path):
    """The app running on a free port, with a model to predict: bundled, else tiny runs."""
    if not CHROMIUM.exists():
        pytest.skip(f"{CHROMIUM} is missing (apt-get install chromium)")
    pytest.importorskip("playwright.sync_api", reason="the playwright Python package is missing")
    runs = tmp_path / "runs"
    if all(p.exists() for p in BUNDLED):
        runs.mkdir()
    else:  # no bundled models yet: train tiny ones (needs MNISTKIT_DATA_DIR)
        shutil.copytree(request.getfixturevalue("trained_runs").root, runs)
    log_path = tmp_path / "streamlit.log"
    with running_app(env={"MNISTKIT_RUNS_DIR": str(runs)}, log_path=log_path) as served:
        yield served.url, log_path


def _open_draw(page, url: str):
    """Open the app at Home, follow the sidebar link to Draw; the canvas locator."""
    page.goto(url, timeout=30_000)
    page.get_by_test_id("stSidebarNav").get_by_role("link", name="Draw & predict").click()
    page.wait_for_url("**/draw", timeout=30_000)
    canvas = page.locator("canvas.upper-canvas")
    canvas.wait_for(state="visible", timeout=30_000)
    page.get_by_text("Draw a digit").last.wait_for(timeout=30_000)
    return canvas


def _stroke(mouse, box: dict, points: list[tuple[int, int]], arrive_from=None) -> None:
    """Press at the first point (pad coordinates), drag through the others, release.

    `arrive_from`: the pointer first rests there (page pixels off the canvas), then jumps to
    the first point and presses at once, as a quick hand does."""
    x0, y0 = box["x"], box["y"] + TOOLBAR_STRIP
    if arrive_from is not None:
        mouse.move(*arrive_from)
    mouse.move(x0 + points[0][0], y0 + points[0][1])
    mouse.down()
    for x, y in points[1:]:
        mouse.move(x0 + x, y0 + y, steps=15)
    mouse.up()


def test_draw_a_seven_gets_a_prediction(app: tuple[str, Path]) -> None:
    url, log_path = app
    with chromium() as browser:
        page = browser.new_page(viewport={"width": 1400, "height": 1100})
        with watched({"": page}, log_path, "draw"):
            # Open the app as a class does, at its home page, then follow the sidebar link
            # (the page's own URL is /draw).
            canvas = _open_draw(page, url)
            _stroke(page.mouse, canvas.bounding_box(), SEVEN)

            metric = page.get_by_test_id("stMetric").filter(has_text="Prediction").first
            metric.wait_for(timeout=30_000)
            value = metric.get_by_test_id("stMetricValue").inner_text().strip()
            assert value in DIGITS, f"the metric shows {value!r}, not a digit"

            bars = page.locator(f'img[src^="{SVG}"]')  # one bar chart per model
            bars.first.wait_for(timeout=15_000)
            assert bars.count() == page.get_by_test_id("stMetric").count()
            svg = base64.b64decode(bars.first.get_attribute("src")[len(SVG) :]).decode()
            red = re.findall(r'data-digit="(\d)"[^>]*fill="#ff4b4b"', svg)
            assert red == [value], "the answer's bar, and only it, is highlighted"
            page.get_by_text("What the models see").wait_for(timeout=15_000)
            steps = page.locator('img[src^="data:image/png;base64,"]')
            assert steps.count() == 4
            for i in range(4):  # drawn by the browser, not broken pictures
                assert steps.nth(i).evaluate("i => i.complete && i.naturalWidth === 112")
            assert all(bars.nth(i).evaluate("i => i.naturalWidth > 0") for i in range(bars.count()))
            page.wait_for_timeout(1_000)  # let the charts finish drawing
            page.screenshot(path=ARTIFACTS / "draw.png", full_page=True)
            if os.environ.get("MNISTKIT_UPDATE_SCREENSHOTS"):  # refresh the README's picture
                shutil.copyfile(ARTIFACTS / "draw.png", ROOT / "docs" / "draw.png")


def _prediction(page) -> str:
    metric = page.get_by_test_id("stMetric").filter(has_text="Prediction").first
    metric.wait_for(timeout=30_000)
    return metric.get_by_test_id("stMetricValue").inner_text().strip()


def test_a_stroke_begun_under_the_toolbar_at_once_is_drawn(app: tuple[str, Path]) -> None:
    """The toolbar fades in over the canvas's top edge when the pointer arrives; a stroke
    begun at the pad's top-right corner right then must still draw (issue 13, item 2), also
    right after the toolbar's trash icon was pressed."""
    url, log_path = app
    with chromium() as browser:
        page = browser.new_page(viewport={"width": 1400, "height": 1100})
        with watched({"": page}, log_path, "draw-top-right"):
            canvas = _open_draw(page, url)
            box = canvas.bounding_box()
            above = (box["x"] + 262, box["y"] - 120)  # off the canvas, above its right end
            _stroke(page.mouse, box, TOP_RIGHT_SEVEN, arrive_from=above)
            assert _prediction(page) in DIGITS
            # the toolbar's trash, then at once a new stroke from the same corner
            page.locator("canvas.upper-canvas").hover(position={"x": 140, "y": 150})
            page.get_by_role("button").filter(has=page.locator("svg")).last.wait_for()
            trash = page.locator(".dc-toolbar .dc-icon-button").last
            trash.click()
            page.get_by_text("Draw a digit").last.wait_for(timeout=15_000)
            _stroke(page.mouse, canvas.bounding_box(), TOP_RIGHT_SEVEN)
            assert _prediction(page) in DIGITS
            page.screenshot(path=ARTIFACTS / "draw-top-right.png", full_page=True)


def test_the_drawing_is_still_there_after_another_page(app: tuple[str, Path]) -> None:
    """Draw → Inside the CNN → Draw: the drawing and its prediction come back (item 4)."""
    url, log_path = app
    with chromium() as browser:
        page = browser.new_page(viewport={"width": 1400, "height": 1100})
        with watched({"": page}, log_path, "draw-after-inside"):
            canvas = _open_draw(page, url)
            _stroke(page.mouse, canvas.bounding_box(), SEVEN)
            before = _prediction(page)
            nav = page.get_by_test_id("stSidebarNav")
            nav.get_by_role("link", name="Inside the CNN").click()
            page.wait_for_url("**/inside", timeout=30_000)
            page.get_by_text("Feature maps").first.wait_for(timeout=60_000)
            nav.get_by_role("link", name="Draw & predict").click()
            page.wait_for_url("**/draw", timeout=30_000)
            assert _prediction(page) == before
            page.wait_for_timeout(1_500)  # the canvas reloads the strokes
            ink = page.locator("canvas.dc-canvas.lower-canvas").evaluate(  # objects
                """c => { const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
                          let n = 0; for (let i = 3; i < d.length; i += 4) n += d[i] > 0;
                          return n; }"""
            )
            assert ink > 1000, "the strokes are drawn again on the canvas"
            page.screenshot(path=ARTIFACTS / "draw-after-inside.png", full_page=True)


def test_the_curves_are_tall_and_say_how_to_read_them(app: tuple[str, Path], tmp_path: Path):
    """Issue 13, item 11: the plot area was ~55 px of a 260 px chart (Streamlit's theme puts
    titles and legend inside the given height); accuracy is zoomed to the epochs' values."""
    from ui.charts import CHART_HEIGHT

    url, log_path = app
    history = {
        "loss": [0.30, 0.10, 0.07, 0.05],
        "val_loss": [0.10, 0.08, 0.06, 0.05],
        "accuracy": [0.920, 0.975, 0.985, 0.990],
        "val_accuracy": [0.980, 0.985, 0.987, 0.989],
    }  # four epochs; no model: Compare needs none
    for run_id, arch, name in (
        ("20240101-120000-cnn", "cnn", "my CNN"),
        ("20240101-110000-dense", "dense", "my dense net"),
    ):
        runs = tmp_path / "runs"
        fields = {"name": name}
        metrics = {"test_accuracy": 0.9911}
        hand_in_run(runs, run_id, arch=arch, fields=fields, history=history, metrics=metrics)
    with chromium() as browser:
        page = browser.new_page(viewport={"width": 1400, "height": 1400})
        with watched({"": page}, log_path, "compare-curves"):
            page.goto(url + "/compare", timeout=30_000)
            charts = page.get_by_test_id("stVegaLiteChart")
            charts.nth(1).wait_for(timeout=30_000)
            page.wait_for_timeout(1_500)  # let Vega draw
            for i in range(2):
                box = charts.nth(i).bounding_box()
                assert box["height"] >= CHART_HEIGHT, box
                drawn = charts.nth(i).locator("canvas, svg").first.bounding_box()
                assert drawn["height"] >= CHART_HEIGHT - 20, drawn
            page.get_by_text("Train vs validation.").first.wait_for(timeout=10_000)
            page.screenshot(path=ARTIFACTS / "compare-curves.png", full_page=True)
