"""Tests for ui.server_guards: one session cannot hoard uploads or empty everyone's caches."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import pytest
import streamlit as st
import tomllib
from streamlit.runtime.app_session import AppSession
from streamlit.runtime.memory_uploaded_file_manager import MemoryUploadedFileManager
from streamlit.runtime.uploaded_file_manager import UploadedFileRec

from ui import server_guards

CONFIG = Path(__file__).resolve().parents[1] / ".streamlit" / "config.toml"


def _file(file_id: str, size: int) -> UploadedFileRec:
    data = b"x" * size
    return UploadedFileRec(file_id=file_id, name=f"{file_id}.png", type="image/png", data=data)


def test_server_config_caps_uploads_and_hides_tracebacks():
    config = tomllib.loads(CONFIG.read_text(encoding="utf-8"))
    assert config["server"]["maxUploadSize"] == server_guards.MAX_UPLOAD_MB
    assert config["client"]["showErrorDetails"] == "none"


def test_the_hooks_still_exist_in_streamlit():
    server_guards.install()
    assert getattr(MemoryUploadedFileManager.add_file, "_mnistkit", False)
    assert getattr(AppSession._handle_clear_cache_request, "_mnistkit", False)
    installed = MemoryUploadedFileManager.add_file, AppSession._handle_clear_cache_request
    server_guards.install()  # idempotent: not wrapped twice
    assert (MemoryUploadedFileManager.add_file, AppSession._handle_clear_cache_request) == installed


def test_one_session_keeps_only_its_newest_uploads():
    server_guards.install()
    manager = MemoryUploadedFileManager("/_stcore/upload_file")
    for i in range(6):  # the attack: six PUTs into one session
        manager.add_file("attacker", _file(f"f{i}", 1000))
    manager.add_file("student", _file("mine", 500))
    kept = manager.file_storage["attacker"]
    assert list(kept) == ["f4", "f5"][-server_guards.SESSION_UPLOAD_FILES :]
    assert manager._total_bytes == 1000 * server_guards.SESSION_UPLOAD_FILES + 500
    assert manager._file_count == server_guards.SESSION_UPLOAD_FILES + 1
    assert [f.file_id for f in manager.get_files("student", ["mine"])] == ["mine"]


def test_an_upload_past_the_server_budget_is_refused(monkeypatch):
    server_guards.install()
    monkeypatch.setattr(server_guards, "SERVER_UPLOAD_BYTES", 2500)
    manager = MemoryUploadedFileManager("/_stcore/upload_file")
    manager.add_file("a", _file("one", 1000))
    manager.add_file("b", _file("two", 1000))
    with pytest.raises(server_guards.UploadRefused):
        manager.add_file("c", _file("three", 1000))
    assert manager._total_bytes == 2000 and "three" not in manager.file_storage.get("c", {})


def test_clear_cache_from_a_client_keeps_the_shared_caches():
    server_guards.install()
    calls = []

    @st.cache_resource
    def shared_model() -> object:
        calls.append(1)
        return object()

    first = shared_model()
    state = SimpleNamespace(cleared=False)
    state.clear = lambda: setattr(state, "cleared", True)
    AppSession._handle_clear_cache_request(SimpleNamespace(_session_state=state))
    assert shared_model() is first and len(calls) == 1
    assert state.cleared  # the sender's own session state is still cleared
