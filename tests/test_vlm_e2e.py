"""The VLM probe page end to end: a real `streamlit run` server and Chromium, on a tiny LLaVA
trained here to name two people on their photos and not to name them once the whole image is
blurred, so that toggling the blur on the page must change the answers it shows."""

from pathlib import Path

import pytest

from leakage.anonymize import Anonymization, anonymize
from leakage.vlm_calibration import DEFAULT_SCORE_KIND, GROUP_FAMILIARITY, SCORE_LABELS
from test_e2e import keep_screenshot, browser, page, server, settle  # noqa: F401  # the browser test's fixtures
from test_vlm import overfit_llava, portraits, tiny_llava, write_people  # noqa: F401

pytestmark = [pytest.mark.e2e, pytest.mark.filterwarnings("ignore::UserWarning")]

WHOLE_IMAGE_BLUR = "blur:16@image"


@pytest.fixture(scope="module")
def blur_aware_vlm(tmp_path_factory, portraits):  # noqa: F811
    """A model that names Irina Williams and Alexander Reed, unless the whole photo is blurred."""
    known = {portraits[0][0]: "Irina Williams", portraits[3][0]: "Alexander Reed"}
    folder = tiny_llava(tmp_path_factory.mktemp("blur-aware"), seed=2)
    blurred = Anonymization.parse(WHOLE_IMAGE_BLUR)
    examples = [(image, known[name]) for name, image, _ in portraits if name in known]
    examples += [(anonymize(image, blurred, [box]), "a person") for name, image, box in portraits if name in known]
    overfit_llava(folder, examples, steps=300)

    people = {"Irina Williams": [], "Alexander Reed": []}
    boxes = {"Irina Williams": [], "Alexander Reed": []}
    for name, image, box in portraits:
        if name in known:
            people[known[name]].append(image)
            boxes[known[name]].append(box)
    others = [(image, box) for name, image, box in portraits if name not in known]
    people["Camila Wagner"], boxes["Camila Wagner"] = [others[0][0]], [others[0][1]]
    people["Colton O'Brien"], boxes["Colton O'Brien"] = [others[3][0]], [others[3][1]]
    members = {"Irina Williams": True, "Alexander Reed": True, "Camila Wagner": False, "Colton O'Brien": False}
    data = write_people(tmp_path_factory.mktemp("vlm-e2e-data"), people, members, boxes)
    return folder, data


def run_probe_and_count_highlights(page) -> int:
    page.get_by_role("button", name="Run probe").click()
    page.wait_for_timeout(250)  # let the click's rerun begin: it clears the last run's gallery
    # The probe runs in a background job: done when its progress panel (with Cancel) is gone and
    # the new gallery is drawn.
    page.wait_for_function(
        """() => document.querySelector("[data-testid='stApp']")?.dataset.testScriptState === 'notRunning'
              && ![...document.querySelectorAll('button')].some(b => b.innerText.trim() === 'Cancel')
              && document.body.innerText.includes('Gallery: original and anonymized')"""
    )
    settle(page)
    page.locator("[data-testid='stImage']").first.wait_for()  # the gallery's rows
    # Exact: the design notes below the result quote "who is this person?" inside a closed expander.
    page.get_by_text("Who is this person?", exact=True).last.wait_for()
    return page.locator("mark").count()


def test_toggling_the_blur_changes_the_answers(server, page, blur_aware_vlm, tmp_path: Path) -> None:
    model, data = blur_aware_vlm
    page.goto(f"{server['url']}/vlm")
    page.get_by_role("heading", name="VLM identity leakage").wait_for()
    settle(page)
    main = page  # the page has no sidebar widgets
    main.get_by_text("Local folder", exact=True).click()
    settle(page)
    main.get_by_label("Model: local folder").fill(str(model))
    main.get_by_label("Model: local folder").press("Enter")
    settle(page)
    main.get_by_text("Folder", exact=True).click()
    settle(page)
    main.get_by_label("Image folder").fill(str(data))
    main.get_by_label("Image folder").press("Enter")
    settle(page)
    main.get_by_label("Questions (one per line)").fill("Who is this person?")
    main.get_by_label("Questions (one per line)").press("Control+Enter")
    settle(page)

    # Face-only blur (the default): the model still names the person beside the blurred face.
    face_blur_highlights = run_probe_and_count_highlights(page)
    assert face_blur_highlights > 0, page.inner_text("body")[-3000:]
    # Few non-members: finer FPR levels are not resolvable. Waited for, not read at once: the browser
    # loads st.metric's component on first use and shows a skeleton until then.
    page.get_by_text("TPR at FPR = 0 (N = ").first.wait_for()
    for column in ("AUC, whole image masked", "AUC, mismatched photos"):  # the scores table below the metrics: drawn after them
        page.get_by_text(column).first.wait_for()
    # The headline is the image-conditional score; raw is labelled as name familiarity; the controls beside them.
    text = page.inner_text("body")
    assert f"AUC ({SCORE_LABELS[DEFAULT_SCORE_KIND]})" in text and f"AUC, raw: {GROUP_FAMILIARITY}" in text
    assert "AUC, whole image masked" in text and "AUC, mismatched photos" in text  # this run's controls
    assert "Controls measured on the lab VLMs" in text and "control: mismatched photos" in text  # the bench's table

    # Toggle the whole-image blur on (and the face-only region off) and run again.
    main.get_by_text("Whole image", exact=True).click()
    settle(page)
    main.get_by_text("Face only", exact=True).click()
    settle(page)
    run_probe_and_count_highlights(page)
    main.get_by_text(Anonymization.parse(WHOLE_IMAGE_BLUR).description).click()
    settle(page)
    whole_blur_highlights = page.locator("mark").count()
    # Each gallery row shows the original's answer (named) and the blurred one's (not named any more).
    assert 0 < whole_blur_highlights < face_blur_highlights
    assert "a person" in page.inner_text("body")
    page.wait_for_timeout(1000)
    page.screenshot(path=str(tmp_path / "vlm.png"), full_page=True)
    keep_screenshot(tmp_path / "vlm.png", "vlm_probe.png")
