"""Starting any registered attack from a page: a background job with progress and Cancel that
runs it through the run service (`leakage.service`) on this server's shared models (one per
server, runs on it take turns), the result kept in the run store and in a per-server cache by its
run key, so that the same run asked for twice is computed once."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import streamlit as st

from leakage.paths import PathNotAllowed
from leakage.results import AttackResult
from leakage.service import RunRequest, check_request, run_attack
from leakage.store import RunStore
from ui.auth import owner_id
from ui.jobs import Job, start_job
from ui.run_backend import ray_address
from ui.resources import SharedModels, shared_model
from ui.text import md


@st.cache_resource(show_spinner=False)
def result_cache() -> dict[str, AttackResult]:
    """Results of this server's runs by run key (`RunRequest.key`), shared by sessions, so a rerun never recomputes."""
    return {}


def start_attack(
    job_key: str,
    attack_name: str,
    model: str,
    data: str,
    config: Any,
    *,
    pretrained: str | None = None,
    model_params: Mapping[str, Any] | None = None,
    held: Mapping[str, Any] | None = None,
    extra_models: Mapping[str, str] | None = None,
    dataset: Any = None,
    dataset_id: str | None = None,
    options: Mapping[str, Any] | None = None,
    store: bool = True,
    label: str | None = None,
    for_store: Callable[[AttackResult], AttackResult] | None = None,
    after: Callable[[AttackResult, SharedModels, Job], None] | None = None,
    key_extra: Mapping[str, Any] | None = None,
    prepare: Callable[[Job], None] | None = None,
) -> None:
    """Run `attack_name` in the background through the run service (the page redraws at once), or
    point the page at the cached result of this exact run. The job's result is the run key
    (`cached_result`).

    `dataset` (with `dataset_id`) replaces resolving `data` by name, e.g. photos held in memory;
    `for_store` makes the copy that goes into the run store; `after(result, models, job)` adds to
    the result before it is cached (e.g. a reference run on the same shared models); `key_extra`
    is what else identifies the run (e.g. a fingerprint of the photos); `prepare(job)` runs first
    in the job, with its progress and Cancel (e.g. building a lab model).
    """
    owner = owner_id()  # read here, in the page's thread: the run belongs to the signed-in user
    request = RunRequest(attack_name, model, data, pretrained=pretrained, model_params=dict(model_params or {}),
                         config=config, extra_models=dict(extra_models or {}),
                         options=dict(options or {}), held=dict(held or {}), dataset=dataset, dataset_id=dataset_id,
                         inputs=dict(key_extra or {}),
                         label=label, store=store, owner=owner)
    try:  # names and a shared server's roots (LEAKAGE_MODEL_ROOTS / LEAKAGE_DATA_ROOTS), before anything starts
        attack = check_request(request)
    except (PathNotAllowed, ValueError) as refusal:
        st.error(md(refusal))
        return
    key = page_key(request)
    if key in result_cache():
        st.session_state[f"{job_key}-result"] = key
        return

    address = ray_address()
    on_ray = address is not None and dataset is None and after is None and not options and not held and prepare is None
    if address is not None and not on_ray:
        st.info("This run uses data held in this server's memory (or a step of its own), so it runs here, not on Ray.")

    def work_on_ray(job: Job) -> str:
        result = run_on_ray(request, address, job)
        result_cache()[key] = result
        return key

    def work(job: Job) -> str:
        if prepare is not None:
            prepare(job)
        models = SharedModels(job, shared_model)
        result = run_attack(request, models=models, progress=job.progress, cancel=job.cancel, before_store=for_store)
        if after is not None:
            after(result, models, job)
        result_cache()[key] = result
        return key

    start_job(job_key, attack.title, work_on_ray if on_ray else work)


def page_key(request: RunRequest) -> str:
    """A page's result cache key: the run key and who asked (on a shared server with sign-in, one
    user's finished run is never shown to another)."""
    from leakage.provenance import config_hash

    return request.key if request.owner is None else config_hash({"run": request.key, "owner": request.owner})


def run_on_ray(request: RunRequest, address: str, job: Job) -> AttackResult:
    """The run as a one-job plan on a Ray cluster (`leakage.audit`): the cluster's workers run it
    through the run service; the result comes back into this server's run store."""
    from leakage.audit.backends import RayBackend
    from leakage.audit.plan import Job as PlanJob
    from leakage.audit.plan import plan_from_jobs
    from leakage.audit.runner import PlanProgress, run_plan

    attack = request.spec().name
    plan = plan_from_jobs([PlanJob(attack=attack, model=request.model, data=request.data, config=request.plain_config(),
                                   extra_models=dict(request.extra_models), pretrained=request.pretrained,
                                   model_params=dict(request.model_params), name=f"{attack} from the page")],
                          source="attack page")
    job.progress("sending the run to the Ray cluster", 0, 0)

    def update(state) -> None:
        current = state.jobs[0]
        job.progress(f"on Ray ({current.worker or 'starting'}): {current.stage or current.status}", current.done, current.total)

    state = PlanProgress(plan, "ray", 1)
    summary = run_plan(plan, None, RayBackend(address=address or None), cancel=job.cancel, on_update=update, progress=state,
                       owner=request.owner)
    outcome = summary["jobs"][0]
    if outcome["status"] == "cancelled" or job.cancel.is_set():
        from leakage.results import RunCancelled

        raise RunCancelled("cancelled on the Ray cluster")
    if state.jobs[0].unsaved is not None:  # computed on the cluster, refused by the run store: kept for the page
        result = AttackResult.from_dict(state.jobs[0].unsaved)
        result.details.update(backend="ray", store_error=outcome.get("error"))
        return result
    if outcome["status"] not in ("done", "skipped") or outcome.get("run_id") is None:
        raise RuntimeError(f"the run failed on the Ray cluster: {outcome.get('error')}")
    with RunStore() as runs:
        result = runs.get(outcome["run_id"])
    result.details["run_id"] = outcome["run_id"]
    result.details["backend"] = "ray"
    return result


def cached_result(key: str | None) -> AttackResult | None:
    return result_cache().get(key) if key else None


def finished_result(job_key: str) -> AttackResult | None:
    """Watch `job_key`'s job (progress and Cancel while it runs) and return the page's latest result."""
    from ui.jobs import watch_job

    watch_job(job_key, lambda job: st.session_state.__setitem__(f"{job_key}-result", job.result))
    result = cached_result(st.session_state.get(f"{job_key}-result"))
    if result is not None and result.details.get("store_error"):
        st.error(f"This run finished but was not stored: {md(result.details['store_error'])} Nothing is lost: the result is "
                 "below, and its downloads (JSON, CSV) hold all of it.")
    return result
