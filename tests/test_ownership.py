"""Owner ids, signed owner fields, display names and the who-may-change-what policy."""

from __future__ import annotations

import json
import os
import shutil
import stat

import pytest

from mnistkit import ownership
from mnistkit.config import TrainConfig
from mnistkit.ownership import Actor, NameBook, NotYoursError, RunOwner
from mnistkit.runs import RunStore


def _actor(store: RunStore, secret: str, **kw) -> Actor:
    return Actor(ownership.owner_id(ownership.server_key(store.root), secret), **kw)


def _run(store: RunStore, actor: Actor | None, name: str = "r") -> str:
    key = ownership.server_key(store.root)
    stamp = None if actor is None else (lambda run_id: ownership.owner_fields(key, actor, run_id))
    run_dir = store.create(name, TrainConfig(epochs=1).to_dict(), owner=stamp)
    store.set_status(run_dir, "completed")
    return run_dir.name


def test_server_key_is_private_stable_and_hidden(tmp_path):
    store = RunStore(tmp_path / "runs")
    key = ownership.server_key(store.root)
    assert len(key) == 64 and ownership.server_key(store.root) == key
    mode = stat.S_IMODE(os.stat(store.root / ownership.KEY_FILE).st_mode)
    assert mode == 0o600
    assert store.list() == []  # the key file is not a run


def test_owner_id_is_keyed_and_never_the_secret():
    secret = ownership.new_secret()
    assert ownership.valid_secret(secret)
    a, b = ownership.owner_id(b"k1", secret), ownership.owner_id(b"k2", secret)
    assert a != b and secret not in a and len(a) == 32
    assert ownership.owner_id(b"k1", secret, "account") != a
    for bad in (None, "", "short", "x" * 200, "has space" * 3, "<script>alert(1)</script>"):
        assert not ownership.valid_secret(bad)


@pytest.mark.parametrize(
    ("typed", "kept"),
    [
        ("  Ada   Lovelace ", "Ada Lovelace"),
        ("<b>Bob</b> **bold** [x](javascript:1)", "<b>Bob</b> **bold** [x](javascript:1)"),
        ("evil\u202etxt.exe\u200b\x00\x1b[31m", "evil txt.exe [31m"),
        ("\n\t\r", None),
        ("", None),
        (None, None),
        ("é" * 10_000, "é" * ownership.NAME_MAX),
    ],
)
def test_clean_name_keeps_plain_text_only(typed, kept):
    """Markup stays literal text (pages show it escaped); control characters go."""
    assert ownership.clean_name(typed) == kept


def test_name_book_round_trip_and_damage(tmp_path):
    book = NameBook(tmp_path)
    assert book.get("o1") is None
    assert book.set("o1", "x" * 10_000) == "x" * ownership.NAME_MAX
    assert book.set("o2", "Bo\x07b") == "Bo b"
    assert NameBook(tmp_path).get("o1") == "x" * ownership.NAME_MAX
    assert book.set("o2", "   ") is None and book.get("o2") is None
    (tmp_path / ownership.NAMES_FILE).write_text("[1, 2")
    assert book.get("o1") is None  # damaged file: names forgotten, nothing raised
    assert book.set("o3", "Cy") == "Cy"


def test_runs_record_a_verified_owner(tmp_path):
    store = RunStore(tmp_path / "runs")
    ada = _actor(store, "a" * 20, name="Ada")
    run_id = _run(store, ada)
    owner = ownership.owner_of(store, store.load(run_id))
    assert owner == RunOwner(ada.owner_id, "Ada", "owned")
    status = json.loads((store.root / run_id / "status.json").read_text())
    assert "a" * 20 not in json.dumps(status)  # the secret is never written


def test_forged_or_foreign_owner_fields_are_unverified(tmp_path):
    store = RunStore(tmp_path / "runs")
    ada, eve = _actor(store, "a" * 20, name="Ada"), _actor(store, "e" * 20, name="Eve")
    run_id = _run(store, ada)
    path = store.root / run_id / "status.json"
    status = json.loads(path.read_text())

    for forged in (
        {**status, "owner": eve.owner_id},  # Eve writes her id into Ada's run
        {**status, "owner_name": "Teacher"},  # or renames its owner
        {**status, "owner_sig": "0" * 64},
        {**status, "owner": 5, "owner_name": ["x"]},
        {k: v for k, v in status.items() if k != "owner_sig"},
    ):
        path.write_text(json.dumps(forged))
        owner = ownership.owner_of(store, store.load(run_id))
        assert owner.state == "unverified" and owner.owner_id is None
        # treated like a run made before owners: never Eve's to claim on a classroom server
        assert not ownership.may_change_run(Actor(eve.owner_id, teacher_code_set=True), owner)
        assert ownership.may_change_run(Actor("t", teacher=True, teacher_code_set=True), owner)

    other = RunStore(tmp_path / "other")  # a folder handed in from another server
    path.write_text(json.dumps(status))
    shutil.copytree(store.root / run_id, other.root / run_id)
    assert ownership.owner_of(other, other.load(run_id)).state == "unverified"
    shutil.copytree(store.root / run_id, store.root / "copied-under-a-new-name")
    assert ownership.owner_of(store, store.load("copied-under-a-new-name")).state == "unverified"
    assert ownership.owner_of(store, store.load(run_id)).state == "owned"


def test_policy_owner_teacher_and_unowned_runs(tmp_path):
    store = RunStore(tmp_path / "runs")
    ada, bob = _actor(store, "a" * 20), _actor(store, "b" * 20)
    teacher = Actor("t" * 32, teacher=True, teacher_code_set=True)
    ada_run, old_run = _run(store, ada, "ada"), _run(store, None, "old")

    with pytest.raises(NotYoursError, match="not yours"):
        ownership.delete_run(store, bob, ada_run)
    with pytest.raises(NotYoursError):
        ownership.rename_run(store, bob, ada_run, "mine now")
    ownership.rename_run(store, ada, ada_run, "  Ada's   best ")
    assert store.load(ada_run).name == "Ada's best"
    assert ownership.owner_of(store, store.load(ada_run)).state == "owned"  # rename keeps it

    classroom_bob = Actor(bob.owner_id, teacher_code_set=True)
    with pytest.raises(NotYoursError):  # a run from before owners: the teacher's to delete
        ownership.delete_run(store, classroom_bob, old_run)
    ownership.delete_run(store, bob, old_run)  # no teacher on this server: anyone's
    ownership.delete_run(store, teacher, ada_run)
    assert store.list() == []

    assert ownership.may_control_job(ada, ada.owner_id)
    assert not ownership.may_control_job(bob, ada.owner_id)
    assert not ownership.may_control_job(bob, None)
    assert ownership.may_control_job(teacher, ada.owner_id)
