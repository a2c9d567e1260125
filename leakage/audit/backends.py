"""Where the jobs of a plan run: in this process (`LocalBackend`), or on a Ray cluster
(`RayBackend`), local or remote. Both run each job with `leakage.audit.worker.execute_job` and
hand its result, as plain data, to the runner, which alone writes the run store.

A backend reports through `Events`: started, progress, finished (with the result), failed (with
the error), retrying. It checks `cancel` between jobs and passes it to running attacks, which
stop after the current batch.
"""

from __future__ import annotations

import collections
import os
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Protocol

from leakage.audit.plan import Job
from leakage.audit.worker import ModelCache, execute_job
from leakage.results import RunCancelled


class Events(Protocol):
    def started(self, index: int, worker: str) -> None: ...
    def progress(self, index: int, stage: str, done: int, total: int) -> None: ...
    def finished(self, index: int, result: dict[str, Any]) -> None: ...
    def failed(self, index: int, error: str, cancelled: bool = False) -> None: ...
    def retrying(self, index: int, attempt: int, reason: str) -> None: ...
    def worker(self, index: int, worker: str) -> None: ...


def describe_error(error: BaseException) -> str:
    return f"{type(error).__name__}: {error}"


class LocalBackend:
    """One job after the other in this process; a model stays loaded for the next job on it."""

    name = "local"

    def __init__(self, device: str | None = None, batch_size: int | None = None, num_workers: int | None = None) -> None:
        self.models = ModelCache()
        self.options = {"device": device, "batch_size": batch_size, "num_workers": num_workers}

    @property
    def parallelism(self) -> int:
        return 1

    def run(self, jobs: Sequence[tuple[int, Job]], events: Events, cancel: threading.Event) -> None:
        for index, job in sorted(jobs, key=lambda item: (item[1].model_key, item[0])):
            if cancel.is_set():
                events.failed(index, "cancelled before it started", cancelled=True)
                continue
            events.started(index, f"local pid {os.getpid()}")
            try:
                result = execute_job(job, self.models, progress=lambda s, d, t, i=index: events.progress(i, s, d, t),
                                     cancel=cancel, **self.options)
            except RunCancelled as error:
                events.failed(index, str(error), cancelled=True)
            except Exception as error:  # one job failing for good must not stop the others
                events.failed(index, describe_error(error))
            else:
                events.finished(index, result)


# --------------------------------------------------------------------------- Ray


class JobActor:
    """A Ray worker: runs jobs one at a time and keeps their models loaded.

    Threaded (max_concurrency 2) so that the driver can ask for progress or cancel while a job runs.
    """

    def __init__(self, options: dict[str, Any]) -> None:
        self.models = ModelCache()
        self.options = options
        self.cancel_flag = threading.Event()
        self.state: dict[str, Any] = {"stage": "idle", "done": 0, "total": 0}

    def pid(self) -> str:
        import socket

        return f"{socket.gethostname()} pid {os.getpid()}"

    def run(self, job: dict[str, Any], options: dict[str, Any] | None = None) -> dict[str, Any]:
        self.cancel_flag.clear()
        self.state = {"stage": "starting", "done": 0, "total": 0}

        def progress(stage: str, done: int, total: int) -> None:
            self.state = {"stage": stage, "done": done, "total": total}

        try:
            return execute_job(Job.from_dict(job), self.models, progress=progress, cancel=self.cancel_flag, options=options,
                               **self.options)
        finally:
            self.state = {"stage": "idle", "done": 0, "total": 0}

    def progress(self) -> dict[str, Any]:
        return dict(self.state)

    def cancel(self) -> None:
        self.cancel_flag.set()

    def model_load_seconds(self) -> list[float]:
        return list(self.models.load_seconds)


FORWARDED_ENV = ("LEAKAGE_HOME", "LEAKAGE_LAB_DIR", "LEAKAGE_LAB_MAE_DIR", "LEAKAGE_LAB_VLM_DIR", "OMP_WAIT_POLICY")
"""Where the lab and the caches are: a worker on this machine must see the driver's."""


class _Connection:
    """The process's Ray connection: which cluster, made here or not, and how many backends use it."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.users = 0
        self.started = False
        self.address: str | None = None


_CONNECTION = _Connection()


class _Slot:
    def __init__(self, handle: Any, shape: tuple[float, float]) -> None:
        self.handle = handle
        self.shape = shape
        self.worker = "starting"
        self.pid_ref: Any = handle.pid.remote()
        self.loaded: tuple | None = None
        self.ref: Any = None
        self.index: int | None = None
        self.deaths = 0


class RayBackend:
    """Jobs as calls on a pool of Ray actors, each holding its models across jobs.

    `address` (or `$RAY_ADDRESS`) joins a running cluster; without one, `ray.init()` starts a local
    cluster (and shuts it down after the plan). The actors ask for each job's `num_cpus` and
    `num_gpus` (fractions allowed): jobs with different requests get different actors. A worker
    killed mid-job (its actor dies) is restarted by Ray (`max_restarts`) and the job is sent
    again, up to `max_retries` times; an error raised by the attack itself is final at once.
    """

    name = "ray"

    def __init__(self, address: str | None = None, workers: int | None = None, max_retries: int = 2,
                 num_cpus: int | None = None, forward_env: bool | None = None, device: str | None = None,
                 batch_size: int | None = None, num_workers: int | None = 0) -> None:
        address = address or os.environ.get("RAY_ADDRESS") or None
        self.address = None if address == "local" else address  # "local": a cluster started on this machine
        self.workers = workers
        self.max_retries = max_retries
        self.num_cpus = num_cpus
        self.forward_env = (self.address is None) if forward_env is None else forward_env
        # no DataLoader worker processes inside an actor: the actor is the unit of parallelism
        self.options = {"device": device, "batch_size": batch_size, "num_workers": num_workers}
        self.started_cluster = False
        self.actors_started = 0
        self.workers_started = 0
        self.model_load_seconds: list[float] = []

    @property
    def parallelism(self) -> int:
        return max(1, self.workers or 1)

    def connect(self) -> Any:
        """This process's one Ray connection: made by the first backend that needs it, shared by every
        other (several page sessions, audits), and closed by the last one done with it."""
        import ray

        with _CONNECTION.lock:
            if ray.is_initialized():
                if _CONNECTION.users and (_CONNECTION.address or None) != self.address:
                    raise RuntimeError(f"this process is connected to the Ray cluster {_CONNECTION.address or 'on this machine'}; "
                                       "one Ray connection per process: run against that cluster, or after its runs end")
            else:
                ray.init(address=self.address, num_cpus=None if self.address else self.num_cpus,
                         include_dashboard=False, log_to_driver=False, ignore_reinit_error=True)
                _CONNECTION.started = True
                _CONNECTION.address = self.address
            if not self.started_cluster:
                _CONNECTION.users += 1
                self.started_cluster = True  # this backend holds the connection until shutdown()
        return ray

    def shutdown(self) -> None:
        with _CONNECTION.lock:
            if not self.started_cluster:
                return
            self.started_cluster = False
            _CONNECTION.users -= 1
            if _CONNECTION.users == 0 and _CONNECTION.started:  # only a connection this code made
                import ray

                ray.shutdown()
                _CONNECTION.started = False
                _CONNECTION.address = None

    def runtime_env(self) -> dict[str, Any]:
        from leakage.paths import ROOTS_ENV

        # The server's roots travel with its jobs to every cluster: a worker reads only what the server may.
        variables = {name: os.environ[name] for name in ROOTS_ENV.values() if os.environ.get(name)}
        if self.forward_env:
            source = str(Path(__file__).resolve().parents[2])
            variables.update({name: os.environ[name] for name in FORWARDED_ENV if name in os.environ})
            variables["PYTHONPATH"] = os.pathsep.join(filter(None, [source, os.environ.get("PYTHONPATH")]))
        return {"env_vars": variables} if variables else {}

    def pool_size(self, ray: Any, shape: tuple[float, float], n_jobs: int) -> int:
        if self.workers:
            return max(1, min(self.workers, n_jobs))
        resources = ray.cluster_resources()
        cpus, gpus = shape
        fits = int(resources.get("CPU", 1) // cpus) if cpus else n_jobs
        if gpus:
            fits = min(fits, int(resources.get("GPU", 0) // gpus))
        return max(1, min(fits, n_jobs))

    def start_actor(self, ray: Any, shape: tuple[float, float]) -> _Slot:
        cpus, gpus = shape
        actor_class = ray.remote(JobActor)
        handle = actor_class.options(num_cpus=cpus, num_gpus=gpus, max_restarts=self.max_retries, max_task_retries=0,
                                     max_concurrency=2, runtime_env=self.runtime_env() or None).remote(self.options)
        self.actors_started += 1
        return _Slot(handle, shape)

    def run(self, jobs: Sequence[tuple[int, Job]], events: Events, cancel: threading.Event) -> None:
        ray = self.connect()
        from ray.exceptions import RayActorError, RayTaskError, WorkerCrashedError

        sharded = [(index, job) for index, job in jobs if job.shards > 1 and job.spec().shardable]
        for index, job in sharded:  # first, while the whole cluster is free for their shards
            if cancel.is_set():
                events.failed(index, "cancelled before it started", cancelled=True)
            else:
                self._run_sharded(ray, index, job, events)
        jobs = [(index, job) for index, job in jobs if (index, job) not in sharded]
        by_index = dict(jobs)
        pending: dict[tuple, collections.deque[int]] = collections.defaultdict(collections.deque)
        for index, job in sorted(jobs, key=lambda item: (item[1].model_key, item[0])):
            pending[(job.num_cpus, job.num_gpus)].append(index)
        slots = [self.start_actor(ray, shape) for shape, queue in pending.items()
                 for _ in range(self.pool_size(ray, shape, len(queue)))]
        self.workers_started = len(slots)
        attempts: collections.Counter[int] = collections.Counter()
        # Workers on this machine share one embedding cache: the first job on a model and data set
        # encodes its images, and the other jobs on them wait for it and read them back, instead of
        # every worker encoding the same images at once (which made 2 workers slower than 1 here).
        warming: dict[tuple, int] = {}
        warm: set[tuple] = set()

        def group(index: int) -> tuple:
            return (by_index[index].model_key, by_index[index].data)

        def may_start(index: int) -> bool:
            return not self.forward_env or group(index) in warm or warming.get(group(index), index) == index

        cancelled = False
        last_poll = 0.0
        try:
            while any(pending.values()) or any(slot.ref is not None for slot in slots):
                if cancel.is_set() and not cancelled:
                    cancelled = True
                    for queue in pending.values():
                        while queue:
                            events.failed(queue.popleft(), "cancelled before it started", cancelled=True)
                    for slot in slots:
                        if slot.ref is not None:
                            slot.handle.cancel.remote()
                for slot in slots:
                    self._read_worker_name(ray, slot)
                    # a restarting actor refuses calls: wait until it answers pid() again
                    if slot.ref is None and slot.pid_ref is None and pending[slot.shape]:
                        index = self._next(pending[slot.shape], by_index, slot.loaded, may_start)
                        if index is None:
                            continue
                        warming.setdefault(group(index), index)
                        slot.index, slot.loaded = index, by_index[index].model_key
                        slot.ref = slot.handle.run.remote(by_index[index].to_dict())
                        attempts[index] += 1
                        events.started(index, slot.worker)
                busy = [slot.ref for slot in slots if slot.ref is not None]
                if not busy and all(slot.pid_ref is None for slot in slots) and any(pending.values()):
                    warm.update(group(index) for queue in pending.values() for index in queue)  # never wait on nothing
                if busy:
                    ready, _ = ray.wait(busy, num_returns=len(busy), timeout=0.5)
                else:  # every worker is starting or restarting
                    ready = []
                    starting = [slot.pid_ref for slot in slots if slot.pid_ref is not None]
                    ray.wait(starting, num_returns=1, timeout=0.5) if starting else time.sleep(0.1)
                ready_ids = {ref.hex() for ref in ready}
                for slot in slots:
                    if self._read_worker_name(ray, slot) and slot.index is not None:
                        events.worker(slot.index, slot.worker)
                    if slot.ref is None or slot.ref.hex() not in ready_ids:
                        continue
                    index, ref = slot.index, slot.ref
                    slot.ref = slot.index = None
                    try:
                        result = ray.get(ref)
                        warm.add(group(index))
                    except (RayActorError, WorkerCrashedError) as error:
                        # the worker died (killed, out of memory, node lost): Ray restarts the actor;
                        # its models are gone, and the job goes back to the front of the queue
                        slot.loaded = None
                        slot.pid_ref = slot.handle.pid.remote()
                        slot.worker = "restarting"
                        if cancelled:
                            events.failed(index, "cancelled", cancelled=True)
                        elif attempts[index] <= self.max_retries:
                            events.retrying(index, attempts[index] + 1, describe_error(error).splitlines()[0])
                            pending[slot.shape].appendleft(index)
                        else:
                            warm.add(group(index))  # given up: the jobs waiting for it start without it
                            events.failed(index, f"the worker died {attempts[index]} times: " + describe_error(error).splitlines()[0])
                        slot.deaths += 1
                        if slot.deaths > self.max_retries:  # Ray's restarts of this actor are spent
                            ray.kill(slot.handle, no_restart=True)
                            slots[slots.index(slot)] = self.start_actor(ray, slot.shape)
                    except RayTaskError as error:
                        warm.add(group(index))  # failed for good: the others need not wait for it
                        cause = getattr(error, "cause", None)
                        if isinstance(cause, RunCancelled):
                            events.failed(index, str(cause), cancelled=True)
                        else:
                            events.failed(index, describe_error(cause) if cause is not None else str(error).splitlines()[-1])
                    else:
                        events.finished(index, result)
                if time.monotonic() - last_poll > 1.0:
                    last_poll = time.monotonic()
                    self._poll_progress(ray, slots, events)
        finally:
            self.model_load_seconds = self._load_times(ray, slots)
            for slot in slots:
                ray.kill(slot.handle, no_restart=True)
            self.shutdown()

    def _run_sharded(self, ray: Any, index: int, job: Job, events: Events) -> None:
        """The job's sharded step (its attack's `Sharding`) on `job.shards` Ray Data actors, then the
        attack on one worker with what they computed."""
        from ray.exceptions import RayTaskError

        from leakage.audit.sharding import shard_job

        events.started(index, f"{job.shards} Ray Data workers")
        events.progress(index, f"spread over {job.shards} workers", 0, 0)
        slot = None
        try:
            computed, shards = shard_job(ray, job, job.shards, batch_size=self.options.get("batch_size") or 64,
                                         device=self.options.get("device"), runtime_env=self.runtime_env() or None)
            events.progress(index, "scoring", 0, 0)
            slot = self.start_actor(ray, (job.num_cpus, job.num_gpus))
            result = ray.get(slot.handle.run.remote(job.to_dict(), computed))
            result["details"]["shards"] = shards
        except RayTaskError as error:
            cause = getattr(error, "cause", None)
            events.failed(index, describe_error(cause) if cause is not None else str(error).splitlines()[-1],
                          cancelled=isinstance(cause, RunCancelled))
        except Exception as error:
            events.failed(index, describe_error(error))
        else:
            events.finished(index, result)
        finally:
            if slot is not None:
                ray.kill(slot.handle, no_restart=True)

    @staticmethod
    def _load_times(ray: Any, slots: list[_Slot]) -> list[float]:
        """Seconds each worker spent loading models (for the scaling bench); [] from a worker that is gone."""
        refs = [slot.handle.model_load_seconds.remote() for slot in slots]
        ready, _ = ray.wait(refs, num_returns=len(refs), timeout=5)
        times: list[float] = []
        for ref in ready:
            try:
                times += ray.get(ref)
            except Exception:
                continue
        return times

    @staticmethod
    def _read_worker_name(ray: Any, slot: _Slot) -> bool:
        """Whether the worker's name (host and pid) just became known."""
        from ray.exceptions import RayActorError, WorkerCrashedError

        if slot.pid_ref is None or not ray.wait([slot.pid_ref], timeout=0)[0]:
            return False
        try:
            slot.worker = ray.get(slot.pid_ref)
        except (RayActorError, WorkerCrashedError):
            slot.worker = "restarting"
            slot.pid_ref = slot.handle.pid.remote()
            return False
        slot.pid_ref = None
        return True

    @staticmethod
    def _poll_progress(ray: Any, slots: list[_Slot], events: Events) -> None:
        """Each busy worker's stage and count, asked without waiting on a worker that is not answering."""
        asked = [(slot, slot.index, slot.handle.progress.remote()) for slot in slots if slot.ref is not None]
        if not asked:
            return
        ready, _ = ray.wait([ref for _, _, ref in asked], num_returns=len(asked), timeout=0.5)
        ready_ids = {ref.hex() for ref in ready}
        for slot, index, ref in asked:
            if ref.hex() in ready_ids and slot.index == index:
                try:
                    state = ray.get(ref)
                except Exception:
                    continue
                events.progress(index, state["stage"], state["done"], state["total"])

    @staticmethod
    def _next(queue: collections.deque[int], by_index: dict[int, Job], loaded: tuple | None,
              may_start: Any = lambda index: True) -> int | None:
        """The next job for a worker among those that may start: one on the model it holds, if any
        is waiting, else the first; None when none may start yet."""
        allowed = [index for index in queue if may_start(index)]
        if not allowed:
            return None
        chosen = next((index for index in allowed if by_index[index].model_key == loaded), allowed[0])
        queue.remove(chosen)
        return chosen
