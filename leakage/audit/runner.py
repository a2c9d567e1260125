"""Running a plan: skip what is already stored, run the rest on a backend, store each result as it
arrives (only here, in the driver), and write `summary.json` and `report.html` into the output folder.

Resume: every stored run of a plan carries its run key (the hash of attack, model, data spec and
full config: `Job.key`, the run service's `RunRequest.key`, the store's `run_key` column) and, in
`details.audit`, the fingerprint of its data folder (relative paths, sizes and modification times
of its files). A rerun skips a job whose key and fingerprint are both in the store, so a crash or
Ctrl-C loses nothing that finished, and a changed data folder is attacked again. Each job's
request is checked by the run service (names, roots) before its folder is even listed. A result is saved in one transaction once it is complete: a job that fails or
is cancelled leaves nothing in the store.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from leakage.audit.backends import LocalBackend, describe_error
from leakage.audit.plan import Job, Plan
from leakage.audit.worker import data_fingerprint, data_folder
from leakage.results import AttackResult
from leakage.service import check_request
from leakage.store import ANYONE, RunStore

SUMMARY_FORMAT = 1

STATUSES = ("pending", "running", "done", "skipped", "failed", "cancelled")


@dataclass
class JobState:
    job: Job
    status: str = "pending"
    stage: str = ""
    done: int = 0
    total: int = 0
    attempts: int = 0
    worker: str = ""
    started: float | None = None
    seconds: float | None = None
    error: str | None = None
    run_id: int | None = None
    config_hash: str | None = None
    metrics: dict[str, Any] = field(default_factory=dict)
    data_fingerprint: str | None = None
    retries: list[str] = field(default_factory=list)
    unsaved: dict[str, Any] | None = None
    """A result computed but refused by the run store: kept, written beside the report, downloadable."""

    def to_dict(self) -> dict[str, Any]:
        job = self.job
        return {
            "name": job.name, "attack": job.attack, "model": job.model, "data": job.data,
            "extra_models": job.extra_models, "pretrained": job.pretrained, "config": job.config,
            "job_key": job.key, "config_hash": self.config_hash, "data_fingerprint": self.data_fingerprint,
            "status": self.status, "metrics": self.metrics, "run_id": self.run_id, "error": self.error,
            "attempts": self.attempts, "retries": self.retries, "worker": self.worker,
            "seconds": None if self.seconds is None else round(self.seconds, 3),
            "resources": {"num_cpus": job.num_cpus, "num_gpus": job.num_gpus},
            **({"unsaved_result": unsaved_name(self)} if self.unsaved is not None else {}),
        }


class PlanProgress:
    """The live state of a plan run: per job, and the counts and ETA a page or terminal shows."""

    def __init__(self, plan: Plan, backend: str, parallelism: int) -> None:
        self.plan = plan
        self.backend = backend
        self.parallelism = parallelism
        self.jobs = [JobState(job) for job in plan.jobs]
        self.started = time.monotonic()
        self.finished = False
        self.lock = threading.Lock()

    def counts(self) -> dict[str, int]:
        counts = {status: 0 for status in STATUSES}
        for state in self.jobs:
            counts[state.status] += 1
        return counts

    def eta_seconds(self) -> float | None:
        """From the mean time of the jobs run so far, the work left spread over the workers."""
        times = [state.seconds for state in self.jobs if state.status == "done" and state.seconds]
        if not times:
            return None
        mean = sum(times) / len(times)
        now = time.monotonic()
        waiting = sum(state.status == "pending" for state in self.jobs)
        running_left = [max(0.0, mean - (now - state.started)) for state in self.jobs
                        if state.status == "running" and state.started]
        workers = max(1, self.parallelism, len(running_left))
        return (waiting * mean + sum(running_left)) / workers

    def line(self) -> str:
        counts = self.counts()
        eta = self.eta_seconds()
        total = len(self.jobs)
        finished = counts["done"] + counts["skipped"]
        text = (f"{finished}/{total} done ({counts['skipped']} already stored), {counts['running']} running, "
                f"{counts['failed']} failed")
        if counts["cancelled"]:
            text += f", {counts['cancelled']} cancelled"
        if eta is not None and not self.finished:
            text += f", ETA {format_seconds(eta)}"
        return text + f" · {format_seconds(time.monotonic() - self.started)} elapsed"


def format_seconds(seconds: float) -> str:
    seconds = int(round(seconds))
    if seconds < 60:
        return f"{seconds} s"
    minutes, seconds = divmod(seconds, 60)
    if minutes < 60:
        return f"{minutes} min {seconds:02d} s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes:02d} min"


def stored_run(store: RunStore, key: str, fingerprint: str, owner: Any = ANYONE) -> int | None:
    """The id of a stored run of this job on this data (newest; with `owner`, one of theirs), or None."""
    return store.find(key, data_fingerprint=fingerprint, owner=owner)


class _Recorder:
    """Backend events -> job states; a finished result goes into the store here, in the driver."""

    def __init__(self, progress: PlanProgress, store: RunStore, on_update: Callable[[PlanProgress], None] | None,
                 plan_name: str, owner: str | None = None) -> None:
        self.owner = owner
        self.state = progress
        self.store = store
        self.on_update = on_update
        self.plan_name = plan_name

    def _changed(self) -> None:
        if self.on_update is not None:
            self.on_update(self.state)

    def started(self, index: int, worker: str) -> None:
        with self.state.lock:
            job = self.state.jobs[index]
            job.status, job.worker, job.started, job.stage = "running", worker, time.monotonic(), "starting"
            job.attempts += 1
        self._changed()

    def worker(self, index: int, worker: str) -> None:
        self.state.jobs[index].worker = worker
        self._changed()

    def progress(self, index: int, stage: str, done: int, total: int) -> None:
        job = self.state.jobs[index]
        if job.status == "running":
            job.stage, job.done, job.total = stage, done, total
            self._changed()

    def retrying(self, index: int, attempt: int, reason: str) -> None:
        with self.state.lock:
            job = self.state.jobs[index]
            job.status, job.stage = "pending", f"retrying (attempt {attempt}): {reason}"
            job.retries.append(reason)
        self._changed()

    def failed(self, index: int, error: str, cancelled: bool = False) -> None:
        with self.state.lock:
            job = self.state.jobs[index]
            job.status, job.error = ("cancelled" if cancelled else "failed"), error
            job.seconds = time.monotonic() - job.started if job.started else None
        self._changed()

    def finished(self, index: int, result: dict[str, Any]) -> None:
        job = self.state.jobs[index]
        try:
            attack_result = AttackResult.from_dict(result)
            attack_result.details["audit"] = {"job_key": job.job.key, "data_fingerprint": job.data_fingerprint,
                                              "plan": self.plan_name, "job": job.job.name, "worker": job.worker,
                                              "attempts": job.attempts}
            run_id = self.store.save(attack_result, label=job.job.name, owner=self.owner, attack=job.job.spec())
        except Exception as error:  # a result that cannot be stored is a failed job, not a crashed plan
            job.unsaved = result  # ... and not a lost result: it is written beside the report
            self.failed(index, f"could not store the result ({describe_error(error)}); the result is kept as "
                               f"{unsaved_name(job)} beside the report")
            return
        with self.state.lock:
            job.status, job.run_id = "done", run_id
            job.config_hash, job.metrics = attack_result.config_hash, attack_result.metrics
            job.seconds = time.monotonic() - job.started if job.started else None
            job.stage = "done"
        self._changed()


def run_plan(plan: Plan, out: str | Path | None = None, backend: Any = None, *, store: RunStore | None = None,
             cancel: threading.Event | None = None, on_update: Callable[[PlanProgress], None] | None = None,
             progress: PlanProgress | None = None, owner: Any = ANYONE) -> dict[str, Any]:
    """Run every job of `plan` not already stored; write `summary.json` and `report.html` into `out`.

    `owner` (a signed-in user) owns the runs stored, and only their runs count as already stored.

    Returns the summary (also what summary.json holds). A job that fails is reported with its
    error; the others still run.
    """
    backend = backend or LocalBackend()
    cancel = cancel or threading.Event()
    own_store = store is None
    store = store or RunStore()
    state = progress or PlanProgress(plan, backend.name, backend.parallelism)
    state.parallelism = backend.parallelism
    plan_name = Path(plan.source).name if plan.source else "plan"
    recorder = _Recorder(state, store, on_update, plan_name, None if owner is ANYONE else owner)
    try:
        todo = _skip_stored(state, store, owner)
        recorder._changed()
        if todo and not cancel.is_set():
            backend.run(todo, recorder, cancel)
        for index, _ in todo:  # anything a backend left unreported (e.g. it stopped early)
            if state.jobs[index].status in ("pending", "running"):
                recorder.failed(index, "cancelled" if cancel.is_set() else "not run", cancelled=cancel.is_set())
        state.parallelism = backend.parallelism
        state.finished = True
        recorder._changed()
        summary = make_summary(state, store)
        if out is not None:
            write_outputs(summary, state, store, Path(out))
        return summary
    finally:
        if own_store:
            store.close()


def _skip_stored(state: PlanProgress, store: RunStore, owner: Any = ANYONE) -> list[tuple[int, Job]]:
    """Fingerprint each job's data; mark jobs already stored as skipped, bad data as failed."""
    todo = []
    fingerprints: dict[str, str] = {}
    for index, job_state in enumerate(state.jobs):
        job = job_state.job
        try:
            check_request(job.request())
        except Exception as error:
            job_state.status, job_state.error = "failed", "refused: " + describe_error(error)
            continue
        try:
            folder = str(data_folder(job))
            if folder not in fingerprints:
                fingerprints[folder] = data_fingerprint(folder)
            job_state.data_fingerprint = fingerprints[folder]
        except Exception as error:
            job_state.status, job_state.error = "failed", "unreadable data: " + describe_error(error)
            continue
        run_id = stored_run(store, job.key, job_state.data_fingerprint, owner)
        if run_id is not None:
            stored = store.get(run_id)
            job_state.status, job_state.run_id = "skipped", run_id
            job_state.config_hash, job_state.metrics = stored.config_hash, stored.metrics
            job_state.stage = "already stored"
        else:
            todo.append((index, job))
    return todo


def make_summary(state: PlanProgress, store: RunStore) -> dict[str, Any]:
    return {
        "format": SUMMARY_FORMAT,
        "plan": state.plan.source,
        "backend": state.backend,
        "counts": state.counts(),
        "seconds": round(time.monotonic() - state.started, 3),
        "store": repr(store),
        "jobs": [job.to_dict() for job in state.jobs],
    }


def unsaved_name(state: JobState) -> str:
    return f"unsaved-{state.job.key}.json"


def write_outputs(summary: dict[str, Any], state: PlanProgress, store: RunStore, out: Path) -> None:
    from leakage.audit.report import render_plan_report

    out.mkdir(parents=True, exist_ok=True)
    for job in state.jobs:
        if job.unsaved is not None:
            (out / unsaved_name(job)).write_text(json.dumps(job.unsaved, indent=2, default=str))
    results = {job.run_id: store.get(job.run_id) for job in state.jobs if job.run_id is not None}
    (out / "summary.json").write_text(json.dumps(summary, indent=2, allow_nan=False, default=str))
    (out / "report.html").write_text(render_plan_report(summary, results))
