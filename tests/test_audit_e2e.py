"""The Batch audits page end to end: a real `streamlit run` server and Chromium launch a 2-job plan
on a Ray cluster that the server starts on this machine, and the page shows both results."""

from pathlib import Path

import pytest

from audit_fixtures import small_lab_folder
from test_e2e import keep_screenshot, browser, page, server, settle  # noqa: F401  # the browser test's fixtures

pytest.importorskip("ray")
pytestmark = pytest.mark.e2e

PLAN = """[[job]]
attack = "idia"
model = "lab"
data = "{people}"
images_per_person = [2, 3]
n_candidates = 100
n_draws = 0
"""


def test_batch_audit_on_a_local_ray_cluster(server, page, default_lab, tmp_path: Path) -> None:
    people = small_lab_folder(str(default_lab.root), tmp_path / "people")
    page.goto(f"{server['url']}/audits")
    page.get_by_role("heading", name="Batch audits").wait_for()
    settle(page)
    plan = page.get_by_label("Plan", exact=True)
    plan.fill(PLAN.format(people=people))
    plan.press("Control+Enter")
    settle(page)
    page.get_by_text(f"2 jobs: idia lab {people} images_per_person=2; idia lab {people} images_per_person=3").wait_for(timeout=60_000)
    assert page.get_by_label("Ray address").count() == 0  # no page takes a Ray address: the operator configures it
    page.get_by_text("the test cluster", exact=True).click()
    settle(page)
    page.get_by_role("button", name="Launch the audit").click()
    page.get_by_text("ray (the test cluster) \u00b7", exact=False).first.wait_for()
    # a Ray cluster starting on a shared 2-core machine, then two IDIA runs
    page.get_by_text("Audit finished: 2 jobs run, 0 already stored, 0 failed").wait_for(timeout=600_000)
    settle(page)
    link = page.get_by_role("link", name="Open the 2 runs side by side on the Runs page")
    link.wait_for()
    page.get_by_role("button", name="Download the report (HTML)").wait_for()
    table = page.locator("[data-testid='stDataFrame']").first
    table.wait_for()
    table.scroll_into_view_if_needed()
    page.wait_for_timeout(500)
    page.screenshot(path=str(tmp_path / "audits.png"))
    keep_screenshot(tmp_path / "audits.png", "audits.png")
    href = link.get_attribute("href")  # a markdown link opens a new tab: follow it in this one
    assert href.startswith("runs?run=")
    page.goto(f"{server['url']}/{href}")
    page.get_by_text("images_per_person=3").first.wait_for()
    settle(page)
