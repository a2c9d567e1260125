"""How fast a hostile audit plan is refused: three 100-value lists in a ~1 KB plan (10^6 jobs).

in process: `parse_plan` on the plan, with the attack registry already imported (what a running
            server or a page pays per plan), median of repeats;
CLI, cold:  `python -m leakage audit big.toml --out DIR` in a fresh process, wall time to its
            refusal (imports included: what a user at a terminal waits);
allowed:    the same lists cut to 10 x 10 x 10 = 1,000 jobs (the default limit), parsed and expanded.

    python -m bench.plan_limits
"""

from __future__ import annotations

import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench import format_table, machine_details, write_results


def plan_text(values: int) -> str:
    listed = ", ".join(str(i) for i in range(1, values + 1))
    return (f'[[job]]\nattack = "idia"\nmodel = "lab"\ndata = "lab"\nimages_per_person = [{listed}]\n'
            f'n_draws = [{", ".join(str(i) for i in range(values))}]\nseed = [{listed}]\n')


def main() -> None:
    from leakage.attacks import get_attack
    from leakage.audit.plan import PlanError, parse_plan

    get_attack("idia").config_class  # the registry and the config classes, imported once, as on a server
    hostile = plan_text(100)
    times = []
    for _ in range(20):
        started = time.perf_counter()
        try:
            parse_plan(hostile)
        except PlanError as error:
            message = str(error)
        times.append(time.perf_counter() - started)
    started = time.perf_counter()
    allowed = parse_plan(plan_text(10))
    allowed_seconds = time.perf_counter() - started
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "big.toml"
        path.write_text(hostile)
        started = time.perf_counter()
        process = subprocess.run([sys.executable, "-m", "leakage", "audit", str(path), "--out", str(Path(folder) / "out")],
                                 capture_output=True, text=True, timeout=600)
        cli_seconds = time.perf_counter() - started
    rows = [
        {"case": "10^6-job plan, in process (median of 20)", "bytes": len(hostile), "jobs": "refused", "seconds": statistics.median(times)},
        {"case": "10^6-job plan, CLI in a fresh process", "bytes": len(hostile), "jobs": "refused", "seconds": cli_seconds},
        {"case": "1,000-job plan, parsed and expanded", "bytes": len(plan_text(10)), "jobs": len(allowed.jobs), "seconds": allowed_seconds},
    ]
    print(format_table(rows, ["case", "bytes", "jobs", "seconds"]))
    print(f"refusal: {message}\nCLI exit code {process.returncode}: {process.stderr.strip().splitlines()[-1]}")
    write_results("plan_limits", {"machine": machine_details("cpu"), "rows": rows, "refusal": message,
                                  "cli_exit_code": process.returncode})


if __name__ == "__main__":
    main()
