"""AppTests for the Train page: controls and presets, a tiny real run, Stop, the queue, reload."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from mnistkit import jobs
from mnistkit.config import DEFAULT_PRESET, PRESETS, TrainConfig
from mnistkit.jobs import JobQueue, find_job
from tests.helpers import shown

ROOT = Path(__file__).resolve().parents[1]
TRAIN = str(ROOT / "app_pages" / "train.py")
TIMEOUT = 120  # seconds a tiny run may take on a slow 2-core machine


def open_page(secret: str | None = None, **query) -> AppTest:
    """The Train page in a new session; `secret`: the browser's identity cookie (ui.identity)."""
    at = AppTest.from_file(TRAIN, default_timeout=60)
    if secret:
        at.session_state["identity_secret"] = secret
    at.query_params.update(query)
    return at.run()


def set_form(at: AppTest, **values) -> AppTest:
    """Set Train widgets by field name (key `train_<field>`)."""
    for field, value in values.items():
        _find(at, f"train_{field}").set_value(value)
    return at.run()


def _find(at: AppTest, key: str):
    for kind in ("radio", "slider", "select_slider", "selectbox", "number_input", "toggle"):
        found = [w for w in getattr(at, kind) if w.key == key]
        if found:
            return found[0]
    return at.text_input(key=key)


def rerun_until(at: AppTest, done, timeout: float = TIMEOUT) -> AppTest:
    """Rerun the page (as the fragment's polling would) until `done(at)` or the timeout."""
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        at.run()
        assert not at.exception, at.exception
        if done(at):
            return at
        time.sleep(0.3)
    raise AssertionError("timed out waiting for the page")


def job_of(at: AppTest) -> jobs.TrainingJob:
    job = find_job(at.session_state["job_id"])
    assert job is not None
    return job


def statuses(root: Path) -> dict[str, str]:
    return {p.parent.name: json.loads(p.read_text())["status"] for p in root.glob("*/status.json")}


@pytest.fixture
def one_slot(monkeypatch):
    """A fresh process-wide queue with one training slot (so a second job waits)."""
    monkeypatch.setattr(jobs, "_queue", JobQueue(slots=1))


def test_controls_summary_and_presets(runs_dir):
    at = open_page()
    assert not at.exception
    assert at.button(key="train_start").disabled is False
    assert at.button(key="train_stop").disabled is True
    assert len(at.selectbox(key="train_optimizer").options) == 8
    assert "No training yet" in " ".join(c.value for c in at.caption)
    cnn_params = at.metric[0].value  # in the layer-summary expander
    assert cnn_params == f"{_params('cnn'):,}"

    preset = at.selectbox(key="train_preset")
    assert preset.options == ["seed defaults", "quick lesson demo"]  # "modified" once it is
    assert preset.value == DEFAULT_PRESET
    at.selectbox(key="train_preset").set_value("seed").run()  # choosing a preset applies it
    assert not at.exception
    assert at.slider(key="train_epochs").value == 20
    at.radio(key="train_arch").set_value("dense").run()
    assert at.slider(key="train_epochs").value == 10
    assert at.slider(key="train_dropout").value == 0.0
    assert at.select_slider(key="train_batch_size").value == 32
    assert at.metric[0].value == "218,058"  # 784·256+256 + 256·64+64 + 64·10+10
    table = at.dataframe[0].value
    assert list(table["layer"])[-1] == "output"


def test_the_preset_follows_the_architecture_or_says_modified(runs_dir):
    """Issue 13, item 3: Dense after the quick CNN preset gets the quick *dense* settings."""
    quick = {arch: PRESETS["quick"].make(arch) for arch in ("cnn", "dense")}
    at = open_page()
    assert at.radio(key="train_arch").value == "cnn"
    assert at.slider(key="train_epochs").value == quick["cnn"].epochs
    at.radio(key="train_arch").set_value("dense").run()
    assert at.selectbox(key="train_preset").value == "quick"
    assert at.slider(key="train_epochs").value == quick["dense"].epochs
    assert at.select_slider(key="train_learning_rate").value == quick["dense"].learning_rate
    assert at.slider(key="train_dropout").value == quick["dense"].dropout
    at = set_form(at, epochs=7)  # a change of one's own: the box says so, and it stays
    assert at.selectbox(key="train_preset").value == "modified"
    assert at.selectbox(key="train_preset").options[-1] == "modified (your own settings)"
    at.radio(key="train_arch").set_value("cnn").run()
    assert at.selectbox(key="train_preset").value == "modified"
    assert at.slider(key="train_epochs").value == 7
    at.selectbox(key="train_preset").set_value("quick").run()
    assert at.slider(key="train_epochs").value == quick["cnn"].epochs


SECRET = "s" * 22  # a browser's identity cookie (ui.identity)


def _owner(runs_dir: Path) -> str:
    """The owner id the Train page computes for the browser with SECRET."""
    from mnistkit import ownership

    return ownership.owner_id(ownership.server_key(runs_dir), SECRET)


def test_a_running_job_shows_its_own_settings(runs_dir, one_slot, monkeypatch):
    """After a reload mid-run the form shows the running job's settings (not the defaults),
    disabled, and the live panel says what trains; a queued job has one button, Stop."""
    blocker = jobs.TrainingJob(TrainConfig(), None)  # holds the only slot: ours stays queued
    jobs._queue._running.add(blocker)
    config = TrainConfig(arch="dense", epochs=3, learning_rate=0.0003, subset=1000)
    mine = jobs.TrainingJob(config, None, name="안녕", owner=_owner(runs_dir)).start()
    try:
        at = open_page(SECRET)  # a reload: a new session of the same browser
        assert at.radio(key="train_arch").value == "dense"
        assert at.slider(key="train_epochs").value == 3
        assert at.select_slider(key="train_learning_rate").value == 0.0003
        assert at.text_input(key="train_name").value == "안녕"
        assert at.slider(key="train_epochs").disabled
        assert at.selectbox(key="train_preset").value == "modified"
        assert [b.key for b in at.button if b.key in ("train_stop", "train_cancel")] == [
            "train_stop"
        ]
        assert not at.button(key="train_stop").disabled
    finally:
        mine.stop()
        mine.join(5)
        jobs._queue._running.discard(blocker)


def test_a_run_that_diverged_is_not_a_green_success(runs_dir):
    """Issue 13, item 8: lr 1.0 gave loss 5 890 and 9.92 % under 'Training completed'."""
    job = jobs.TrainingJob(TrainConfig(learning_rate=1.0), None, owner=_owner(runs_dir))
    job.progress.add_epoch(0, {"loss": 5890.0, "val_loss": 6000.0})
    job.progress.finish(
        "completed", "test accuracy 9.92 %", metrics={"test_accuracy": 0.0992, "test_loss": 5890.0}
    )
    at = open_page(SECRET)
    assert not at.success
    assert "loss blew up" in at.error[0].value and "smaller learning rate" in at.error[0].value


def test_the_notes_are_short_words_with_the_deeper_ones_folded_away(runs_dir):
    at = open_page()
    words = " ".join(m.value for m in at.markdown)
    for word in ("Epoch", "Batch", "Loss", "Accuracy", "Validation"):
        assert f"**{word}**" in words
    deeper = at.expander[-1]
    assert "More detail" in deeper.label
    assert "sparse_categorical_crossentropy" in " ".join(c.value for c in deeper.caption)
    assert all(w.help for w in at.slider)  # every slider says what it does, beside it


def test_streamlit_no_longer_clears_keras_after_each_run(runs_dir):
    """Streamlit calls keras.backend.clear_session() after every run unless the page stops it."""
    from streamlit.runtime.scriptrunner import script_runner

    assert hasattr(script_runner, "_clean_problem_modules"), "Streamlit internals changed"
    at = open_page()
    assert not at.exception
    assert getattr(script_runner._clean_problem_modules, "_mnistkit", False)


def test_form_survives_a_page_switch(runs_dir):
    """Streamlit drops a widget's state when its page is left; the form keeps its values."""
    at = AppTest.from_file(str(ROOT / "streamlit_app.py"), default_timeout=60).run()
    at.switch_page("app_pages/train.py").run()
    at = set_form(at, arch="dense", epochs=7, name="kept")
    at.switch_page("app_pages/home.py").run()
    assert not at.exception
    at.switch_page("app_pages/train.py").run()
    assert not at.exception
    assert at.slider(key="train_epochs").value == 7
    assert at.radio(key="train_arch").value == "dense"
    assert at.text_input(key="train_name").value == "kept"


def test_failed_run_shows_its_reason(runs_dir, tmp_path, monkeypatch, one_slot):
    monkeypatch.setenv("MNISTKIT_DATA_DIR", str(tmp_path / "no-such-folder"))
    at = open_page()
    at = set_form(at, arch="dense", subset=300, epochs=1)
    at.button(key="train_start").click().run()
    at = rerun_until(at, lambda a: a.error, timeout=60)
    assert "Training failed" in at.error[0].value
    assert "does not exist" in shown(at.error[0].value)
    assert at.button(key="train_start").disabled is False
    assert statuses(runs_dir) == {}  # data that cannot be read leaves no run folder behind


def _params(arch: str) -> int:
    """Parameters of the quick-lesson model of `arch` (seed sizes)."""
    if arch == "dense":
        return 218_058
    conv = (3 * 3 * 1 * 16 + 16) + (3 * 3 * 16 * 32 + 32)
    return conv + (7 * 7 * 32 * 80 + 80) + (80 * 10 + 10)


@pytest.mark.slow
def test_tiny_run_completes_and_reload_finds_it(runs_dir, one_slot, real_data):
    browser = "t" * 22
    at = open_page(browser)
    at = set_form(at, arch="dense", subset=300, epochs=1, batch_size=32, name="tiny demo")
    at.button(key="train_start").click().run()
    assert not at.exception
    job_id = at.session_state["job_id"]
    assert "job" not in at.query_params  # the job follows its owner, not a link
    assert at.button(key="train_start").disabled is True

    at = rerun_until(at, lambda a: a.success)
    assert "Training completed" in at.success[0].value
    accuracy = [m for m in at.metric if m.label == "Test accuracy"]
    assert accuracy and accuracy[0].value.endswith("%")
    assert len(at.get("vega_lite_chart")) == 2  # loss and accuracy curves
    assert at.button(key="train_start").disabled is False
    (run,) = statuses(runs_dir).items()
    assert run[1] == "completed" and run[0].endswith("tiny-demo")
    assert (runs_dir / run[0] / "model.keras").is_file()

    reloaded = open_page(browser)  # a browser reload: new session, same cookie
    assert not reloaded.exception
    assert reloaded.session_state["job_id"] == job_id
    assert "Training completed" in reloaded.success[0].value

    assert "job_id" not in open_page(job=job_id).session_state  # the link alone: nothing
    stranger = open_page(job="not-a-job-id")
    assert not stranger.exception
    assert "job_id" not in stranger.session_state
    assert "job" not in stranger.query_params


@pytest.mark.slow
def test_stop_and_cancel_while_queued(runs_dir, one_slot, real_data):
    first = open_page()
    # all 48 000 training images: epoch 1 lasts long enough on any machine to stop it mid-way
    first = set_form(first, arch="cnn", subset=60_000, epochs=5, batch_size=32, patience=0)
    first.button(key="train_start").click().run()
    job = job_of(first)
    rerun_until(first, lambda a: job.snapshot().step > 0)
    assert first.get("progress")[0].proto.text.startswith("epoch 1/5 · batch ")

    second = open_page()  # another student: the only slot is taken, so this one waits
    second = set_form(second, arch="dense", subset=300, epochs=1)
    second.button(key="train_start").click().run()
    waiting = job_of(second)
    second = rerun_until(second, lambda a: a.info)
    assert "1st in line" in second.info[0].value
    second.button(key="train_stop").click().run()
    waiting.join(5)
    assert not waiting.alive
    assert waiting.snapshot().status == "stopped"
    assert "cancelled" in waiting.snapshot().message

    first.button(key="train_stop").click().run()
    started = time.monotonic()
    job.join(10)
    assert not job.alive, "the training thread did not end after Stop"
    assert time.monotonic() - started < 10
    first = rerun_until(first, lambda a: a.warning, timeout=10)
    assert "Training stopped" in first.warning[0].value
    assert list(statuses(runs_dir).values()) == ["stopped"]  # the cancelled job made no run
