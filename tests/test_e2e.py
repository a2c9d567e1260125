"""End to end: a real `streamlit run` server driven by Debian's Chromium through Playwright."""

import contextlib
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parent.parent
CHROMIUM = "/usr/bin/chromium"
SCREENSHOTS = ROOT / "docs" / "screenshots"


def keep_screenshot(path: Path, name: str) -> None:
    """Copy a test's screenshot into the README's pictures, only when asked (`make screenshots`):
    a test run writes only to temporary folders."""
    if os.environ.get("LEAKAGE_SCREENSHOTS") == "1":
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        shutil.copy(path, SCREENSHOTS / name)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def require_chromium() -> None:
    if not Path(CHROMIUM).exists():
        if os.environ.get("CI"):
            pytest.fail("CI must run the end-to-end tests: install Debian's chromium (make test does)")
        pytest.skip("Debian's chromium is not installed (make test installs it)")


@pytest.fixture(scope="module")
def server(default_lab, tmp_path_factory):
    require_chromium()
    home = tmp_path_factory.mktemp("e2e-home")
    port = free_port()
    env = {**os.environ, "LEAKAGE_HOME": str(home), "LEAKAGE_LAB_DIR": str(default_lab.root), "OMP_WAIT_POLICY": "PASSIVE",
           # the operator's Ray cluster for the pages: one started on this machine, shown by this name
           "RAY_ADDRESS": "local", "LEAKAGE_RAY_NAME": "the test cluster"}
    env.pop("LEAKAGE_DB_URL", None)
    with streamlit_server(home, port, env) as url:
        yield {"url": url, "home": home, "lab": default_lab, "strong_member": strong_member(default_lab)}


@contextlib.contextmanager
def streamlit_server(home: Path, port: int, env: dict, args: tuple[str, ...] = (), host: str = "127.0.0.1"):
    """`streamlit run app.py` on `port` with `env`, its log in `home`; yields its URL once healthy."""
    log = open(home / "server.log", "w")
    process = subprocess.Popen(
        [sys.executable, "-m", "streamlit", "run", "app.py", "--server.port", str(port), "--server.headless", "true", *args],
        cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
    )
    url = f"http://{host}:{port}"
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        try:
            if urllib.request.urlopen(f"{url}/_stcore/health", timeout=2).read() == b"ok":
                break
        except OSError:
            time.sleep(0.5)
    else:
        process.kill()
        pytest.fail("the Streamlit server did not become healthy: " + (home / "server.log").read_text()[-2000:])
    try:
        yield url
    finally:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
        log.close()


def strong_member(lab) -> tuple[str, list[Path]]:
    """A member the lab model clearly knows, with 5 of their attack photos (chosen by the engine, not by hand)."""
    from leakage.data import scan_dataset
    from leakage.idia import IDIAConfig, run_idia
    from leakage.models import load_clip

    clip = load_clip(lab.clip_model_name, str(lab.clip_checkpoint), device="cpu")
    members = scan_dataset(lab.attack_dir).subset(sorted(lab.members)[:10])
    result = run_idia(clip, members, IDIAConfig(images_per_person=5, n_draws=0), members={n: True for n in members.names()})
    best = max(result.identities, key=lambda row: row["score"])["name"]
    return best, sorted((lab.attack_dir / best).glob("*.png"))[:5]


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(
            executable_path=CHROMIUM,
            headless=True,
            args=["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                  "--disable-sync", "--no-first-run", "--disable-dev-shm-usage"],
        )
        yield chromium
        chromium.close()


@pytest.fixture
def page(browser, server, tmp_path, request):
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    page = context.new_page()
    page.set_default_timeout(180_000)
    yield page
    report = getattr(request.node, "report_call", None)
    if report is not None and report.passed:
        # Every browser test fails on a Streamlit exception box, looked for once the last run has
        # finished: a crash below the first chart must not pass unseen.
        try:
            settle(page, timeout=60_000)
            boxes = page.locator(EXCEPTION_BOX).all_inner_texts()
        except Exception as error:  # a page that never settles is a failure too
            boxes = [f"the page did not finish its run: {error}"]
        if boxes:
            report.outcome = "failed"
            page.screenshot(path=str(tmp_path / "failure.png"), full_page=True)
            pytest.fail("Streamlit showed an exception: " + " | ".join(boxes)[:2000], pytrace=False)
    if report is not None and report.failed:  # say what the browser and the server saw
        page.screenshot(path=str(tmp_path / "failure.png"), full_page=True)
        terminal = request.config.pluginmanager.get_plugin("terminalreporter")
        terminal.write_line(f"\n{request.node.name}: screenshot of the failure in {tmp_path / 'failure.png'}")
        terminal.write_line("server log, last lines:\n" + (server["home"] / "server.log").read_text()[-4000:])
    context.close()


EXCEPTION_BOX = "[data-testid='stException']"


def assert_no_exception(page) -> None:
    """Fail on any Streamlit exception box on the page (after its run has finished)."""
    settle(page)
    boxes = page.locator(EXCEPTION_BOX).all_inner_texts()
    assert not boxes, "Streamlit showed an exception: " + " | ".join(boxes)[:2000]


def settle(page, timeout: float | None = None) -> None:
    """Wait until the app has finished its current script run, as a person waits for the page to redraw.

    Acting while a run is still going (the first run imports torch; a slow or shared CPU stretches
    every run) races the rerun that the action starts: the click can land on an element that is
    about to be replaced.
    """
    page.wait_for_timeout(250)  # let the rerun that the last action asked for begin
    page.wait_for_function(
        "() => document.querySelector(\"[data-testid='stApp']\")?.dataset.testScriptState === 'notRunning'",
        timeout=timeout,
    )


def wait_for_identity_result(page) -> None:
    """The identity result to its last section: tau slider, per-identity table, a person's images, downloads."""
    page.get_by_text("tau: member when at least this many prompts name the person").wait_for()
    page.get_by_text("Correct prompts per person").first.wait_for()
    page.locator("[data-testid='stDataFrame']").first.wait_for()
    page.get_by_text("Show a person's images and what the model answers").wait_for()
    page.locator("[data-testid='stImage'] img").first.wait_for()
    page.get_by_role("button", name="Download per-identity table (CSV)").wait_for()
    assert_no_exception(page)


def test_identity_page_runs_with_its_defaults_to_the_last_section(server, page):
    page.goto(f"{server['url']}/identity")
    settle(page)
    page.get_by_role("button", name="Run the attack").click()  # a first run, cancelled
    page.get_by_role("button", name="Cancel").click()
    page.get_by_text("Run cancelled").wait_for()
    settle(page)
    page.get_by_role("button", name="Run the attack").click()
    page.get_by_text("ROC, log-log axes").first.wait_for()
    wait_for_identity_result(page)


def test_lab_demo_shows_the_roc(server, page, tmp_path):
    page.goto(server["url"])
    settle(page)
    page.get_by_role("button", name="Run the lab demo").click()
    page.get_by_text("The attack found").wait_for()
    page.locator(".js-plotly-plot").nth(1).wait_for()  # both ROC views drawn
    page.get_by_text("ROC, log-log axes").first.wait_for()
    assert "AUC" in page.content()
    page.wait_for_timeout(1500)
    page.screenshot(path=str(tmp_path / "home.png"), full_page=True)
    keep_screenshot(tmp_path / "home.png", "lab_demo.png")
    assert_no_exception(page)
    page.get_by_text("Explore the result").click()
    wait_for_identity_result(page)


def test_check_one_person_gives_a_verdict_and_keeps_no_upload(server, page, tmp_path):
    member, photos = server["strong_member"]
    photos = photos[:3]  # fewer than the slider's k = 10: the reference FPR must be measured at k = 3
    page.goto(f"{server['url']}/identity")
    sidebar = page.locator("section[data-testid='stSidebar']")
    settle(page)
    sidebar.get_by_text("Check one person").click()
    settle(page)
    sidebar.get_by_label("Full name of the person").fill(member)
    sidebar.get_by_label("Full name of the person").press("Enter")
    settle(page)
    sidebar.locator("input[type='file']").set_input_files([str(p) for p in photos])
    page.get_by_text(photos[-1].name).first.wait_for()
    settle(page)
    sidebar.get_by_text("Keep this check in the run store").click()
    settle(page)
    page.get_by_role("button", name="Run the attack").click()
    page.get_by_text("Verdict").wait_for()
    verdict = page.get_by_text(f"The model names {member} in").inner_text()
    assert "likely in its training data" in verdict, verdict
    page.get_by_text("false-positive rate of this claim").wait_for()
    assert "each scored on k = 3 photos, as many as were checked here" in page.content()
    page.locator(".js-plotly-plot").first.wait_for()
    wait_for_identity_result(page)
    page.wait_for_timeout(1500)
    page.screenshot(path=str(tmp_path / "identity.png"), full_page=True)
    keep_screenshot(tmp_path / "identity.png", "identity_inference.png")

    # nothing from the uploads is on disk: no file under the data home holds the photos' bytes
    uploaded = [p.read_bytes()[-64:] for p in photos]
    for path in server["home"].rglob("*"):
        if path.is_file():
            content = path.read_bytes()
            assert not any(chunk in content for chunk in uploaded), path
    from leakage.store import RunStore

    with RunStore(f"sqlite:///{server['home'] / 'runs.sqlite'}") as store:
        stored = [store.get(run.id) for run in store.list() if run.label == "check one person"]
    assert stored and {image["path"] for image in stored[0].images} <= {f"upload {i}" for i in range(1, 6)}
