"""The Runs page, run headless with Streamlit's AppTest against a real run store in tmp_path."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from leakage.store import RunStore
from runs_fixtures import runs_command, synthetic_backdoor_result, synthetic_result

REPO = Path(__file__).resolve().parent.parent
PAGE = str(REPO / "app_pages" / "runs.py")


@pytest.fixture
def store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("LEAKAGE_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("LEAKAGE_DB_URL", f"sqlite:///{tmp_path / 'runs.sqlite'}")
    with RunStore() as opened:
        yield opened


def page(**query: str) -> AppTest:
    app = AppTest.from_file(PAGE, default_timeout=60)
    for key, value in query.items():
        app.query_params[key] = value
    return app.run()


def texts(app: AppTest) -> str:
    parts = [element.value for kind in ("markdown", "caption", "subheader", "error", "success", "warning", "info")
             for element in app.get(kind)]
    return "\n".join(str(part) for part in parts)


def test_an_empty_store_says_where_runs_come_from(store: RunStore) -> None:
    app = page()
    assert not app.exception
    assert "No runs stored yet" in texts(app)


def test_runs_from_an_earlier_session_and_from_the_cli_are_listed(store: RunStore, tmp_path: Path) -> None:
    earlier = store.save(synthetic_result(seed=51), label="earlier session")
    store.close()
    synthetic_result(seed=52).to_json(tmp_path / "idia.json")
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    done = subprocess.run([*runs_command(), "import", str(tmp_path / "idia.json"), "--label", "from the cli"],
                          env=env, cwd=REPO, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    app = page()
    assert not app.exception
    table = app.dataframe[0].value
    assert list(table["label"]) == ["from the cli", "earlier session"]
    assert list(table["id"])[1] == earlier


def test_opening_one_run_shows_its_numbers_plots_and_downloads(store: RunStore) -> None:
    result = synthetic_result(seed=53)
    run_id = store.save(result, label="baseline")
    app = page(run=str(run_id))
    assert not app.exception
    assert f"Run {run_id} \u00b7 baseline" in texts(app)
    assert app.error[0].value.startswith("Leakage detected")
    assert app.metric[0].value == f"{result.metrics['auc']:.3f}"
    # ROC linear, ROC log-log, scores; then the identity page's own: correct prompts per person, TPR by occurrences
    charts = [chart.key for chart in app.get("plotly_chart")]
    assert charts == [f"run-{run_id}-{name}" for name in ("roc-linear", "roc-log", "score-histogram", "scores", "occ")]
    assert {button.proto.label for button in app.get("download_button")} == {"Report (HTML)", "Result (JSON)", "Per identity (CSV)"}
    identity_table = app.dataframe[2].value  # the attack page's result view, after the runs list and the tau confusion matrix
    assert len(identity_table) == len(result.identities)
    numbers = app.dataframe[3].value  # then every number with its interval
    assert "auc" in " ".join(map(str, numbers["Metric"])).lower()


def test_selecting_two_runs_compares_them(store: RunStore) -> None:
    first = store.save(synthetic_result(seed=54), label="strong")
    second = store.save(synthetic_result(seed=55, separation=0.2, tau=5), label="weak")
    app = page(run=f"{first},{second}")
    assert not app.exception
    assert "Comparing 2 runs" in texts(app)
    comparison = app.dataframe[1].value
    assert list(comparison.columns) == ["metric", f"#{first} strong", f"#{second} weak", f"\u0394 #{second} weak"]
    assert len(app.get("plotly_chart")) == 2


def test_the_list_and_the_comparison_show_each_attacks_own_metrics(store: RunStore) -> None:
    """A backdoor run is read by its attack success rate, a membership run by its AUC (`Attack.metrics`)."""
    from leakage.attacks import get_attack
    from leakage.wording import format_percent

    membership = synthetic_result(seed=58)
    poisoned, shielded = synthetic_backdoor_result(seed=1), synthetic_backdoor_result(seed=2, strength=0.5)
    store.save(membership, label="membership", attack=get_attack("idia"))
    first = store.save(poisoned, label="poisoned", attack=get_attack("backdoor"))
    second = store.save(shielded, label="shielded", attack=get_attack("backdoor"))
    app = page()
    table = app.dataframe[0].value
    headline = dict(zip(table["label"], table["headline"]))
    assert headline == {"membership": f"AUC {membership.metrics['auc']:.3f}", "poisoned": f"ASR {format_percent(poisoned.metrics['asr'])}",
                        "shielded": f"ASR {format_percent(shielded.metrics['asr'])}"}
    assert "AUC" not in table.columns and "TPR @ 1% FPR" not in table.columns  # no membership column for every attack

    app = page(run=f"{first},{second}")
    comparison = app.dataframe[1].value
    rows = dict(zip(comparison["metric"], comparison[f"#{second} shielded"]))
    assert rows["Attack success rate (top-1)"].startswith(format_percent(shielded.metrics["asr"]) + " [")  # with its interval
    assert rows["Clean top-1"].startswith(format_percent(shielded.metrics["clean_top1"]))
    assert rows["MinRank (mean)"] == f"{shielded.metrics['min_rank']:.1f}"
    delta = dict(zip(comparison["metric"], comparison[f"\u0394 #{second} shielded"]))
    assert delta["Attack success rate (top-1)"] == f"{100 * (shielded.metrics['asr'] - poisoned.metrics['asr']):+.1f} pts"
    assert not any("AUC" in metric or "TPR" in metric for metric in comparison["metric"])
    assert app.get("plotly_chart") == []  # no ROC curves for an integrity attack


def test_deleting_a_run_from_the_page_removes_it(store: RunStore) -> None:
    keep = store.save(synthetic_result(seed=56))
    gone = store.save(synthetic_result(seed=57))
    app = page(run=str(gone))
    app.checkbox(key=f"sure-{[gone]}").check().run()
    app.button(key=f"delete-{[gone]}").click().run()
    assert not app.exception
    assert [row.id for row in store.list()] == [keep]


def test_an_identity_run_and_a_stored_check_of_one_person_open_with_the_identity_pages_sections(
        store: RunStore, default_lab, monkeypatch: pytest.MonkeyPatch) -> None:
    """Real IDIA runs on the lab CLIP, stored as the identity page stores them, open with that page's sections
    (ui.parts.identity): the tau slider, the people and their images; one uploaded person's verdict, whose
    photos were never stored (their labels are no paths to read)."""
    from PIL import Image

    from leakage.idia import IDIAConfig, PersonUpload
    from leakage.service import RunRequest, run_attack
    from ui.idia_runs import without_upload_names

    monkeypatch.setenv("LEAKAGE_LAB_DIR", str(default_lab.root))
    config = IDIAConfig(images_per_person=3, n_candidates=100, n_draws=0)
    lab_run = run_attack(RunRequest("idia", "lab", "lab", config=config), store=store).details["run_id"]
    member = sorted(default_lab.members)[0]
    photos = [(path.name, Image.open(path).convert("RGB")) for path in sorted((default_lab.attack_dir / member).glob("*.png"))[:3]]
    check = run_attack(RunRequest("idia", "lab", "uploads", config=config, dataset=[PersonUpload(member, photos)],
                                  dataset_id="uploaded photos (kept in memory only)", label="check one person"),
                       store=store, before_store=without_upload_names).details["run_id"]

    app = page(run=str(lab_run))
    assert not app.exception
    assert [slider.label for slider in app.slider] == ["tau: member when at least this many prompts name the person"]
    assert app.selectbox(key=f"run-{lab_run}-person").label == "Show a person's images and what the model answers"
    assert f"run-{lab_run}-scores" in [chart.key for chart in app.get("plotly_chart")]  # correct prompts per person
    assert app.get("image")  # the picked person's attack images, read from the lab's files
    assert "Verdict" not in [header.value for header in app.subheader]

    app = page(run=str(check))
    assert not app.exception
    assert "Verdict" in [header.value for header in app.subheader]
    assert any(f"The model names **{member}** in" in element.value for element in [*app.error, *app.success])
    assert "upload 1" not in texts(app) and not app.get("image")  # the photos were never stored: nothing to show
    assert f"**{member}**" in texts(app)  # the top-5 names for each photo, without it
