"""The student's own training job: start it, find it again on any page and after a reload.

A job belongs to its owner's identity (`ui.identity`), not to a link: every session of that
browser (other pages, reloads, a second tab) finds it through `mnistkit.jobs.jobs_of`, and a
copied ``?job=<id>`` link opens nothing for anyone else (`ownership.may_control_job`). The
job's worker thread never calls `st.*`: pages poll `job.snapshot()`.
"""

from __future__ import annotations

import os

import streamlit as st

from mnistkit import ownership
from mnistkit.config import TrainConfig
from mnistkit.data import DATA_ENV
from mnistkit.jobs import TrainingJob, active_jobs, find_job, jobs_of, make_job
from mnistkit.limits import admit, load_limits
from mnistkit.ownership import Actor
from ui.identity import current_actor
from ui.resources import run_store

JOB_KEY = "job_id"  # session_state key
JOB_PARAM = "job"  # query parameter of old links: read (if it is yours), never written


def current_job(actor: Actor | None = None) -> TrainingJob | None:
    """The job to show: the owner's unfinished one, else this session's, else their newest."""
    actor = actor or current_actor()
    mine = jobs_of(actor.owner_id)
    asked = st.session_state.get(JOB_KEY) or st.query_params.get(JOB_PARAM)
    job = find_job(str(asked)) if asked else None
    if job is not None and not ownership.may_control_job(actor, job.owner):
        job = None  # a copied or guessed link: nothing for someone else
    unfinished = next((j for j in mine if not j.snapshot().finished), None)
    if unfinished is not None and (job is None or job.snapshot().finished):
        job = unfinished
    job = job or (mine[0] if mine else None)
    if JOB_PARAM in st.query_params:
        del st.query_params[JOB_PARAM]  # the job follows its owner; a link is not needed
    if job is None:
        st.session_state.pop(JOB_KEY, None)
        return None
    st.session_state[JOB_KEY] = job.id
    return job


def start_job(config: TrainConfig, name: str | None = None) -> TrainingJob:
    """Queue a new job for this student if the lesson's limits allow (`LimitError` if not);
    returns this session's unfinished job instead if there is one (a double click)."""
    actor = current_actor()
    job = current_job(actor)
    if job is not None and job.owner == actor.owner_id and not job.snapshot().finished:
        return job
    store = run_store()
    key = ownership.server_key(store.root)
    job = admit(
        config,
        actor,
        load_limits(store.root),
        active_jobs=active_jobs,
        create=lambda: make_job(  # a thread here, or a Ray actor with MNISTKIT_RAY_ADDRESS
            config,
            store,
            name=(name or "").strip() or None,
            data_dir=os.environ.get(DATA_ENV) or None,
            owner=actor.owner_id,
            owner_name=actor.label,
            owner_fields=lambda run_id: ownership.owner_fields(key, actor, run_id),
        ).start(),
    )
    st.session_state[JOB_KEY] = job.id
    return job


def stop_job(job_id: str | None = None) -> bool:
    """Stop this student's job (or, for the teacher, any job by id): cancels it if queued; if
    training, stops it within one execution step. False when it is not theirs to stop."""
    actor = current_actor()
    job = find_job(job_id) if job_id else current_job(actor)
    if job is None or not ownership.may_control_job(actor, job.owner):
        return False
    job.stop()
    return True


def forget_job() -> None:
    """Drop the job id from the session (the job itself is not touched)."""
    st.session_state.pop(JOB_KEY, None)
