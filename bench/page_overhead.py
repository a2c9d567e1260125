"""What running an attack from the dashboard costs over running it from Python.

The home page's one-click lab demo (IDIA on the lab CLIP, 10 images per person, 1,000 names) is
run in a real `streamlit run` server driven by Debian's chromium, from the click to the result
on screen, with cold caches each time; the same work in a plain Python process is the
reference. Pages run attacks in a background thread and redraw a progress panel every second or
so: each redraw is a Streamlit script run, and Streamlit collects garbage after every script
run (`runner.postScriptGC`), a full collection that holds the GIL for a long time once torch and
a model are loaded. The bench measures the page with that setting on and off.

    python -m bench.page_overhead                  # 2 repeats of each (about 3 minutes)
    python -m bench.page_overhead --repeats 3
"""

from __future__ import annotations

import argparse
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any, Sequence

from bench import REPO_ROOT, answer_measurement, format_table, machine_details, measure, write_results

MODULE = "bench.page_overhead"
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
IMAGES_PER_PERSON = 10  # the home page's demo


def measure_python() -> dict[str, Any]:
    """The demo's work in this process: load the lab CLIP, scan the lab, run the IDIA (cold caches)."""
    started = time.perf_counter()
    from leakage.context import RunContext
    from leakage.idia import IDIAConfig, run_idia
    from leakage.catalog import resolve_data, resolve_model

    imported = time.perf_counter()
    clip = resolve_model("lab", "clip")
    dataset, dataset_id = resolve_data("lab")
    result = run_idia(clip, dataset, IDIAConfig(images_per_person=IMAGES_PER_PERSON), RunContext(dataset_id=dataset_id))
    return {
        "seconds": round(time.perf_counter() - imported, 2),
        "import_seconds": round(imported - started, 2),
        "auc": result.metrics["auc"],
    }


MEASUREMENTS = {"python": measure_python}


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process so far (its threads included)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _wait_until_healthy(url: str, server: subprocess.Popen, seconds: float = 120) -> None:
    deadline = time.monotonic() + seconds
    while server.poll() is None and time.monotonic() < deadline:
        try:
            if urllib.request.urlopen(f"{url}/_stcore/health", timeout=2).read() == b"ok":
                return
        except OSError:
            time.sleep(0.5)
    raise RuntimeError(f"the Streamlit server at {url} did not become healthy (exit code {server.poll()})")


def measure_page(lab_dir: str, post_script_gc: bool) -> dict[str, Any]:
    """Click "Run the lab demo" on a fresh server and wait for the result; cold caches."""
    from playwright.sync_api import sync_playwright

    home = Path(tempfile.mkdtemp(prefix="bench-page-home-"))
    port = _free_port()
    env = {**os.environ, "LEAKAGE_HOME": str(home), "LEAKAGE_LAB_DIR": lab_dir}
    env.pop("LEAKAGE_DB_URL", None)
    server = subprocess.Popen(
        [sys.executable, "-m", "streamlit", "run", "app.py", "--server.port", str(port), "--server.headless", "true",
         "--runner.postScriptGC", str(post_script_gc).lower()],
        cwd=REPO_ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    try:
        url = f"http://127.0.0.1:{port}"
        _wait_until_healthy(url, server)
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=["--no-sandbox"])
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            page.set_default_timeout(600_000)
            page.goto(url)
            page.get_by_role("button", name="Run the lab demo").wait_for()
            page.wait_for_function("() => document.querySelector(\"[data-testid='stApp']\")?.dataset.testScriptState === 'notRunning'")
            cpu_before = _cpu_seconds(server.pid)
            started = time.perf_counter()
            page.get_by_role("button", name="Run the lab demo").click()
            page.get_by_text("The attack found").wait_for()
            seconds = time.perf_counter() - started
            cpu = _cpu_seconds(server.pid) - cpu_before
            browser.close()
        return {"seconds": round(seconds, 2), "server_cpu_seconds": round(cpu, 2)}
    finally:
        server.terminate()
        try:
            server.wait(timeout=20)
        except subprocess.TimeoutExpired:
            server.kill()
        shutil.rmtree(home, ignore_errors=True)


def run(repeats: int = 2, results_dir: Path | None = None) -> dict[str, Any]:
    from leakage.lab.build import ensure_lab

    lab_dir = str(ensure_lab().root)  # built here, not inside a timed run
    cases = {"python": [], "page, postScriptGC on (Streamlit's default)": [], "page, postScriptGC off (ours)": []}
    for _ in range(repeats):  # interleaved, so a slow spell of the machine touches every case
        home = tempfile.mkdtemp(prefix="bench-python-home-")
        try:
            cases["python"].append(measure(MODULE, "python", {}, env={"LEAKAGE_HOME": home, "LEAKAGE_LAB_DIR": lab_dir}))
        finally:
            shutil.rmtree(home, ignore_errors=True)
        cases["page, postScriptGC on (Streamlit's default)"].append(measure_page(lab_dir, post_script_gc=True))
        cases["page, postScriptGC off (ours)"].append(measure_page(lab_dir, post_script_gc=False))
    reference = statistics.median(run["seconds"] for run in cases["python"])
    rows = []
    for label, runs in cases.items():
        median = statistics.median(run["seconds"] for run in runs)
        cpu = [run["server_cpu_seconds"] for run in runs if "server_cpu_seconds" in run]
        rows.append({"how": label, "median s": median, "runs": ", ".join(f"{run['seconds']:.1f}" for run in runs),
                     "vs python": median / reference, "server CPU s": statistics.median(cpu) if cpu else None})
    print(format_table(rows, ["how", "median s", "runs", "vs python", "server CPU s"]))
    payload = {"machine": machine_details("cpu"), "images_per_person": IMAGES_PER_PERSON, "cases": cases, "rows": rows}
    print(f"wrote {write_results('page_overhead', payload, results_dir)}")
    return payload


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--measure", help=argparse.SUPPRESS)
    parser.add_argument("--repeats", type=int, default=2)
    args = parser.parse_args(argv)
    if args.measure:
        answer_measurement(MEASUREMENTS, args.measure)
        return
    run(repeats=args.repeats)


if __name__ == "__main__":
    main(sys.argv[1:])
