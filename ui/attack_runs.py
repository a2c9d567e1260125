"""Starting any registered attack from a page: the shared model (one per server, runs on it take
turns), a background job with progress and Cancel, the result kept in the run store and in a
per-server cache, so that the same run asked for twice is computed once."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import asdict, is_dataclass
from typing import Any

import streamlit as st

from leakage.attacks import get_attack
from leakage.attacks.base import RunContext
from leakage.catalog import resolve_data
from leakage.paths import PathNotAllowed, check_allowed
from leakage.provenance import config_hash
from leakage.results import AttackResult
from leakage.store import RunStore, RunStoreError
from ui.auth import owner_id
from ui.jobs import Job, start_job
from ui.run_backend import ray_address
from ui.resources import shared_model
from ui.text import md


@st.cache_resource(show_spinner=False)
def result_cache() -> dict[str, AttackResult]:
    """Results of this server's runs by key, shared by sessions, so a rerun never recomputes."""
    return {}


def run_key(attack: str, model: str, pretrained: str | None, data: str, config: Any, **extra: Any) -> str:
    return config_hash({"attack": attack, "model": model, "pretrained": pretrained, "data": data,
                        "config": asdict(config) if is_dataclass(config) else config, **extra})


def start_attack(
    job_key: str,
    attack_name: str,
    model: str,
    data: str,
    config: Any,
    *,
    pretrained: str | None = None,
    extra_models: Mapping[str, str] | None = None,
    dataset: Any = None,
    dataset_id: str | None = None,
    options: Mapping[str, Any] | None = None,
    store: bool = True,
    label: str | None = None,
    for_store: Callable[[AttackResult], AttackResult] | None = None,
    after: Callable[[AttackResult, Any, Job], None] | None = None,
    key_extra: Mapping[str, Any] | None = None,
) -> None:
    """Run `attack_name` in the background (the page redraws at once), or point the page at the
    cached result of this exact run. The job's result is the cache key (`cached_result`).

    `dataset` (with `dataset_id`) replaces resolving `data` by name, e.g. photos held in memory;
    `for_store` makes the copy that goes into the run store; `after(result, shared, job)` adds to
    the result before it is cached (e.g. a reference run).
    """
    attack = get_attack(attack_name)
    extra_models = dict(extra_models or {})
    try:  # a shared server reads only its configured folders (LEAKAGE_MODEL_ROOTS / LEAKAGE_DATA_ROOTS)
        for spec in (model, pretrained, *extra_models.values()):
            check_allowed(spec, "model")
        if dataset is None:
            check_allowed(data, "data")
    except PathNotAllowed as refusal:
        st.error(md(refusal))
        return
    owner = owner_id()  # read here, in the page's thread: the run belongs to the signed-in user
    key = run_key(attack.name, model, pretrained, data, config, extra_models=extra_models, owner=owner, **dict(key_extra or {}))
    if key in result_cache():
        st.session_state[f"{job_key}-result"] = key
        return

    address = ray_address()
    on_ray = address is not None and dataset is None and after is None and not options
    if address is not None and not on_ray:
        st.info("This run uses data held in this server's memory (or a step of its own), so it runs here, not on Ray.")

    def work_on_ray(job: Job) -> str:
        result = run_on_ray(attack.name, model, data, config, pretrained, extra_models, address, job, owner)
        result_cache()[key] = result
        return key

    def work(job: Job) -> str:
        job.progress("loading the model", 0, 0)
        shared = shared_model(attack.model_kind, model, pretrained, None, job.progress)
        extras = {role: shared_model(attack.model_kind, spec, None, None, job.progress).model for role, spec in extra_models.items()}
        if dataset is not None:
            data_set, data_id = dataset, dataset_id
        else:
            job.progress("scanning the data", 0, 0)
            data_set, data_id = resolve_data(data, model=model, default_lab=attack.default_data, progress=job.progress,
                                             load=attack.load_data)
        context = RunContext(progress=job.progress, cancel=job.cancel, dataset_id=data_id, extra_models=extras,
                             options=dict(options or {}))
        with job.turn(shared.lock):
            result = attack.execute(shared.model, data_set, config, context)
        if store:
            keep_or_report(result, lambda runs: runs.save(for_store(result) if for_store else result, label=label, owner=owner))
        if after is not None:
            after(result, shared, job)
        result_cache()[key] = result
        return key

    start_job(job_key, attack.title, work_on_ray if on_ray else work)


def keep_or_report(result: AttackResult, save: Callable[[RunStore], int]) -> None:
    """Store the result (its run id in `details`), or, when the run store fails, keep it for the page
    with the store's error: the finished run stays on the page and downloadable."""
    try:
        with RunStore() as runs:
            result.details["run_id"] = save(runs)
    except RunStoreError as error:
        result.details["store_error"] = str(error)


def run_on_ray(attack: str, model: str, data: str, config: Any, pretrained: str | None, extra_models: Mapping[str, str],
               address: str, job: Job, owner: str | None = None) -> AttackResult:
    """The run as a one-job plan on a Ray cluster (`leakage.audit`): the cluster's workers load the
    model and compute; the result comes back into this server's run store."""
    from leakage.audit.backends import RayBackend
    from leakage.audit.plan import Job as PlanJob
    from leakage.audit.plan import plan_from_jobs
    from leakage.audit.runner import PlanProgress, run_plan
    from leakage.provenance import to_plain

    plan = plan_from_jobs([PlanJob(attack=attack, model=model, data=data, config=to_plain(asdict(config)),
                                   extra_models=dict(extra_models), pretrained=pretrained, name=f"{attack} from the page")],
                          source="attack page")
    job.progress("sending the run to the Ray cluster", 0, 0)

    def update(state) -> None:
        current = state.jobs[0]
        job.progress(f"on Ray ({current.worker or 'starting'}): {current.stage or current.status}", current.done, current.total)

    state = PlanProgress(plan, "ray", 1)
    summary = run_plan(plan, None, RayBackend(address=address or None), cancel=job.cancel, on_update=update, progress=state,
                       owner=owner)
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
