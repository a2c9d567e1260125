"""A lesson's handout: one self-contained HTML file (plotly.js inline, no external URL) with every
step as it was run (its claim and whether the lab showed it, the numbers, the figure, the plain
words, the question and the answer the next step gave), the runs behind it and the papers to read;
and its PDF, printed by `leakage.report.render_pdf`. No Streamlit."""

from __future__ import annotations

import datetime as _dt
import html
from collections.abc import Mapping
from pathlib import Path

from leakage import __version__
from leakage.attacks.base import THREATS
from leakage.lessons import HOLDS, FAILS, Lesson, reference
from leakage.report import _CSS, _RESIZE_SCRIPT, _figure_html, render_pdf
from leakage.results import AttackResult

_HANDOUT_CSS = """
.step { break-before: page; } .step:first-of-type { break-before: auto; }
.claim { font-size: 1.15em; font-weight: 600; }
.answer { background: #eef4fb; border-left: 6px solid #1f77b4; padding: 10px 16px; border-radius: 6px; }
.question { background: #fff8e1; border-left: 6px solid #f9a825; padding: 10px 16px; border-radius: 6px; font-weight: 600; }
ul.checks { list-style: none; padding-left: 0; } ul.checks li { margin: 4px 0; }
.holds { color: #2e7d32; } .fails { color: #c62828; } .pending { color: #8a90a0; }
.frame { color: #5a6275; text-transform: uppercase; letter-spacing: 0.04em; font-size: 0.85em; }
"""


def _checks(step, results) -> str:
    rows = []
    for check in step.checks(results):
        css = {HOLDS: "holds", FAILS: "fails"}.get(check.status, "pending")
        word = {HOLDS: "shown", FAILS: "not shown"}.get(check.status, "not measured")
        rows.append(f'<li class="{css}">{check.mark} <strong>{html.escape(check.claim)}</strong> ({word})'
                    + (f": {html.escape(check.evidence)}" if check.evidence else "") + "</li>")
    return f'<ul class="checks">{"".join(rows)}</ul>' if rows else ""


def _numbers(step, results) -> str:
    numbers = step.numbers(results)
    if not numbers:
        return ""
    body = "".join(f"<tr><td>{html.escape(n.label)}</td><td class=\"num\">{html.escape(n.value)}</td>"
                   f"<td>{html.escape(n.help)}</td></tr>" for n in numbers)
    return f"<table><thead><tr><th>Measured</th><th>Value</th><th>What it is</th></tr></thead><tbody>{body}</tbody></table>"


def _runs(step, results, run_ids: Mapping[str, int | None]) -> str:
    items = []
    for run in step.runs:
        result = results.get(run.id)
        if result is None:
            items.append(f"<li>{html.escape(run.title)}: not run when this handout was made</li>")
            continue
        stored = run_ids.get(run.id)
        where = f"run {stored} in the run store" if stored is not None else "not in the run store"
        items.append(f"<li>{html.escape(run.title)}: {html.escape(result.attack)} on {html.escape(str(result.model.get('model')))}, "
                     f"data {html.escape(str(result.dataset.get('id')))}, config hash {html.escape(result.config_hash)}, "
                     f"{html.escape(where)}, {html.escape(result.created_at)}</li>")
    return f'<p class="note">Runs behind this step:</p><ul class="note">{"".join(items)}</ul>' if items else ""


def render_handout(lesson: Lesson, results: Mapping[str, AttackResult], run_ids: Mapping[str, int | None] | None = None) -> str:
    """The lesson with `results` (by run id; a run not there is said to be missing) as one HTML page."""
    esc = html.escape
    run_ids = dict(run_ids or {})
    for run_id, result in results.items():
        run_ids.setdefault(run_id, result.details.get("run_id"))
    sections, first_figure = [], True
    for index, step in enumerate(lesson.steps):
        mine = {run.id: results[run.id] for run in step.runs if run.id in results}
        figure_html = ""
        figure = step.figure(mine)
        if figure is not None:
            figure_html = f'<div class="figure wide">{_figure_html(figure, f"figure-{step.id}", first_figure)}</div>'
            first_figure = False
        elif step.runs:
            figure_html = '<p class="note">No figure: the runs of this step were not there when this handout was made.</p>'
        asked = lesson.previous_question(index)
        answer = step.answer(mine) if asked else None
        revealed = (f'<div class="answer"><p><em>{esc(asked)}</em></p><p>{esc(answer)}</p></div>' if answer
                    else f'<div class="answer"><p><em>{esc(asked)}</em></p><p>Not answered: this step was not run.</p></div>'
                    if asked else "")
        references = "".join(f"<li>{esc(reference(key).citation)}: {esc(reference(key).shows)}</li>" for key in step.references)
        number = f"Step {index} of {len(lesson.steps) - 1}" if index else "Introduction"
        frame = f"{number} \u00b7 {step.frame}" if step.frame else number
        sections.append(f"""
<section class="step" id="step-{esc(step.id)}">
<p class="frame">{esc(frame)}</p>
<h2>{esc(step.title)}</h2>
{revealed}
<p class="claim">{esc(step.claim)}</p>
{_checks(step, mine)}
{_numbers(step, mine)}
{figure_html}
{''.join(f'<p>{esc(paragraph)}</p>' for paragraph in step.explanation)}
<p class="question">{'For discussion: ' if step.discussion else 'Question: '}{esc(step.question)}</p>
{f'<p class="note">To read more:</p><ul class="note">{references}</ul>' if references else ''}
{_runs(step, mine, run_ids)}
</section>""")
    generated = _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")
    threats = "".join(f"<li>{esc(text)}</li>" for text in THREATS.values())
    return f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{esc(lesson.title)}</title>
<style>{_CSS}{_HANDOUT_CSS}</style>
</head>
<body>
<header>
<h1>{esc(lesson.title)}</h1>
<p class="subtitle">Handout \u00b7 {esc(lesson.summary)} \u00b7 computed live on the lab, a synthetic world of invented people</p>
</header>
<section id="frame">
<p class="note">The risks of foundation models, after Jia, Liu and Gong:</p>
<ul class="note">{threats}</ul>
</section>
{''.join(sections)}
<footer>Generated {esc(generated)} by the leakage dashboard {esc(__version__)}. Every run above is in the run store of the
server that made this handout (the Runs page opens it); <code>python -m leakage lesson run</code> runs the lesson again.</footer>
{_RESIZE_SCRIPT if not first_figure else ""}
</body>
</html>
"""


def render_handout_pdf(lesson: Lesson, results: Mapping[str, AttackResult], path: str | Path,
                       run_ids: Mapping[str, int | None] | None = None) -> Path:
    """The handout printed to PDF (needs Chromium: `leakage.report.render_pdf`)."""
    return render_pdf(render_handout(lesson, results, run_ids), path)
