"""The sidebar on every page: your name, your training's progress, the teacher badge, login."""

from __future__ import annotations

import streamlit as st

from mnistkit import ownership
from mnistkit.ownership import NameBook
from mnistkit.progress import Snapshot
from ui.identity import current_actor, keep_cookie, login_configured
from ui.job import current_job
from ui.messages import plain
from ui.resources import run_store

NAME_KEY = "identity_name"  # the name field's widget key
BADGE_SECONDS = 2.0


def _save_name() -> None:
    actor = current_actor()
    kept = NameBook(run_store().root).set(actor.owner_id, st.session_state.get(NAME_KEY))
    st.session_state[NAME_KEY] = kept or ""


def training_text(snap: Snapshot) -> str:
    """'epoch 2/5', 'waiting: 2 in line', or how it ended."""
    if snap.status == "queued":
        return f"waiting, number {snap.queue_position or 1} in line"
    if not snap.finished:
        if snap.steps_per_epoch == 0:
            return "starting"
        return f"epoch {min(snap.epoch + 1, snap.epochs)}/{snap.epochs}"
    accuracy = (snap.metrics or {}).get("test_accuracy")
    return snap.status + (f", test accuracy {accuracy:.1%}" if accuracy is not None else "")


@st.fragment(run_every=BADGE_SECONDS)
def _live_badge(job) -> None:
    st.caption(f"Your training: {training_text(job.snapshot())}")


def panel() -> None:
    """Draw the sidebar panel (call it inside `with st.sidebar:`)."""
    keep_cookie()
    actor = current_actor()
    if login_configured():
        if actor.kind == "account":
            st.caption(f"Logged in as {plain(actor.label)}")
            st.button("Log out", key="identity_logout", on_click=st.logout)
        else:
            st.button("Log in", key="identity_login", on_click=st.login)
    if NAME_KEY not in st.session_state:
        st.session_state[NAME_KEY] = actor.name or ""
    st.text_input(
        "Your name",
        key=NAME_KEY,
        max_chars=ownership.NAME_MAX,
        placeholder="shown on your runs",
        on_change=_save_name,
        help="Shown on your runs and on the class leaderboard, as plain text.",
    )
    if actor.teacher:
        st.caption(":material/school: Teacher")
    job = current_job(actor)
    if job is not None:
        if job.snapshot().finished:
            st.caption(f"Your training: {training_text(job.snapshot())}")
        else:
            _live_badge(job)
