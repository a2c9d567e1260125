"""Batch audits: a plan of 8 lab IDIA jobs on the local backend and on a local Ray cluster with 1
and 2 workers; Ray's fixed costs (cluster start, worker start, model load, one call's round trip);
and a PROJECTION of a 1,000,000-image IDIA audit with ViT-B-32 on N workers from the measured
per-image cost and the measured Ray overhead.

Each backend run gets a fresh data home (empty run store and caches; the lab is shared), so every
run encodes its images once, then the later jobs of the plan read them from the embedding cache.

    python -m bench.audit_scaling
    python -m bench.audit_scaling --per-image-seconds 0.0004   # a GPU's measured cost instead of this CPU's
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path
from typing import Any

from bench import bench_dataset, format_table, load_bench_model, machine_details, temporary_env, write_results

PLAN = """
[[job]]
attack = "idia"
model = "lab"
data = "lab"
images_per_person = [2, 3]
seed = [0, 1, 2, 3]
n_candidates = 100
n_draws = 0
"""


def run_backend(backend: Any, home: Path) -> dict[str, Any]:
    from leakage.audit.plan import parse_plan
    from leakage.audit.runner import run_plan

    with temporary_env(LEAKAGE_HOME=str(home)):
        started = time.perf_counter()
        summary = run_plan(parse_plan(PLAN, source="audit_scaling"), home / "out", backend)
        wall = time.perf_counter() - started
    assert summary["counts"]["done"] == 8, summary["counts"]
    job_seconds = [job["seconds"] for job in summary["jobs"]]
    return {"wall_seconds": round(wall, 2), "job_seconds_sum": round(sum(job_seconds), 2),
            "aucs": [job["metrics"]["auc"] for job in summary["jobs"]],
            "config_hashes": [job["config_hash"] for job in summary["jobs"]]}


def ray_fixed_costs(ray: Any, backend: Any) -> dict[str, Any]:
    """Worker start (a new process that imports the engine) and the round trip of one small call."""
    from leakage.audit.backends import JobActor

    actor_class = ray.remote(JobActor)
    started = time.perf_counter()
    actor = actor_class.options(num_cpus=1, max_concurrency=2, runtime_env=backend.runtime_env() or None).remote({})
    ray.get(actor.pid.remote())
    worker_start = time.perf_counter() - started
    ray.get(actor.progress.remote())
    rounds = 50
    started = time.perf_counter()
    for _ in range(rounds):
        ray.get(actor.progress.remote())
    round_trip = (time.perf_counter() - started) / rounds
    ray.kill(actor)
    return {"worker_start_seconds": round(worker_start, 2), "call_round_trip_ms": round(1000 * round_trip, 2)}


def per_image_cost(model_spec: str, n_images: int, batch_size: int) -> dict[str, Any]:
    """Decode + preprocess + encode per image (the IDIA's image side, no cache), in this process."""
    from leakage.context import RunContext
    from leakage.idia import AttackImage, embed_images

    model = load_bench_model(model_spec)
    dataset = bench_dataset("lab", n_images)
    images = [AttackImage(person, str(record.path), str(record.path)) for person, records in dataset.people.items() for record in records][:n_images]
    runtime = RunContext(batch_size=batch_size, num_workers=0, use_image_cache=False)
    embed_images(model, images[:batch_size], runtime)  # warm-up
    started = time.perf_counter()
    embed_images(model, images, runtime)
    seconds = time.perf_counter() - started
    return {"model": model_spec, "images": len(images), "seconds": round(seconds, 3),
            "per_image_seconds": seconds / len(images), "device": model.device.description}


def projection(per_image: float, fixed: dict[str, float], images: int, workers: int, batch: int) -> dict[str, Any]:
    """Wall time of `images` images on `workers` workers: fixed start-up, then the images shared evenly,
    each batch of them one Ray call (round trip) on its worker."""
    startup = fixed["cluster_start_seconds"] + fixed["worker_start_seconds"] + fixed["model_load_seconds"]
    compute = images * per_image / workers
    calls = images / batch / workers * fixed["call_round_trip_ms"] / 1000
    return {"workers": workers, "startup_seconds": round(startup, 1), "compute_seconds": round(compute, 1),
            "scheduling_seconds": round(calls, 1), "total_hours": round((startup + compute + calls) / 3600, 3)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--projection-model", default="untrained:ViT-B-32",
                        help="the model whose per-image cost is measured (untrained weights cost the same as trained)")
    parser.add_argument("--projection-images", type=int, default=256)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--per-image-seconds", type=float, default=None,
                        help="use this per-image cost (e.g. measured on a GPU) instead of measuring here")
    args = parser.parse_args(argv)

    import ray

    from leakage.audit.backends import LocalBackend, RayBackend
    from leakage.lab.build import ensure_lab

    lab = ensure_lab()
    results: dict[str, Any] = {"machine": machine_details(), "plan": PLAN.strip(), "backends": {}}
    with tempfile.TemporaryDirectory() as scratch, temporary_env(LEAKAGE_LAB_DIR=str(lab.root)):
        scratch_path = Path(scratch)
        results["backends"]["local"] = run_backend(LocalBackend(), scratch_path / "local")
        started = time.perf_counter()
        ray.init(num_cpus=os.cpu_count(), include_dashboard=False, log_to_driver=False)
        cluster_start = time.perf_counter() - started
        try:
            load_times = []
            for workers in (1, 2):
                backend = RayBackend(workers=workers)
                with temporary_env(LEAKAGE_HOME=str(scratch_path / f"ray{workers}")):
                    results["backends"][f"ray, {workers} worker{'s' if workers > 1 else ''}"] = run_backend(
                        backend, scratch_path / f"ray{workers}")
                load_times += backend.model_load_seconds
            with temporary_env(LEAKAGE_HOME=str(scratch_path / "fixed")):
                fixed = ray_fixed_costs(ray, RayBackend())
        finally:
            ray.shutdown()
    fixed.update(cluster_start_seconds=round(cluster_start, 2),
                 model_load_seconds=round(sum(load_times) / max(1, len(load_times)), 2))
    local = results["backends"]["local"]
    for name, run in results["backends"].items():
        run["same_results_as_local"] = run["aucs"] == local["aucs"] and run["config_hashes"] == local["config_hashes"]
        if name != "local":
            # what Ray adds per job on one worker, beyond the same jobs run in-process
            run["overhead_per_job_seconds_vs_local"] = round((run["wall_seconds"] - local["wall_seconds"]) / 8, 2)
    results["ray_fixed_costs"] = fixed

    if args.per_image_seconds:
        cost = {"model": args.projection_model, "per_image_seconds": args.per_image_seconds, "source": "given"}
    else:
        cost = {**per_image_cost(args.projection_model, args.projection_images, args.batch_size), "source": "measured here"}
    results["per_image_cost"] = cost
    results["projection"] = {
        "label": "PROJECTION, not a measurement: 1,000,000 images, IDIA image side with "
                 f"{args.projection_model.removeprefix('untrained:')}, per-image cost {cost['source']} on "
                 f"{cost.get('device', 'the given device')}, Ray overhead measured here",
        "rows": [projection(cost["per_image_seconds"], fixed, 1_000_000, workers, args.batch_size) for workers in (1, 4, 8, 32)],
    }

    rows = [{"backend": name, "wall s": run["wall_seconds"], "sum of job s": run["job_seconds_sum"],
             "overhead/job s": run.get("overhead_per_job_seconds_vs_local"), "same results": run["same_results_as_local"]}
            for name, run in results["backends"].items()]
    print(f"8 lab IDIA jobs (4,000 images each, 100 names, draws 0) on {results['machine']['cpu']}, "
          f"{results['machine']['cores']} cores")
    print(format_table(rows, ["backend", "wall s", "sum of job s", "overhead/job s", "same results"]))
    print("\nRay fixed costs: " + ", ".join(f"{key} {value}" for key, value in fixed.items()))
    print(f"\nper-image cost ({cost['model']}, {cost['source']}): {1000 * cost['per_image_seconds']:.2f} ms")
    print("\n" + results["projection"]["label"])
    print(format_table(results["projection"]["rows"], ["workers", "startup_seconds", "compute_seconds", "scheduling_seconds",
                                                       "total_hours"]))
    print(f"\nwritten to {write_results('audit_scaling', results)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
