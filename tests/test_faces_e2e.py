"""The VLM page's face parts in a real browser: a real photo uploaded before the run shows its face
box and the blurred version; a run on a folder of real photos without a faces.csv lists, per
face-only setting, the photos in which no face was found."""

from __future__ import annotations

import re

import pytest

from bench.real_photos import NO_PERSON, PORTRAITS, covers, iou
from test_e2e import browser, keep_screenshot, page, server, settle  # noqa: F401  # the browser test's fixtures

pytestmark = [pytest.mark.e2e, pytest.mark.filterwarnings("ignore::UserWarning")]

BOX = r"\((\d+), (\d+)\)-\((\d+), (\d+)\)"
ORANGE = (255, 140, 0)

PIXEL_AT = """([index, x, y, originalWidth]) => {
    // The server sends the picture at its display width: the point is scaled to it.
    const image = document.querySelectorAll("[data-testid='stImage'] img")[index];
    const canvas = document.createElement("canvas");
    canvas.width = image.naturalWidth; canvas.height = image.naturalHeight;
    const context = canvas.getContext("2d");
    context.drawImage(image, 0, 0);
    const scale = image.naturalWidth / originalWidth;
    // The pixel nearest to orange a few pixels around the point: resizing blends a line's edges.
    const column = context.getImageData(Math.round(x * scale), Math.max(0, Math.round(y * scale) - 3), 1, 7).data;
    let best = null, bestDistance = Infinity;
    for (let i = 0; i < column.length; i += 4) {
        const distance = Math.abs(column[i] - 255) + Math.abs(column[i + 1] - 140) + Math.abs(column[i + 2]);
        if (distance < bestDistance) { bestDistance = distance; best = [column[i], column[i + 1], column[i + 2]]; }
    }
    return best;
}"""


@pytest.fixture(scope="module")
def real_photos(tmp_path_factory):
    """A folder of real photos (two people, and a cat with no face) and a tiny LLaVA to probe them with."""
    from vlm_family_models import tiny_llava

    root = tmp_path_factory.mktemp("real-photos")
    astronaut, camera = (portrait.load() for portrait in PORTRAITS)
    for relative, image in {"Eileen Collins/astronaut.png": astronaut, "Camera Man/camera.png": camera,
                            "Chelsea Cat/chelsea.png": NO_PERSON["chelsea (cat)"]()}.items():
        (root / relative).parent.mkdir(parents=True, exist_ok=True)
        image.save(root / relative)
    upload = tmp_path_factory.mktemp("upload") / "astronaut.png"
    astronaut.save(upload)
    return root, upload, tiny_llava(tmp_path_factory.mktemp("tiny-llava"))


def test_preview_shows_the_face_box_of_an_uploaded_photo_and_the_run_lists_photos_without_a_face(server, page, real_photos, tmp_path):
    root, upload, model = real_photos
    page.goto(f"{server['url']}/vlm")
    page.get_by_role("heading", name="VLM identity leakage").wait_for()
    settle(page)
    # Face blur only: one face-only setting.
    assert page.get_by_role("checkbox", name="Face only").is_checked() and page.get_by_role("checkbox", name="Blur").is_checked()
    page.get_by_role("heading", name="What will be anonymized").wait_for()

    page.locator("[data-testid='stFileUploader'] input[type='file']").set_input_files(str(upload))
    settle(page)
    line = page.get_by_text(re.compile(r"^astronaut\.png: 1 face from mtcnn")).inner_text()
    region, detected = (tuple(int(v) for v in match) for match in re.findall(BOX, line))
    astronaut = PORTRAITS[0]
    assert iou(detected, astronaut.face) > 0.6, line
    assert all(covers(region, point) for point in astronaut.head_points.values()), line
    # The drawn preview: the orange region's top edge passes over the forehead, in the image itself.
    images = page.locator("[data-testid='stImage'] img")
    images.nth(0).wait_for()
    colour = page.evaluate(PIXEL_AT, [0, (region[0] + region[2]) // 2, region[1] + 1, 512])
    assert all(abs(a - b) < 60 for a, b in zip(colour, ORANGE)), colour
    assert images.count() >= 2  # the anonymized version beside it

    # A run on the folder of real photos, which has no faces.csv.
    page.get_by_text("Local folder", exact=True).click()
    settle(page)
    page.get_by_label("Model: local folder").fill(str(model))
    page.get_by_label("Model: local folder").press("Enter")
    settle(page)
    page.get_by_text("Folder", exact=True).click()
    settle(page)
    page.get_by_label("Image folder").fill(str(root))
    page.get_by_label("Image folder").press("Enter")
    settle(page)
    page.get_by_text(re.compile(r"^Chelsea Cat/chelsea\.png: no face found by mtcnn")).wait_for()  # the preview, before the run
    page.get_by_label("Questions (one per line)").fill("Who is this person?")
    page.get_by_label("Questions (one per line)").press("Control+Enter")
    settle(page)
    page.get_by_text("Closed-set scores (ROC)", exact=True).click()
    settle(page)
    page.get_by_role("button", name="Run probe").click()
    page.get_by_role("heading", name="Faces found").wait_for()
    settle(page)
    page.get_by_text(re.compile(r"^No face found in 1 of 3 photos")).wait_for()  # waited for: components load lazily
    body = page.inner_text("body")
    for strength in (4, 6, 8, 12, 16):  # the default blur range, face only
        assert f"Gaussian blur, radius {strength} px, face only: no face found in 1 of 3 photos" in body, body[-3000:]
    assert "Chelsea Cat/chelsea.png" in body.split("No face found in 1 of 3 photos")[-1]
    assert "facenet-pytorch 2.6.0" in body
    page.screenshot(path=str(tmp_path / "faces.png"), full_page=True)
    keep_screenshot(tmp_path / "faces.png", "vlm_faces.png")
