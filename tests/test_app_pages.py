"""Every page renders in Streamlit's AppTest, with real engine parts behind it."""

from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

ROOT = Path(__file__).resolve().parent.parent

pytestmark = pytest.mark.usefixtures("isolated_home")


def page(path: str) -> AppTest:
    app = AppTest.from_file(str(ROOT / path), default_timeout=120)
    app.run()
    assert not app.exception, app.exception
    return app


def identity_page() -> AppTest:
    """The identity page, generated from the IDIA's declaration and its parts (ui.parts.identity)."""
    app = AppTest.from_string('from ui.attack_page import render\nrender("idia")', default_timeout=120)
    app.run()
    assert not app.exception, app.exception
    return app


def test_home_explains_and_offers_the_demo():
    app = page("app_pages/home.py")
    assert "How much do models leak about people?" in app.title[0].value
    text = " ".join(block.value for block in app.markdown)
    assert "confidentiality" in text and "integrity" in text and "availability" in text
    assert any(button.label == "Run the lab demo" for button in app.button)


def test_identity_page_offers_models_data_and_parameters():
    app = identity_page()
    radios = {radio.key: radio for radio in app.sidebar.radio}
    assert "Lab CLIP (trained on the lab's members)" in radios["idia-model-kind"].options
    assert radios["idia-data-kind"].options == ["Lab world", "Dataset folder", "Check one person"]
    assert app.sidebar.slider(key="idia-k").value == 10
    assert app.sidebar.text_area(key="idia-templates").value.count("\n") == 20
    assert "CPU" in app.info[0].value or "GPU" in app.info[0].value  # the device in use is shown


def test_identity_page_rejects_templates_without_a_name_slot():
    app = identity_page()
    app.sidebar.text_area(key="idia-templates").set_value("a photo of someone").run()
    assert any("{}" in error.value for error in app.error)
    assert app.button(key="idia-run").disabled


def test_check_one_person_asks_for_name_and_photos_and_reports_broken_uploads(default_lab):
    app = identity_page()
    app.sidebar.radio(key="idia-data-kind").set_value("Check one person").run()
    assert any("upload a few photos" in info.value for info in app.info)
    assert app.button(key="idia-run").disabled


def test_a_missing_checkpoint_is_a_clear_error():
    app = identity_page()
    app.sidebar.radio(key="idia-model-kind").set_value("Local checkpoint file").run()
    app.sidebar.text_input(key="idia-file-path").set_value("/nowhere/model.pt").run()
    assert any("not found" in error.value for error in app.error)


def test_app_navigation_lists_every_page():
    app = AppTest.from_file(str(ROOT / "app.py"), default_timeout=120)
    app.run()
    assert not app.exception, app.exception
    assert "How much do models leak about people?" in app.title[0].value


@pytest.fixture
def served_config(monkeypatch):
    """Streamlit's options as `streamlit run app.py` reads them from the repository's .streamlit/config.toml."""
    from streamlit import config

    monkeypatch.chdir(ROOT)
    config.get_config_options(force_reparse=True)
    yield config.get_option
    monkeypatch.undo()
    config.get_config_options(force_reparse=True)


def test_the_served_config_is_safe_by_default_and_does_not_starve_running_attacks(served_config):
    assert served_config("server.address") == "127.0.0.1"
    assert served_config("server.enableXsrfProtection") is True and served_config("server.enableCORS") is True
    assert served_config("browser.gatherUsageStats") is False
    assert served_config("client.showErrorDetails") == "type"
    assert served_config("server.maxUploadSize") == 50
    # a full garbage collection after every redraw of a job's progress made the lab demo 3.5x slower
    assert served_config("runner.postScriptGC") is False


def test_identity_page_run_with_its_defaults_shows_every_section():
    """The page's main flow to its last section (a duplicate widget key once crashed it below the ROC)."""
    import time

    app = identity_page()
    app.button(key="idia-run").click().run()
    deadline = time.monotonic() + 300
    while not any(button.label == "Download per-identity table (CSV)" for button in app.get("download_button")):
        assert time.monotonic() < deadline, "the run did not finish"
        assert not app.exception, app.exception
        time.sleep(0.5)
        app.run()
    assert not app.exception, app.exception
    assert any(slider.label.startswith("tau: member when at least") for slider in app.slider)
    assert app.dataframe  # the per-identity table
    assert any(box.label.startswith("Show a person's images") for box in app.selectbox)
