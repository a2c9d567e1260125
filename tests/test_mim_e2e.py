"""The MIM page end to end: a real `streamlit run` server and Chromium, on a tiny really
pre-trained lab MAE (kept apart from test_mim.py so that file stays well under a minute)."""

from pathlib import Path

import pytest

from test_e2e import keep_screenshot, browser, page, server, settle  # noqa: F401  # the browser test's fixtures
from test_mim import tiny_lab  # noqa: F401

pytestmark = pytest.mark.e2e


def test_page_in_the_browser(server, page, tiny_lab: dict, tmp_path: Path) -> None:
    """The page in a real `streamlit run` server and Chromium (fixtures of test_e2e.py)."""
    lab = tiny_lab["lab"]
    # A deep link as the server's first visit: Streamlit's legacy multipage mode must not take over
    # (it showed "Page not found", or ran the page file without the app's navigation).
    page.goto(f"{server['url']}/mim")
    page.get_by_role("heading", name="Membership inference on masked image models").wait_for()
    settle(page)
    sidebar = page.locator("section[data-testid='stSidebar']")
    assert page.get_by_text("Page not found").count() == 0
    sidebar.get_by_role("link", name="Identity inference (CLIP)").wait_for()
    sidebar.get_by_text("Local folder").first.click()
    settle(page)
    sidebar.get_by_label("Model under test: local folder").fill(str(lab.model_dir))
    sidebar.get_by_label("Model under test: local folder").press("Enter")
    settle(page)
    sidebar.get_by_text("Folder", exact=True).click()
    settle(page)
    sidebar.get_by_label("Image folder").fill(str(lab.attack_dir))
    sidebar.get_by_label("Image folder").press("Enter")
    settle(page)
    page.get_by_role("button", name="Run the attack").click()
    page.get_by_text("What the model sees").wait_for()
    page.get_by_text("ROC, log-log axes").first.wait_for()
    page.get_by_text("Reconstruction error (lower = more likely a member)").first.wait_for()
    settle(page)  # the run ends with a redraw of the whole page: read it once that is done
    page.get_by_text("TPR at 1% FPR").first.wait_for()
    page.get_by_text("masked input").first.wait_for()
    page.wait_for_function("() => document.querySelectorAll(\"[data-testid='stImage'] img\").length === 6")
    page.wait_for_timeout(1500)
    page.screenshot(path=str(tmp_path / "mim.png"), full_page=True)
    keep_screenshot(tmp_path / "mim.png", "mim.png")
