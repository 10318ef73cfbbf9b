"""Who this browser is: a secret kept in a cookie (or a login account), a name, the teacher flag.

The mechanism (docs/CLASSROOM.md, "Who is who"):

- On a browser's first visit the server makes a random secret (`ownership.new_secret`), keeps
  it in `st.session_state` and a tiny component (`identity_cookie/index.html`) stores it in a
  first-party cookie, ``mnistkit_id`` (Path=/, SameSite=Strict, 180 days). Every later session
  of that browser (a reload, another page, a second tab) reads it back with
  `st.context.cookies` from the request that opened the session. It is never put in a URL, so
  a shared link carries no identity.
- With Streamlit's login configured (an ``[auth]`` section in ``.streamlit/secrets.toml``) a
  logged-in `st.user` is the identity instead (its ``sub``, else its e-mail).
- The runs and jobs only ever see `ownership.owner_id(server key, secret)`.
- The teacher unlocks with the teacher code (`mnistkit.teacher`); the gate remembers the
  teacher's owner id until the server stops.
"""

from __future__ import annotations

from pathlib import Path

import streamlit as st
import streamlit.components.v1 as components

from mnistkit import ownership, teacher
from mnistkit.ownership import Actor, NameBook
from ui.resources import run_store

COOKIE = "mnistkit_id"
COOKIE_MAX_AGE_S = 180 * 24 * 3600
SECRET_KEY = "identity_secret"  # session_state: this browser's secret (server memory only)
SESSION_KEY = "identity_session"  # session_state: a per-session tag for the code's slow-down
_cookie_component = components.declare_component(
    "mnistkit_identity", path=str(Path(__file__).with_name("identity_cookie"))
)


def _secret_setting(name: str) -> str | None:
    """``name`` from Streamlit's secrets (top level or a ``[mnistkit]`` table), if any."""
    try:
        value = st.secrets.get(name)
        if value is None and "mnistkit" in st.secrets:
            value = st.secrets["mnistkit"].get(name)
    except Exception:  # no secrets.toml at all, or an unreadable one: not configured
        return None
    return str(value).strip() or None if value is not None else None


def teacher_code() -> str | None:
    """`MNISTKIT_TEACHER_CODE`, else ``teacher_code`` in secrets; None: no teacher."""
    return teacher.code_from_env() or _secret_setting("teacher_code")


def gate() -> teacher.TeacherGate:
    """The server's teacher gate for the current code."""
    return teacher.gate_for(teacher_code())


def login_configured() -> bool:
    """True when ``.streamlit/secrets.toml`` has Streamlit's ``[auth]`` section."""
    try:
        return "auth" in st.secrets
    except Exception:
        return False


def _account() -> tuple[str, str | None] | None:
    """(subject, name) of a logged-in `st.user`, or None."""
    if not login_configured():
        return None
    user = st.user.to_dict()
    if not user.get("is_logged_in"):
        return None
    subject = user.get("sub") or user.get("email")
    if not subject:
        return None
    return str(subject), ownership.clean_name(user.get("name") or user.get("email"))


def browser_secret() -> str:
    """This browser's secret: from the session, else the cookie, else a new one."""
    secret = st.session_state.get(SECRET_KEY)
    if not ownership.valid_secret(secret):
        secret = st.context.cookies.get(COOKIE)
        if not ownership.valid_secret(secret):
            secret = ownership.new_secret()
        st.session_state[SECRET_KEY] = secret
    return secret


def session_tag() -> str:
    """A random tag for this session (the teacher code's per-session slow-down)."""
    if SESSION_KEY not in st.session_state:
        st.session_state[SESSION_KEY] = ownership.new_secret()
    return st.session_state[SESSION_KEY]


def current_actor() -> Actor:
    """Who is asking, with their display name and whether they unlocked the teacher's view."""
    key = ownership.server_key(run_store().root)
    account = _account()
    if account is not None:
        oid = ownership.owner_id(key, account[0], "account")
        name = NameBook(run_store().root).get(oid) or account[1]
        kind = "account"
    else:
        oid = ownership.owner_id(key, browser_secret())
        name, kind = NameBook(run_store().root).get(oid), "browser"
    the_gate = gate()
    return Actor(oid, name, kind, the_gate.is_teacher(oid), the_gate.enabled)


def keep_cookie() -> None:
    """Store this browser's secret in its cookie (the app calls this on every page run).

    If the browser already held another valid secret (a second tab opened before the first
    had stored its own), the session switches to that one, unless it already started a job.
    """
    if _account() is not None:
        return
    secret = browser_secret()
    held = _cookie_component(
        secret=secret, name=COOKIE, max_age=COOKIE_MAX_AGE_S, key="identity_cookie", default=None
    )
    if ownership.valid_secret(held) and held != secret:
        from mnistkit.jobs import jobs_of

        key = ownership.server_key(run_store().root)
        if not jobs_of(ownership.owner_id(key, secret)):
            st.session_state[SECRET_KEY] = held
