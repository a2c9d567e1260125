"""The stakeholder report: self-contained HTML with the run's numbers, and plots that really render in Chromium."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from leakage.attacks import get_attack
from leakage.comparison import compare_runs
from leakage.figures import result_roc, roc_figure, short_model_name
from leakage.report import render_pdf, render_report
from leakage.wording import plain_summary
from leakage.results import AttackResult
from runs_fixtures import synthetic_result

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
needs_chromium = pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="Debian chromium not installed (make browser)")


@pytest.fixture(scope="module")
def result() -> AttackResult:
    return synthetic_result(seed=21, n_members=40, n_nonmembers=160)


@pytest.fixture(scope="module")
def report(result: AttackResult) -> str:
    return render_report(result, run_id=7, label="baseline")


# --------------------------------------------------------------------------- the HTML itself


def test_report_is_self_contained(report: str) -> None:
    script_tags = re.findall(r"<script\b[^>]*>", report, flags=re.I)
    assert script_tags and not any("src" in tag.lower() for tag in script_tags)
    # plotly.js itself mentions URLs in strings (attribution links it never loads); the page around it may not
    markup = re.sub(r"<script\b[^>]*>.*?</script>", "", report, flags=re.I | re.S)
    assert re.findall(r"""(?:src|href)\s*=\s*["']?\s*((?:https?:)?//[^"'\s>]+)""", markup, flags=re.I) == []
    assert not re.search(r"@import|url\(\s*['\"]?(?:https?:)?//", markup, flags=re.I)
    assert report.count("Plotly.newPlot") == 3  # ROC linear, ROC log-log, score histogram
    assert len(re.findall(r"\* plotly\.js v\d", report)) == 1  # the library inline, exactly once


def test_report_holds_the_numbers_the_plain_summary_and_provenance(result: AttackResult, report: str) -> None:
    metrics, at = result.metrics, result.metrics["at_threshold"]
    low, high = metrics["auc_ci"]
    assert f"AUC {metrics['auc']:.2f}, 95% CI {low:.2f}\u2013{high:.2f}" in report
    assert f"for {at['tp']} of {at['tp'] + at['fn']} members" in report
    assert f"wrongly accusing {at['fp']} of {at['fp'] + at['tn']} non-members" in report
    assert "a few photos and the name of a person" in report
    assert "Confidentiality" in report and " leaks: " in report and "low false positive rate" in report
    for key in ("0.01", "0.001", "0"):
        assert f"{100 * metrics['tpr_at_fpr'][key]:.1f}".rstrip("0").rstrip(".") + "%" in report
    assert result.config_hash in report and result.code_version in report
    assert all(row["name"] in report for row in result.identities)
    assert "run 7" in report and "baseline" in report
    for div_id in ("roc-linear", "roc-log", "score-histogram"):
        assert f'id="{div_id}"' in report


def test_report_escapes_what_comes_from_the_data() -> None:
    hostile = synthetic_result(seed=22, n_members=5, n_nonmembers=5)
    hostile.identities[0]["name"] = "<script>alert('x')</script>"
    hostile.config["note"] = "</pre><img src=x onerror=alert(1)>"
    text = render_report(hostile)
    assert "<script>alert" not in text and "<img src=x" not in text
    assert "&lt;script&gt;alert" in text


def test_a_single_person_check_without_ground_truth_still_reports() -> None:
    check = AttackResult(
        attack="idia",
        config={"tau": 1, "templates": ["{}"] * 21},
        metrics={"n_identities": 1, "n_predicted_members": 1},
        identities=[{"name": "Jane Doe", "score": 4.2, "correct_prompts": 4, "predicted_member": True}],
        seeds={"draw": 0},
    )
    assert plain_summary(check, get_attack("idia"))[0].startswith("The attack says Jane Doe was in the model's training data")
    text = render_report(check)
    assert "No ground truth" in text and "Jane Doe" in text
    assert "Plotly.newPlot" not in text  # no ROC without truth, and no plotly.js dead weight


def test_log_log_roc_reaches_below_one_in_a_thousand_with_zeros_on_the_floor(result: AttackResult) -> None:
    curve = result_roc(result)
    figure = roc_figure([curve], log_axes=True)
    assert figure.layout.xaxis.type == figure.layout.yaxis.type == "log"
    assert figure.layout.xaxis.range[0] <= -3
    floor = 10 ** figure.layout.xaxis.range[0]
    roc_trace = next(trace for trace in figure.data if trace.name == curve.name)
    assert min(roc_trace.x) == pytest.approx(floor)  # FPR 0 drawn on the axis edge, not dropped
    chance = figure.data[0]
    assert chance.name.startswith("chance") and list(chance.x) == list(chance.y)


def test_compare_runs_puts_metrics_side_by_side_with_differences_from_the_first() -> None:
    runs = [synthetic_result(seed=31), synthetic_result(seed=32, separation=0.2, tau=5)]
    comparison = compare_runs(runs, names=["strong", "weak"])
    rows = {row["key"]: row for row in comparison["metrics"]}
    assert rows["auc"]["values"] == [run.metrics["auc"] for run in runs]
    assert rows["auc"]["differences"] == [None, pytest.approx(runs[1].metrics["auc"] - runs[0].metrics["auc"])]
    assert rows["auc"]["cis"] == [run.metrics["auc_ci"] for run in runs]
    assert rows["tpr@1%"]["values"][1] == runs[1].metrics["tpr_at_fpr"]["0.01"]
    assert comparison["config_differences"] == {"tau": [8, 5], "seed": [31, 32]}
    assert comparison["names"] == ["strong", "weak"] and comparison["same_data"] is True
    with pytest.raises(ValueError):
        compare_runs(runs, names=["only one"])


def test_compare_runs_reads_each_run_with_the_metrics_its_attack_declares() -> None:
    from runs_fixtures import synthetic_backdoor_result

    membership, backdoor = synthetic_result(seed=33), synthetic_backdoor_result(seed=4)
    comparison = compare_runs([membership, backdoor], attacks=[get_attack("idia"), get_attack("backdoor")])
    rows = {row["key"]: row for row in comparison["metrics"]}
    assert rows["auc"]["values"] == [membership.metrics["auc"], None] and rows["auc"]["differences"] == [None, None]
    assert rows["asr"]["values"] == [None, backdoor.metrics["asr"]] and rows["asr"]["cis"] == [None, backdoor.metrics["asr_ci"]]
    assert rows["min_rank"]["higher_is_better"] is False and rows["asr"]["format"] == "rate"
    # the better run by each metric's own direction: a lower MinRank is the stronger backdoor
    weak = synthetic_backdoor_result(seed=4, strength=0.3)
    both = {row["key"]: row for row in compare_runs([weak, backdoor], attacks=[get_attack("backdoor")] * 2)["metrics"]}
    assert both["asr"]["best"] == 1 and both["min_rank"]["best"] == 1


# --------------------------------------------------------------------------- in a real browser


@pytest.fixture(scope="module")
def browser():
    playwright_api = pytest.importorskip("playwright.sync_api")
    if not Path(CHROMIUM).exists():
        pytest.skip("Debian chromium not installed (make browser)")
    with playwright_api.sync_playwright() as playwright:
        # Debian's chromium, never a browser downloaded by playwright
        launched = playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        yield launched
        launched.close()


def colour_share(path: Path, rgb: tuple[int, int, int], tolerance: int = 30) -> float:
    pixels = np.asarray(Image.open(path).convert("RGB"), dtype=int)
    close = (np.abs(pixels - np.array(rgb)) <= tolerance).all(axis=2)
    return float(close.mean())


@pytest.mark.e2e
def test_report_opens_offline_in_chromium_and_the_plots_render(
    browser, result: AttackResult, report: str, tmp_path: Path
) -> None:
    page_file = tmp_path / "report.html"
    page_file.write_text(report, encoding="utf-8")
    context = browser.new_context(viewport={"width": 1280, "height": 900}, offline=True)
    external: list[str] = []
    page = context.new_page()
    page.on("request", lambda request: external.append(request.url) if not request.url.startswith(("file:", "data:", "blob:")) else None)
    page.goto(page_file.as_uri())
    page.wait_for_selector("#roc-log .main-svg", timeout=30_000)

    assert page.locator(".js-plotly-plot").count() == 3
    drawn = page.evaluate(
        """() => { const g = document.getElementById('roc-linear');
                   const roc = g.data.find(t => t.mode === 'lines' && t.line && t.line.width === 2);
                   return {x: Array.from(roc.x), y: Array.from(roc.y), log: document.getElementById('roc-log').layout.xaxis.type}; }"""
    )
    assert drawn["x"] == pytest.approx(result.metrics["roc"]["fpr"])
    assert drawn["y"] == pytest.approx(result.metrics["roc"]["tpr"])
    assert drawn["log"] == "log"
    assert page.locator("#roc-linear path.js-line").count() >= 2  # curve and chance line are drawn as SVG paths
    overflow = page.evaluate(
        """() => Array.from(document.querySelectorAll('.figure')).map(box =>
                 box.querySelector('.main-svg').getBoundingClientRect().width - box.getBoundingClientRect().width)"""
    )
    assert max(overflow) <= 1, f"a plot is wider than its box: {overflow}"

    page.screenshot(path=str(tmp_path / "report.png"), full_page=True)
    page.locator("#roc-linear").screenshot(path=str(tmp_path / "roc-linear.png"))
    page.locator("#roc-log").screenshot(path=str(tmp_path / "roc-log.png"))
    for name in ("roc-linear.png", "roc-log.png"):
        assert colour_share(tmp_path / name, (31, 119, 180)) > 0.002, f"no ROC curve pixels in {name}"
    assert (tmp_path / "report.png").stat().st_size > 50_000
    assert external == []
    context.close()


@pytest.mark.e2e
@needs_chromium
def test_pdf_export_prints_the_report(report: str, tmp_path: Path) -> None:
    pdf = render_pdf(report, tmp_path / "report.pdf", chromium=CHROMIUM)
    data = pdf.read_bytes()
    assert data.startswith(b"%PDF") and len(data) > 20_000
    # the same report with plotting switched off prints smaller: the plots made it into the PDF
    without_plots = render_pdf(report.replace("Plotly.newPlot(", "(function () {})("), tmp_path / "bare.pdf", chromium=CHROMIUM)
    assert len(data) > without_plots.stat().st_size + 10_000


@pytest.mark.parametrize(
    ("model", "shown"),
    [
        ("/tmp/pytest-of-root/pytest-3/blur-aware0", "pytest-3/blur-aware0"),
        ("/models/vit-mae-base", "models/vit-mae-base"),
        ("facebook/vit-mae-base", "facebook/vit-mae-base"),
        ("lab-vlm", "lab-vlm"),
    ],
)
def test_legends_name_models_briefly(model, shown):
    assert short_model_name(model) == shown
