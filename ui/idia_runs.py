"""The IDIA's additions to starting a run from a page (ui.attack_runs): photos held in memory for
"check one person", never stored by file name, and a reference run on people known not to be in
the training data, so that a verdict can state the false-positive rate it carries."""

from __future__ import annotations

import hashlib
from dataclasses import replace
from typing import Sequence

from leakage.attacks.idia import ATTACK
from leakage.idia import IDIAConfig, PersonUpload, checked_images, reference_config, reference_summary
from leakage.results import AttackResult
from leakage.service import RunRequest, run_attack
from ui.attack_runs import cached_result, result_cache, start_attack
from ui.jobs import Job
from ui.resources import SharedModels

__all__ = ["cached_result", "start_idia"]


def uploads_fingerprint(uploads: Sequence[PersonUpload]) -> str:
    digest = hashlib.sha256()
    for upload in uploads:
        digest.update(upload.name.encode())
        for label, image in upload.images:
            digest.update(image.tobytes())
    return digest.hexdigest()[:16]


def start_idia(job_key: str, model: str, pretrained: str | None, data: str, config: IDIAConfig,
               uploads: Sequence[PersonUpload] = (), store: bool = True, reference_data: str | None = None) -> None:
    """Start an IDIA run in the background; with `uploads`, on photos held in memory only."""

    def add_reference(result: AttackResult, models: SharedModels, job: Job) -> None:
        k = checked_images(result)  # the reference is measured on as many photos as were checked
        reference = reference_result(models, model, pretrained, reference_data, reference_config(config, k), job)
        result.details["reference"] = reference_summary(reference, k)

    start_attack(
        job_key, ATTACK.name, model, data, config, pretrained=pretrained,
        dataset=list(uploads) if uploads else None,
        dataset_id="uploaded photos (kept in memory only)" if uploads else None,
        store=store, label="check one person" if uploads else None,
        for_store=without_upload_names if uploads else None,
        after=add_reference if reference_data else None,
        key_extra={"uploads": uploads_fingerprint(uploads) if uploads else None, "reference": reference_data},
    )


def reference_result(models: SharedModels, model: str, pretrained: str | None, data: str, config: IDIAConfig,
                     job: Job) -> AttackResult:
    """The same attack on a reference dataset, with the same shared model, cached like any run (one
    per k; not stored). `config` is the reference run's (`leakage.idia.reference_config`)."""
    request = RunRequest(ATTACK.name, model, data, pretrained=pretrained, config=config, store=False)
    key = request.key
    if key not in result_cache():
        result_cache()[key] = run_attack(request, models=models, cancel=job.cancel,
                                         progress=lambda stage, done, total: job.progress(f"reference set: {stage}", done, total))
    return result_cache()[key]


def without_upload_names(result: AttackResult) -> AttackResult:
    """A copy for the run store in which uploaded files are named "upload N", never by their file names."""
    renamed = {}
    images = []
    for row in result.images:
        renamed.setdefault(row["path"], f"upload {len(renamed) + 1}")
        images.append({**row, "path": renamed[row["path"]]})
    return replace(result, images=images, problems=[{**p, "path": renamed.get(p["path"], "upload")} for p in result.problems])
