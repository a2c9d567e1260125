"""Benchmarks: each prints its figures and writes JSON to bench/results/.

Shared plumbing for the performance benches (issue 7): the models and images they use, timing
with warm-up and medians, one fresh subprocess per measurement (so a peak-memory figure belongs
to that measurement alone), and the results file with the machine it came from.
"""

from __future__ import annotations

import contextlib
import importlib
import json
import math
import os
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, Callable, Iterator, Mapping, Sequence

RESULTS_DIR = Path(__file__).resolve().parent / "results"
REPO_ROOT = Path(__file__).resolve().parent.parent
UNTRAINED = "untrained:"
"""Model spec prefix: an open_clip architecture with seeded random weights (same compute as the real one)."""
RESULT_MARKER = "BENCH-RESULT "
"""Prefix of the one stdout line a measurement subprocess answers with (libraries may print too)."""


# ---------------------------------------------------------------- models and images


def load_bench_model(spec: str, device: str | None = None):
    """A LoadedClip for `untrained:ARCH` (seed 0, so its fingerprint and text cache are stable) or anything `resolve_model` takes."""
    if not spec.startswith(UNTRAINED):
        from leakage.catalog import resolve_model

        return resolve_model(spec, "clip", device=device)
    import open_clip
    import torch

    from leakage.devices import pick_device
    from leakage.models import LoadedClip, model_fingerprint

    architecture = spec.removeprefix(UNTRAINED)
    choice = pick_device(device)
    started = time.perf_counter()
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        model, _, preprocess = open_clip.create_model_and_transforms(
            architecture, device=choice.device, precision="fp16" if choice.dtype == "float16" else "fp32"
        )
    model.eval()
    return LoadedClip(
        model=model,
        preprocess=preprocess,
        tokenizer=open_clip.get_tokenizer(architecture),
        device=choice,
        model_name=spec,
        pretrained=None,
        fingerprint=model_fingerprint(model),
        load_seconds=time.perf_counter() - started,
    )


def bench_dataset(data: str, n_images: int):
    """Whole people spread evenly over the dataset's sorted names, enough of them for at least n_images images."""
    from leakage.catalog import resolve_data

    dataset, _ = resolve_data(data)
    names = dataset.names()
    per_person = max(1, dataset.n_images() // max(1, len(names)))
    n_people = min(len(names), max(1, math.ceil(n_images / per_person)))
    step = len(names) / n_people
    return dataset.subset([names[int(i * step)] for i in range(n_people)])


def attack_names(data: str, n_names: int, seed: int = 0) -> list[str]:
    """The IDIA candidate list of the whole dataset (its people plus distractors, shuffled), cut to n_names."""
    from leakage.idia import candidate_names
    from leakage.catalog import resolve_data

    dataset, _ = resolve_data(data)
    return candidate_names(dataset.names(), max(n_names, len(dataset.names())), seed)[:n_names]


def synchronize(device: str) -> None:
    """Wait for queued GPU work, so a timer stops when the work is done, not when it was queued."""
    if device.startswith("cuda"):
        import torch

        torch.cuda.synchronize()


# ---------------------------------------------------------------- timing


def time_repeats(work: Callable[[], Any], repeats: int) -> list[float]:
    """Wall seconds of each of `repeats` calls (warm-up is the caller's: what counts as warm differs per bench)."""
    seconds = []
    for _ in range(repeats):
        started = time.perf_counter()
        work()
        seconds.append(time.perf_counter() - started)
    return seconds


def summarize(seconds: Sequence[float], items: int) -> dict[str, Any]:
    """Median and best of the repeats, as seconds and items per second (best is the steadier figure on a busy machine)."""
    median = statistics.median(seconds)
    best = min(seconds)
    return {
        "items": items,
        "repeats": len(seconds),
        "seconds": [round(s, 4) for s in seconds],
        "median_seconds": round(median, 4),
        "best_seconds": round(best, 4),
        "per_second_median": round(items / median, 3),
        "per_second_best": round(items / best, 3),
    }


# ---------------------------------------------------------------- isolated measurements


@contextlib.contextmanager
def temporary_env(**values: str | None) -> Iterator[None]:
    """Set (or with None remove) environment variables for the block, then restore them."""
    saved = {key: os.environ.get(key) for key in values}
    try:
        for key, value in values.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
        yield
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def current_rss_mb() -> float:
    """Resident memory now (VmRSS), to tell a measurement's own growth from the cost of importing torch."""
    try:
        for line in open("/proc/self/status"):
            if line.startswith("VmRSS:"):
                return round(int(line.split()[1]) / 1024, 1)
    except OSError:
        pass
    return float("nan")


def peak_memory(isolated: bool) -> dict[str, Any]:
    """Peak resident memory of this process and of its largest finished child (DataLoader workers), in MiB.

    ru_maxrss sees what torch allocates outside Python's allocator, which tracemalloc does not.
    """
    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux
    children = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    return {"peak_rss_mb": round(own, 1), "peak_child_rss_mb": round(children, 1), "isolated": isolated}


def measure(module: str, kind: str, params: Mapping[str, Any], *, isolate: bool = True, env: Mapping[str, str] | None = None) -> dict:
    """Run one measurement of `module` (its MEASUREMENTS[kind](**params)) and return its figures plus peak memory.

    Isolated, it runs in a fresh `python -m module --measure ...` so that its peak memory is its
    own; in process (for the smoke test) the peak is this process's so far, flagged isolated=False.
    """
    if not isolate:
        with temporary_env(**dict(env or {})):
            figures = importlib.import_module(module).MEASUREMENTS[kind](**params)
        return {**figures, **peak_memory(isolated=False)}
    request = json.dumps({"kind": kind, "params": dict(params)})
    completed = subprocess.run(
        [sys.executable, "-m", module, "--measure", request],
        cwd=REPO_ROOT,
        env={**os.environ, "TQDM_DISABLE": "1", **dict(env or {})},
        capture_output=True,
        text=True,
    )
    answers = [line for line in completed.stdout.splitlines() if line.startswith(RESULT_MARKER)]
    if completed.returncode != 0 or not answers:
        raise RuntimeError(f"{module} {kind} failed (exit {completed.returncode}):\n{completed.stderr[-3000:]}")
    return json.loads(answers[-1].removeprefix(RESULT_MARKER))


def answer_measurement(measurements: Mapping[str, Callable[..., dict]], request: str) -> None:
    """The subprocess side of `measure`: run the requested measurement and print its figures on one marked line."""
    parsed = json.loads(request)
    figures = measurements[parsed["kind"]](**parsed["params"])
    print(RESULT_MARKER + json.dumps({**figures, **peak_memory(isolated=True)}), flush=True)


# ---------------------------------------------------------------- results


def machine_details(device: str | None = None) -> dict[str, Any]:
    """machine_info() plus the device the benches ran on."""
    from bench.machine import machine_info
    from leakage.devices import pick_device

    choice = pick_device(device)
    return {**machine_info(), "device": choice.device, "dtype": choice.dtype, "device_description": choice.description}


def write_results(name: str, payload: Mapping[str, Any], directory: Path | None = None) -> Path:
    """bench/results/<name>.json (or under `directory`), written whole so a reader never sees half a file."""
    directory = directory or RESULTS_DIR
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"{name}.json"
    temporary = path.with_suffix(".json.tmp")
    temporary.write_text(json.dumps(payload, indent=2, default=str))
    os.replace(temporary, path)
    return path


def format_table(rows: Sequence[Mapping[str, Any]], columns: Sequence[str]) -> str:
    """A plain-text table, numbers right-aligned, for the terminal and the README."""
    cells = [[_cell(row.get(column)) for column in columns] for row in rows]
    widths = [max(len(column), *(len(line[i]) for line in cells)) if cells else len(column) for i, column in enumerate(columns)]
    lines = ["  ".join(column.ljust(width) for column, width in zip(columns, widths))]
    lines.append("  ".join("-" * width for width in widths))
    for line in cells:
        lines.append("  ".join(value.rjust(width) if _numeric(value) else value.ljust(width) for value, width in zip(line, widths)))
    return "\n".join(lines)


def _cell(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.3g}" if abs(value) < 100 else f"{value:.0f}"
    return str(value)


def _numeric(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def lab_vlm_variant_arguments(description: str, out_name: str) -> Any:
    """The flags every lab-VLM-variant bench takes: photos per person, closed-set size, training steps, output."""
    import argparse

    parser = argparse.ArgumentParser(description=description, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--images-per-person", type=int, default=4)
    parser.add_argument("--candidates", type=int, default=100)
    parser.add_argument("--language-steps", type=int, default=None)
    parser.add_argument("--alignment-steps", type=int, default=None)
    parser.add_argument("--out", type=Path, default=RESULTS_DIR / out_name)
    return parser.parse_args()


def lab_vlm_variant(config: Any, args: Any, progress: Any) -> tuple[Any, bool]:
    """The lab VLM variant of `config` with the bench's step overrides, built when missing: (lab, was it built already)."""
    from dataclasses import replace

    from leakage.lab.vlm import ensure_lab_vlm, is_built

    if args.language_steps is not None:
        config = replace(config, language_steps=args.language_steps)
    if args.alignment_steps is not None:
        config = replace(config, alignment_steps=args.alignment_steps)
    was_built = is_built(config)
    return ensure_lab_vlm(config, progress=progress), was_built
