"""Two students and a teacher in three real browser contexts (Debian chromium + Playwright).

Ada already has a run (her browser holds her identity cookie); Bob opens a lesson link with
controls hidden, is refused an oversized run, trains a tiny one (300 images, 1 epoch, dense);
Ada cannot delete or stop Bob's things, nor open his job through his link; the teacher
unlocks, sees both on the leaderboard (projector view) and deletes Bob's run. Screenshots go
to test-artifacts/roles-*.png.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

from devtools.appserver import running_app
from mnistkit import ownership
from mnistkit.config import TrainConfig
from mnistkit.limits import LessonLimits, save_limits
from mnistkit.ownership import Actor
from mnistkit.runs import RunStore
from tests.browser import ARTIFACTS, CHROMIUM, chromium, watched

pytestmark = pytest.mark.browser

CODE = "owl-piano-seven"
ADA = "ada-secret-" + "a" * 16  # Ada's identity cookie
HIDE = "optimizer,learning_rate,seed"


def _ada_run(root: Path) -> str:
    store = RunStore(root)
    key = ownership.server_key(root)
    ada = Actor(ownership.owner_id(key, ADA), name="Ada")
    run_dir = store.create(
        "ada-cnn",
        TrainConfig(arch="cnn", epochs=1, subset=300).to_dict(),
        owner=lambda run_id: ownership.owner_fields(key, ada, run_id),
    )
    store.write_metrics(run_dir, {"test_accuracy": 0.91, "params": 40_000, "epochs_run": 1})
    store.write_history(run_dir, {"loss": [0.5], "accuracy": [0.91]})
    store.set_status(run_dir, "completed")
    return run_dir.name


@pytest.fixture
def app(tmp_path: Path):
    if not CHROMIUM.exists():
        pytest.skip(f"{CHROMIUM} is missing (apt-get install chromium)")
    pytest.importorskip("playwright.sync_api", reason="the playwright Python package is missing")
    if not os.environ.get("MNISTKIT_DATA_DIR"):
        pytest.skip("MNISTKIT_DATA_DIR is not set: Bob trains on real MNIST")
    runs = tmp_path / "runs"
    ada_run = _ada_run(runs)
    save_limits(runs, LessonLimits(max_epochs=2))
    env = {"MNISTKIT_RUNS_DIR": str(runs), "MNISTKIT_TEACHER_CODE": CODE, "MNISTKIT_PRELOAD": "0"}
    with running_app(env=env, log_path=tmp_path / "streamlit.log") as served:
        yield served.url, runs, ada_run


def settled(page) -> None:
    """Wait until the Train page's run has finished (its layer summary needs TensorFlow):
    a click while the first run still loads TensorFlow interrupts it."""
    from playwright.sync_api import expect

    expect(page.get_by_text(re.compile(r"Layers · [\d,]+ parameters"))).to_be_visible(
        timeout=40_000
    )
    page.wait_for_timeout(300)


def _options(page, label: str) -> list[str]:
    """The options of a Streamlit selectbox (opened, read, closed)."""
    box = page.get_by_test_id("stSelectbox").filter(has_text=label)
    for _ in range(5):  # a click while the page reruns can land before the list exists
        box.click()
        try:
            page.get_by_role("option").first.wait_for(timeout=3_000)
            break
        except Exception:
            page.keyboard.press("Escape")
            page.wait_for_timeout(500)
    options = page.get_by_role("option").all_inner_texts()
    page.keyboard.press("Escape")
    return options


def _delete(page, label: str) -> None:
    _options(page, "Run to delete")  # opened once the page has settled
    page.get_by_test_id("stSelectbox").filter(has_text="Run to delete").click()
    page.get_by_role("option", name=label).click()
    page.get_by_text("Yes, delete this run folder for good").click()
    page.get_by_role("button", name="Delete").click()


def test_two_students_and_a_teacher(app) -> None:
    from playwright.sync_api import expect

    url, runs, ada_run = app
    with chromium() as browser:
        viewport = {"viewport": {"width": 1300, "height": 1000}}
        bob_ctx, ada_ctx, teacher_ctx = (browser.new_context(**viewport) for _ in range(3))
        ada_ctx.add_cookies([{"name": "mnistkit_id", "value": ADA, "url": url}])
        pages: dict = {}
        with watched(pages, None, "roles"):
            # Bob: a lesson link asking for too much; the controls it hides are gone
            bob = bob_ctx.new_page()
            pages["bob"] = bob
            bob.goto(f"{url}/train?arch=dense&epochs=5&subset=300&hide={HIDE}", timeout=30_000)
            expect(bob.get_by_role("button", name="Start")).to_be_enabled(timeout=30_000)
            settled(bob)
            bob.get_by_label("Your name", exact=True).fill("Bob")
            bob.get_by_label("Your name", exact=True).press("Enter")
            assert bob.get_by_label("Optimizer", exact=True).count() == 0
            assert bob.get_by_label("Seed", exact=True).count() == 0
            bob.get_by_role("button", name="Start").click()
            refusal = "Not started: this lesson allows at most 2 epochs, not 5."
            expect(bob.get_by_text(refusal)).to_be_visible(timeout=15_000)
            bob.screenshot(path=ARTIFACTS / "roles-refused.png", full_page=True)

            # a tiny run; then a reload (a new session: the cookie brings Bob's job back)
            link = f"{url}/train?arch=dense&epochs=1&subset=300&batch_size=64&hide={HIDE}"
            bob.goto(link)
            expect(bob.get_by_role("button", name="Start")).to_be_enabled(timeout=30_000)
            settled(bob)
            bob.get_by_role("button", name="Start").click()
            expect(bob.get_by_role("button", name="Stop", exact=True)).to_be_enabled(timeout=15_000)
            bob.reload()
            expect(bob.get_by_text(re.compile("Training completed"))).to_be_visible(timeout=60_000)
            expect(bob.get_by_text(re.compile("Your training: completed"))).to_be_visible()
            bob_run = next(p.name for p in runs.iterdir() if p.is_dir() and p.name != ada_run)

            # Ada: only her own run to delete; Bob's link opens nothing of his
            ada = ada_ctx.new_page()
            pages["ada"] = ada
            ada.goto(f"{url}/compare", timeout=30_000)
            expect(ada.get_by_text("Delete a run")).to_be_visible(timeout=30_000)
            assert _options(ada, "Run to delete") == [ada_run]
            ada.goto(link)
            expect(ada.get_by_text("No training yet")).to_be_visible(timeout=30_000)
            expect(ada.get_by_role("button", name="Stop", exact=True)).to_be_disabled()
            ada.goto(f"{url}/teacher")
            expect(ada.get_by_label("Teacher code")).to_be_visible(timeout=30_000)
            assert ada.get_by_role("tab").count() == 0

            # the teacher: unlock, the class, the leaderboard on the projector, delete Bob's run
            teacher = teacher_ctx.new_page()
            pages["teacher"] = teacher
            teacher.goto(f"{url}/teacher", timeout=30_000)
            # the unlock belongs to the browser's identity: wait until its cookie is set (on a
            # busy machine the cookie component can take seconds), or the next page is a stranger
            expect(teacher.get_by_label("Teacher code")).to_be_visible(timeout=30_000)
            for _ in range(100):
                if any(c["name"] == "mnistkit_id" for c in teacher_ctx.cookies()):
                    break
                teacher.wait_for_timeout(200)
            teacher.get_by_label("Teacher code").fill(CODE)
            teacher.get_by_role("button", name="Unlock").click()
            expect(teacher.get_by_role("tab", name="Leaderboard")).to_be_visible(timeout=30_000)
            teacher.get_by_role("tab", name="Leaderboard").click()
            teacher.wait_for_timeout(500)
            teacher.screenshot(path=ARTIFACTS / "roles-teacher.png", full_page=True)
            teacher.goto(f"{url}/teacher?view=projector")
            expect(teacher.get_by_text(re.compile(r"^1\. Ada: 91\.0%"))).to_be_visible(
                timeout=30_000
            )
            expect(teacher.get_by_text(re.compile(r"^2\. Bob: "))).to_be_visible()
            assert teacher.get_by_role("button").count() == 0
            teacher.screenshot(path=ARTIFACTS / "roles-projector.png", full_page=True)
            teacher.goto(f"{url}/compare")
            expect(teacher.get_by_text("Delete a run")).to_be_visible(timeout=30_000)
            assert sorted(_options(teacher, "Run to delete")) == sorted([ada_run, bob_run])
            _delete(teacher, bob_run)
            expect(teacher.get_by_text(f"Deleted {bob_run}.")).to_be_visible(timeout=15_000)
            assert not (runs / bob_run).exists() and (runs / ada_run).exists()
