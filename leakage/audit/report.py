"""The combined report of a plan: one self-contained HTML file with every job's status and headline
number, a chart of each attack's primary metric per job with its confidence interval, and, per
attack, the runs side by side (`leakage.comparison`). The numbers are those each attack declares
(`Attack.metrics`): AUC for membership attacks, the attack success rate for a backdoor. No Streamlit."""

from __future__ import annotations

import datetime as _dt
import html
from collections.abc import Mapping
from typing import Any

import plotly.graph_objects as go

from leakage.attacks import attack_spec
from leakage.comparison import compare_runs, comparison_rows
from leakage.report import _CSS
from leakage.results import AttackResult

_STATUS_TEXT = {"done": "done", "skipped": "already stored", "failed": "failed", "cancelled": "cancelled",
                "pending": "not run", "running": "running"}


def _table(rows: list[dict[str, str]], table_id: str = "") -> str:
    if not rows:
        return ""
    columns = list(rows[0])
    head = "".join(f"<th>{html.escape(column)}</th>" for column in columns)
    body = "".join("<tr>" + "".join(f"<td>{html.escape(str(row.get(column, '')))}</td>" for column in columns) + "</tr>"
                   for row in rows)
    return f'<table id="{table_id}"><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>'


def job_rows(summary: Mapping[str, Any], results: Mapping[int, AttackResult] | None = None) -> list[dict[str, str]]:
    """One row per job: its status, the headline number its attack declares (AUC, ASR ...) with its
    interval, and the attack's verdict on its stored result."""
    rows = []
    for job in summary["jobs"]:
        metrics = job.get("metrics") or {}
        attack = attack_spec(job["attack"])
        primary = attack.primary_spec
        stored = (results or {}).get(job.get("run_id"))
        rows.append({
            "job": job["name"], "attack": job["attack"], "model": job["model"], "data": job["data"],
            "status": _STATUS_TEXT.get(job["status"], job["status"]) + (f" ({job['attempts']} tries)" if job.get("attempts", 0) > 1 else ""),
            "headline": f"{primary.name} {primary.show_measured(metrics)}" if primary.read(metrics) is not None else "\u2014",
            "verdict": attack.call("verdict", stored)[0] if stored is not None else "",
            "config hash": job.get("config_hash") or "",
            "run": str(job.get("run_id") or ""),
            "error": job.get("error") or "",
        })
    return rows


def _chart(summary: Mapping[str, Any]) -> str:
    """Per attack, its primary metric for every job that has one, with the interval and the guessing line."""
    shown = []
    for name in dict.fromkeys(job["attack"] for job in summary["jobs"]):
        spec = attack_spec(name).primary_spec
        jobs = [job for job in summary["jobs"] if job["attack"] == name and spec.read(job.get("metrics")) is not None]
        if not jobs:
            continue
        values = [spec.read(job["metrics"]) for job in jobs]
        cis = [spec.read_interval(job["metrics"]) or [value, value] for job, value in zip(jobs, values)]
        percent = spec.format == "rate"
        figure = go.Figure(go.Bar(
            x=[job["name"] for job in jobs], y=values,
            error_y={"type": "data", "symmetric": False, "array": [high - value for (low, high), value in zip(cis, values)],
                     "arrayminus": [value - low for (low, high), value in zip(cis, values)]},
            marker_color="#4c72b0",
        ))
        if spec.chance is not None:
            figure.add_hline(y=spec.chance, line_dash="dash", line_color="#999999", annotation_text="guessing")
        figure.update_layout(template="plotly_white", height=420, yaxis_title=f"{spec.name} (95% CI)",
                             yaxis={"range": [0, 1.05], "tickformat": ".0%" if percent else None} if spec.format in ("rate", "score") else {},
                             title=f"{spec.name} per job ({attack_spec(name).title})", margin={"l": 60, "r": 20, "t": 50, "b": 120})
        div = "auc-per-job" if spec.key == "auc" else f"{spec.key}-per-job-{name}"
        shown.append(figure.to_html(full_html=False, include_plotlyjs=not shown, div_id=div))
    return "".join(shown)


def render_plan_report(summary: Mapping[str, Any], results: Mapping[int, AttackResult]) -> str:
    """The plan's report; `results` are the stored runs of its jobs by run id."""
    counts = summary["counts"]
    sections = []
    for attack in dict.fromkeys(job["attack"] for job in summary["jobs"]):
        jobs = [job for job in summary["jobs"] if job["attack"] == attack and job.get("run_id") in results]
        if len(jobs) < 2:
            continue
        compared = [results[job["run_id"]] for job in jobs]
        comparison = compare_runs(compared, names=[job["name"] for job in jobs], attacks=[attack_spec(r.attack) for r in compared])
        differing = ", ".join(key for key in comparison["config_differences"] if key not in ("model_fingerprint",))
        sections.append(
            f"<h2>{html.escape(attack_spec(attack).title)}: the runs side by side</h2>"
            f"<p class=\"note\">Settings that differ: {html.escape(differing or 'none')}. "
            + ("All runs used the same data." if comparison["same_data"] else "The runs used different data: a difference may come from the data.")
            + "</p>" + _table(comparison_rows(comparison), f"comparison-{attack}")
        )
    failed = [job for job in summary["jobs"] if job["status"] == "failed"]
    failures = "".join(f"<li><b>{html.escape(job['name'])}</b>: {html.escape(job['error'] or '')}</li>" for job in failed)
    when = _dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>Audit report</title><style>{_CSS}</style></head><body>
<h1>Audit report</h1>
<p class="subtitle">{html.escape(summary.get('plan') or 'plan')} \u00b7 backend {html.escape(summary['backend'])} \u00b7 {when}</p>
<p>{len(summary['jobs'])} jobs: {counts['done']} run now, {counts['skipped']} already stored, {counts['failed']} failed,
{counts['cancelled']} cancelled.</p>
{"<h2>Failed jobs</h2><ul>" + failures + "</ul>" if failures else ""}
<h2>Jobs</h2>
{_table(job_rows(summary, results), "jobs")}
<div class="figure wide">{_chart(summary)}</div>
{''.join(sections)}
<footer>Every run is in the run store (column "run"); open it on the Runs page for its full report.</footer>
</body></html>"""
