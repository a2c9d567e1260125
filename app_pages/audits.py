"""Batch audits: write or upload an audit plan, run it on this server or on a Ray cluster, watch
each job, cancel, and open the results. The page is a thin client: the plan runs in
`leakage.audit` (the same code as `python -m leakage audit`), on a Ray cluster the heavy work runs
on the cluster's workers, and this server only stores the results."""

from __future__ import annotations

import datetime as _dt
import threading
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

import pandas as pd
import streamlit as st

from leakage.audit.plan import MAX_PLAN_BYTES, Plan, PlanError, parse_plan
from leakage.audit.runner import PlanProgress, format_seconds
from leakage.paths import PathNotAllowed
from leakage.service import check_request
from leakage.provenance import data_home
from leakage.store import ANYONE
from ui.auth import owner_id
from ui.run_backend import Cluster, configured_cluster
from ui.run_queue import run_queue
from ui.text import md

EXAMPLE_PLAN = """# One [[job]] per attack; a list value expands into a grid (here 2 models x 2 settings = 4 IDIA jobs).
# A field that holds a list itself (IDIA templates) takes a list of lists to try several.

[[job]]
attack = "idia"
model = ["lab", "lab-control"]
data = "lab"
images_per_person = [2, 3]
n_candidates = 100
n_draws = 0

[[job]]
attack = "mim"
model = "lab-mae"
data = "lab"
n_masks = 2
# num_gpus = 0.5   # per job, on a Ray cluster with GPUs
"""

THIS_SERVER = "This server"


def checked_plan(text: str) -> tuple[Plan | None, list[str]]:
    """The plan of `text` and what is wrong with it (syntax, size, paths outside the roots), computed
    once per text and kept in the session: a page rerun (every second while an audit runs) does not
    parse it again."""
    memo = st.session_state.get("plan-checked")
    if memo is not None and memo[0] == text:
        return memo[1], memo[2]
    plan, problems = None, []
    try:
        plan = parse_plan(text, source="plan from the page")
    except PlanError as error:
        problems.append(str(error))
    if plan is not None:
        problems = plan_refusals(plan)
        plan = None if problems else plan
    st.session_state["plan-checked"] = (text, plan, problems)
    return plan, problems


@dataclass
class Audit:
    """One launched plan, shared by every session of this server (a page reload does not lose it)."""

    id: str
    plan: Plan
    backend: str
    out: str
    progress: PlanProgress
    cancel: threading.Event = field(default_factory=threading.Event)
    summary: dict[str, Any] | None = None
    error: str | None = None
    launched: str = field(default_factory=lambda: _dt.datetime.now().strftime("%H:%M:%S"))

    @property
    def running(self) -> bool:
        return self.summary is None and self.error is None


@st.cache_resource(show_spinner=False)
def audits() -> dict[str, Audit]:
    return {}


def plan_refusals(plan: Plan) -> list[str]:
    """What the run service refuses in the plan's jobs: model and data paths outside the folders
    this server may read (`leakage.paths`), names the catalog does not know."""
    refusals = []
    for job in plan.jobs:
        try:
            check_request(job.request())
        except (PathNotAllowed, ValueError) as refusal:
            if str(refusal) not in refusals:
                refusals.append(str(refusal))
    return refusals


def launch(plan: Plan, cluster: Cluster | None, workers: int | None, owner: str | None = None) -> Audit:
    """Run `plan` in a thread of this server: here, or on the operator's configured Ray cluster."""
    from leakage.audit.backends import LocalBackend, RayBackend
    from leakage.audit.runner import run_plan

    backend = RayBackend(address=cluster.address or None, workers=workers) if cluster is not None else LocalBackend()
    audit_id = uuid.uuid4().hex[:8]
    out = data_home() / "audits" / f"{_dt.datetime.now():%Y%m%d-%H%M%S}-{audit_id}"
    audit = Audit(audit_id, plan, backend.name + (f" ({cluster.name})" if cluster is not None else ""), str(out),
                  PlanProgress(plan, backend.name, backend.parallelism))
    queue = run_queue()

    def waiting(position: int) -> None:
        audit.launched = f"waiting for a free run slot: position {position} in the queue"

    def work() -> None:
        try:
            with queue.slot(audit, audit.cancel, waiting):
                audit.launched = _dt.datetime.now().strftime("%H:%M:%S")
                audit.summary = run_plan(plan, out, backend, cancel=audit.cancel, progress=audit.progress,
                                         owner=ANYONE if owner is None else owner)
        except BaseException as error:  # shown on the page, never lost in a thread
            audit.error = f"{type(error).__name__}: {error}"
            audit.progress.finished = True

    threading.Thread(target=work, name=f"audit-{audit_id}", daemon=True).start()
    audits()[audit_id] = audit
    return audit


def job_table(progress: PlanProgress) -> pd.DataFrame:
    rows = []
    for state in progress.jobs:
        metric = state.metrics.get("auc")
        rows.append({
            "job": state.job.name,
            "status": state.status,
            "stage": state.stage + (f" ({state.done}/{state.total})" if state.total and state.status == "running" else ""),
            "AUC": round(metric, 3) if isinstance(metric, float) else None,
            "worker": state.worker,
            "tries": state.attempts,
            "time": format_seconds(state.seconds) if state.seconds else "",
            "run": state.run_id,
            "error": state.error or "",
        })
    return pd.DataFrame(rows)


def show_audit(audit: Audit) -> None:
    @st.fragment(run_every=1.0)
    def panel() -> None:
        progress = audit.progress
        counts = progress.counts()
        total = len(progress.jobs)
        finished = counts["done"] + counts["skipped"] + counts["failed"] + counts["cancelled"]
        st.subheader(f"Audit {audit.id} \u00b7 {md(audit.backend)} \u00b7 launched {md(audit.launched)}")
        st.progress(finished / total if total else 1.0, text=progress.line())
        st.dataframe(job_table(progress), hide_index=True, width="stretch")
        if audit.running:
            if st.button("Cancel the audit", key=f"cancel-{audit.id}", disabled=audit.cancel.is_set()):
                audit.cancel.set()
                st.toast("Cancelling: running jobs stop after their current batch; nothing partial is stored.")
        else:
            st.rerun()  # once, to draw the results outside the fragment

    if audit.running:
        panel()
        return
    st.subheader(f"Audit {audit.id} \u00b7 {md(audit.backend)} \u00b7 launched {md(audit.launched)}")
    if audit.error:
        st.error(f"The audit stopped: {md(audit.error)}")
        return
    counts = audit.summary["counts"]
    message = f"Audit finished: {counts['done']} jobs run, {counts['skipped']} already stored, {counts['failed']} failed"
    (st.warning if counts["failed"] else st.success)(message + (f", {counts['cancelled']} cancelled" if counts["cancelled"] else ""))
    st.dataframe(job_table(audit.progress), hide_index=True, width="stretch")
    run_ids = [str(job["run_id"]) for job in audit.summary["jobs"] if job.get("run_id")]
    if run_ids:
        st.markdown(f"[Open the {len(run_ids)} runs side by side on the Runs page](runs?run={','.join(run_ids)})")
    report = f"{audit.out}/report.html"
    columns = st.columns(2)
    try:
        columns[0].download_button("Download the report (HTML)", open(report, "rb").read(), file_name="audit-report.html",
                                   mime="text/html", key=f"report-{audit.id}")
        columns[1].download_button("Download summary.json", open(f"{audit.out}/summary.json", "rb").read(),
                                   file_name="summary.json", mime="application/json", key=f"summary-{audit.id}")
    except OSError as error:
        st.error(f"The report could not be read: {md(error)}")
    for job in audit.summary["jobs"]:  # results the run store refused: kept beside the report, downloadable
        if job.get("unsaved_result"):
            path = f"{audit.out}/{job['unsaved_result']}"
            st.download_button(f"Download the unsaved result of {job['name']} (JSON)", open(path, "rb").read(),
                               file_name=job["unsaved_result"], mime="application/json", key=f"unsaved-{audit.id}-{job['job_key']}")


st.title("Batch audits")
st.caption(
    "Many attack runs from one plan: several models \u00d7 data sets \u00d7 settings \u00d7 seeds. Every run goes "
    "into the run store; a plan launched again skips what is already stored. On a Ray cluster the runs go to the "
    "cluster's workers (GPUs included), so this server needs none. The same plan runs from a terminal with "
    "`python -m leakage audit plan.toml --out DIR --backend ray`."
)

uploaded = st.file_uploader("Upload a plan (TOML)", type=["toml"], key="plan-upload")
if uploaded is not None and st.session_state.get("plan-upload-id") != uploaded.file_id:
    st.session_state["plan-upload-id"] = uploaded.file_id
    if uploaded.size > MAX_PLAN_BYTES:
        st.error(f"The uploaded plan is {uploaded.size:,} bytes; a plan may be at most {MAX_PLAN_BYTES:,}.")
    else:
        st.session_state["plan-text"] = uploaded.getvalue().decode("utf-8", errors="replace")
if "plan-text" not in st.session_state:
    st.session_state["plan-text"] = EXAMPLE_PLAN
text = st.text_area("Plan", key="plan-text", height=320,
                    help="[[job]] tables: attack, model, data and the attack's settings by name; a list expands into a grid")

plan, problems = checked_plan(text)  # parsed once per text, not on every rerun of the page
for problem in problems:
    st.error(md(problem))
if plan is not None:
    st.caption(f"{len(plan.jobs)} jobs: " + md("; ".join(job.name for job in plan.jobs[:12]))
               + (f"; and {len(plan.jobs) - 12} more" if len(plan.jobs) > 12 else ""))

cluster, workers = configured_cluster(), None  # only the cluster the operator configured (ui.run_backend)
if cluster is not None:
    where = st.radio("Run on", [THIS_SERVER, cluster.name], horizontal=True, key="audit-backend",
                     captions=["in this server's process, one job after the other", "the Ray cluster this server is configured with"])
    if where == cluster.name:
        workers = int(st.number_input("Workers", min_value=0, max_value=256, value=0, step=1, key="audit-workers",
                                      help="Ray workers per resource shape; 0 = as many as the cluster fits"))
    else:
        cluster = None

mine: list[str] = st.session_state.setdefault("audit-ids", [])
busy = any(audits()[audit_id].running for audit_id in mine if audit_id in audits())
if st.button("Launch the audit", type="primary", disabled=plan is None or busy, key="audit-launch"):
    audit = launch(plan, cluster, workers or None, owner_id())
    mine.append(audit.id)
    time.sleep(0.2)
    st.rerun()

for audit_id in reversed(mine):
    if audit_id in audits():
        show_audit(audits()[audit_id])
        st.divider()
