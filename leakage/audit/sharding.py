"""One large IDIA job spread over several Ray workers: its images go through Ray Data
(`map_batches` over image paths, an actor pool whose actors each hold the model), the embeddings
come back to the driver in the images' order, and the attack then runs on them exactly as it
would have on embeddings it computed itself (`run_idia(image_features=...)`).

The shards encode with the same code as a local run (`leakage.idia.embed_images`, embedding cache
included, whose float16 rows are what every run reads), so the result is the same.
"""

from __future__ import annotations

import math
import os
from typing import Any

import numpy as np

from leakage.audit.plan import Job

WAIT_FOR_WORKERS_SECONDS = 600


class EmbedShard:
    """A Ray Data actor: loads the model once, then encodes batches of image paths."""

    def __init__(self, model: str, pretrained: str | None, device: str | None, batch_size: int) -> None:
        from leakage.catalog import resolve_model
        from leakage.idia import RuntimeOptions

        self.clip = resolve_model(model, "clip", pretrained=pretrained, device=device)
        self.runtime = RuntimeOptions(batch_size=batch_size, num_workers=0)

    def __call__(self, batch: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        from leakage.idia import AttackImage, embed_images

        paths = [str(path) for path in batch["path"]]
        images = [AttackImage("", path, path) for path in paths]
        try:
            features, failures, _ = embed_images(self.clip, images, self.runtime)
        except ValueError as error:  # not one image of this batch could be read
            features = np.full((len(images), 1), np.nan, dtype=np.float32)
            failures = {index: str(error) for index in range(len(images))}
        return {"index": batch["index"], "embedding": list(features), "worker": np.full(len(images), os.getpid()),
                "failure": np.array([failures.get(index, "") for index in range(len(images))], dtype=object)}


def shard_image_features(ray: Any, job: Job, workers: int, batch_size: int = 64,
                         device: str | None = None, runtime_env: dict | None = None) -> tuple[np.ndarray, dict[int, str], int]:
    """The job's image embeddings (in `collect_images` order), failures by index, and how many
    workers took part, computed by a pool of `workers` Ray actors."""
    import ray.data

    from leakage.catalog import resolve_data
    from leakage.idia import collect_images

    attack = job.spec()
    dataset, _ = resolve_data(job.data, model=job.model, default_lab=attack.default_data)  # lists files, reads no pixels
    images, _, _ = collect_images(dataset, job.make_config())
    items = [{"index": index, "path": str(image.source)} for index, image in enumerate(images)]
    options: dict[str, Any] = {"num_cpus": job.num_cpus}
    if job.num_gpus:
        options["num_gpus"] = job.num_gpus
    if runtime_env:
        options["runtime_env"] = runtime_env
    # every worker of the pool loads its model before the first block goes out, so that all of them share the work
    # (and a cluster without room for the pool fails clearly instead of running on fewer)
    ray.data.DataContext.get_current().wait_for_min_actors_s = WAIT_FOR_WORKERS_SECONDS
    # enough blocks that every worker gets some, none larger than a batch the worker encodes at once
    blocks = max(workers, min(len(items), max(4 * workers, math.ceil(len(items) / batch_size))))
    rows = (ray.data.from_items(items, override_num_blocks=blocks)
            .map_batches(EmbedShard, fn_constructor_kwargs={"model": job.model, "pretrained": job.pretrained,
                                                             "device": device, "batch_size": batch_size},
                         batch_size=min(batch_size, math.ceil(len(items) / blocks)), batch_format="numpy",
                         compute=ray.data.ActorPoolStrategy(size=workers, max_tasks_in_flight_per_actor=1), **options)
            .take_all())
    width = max(np.asarray(row["embedding"]).shape[-1] for row in rows)
    features = np.full((len(images), width), np.nan, dtype=np.float32)
    failures: dict[int, str] = {}
    for row in rows:
        index = int(row["index"])
        if row["failure"]:
            failures[index] = str(row["failure"])
        else:
            features[index] = row["embedding"]
    if len(failures) == len(images):
        raise ValueError("no image could be read: " + "; ".join(list(failures.values())[:5]))
    return features, failures, len({int(row["worker"]) for row in rows})
