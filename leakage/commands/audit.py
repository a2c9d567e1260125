"""`python -m leakage audit plan.toml --out DIR [--backend local|ray] [--ray-address ADDR]`: run an audit plan."""

from __future__ import annotations

import argparse
import sys
import time


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "audit", help="run an audit plan (many attack runs, TOML) locally or on a Ray cluster",
        description="Run every job of an audit plan, store each run, and write report.html and summary.json into --out. "
                    "A rerun skips the jobs already stored with the same settings and data.")
    parser.add_argument("plan", help="the plan: a TOML file of [[job]] tables (attack, model, data, config fields; "
                                     "a list value expands into a grid)")
    parser.add_argument("--out", required=True, help="folder for report.html and summary.json")
    parser.add_argument("--backend", choices=("local", "ray"), default="local",
                        help="local: in this process (default); ray: on a Ray cluster")
    parser.add_argument("--ray-address", default=None, help="join this Ray cluster (default: $RAY_ADDRESS, else start a "
                                                            "local one)")
    parser.add_argument("--workers", type=int, default=None, help="Ray workers per resource shape (default: as many as fit)")
    parser.add_argument("--retries", type=int, default=2, help="times a job is sent again after its worker died (Ray)")
    parser.add_argument("--device", default=None, help="auto (default), cuda, mps or cpu")
    parser.add_argument("--quiet", action="store_true", help="no progress lines")
    parser.set_defaults(func=run_audit)


def make_backend(args: argparse.Namespace):
    from leakage.audit.backends import LocalBackend, RayBackend

    if args.backend == "ray":
        return RayBackend(address=args.ray_address, workers=args.workers, max_retries=args.retries, device=args.device)
    return LocalBackend(device=args.device)


def run_audit(args: argparse.Namespace) -> int:
    import threading

    from leakage.audit.plan import load_plan
    from leakage.audit.runner import run_plan

    plan = load_plan(args.plan)
    backend = make_backend(args)
    last = {"line": "", "time": 0.0}

    def show(state) -> None:
        if args.quiet:
            return
        counts = str(state.counts())
        if counts != last["line"] or time.monotonic() - last["time"] > 30 or state.finished:
            running = [f"{job.job.name}: {job.stage}" for job in state.jobs if job.status == "running"]
            print(state.line() + "".join(f"\n  {text}" for text in running), file=sys.stderr, flush=True)
            last.update(line=counts, time=time.monotonic())

    cancel = threading.Event()
    print(f"{len(plan.jobs)} jobs on the {backend.name} backend", file=sys.stderr)
    try:
        summary = run_plan(plan, args.out, backend, cancel=cancel, on_update=show)
    except KeyboardInterrupt:
        print("interrupted: finished jobs are stored; run the plan again to resume", file=sys.stderr)
        return 130
    from leakage.attacks import get_attack

    for job in summary["jobs"]:
        spec = get_attack(job["attack"]).primary_spec  # what its attack leads with: AUC, ASR ...
        value = spec.read(job["metrics"])
        shown = f"{spec.name} {spec.show(value)}" if value is not None else ""
        print(f"{job['status']:<9} {job['name']:<50} {shown:<10} {job.get('error') or ''}")
    print(f"report: {args.out}/report.html  summary: {args.out}/summary.json")
    return 1 if summary["counts"]["failed"] else 0
