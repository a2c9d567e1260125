"""One large job spread over several Ray workers, for any attack that declares how (`Attack.shard`,
a `leakage.attacks.base.Sharding`): the driver reads the job's data and splits the heavy step into
units (the IDIA: its images; the VLM probe: its photos); Ray Data sends them through an actor
pool whose actors each hold the model (`map_batches`); the outputs come back to the driver in the
units' order, and the attack's `join` turns them into what the job's run then reads instead of
computing it (`RunContext.options`).

The workers compute with the same code as a whole run, so the result is the run's own (the
tests compare them on a real local Ray cluster).
"""

from __future__ import annotations

import math
import os
import pickle
from typing import Any

import numpy as np

from leakage.audit.plan import Job

WAIT_FOR_WORKERS_SECONDS = 600


class ShardWorker:
    """A Ray Data actor: loads the job's model once (through the run service's provider), then
    works through batches of units with the attack's `Sharding.work`."""

    def __init__(self, job: dict[str, Any], device: str | None, batch_size: int) -> None:
        from leakage.context import RunContext
        from leakage.service import PlainModels

        job_ = Job.from_dict(job)
        attack = job_.spec()
        self.sharding = attack.sharding
        self.config = job_.make_config()
        self.model = PlainModels().load(attack.model_kind, job_.model, job_.pretrained, device, None)
        self.context = RunContext(device=device, batch_size=batch_size, num_workers=0)

    def __call__(self, batch: dict[str, np.ndarray]) -> dict[str, Any]:
        units = [pickle.loads(blob) for blob in batch["unit"]]
        outputs = np.empty(len(units), dtype=object)
        outputs[:] = [pickle.dumps(output) for output in self.sharding.work(self.model, units, self.config, self.context)]
        return {"index": batch["index"], "output": outputs, "worker": np.full(len(units), os.getpid())}


def shard_job(ray: Any, job: Job, workers: int, batch_size: int = 64, device: str | None = None,
              runtime_env: dict | None = None) -> tuple[dict[str, Any], dict[str, int]]:
    """Compute the sharded step of `job` on a pool of `workers` Ray actors: (what the job's run
    reads, in `RunContext.options`; the record of the shards: workers that took part, units)."""
    import ray.data

    from leakage.context import RunContext
    from leakage.service import check_request, read_data

    request = job.request()
    attack = check_request(request)
    sharding = attack.sharding
    config = request.make_config(attack)
    data, data_id = read_data(request, attack)  # lists files; the units say what the workers read
    context = RunContext(dataset_id=data_id, device=device, batch_size=batch_size, num_workers=0)
    units = sharding.split(data, config, context)
    if not units:
        raise ValueError("nothing to spread over the workers: the data hold no units")
    items = [{"index": index, "unit": pickle.dumps(unit)} for index, unit in enumerate(units)]
    options: dict[str, Any] = {"num_cpus": job.num_cpus}
    if job.num_gpus:
        options["num_gpus"] = job.num_gpus
    if runtime_env:
        options["runtime_env"] = runtime_env
    # every worker of the pool loads its model before the first block goes out, so that all of them share the work
    # (and a cluster without room for the pool fails clearly instead of running on fewer)
    ray.data.DataContext.get_current().wait_for_min_actors_s = WAIT_FOR_WORKERS_SECONDS
    per_call = sharding.units_per_call or batch_size
    # enough blocks that every worker gets some, none larger than what a worker takes at once
    blocks = max(workers, min(len(items), max(4 * workers, math.ceil(len(items) / per_call))))
    rows = (ray.data.from_items(items, override_num_blocks=blocks)
            .map_batches(ShardWorker, fn_constructor_kwargs={"job": job.to_dict(), "device": device, "batch_size": batch_size},
                         batch_size=min(per_call, math.ceil(len(items) / blocks)), batch_format="numpy",
                         compute=ray.data.ActorPoolStrategy(size=workers, max_tasks_in_flight_per_actor=1), **options)
            .take_all())
    outputs: list[Any] = [None] * len(units)
    for row in rows:
        outputs[int(row["index"])] = pickle.loads(row["output"])
    joined = sharding.join(units, outputs, data, config, context)
    return joined, {"workers": len({int(row["worker"]) for row in rows}), sharding.unit: len(units)}
