"""A browser tab without a browser: Streamlit's websocket protocol, spoken by a script.

`Tab` opens a page over `/_stcore/stream` and exchanges protobuf `BackMsg`/`ForwardMsg` as
the browser does (reruns with widget values, fragment reruns, the page's script hash), so
benchmarks can play thirty students and tests can play a student with a script: any widget
value, any message, any upload (`put_upload`, with the XSRF cookie the server hands out).
"""

from __future__ import annotations

import asyncio
import http.cookiejar
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field

from streamlit.proto.Alert_pb2 import Alert
from streamlit.proto.BackMsg_pb2 import BackMsg
from streamlit.proto.ForwardMsg_pb2 import ForwardMsg
from streamlit.proto.WidgetStates_pb2 import WidgetState
from streamlit.runtime.state.common import user_key_from_element_id
from websockets.asyncio.client import connect

FINISHED = (ForwardMsg.FINISHED_SUCCESSFULLY, ForwardMsg.FINISHED_FRAGMENT_RUN_SUCCESSFULLY)


@dataclass
class PageRun:
    """What one script run sent back."""

    seconds: float = 0.0  # until the run finished
    predictions: list[float] = field(default_factory=list)  # arrival of each Prediction metric
    errors: list[str] = field(default_factory=list)
    alerts: list[str] = field(default_factory=list)
    widgets: dict[str, str] = field(default_factory=dict)  # user key → widget id
    options: dict[str, list[str]] = field(default_factory=dict)  # user key → a list's options
    media: list[str] = field(default_factory=list)
    fragment: str | None = None  # an auto-rerunning fragment (the Train page's live panel)
    fragment_interval: float = 0.0


class Tab:
    """One browser tab: a websocket session on one page."""

    def __init__(self, base_url: str, page: str, timeout: float, fetch_media: bool) -> None:
        self.base, self.page, self.timeout, self.fetch_media = base_url, page, timeout, fetch_media
        self.ws = None
        self.states: dict[str, WidgetState] = {}  # widget values this tab has set
        self.page_hash = ""  # the page's script hash, as the browser sends it back
        self.session_id = ""  # the server's id for this tab (uploads go to it)

    async def open(self) -> PageRun:
        ws_url = self.base.replace("http", "ws", 1) + "/_stcore/stream"
        self.ws = await connect(ws_url, subprotocols=["streamlit"], max_size=None)
        return await self.rerun()

    async def send(self, msg: BackMsg) -> None:
        """Send any message, e.g. one a browser would never send."""
        await self.ws.send(msg.SerializeToString())

    async def close(self) -> None:
        if self.ws is not None:
            await self.ws.close()
            self.ws = None

    async def rerun(self, *once: WidgetState, fragment: str | None = None) -> PageRun:
        """Send a rerun with this tab's widget values (+ one-shot ones); read until it ends."""
        msg = BackMsg()
        state = msg.rerun_script
        state.page_name, state.page_script_hash = self.page, self.page_hash
        state.widget_states.widgets.extend([*self.states.values(), *once])
        if fragment:
            state.fragment_id, state.is_auto_rerun = fragment, True
        start = time.perf_counter()
        await self.ws.send(msg.SerializeToString())
        run = await asyncio.wait_for(self._read(start), self.timeout)
        if self.fetch_media and run.media:
            await asyncio.to_thread(self._fetch, run.media, run.errors)
        return run

    async def _read(self, start: float) -> PageRun:
        run = PageRun()
        while True:
            msg = ForwardMsg()
            msg.ParseFromString(await self.ws.recv())
            kind = msg.WhichOneof("type")
            if kind == "delta" and msg.delta.WhichOneof("type") == "new_element":
                self._element(msg.delta.new_element, run, time.perf_counter() - start)
            elif kind == "new_session" and msg.new_session.initialize.session_id:
                self.session_id = msg.new_session.initialize.session_id
            elif kind == "navigation" and msg.navigation.page_script_hash:
                self.page_hash = msg.navigation.page_script_hash
            elif kind == "auto_rerun":
                run.fragment = msg.auto_rerun.fragment_id
                run.fragment_interval = msg.auto_rerun.interval
            elif kind == "script_finished" and msg.script_finished in FINISHED:
                run.seconds = time.perf_counter() - start
                return run
            elif kind == "page_not_found":
                run.errors.append(f"page not found: {self.page}")

    @staticmethod
    def _element(element, run: PageRun, at: float) -> None:
        kind = element.WhichOneof("type")
        proto = getattr(element, kind)
        key = user_key_from_element_id(getattr(proto, "id", "") or "") if kind else None
        if key:
            run.widgets[key] = proto.id
            if hasattr(proto, "options"):
                run.options[key] = [getattr(o, "label", o) for o in proto.options]
        if kind == "metric" and proto.label.startswith("Prediction"):
            run.predictions.append(at)
        elif kind == "exception":
            run.errors.append(f"exception: {proto.type}: {proto.message[:120]}")
        elif kind == "alert":
            run.alerts.append(proto.body)
            if proto.format == Alert.ERROR and not proto.body.startswith("Training failed"):
                run.errors.append(f"st.error: {proto.body[:120]}")
        elif kind == "imgs":
            run.media += [img.url for img in proto.imgs if img.url.startswith("/")]

    def _fetch(self, urls: list[str], errors: list[str]) -> None:
        for url in urls:
            try:
                with urllib.request.urlopen(self.base + url, timeout=self.timeout) as reply:
                    reply.read()
            except OSError as exc:
                errors.append(f"media {url}: {exc}")


def put_upload(base_url: str, session_id: str, file_id: str, name: str, data: bytes) -> int:
    """PUT one file into a session's upload storage as the uploader widget does; the HTTP
    status (204 stored, 413 too large, ...), or 0 when the server closed the connection while
    the body was still being sent (how it refuses an oversized one early). Takes the XSRF
    cookie from the server first."""
    jar = http.cookiejar.CookieJar()
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar))
    opener.open(base_url + "/_stcore/health", timeout=30).read()  # it sets the cookie
    token = next((c.value for c in jar if c.name == "_streamlit_xsrf"), "")
    boundary = "mnistkitboundary"
    body = (
        f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="{name}"\r\n'
        "Content-Type: application/octet-stream\r\n\r\n"
    ).encode() + data + f"\r\n--{boundary}--\r\n".encode()
    request = urllib.request.Request(
        f"{base_url}/_stcore/upload_file/{session_id}/{file_id}",
        data=body,
        method="PUT",
        headers={"Content-Type": f"multipart/form-data; boundary={boundary}", "X-Xsrftoken": token},
    )
    try:
        with opener.open(request, timeout=60) as reply:
            return reply.status
    except urllib.error.HTTPError as exc:
        return exc.code
    except urllib.error.URLError as exc:
        if isinstance(exc.reason, ConnectionError):
            return 0
        raise
