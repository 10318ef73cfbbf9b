"""What one browser session may take from the whole server: uploads held, caches emptied.

Streamlit trusts its browser client more than a classroom can. Measured against 1.67:
- `server.maxUploadSize` (set in .streamlit/config.toml) caps one file, but a script may PUT
  any number of files into its session and the server keeps every one in memory until the
  session ends (six 150 MB PUTs: +900 MiB). `limit_session_uploads` keeps the newest
  `SESSION_UPLOAD_FILES` of a session and refuses an upload that would push the whole
  server past `SERVER_UPLOAD_BYTES`.
- Any client may send the `clear_cache` message, which empties `st.cache_data` and
  `st.cache_resource` for every session (the browser offers it only in developer mode, and
  there is no setting to refuse it). `refuse_clear_cache` makes it clear the sender's own
  session state only.

Both replace a method of a Streamlit class, as `ui.resources.keep_keras_state` does; a test
fails if Streamlit renames them. `install()` is idempotent and cheap: the entry script calls
it on every run.
"""

from __future__ import annotations

import logging

from mnistkit.imaging import MAX_BYTES

SESSION_UPLOAD_FILES = 2  # the uploader shows one picture; one more covers a replacement
SERVER_UPLOAD_BYTES = 256 * 2**20  # all sessions together; 12 full-size uploads
MAX_UPLOAD_MB = MAX_BYTES // 2**20  # .streamlit/config.toml server.maxUploadSize says the same
_LOG = logging.getLogger(__name__)


class UploadRefused(Exception):
    """The server holds too many uploaded bytes: this upload is refused (HTTP 500)."""


def limit_session_uploads() -> None:
    """Cap how many uploaded files one session, and how many bytes the server, holds."""
    from streamlit.runtime.memory_uploaded_file_manager import MemoryUploadedFileManager

    add_file = MemoryUploadedFileManager.add_file
    if getattr(add_file, "_mnistkit", False):
        return

    def capped_add_file(self, session_id, file) -> None:  # noqa: ANN001 (Streamlit's types)
        with self._lock:
            if self._total_bytes + len(file.data) > SERVER_UPLOAD_BYTES:
                _LOG.warning("upload refused: the server already holds %d bytes", self._total_bytes)
                raise UploadRefused("the server holds too many uploaded files right now")
        add_file(self, session_id, file)
        with self._lock:
            stored = self.file_storage.get(session_id, {})
            while len(stored) > SESSION_UPLOAD_FILES:  # dicts keep insertion order: oldest first
                old = stored.pop(next(iter(stored)))
                self._total_bytes -= len(old.data)
                self._file_count -= 1

    capped_add_file._mnistkit = True  # type: ignore[attr-defined]
    MemoryUploadedFileManager.add_file = capped_add_file


def refuse_clear_cache() -> None:
    """Make a client's `clear_cache` message clear only that client's own session state."""
    from streamlit.runtime.app_session import AppSession

    current = getattr(AppSession, "_handle_clear_cache_request", None)
    if current is None or getattr(current, "_mnistkit", False):
        return

    def own_state_only(self) -> None:  # noqa: ANN001
        _LOG.info("clear_cache from one session: shared caches kept")
        self._session_state.clear()

    own_state_only._mnistkit = True  # type: ignore[attr-defined]
    AppSession._handle_clear_cache_request = own_state_only


def install() -> None:
    """Both guards (idempotent)."""
    limit_session_uploads()
    refuse_clear_cache()
