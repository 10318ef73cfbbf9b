"""Tests for mnistkit.atomic: whole files or none, no temp files left, mode 0644."""

import json
import math
import os
import stat
import threading
from pathlib import Path

import pytest

from mnistkit import atomic
from mnistkit.atomic import atomic_replace, atomic_write_bytes, atomic_write_json, atomic_write_text


def _temp_files(folder: Path) -> list[Path]:
    return [p for p in folder.rglob(".tmp-*")]


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_files_end_at_mode_0644_whatever_the_umask(tmp_path: Path) -> None:
    old = os.umask(0o077)  # a private umask must not leave private files
    try:
        atomic_write_bytes(tmp_path / "b.bin", b"\0")
        atomic_write_json(tmp_path / "j.json", {"a": 1})
        atomic_replace(tmp_path / "w.keras", lambda tmp: tmp.write_bytes(b"x"), suffix=".keras")
    finally:
        os.umask(old)
    assert {p.name: mode(p) for p in tmp_path.iterdir()} == {
        "b.bin": 0o644,
        "j.json": 0o644,
        "w.keras": 0o644,
    }


def test_atomic_replace_gives_the_writer_a_named_temp_file(tmp_path: Path) -> None:
    target = tmp_path / "model.keras"
    target.write_bytes(b"old")
    seen: list[Path] = []

    def write(tmp: Path) -> None:
        seen.append(tmp)
        assert tmp.parent == tmp_path and tmp.name.startswith(".tmp-") and tmp.suffix == ".keras"
        assert target.read_bytes() == b"old"  # not replaced before the writer is done
        tmp.write_bytes(b"new")

    assert atomic_replace(target, write, suffix=".keras") == target
    assert target.read_bytes() == b"new" and not seen[0].exists()


def test_atomic_replace_failed_writer_keeps_original(tmp_path: Path) -> None:
    target = tmp_path / "model.keras"
    target.write_bytes(b"good")

    def half_then_fail(tmp: Path) -> None:
        tmp.write_bytes(b"partial")
        raise OSError("disk full")

    with pytest.raises(OSError, match="disk full"):
        atomic_replace(target, half_then_fail, suffix=".keras")
    assert target.read_bytes() == b"good"
    assert _temp_files(tmp_path) == []


def test_atomic_json_nan_and_no_temp_files(tmp_path: Path) -> None:
    path = tmp_path / "m.json"
    atomic_write_json(path, {"a": math.nan, "b": [1.0, math.inf, -math.inf], "c": (1,)})
    text = path.read_text()
    assert "NaN" not in text and "Infinity" not in text
    assert json.loads(text) == {"a": None, "b": [1.0, None, None], "c": [1]}
    assert _temp_files(tmp_path) == []


def test_atomic_write_failure_keeps_original(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "f.json"
    atomic_write_text(path, "original")

    def boom(src, dst):
        raise OSError("disk on fire")

    monkeypatch.setattr(atomic.os, "replace", boom)
    with pytest.raises(OSError, match="disk on fire"):
        atomic_write_json(path, {"new": 1})
    assert path.read_text() == "original"
    assert _temp_files(tmp_path) == []


def test_atomic_write_unserializable_leaves_nothing(tmp_path: Path) -> None:
    path = tmp_path / "f.json"
    with pytest.raises(TypeError):
        atomic_write_json(path, {"x": object()})
    assert list(tmp_path.iterdir()) == []


def test_reader_never_sees_partial_content(tmp_path: Path) -> None:
    path = tmp_path / "h.json"
    payloads = [{"loss": [float(i)] * 5000} for i in range(30)]
    atomic_write_json(path, payloads[0])
    done = threading.Event()
    seen: list[int] = []

    def reader() -> None:
        while not done.is_set():
            seen.append(len(json.loads(path.read_text())["loss"]))

    t = threading.Thread(target=reader)
    t.start()
    try:
        for p in payloads:
            atomic_write_json(path, p)
    finally:
        done.set()
        t.join()
    assert seen and set(seen) == {5000}
    assert _temp_files(tmp_path) == []
