"""Starting IDIA runs from the pages: shared models, results cached per config, every run stored."""

from __future__ import annotations

import hashlib
from dataclasses import asdict, replace
from typing import Sequence

import streamlit as st

from leakage.idia import IDIAConfig, PersonUpload, RuntimeOptions, run_idia
from leakage.provenance import config_hash
from leakage.results import AttackResult
from leakage.sources import resolve_data
from leakage.store import RunStore
from ui.jobs import Job, start_job
from ui.resources import shared_clip


@st.cache_resource(show_spinner=False)
def result_cache() -> dict[str, AttackResult]:
    """Results of this server's runs by key, shared by sessions, so a rerun never recomputes."""
    return {}


def uploads_fingerprint(uploads: Sequence[PersonUpload]) -> str:
    digest = hashlib.sha256()
    for upload in uploads:
        digest.update(upload.name.encode())
        for label, image in upload.images:
            digest.update(image.tobytes())
    return digest.hexdigest()[:16]


def run_key(model: str, pretrained: str | None, data: str, config: IDIAConfig, uploads: Sequence[PersonUpload] = ()) -> str:
    return config_hash({"model": model, "pretrained": pretrained, "data": data, "config": asdict(config),
                        "uploads": uploads_fingerprint(uploads) if uploads else None})


def start_idia(job_key: str, model: str, pretrained: str | None, data: str, config: IDIAConfig,
               uploads: Sequence[PersonUpload] = (), store: bool = True, reference_data: str | None = None) -> None:
    """Start a run in the background (the page is redrawn at once), or, when this exact run is
    already cached, point the page at its result.

    With `reference_data` (a dataset with known non-members), the same attack also runs there,
    so a verdict on uploaded photos can state the false-positive rate it carries.
    """
    key = run_key(model, pretrained, data, config, uploads) + (f"-ref-{reference_data}" if reference_data else "")
    if key in result_cache():
        st.session_state[f"{job_key}-result"] = key
        return

    def work(job: Job) -> AttackResult:
        job.progress("loading model", 0, 0)
        shared = shared_clip(model, pretrained, None)
        if uploads:
            dataset, dataset_id = list(uploads), "uploaded photos (kept in memory only)"
        else:
            job.progress("scanning data", 0, 0)
            dataset, dataset_id = resolve_data(data)
        with job.turn(shared.lock):
            result = run_idia(shared.clip, dataset, config, runtime=RuntimeOptions(), dataset_id=dataset_id,
                              progress=job.progress, cancel=job.cancel)
        if store:
            RunStore().save(without_upload_names(result) if uploads else result,
                            label="check one person" if uploads else None)
        if reference_data:
            reference = reference_result(shared, reference_data, config, job)
            result.details["reference"] = {
                "data": reference.dataset.get("id"),
                "nonmember_correct_prompts": [row["correct_prompts"] for row in reference.identities if row.get("member") is False],
                "n_candidates": reference.metrics["n_candidates"],
                "n_people": reference.metrics["n_identities"],
            }
        result_cache()[key] = result
        return key

    start_job(job_key, "Identity inference", work)


def reference_result(shared, data: str, config: IDIAConfig, job: Job) -> AttackResult:
    """The same attack on a reference dataset, cached like any run."""
    key = run_key(shared.clip.identifier, None, data, replace(config, n_draws=0))
    if key not in result_cache():
        dataset, dataset_id = resolve_data(data)
        with job.turn(shared.lock):
            result_cache()[key] = run_idia(shared.clip, dataset, replace(config, n_draws=0), dataset_id=dataset_id,
                                           progress=lambda stage, done, total: job.progress(f"reference set: {stage}", done, total),
                                           cancel=job.cancel)
    return result_cache()[key]


def without_upload_names(result: AttackResult) -> AttackResult:
    """A copy for the run store in which uploaded files are named "upload N", never by their file names."""
    renamed = {}
    images = []
    for row in result.images:
        renamed.setdefault(row["path"], f"upload {len(renamed) + 1}")
        images.append({**row, "path": renamed[row["path"]]})
    return replace(result, images=images, problems=[{**p, "path": renamed.get(p["path"], "upload")} for p in result.problems])


def cached_result(key: str | None) -> AttackResult | None:
    return result_cache().get(key) if key else None
