"""Every performance bench of issue 7, one after another (`make bench`): each prints its table and
writes bench/results/<name>.json with the machine it ran on.

    python -m bench.run_all                 # full sizes: ~15-25 min on a quiet 2-core CPU
    python -m bench.run_all --quick         # small sizes, a few minutes: checks, not figures
    python -m bench.run_all --only text_embeddings vs_clip_benchmark
    python -m bench.run_all --trends        # also the IDIA trends over occurrences (builds a sweep lab)
    python -m bench.run_all --page          # also the dashboard's overhead over Python (needs chromium)

Run it on an otherwise idle machine: with other work on the two cores, the figures (and above
all the pipeline/bare ratio) swing by tens of percent.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from typing import Any, Callable, Sequence

BENCHES = ("idia_pipeline", "text_embeddings", "vs_clip_benchmark")


def _runners(quick: bool, device: str | None, isolate: bool) -> dict[str, Callable[[], Any]]:
    from bench import idia_pipeline, text_embeddings, vs_clip_benchmark

    if quick:
        return {
            "idia_pipeline": lambda: idia_pipeline.run(n_images=128, repeats=2, device=device, isolate=isolate),
            "text_embeddings": lambda: text_embeddings.run(n_names=1000, cold_names=50, trim_names=10, repeats=2, device=device, isolate=isolate),
            "vs_clip_benchmark": lambda: vs_clip_benchmark.run(models=("lab",), n_images=256, repeats=2, device=device, isolate=isolate),
        }
    return {
        "idia_pipeline": lambda: idia_pipeline.run(device=device, isolate=isolate),
        "text_embeddings": lambda: text_embeddings.run(device=device, isolate=isolate),
        "vs_clip_benchmark": lambda: vs_clip_benchmark.run(device=device, isolate=isolate),
    }


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--only", nargs="+", choices=BENCHES, default=list(BENCHES))
    parser.add_argument("--quick", action="store_true", help="small sizes: checks that everything runs, figures not for the README")
    parser.add_argument("--device", default=None, help="auto (default), cpu, cuda, cuda:N")
    parser.add_argument("--in-process", action="store_true", help="no subprocess per measurement (memory figures then not isolated)")
    parser.add_argument("--trends", action="store_true", help="also python -m bench.idia_trends")
    parser.add_argument("--page", action="store_true", help="also python -m bench.page_overhead (drives Debian's chromium)")
    args = parser.parse_args(argv)
    runners = _runners(args.quick, args.device, not args.in_process)
    for name in args.only:
        print(f"\n=== {name} ===", flush=True)
        started = time.perf_counter()
        runners[name]()
        print(f"({name}: {time.perf_counter() - started:.0f} s)", flush=True)
    if args.page:
        print("\n=== page_overhead ===", flush=True)
        subprocess.run([sys.executable, "-m", "bench.page_overhead"], check=True)
    if args.trends:
        print("\n=== idia_trends ===", flush=True)
        subprocess.run([sys.executable, "-m", "bench.idia_trends"], check=True)


if __name__ == "__main__":
    main(sys.argv[1:])
