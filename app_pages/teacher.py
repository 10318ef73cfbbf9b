"""Teacher: the class at a glance, the leaderboard, the queue, the lesson's limits and links.

Unlocked with the teacher code that whoever started the server set (`MNISTKIT_TEACHER_CODE`
or ``teacher_code`` in secrets); without one the page says how to set it. ``?view=projector``
shows the leaderboard or one run's curves in large type, with nothing to press (a read-only
view of what Compare shows everyone; it needs no code).
"""

from __future__ import annotations

import os
import time
from datetime import datetime
from urllib.parse import urlsplit

import pandas as pd
import streamlit as st

from mnistkit import leaderboard, ownership
from mnistkit.config import ARCHS, PRESETS
from mnistkit.jobs import all_jobs, shared_queue
from mnistkit.limits import CONTROLS, LessonLimits, load_limits, save_limits
from mnistkit.links import link_query
from mnistkit.teacher import TEACHER_CODE_ENV
from ui import charts
from ui.identity import current_actor, gate, session_tag
from ui.job import stop_job
from ui.messages import plain
from ui.resources import run_store
from ui.sidebar import training_text

PROJECTOR_SECONDS = 3.0
ARCH_NAMES = {"dense": "Dense", "cnn": "CNN"}


def _entries() -> list[leaderboard.Entry]:
    store = run_store()
    return [
        leaderboard.entry(i, ownership.owner_of(store, i)) for i in store.list() if not i.broken
    ]


def _board_line(rank: int, e: leaderboard.Entry) -> str:
    params = f", {e.params:,} parameters" if e.params is not None else ""
    return f"{rank}. {e.owner}: {e.test_accuracy:.1%} ({ARCH_NAMES.get(e.arch, e.arch)}{params})"


# --- projector ------------------------------------------------------------------------------


@st.fragment(run_every=PROJECTOR_SECONDS)
def projector() -> None:
    """Large type for the back of the room: the leaderboard, or one run's curves."""
    params = st.query_params
    run_id = params.get("run")
    if run_id:
        info = run_store().load(str(run_id))
        if info.broken:
            st.title("This run cannot be shown")
            return
        owner = ownership.owner_of(run_store(), info).label
        acc = info.test_accuracy
        st.title(plain(f"{info.name} · {owner}"))
        st.header(info.status + (f" · test accuracy {acc:.1%}" if acc is not None else ""))
        charts.compare_curves({info.name: info.history or {}})
        return
    arch = params.get("arch") if params.get("arch") in ARCHS else None
    cap = str(params.get("max_params", ""))
    cap_n = int(cap) if cap.isdigit() else None
    title = "Leaderboard" + (f": best {ARCH_NAMES[arch]}" if arch else "")
    st.title(title + (f" under {cap_n:,} parameters" if cap_n else ""))
    board = leaderboard.best_per_student(_entries(), arch=arch, max_params=cap_n)
    if not board:
        st.header("No finished runs yet.")
    for rank, e in enumerate(board[:10], start=1):
        st.header(plain(_board_line(rank, e)))


# --- the locked page ------------------------------------------------------------------------


def _unlock() -> None:
    code = st.session_state.get("teacher_code_input", "")
    st.session_state.teacher_code_input = ""  # never kept, never shown again
    attempt = gate().try_code(code, session_tag(), current_actor().owner_id)
    if attempt.ok:
        st.session_state.pop("teacher_notice", None)
    elif attempt.wait_s > 0:
        st.session_state.teacher_notice = (
            f"That code is not right. Too many wrong tries: wait {attempt.wait_s:.0f} s."
        )
    else:
        st.session_state.teacher_notice = "That code is not right."


def _lock() -> None:
    gate().lock(current_actor().owner_id)


def _stop(job_id: str) -> None:
    ok = stop_job(job_id)
    st.session_state.teacher_notice = "Stop sent." if ok else "That job is not yours to stop."


# --- the teacher's sections -----------------------------------------------------------------


def class_table(entries: list[leaderboard.Entry]) -> None:
    st.header("The class")
    if not entries:
        st.caption("No runs yet.")
        return
    st.dataframe(
        pd.DataFrame([e.row() for e in entries]),
        hide_index=True,
        column_config={
            "test accuracy": st.column_config.NumberColumn(format="percent"),
            "parameters": st.column_config.NumberColumn(format="localized"),
            "time (s)": st.column_config.NumberColumn(format="%.1f"),
        },
    )
    st.caption("Delete any run on the Compare page: as the teacher you may delete them all.")


def board(entries: list[leaderboard.Entry]) -> None:
    st.header("Leaderboard")
    c1, c2 = st.columns(2)
    arch = c1.selectbox(
        "Architecture",
        (None, *ARCHS),
        key="teacher_board_arch",
        format_func=lambda a: "any" if a is None else ARCH_NAMES[a],
    )
    cap = c2.number_input(
        "At most this many parameters (0 = no cap)",
        0,
        10_000_000,
        0,
        step=10_000,
        key="teacher_board_cap",
    )
    cap = int(cap) or None
    per_student = leaderboard.best_per_student(entries, arch=arch, max_params=cap)
    st.subheader("Best run per student")
    if per_student:
        rows = [{"rank": i, **e.row()} for i, e in enumerate(per_student, start=1)]
        st.dataframe(
            pd.DataFrame(rows)[
                ["rank", "owner", "test accuracy", "architecture", "parameters", "run"]
            ],
            hide_index=True,
            column_config={"test accuracy": st.column_config.NumberColumn(format="percent")},
        )
    else:
        st.caption("No finished run fits.")
    st.subheader("Best run per architecture")
    for e in leaderboard.best_per_arch(entries, max_params=cap):
        st.text(_board_line(1, e)[3:])
    query = (
        {"view": "projector"}
        | ({"arch": arch} if arch else {})
        | ({"max_params": str(cap)} if cap else {})
    )
    st.caption("Projector link for this board:")
    st.code(
        _base_url() + "/teacher?" + "&".join(f"{k}={v}" for k, v in query.items()), language=None
    )


def queue_and_server() -> None:
    st.header("Training queue")
    queue = shared_queue()
    st.caption(f"{queue.running} training, {queue.waiting} waiting, {queue.slots} slot(s).")
    rows, live = [], []
    for job in all_jobs():
        snap = job.snapshot()
        rows.append(
            {
                "who": job.owner_name or "?",
                "run": job.name or job.config.arch,
                "since": datetime.fromtimestamp(job.created).strftime("%H:%M:%S"),
                "status": training_text(snap),
            }
        )
        if not snap.finished:
            live.append(job)
    if rows:
        st.dataframe(pd.DataFrame(rows), hide_index=True)
    else:
        st.caption("Nobody has trained since the server started.")
    if live:
        labels = {j.id: f"{j.owner_name or '?'} · {j.name or j.config.arch}" for j in live}
        s1, s2 = st.columns([3, 1], vertical_alignment="bottom")
        target = s1.selectbox("Job", list(labels), key="teacher_stop_job", format_func=labels.get)
        s2.button("Stop", key="teacher_stop", on_click=_stop, args=(target,))
    st.header("Server")
    load = os.getloadavg() if hasattr(os, "getloadavg") else (0.0, 0.0, 0.0)
    m1, m2, m3 = st.columns(3)
    m1.metric("Load (1 min)", f"{load[0]:.1f}", help=f"{os.cpu_count()} cores")
    m2.metric("Server memory", _rss())
    m3.metric("Runs on disk", len(run_store().list()))


def _rss() -> str:
    try:
        for line in open("/proc/self/status", encoding="ascii"):
            if line.startswith("VmRSS:"):
                return f"{int(line.split()[1]) // 1024:,} MiB"
    except (OSError, ValueError):
        pass
    return "?"


def limits_form() -> None:
    st.header("Lesson limits")
    st.caption("Caps for students' runs (0 = no cap); the teacher is never capped.")
    root = run_store().root
    now = load_limits(root)
    with st.form("teacher_limits"):
        c1, c2 = st.columns(2)
        epochs = c1.number_input("Most epochs", 0, 1000, now.max_epochs or 0)
        images = c1.number_input("Most training images", 0, 60_000, now.max_images or 0, step=500)
        jobs = c1.number_input("Trainings at once per student", 1, 10, now.jobs_per_student)
        low = c2.number_input("Smallest batch", 0, 4096, now.min_batch_size or 0)
        high = c2.number_input("Largest batch", 0, 4096, now.max_batch_size or 0)
        name = c2.checkbox("Students must give a name to train", now.require_name)
        presets = st.multiselect(
            "Presets students see",
            list(PRESETS),
            default=list(now.presets) if now.presets is not None else list(PRESETS),
            format_func=lambda p: PRESETS[p].label,
        )
        hidden = st.multiselect("Controls students do not see", CONTROLS, default=list(now.hidden))
        if st.form_submit_button("Save limits"):
            limits = LessonLimits(
                max_epochs=int(epochs) or None,
                max_images=int(images) or None,
                min_batch_size=int(low) or None,
                max_batch_size=int(high) or None,
                jobs_per_student=int(jobs),
                presets=tuple(presets) if set(presets) != set(PRESETS) else None,
                hidden=tuple(hidden),
                require_name=name,
            )
            save_limits(root, limits)
            st.success("Saved: every student's next Start uses these limits.")


def _base_url() -> str:
    """The app's address as this browser sees it (for links to copy)."""
    url = urlsplit(st.context.url or "http://localhost:8501/")
    return f"{url.scheme}://{url.netloc}"


def link_builder() -> None:
    st.header("Lesson link")
    st.caption(
        "Set up the Train page and copy the link for the class: it opens with these settings "
        "and these controls hidden. A link is configuration only: it gives nobody any rights."
    )
    c1, c2, c3 = st.columns(3)
    preset = c1.selectbox(
        "Preset", list(PRESETS), key="link_preset", format_func=lambda p: PRESETS[p].label
    )
    arch = c1.radio("Architecture", ARCHS, key="link_arch", horizontal=True)
    epochs = c2.number_input("Epochs", 1, 30, 2, key="link_epochs")
    subset = c2.number_input("Training images", 300, 60_000, 1_000, step=100, key="link_subset")
    hide = c3.multiselect("Hide", CONTROLS, key="link_hide")
    query = link_query(preset, {"arch": arch, "epochs": epochs, "subset": subset}, hide)
    st.code(_base_url() + "/train" + query, language=None)


# --- page -------------------------------------------------------------------------------------
if st.query_params.get("view") == "projector":
    projector()
    st.stop()

st.title("Teacher")
the_gate = gate()
if not the_gate.enabled:
    st.info("The teacher's view is off: this server has no teacher code.")
    st.write(
        "Whoever starts the server sets one, in the environment or in Streamlit's secrets; then "
        "the teacher unlocks this page with it (docs/CLASSROOM.md):"
    )
    st.code(
        f"export {TEACHER_CODE_ENV}='a-long-code-only-you-know'\n"
        '# or, in .streamlit/secrets.toml:  teacher_code = "a-long-code-only-you-know"',
        language="bash",
    )
    st.caption("Without a code everyone may delete runs made before owners existed.")
    st.stop()

actor = current_actor()
notice = st.session_state.pop("teacher_notice", None)
if not actor.teacher:
    st.write("Enter the teacher code to see the class, the queue and the lesson's settings.")
    wait = the_gate.wait_s(session_tag())
    with st.form("teacher_unlock", clear_on_submit=True, border=False):
        st.text_input("Teacher code", type="password", key="teacher_code_input")
        st.form_submit_button("Unlock", on_click=_unlock)
    if notice:
        st.error(notice)
    elif wait > 0:
        st.warning(f"Too many wrong tries: wait {wait:.0f} s.")
    st.stop()

if notice:
    st.info(notice)
st.caption(f"Unlocked for this browser until the server stops · {time.strftime('%H:%M')}")
st.button("Lock the teacher's view", key="teacher_lock", on_click=_lock)
entries = _entries()
class_tab, board_tab, queue_tab, limits_tab, link_tab = st.tabs(
    ["Class", "Leaderboard", "Queue & server", "Lesson limits", "Lesson link"]
)
with class_tab:
    class_table(entries)
with board_tab:
    board(entries)
with queue_tab:
    queue_and_server()
with limits_tab:
    limits_form()
with link_tab:
    link_builder()
