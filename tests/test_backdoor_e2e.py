"""The backdoor page end to end: a real `streamlit run` server and Chromium.

Building the lab's poisoned models takes minutes, so the server's data home gets the stored
results of two tiny CLIPs really trained here (one with 24 backdoor pairs, one without) in the
places where the page reads the lab variants' results ("no defense" and "Semantic Shield" at the
default P); the page only reads those files. Switching the defense must change the attack
success rate shown and the example predictions.
"""

from pathlib import Path

import pytest
from test_backdoor import as_loaded, test_folder, tiny_architecture, train_tiny  # noqa: F401
from test_e2e import keep_screenshot, browser, page, server, settle  # noqa: F401  # the browser test's fixtures

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def stored_variants(server, tiny_architecture, test_folder, tmp_path_factory):
    import os

    from leakage.attacks import get_attack
    from leakage.attacks.base import RunContext
    from leakage.backdoor import BackdoorConfig
    from leakage.data import scan_dataset
    from leakage.lab import poison

    data = scan_dataset(test_folder)
    previous = os.environ.get("LEAKAGE_HOME")
    os.environ["LEAKAGE_HOME"] = str(server["home"])  # where the server reads the lab variants' results
    try:
        asr = {}
        for defense, n_poison in (("none", 24), ("semantic-shield", 0)):
            clip = as_loaded(train_tiny(tiny_architecture, n_poison), tiny_architecture)
            result = get_attack("backdoor").execute(clip, data, BackdoorConfig(), RunContext())
            path = poison.result_path(poison.PoisonConfig(), defense)
            path.parent.mkdir(parents=True, exist_ok=True)
            result.to_json(path)
            asr[defense] = result.metrics["asr"]
    finally:
        if previous is None:
            os.environ.pop("LEAKAGE_HOME", None)
        else:
            os.environ["LEAKAGE_HOME"] = previous
    assert asr["none"] > asr["semantic-shield"]
    return asr


def shown_asr(page) -> str:
    metric = page.locator("[data-testid='stMetric']").filter(has_text="Attack success rate").first
    return metric.locator("[data-testid='stMetricValue']").inner_text()


def test_switching_the_defense_changes_the_asr_and_the_predictions(server, page, stored_variants, tmp_path: Path) -> None:
    page.goto(f"{server['url']}/backdoor")
    page.get_by_role("heading", name="Backdoors and poisoning of CLIP").wait_for()
    settle(page)
    page.get_by_text("What the model answers").wait_for()
    page.locator("[data-testid='stMetric']").filter(has_text="Attack success rate").first.wait_for()
    undefended = shown_asr(page)
    predictions = page.locator("[data-testid='stMarkdownContainer'] ol").all_inner_texts()
    assert undefended.endswith("%") and predictions
    sidebar = page.locator("section[data-testid='stSidebar']")
    sidebar.get_by_text("Semantic Shield", exact=True).click()
    settle(page)
    page.get_by_text("What the model answers").wait_for()
    defended = shown_asr(page)
    assert defended != undefended
    assert page.locator("[data-testid='stMarkdownContainer'] ol").all_inner_texts() != predictions
    # the lab sections: the poison fraction, and what each part of Semantic Shield does (the recorded ablation)
    page.get_by_text("What each part of Semantic Shield does").wait_for()
    content = page.content()
    assert "P = 64 of 1,164 fine-tuning pairs (5.5%)" in content and "recorded by python -m bench.backdoor_ablation" in content
    ablation = page.locator("[data-testid='stDataFrame']").last
    ablation.wait_for()
    page.wait_for_timeout(1000)
    page.screenshot(path=str(tmp_path / "backdoor.png"), full_page=True)
    keep_screenshot(tmp_path / "backdoor.png", "backdoor.png")
