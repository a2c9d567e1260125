"""The Lessons page end to end: a real `streamlit run` server on the built default lab, driven by
Debian's Chromium with the keyboard alone in presenter mode, from the introduction to the last
step, checking each step's claim on the lab where its models are built (the lab CLIP finds its
members, the control CLIP is at chance, the photo-caption pairs leak) and the "not built yet" panel,
with its measured build time, where they are not (the sweep lab, the lab VLM, the poisoned CLIPs
are not built in a test's data home); then the handout, HTML and PDF, with every figure of the run.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from leakage.lessons import default_lesson
from test_e2e import assert_no_exception, browser, keep_screenshot, page, server, settle  # noqa: F401  # the browser test's fixtures

pytestmark = pytest.mark.e2e

LESSON = default_lesson()
SHOWN = "(shown)"


def wait_for_step(page, index: int) -> None:
    page.get_by_role("heading", name=LESSON.steps[index].title).wait_for()
    settle(page)


def claim_line(page, claim: str) -> str:
    """The check's line, once the step's runs are in (its mark turns from \u2026 to \u2713 or \u2717)."""
    line = page.locator("li").filter(has_text=claim).first
    line.wait_for()
    page.wait_for_function(
        """claim => [...document.querySelectorAll('li')].some(li => li.innerText.includes(claim) && !li.innerText.includes('not measured'))""",
        arg=claim, timeout=300_000)
    return page.locator("li").filter(has_text=claim).first.inner_text()


def press(page, key: str) -> None:
    page.locator("body").press(key)


def not_built_panel(page) -> str:
    panel = page.locator("[data-testid='stAlert']").filter(has_text="Not built yet").first
    panel.wait_for()
    text = panel.inner_text()
    assert re.search(r"Building takes about \d+ minutes? on this machine", text), text
    page.get_by_role("button", name=re.compile(r"Build and run \(about \d+ minutes?\)")).wait_for()
    return text


def control_built(server) -> bool:
    return (Path(server["lab"].root) / "control" / "lab_clip_control.pt").exists()


def test_the_whole_lesson_with_the_keyboard_in_presenter_mode(server, page, tmp_path):
    page.goto(f"{server['url']}/lessons")
    page.get_by_role("heading", name="Lessons").wait_for()
    settle(page)
    page.get_by_role("button", name="Present").click()
    wait_for_step(page, 0)
    assert not page.locator("section[data-testid='stSidebar']").is_visible()  # presenter mode: no sidebar, no settings
    assert not page.get_by_role("heading", name="Lessons").is_visible()
    assert "If your photos were used to train a model" in page.inner_text("body")

    # 1: the lab CLIP finds its members; the control CLIP, trained on other people, finds nobody
    press(page, "ArrowRight")
    wait_for_step(page, 1)
    found = claim_line(page, "The lab CLIP finds the people it was trained on")
    assert SHOWN in found and re.search(r"flagged (9\d|100) of 100 members and [0-4] of 100 non-members", found), found
    assert SHOWN in claim_line(page, "The lab CLIP accuses almost nobody it never saw")
    if control_built(server):
        chance = claim_line(page, "The control CLIP, trained on other people, finds nobody: chance")
        assert SHOWN in chance and "0.5 is guessing" in chance, chance
    else:
        assert "the control CLIP" in not_built_panel(page)
    page.locator(".js-plotly-plot").first.wait_for()
    page.get_by_text("Answer: Yes, for the people whose photos trained it").wait_for()
    assert_no_exception(page)
    page.wait_for_timeout(1000)
    page.screenshot(path=str(tmp_path / "presenter.png"))
    keep_screenshot(tmp_path / "presenter.png", "lessons_presenter.png")

    # 2 (PageDown, as a presenter's clicker sends): the sweep lab is not built here: how long, and go on
    press(page, "PageDown")
    wait_for_step(page, 2)
    assert "occurrence sweep CLIP" in not_built_panel(page)
    assert "appear more often in the training data are found more often" in page.inner_text("body")

    # 3: the lab VLM is not built in a test's data home either; the answer waits for the result
    press(page, "ArrowRight")
    wait_for_step(page, 3)
    assert "lab-vlm" in not_built_panel(page)
    page.get_by_text("The answer appears when this step's result is in").wait_for()

    # 4: which photo-caption pairs the lab CLIP was trained on
    press(page, "ArrowRight")
    wait_for_step(page, 4)
    leaks = claim_line(page, "The lab CLIP gives away which photo-caption pairs it was trained on")
    assert SHOWN in leaks and "Leakage detected" in leaks, leaks
    if control_built(server):
        assert SHOWN in claim_line(page, "The control CLIP cannot tell: chance")
    page.locator(".js-plotly-plot").first.wait_for()

    # 5: the poisoned CLIPs: not built here (a test builds no poisoned variant)
    press(page, "ArrowRight")
    wait_for_step(page, 5)
    assert "P = 64, no defense" in not_built_panel(page)

    # 6: what protects people, and the handout, the one control of the last step
    press(page, "ArrowRight")
    wait_for_step(page, 6)
    if control_built(server):
        assert SHOWN in claim_line(page, "A model that never saw someone cannot give them away")
    assert "For discussion" in page.inner_text("body")
    assert page.get_by_role("button", name="Next").is_disabled()
    with page.expect_download() as download:
        page.get_by_role("button", name="Handout (HTML)").click()
    handout = Path(download.value.path()).read_text()
    for step in LESSON.steps:
        assert f'id="step-{step.id}"' in handout
    assert 'id="figure-remembers"' in handout and 'id="figure-exact-photo"' in handout and "Plotly.newPlot" in handout
    with page.expect_download(timeout=180_000) as download:
        page.get_by_role("button", name="Handout (PDF)").click()
    assert Path(download.value.path()).read_bytes()[:5] == b"%PDF-"

    # back with the keyboard, and out of presenter mode with Esc
    press(page, "ArrowLeft")
    wait_for_step(page, 5)
    press(page, "Escape")
    page.get_by_role("heading", name="Lessons").wait_for()
    assert "step=5" in page.url
    assert_no_exception(page)


def test_a_step_whose_model_is_missing_builds_it_with_progress_and_cancel(server, page):
    from leakage.lessons import SWEEP_IDIA

    page.goto(f"{server['url']}/lessons?step=2")
    wait_for_step(page, 2)
    not_built_panel(page)
    page.get_by_role("button", name=re.compile(r"Build and run")).click()
    page.get_by_role("button", name="Cancel").wait_for()
    page.get_by_text(re.compile(r"1 of 1, the occurrence sweep CLIP: ")).first.wait_for()
    page.get_by_role("button", name="Cancel").click()
    page.get_by_text("Run cancelled").wait_for()
    settle(page)
    not_built_panel(page)  # nothing half-built: still missing, still offered
    page.get_by_role("button", name="Prepare: run every step now").click()  # ahead of class: every step that can run
    page.get_by_text(re.compile(r"Lesson prepared: \d+ runs computed")).wait_for()
    settle(page)
    not_built_panel(page)  # what is not built is left out, not built unasked
    import os

    os.environ["LEAKAGE_HOME"], previous = str(server["home"]), os.environ.get("LEAKAGE_HOME")
    try:
        assert SWEEP_IDIA.missing()
    finally:
        if previous is None:
            del os.environ["LEAKAGE_HOME"]
        else:
            os.environ["LEAKAGE_HOME"] = previous
    assert_no_exception(page)
