"""The Lessons page in Streamlit's AppTest: the steps, the keys that move between them, presenter mode,
and a step whose lab model is missing (the test's data home has only the default lab): how long it
takes to build, and nothing started unasked."""

from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from leakage.lessons import default_lesson

ROOT = Path(__file__).resolve().parent.parent

pytestmark = pytest.mark.usefixtures("isolated_home")


def lessons_page(**params: str) -> AppTest:
    app = AppTest.from_file(str(ROOT / "app_pages" / "lessons.py"), default_timeout=120)
    for key, value in params.items():
        app.query_params[key] = value
    app.run()
    assert not app.exception, app.exception
    return app


def shortcut(app: AppTest, key: str) -> str:
    return app.button(key=key).proto.shortcut


def test_the_lesson_opens_on_its_introduction_and_the_keys_move_through_it():
    app = lessons_page()
    assert [title.value for title in app.title] == ["Lessons", default_lesson().steps[0].title]
    assert {shortcut(app, "lesson-next"), shortcut(app, "lesson-next-pagedown")} == {"right", "pagedown"}
    assert {shortcut(app, "lesson-previous"), shortcut(app, "lesson-previous-pageup")} == {"left", "pageup"}
    assert app.button(key="lesson-previous").disabled
    text = " ".join(block.value for block in app.markdown)
    assert "confidentiality" in text and "integrity" in text  # the frame of background.md §5
    assert any("If your photos were used to train a model" in alert.value for alert in app.warning)


def test_a_step_whose_model_is_not_built_says_how_long_it_takes_and_starts_nothing():
    app = lessons_page(step="2")
    assert app.title[-1].value == "More photos online, more risk"
    assert "occurrence sweep CLIP" in " ".join(info.value for info in app.info)
    app.button(key="lesson-next").click().run()
    assert app.title[-1].value == "Blurring the face is not enough"
    panel = " ".join(info.value for info in app.info)
    assert "Not built yet" in panel and "lab-vlm" in panel and "about 9 minutes" in panel and "Press B" in panel
    build = app.button(key="lesson-build-blur")
    assert build.label == "Build and run (about 9 minutes)" and not build.disabled and build.proto.shortcut == "b"
    assert "lesson-job-blur" not in app.session_state and "lesson-job-occurrences" not in app.session_state  # nothing runs unasked


def test_presenter_mode_shows_the_step_alone_and_esc_leaves_it():
    app = lessons_page(step="5", present="1")
    assert [title.value for title in app.title] == ["A few poisoned photos are enough"]  # no page title, no settings
    assert not any(button.key == "lesson-present-button" for button in app.button)
    assert shortcut(app, "lesson-leave") == "escape"
    assert "P = 64, no defense" in " ".join(info.value for info in app.info)
    app.button(key="lesson-leave").click().run()
    assert app.title[0].value == "Lessons" and app.title[-1].value == "A few poisoned photos are enough"
    assert app.query_params.get("step") in ("5", ["5"])
