"""The Ray engine on one local Ray instance (2 CPUs, token auth) shared by the whole file.

The same Train-page AppTest as the thread engine, Stop, the queue position, a worker killed
mid-run, a CLI (the app's stand-in) killed mid-run, an unreachable and an unauthenticated
cluster, and the data sent once. Tiny real data: these are about plumbing, not accuracy.
"""

from __future__ import annotations

import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from mnistkit.config import TrainConfig
from mnistkit.jobs import RAY_ADDRESS_ENV, TrainingJob, find_job, make_job
from mnistkit.runs import RunStore
from tests.helpers import ROOT, cli_env, run_cli

ray = pytest.importorskip("ray")

from mnistkit import ray_cluster, ray_jobs  # noqa: E402  (needs ray)
from tests.test_app_train import open_page, rerun_until, set_form, statuses  # noqa: E402

pytestmark = pytest.mark.ray
TINY = {"arch": "dense", "subset": 200, "epochs": 1, "batch_size": 32}
# Long enough to stop or kill mid-run (~100 steps an epoch), short enough never to matter.
LONG = {"arch": "dense", "subset": 2000, "epochs": 40, "batch_size": 16, "patience": 0}


@pytest.fixture(scope="module")
def local_ray():
    """One local Ray with token auth, started as a lab head would be; shut down at the end."""
    saved = {k: os.environ.get(k) for k in ("RAY_AUTH_MODE", "RAY_AUTH_TOKEN")}
    os.environ["RAY_AUTH_TOKEN"] = secrets.token_hex(32)  # in the env: nothing in ~/.ray
    ray_cluster.use_token_auth()  # this process imported Ray before the variables were set
    ray.init(
        address="local",
        num_cpus=2,
        include_dashboard=False,
        namespace=ray_cluster.NAMESPACE,
        runtime_env=ray_cluster.runtime_env(),
        log_to_driver=False,
    )
    yield ray.get_runtime_context().gcs_address
    ray.shutdown()
    ray_jobs._board, ray_jobs._data = None, {}
    ray_cluster._checked = None
    for key, value in saved.items():
        if value is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = value


@pytest.fixture
def on_ray(local_ray, monkeypatch, runs_dir, real_data):
    """Jobs go to the local Ray; runs land in `runs_dir`."""
    monkeypatch.setenv(RAY_ADDRESS_ENV, "auto")
    monkeypatch.setenv(ray_cluster.JOB_CPUS_ENV, "1")
    return runs_dir


def start(store: RunStore, name: str, data_dir: str, **config) -> ray_jobs.RayTrainingJob:
    job = make_job(TrainConfig(**config), store, name=name, data_dir=data_dir)
    assert isinstance(job, ray_jobs.RayTrainingJob)
    return job.start()


def until(condition, timeout: float = 60.0, what: str = "condition") -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.1)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_without_an_address_nothing_changes_and_ray_is_not_imported(tmp_path):
    code = (
        "import sys\n"
        "from mnistkit import cli, jobs\n"
        "from mnistkit.config import TrainConfig\n"
        "from mnistkit.runs import RunStore\n"
        f"job = jobs.make_job(TrainConfig(), RunStore({str(tmp_path)!r}))\n"
        "print(type(job).__name__, 'ray' in sys.modules)\n"
    )
    env = cli_env()
    env.pop(RAY_ADDRESS_ENV, None)
    proc = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.split() == ["TrainingJob", "False"]


def test_train_page_runs_a_job_on_ray(on_ray):
    at = open_page()
    at = set_form(at, arch="dense", subset=300, epochs=1, batch_size=32, name="on ray")
    at.button(key="train_start").click().run()
    job = find_job(at.session_state["job_id"])
    assert isinstance(job, ray_jobs.RayTrainingJob)

    at = rerun_until(at, lambda a: a.success)
    assert job.worker["pid"] != os.getpid()
    assert (job.worker["intra_op"], job.worker["inter_op"]) == (1, 1)  # TF sized to 1 CPU
    assert "Training completed" in at.success[0].value
    assert [m for m in at.metric if m.label == "Test accuracy"]
    (run, status), *_ = statuses(on_ray).items()
    assert status == "completed" and run.endswith("on-ray")
    files = {p.name for p in (on_ray / run).iterdir()}
    assert {"config.json", "history.json", "metrics.json", "model.keras"} <= files
    assert json.loads((on_ray / run / "status.json").read_text())["pid"] == os.getpid()
    until(lambda: ray.available_resources().get("CPU") == 2, 10, "the actor's CPUs back")


def test_stop_and_queue_position_with_one_slot(on_ray, monkeypatch, real_data):
    monkeypatch.setenv(ray_cluster.JOB_CPUS_ENV, "2")  # one job fills the 2-CPU cluster
    store = RunStore(on_ray)
    first = start(store, "long", real_data, **LONG)
    until(lambda: first.snapshot().step > 0, what="the first job training")
    second = start(store, "waits", real_data, **TINY)
    until(lambda: second.snapshot().queue_position == 1, 20, "1st in line")
    assert second.snapshot().status == "queued"
    second.stop()
    second.join(10)
    assert (second.snapshot().status, second.snapshot().message) == (
        "stopped",
        "cancelled before it started",
    )

    until(lambda: first.snapshot().epoch >= 1, what="one epoch done")
    asked = time.monotonic()
    first.stop()
    first.join(10)
    assert not first.alive and time.monotonic() - asked < 5
    assert first.snapshot().status == "stopped"
    assert list(statuses(on_ray).values()) == ["stopped"]  # the cancelled job made no run
    assert store.list()[0].has_model


def test_a_killed_worker_keeps_its_epochs_and_the_others_carry_on(on_ray, real_data):
    store = RunStore(on_ray)
    doomed = start(store, "doomed", real_data, **LONG)
    other = start(store, "other", real_data, **TINY)
    until(
        lambda: doomed.snapshot().epoch >= 1 and (doomed.run_dir / "model.keras").is_file(),
        what="an epoch and a best model mirrored",
    )
    ray.kill(doomed.actor)
    doomed.join(15)
    snap = doomed.snapshot()
    assert snap.status == "interrupted", snap.message
    assert "Ray worker" in snap.message and "best model" in snap.message
    info = store.load(doomed.run_dir.name)
    assert info.status == "interrupted" and info.has_model
    assert len(info.history["loss"]) >= 1

    other.join(60)
    assert other.snapshot().status == "completed", other.snapshot().message


def test_unreachable_cluster_fails_the_job_and_the_cli_in_one_line(
    local_ray, monkeypatch, runs_dir, real_data
):
    address = f"127.0.0.1:{free_port()}"  # nothing listens there
    monkeypatch.setenv(RAY_ADDRESS_ENV, address)
    job = start(RunStore(runs_dir), "nowhere", real_data, **TINY)
    job.join(10)
    snap = job.snapshot()
    assert snap.status == "failed"
    assert snap.message.startswith(f"Nothing answers at the Ray address {address}")
    assert list(runs_dir.iterdir()) == []

    proc = run_cli(
        "train", "--arch", "dense", "--subset", "200", "--epochs", "1", "--runs-dir", runs_dir,
        MNISTKIT_RAY_ADDRESS=address,
    )  # fmt: skip
    assert proc.returncode == 1
    assert proc.stderr.strip().splitlines() == [
        f"error: {snap.message}",
    ]


def test_the_cli_trains_on_ray_and_a_killed_app_leaves_an_interrupted_run(local_ray, runs_dir):
    """The CLI stands in for an app process that dies mid-run: Ray ends its actor, and the
    next app start (`mark_interrupted`) marks the run interrupted with the epochs it has."""
    args = ["train", "--arch", "dense", "--subset", "2000", "--epochs", "40", "--patience", "0"]
    proc = subprocess.Popen(
        [sys.executable, "-m", "mnistkit", *args, "--batch-size", "16", "--runs-dir", runs_dir],
        cwd=ROOT,
        env=cli_env(MNISTKIT_RAY_ADDRESS=local_ray, MNISTKIT_RAY_JOB_CPUS="1"),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        until(lambda: _epochs(runs_dir) >= 1 or proc.poll() is not None, 90, "an epoch")
        assert proc.poll() is None, proc.communicate()
        (run,) = runs_dir.iterdir()
        assert json.loads((run / "status.json").read_text())["pid"] == proc.pid
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    until(lambda: ray.available_resources().get("CPU") == 2, 20, "Ray to end the orphan")
    assert RunStore(runs_dir).mark_interrupted() == [run.name]
    info = RunStore(runs_dir).load(run.name)
    assert info.status == "interrupted" and len(info.history["loss"]) >= 1


def _epochs(runs_dir: Path) -> int:
    for history in runs_dir.glob("*/history.json"):
        return len(json.loads(history.read_text()).get("loss", []))
    return 0


def test_probes_tell_token_clusters_and_bad_tokens(local_ray, monkeypatch, tmp_path):
    assert ray_cluster.probe(local_ray, with_token=True) == "accepted"
    monkeypatch.setenv("RAY_AUTH_TOKEN", "a-stale-token")  # anonymous probe first, then this
    with pytest.raises(ray_cluster.ClusterError, match="rejected this app's token"):
        ray_cluster._check_gcs(local_ray, own_token=True)
    monkeypatch.delenv("RAY_AUTH_TOKEN")
    monkeypatch.setenv("HOME", str(tmp_path))  # no ~/.ray/auth_token either
    assert ray_cluster.probe(local_ray, with_token=True) == "no-token"


_OPEN_CLUSTER = """
import os
import ray
from mnistkit import ray_cluster
ray.init(address="local", num_cpus=1, include_dashboard=False)
try:
    ray_cluster.connect()
except ray_cluster.ClusterError as exc:
    print("refused:", exc)
os.environ[ray_cluster.ALLOW_OPEN_ENV] = "1"
ray_cluster.connect()
print("allowed")
ray.shutdown()
"""


def test_a_cluster_without_token_auth_is_refused_unless_allowed():
    env = cli_env(RAY_AUTH_MODE="disabled", MNISTKIT_RAY_ADDRESS="auto")
    env.pop("RAY_AUTH_TOKEN", None)
    proc = subprocess.run(
        [sys.executable, "-c", _OPEN_CLUSTER],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=90,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    refused, allowed = proc.stdout.strip().splitlines()[-2:]
    assert refused.startswith("refused: The Ray cluster at ")
    assert "accepts clients without a token" in refused
    assert allowed == "allowed"


def test_data_goes_to_a_node_once(local_ray, monkeypatch, tmp_path, real_data):
    monkeypatch.delenv("MNISTKIT_DATA_DIR")  # a node without its own MNIST
    monkeypatch.setattr("tempfile.tempdir", str(tmp_path))
    key = ray_jobs.app_data(real_data)
    assert ray_jobs.worker_data_dir(key, []) is None  # asks for the data
    ref = ray_jobs.data_ref(real_data)
    assert ray_jobs.data_ref(real_data) is ref  # put once per app process
    folder = ray_jobs.worker_data_dir(key, [ref])
    assert ray_jobs.worker_data_dir(key, []) == folder  # later jobs on this node: no transfer
    (x, _), _ = ray_jobs.load_mnist(folder)
    assert x.shape == (60_000, 28, 28)


def test_thread_engine_is_the_default(runs_dir, monkeypatch):
    monkeypatch.delenv(RAY_ADDRESS_ENV, raising=False)
    job = make_job(TrainConfig(), RunStore(runs_dir))
    assert type(job) is TrainingJob


def test_a_cluster_gone_silent_mid_run_interrupts_the_run(tmp_path, monkeypatch):
    """The head going away mid-lesson, without taking this test's Ray down with it."""

    class Silent:  # an actor handle whose calls are never answered
        poll = stop = type("Method", (), {"remote": staticmethod(lambda *args: "no reply")})

    def get(ref, timeout=None):
        raise ray.exceptions.GetTimeoutError("no reply")

    monkeypatch.setattr(ray_jobs.ray, "get", get)
    monkeypatch.setattr(ray_jobs, "LOST_S", 0.2)
    monkeypatch.setattr(ray_jobs, "POLL_S", 0.01)
    store = RunStore(tmp_path)
    job = ray_jobs.RayTrainingJob(TrainConfig(**TINY), store, name="silent")
    job.run_dir, job.actor = store.create("silent", {"arch": "dense"}), Silent()
    job._follow()
    snap = job.snapshot()
    assert snap.status == "interrupted"
    assert snap.message.startswith("lost contact with the Ray cluster (GetTimeoutError)")
    assert store.load(job.run_dir.name).status == "interrupted"
