"""The teacher's code: checked in constant time, wrong tries slowed per session and globally.

Whoever starts the server sets the code (``MNISTKIT_TEACHER_CODE``, or ``teacher_code`` in
Streamlit's secrets, read by the app). A correct code unlocks the teacher's rights for that
owner id until the server stops (`TeacherGate.unlock`), so the teacher's reloads and page
switches keep them. The code is never stored, shown or logged; only its SHA-256 is kept in
memory. Standard library only.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

TEACHER_CODE_ENV = "MNISTKIT_TEACHER_CODE"
FREE_TRIES = 3  # wrong tries per session before waiting starts
MAX_WAIT_S = 60.0  # the longest wait one session is made to sit out
GLOBAL_WINDOW_S = 600.0  # wrong tries anywhere within this window count together...
GLOBAL_FREE = 10  # ...and beyond this many, every check waits GLOBAL_SPACING_S after the last
GLOBAL_SPACING_S = 2.0  # short, so a student's flood only delays the teacher, never locks out


def code_from_env() -> str | None:
    """The teacher code from the environment; blank means none."""
    return (os.environ.get(TEACHER_CODE_ENV) or "").strip() or None


@dataclass(frozen=True)
class Attempt:
    """The outcome of one try: ``ok``, or how many seconds to wait before trying again."""

    ok: bool
    wait_s: float = 0.0


def _digest(text: str) -> bytes:
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).digest()


class TeacherGate:
    """Check teacher codes and remember which owner ids are the teacher (in memory)."""

    def __init__(self, code: str | None, clock: Callable[[], float] = time.monotonic) -> None:
        self._digest = _digest(code) if code else None
        self._clock = clock
        self._lock = threading.Lock()
        self._wrong: dict[str, tuple[int, float]] = {}  # session → (wrong tries, next allowed)
        self._recent: deque[float] = deque()  # times of wrong tries, any session
        self._last_check = -1e18
        self._teachers: set[str] = set()

    @property
    def enabled(self) -> bool:
        """True when the server has a teacher code."""
        return self._digest is not None

    def wait_s(self, session: str) -> float:
        """Seconds this session must wait before its next try (0: it may try now)."""
        with self._lock:
            return self._wait(session, self._clock())

    def _wait(self, session: str, now: float) -> float:
        own = max(0.0, self._wrong.get(session, (0, now))[1] - now)
        while self._recent and now - self._recent[0] > GLOBAL_WINDOW_S:
            self._recent.popleft()
        shared = 0.0
        if len(self._recent) >= GLOBAL_FREE:
            shared = max(0.0, self._last_check + GLOBAL_SPACING_S - now)
        return max(own, shared)

    def try_code(self, candidate: str, session: str, owner_id: str) -> Attempt:
        """Check ``candidate``; on success ``owner_id`` is the teacher from now on."""
        if self._digest is None:
            return Attempt(False)
        with self._lock:
            now = self._clock()
            wait = self._wait(session, now)
            if wait > 0:
                return Attempt(False, wait)
            self._last_check = now
            if hmac.compare_digest(_digest(str(candidate)), self._digest):
                self._wrong.pop(session, None)
                self._teachers.add(owner_id)
                return Attempt(True)
            tries = self._wrong.get(session, (0, now))[0] + 1
            delay = 0.0 if tries < FREE_TRIES else min(MAX_WAIT_S, 2.0 ** (tries - FREE_TRIES))
            self._wrong[session] = (tries, now + delay)
            self._recent.append(now)
            return Attempt(False, self._wait(session, now))

    def is_teacher(self, owner_id: str) -> bool:
        """Whether this owner id unlocked the teacher's view."""
        with self._lock:
            return self._digest is not None and owner_id in self._teachers

    def lock(self, owner_id: str) -> None:
        """Give up the teacher's rights (the teacher's "Lock" button)."""
        with self._lock:
            self._teachers.discard(owner_id)


_gates: dict[bytes | None, TeacherGate] = {}
_gates_lock = threading.Lock()


def gate_for(code: str | None) -> TeacherGate:
    """The process-wide gate for this code (one per code, so changing it locks everyone out)."""
    key = _digest(code) if code else None
    with _gates_lock:
        if key not in _gates:
            _gates[key] = TeacherGate(code)
        return _gates[key]
