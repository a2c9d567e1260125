"""Figures and tables of a VLM probe result, for the page and reports (no Streamlit here)."""

from __future__ import annotations

import html
from collections.abc import Mapping, Sequence
from typing import Any

import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from leakage.anonymize import Anonymization
from leakage.figures import PALETTE
from leakage.results import AttackResult
from leakage.vlm_calibration import DIAGNOSTIC, IMAGE_CONDITIONAL, NAME_FAMILIARITY, SCORE_LABELS, score_group

GROUPS = (("members", "members", PALETTE[1]), ("nonmembers", "non-members", PALETTE[0]))
METHOD_DASH = {"blur": "solid", "pixelate": "dot"}


def leak_rate_figure(result: AttackResult, height: int = 420) -> go.Figure:
    """Leak rate against anonymization strength, face only and whole image side by side;
    members vs non-members (all people when the data have no ground truth)."""
    rates = result.metrics["leak_rates"]
    settings = [Anonymization.parse(label) for label in rates]
    has_truth = any(rates[label].get("members") is not None for label in rates)
    groups = GROUPS if has_truth else (("all", "everyone", PALETTE[2]),)
    baseline = rates.get("none", {})
    figure = make_subplots(rows=1, cols=2, subplot_titles=("face only", "whole image"), shared_yaxes=True)
    for column, region in enumerate(("face", "image"), 1):
        for method in ("blur", "pixelate"):
            points = sorted((s.strength, s.label) for s in settings if s.method == method and s.region == region)
            if not points:
                continue
            for key, name, color in groups:
                xs = [0.0] + [strength for strength, _ in points]
                ys = [baseline.get(key)] + [rates[label].get(key) for _, label in points]
                figure.add_trace(go.Scatter(
                    x=xs, y=ys, mode="lines+markers", name=f"{name}, {method}", legendgroup=f"{key}-{method}",
                    showlegend=column == 1 or not any(s.region == "face" and s.method == method for s in settings),
                    line={"color": color, "dash": METHOD_DASH[method]},
                    hovertemplate=f"{name}<br>{method} %{{x}} px<br>leak rate %{{y:.3f}}<extra></extra>",
                ), row=1, col=column)
        masks = [s for s in settings if s.method == "mask" and s.region == region]
        for mask in masks:
            for key, name, color in groups:
                figure.add_trace(go.Scatter(
                    x=[0.0], y=[rates[mask.label].get(key)], mode="markers", name=f"{name}, mask",
                    marker={"color": color, "symbol": "square-open", "size": 12}, legendgroup=f"{key}-mask",
                    showlegend=column == 1 or not any(s.method == "mask" and s.region == "face" for s in settings),
                    hovertemplate=f"{name}<br>solid mask<br>leak rate %{{y:.3f}}<extra></extra>",
                ), row=1, col=column)
    figure.update_xaxes(title_text="strength (blur radius / block size, px; 0 = original)")
    figure.update_yaxes(title_text="leak rate (share of answers naming the person)", range=[-0.02, 1.02], row=1, col=1)
    figure.update_layout(template="plotly_white", height=height, margin={"l": 60, "r": 20, "t": 50, "b": 50},
                         legend={"orientation": "h", "y": -0.25})
    return figure


def identity_table(result: AttackResult) -> pd.DataFrame:
    """One row per person: membership, leak rate per setting, closed-set score and rank."""
    rows = []
    for row in result.identities:
        entry: dict[str, Any] = {"name": row["name"], "member": row.get("member")}
        if "occurrences" in row:
            entry["occurrences"] = row["occurrences"]
        for label, rate in row.get("leak_rates", {}).items():
            entry[f"leak rate: {label}"] = round(rate, 3)
        if "score" in row:
            entry["closed-set score"] = round(row["score"], 3)
            entry["closed-set top-1"] = round(row["closed_set_top1"], 3)
            if "raw" in row.get("scores", {}) and result.metrics.get("closed_set_score", "raw") != "raw":
                entry["raw score (name familiarity)"] = round(row["scores"]["raw"], 3)
        rows.append(entry)
    table = pd.DataFrame(rows)
    if "closed-set score" in table:
        table = table.sort_values("closed-set score", ascending=False, ignore_index=True)
    return table


def highlighted_answer(answer: Mapping[str, Any]) -> str:
    """The answer as HTML, with the span that names the person marked."""
    text = answer["answer"] or "(empty answer)"
    match = answer.get("match")
    if not match:
        return html.escape(text)
    start, end = match["start"], match["end"]
    return (
        html.escape(text[:start])
        + f'<mark style="background:#ffd6d6;color:#a00000;font-weight:600">{html.escape(text[start:end])}</mark>'
        + html.escape(text[end:])
    )


def gallery_rows(result: AttackResult, person: str, setting: str) -> list[tuple[dict[str, Any], dict[str, Any] | None]]:
    """(row on the original image, row under `setting` or None when the setting skipped it), per image."""
    by_key = {(row["path"], row["setting"]): row for row in result.images if row["person"] == person}
    originals = [row for (path, label), row in by_key.items() if label == "none"]
    return [(row, by_key.get((row["path"], setting))) for row in sorted(originals, key=lambda r: r["path"])]


def people_for_gallery(result: AttackResult) -> list[str]:
    """People ordered members first, most-leaking first, so the first pick shows something."""
    rows = sorted(result.identities, key=lambda r: (not r.get("member", False), -r.get("leak_rate", 0.0), r["name"]))
    return [row["name"] for row in rows]


def summary_lines(result: AttackResult) -> list[str]:
    """Plain sentences for the top of the results."""
    rates = result.metrics["leak_rates"]
    none = rates.get("none", {})
    lines = []
    if none.get("members") is not None:
        lines.append(
            f"On the original images, **{100 * none['members']:.0f}%** of the answers about members name them, "
            f"against **{100 * (none.get('nonmembers') or 0):.0f}%** for non-members."
        )
    face = [(Anonymization.parse(label), entry) for label, entry in rates.items() if Anonymization.parse(label).needs_faces]
    if face and none.get("members") is not None:
        strongest = max(face, key=lambda item: (item[0].method == "blur", item[0].strength))
        setting, entry = strongest
        if entry.get("members") is not None:
            lines.append(f"With {setting.description}, members are still named in **{100 * entry['members']:.0f}%** of the answers.")
    missing = sum(entry.get("faces_missing", 0) for entry in rates.values())
    if missing:
        lines.append(f"No face was found in some images: face-only settings left out {missing} image-setting pairs (see the table).")
    return lines


def settings_from_choices(
    blur: Sequence[float] = (), pixelate: Sequence[int] = (), mask: bool = False, regions: Sequence[str] = ("face",)
) -> list[str]:
    """Setting labels from the page's toggles: each strength in each chosen region."""
    labels = []
    for region in regions:
        suffix = "@image" if region == "image" else ""
        labels += [f"blur:{radius:g}{suffix}" for radius in blur]
        labels += [f"pixelate:{int(block)}{suffix}" for block in pixelate]
        if mask:
            labels.append(f"mask{suffix}")
    return labels


SCORE_ORDER = IMAGE_CONDITIONAL + NAME_FAMILIARITY + DIAGNOSTIC
CONTROL_COLUMNS = (("masked", "AUC, whole image masked"), ("mismatched", "AUC, mismatched photos"))


def _auc_cell(entry: Mapping[str, Any] | None) -> str:
    if not entry or entry.get("auc") is None:
        return "–"
    ci = entry.get("auc_ci")
    return f"{entry['auc']:.3f}" + (f" ({ci[0]:.2f}–{ci[1]:.2f})" if ci else "")


def score_table(result: AttackResult) -> pd.DataFrame:
    """Every closed-set score of a run: what it measures, its AUC (95% CI) and, when the run scored
    the controls, its AUC with the whole image masked and on mismatched photos. The headline first."""
    by_score = result.metrics.get("by_score") or {}
    controls = result.metrics.get("controls") or {}
    rows = []
    for kind in SCORE_ORDER:
        if kind not in by_score:
            continue
        entry = by_score[kind]
        if entry.get("headline") and "auc_ci" in result.metrics:
            entry = {**entry, "auc_ci": result.metrics["auc_ci"]}  # the headline's own interval (more bootstrap rounds)
        row = {"score": SCORE_LABELS[kind] + (" (headline)" if entry.get("headline") else ""), "measures": score_group(kind),
               "AUC (95% CI)": _auc_cell(entry)}
        for name, column in CONTROL_COLUMNS:
            if name in controls:
                row[column] = _auc_cell(controls[name]["by_score"].get(kind))
        rows.append(row)
    return pd.DataFrame(rows)


def controls_leak_line(result: AttackResult) -> str | None:
    """The open answers under the controls, in one sentence (None when the run scored no controls)."""
    controls = result.metrics.get("controls") or {}
    parts = []
    for name, what in (("masked", "with the whole image masked"), ("mismatched", "on another person's photos")):
        rates = controls.get(name, {}).get("leak_rates") or {}
        if rates.get("members") is not None:
            parts.append(f"{what} {100 * rates['members']:.0f}% of the answers name members ({100 * (rates.get('nonmembers') or 0):.0f}% non-members)")
    return ("Open answers under the controls: " + "; ".join(parts) + ".") if parts else None


BENCH_CONDITIONS = (
    ("usual", "original photos (usual context)"),
    ("blur:8", "face blurred, radius 8 px"),
    ("blur:16", "face blurred, radius 16 px"),
    ("blur:32", "face blurred, radius 32 px"),
    ("neutral", "neutral grey background"),
    ("swapped", "another person's clothes and background"),
    ("masked", "control: whole image masked"),
    ("mismatched", "control: mismatched photos"),
)
"""The conditions of `bench/vlm_controls.py`, in the order its tables show them."""


def bench_controls_table(model_report: Mapping[str, Any]) -> pd.DataFrame:
    """One lab VLM's controls from bench/results/vlm_controls.json: a row per score, its AUC (95% CI)
    in every condition and its Spearman with the members' leak rate across the conditions."""
    conditions = model_report["conditions"]
    rows = []
    for kind in SCORE_ORDER:
        if kind not in conditions["usual"]["by_score"]:
            continue
        row = {"score": SCORE_LABELS[kind] + (" (headline)" if kind == model_report.get("headline") else ""),
               "measures": score_group(kind)}
        for name, label in BENCH_CONDITIONS:
            if name in conditions:
                row[label] = _auc_cell(conditions[name]["by_score"].get(kind))
        spearman = model_report["spearman_with_leak_rate"].get(kind)
        row["Spearman with leak rate"] = "–" if spearman is None else f"{spearman:+.2f}"
        rows.append(row)
    leak = {"score": "open answers: members named", "measures": "leak rate"}
    leak.update({label: f"{conditions[name]['leak_rates']['members']:.2f}" for name, label in BENCH_CONDITIONS if name in conditions})
    leak["Spearman with leak rate"] = "–"
    rows.append(leak)
    return pd.DataFrame(rows)
