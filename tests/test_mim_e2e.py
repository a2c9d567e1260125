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
    page.get_by_text("TPR at FPR = 0 (N = 12: levels below 8.3% not resolvable)").first.wait_for()
    page.get_by_text("masked input").first.wait_for()
    page.wait_for_function("() => document.querySelectorAll(\"[data-testid='stImage'] img\").length === 6")
    page.wait_for_timeout(1500)
    page.screenshot(path=str(tmp_path / "mim.png"), full_page=True)
    keep_screenshot(tmp_path / "mim.png", "mim.png")


def choose_inputs(page, model_dir: Path, data_dir: Path, masks: int) -> None:
    """Pick a local model folder, an image folder and the number of masks in the MIM page's sidebar."""
    sidebar = page.locator("section[data-testid='stSidebar']")
    sidebar.get_by_text("Local folder").first.click()
    settle(page)
    sidebar.get_by_label("Model under test: local folder").fill(str(model_dir))
    sidebar.get_by_label("Model under test: local folder").press("Enter")
    settle(page)
    sidebar.get_by_text("Folder", exact=True).click()
    settle(page)
    sidebar.get_by_label("Image folder").fill(str(data_dir))
    sidebar.get_by_label("Image folder").press("Enter")
    settle(page)
    slider = sidebar.get_by_role("slider", name="Masks per image")
    slider.focus()
    for _ in range(masks - 8):  # from the default 8
        slider.press("ArrowRight")
    settle(page)


def test_runs_on_one_model_take_turns_across_sessions_and_cancel_stops_one(server, browser, tiny_lab: dict, tmp_path: Path) -> None:
    """Two visitors on the MIM page with the same model: the second run waits for the first (one lock per
    model per server), says so, and can be cancelled while the first one finishes."""
    import shutil

    from test_e2e import assert_no_exception

    lab = tiny_lab["lab"]
    slow = tmp_path / "many"  # enough images that a run lasts many seconds on the shared CPU
    for copy in range(40):
        for person in lab.attack_dir.iterdir():
            if person.is_dir():
                target = slow / f"{person.name} {copy}"
                target.mkdir(parents=True)
                for image in person.glob("*.png"):
                    shutil.copy(image, target / image.name)
    pages = []
    for _ in range(2):
        context = browser.new_context(viewport={"width": 1400, "height": 1000})
        visitor = context.new_page()
        visitor.set_default_timeout(180_000)
        visitor.goto(f"{server['url']}/mim")
        visitor.get_by_role("heading", name="Membership inference on masked image models").wait_for()
        settle(visitor)
        choose_inputs(visitor, lab.model_dir, slow, masks=32)
        pages.append(visitor)
    first, second = pages
    first.get_by_role("button", name="Run the attack").click()
    first.get_by_role("button", name="Cancel").wait_for()
    first.wait_for_function("() => !document.body.innerText.includes('loading the model')")
    second.get_by_role("button", name="Run the attack").click()
    second.get_by_text("waiting for another run on this model to finish").first.wait_for()
    second.get_by_role("button", name="Cancel").click()
    second.get_by_text("Run cancelled").wait_for()
    first.get_by_text("What the model sees").wait_for()
    settle(first)
    assert_no_exception(first)
    assert_no_exception(second)
    for visitor in pages:
        visitor.context.close()
