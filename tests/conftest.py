"""Shared fixtures: a temporary runs folder, and two tiny real runs (dense and CNN) to look at."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import types
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

from devtools.hostile import hand_in_run
from mnistkit import jobs
from mnistkit.data import DATA_ENV
from mnistkit.jobs import JobQueue
from mnistkit.runs import RUNS_ENV
from tests.classroom import Holder, seven
from tests.helpers import NO_DATA, needs_data, save_tiny_model, shared_run

ROOT = Path(__file__).resolve().parents[1]


def pytest_sessionstart(session: pytest.Session) -> None:
    """In CI (MNISTKIT_REQUIRE_DATA=1) a missing MNIST folder is an error, not a quiet skip."""
    if os.environ.get("MNISTKIT_REQUIRE_DATA") and not Path(os.environ.get(DATA_ENV, "")).is_dir():
        raise pytest.UsageError(
            f"MNISTKIT_REQUIRE_DATA is set but {DATA_ENV}={os.environ.get(DATA_ENV)!r} "
            "is not a folder: the real-data tests would all be skipped"
        )


REAL_DATA_FIXTURES = {"real_data", "trained_runs", "trained_copy"}


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """A test that trains on real MNIST is `slow`, whichever way it asks for the data."""
    for item in items:
        skips = [m for m in item.iter_markers("skipif") if m.kwargs.get("reason") == NO_DATA]
        if skips or REAL_DATA_FIXTURES & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.slow)


@pytest.fixture
def real_data() -> str:
    """The real MNIST folder; skips the test when MNISTKIT_DATA_DIR is not set."""
    return needs_data()


@pytest.fixture
def runs_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty runs folder that the app (and `run_store()`) use for this test."""
    root = tmp_path / "runs"
    root.mkdir()
    monkeypatch.setenv(RUNS_ENV, str(root))
    return root


@dataclass(frozen=True)
class TrainedRuns:
    """A runs folder holding one completed dense run and one completed CNN run."""

    root: Path
    dense: str  # run ids
    cnn: str


@pytest.fixture(scope="session")
def trained_runs() -> TrainedRuns:
    """One tiny dense and one tiny CNN run (1 epoch of 400 images: the best epoch is the
    last), trained once per session by `helpers.shared_run`."""
    needs_data()
    dense, cnn = (shared_run(a, subset=400, epochs=1, batch_size=64)[0] for a in ("dense", "cnn"))
    for result in (dense, cnn):
        assert result.status == "completed", result.message
    return TrainedRuns(root=dense.run_dir.parent, dense=dense.run_dir.name, cnn=cnn.run_dir.name)


@pytest.fixture
def trained_copy(trained_runs: TrainedRuns, tmp_path: Path, monkeypatch) -> TrainedRuns:
    """A private copy of the trained runs (tests may delete or damage it), set as the runs dir."""
    root = tmp_path / "runs"
    shutil.copytree(trained_runs.root, root)
    monkeypatch.setenv(RUNS_ENV, str(root))
    return TrainedRuns(root=root, dense=trained_runs.dense, cnn=trained_runs.cnn)


_PAGE_PROBE = """
import json, sys, time
from streamlit.testing.v1 import AppTest
out = {}
for page in sys.argv[1:]:
    start = time.perf_counter()
    at = AppTest.from_file(page, default_timeout=60).run()
    out[page] = {
        "seconds": time.perf_counter() - start,
        "exceptions": [e.value for e in at.exception],
        "errors": [e.value for e in at.error],
    }
out["tensorflow_imported"] = "tensorflow" in sys.modules
print(json.dumps(out))
"""


@pytest.fixture
def render_in_subprocess():
    """Render pages with AppTest in a fresh interpreter; report timings, errors, TF import.

    A fresh process is the only honest way to see whether a page imports TensorFlow.
    Uses the current environment (set MNISTKIT_* with monkeypatch first).
    """

    def render(*pages: str) -> dict:
        env = dict(os.environ, PYTHONPATH=str(ROOT))
        proc = subprocess.run(
            [sys.executable, "-c", _PAGE_PROBE, *pages],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert proc.returncode == 0, proc.stderr[-3000:]
        return json.loads(proc.stdout.strip().splitlines()[-1])

    return render


@pytest.fixture
def make_run():
    """`devtools.hostile.hand_in_run` as a fixture, for tests that hand-make run folders."""
    return hand_in_run


# --- the classroom tests' pages: tiny untrained models, a fake canvas, a full queue ---------


@pytest.fixture(scope="module")
def tiny_model_file(tmp_path_factory) -> Path:
    """One tiny untrained MNIST-shaped model (28×28×1 → 10), saved once for this module."""
    return save_tiny_model(tmp_path_factory.mktemp("tiny") / "tiny.keras", seed=5)


@pytest.fixture
def model_runs(runs_dir: Path, tiny_model_file: Path, monkeypatch) -> dict[str, Path]:
    """A dense and a "cnn" run, each with a tiny model; no bundled models in the way."""
    monkeypatch.setattr("mnistkit.catalog.BUNDLED_DIR", runs_dir.parent / "no-bundled-models")
    return {
        "dense": hand_in_run(runs_dir, "20240101-120000-dense", model=tiny_model_file),
        "cnn": hand_in_run(runs_dir, "20240101-120001-cnn", arch="cnn", model=tiny_model_file),
    }


@pytest.fixture
def canvas(monkeypatch):
    """Replace the canvas component: `canvas.image` is what the student 'drew'."""
    fake = types.SimpleNamespace(image=np.asarray(seven()))
    module = types.ModuleType("streamlit_drawable_canvas")
    module.st_canvas = lambda **kwargs: types.SimpleNamespace(
        image_data=fake.image,
        json_data=None,  # as the real CanvasResult: always both
    )
    monkeypatch.setitem(sys.modules, "streamlit_drawable_canvas", module)
    return fake


@pytest.fixture
def blocked_queue(monkeypatch):
    """A one-slot process-wide queue whose slot is taken: every new job waits in line.

    Jobs started meanwhile are cancelled and joined afterwards, whatever the test did.
    """
    queue = JobQueue(slots=1)
    holder = Holder()
    assert queue.acquire(holder)
    monkeypatch.setattr(jobs, "_queue", queue)
    started = set(jobs._jobs)
    yield queue
    for job_id in set(jobs._jobs) - started:
        job = jobs._jobs[job_id]
        job.stop()
        job.join(10)
        assert not job.alive
    queue.release(holder)


