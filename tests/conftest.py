"""Shared fixtures: a temporary runs folder, and two tiny real runs (dense and CNN) to look at."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

from mnistkit.data import DATA_ENV
from mnistkit.runs import RUNS_ENV

ROOT = Path(__file__).resolve().parents[1]
TINY_SUBSET = 400  # images per fixture run (20 % of them validate)


def pytest_sessionstart(session: pytest.Session) -> None:
    """In CI (MNISTKIT_REQUIRE_DATA=1) a missing MNIST folder is an error, not a quiet skip."""
    if os.environ.get("MNISTKIT_REQUIRE_DATA") and not Path(os.environ.get(DATA_ENV, "")).is_dir():
        raise pytest.UsageError(
            f"MNISTKIT_REQUIRE_DATA is set but {DATA_ENV}={os.environ.get(DATA_ENV)!r} "
            "is not a folder: the real-data tests would all be skipped"
        )


def needs_data() -> None:
    """Skip unless real MNIST is available through MNISTKIT_DATA_DIR."""
    if not os.environ.get(DATA_ENV):
        pytest.skip(f"{DATA_ENV} is not set: these tests train on real MNIST")


@pytest.fixture
def real_data() -> str:
    """The real MNIST folder; skips the test when MNISTKIT_DATA_DIR is not set."""
    needs_data()
    return os.environ[DATA_ENV]


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
def trained_runs(tmp_path_factory: pytest.TempPathFactory) -> TrainedRuns:
    """Train one tiny dense and one tiny CNN run (1 epoch, 400 images) once per session."""
    needs_data()
    from mnistkit.config import TrainConfig
    from mnistkit.runs import RunStore
    from mnistkit.training import train

    root = tmp_path_factory.mktemp("trained") / "runs"
    store = RunStore(root)
    ids = {}
    for arch in ("dense", "cnn"):
        config = TrainConfig(arch=arch, epochs=1, batch_size=64, subset=TINY_SUBSET)
        result = train(config, store, name=f"fixture-{arch}")
        assert result.status == "completed", result.message
        ids[arch] = result.run_dir.name
    return TrainedRuns(root=root, dense=ids["dense"], cnn=ids["cnn"])


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


def write_run(root: Path, run_id: str, status: str | None = "completed", **files) -> Path:
    """A hand-made run folder: config/status JSON plus any `name=obj` JSON files.

    `status=None` writes a corrupt status.json (a broken run).
    """
    folder = root / run_id
    folder.mkdir(parents=True)
    (folder / "config.json").write_text(json.dumps({"arch": "dense", "optimizer": "adam"}))
    if status is None:
        (folder / "status.json").write_text("{not json")
    else:
        (folder / "status.json").write_text(json.dumps({"status": status, "name": run_id}))
    for name, obj in files.items():
        (folder / f"{name}.json").write_text(json.dumps(obj))
    return folder


@pytest.fixture
def make_run():
    """`write_run` as a fixture, for tests that hand-make run folders."""
    return write_run
