"""Stakeholder report of a run: one self-contained HTML file (plotly.js inline, no external URL)
for people who will never open a terminal: the risk in plain words first, then the method, the
numbers with confidence intervals and what they mean, the attack's figures, the per-item table and
what reproduces the run. Also its PDF, printed by a local Chromium.

Words come from `leakage.wording`, figures from the attack's own declaration (`leakage.attacks`).
No Streamlit.
"""

from __future__ import annotations

import datetime as _dt
import html
import json
import math
import shutil
import subprocess
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import plotly.graph_objects as go

from leakage import __version__
from leakage.attacks import attack_spec
from leakage.attacks.base import THREATS
from leakage.results import AttackResult
from leakage.wording import decision_rule, format_number, plain_summary


# --------------------------------------------------------------------------- HTML report

_CSS = """
body { font-family: system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; color: #1d2330; max-width: 1100px;
       margin: 0 auto; padding: 24px 32px 64px; line-height: 1.5; }
h1 { font-size: 1.7em; margin-bottom: 0.2em; } h2 { margin-top: 2em; border-bottom: 1px solid #d6dae3; padding-bottom: 4px; }
.subtitle { color: #5a6275; margin-top: 0; }
.verdict { padding: 14px 18px; border-radius: 8px; font-size: 1.1em; font-weight: 600; margin: 16px 0; }
.verdict.leak { background: #fdecea; border-left: 6px solid #c62828; }
.verdict.none { background: #e8f5e9; border-left: 6px solid #2e7d32; }
.verdict.below, .verdict.unknown { background: #fff8e1; border-left: 6px solid #f9a825; }
table { border-collapse: collapse; width: 100%; font-size: 0.92em; margin: 8px 0; }
th, td { text-align: left; padding: 6px 10px; border-bottom: 1px solid #e3e6ee; vertical-align: top; }
th { background: #f4f6fa; } td.num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
tr.member td:first-child { border-left: 3px solid #d62728; } #identity-table td:first-child { white-space: nowrap; }
.figures { display: grid; grid-template-columns: repeat(auto-fill, minmax(420px, 1fr)); gap: 12px; }
.figure { min-width: 0; } .figure.wide { grid-column: 1 / -1; }
pre { background: #f4f6fa; padding: 12px; border-radius: 6px; overflow-x: auto; font-size: 0.85em; }
.note { color: #5a6275; font-size: 0.9em; } footer { margin-top: 48px; color: #8a90a0; font-size: 0.85em; }
@media print { .figure { break-inside: avoid; } h2 { break-after: avoid; } }
"""

# A plot drawn while the page is still loading sizes itself to the layout of that moment;
# once everything is in place, fit every plot to its final box.
_RESIZE_SCRIPT = """<script>
window.addEventListener("load", function () {
  document.querySelectorAll(".js-plotly-plot").forEach(function (plot) { Plotly.Plots.resize(plot); });
});
</script>"""

_IDENTITY_FIRST_COLUMNS = ("name", "member", "predicted_member", "score")


REPORT_TITLE = {"confidentiality": "What {model} leaks: {title}", "integrity": "How {model} can be manipulated: {title}"}
NUMBERS_NOTE = {
    "confidentiality": (
        "The field reports membership attacks by their true positive rate (TPR, share of members found) at a low false "
        "positive rate (FPR, share of non-members wrongly accused), because an attack that finds a few people with "
        "certainty matters more than one that is slightly better than guessing on average (Carlini et al., "
        "\u201cMembership Inference Attacks From First Principles\u201d, 2022)."
    ),
    "integrity": (
        "An integrity attack is reported by its attack success rate (ASR, share of attacked photos named as the target) "
        "with the model's clean accuracy beside it, because a defense that breaks the model also stops the attack."
    ),
}


def _identity_table(result: AttackResult) -> str:
    rows = sorted(result.identities, key=lambda row: -row["score"] if isinstance(row.get("score"), (int, float)) else math.inf)
    columns = [c for c in _IDENTITY_FIRST_COLUMNS if any(c in row for row in rows)]
    columns += [c for c in dict.fromkeys(k for row in rows for k in row) if c not in columns]
    header = "".join(f"<th>{html.escape(c.replace('_', ' '))}</th>" for c in columns)

    def cell(column: str, value: Any) -> str:
        if column == "member":
            text = {True: "member", False: "non-member"}.get(value if isinstance(value, bool) else None, "unknown")
        elif column == "predicted_member":
            text = {True: "flagged", False: "not flagged"}.get(value if isinstance(value, bool) else None, "\u2014")
        elif isinstance(value, (dict, list)):
            text = json.dumps(value)
        else:
            text = format_number(value)
        numeric = isinstance(value, (int, float)) and not isinstance(value, bool)
        return ('<td class="num">' if numeric else "<td>") + html.escape(text) + "</td>"

    body = "\n".join(
        ('<tr class="member">' if row.get("member") is True else "<tr>") + "".join(cell(c, row.get(c)) for c in columns) + "</tr>"
        for row in rows
    )
    return f'<table id="identity-table"><thead><tr>{header}</tr></thead><tbody>\n{body}\n</tbody></table>'


def _plain_words(words: Sequence[str]) -> str:
    """The lesson's plain words for this kind of run: its lesson step's title, what this run shows, why it matters."""
    if not words:
        return ""
    title, *rest = words
    return (f'<section id="plain-words">\n<h2>In plain words</h2>\n<p class="lead"><strong>{html.escape(title)}</strong> '
            + " ".join(f"{html.escape(sentence)}" for sentence in rest[:1]) + "</p>\n"
            + "".join(f"<p>{html.escape(sentence)}</p>" for sentence in rest[1:])
            + '\n<p class="note">The same words open the matching step of the Lessons page, where this attack is shown live on the lab.</p>\n</section>')


def _metrics_table(rows: list[dict[str, str]]) -> str:
    body = "\n".join(
        f"<tr><td>{html.escape(r['metric'])}</td><td class=\"num\">{html.escape(r['value'])}</td>"
        f"<td class=\"num\">{html.escape(r['ci'])}</td><td>{html.escape(r['meaning'])}</td></tr>"
        for r in rows
    )
    return ('<table id="metrics-table"><thead><tr><th>Metric</th><th>Value</th><th>Confidence interval</th>'
            f"<th>What it means</th></tr></thead><tbody>\n{body}\n</tbody></table>")


def _key_values(pairs: Sequence[tuple[str, Any]]) -> str:
    body = "".join(
        f"<tr><th>{html.escape(key)}</th><td>{html.escape(value if isinstance(value, str) else json.dumps(value))}</td></tr>"
        for key, value in pairs
    )
    return f"<table>{body}</table>"


def _figure_html(figure: go.Figure, div_id: str, first: bool) -> str:
    return figure.to_html(
        full_html=False,
        include_plotlyjs=first,  # the whole plotly.js once, inline: the file works offline
        div_id=div_id,
        config={"displaylogo": False, "responsive": True},
    )


def render_report(result: AttackResult, run_id: int | None = None, label: str | None = None, attack: Any = None) -> str:
    """A self-contained HTML report of one run for stakeholders (plotly.js inline, no external URLs);
    its words, numbers and figures are those `attack` (default: the result's, from the registry) declares."""
    info = attack or attack_spec(result.attack)
    esc = html.escape
    model = result.model.get("model") or result.config.get("model") or "unknown model"
    pretrained = result.model.get("pretrained")
    model_text = f"{model} ({pretrained})" if pretrained else str(model)
    run_text = " \u00b7 ".join(part for part in (f"run {run_id}" if run_id is not None else "", label or "") if part)
    level, headline = info.call("verdict", result)
    from leakage.lessons import plain_words  # the Lessons' words for this attack, at the top of the report

    words = plain_words(result, info)
    summary = plain_summary(result, info)
    if summary and summary[0] == headline:
        summary = summary[1:]

    figures = info.call("figures", result, name=model_text)
    figure_html = "".join(
        f'<div class="figure{" wide" if figure.wide else ""}">{_figure_html(figure.figure, figure.id, index == 0)}'
        + (f'<p class="note">{esc(figure.note)}</p>' if figure.note else "") + "</div>"
        for index, figure in enumerate(figures)
    )
    if any(figure.id == "roc-linear" for figure in figures):
        figure_note = "Shaded: pointwise 95% bootstrap band. Diamond: the attack's own decision rule. Dashed: guessing."
    elif not figures:
        figure_note = "No figures: this run has no ground truth."
    else:
        figure_note = ""

    rule = decision_rule(result, info)
    method_rows = [("Question", info.question), ("Attacker has", info.attacker_has)]
    if rule:
        method_rows.append(("Decision rule", rule))
    provenance = [
        ("Config hash", result.config_hash),
        ("Code version", result.code_version),
        ("Seeds", result.seeds),
        ("Model", result.model),
        ("Dataset", result.dataset),
        ("Created", result.created_at),
        ("Timing (seconds)", result.timing),
    ]
    problems = ""
    if result.problems:
        problems = f"<p class=\"note\">{len(result.problems)} input files were skipped (unreadable or unusable).</p>"
    generated = _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")
    title = REPORT_TITLE.get(info.threat, "{model}: {title}").format(model=model, title=info.title)
    return f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{esc(title)}</title>
<style>{_CSS}</style>
</head>
<body>
<header>
<h1>{esc(title)}</h1>
<p class="subtitle">{esc(run_text + ' · ' if run_text else '')}model {esc(model_text)} · data {esc(str(result.dataset.get('id', '?')))} · {esc(result.created_at)}</p>
</header>

{_plain_words(words)}
<section id="summary">
<h2>Summary</h2>
<div class="verdict {level}">{esc(headline)}</div>
{''.join(f'<p>{esc(sentence)}</p>' for sentence in summary)}
</section>

<section id="method">
<h2>Method</h2>
<p>{esc(info.explanation)}</p>
{_key_values(method_rows)}
<p><strong>Threat:</strong> {esc(THREATS.get(info.threat, info.threat))}</p>
</section>

<section id="numbers">
<h2>The numbers</h2>
<p class="note">{esc(NUMBERS_NOTE.get(info.threat, ''))}</p>
{_metrics_table(info.call("metric_rows", result))}
</section>

<section id="figures">
<h2>Figures</h2>
<p class="note">{esc(figure_note)}</p>
<div class="figures">{figure_html}</div>
</section>

<section id="identities">
<h2>Per {esc(info.unit)}</h2>
<p class="note">Sorted by score, highest (most likely a member) first.</p>
{_identity_table(result)}
{problems}
</section>

<section id="reproduce">
<h2>Reproduce this run</h2>
<p>The config hash identifies the exact settings; the same config, code version and seeds give the same numbers.</p>
{_key_values(provenance)}
<h3>Config</h3>
<pre id="config">{esc(json.dumps(result.config, indent=2, sort_keys=True))}</pre>
</section>

<footer>Generated {esc(generated)} by the leakage dashboard {esc(__version__)}.</footer>
{_RESIZE_SCRIPT if figures else ""}
</body>
</html>
"""


# --------------------------------------------------------------------------- PDF


def find_chromium() -> str | None:
    """A Chromium (or Chrome) executable on this machine, if any."""
    for name in ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable"):
        found = shutil.which(name)
        if found:
            return found
    return None


def render_pdf(report_html: str, path: str | Path, chromium: str | None = None, timeout: float = 120) -> Path:
    """Print an HTML report to PDF with headless Chromium (no pure-Python PDF library is installed).

    Raises RuntimeError when no Chromium is found or printing fails.
    """
    executable = chromium or find_chromium()
    if executable is None:
        raise RuntimeError("PDF export needs Chromium (e.g. `apt-get install chromium`); the HTML report works without it")
    target = Path(path).resolve()
    with tempfile.TemporaryDirectory(prefix="leakage-report-") as folder:
        page = Path(folder) / "report.html"
        page.write_text(report_html, encoding="utf-8")
        command = [
            executable, "--headless", "--no-sandbox", "--disable-gpu", "--no-pdf-header-footer",
            f"--user-data-dir={Path(folder) / 'profile'}",
            "--virtual-time-budget=10000",  # let plotly draw before printing
            f"--print-to-pdf={target}", page.as_uri(),
        ]
        done = subprocess.run(command, capture_output=True, text=True, timeout=timeout)
    if done.returncode != 0 or not target.is_file() or target.stat().st_size == 0:
        raise RuntimeError(f"Chromium could not print the report (exit {done.returncode}): {done.stderr.strip()[-500:]}")
    return target
