"""Running one job of a plan, the same way on every backend: through the run service
(`leakage.service`), with the worker's `ModelCache` as its model provider, the result as plain
data. Models stay loaded in the process (a Ray actor, or the local runner) for the next job on
the same model."""

from __future__ import annotations

import contextlib
import hashlib
import os
import threading
import time
from pathlib import Path
from typing import Any

from leakage.audit.plan import Job
from leakage.progress import Progress


class ModelCache:
    """Loaded models by (kind, spec, pretrained); keeps the most recent `size` (a worker's memory).

    The run service's model provider on a worker: one job at a time, so no turns to take."""

    def __init__(self, size: int = 2) -> None:
        self.size = size
        self.models: dict[tuple, Any] = {}
        self.loads = 0
        self.load_seconds: list[float] = []

    def load(self, kind: str, spec: str, pretrained: str | None, device: str | None, progress: Progress | None) -> Any:
        from leakage.catalog import resolve_model

        key = (kind, spec, pretrained, device)
        if key in self.models:
            self.models[key] = self.models.pop(key)  # most recently used last
            return self.models[key]
        started = time.perf_counter()
        model = resolve_model(spec, kind, pretrained=pretrained, device=device, progress=progress)
        self.load_seconds.append(time.perf_counter() - started)
        self.loads += 1
        self.models[key] = model
        while len(self.models) > self.size:
            self.models.pop(next(iter(self.models)))
        return model

    def turn(self, model: Any) -> contextlib.AbstractContextManager:
        return contextlib.nullcontext()


def execute_job(job: Job, models: ModelCache, *, progress: Progress | None = None, cancel: threading.Event | None = None,
                device: str | None = None, batch_size: int | None = None, num_workers: int | None = None,
                options: dict[str, Any] | None = None) -> dict[str, Any]:
    """Run `job` and return its result as a dict (`AttackResult.to_dict()`); raise on failure.

    Nothing is stored here: only the process that runs the plan writes the run store. `options`:
    what shards computed for this job (`leakage.audit.sharding`), which do not change the result.
    """
    from leakage.service import run_attack

    return run_attack(job.request(), models=models, progress=progress, cancel=cancel, device=device, batch_size=batch_size,
                      num_workers=num_workers, precomputed=options).to_dict()


def data_folder(job: Job) -> Path:
    """The folder a job's data spec names (a lab name is built on first use)."""
    from leakage.catalog import data_folder as folder_of

    return folder_of(job.data, default_lab=job.spec().default_data, model=job.request().model_spec())  # `lab`: the model's own, as the run reads


def data_fingerprint(folder: str | Path) -> str:
    """A hash of every file's relative path, size and modification time under `folder`: any file
    added, removed, replaced or edited changes it; reading the images is not needed."""
    folder = Path(folder)
    digest = hashlib.sha256()
    for root, directories, files in os.walk(folder):
        directories.sort()
        for name in sorted(files):
            path = Path(root) / name
            try:
                status = path.stat()
            except OSError:
                continue
            digest.update(f"{path.relative_to(folder).as_posix()}\0{status.st_size}\0{status.st_mtime_ns}\n".encode())
    return digest.hexdigest()[:16]
