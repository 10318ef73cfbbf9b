"""A real browser scrubs a run on the Inside page and plays it, and watches the Train page's
live panel's pictures; screenshots go to test-artifacts/replay-*.png.

Trains its own small CNN run (3 epochs on 2 000 images, ~15 s) so the slider has four
epochs; needs MNISTKIT_DATA_DIR, Debian's chromium and the playwright package.
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from devtools.appserver import running_app
from tests.browser import ARTIFACTS, CHROMIUM, chromium, watched

pytestmark = pytest.mark.browser
EPOCHS = 3


@pytest.fixture
def replay_app(tmp_path: Path, real_data: str):
    if not CHROMIUM.exists():
        pytest.skip(f"{CHROMIUM} is missing (apt-get install chromium)")
    pytest.importorskip("playwright.sync_api", reason="the playwright Python package is missing")
    from mnistkit.config import TrainConfig
    from mnistkit.runs import RunStore
    from mnistkit.training import train

    runs = tmp_path / "runs"
    config = TrainConfig(arch="cnn", epochs=EPOCHS, subset=2_000, batch_size=64, patience=0)
    run = train(config, RunStore(runs), name="replay-demo").run_dir.name
    log_path = tmp_path / "streamlit.log"
    with running_app(env={"MNISTKIT_RUNS_DIR": str(runs)}, log_path=log_path) as served:
        yield served.url, run, log_path


def shoot(page, name: str) -> None:
    """Screenshot the replay section (the app scrolls inside its own container)."""
    page.get_by_text("Watch it learn", exact=True).scroll_into_view_if_needed()
    page.wait_for_timeout(500)
    page.screenshot(path=ARTIFACTS / f"replay-{name}.png")


def map_caption(page, epoch: int):
    return page.get_by_text(f"hidden-space map, epoch {epoch}", exact=True)


def slide_to(page, key: str, epoch: int) -> float:
    """Press the epoch slider's arrow keys until it shows `epoch`; seconds to the new map."""
    thumb = page.get_by_test_id("stSlider").filter(has_text="Epoch").get_by_role("slider")
    start = time.perf_counter()
    thumb.focus()
    thumb.press(key)
    map_caption(page, epoch).wait_for(timeout=30_000)
    return time.perf_counter() - start  # the page showed another epoch's map before


def test_scrub_and_play_a_run(replay_app) -> None:
    url, run, log_path = replay_app
    with chromium() as browser:
        page = browser.new_page(viewport={"width": 1400, "height": 1100})
        with watched({"": page}, log_path, "replay"):
            page.goto(f"{url}/inside", timeout=30_000)
            box = page.get_by_test_id("stSelectbox").filter(has_text="Model")
            box.click()
            page.get_by_role("option").filter(has_text="replay-demo").first.click()
            page.get_by_text("Watch it learn", exact=True).wait_for(timeout=60_000)
            map_caption(page, EPOCHS).wait_for(timeout=60_000)
            shoot(page, f"epoch{EPOCHS}")

            seconds = [slide_to(page, "Home", 0)]
            shoot(page, "epoch0")
            seconds.append(slide_to(page, "ArrowRight", 1))
            seconds.append(slide_to(page, "ArrowLeft", 0))
            print(f"slider move → map shown: {[round(s, 3) for s in seconds]} s")

            page.get_by_role("button", name="Play").click()
            map_caption(page, 1).wait_for(timeout=30_000)
            map_caption(page, EPOCHS).wait_for(timeout=60_000)
            page.get_by_role("button", name="Play").wait_for(timeout=30_000)  # stopped at the end
            images = page.locator("img")
            for i in range(images.count()):
                assert images.nth(i).evaluate("i => i.complete && i.naturalWidth > 0")
            shoot(page, "played")
            map_caption(page, EPOCHS).scroll_into_view_if_needed()
            page.screenshot(path=ARTIFACTS / "replay-map.png")
