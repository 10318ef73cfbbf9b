"""Tests for mnistkit.runs: run folders, broken runs, interruptions."""

import json
import os
import shutil
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from mnistkit import runs
from mnistkit.atomic import atomic_write_json
from mnistkit.liveness import is_active, process_started, register_active, unregister_active
from mnistkit.runs import (
    INTERRUPTED_MESSAGE,
    MODEL_FILE,
    RunBusyError,
    RunStore,
    history_csv,
    resolve_runs_dir,
    sanitize_name,
)
from tests.helpers import dead_pid

CONFIG = {"arch": "cnn", "epochs": 2, "name": "demo"}
HISTORY = {
    "loss": [0.5, 0.25],
    "accuracy": [0.8, 0.9],
    "val_loss": [0.4, 0.3],
    "val_accuracy": [0.85, 0.91],
    "epoch_seconds": [1.5, 1.25],
}


@pytest.fixture
def store(tmp_path: Path) -> RunStore:
    return RunStore(tmp_path / "runs")


def _fixed_stamp(monkeypatch: pytest.MonkeyPatch, stamp: str = "20240101-120000"):
    monkeypatch.setattr(runs, "_stamp", lambda: stamp)


def _temp_files(folder: Path) -> list[Path]:
    return [p for p in folder.rglob(".tmp-*")]


def _write_status(run_dir: Path, **fields) -> None:
    data = json.loads((run_dir / "status.json").read_text())
    data.update(fields)
    (run_dir / "status.json").write_text(json.dumps(data))


# --- runs dir and names ---------------------------------------------------------------


def test_resolve_runs_dir(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv(runs.RUNS_ENV, raising=False)
    assert resolve_runs_dir() == Path("runs")
    monkeypatch.setenv(runs.RUNS_ENV, str(tmp_path / "env"))
    assert resolve_runs_dir() == tmp_path / "env"
    assert resolve_runs_dir(tmp_path / "arg") == tmp_path / "arg"


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("../../x", "x"),
        ("a/b", "a-b"),
        ("  ", "run"),
        ("", "run"),
        ("...", "run"),
        ("café net", "cafe-net"),
        ("数字", "run"),
        ("cnn  v2!!", "cnn-v2"),
        ("my_run.1", "my_run.1"),
        ("-.hidden", "hidden"),
        ("a\\b", "a-b"),
    ],
)
def test_sanitize_name(name: str, expected: str) -> None:
    assert sanitize_name(name) == expected


def test_sanitize_long_name() -> None:
    out = sanitize_name("x" * 200)
    assert out == "x" * 60


@pytest.mark.parametrize("name", ["../../x", "a/b", "  ", "é/../..", "/etc/passwd", "x" * 200])
def test_create_stays_inside_root(tmp_path: Path, name: str) -> None:
    store = RunStore(tmp_path / "runs")
    run_dir = store.create(name, CONFIG)
    assert run_dir.parent == store.root
    assert sorted(p.name for p in tmp_path.iterdir()) == ["runs"]
    assert len(run_dir.name) <= len("20240101-120000-") + 60
    assert store.load(run_dir.name).name == name


# --- create / list / load -------------------------------------------------------------


def test_root_created_lazily(tmp_path: Path) -> None:
    store = RunStore(tmp_path / "runs")
    assert not store.root.exists()
    assert store.list() == []
    assert store.latest() is None
    assert store.mark_interrupted() == []
    assert not store.root.exists()


def test_round_trip(store: RunStore) -> None:
    run_dir = store.create("demo", CONFIG)
    store.write_history(run_dir, HISTORY)
    store.write_metrics(run_dir, {"test_accuracy": 0.97, "test_loss": float("nan")})
    store.model_path(run_dir).write_bytes(b"fake model")
    store.set_status(run_dir, "completed", "done")

    [info] = store.list()
    assert info.run_id == run_dir.name
    assert info.path == run_dir
    assert info.status == "completed"
    assert info.name == "demo"
    assert info.config == CONFIG
    assert info.history == HISTORY
    assert info.metrics == {"test_accuracy": 0.97, "test_loss": None}
    assert info.arch == "cnn"
    assert info.test_accuracy == 0.97
    assert info.has_model
    assert info.model_path == store.model_path(run_dir) == run_dir / MODEL_FILE
    assert info.error is None
    assert info.message == "done"
    assert info.pid == os.getpid()
    assert store.load(run_dir) == store.load(run_dir.name) == info

    status = json.loads((run_dir / "status.json").read_text())
    assert status["created"] == info.created
    assert status["updated"] >= status["created"]
    assert _temp_files(store.root) == []


def test_create_accepts_object_with_to_dict(store: RunStore) -> None:
    class Config:
        def to_dict(self) -> dict:
            return {"arch": "dense"}

    assert store.load(store.create("x", Config())).arch == "dense"


def test_collision_naming(store: RunStore, monkeypatch: pytest.MonkeyPatch) -> None:
    _fixed_stamp(monkeypatch)
    names = [store.create("same", CONFIG).name for _ in range(3)]
    base = "20240101-120000-same"
    assert names == [base, f"{base}-2", f"{base}-3"]


def test_collision_naming_threads(store: RunStore, monkeypatch: pytest.MonkeyPatch) -> None:
    _fixed_stamp(monkeypatch)
    made: list[Path] = []
    threads = [
        threading.Thread(target=lambda: made.append(store.create("t", CONFIG))) for _ in range(8)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len({p.name for p in made}) == 8
    assert all(info.status == "running" for info in store.list())


def test_list_newest_first_skips_hidden_and_files(
    store: RunStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    _fixed_stamp(monkeypatch, "20240101-120000")
    old = store.create("old", CONFIG)
    _write_status(old, created="2024-01-01T12:00:00+00:00")
    _fixed_stamp(monkeypatch, "20240102-120000")
    new = store.create("new", CONFIG)
    _write_status(new, created="2024-01-02T12:00:00+00:00")
    (store.root / ".hidden").mkdir()
    (store.root / "notes.txt").write_text("hi")
    assert [r.run_id for r in store.list()] == [new.name, old.name]


def test_set_status_keeps_fields(store: RunStore) -> None:
    run_dir = store.create("demo", CONFIG)
    before = json.loads((run_dir / "status.json").read_text())
    store.set_status(run_dir, "failed", "boom")
    after = json.loads((run_dir / "status.json").read_text())
    assert after["status"] == "failed" and after["message"] == "boom"
    assert after["pid"] == before["pid"] and after["created"] == before["created"]
    assert after["name"] == "demo"
    with pytest.raises(ValueError):
        store.set_status(run_dir, "exploded")


@pytest.mark.parametrize("bad", ["../x.json", "a/b.json", "", ".hidden", "..", "a\\b"])
def test_write_json_rejects_paths(store: RunStore, bad: str) -> None:
    run_dir = store.create("demo", CONFIG)
    with pytest.raises(ValueError):
        store.write_json(run_dir, bad, {})


def test_write_json_plain_name(store: RunStore) -> None:
    run_dir = store.create("demo", CONFIG)
    target = store.write_json(run_dir, "batches.json", {"loss": [1.0]})
    assert target == run_dir / "batches.json"
    assert json.loads(target.read_text()) == {"loss": [1.0]}


def test_writes_refuse_outside_root(store: RunStore, tmp_path: Path) -> None:
    store.create("demo", CONFIG)
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    with pytest.raises(ValueError):
        store.set_status(outside, "completed")
    with pytest.raises(ValueError):
        store.write_metrics("../elsewhere", {})
    assert list(outside.iterdir()) == []


# --- broken runs ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("filename", "content", "reason"),
    [
        ("status.json", "{not json", "status.json is not valid JSON"),
        ("config.json", '{"arch": ', "config.json is not valid JSON"),
        ("status.json", "[1, 2]", "status.json does not hold a JSON object"),
        ("status.json", '{"status": "weird"}', "status.json has unknown status"),
        ("config.json", b"\xff\xfe\x00", "config.json cannot be read"),
    ],
)
def test_corrupt_json_is_broken(
    store: RunStore, filename: str, content: str | bytes, reason: str
) -> None:
    run_dir = store.create("demo", CONFIG)
    if isinstance(content, bytes):
        (run_dir / filename).write_bytes(content)
    else:
        (run_dir / filename).write_text(content)
    [info] = store.list()
    assert info.status == "broken" and info.broken
    assert reason in info.error
    assert info.run_id == run_dir.name and info.created
    assert store.load(run_dir) == info


def test_half_written_run_is_broken(store: RunStore) -> None:
    half = store.root / "20240101-000000-half"
    half.mkdir(parents=True)
    (half / "config.json").write_text(json.dumps(CONFIG))
    [info] = store.list()
    assert info.status == "broken"
    assert info.error == "status.json is missing"
    assert info.name == half.name


def test_corrupt_optional_file_keeps_status(store: RunStore) -> None:
    run_dir = store.create("demo", CONFIG)
    store.set_status(run_dir, "completed")
    (run_dir / "metrics.json").write_text("{")
    info = store.load(run_dir.name)
    assert info.status == "completed"
    assert info.metrics is None and "metrics.json" in info.error


def test_folder_deleted_between_list_and_load(store: RunStore) -> None:
    run_dir = store.create("demo", CONFIG)
    [info] = store.list()
    shutil.rmtree(info.path)
    gone = store.load(info.run_id)
    assert gone.status == "broken"
    assert gone.error == "run folder no longer exists"
    assert store.list() == []
    assert not run_dir.exists()


def test_folder_deleted_while_listing(store: RunStore, monkeypatch: pytest.MonkeyPatch) -> None:
    run_dir = store.create("demo", CONFIG)
    real_read = runs.read_object

    def read_then_vanish(path: Path, required: bool = True):
        data = real_read(path, required)
        shutil.rmtree(run_dir, ignore_errors=True)
        return data

    monkeypatch.setattr(runs, "read_object", read_then_vanish)
    [info] = store.list()
    assert info.status == "broken"
    assert info.error == "run folder no longer exists"


def test_load_unknown_id_is_broken(store: RunStore) -> None:
    info = store.load("no-such-run")
    assert info.status == "broken" and info.error == "run folder no longer exists"


def test_list_with_root_a_file(tmp_path: Path) -> None:
    (tmp_path / "runs").write_text("not a folder")
    assert RunStore(tmp_path / "runs").list() == []


# --- delete / latest ------------------------------------------------------------------


def test_delete(store: RunStore) -> None:
    run_dir = store.create("demo", CONFIG)
    store.set_status(run_dir, "completed")
    store.delete(run_dir.name)
    assert not run_dir.exists()
    with pytest.raises(FileNotFoundError):
        store.delete(run_dir.name)


@pytest.mark.parametrize("bad", ["..", ".", "", "../victim", "/", "a/../../victim"])
def test_delete_refuses_outside_root(tmp_path: Path, bad: str) -> None:
    store = RunStore(tmp_path / "runs")
    store.create("demo", CONFIG)
    victim = tmp_path / "victim"
    victim.mkdir()
    with pytest.raises(ValueError):
        store.delete(bad)
    assert victim.exists() and store.root.exists()


def test_delete_refuses_symlink_out(store: RunStore, tmp_path: Path) -> None:
    store.create("demo", CONFIG)
    victim = tmp_path / "victim"
    victim.mkdir()
    (store.root / "link").symlink_to(victim)
    with pytest.raises(ValueError):
        store.delete("link")
    assert victim.exists()


def test_latest_picks_by_arch(store: RunStore, monkeypatch: pytest.MonkeyPatch) -> None:
    def make(stamp: str, arch: str, status: str, model: bool = True) -> Path:
        _fixed_stamp(monkeypatch, stamp)
        run_dir = store.create(arch, {"arch": arch})
        if model:
            store.model_path(run_dir).write_bytes(b"m")
        store.set_status(run_dir, status)
        day = stamp[6:8]
        _write_status(run_dir, created=f"2024-01-{day}T12:00:00+00:00")
        return run_dir

    dense = make("20240101-120000", "dense", "completed")
    cnn_old = make("20240102-120000", "cnn", "stopped")
    make("20240103-120000", "cnn", "failed")
    make("20240104-120000", "cnn", "completed", model=False)

    assert store.latest(arch="dense").path == dense
    assert store.latest(arch="cnn").path == cnn_old
    assert store.latest().path == cnn_old
    assert store.latest(arch="cnn", with_model=False).run_id.startswith("20240104")
    assert store.latest(arch="cnn", status="failed").run_id.startswith("20240103")
    assert store.latest(arch="mlp") is None


# --- mark_interrupted -----------------------------------------------------------------


def test_mark_interrupted(store: RunStore) -> None:
    dead = store.create("dead", CONFIG)
    _write_status(dead, pid=dead_pid())
    queued_dead = store.create("queued", CONFIG)
    _write_status(queued_dead, pid=dead_pid(), status="queued")
    foreign = store.create("foreign", CONFIG)
    _write_status(foreign, pid=os.getppid(), pid_started=process_started(os.getppid()))
    mine_active = store.create("mine-active", CONFIG)  # create registers it
    mine_stale = store.create("mine-stale", CONFIG)
    unregister_active(mine_stale)  # e.g. left by a previous server with the same pid
    finished = store.create("finished", CONFIG)
    _write_status(finished, pid=dead_pid())
    store.set_status(finished, "completed")

    flipped = store.mark_interrupted()

    assert sorted(flipped) == sorted([dead.name, queued_dead.name, mine_stale.name])
    by_id = {r.run_id: r for r in store.list()}
    for run_dir in (dead, queued_dead, mine_stale):
        assert by_id[run_dir.name].status == "interrupted"
        assert by_id[run_dir.name].message == INTERRUPTED_MESSAGE
    assert by_id[foreign.name].status == "running"
    assert by_id[mine_active.name].status == "running"
    assert by_id[finished.name].status == "completed"
    assert store.mark_interrupted() == []
    store.set_status(mine_active, "completed")  # final status unregisters
    assert not is_active(mine_active)


def test_mark_interrupted_previous_server_same_pid(store: RunStore) -> None:
    """A run written by hand with our pid, never registered, is stale."""
    run_dir = store.root / "20240101-000000-old"
    run_dir.mkdir(parents=True)
    atomic_write_json(run_dir / "config.json", CONFIG)
    atomic_write_json(run_dir / "status.json", {"status": "running", "pid": os.getpid()})
    assert store.mark_interrupted() == [run_dir.name]
    register_active(run_dir)
    try:
        store.set_status(run_dir, "running")
        assert store.mark_interrupted() == []
    finally:
        unregister_active(run_dir)


def test_mark_interrupted_missing_pid(store: RunStore) -> None:
    run_dir = store.create("nopid", CONFIG)
    _write_status(run_dir, pid=None)
    assert store.mark_interrupted() == [run_dir.name]


# --- history_csv ----------------------------------------------------------------------


def test_history_csv() -> None:
    text = history_csv({**HISTORY, "lr": [0.1], "note": "skip me"})
    lines = text.splitlines()
    assert lines[0] == "epoch,loss,accuracy,val_loss,val_accuracy,epoch_seconds,lr"
    assert lines[1] == "1,0.5,0.8,0.4,0.85,1.5,0.1"
    assert lines[2] == "2,0.25,0.9,0.3,0.91,1.25,"
    assert len(lines) == 3


def test_history_csv_empty() -> None:
    assert history_csv({}) == "epoch\n"
    assert history_csv({"loss": [None, 1.0]}).splitlines() == [
        "epoch,loss",
        "1,",
        "2,1.0",
    ]


def test_import_is_light() -> None:
    code = "import sys, mnistkit.runs; print(sorted({'tensorflow', 'keras'} & set(sys.modules)))"
    root = Path(__file__).resolve().parents[1]
    out = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        cwd=root,
        check=True,
    )
    assert out.stdout.strip() == "[]"


# --- the delete policy and predictions -------------------------------------------------


@pytest.mark.parametrize("status", ["running", "queued"])
def test_delete_refuses_a_run_that_is_still_training(store: RunStore, status: str) -> None:
    run_dir = store.create("busy", CONFIG)  # our own, live process
    _write_status(run_dir, status=status)
    assert store.is_live(run_dir.name)
    with pytest.raises(RunBusyError, match=f"{run_dir.name} is still training: stop it first"):
        store.delete(run_dir.name)
    assert run_dir.is_dir()
    assert isinstance(RunBusyError("x"), ValueError)  # pages that catch ValueError still do


@pytest.mark.parametrize(
    "fields",
    [{"status": "completed"}, {"status": "failed"}, {"status": "interrupted"}, {"pid": None}],
)
def test_delete_allows_a_finished_or_ownerless_run(store: RunStore, fields: dict) -> None:
    run_dir = store.create("done", CONFIG)
    _write_status(run_dir, **fields)
    assert not store.is_live(run_dir.name)
    store.delete(run_dir.name)
    assert not run_dir.exists()


def test_delete_allows_a_run_whose_process_died_or_that_is_broken(store: RunStore) -> None:
    dead = store.create("dead", CONFIG)
    _write_status(dead, pid=dead_pid())
    broken = store.create("broken", CONFIG)
    (broken / "status.json").write_text("{not json")
    for run_dir in (dead, broken):
        assert not store.is_live(run_dir.name)
        store.delete(run_dir.name)
        assert not run_dir.exists()


def test_predictions(store: RunStore) -> None:
    run_dir = store.create("p", CONFIG)
    assert store.predictions(run_dir.name) is None  # not written yet
    store.write_json(run_dir, "predictions.json", [7, 2, 1, 0, 9])
    assert store.predictions(run_dir.name) == [7, 2, 1, 0, 9]
    assert store.predictions(run_dir) == [7, 2, 1, 0, 9]  # a run folder works too
    assert store.predictions("no-such-run") is None


@pytest.mark.parametrize(
    "text",
    [
        "[7, 2",  # cut short
        '{"0": 7}',
        "7",
        "[7, 10]",
        "[7, -1]",
        "[7, 2.0]",
        "[7, true]",
        '[7, "2"]',
        "[[7]]",
        "[" * 100_000,  # deeper than json can nest
        "\udcff",
    ],
)
def test_predictions_of_a_damaged_file_are_none(store: RunStore, text: str) -> None:
    run_dir = store.create("p", CONFIG)
    (run_dir / "predictions.json").write_text(text, errors="surrogateescape")
    assert store.predictions(run_dir.name) is None


@pytest.mark.parametrize("bad", ["..", "../victim", "/"])
def test_predictions_never_read_outside_the_root(store: RunStore, bad: str) -> None:
    store.create("p", CONFIG)
    assert store.predictions(bad) is None


# --- stuck runs: liveness that does not rest on a pid alone -----------------------------


def test_a_run_whose_final_status_write_failed_can_be_deleted(store: RunStore) -> None:
    """The disk filled: the run says "running" with this server's pid, but nothing trains it."""
    run_dir = store.create("stuck", CONFIG)
    unregister_active(run_dir)  # what train()'s `finally` does after the failed write
    assert store.load(run_dir.name).status == "running"
    assert not store.is_live(run_dir.name)
    store.delete(run_dir.name)
    assert not run_dir.exists()


def test_a_reused_pid_does_not_keep_a_run_alive(store: RunStore) -> None:
    """After a crash, the recorded pid now belongs to another live process (here: pid 1)."""
    run_dir = store.create("crashed", CONFIG)
    unregister_active(run_dir)
    _write_status(run_dir, pid=1, pid_started=123)  # pid 1 is alive, but started otherwise
    assert not store.is_live(run_dir.name)
    assert store.mark_interrupted() == [run_dir.name]
    assert store.load(run_dir.name).status == "interrupted"


def test_a_run_of_another_machine_is_not_judged_by_this_one(store: RunStore) -> None:
    run_dir = store.create("elsewhere", CONFIG)
    unregister_active(run_dir)
    _write_status(run_dir, pid=dead_pid(), host="lab-pc-07")
    assert store.is_live(run_dir.name) and store.mark_interrupted() == []


def test_a_live_run_of_this_process_is_still_refused(store: RunStore) -> None:
    run_dir = store.create("training", CONFIG)
    with pytest.raises(RunBusyError):
        store.delete(run_dir.name)
    assert store.load(run_dir.name).pid_started is not None
