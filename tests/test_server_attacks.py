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
