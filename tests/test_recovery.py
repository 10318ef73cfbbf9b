"""Recovery in a classroom: killed processes, a restarted app, reloaded tabs, many sessions at
once, one shared model for all; nothing a student does can reset Keras for everyone."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
import types
from pathlib import Path

import numpy as np
import pytest

from devtools.hostile import hand_in_run
from mnistkit.config import TrainConfig
from mnistkit.jobs import JobQueue, TrainingJob, find_job
from mnistkit.runs import INTERRUPTED_MESSAGE, RunStore, sanitize_name
from tests.classroom import (
    TIMEOUT,
    _calls,
    app_files,
    open_page,
    predictions,
    tiny_mnist,
)
from tests.helpers import (
    ROOT,
    cli_env,
    dead_pid,
    requires_data,
    wait_until,
)


@pytest.mark.slow
@requires_data
def test_killed_training_process_leaves_an_interrupted_loadable_run(tmp_path):
    """Server (or CLI) killed mid-run: the run is consistent, marked interrupted, its best
    checkpoint loads with safe_mode and predicts."""
    from mnistkit.data import load_mnist, to_model_input
    from mnistkit.predict import Predictor, load_model

    root = tmp_path / "runs"
    command = [sys.executable, "-m", "mnistkit", "train", "--arch", "dense", "--subset", "2000"]
    command += ["--epochs", "30", "--patience", "0", "--runs-dir", str(root)]
    proc = subprocess.Popen(
        command, cwd=ROOT, env=cli_env(), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    try:

        def epochs_written() -> int:
            for history in root.glob("*/history.json"):
                try:
                    return len(json.loads(history.read_text()).get("loss", []))
                except ValueError:  # never expected: history.json is written atomically
                    raise AssertionError("a half-written history.json") from None
            return 0

        wait_until(lambda: epochs_written() >= 1 or proc.poll() is not None, 120, "epoch 1")
        assert proc.poll() is None, "training ended before it could be killed"
        proc.send_signal(signal.SIGKILL)
        proc.wait(10)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()

    store = RunStore(root)
    (before,) = store.list()
    assert before.status == "running" and before.pid == proc.pid
    assert store.mark_interrupted() == [before.run_id]
    info = store.load(before.run_id)
    assert info.status == "interrupted" and info.message == INTERRUPTED_MESSAGE
    assert info.has_model and not info.broken and info.error is None
    assert len(info.history["loss"]) >= 1
    for path in info.path.glob("*.json"):  # every visible file is whole
        json.loads(path.read_text())

    predictor = Predictor(load_model(info.path))
    _, (x_test, y_test) = load_mnist(os.environ["MNISTKIT_DATA_DIR"])
    probs = predictor.proba(to_model_input(x_test[:500]))
    np.testing.assert_allclose(probs.sum(axis=1), 1.0, rtol=1e-5)
    assert (probs.argmax(axis=1) == y_test[:500]).mean() > 0.5  # it learnt something
    assert store.mark_interrupted() == []  # once is enough


def test_restarted_app_marks_dead_runs_interrupted_and_serves_their_model(
    runs_dir, tiny_model_file, canvas, monkeypatch
):
    """At start-up the app flips runs left "running" by a dead process; their model works."""
    monkeypatch.setattr("mnistkit.catalog.BUNDLED_DIR", runs_dir.parent / "no-bundled-models")
    hand_in_run(
        runs_dir,
        "20240101-120000-orphan",
        "running",
        model=tiny_model_file,
        fields={"pid": dead_pid()},
    )
    home = open_page("home")
    row = home.dataframe[-1].value.set_index("run").loc["20240101-120000-orphan"]
    assert row["status"] == "interrupted" and row["note"] == INTERRUPTED_MESSAGE
    draw = open_page("draw")
    assert len(predictions(draw)) == 1 and "orphan" in predictions(draw)[0]
    assert not draw.error


def test_reloaded_tab_finds_its_queued_job_and_can_cancel_it(runs_dir, blocked_queue):
    """Browser refresh mid-run: the new session (same browser, so the same identity cookie)
    finds the job, sees its place in line, and may cancel it; a cancelled job leaves no run
    folder. The job's id in a link alone finds nothing (see test_app_roles.py)."""
    browser = "r" * 22  # the identity cookie's secret (ui.identity)
    first = open_page("train", identity_secret=browser)
    first.button(key="train_start").click().run()
    job_id = first.session_state["job_id"]
    job = find_job(job_id)
    wait_until(lambda: job.snapshot().queue_position == 1, what="queued")

    assert "job_id" not in open_page("train", query={"job": job_id}).session_state
    reloaded = open_page("train", identity_secret=browser)
    assert reloaded.session_state["job_id"] == job_id
    assert "1st in line" in reloaded.info[0].value
    reloaded.button(key="train_stop").click().run()  # one button: Stop leaves the line
    job.join(5)
    assert not job.alive and job.snapshot().status == "stopped"
    assert "cancelled" in job.snapshot().message
    assert [p for p in runs_dir.iterdir() if not p.name.startswith(".")] == []  # no run


def test_two_sessions_never_see_each_others_jobs(runs_dir, blocked_queue):
    """Each session sees only its own job and its own place in line; a third sees none."""
    alice, bob = open_page("train"), open_page("train")
    for at in (alice, bob):
        at.button(key="train_start").click().run()
        assert not at.exception
    a, b = (find_job(at.session_state["job_id"]) for at in (alice, bob))
    assert a is not b and a.progress is not b.progress
    wait_until(lambda: blocked_queue.waiting == 2, what="both queued")
    assert "1st in line" in alice.run().info[0].value
    assert "2nd in line" in bob.run().info[0].value

    carol = open_page("train")
    assert "job_id" not in carol.session_state and not carol.info
    assert "No training yet" in " ".join(c.value for c in carol.caption)

    alice.button(key="train_stop").click().run()  # Alice's Stop stops only Alice's job
    a.join(5)
    assert a.snapshot().status == "stopped"
    wait_until(lambda: b.snapshot().queue_position == 1, what="Bob moves up")
    assert b.alive and b.snapshot().status == "queued"
    assert "1st in line" in bob.run().info[0].value


@pytest.fixture(scope="module")
def two_jobs(tmp_path_factory):
    """Two real (tiny) training jobs through one slot; named to try to escape the runs dir.

    Returns what a poller saw while they ran, the jobs, and the folders involved.
    """
    base = tmp_path_factory.mktemp("two-jobs")
    data = tiny_mnist(base / "data")
    store = RunStore(base / "runs")
    queue = JobQueue(slots=1)
    config = TrainConfig(arch="dense", epochs=2, batch_size=32, patience=0)
    first = TrainingJob(config, store, name="../../x", data_dir=data, queue=queue).start()
    wait_until(lambda: queue.running == 1, what="first admitted")
    second = TrainingJob(config, store, name="a/../../<b>y</b>", data_dir=data, queue=queue)
    second.start()
    seen = {"second waited 1st": False, "both running": False}
    deadline = time.monotonic() + TIMEOUT
    while first.alive or second.alive:
        assert time.monotonic() < deadline, "the two jobs did not finish"
        s2, s1 = second.snapshot(), first.snapshot()
        seen["second waited 1st"] |= s2.queue_position == 1 and not s1.finished
        seen["both running"] |= s1.status == "running" and s2.status == "running"
        time.sleep(0.005)
    return types.SimpleNamespace(
        first=first, second=second, queue=queue, store=store, base=base, seen=seen
    )


def test_second_job_waits_its_turn_then_runs(two_jobs):
    assert two_jobs.seen == {"second waited 1st": True, "both running": False}
    for job in (two_jobs.first, two_jobs.second):
        snap = job.snapshot()
        assert snap.status == "completed", snap.message
        assert snap.queue_position is None and job.error is None
    assert (two_jobs.queue.running, two_jobs.queue.waiting) == (0, 0)


def test_each_job_keeps_its_own_progress_and_run(two_jobs):
    a, b = two_jobs.first.snapshot(), two_jobs.second.snapshot()
    assert a.run_dir != b.run_dir
    assert len(a.history["loss"]) == len(b.history["loss"]) == 2  # not 4: nothing shared
    for job, snap in ((two_jobs.first, a), (two_jobs.second, b)):
        info = two_jobs.store.load(Path(snap.run_dir).name)
        assert info.name == job.name and info.history["loss"] == snap.history["loss"]


def test_run_names_cannot_escape_the_runs_dir(two_jobs):
    """Names like `../../x` are sanitised; the raw name is kept only as data."""
    base = two_jobs.base
    assert sorted(p.name for p in base.iterdir()) == ["data", "runs"]
    assert not (base.parent / "x").exists() and not (base.parent / "y").exists()
    folders = {p.name.split("-", 2)[2] for p in (base / "runs").iterdir()}  # stamp-stamp-name
    assert folders == {sanitize_name("../../x"), sanitize_name("a/../../<b>y</b>")}
    assert all("/" not in name for name in folders)
    names = {i.name for i in two_jobs.store.list()}
    assert names == {"../../x", "a/../../<b>y</b>"}


def test_shared_predictor_from_16_threads(tiny_model_file, monkeypatch):
    """Sixteen sessions ask the app's shared predictor at once (cold cache): one model load,
    one shared object, and every answer identical to a one-thread answer."""
    import mnistkit.predict
    from mnistkit.predict import Predictor, load_model
    from ui import resources

    loads: list[str] = []
    real_load = mnistkit.predict.load_predictor

    def counting_load(path):
        loads.append(str(path))
        return real_load(path)

    monkeypatch.setattr(mnistkit.predict, "load_predictor", counting_load)
    resources._predictor.clear()
    inputs = [
        np.random.default_rng(i).random((1 + i % 3, 28, 28, 1), np.float32) for i in range(16)
    ]
    got: list = [None] * 16
    errors: list[BaseException] = []
    start = threading.Barrier(16)

    def session(i: int) -> None:
        try:
            start.wait()
            shared = resources.predictor(tiny_model_file)
            got[i] = (shared, [shared.proba(inputs[i]) for _ in range(20)])
        except BaseException as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=session, args=(i,)) for i in range(16)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    resources._predictor.clear()
    assert not errors, errors
    assert loads == [str(tiny_model_file)]
    assert len({id(shared) for shared, _ in got}) == 1
    alone = Predictor(load_model(tiny_model_file))
    for i, (shared, answers) in enumerate(got):
        one_thread = shared.proba(inputs[i])
        for answer in answers:
            np.testing.assert_array_equal(answer, one_thread)
        np.testing.assert_allclose(one_thread, alone.proba(inputs[i]), rtol=1e-5, atol=1e-7)


def test_app_code_never_calls_clear_session():
    """`keras.utils.clear_session()` resets Keras for every thread: never in the app."""
    offenders = [
        f"{path.relative_to(ROOT)}:{call.lineno}"
        for path in app_files()
        for call in _calls(path)
        if getattr(call.func, "attr", getattr(call.func, "id", None)) == "clear_session"
    ]
    assert offenders == []


_KERAS_RESET_PROBE = """
import sys
from streamlit.runtime.scriptrunner import script_runner
from ui.resources import predictor

before = getattr(script_runner._clean_problem_modules, "_mnistkit", False)
predictor(sys.argv[1]).proba([[0.0] * 28] * 28)
print(before, getattr(script_runner._clean_problem_modules, "_mnistkit", False))
"""


def test_predicting_stops_streamlits_keras_reset(tiny_model_file):
    """Streamlit calls `keras.backend.clear_session()` after every script run of every session
    (a reset for all threads, ~0.3 s a stroke on the Draw page): the first prediction in a
    fresh server process switches that off, whether or not anyone opened the Train page."""
    proc = subprocess.run(
        [sys.executable, "-c", _KERAS_RESET_PROBE, str(tiny_model_file)],
        cwd=ROOT,
        env=cli_env(),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert proc.stdout.split() == ["False", "True"]


