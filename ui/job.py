"""The browser session's own training job: start it, find it again after a reload, stop it.

The job's id is a secret token kept in `st.session_state` and in the page URL
(`?job=<id>`), so a reloaded tab (a new Streamlit session with the same URL) finds its job
through `mnistkit.jobs.find_job`; nobody else can guess it. The job's worker thread never
calls `st.*`: pages poll `job.snapshot()`.
"""

from __future__ import annotations

import os

import streamlit as st

from mnistkit.config import TrainConfig
from mnistkit.data import DATA_ENV
from mnistkit.jobs import TrainingJob, find_job, make_job
from ui.resources import run_store

JOB_KEY = "job_id"  # session_state key
JOB_PARAM = "job"  # query-parameter name


def current_job() -> TrainingJob | None:
    """This session's job (also after a browser reload), or None."""
    job_id = st.session_state.get(JOB_KEY) or st.query_params.get(JOB_PARAM)
    if not job_id:
        return None
    job = find_job(str(job_id))
    if job is None:  # unknown id (server restarted, or a stale/foreign link): forget it
        forget_job()
        return None
    st.session_state[JOB_KEY] = job.id
    if st.query_params.get(JOB_PARAM) != job.id:
        st.query_params[JOB_PARAM] = job.id
    return job


def start_job(config: TrainConfig, name: str | None = None) -> TrainingJob:
    """Queue a new training job for this session; returns the unfinished one if there is one."""
    job = current_job()
    if job is not None and not job.snapshot().finished:
        return job
    job = make_job(  # a thread here, or a Ray actor with MNISTKIT_RAY_ADDRESS
        config,
        run_store(),
        name=(name or "").strip() or None,
        data_dir=os.environ.get(DATA_ENV) or None,
    ).start()
    st.session_state[JOB_KEY] = job.id
    st.query_params[JOB_PARAM] = job.id
    return job


def stop_job() -> None:
    """Stop this session's job: cancels it if queued; if training, stops it within one
    execution step (`steps_per_execution` batches)."""
    job = current_job()
    if job is not None:
        job.stop()


def forget_job() -> None:
    """Drop the job id from the session and the URL (the job itself is not touched)."""
    st.session_state.pop(JOB_KEY, None)
    if JOB_PARAM in st.query_params:
        del st.query_params[JOB_PARAM]
