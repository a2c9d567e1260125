"""No CLI summary names a TPR at an FPR level finer than 1/N without saying so (issue 13, item 2).

The summaries are fed real membership metrics (leakage.metrics.membership_summary over scores
with 100 and with 1,000 non-members), including the way results stored before this change look.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest

from leakage.attacks import get_attack
from leakage.metrics import membership_summary
from leakage.results import AttackResult


def membership_metrics(n_members: int, n_nonmembers: int, seed: int = 0) -> dict:
    rng = np.random.default_rng(seed)
    labels = np.r_[np.ones(n_members, dtype=int), np.zeros(n_nonmembers, dtype=int)]
    scores = rng.normal(size=labels.size) + 2.5 * labels
    return membership_summary(labels, scores, threshold=1.0, n_boot=50)


def idia_result(metrics: dict) -> AttackResult:
    identities = [{"name": f"Person {i}", "member": i % 2 == 0, "correct_prompts": i % 21, "score": float(i % 21),
                   "predicted_member": i % 21 >= 1, "n_images": 10} for i in range(12)]
    return AttackResult(
        attack="idia",
        config={"images_per_person": 10, "tau": 1, "templates": ["{}"] * 21, "n_candidates": 1000},
        metrics={"n_identities": 12, "n_images": 120, "n_candidates": 1000, "n_predicted_members": 11, **metrics},
        identities=identities, seeds={}, model={"model": "lab"}, dataset={"id": "lab"},
    )


def mim_result(metrics: dict) -> AttackResult:
    identities = [{"name": f"p{i}/0000.png", "person": f"p{i}", "member": i % 2 == 0, "score": -0.1 * i,
                   "reconstruction_error": 0.1 * i} for i in range(12)]
    return AttackResult(
        attack="mim",
        config={"mask_ratio": 0.75, "n_masks": 8, "seed": 0, "score": "-reconstruction error", "model": "lab-mae",
                "reference_model": None},
        metrics={"n_identities": 12, "n_images": 12, "n_people": 12, **metrics},
        identities=identities, seeds={}, model={"model": "lab-mae"}, dataset={"id": "lab-mae"},
    )


def cli_summary(result: AttackResult) -> str:
    """What `python -m leakage <attack>` prints for a result (the attack's declared summary)."""
    return "\n".join(get_attack(result.attack).call("summary_lines", result))


SUMMARIES = {"idia": (cli_summary, idia_result), "mim": (cli_summary, mim_result)}
LEVEL = re.compile(r"(\d+(?:\.\d+)?)% FPR")


def claimed_levels(text: str) -> list[float]:
    """Every FPR level a line names as "x% FPR" (x > 0)."""
    return [float(value) / 100 for value in LEVEL.findall(text) if float(value) > 0]


@pytest.mark.parametrize("attack", sorted(SUMMARIES))
def test_with_100_non_members_no_level_below_1_percent_is_claimed(attack: str) -> None:
    summary, make = SUMMARIES[attack]
    metrics = membership_metrics(50, 100)
    text = summary(make(metrics))
    assert all(level >= 1 / 100 for level in claimed_levels(text)), text
    assert "0.1% FPR" not in text
    line = next(line for line in text.splitlines() if line.startswith("TPR at FPR = 0"))
    assert line.startswith("TPR at FPR = 0 (N = 100: levels below 1% not resolvable): ")
    assert f"{metrics['tpr_at_fpr']['0']:.3f}" in line and f"{metrics['tpr_at_fpr']['0.001']:.3f}" in line
    assert "TPR at 1% FPR: " in text


@pytest.mark.parametrize("attack", sorted(SUMMARIES))
def test_with_1000_non_members_every_level_is_shown(attack: str) -> None:
    summary, make = SUMMARIES[attack]
    text = summary(make(membership_metrics(50, 1000)))
    for label in ("TPR at 1% FPR: ", "TPR at 0.1% FPR: ", "TPR at 0% FPR: "):
        assert label in text
    assert "not resolvable" not in text


@pytest.mark.parametrize("attack", sorted(SUMMARIES))
def test_a_result_stored_without_n_nonmembers_says_the_number_is_unknown(attack: str) -> None:
    summary, make = SUMMARIES[attack]
    metrics = membership_metrics(50, 100)
    stored = make(metrics)
    del stored.metrics["n_nonmembers"]
    text = summary(stored)
    assert "TPR at 0.1% FPR (number of non-members unknown): " in text


def visible_text(html: str) -> str:
    import re as _re

    body = html.split("<body>", 1)[1]
    body = _re.sub(r"<script.*?</script>", " ", body, flags=_re.S)
    return _re.sub(r"<[^>]+>", " ", body)


@pytest.mark.parametrize("attack", sorted(SUMMARIES))
def test_the_html_report_claims_no_level_finer_than_one_over_n(attack: str) -> None:
    from leakage.report import render_report

    _, make = SUMMARIES[attack]
    text = visible_text(render_report(make(membership_metrics(50, 100))))
    assert all(level >= 1 / 100 for level in claimed_levels(text)), [line for line in text.splitlines() if "FPR" in line]
    assert "TPR at FPR = 0 (N = 100: levels below 1% not resolvable)" in text


def test_the_runs_page_claims_no_level_finer_than_one_over_n(tmp_path, monkeypatch) -> None:
    from streamlit.testing.v1 import AppTest

    from leakage.store import RunStore

    url = f"sqlite:///{tmp_path / 'runs.sqlite'}"
    monkeypatch.setenv("LEAKAGE_DB_URL", url)
    first = RunStore(url).save(idia_result(membership_metrics(50, 100)))
    second = RunStore(url).save(idia_result(membership_metrics(50, 100, seed=1)))
    for runs in (str(first), f"{first},{second}"):
        app = AppTest.from_file(str(Path(__file__).resolve().parent.parent / "app_pages" / "runs.py"), default_timeout=60)
        app.query_params["run"] = runs
        app.run()
        assert not app.exception
        shown = [metric.label for metric in app.metric]
        for frame in app.dataframe:
            shown += [str(value) for value in frame.value.to_numpy().ravel()] + [str(column) for column in frame.value.columns]
        text = "\n".join(shown)
        assert all(level >= 1 / 100 for level in claimed_levels(text)), text
        assert "TPR at FPR = 0 (N = 100: levels below 1% not resolvable)" in text
