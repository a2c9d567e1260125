"""The runs of a lesson step, from a page: read back from this server's result cache or the run store
by their run keys, or started in one background job (progress and Cancel) through the run service,
building first the lab models the teacher asked to build. Every run is an ordinary stored run."""

from __future__ import annotations

from collections.abc import Sequence

import streamlit as st

from leakage.lessons import LessonRun, Step
from leakage.paths import PathNotAllowed
from leakage.results import AttackResult
from leakage.service import check_request, run_attack
from leakage.store import RunStore, RunStoreError, default_url
from ui.attack_runs import page_key, result_cache
from ui.auth import owner_filter, owner_id
from ui.jobs import Job, job_running, start_job
from ui.resources import SharedModels, shared_model
from ui.text import md


@st.cache_resource(show_spinner=False)
def lesson_store(url: str) -> RunStore:
    return RunStore(url)


PREPARE_JOB = "lesson-prepare-job"
"""The job that runs every step ahead of class (the Prepare button); steps wait for it instead of running twice."""


def job_key(step: Step) -> str:
    return f"lesson-job-{step.id}"


def stored_result(run: LessonRun) -> AttackResult | None:
    """This run from the run store (the newest with its run key, the user's own on a shared server), or None."""
    request = run.request(owner_id())
    try:
        store = lesson_store(default_url())
        run_id = store.find(request.key, owner=owner_filter())
        if run_id is None:
            return None
        result = store.get(run_id, owner=owner_filter())
    except (RunStoreError, KeyError, OSError):
        return None
    result.details["run_id"] = run_id
    return result


def step_results(step: Step) -> dict[str, AttackResult]:
    """The results of the step's runs that are computed: this server's cache, else the run store."""
    found: dict[str, AttackResult] = {}
    for run in step.runs:
        key = page_key(run.request(owner_id()))
        result = result_cache().get(key)
        if result is None:
            result = stored_result(run)
            if result is not None:
                result_cache()[key] = result
        if result is not None:
            found[run.id] = result
    return found


def start_runs(key: str, title: str, runs: Sequence[LessonRun], build: bool = False) -> None:
    """Run `runs` one after the other in one background job, each through the run service on this
    server's shared models and stored; with `build`, first build what each one misses (progress, Cancel)."""
    owner = owner_id()
    requests = []
    for run in runs:
        request = run.request(owner)
        try:
            check_request(request)
        except (PathNotAllowed, ValueError) as refusal:
            st.error(f"{md(run.title)}: {md(refusal)}")
            return
        requests.append((run, request))
    if not requests or job_running(key):
        return

    def work(job: Job) -> int:
        for number, (run, request) in enumerate(requests, 1):
            cache_key = page_key(request)
            if cache_key in result_cache():
                continue

            def progress(stage: str, done: int, total: int, run: LessonRun = run, number: int = number) -> None:
                job.progress(f"{number} of {len(requests)}, {run.title}: {stage}", done, total)

            if build:
                for missing in run.missing():
                    missing.entry.build(progress=progress, cancel=job.cancel)
            result_cache()[cache_key] = run_attack(request, models=SharedModels(job, shared_model), progress=progress,
                                                   cancel=job.cancel)
        return len(requests)

    start_job(key, title, work)


def finished_badly(key: str) -> bool:
    """Whether the step's last job ended cancelled or failed (the page says so; it is not restarted unasked)."""
    job: Job | None = st.session_state.get(key)
    return job is not None and job.finished and job.error is not None
