"""Attacks on the running server by a student with a script (no browser): they must not cost
the others memory or cached models. Each test starts the real app on a loopback port."""

from __future__ import annotations

import asyncio
import re
from pathlib import Path

import pytest
from streamlit.proto.BackMsg_pb2 import BackMsg

from devtools.appserver import running_app
from devtools.wsclient import Tab, put_upload
from ui.server_guards import MAX_UPLOAD_MB, SESSION_UPLOAD_FILES

pytestmark = pytest.mark.server


def rss_mib(pid: int) -> float:
    text = Path(f"/proc/{pid}/status").read_text()
    return int(re.search(r"^VmRSS:\s+(\d+) kB", text, re.M).group(1)) / 1024


@pytest.fixture(scope="module")
def app(tmp_path_factory: pytest.TempPathFactory):
    runs = tmp_path_factory.mktemp("runs")
    with running_app(env={"MNISTKIT_RUNS_DIR": str(runs), "MNISTKIT_PRELOAD": "0"}) as served:
        yield served


async def _open_home(app) -> Tab:
    tab = Tab(app.url, "", timeout=60, fetch_media=False)
    run = await tab.open()
    assert not run.errors and tab.session_id
    return tab


def test_the_server_refuses_an_upload_over_its_cap(app):
    async def attack() -> int:
        tab = await _open_home(app)
        try:
            big = b"\0" * ((MAX_UPLOAD_MB + 1) * 2**20)
            return await asyncio.to_thread(put_upload, app.url, tab.session_id, "f0", "x.png", big)
        finally:
            await tab.close()

    assert asyncio.run(attack()) in (413, 0)  # refused, or cut off while it was sent


def test_many_uploads_into_one_session_do_not_pile_up(app):
    size, count = 15 * 2**20, 8

    async def attack() -> list[int]:
        tab = await _open_home(app)
        try:
            codes = []
            for i in range(count):
                data = bytes([i]) * size
                put = put_upload, app.url, tab.session_id, f"file{i}", f"{i}.png", data
                codes.append(await asyncio.to_thread(*put))
            return codes
        finally:
            await tab.close()

    before = rss_mib(app.pid)
    codes = asyncio.run(attack())
    grown = rss_mib(app.pid) - before
    assert codes == [204] * count  # each one is stored, as Streamlit would ...
    # ... but the session keeps only its newest few: 8 × 15 MiB would be +120 MiB
    assert grown < (SESSION_UPLOAD_FILES + 2) * size / 2**20, f"server grew {grown:.0f} MiB"


def test_a_clear_cache_message_does_not_break_the_next_page(app):
    async def attack() -> list[str]:
        tab = await _open_home(app)
        try:
            message = BackMsg()
            message.clear_cache = True
            await tab.send(message)
            run = await tab.rerun()
            return run.errors
        finally:
            await tab.close()

    assert asyncio.run(attack()) == []
    assert "Traceback" not in app.log_tail(20_000)


async def _upload_on_draw(app, name: str, data: bytes) -> list:
    """Open /draw, switch to Upload, PUT `name` past the browser's type check, rerun."""
    from streamlit.proto.WidgetStates_pb2 import WidgetState

    tab = Tab(app.url, "draw", timeout=120, fetch_media=False)
    try:
        run = await tab.open()
        source = WidgetState(id=run.widgets["draw_source"], string_value="Upload a picture")
        tab.states["draw_source"] = source
        run = await tab.rerun()
        put = put_upload, app.url, tab.session_id, "f1", name, data
        assert await asyncio.to_thread(*put) == 204
        upload = WidgetState(id=run.widgets["draw_upload"])
        info = upload.file_uploader_state_value.uploaded_file_info.add()
        info.name, info.size, info.file_id = name, len(data), "f1"
        tab.states["draw_upload"] = upload
        runs = [await tab.rerun() for _ in range(2)]
        return runs
    finally:
        await tab.close()


def test_an_upload_that_skips_the_browsers_type_check_gets_one_sentence(app):
    runs = asyncio.run(_upload_on_draw(app, "payload.exe", b"MZ\x90\x00 not a picture"))
    assert not [e for run in runs for e in run.errors if e.startswith("exception")]
    (alert,) = [a for a in runs[0].alerts if a.startswith("Cannot use")]
    assert "payload\\.exe" in alert and "not a picture mnistkit can read" in alert


def test_an_upload_named_like_a_link_is_shown_literally(app):
    runs = asyncio.run(_upload_on_draw(app, "www.evil.example .png", b"\x89PNG\r\n junk"))
    (alert,) = [a for a in runs[0].alerts if a.startswith("Cannot use")]
    assert "www\\.evil\\.example" in alert  # no autolink: the dots are escaped
