"""How long the whole lesson takes: the Lessons page in presenter mode, walked with the keyboard from
the introduction to the last step in a real `streamlit run` server and Debian's chromium, waiting at
each step until every claim is measured.

Every lab model the lesson needs must be built (`make lesson`, or `--build` here, not timed). The
server gets a fresh data home whose recipe folders link to this data home's builds: the models are
built, nothing is computed yet and the embedding caches are cold. Three walks: the first computes
every step, the second (same server, another browser) reads the server's cache, the third (after a
server restart) reads the run store.

    python -m bench.lesson_walk             # about 3 minutes on a 2-core CPU
    python -m bench.lesson_walk --build     # build what is missing first (about half an hour, once)
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Sequence

from bench import REPO_ROOT, format_table, machine_details, write_results
from bench.page_overhead import CHROMIUM, _free_port, _wait_until_healthy

LINKED = ("lab", "lab-vlm", "lab-poison", "lab-poison-data")
"""The recipe folders of the data home the lesson's models live in."""


def walk(url: str) -> dict[str, float]:
    """Seconds per step, from the key press to every claim measured, and the whole walk."""
    from playwright.sync_api import sync_playwright

    from leakage.lessons import default_lesson

    lesson = default_lesson()
    times: dict[str, float] = {}
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=["--no-sandbox", "--disable-gpu"])
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        page.set_default_timeout(900_000)
        started = time.perf_counter()
        page.goto(f"{url}/lessons?present=1&step=0")
        for index, step in enumerate(lesson.steps):
            clock = time.perf_counter()
            if index:
                page.locator("body").press("ArrowRight")
            page.get_by_role("heading", name=step.title).wait_for()
            claims = [check.claim for check in step.checks({})]
            page.wait_for_function(
                """claims => claims.every(claim => [...document.querySelectorAll('li')].some(li => li.innerText.includes(claim)
                       && (li.innerText.includes('(shown)') || li.innerText.includes('(not shown)'))))
                   && ![...document.querySelectorAll('button')].some(b => b.innerText.trim() === 'Cancel')
                   && document.querySelector("[data-testid='stApp']")?.dataset.testScriptState === 'notRunning'""", arg=claims)
            times[step.id] = round(time.perf_counter() - clock, 1)
        times["total"] = round(time.perf_counter() - started, 1)
        browser.close()
    return times


def serve(home: Path, port: int) -> subprocess.Popen:
    env = {**os.environ, "LEAKAGE_HOME": str(home), "OMP_WAIT_POLICY": "PASSIVE"}
    env.pop("LEAKAGE_DB_URL", None)
    server = subprocess.Popen([sys.executable, "-m", "streamlit", "run", "app.py", "--server.port", str(port), "--server.headless", "true"],
                              cwd=REPO_ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    _wait_until_healthy(f"http://127.0.0.1:{port}", server)
    return server


def stop(server: subprocess.Popen) -> None:
    server.terminate()
    try:
        server.wait(timeout=20)
    except subprocess.TimeoutExpired:
        server.kill()


def run(build: bool = False, results_dir: Path | None = None) -> dict[str, Any]:
    from leakage.lessons import default_lesson
    from leakage.progress import StageBars
    from leakage.provenance import data_home

    missing = [(run, part) for run in default_lesson().runs() for part in run.missing()]
    if missing and not build:
        raise SystemExit("not built: " + ", ".join(part.what for _, part in missing) + " (make lesson, or --build)")
    for _, part in missing:
        part.entry.build(progress=StageBars())
    home = Path(tempfile.mkdtemp(prefix="bench-lesson-home-"))
    for name in LINKED:
        if (data_home() / name).is_dir():
            (home / name).symlink_to(data_home() / name)
    port = _free_port()
    walks: dict[str, dict[str, float]] = {}
    load = os.getloadavg()
    try:
        server = serve(home, port)
        try:
            walks["first: every step computed (cold caches)"] = walk(f"http://127.0.0.1:{port}")
            walks["again: the server's cache"] = walk(f"http://127.0.0.1:{port}")
        finally:
            stop(server)
        server = serve(home, port)
        try:
            walks["after a restart: the run store"] = walk(f"http://127.0.0.1:{port}")
        finally:
            stop(server)
    finally:
        shutil.rmtree(home, ignore_errors=True)
    rows = [{"walk": name, **times} for name, times in walks.items()]
    print(format_table(rows, ["walk", *next(iter(walks.values()))]))
    payload = {"machine": machine_details("cpu"), "load_average_before": [round(value, 2) for value in load],
               "load_average_after": [round(value, 2) for value in os.getloadavg()], "walks": walks}
    print(f"wrote {write_results('lesson_walk', payload, results_dir)}")
    return payload


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--build", action="store_true", help="build the lab models the lesson needs first (not timed)")
    args = parser.parse_args(argv)
    run(build=args.build)


if __name__ == "__main__":
    main(sys.argv[1:])
