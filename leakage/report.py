"""Stakeholder report of a run, run comparison, and the ROC figures both use.

`render_report` writes one self-contained HTML file (plotly.js inline, no external
URL) for people who will never open a terminal: the risk in plain words first, then the
method, the numbers with confidence intervals and what they mean, ROC curves on linear
and log-log axes, the per-identity table and what reproduces the run.

Everything here is plain functions from results to data, figures or HTML; no Streamlit.
"""

from __future__ import annotations

import datetime as _dt
import html
import json
import math
import shutil
import subprocess
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import plotly.graph_objects as go

from leakage import __version__
from leakage.metrics import roc_band
from leakage.results import AttackResult

__all__ = [
    "AttackInfo",
    "RocCurve",
    "attack_info",
    "compare_runs",
    "comparison_rows",
    "metric_rows",
    "plain_summary",
    "render_pdf",
    "render_report",
    "result_roc",
    "risk_verdict",
    "roc_figure",
    "score_figure",
]

# --------------------------------------------------------------------------- what each attack is


CONFIDENTIALITY = (
    "Confidentiality: training-data privacy. Jia, Liu and Gong (\u201c10 Security and Privacy Problems in Large "
    "Foundation Models\u201d) sort the problems of foundation models into six of confidentiality, three of integrity "
    "and one of availability; membership and identity inference are confidentiality problems, because the model "
    "gives away who or what was in its training data."
)


@dataclass(frozen=True)
class AttackInfo:
    """How to talk about an attack to someone who is not a researcher."""

    title: str
    question: str
    method: str
    attacker_has: str
    unit: str = "person"
    units: str = "people"
    threat: str = CONFIDENTIALITY


ATTACKS: dict[str, AttackInfo] = {
    "idia": AttackInfo(
        title="Identity inference attack (IDIA) on a CLIP model",
        question="Was this person in the training data of this CLIP model?",
        method=(
            "The attacker shows the model several photos of a person and asks, with a set of prompts such as "
            "\u201ca photo of {name}\u201d, which of many candidate names fits best. The candidates are the people under "
            "test plus made-up distractor names. For each prompt the name chosen most often over the photos counts; "
            "the person is called a member of the training data when enough prompts pick their real name. The score "
            "is the number of prompts that pick the real name (plus a small tie-breaker from the model's confidence). "
            "Published as the Identity Inference Attack by Hintersdorf et al., \u201cDoes CLIP Know My Face?\u201d (JAIR 2024). "
            "It needs only what any user of the model has: images in, embeddings out."
        ),
        attacker_has="a few photos and the name of a person",
    ),
    "vlm": AttackInfo(
        title="Identity leakage probe of a vision-language model",
        question="Does this vision-language model recognise and name this person?",
        method=(
            "The attacker shows the model a photo of a person and asks questions such as \u201cWho is this person?\u201d. "
            "An answer that names the person counts as leakage; in the closed-set version the candidate names are "
            "ranked by how likely the model is to answer with each, which gives a score per person and a ROC curve. "
            "Faces can be blurred, pixelated or masked to test whether anonymisation stops the leak "
            "(after Caldarella et al., \u201cThe Phantom Menace\u201d, 2024)."
        ),
        attacker_has="a photo of a person and the ability to ask the model questions",
    ),
    "mim": AttackInfo(
        title="Membership inference against a masked image model",
        question="Was this image in the pre-training data of this masked image model?",
        method=(
            "The attacker hides random parts of an image and lets the model fill them in, several times with "
            "different masks. Images the model was trained on are filled in better, so a low reconstruction error "
            "points to membership (Li et al., \u201cMembership Inference Attack Against Masked Image Modeling\u201d, 2024)."
        ),
        attacker_has="an image and access to the model's reconstructions",
        unit="image",
        units="images",
    ),
}


def attack_info(attack: str) -> AttackInfo:
    """The description of an attack, with a neutral one for attacks not listed here."""
    return ATTACKS.get(attack) or AttackInfo(
        title=f"{attack} attack",
        question="Was this record in the model's training data?",
        method=f"The {attack} attack gives every record a score; a higher score means more likely in the training data.",
        attacker_has=f"what the {attack} attack needs",
        unit="record",
        units="records",
    )


def decision_rule(result: AttackResult) -> str | None:
    """The attack's own member / non-member rule, in words."""
    at = result.metrics.get("at_threshold") or {}
    config = result.config
    if result.attack == "idia" and "tau" in config:
        templates = config.get("templates")
        out_of = f" of the {len(templates)} prompts" if isinstance(templates, list) else " prompts"
        return f"member when at least {_number(config['tau'])}{out_of} name the person"
    if "threshold" in at:
        return f"member when the score is at least {_number(at['threshold'])}"
    return None


# --------------------------------------------------------------------------- formatting


def _number(value: Any, digits: int = 3) -> str:
    if isinstance(value, bool) or value is None:
        return "\u2014" if value is None else str(value)
    if isinstance(value, int) or (isinstance(value, float) and value.is_integer() and abs(value) < 1e9):
        return f"{int(value):,}"
    if isinstance(value, float):
        return f"{value:.{digits}f}"
    return str(value)


def _pct(value: float | None, digits: int = 1) -> str:
    if value is None:
        return "\u2014"
    text = f"{100 * value:.{digits}f}".rstrip("0").rstrip(".") if value not in (0, 1) else f"{100 * value:.0f}"
    return f"{text}%"


def _ci_text(ci: Sequence[float] | None, percent: bool) -> str:
    if not ci or len(ci) != 2:
        return ""
    low, high = ci
    return f"{_pct(low)} \u2013 {_pct(high)}" if percent else f"{low:.3f} \u2013 {high:.3f}"


def _confidence(metrics: Mapping[str, Any]) -> str:
    level = (metrics.get("bootstrap") or {}).get("confidence", 0.95)
    return f"{100 * level:g}%"


# --------------------------------------------------------------------------- what the numbers say


def risk_verdict(metrics: Mapping[str, Any]) -> tuple[str, str]:
    """(level, headline) from the AUC and its interval: 'leak', 'none', 'below' or 'unknown'."""
    if "auc" not in metrics:
        return "unknown", "No ground truth: who really was in the training data is not known, so leakage cannot be measured."
    auc, (low, high) = metrics["auc"], metrics.get("auc_ci") or (metrics["auc"], metrics["auc"])
    conf = _confidence(metrics)
    if low > 0.5:
        return "leak", (
            f"Leakage detected: the attack tells members from non-members better than chance "
            f"(AUC {auc:.2f}, {conf} CI {low:.2f}\u2013{high:.2f}; 0.5 is guessing)."
        )
    if high < 0.5:
        return "below", (
            f"The attack does worse than guessing here (AUC {auc:.2f}, {conf} CI {low:.2f}\u2013{high:.2f}): "
            "no evidence of leakage, but check the setup, e.g. whether members and non-members are labelled the right way round."
        )
    return "none", (
        f"No leakage measurable with these data: the attack cannot be told apart from guessing "
        f"(AUC {auc:.2f}, {conf} CI {low:.2f}\u2013{high:.2f} includes 0.5). "
        "This does not prove the model is private: a stronger attack or more people could still find a leak."
    )


def plain_summary(result: AttackResult) -> list[str]:
    """The risk in a few plain sentences, most important first (no markup)."""
    metrics, info = result.metrics, attack_info(result.attack)
    rule = decision_rule(result)
    if "auc" not in metrics:
        return _summary_without_truth(result, info, rule)
    sentences = [risk_verdict(metrics)[1]]
    n_pos, n_neg = int(metrics.get("n_members", 0)), int(metrics.get("n_nonmembers", 0))
    conf = _confidence(metrics)
    at = metrics.get("at_threshold")
    if at:
        members, nonmembers = at["tp"] + at["fn"], at["fp"] + at["tn"]
        sentences.append(
            f"An attacker who has {info.attacker_has} can tell whether that {info.unit} was in the model's training data "
            f"for {at['tp']} of {members} members ({_pct(at['tpr'])}) while wrongly accusing {at['fp']} of "
            f"{nonmembers} non-members ({_pct(at['fpr'])})" + (f", with the attack's own rule ({rule})." if rule else ".")
        )
    tpr = metrics.get("tpr_at_fpr") or {}
    tpr_ci = metrics.get("tpr_at_fpr_ci") or {}
    if "0.01" in tpr:
        value = tpr["0.01"]
        ci = _ci_text(tpr_ci.get("0.01"), percent=True)
        if value > 0:
            sentences.append(
                f"If the attacker only accepts wrongly accusing at most 1 in 100 non-members, they still find "
                f"{_pct(value)} of members ({conf} CI {ci}), {value / 0.01:.0f} times what guessing finds at that error rate."
            )
        else:
            sentences.append("If the attacker may wrongly accuse at most 1 in 100 non-members, the attack finds no members in these data.")
    if tpr.get("0", 0) > 0:
        found = round(tpr["0"] * n_pos)
        sentences.append(
            f"{found} of {n_pos} members ({_pct(tpr['0'])}) scored higher than every non-member: the attack singles "
            f"them out without any false accusation in these data."
        )
    if 0 < n_neg < 100:
        sentences.append(
            f"Caution: with only {n_neg} non-members, one wrong accusation is already {_pct(1 / n_neg)}, so error rates "
            "of 1% and below cannot be measured finely; more non-members would sharpen the low-error numbers."
        )
    return sentences


def _summary_without_truth(result: AttackResult, info: AttackInfo, rule: str | None) -> list[str]:
    rows = result.identities
    flagged = [row for row in rows if row.get("predicted_member")]
    how = f" ({rule})" if rule else ""
    if len(rows) == 1:
        row = rows[0]
        verdict = "was" if row.get("predicted_member") else "was not found to be"
        return [
            f"The attack says {row.get('name', 'this ' + info.unit)} {verdict} in the model's training data{how}; "
            f"score {_number(row.get('score'))}.",
            "A single check has no error rate of its own: the error rates measured on people whose membership is "
            "known, with the same model and settings, tell how far to trust it.",
        ]
    return [
        f"The attack flagged {len(flagged)} of {len(rows)} {info.units} as members of the training data{how}.",
        "Who really was in the training data is not known for these data, so error rates cannot be measured: "
        "treat every \u201cmember\u201d as a claim to check, with the error rates measured where the truth is known.",
    ]


def metric_rows(result: AttackResult) -> list[dict[str, str]]:
    """The numbers table: metric, value, confidence interval and what it means."""
    metrics = result.metrics
    conf = _confidence(metrics)
    n_neg = int(metrics.get("n_nonmembers", 0))
    rows: list[dict[str, str]] = []
    if "auc" in metrics:
        rows.append({
            "metric": "AUC",
            "value": f"{metrics['auc']:.3f}",
            "ci": _ci_text(metrics.get("auc_ci"), percent=False),
            "meaning": "Chance that the attack scores a random member above a random non-member; 0.5 is guessing, "
                       "1 is perfect. An average over all thresholds: it can look modest while a few people are "
                       "exposed with near certainty, which the rows below show.",
        })
    tpr, tpr_ci = metrics.get("tpr_at_fpr") or {}, metrics.get("tpr_at_fpr_ci") or {}
    for key, allowed, guessing in (("0.01", "1 in 100", "1%"), ("0.001", "1 in 1,000", "0.1%")):
        if key in tpr:
            meaning = f"Members found when at most {allowed} non-members may be wrongly accused; guessing finds {guessing}."
            if 0 < n_neg < 1 / float(key):
                meaning += f" With only {n_neg} non-members this is the same as the 0% row: the data cannot resolve finer error rates."
            rows.append({"metric": f"TPR at {_pct(float(key))} FPR", "value": _pct(tpr[key]),
                         "ci": _ci_text(tpr_ci.get(key), percent=True), "meaning": meaning})
    if "0" in tpr:
        rows.append({"metric": "TPR at 0% FPR", "value": _pct(tpr["0"]), "ci": _ci_text(tpr_ci.get("0"), percent=True),
                     "meaning": "Members scored above every non-member: found without a single false accusation in these data."})
    at = metrics.get("at_threshold")
    if at:
        rule = decision_rule(result) or "the attack's threshold"
        rows += [
            {"metric": "TPR at the decision rule", "value": _pct(at["tpr"]), "ci": "",
             "meaning": f"Members flagged ({at['tp']} of {at['tp'] + at['fn']}) with {rule}."},
            {"metric": "FPR at the decision rule", "value": _pct(at["fpr"]), "ci": "",
             "meaning": f"Non-members wrongly flagged ({at['fp']} of {at['fp'] + at['tn']})."},
            {"metric": "Precision at the decision rule", "value": _pct(at["precision"]), "ci": "",
             "meaning": "Of everyone flagged, the share who really were members."},
            {"metric": "Accuracy at the decision rule", "value": _pct(at["accuracy"]), "ci": "",
             "meaning": "Share of all decisions that were right; depends on how many members were tested."},
        ]
    draws = metrics.get("draws")
    if draws and "tpr" in draws and "fpr" in draws:
        for key, name in (("tpr", "TPR"), ("fpr", "FPR")):
            rows.append({
                "metric": f"{name} over {draws.get('n')} draws",
                "value": f"{_pct(draws[key]['mean'])} \u00b1 {_pct(draws[key]['std'])}",
                "ci": "",
                "meaning": f"Mean \u00b1 standard deviation over {draws.get('n')} random draws of {draws.get('k')} attack "
                           f"images per {attack_info(result.attack).unit}, as the published protocol reports it.",
            })
    for key, name in (("n_members", "members tested"), ("n_nonmembers", "non-members tested"), ("n_identities", attack_info(result.attack).units)):
        if key in metrics:
            rows.append({"metric": name.capitalize(), "value": _number(metrics[key]), "ci": "", "meaning": ""})
    if rows and any(row["ci"] for row in rows):
        rows.append({"metric": "Confidence intervals", "value": conf, "ci": "",
                     "meaning": "Stratified bootstrap: members and non-members resampled separately "
                                f"({(metrics.get('bootstrap') or {}).get('n_boot', '?')} resamples). The true value lies in "
                                "the interval in about this share of repetitions."})
    return rows


# --------------------------------------------------------------------------- figures


PALETTE = ("#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#17becf", "#8c564b", "#e377c2")


@dataclass
class RocCurve:
    """One ROC to draw: its points, an optional bootstrap band and the attack's operating point."""

    name: str
    fpr: list[float]
    tpr: list[float]
    band: dict[str, list[float]] | None = None
    operating_point: tuple[float, float] | None = None
    n_nonmembers: int | None = None


def labels_and_scores(result: AttackResult) -> tuple[np.ndarray, np.ndarray] | None:
    """Ground truth and scores of the identities that have both, or None."""
    rows = [row for row in result.identities
            if isinstance(row.get("member"), (bool, int)) and isinstance(row.get("score"), (int, float))]
    labels = np.array([int(row["member"]) for row in rows], dtype=int)
    if labels.size == 0 or labels.min() == labels.max():
        return None
    return labels, np.array([float(row["score"]) for row in rows])


def short_model_name(model: str) -> str:
    """A legend-sized model name: the last two parts of a folder path; a hub id or a lab name as it is."""
    parts = Path(model).parts
    return "/".join(parts[-2:]) if len(parts) > 2 else model


def result_roc(result: AttackResult, name: str | None = None, band: bool = True) -> RocCurve | None:
    """The ROC of a result (None without ground truth), with a bootstrap band when the identities allow."""
    roc = result.metrics.get("roc")
    if not roc:
        return None
    curve = RocCurve(
        name=name or f"{result.attack} \u00b7 {result.model.get('model', '?')}",
        fpr=list(roc["fpr"]),
        tpr=list(roc["tpr"]),
        n_nonmembers=result.metrics.get("n_nonmembers"),
    )
    at = result.metrics.get("at_threshold")
    if at:
        curve.operating_point = (at["fpr"], at["tpr"])
    data = labels_and_scores(result) if band else None
    if data is not None:
        boot = result.metrics.get("bootstrap") or {}
        computed = roc_band(*data, n_boot=200, confidence=boot.get("confidence", 0.95), seed=boot.get("seed", 0))
        curve.band = {key: value.tolist() for key, value in computed.items()}
    return curve


def _log_floor(curves: Sequence[RocCurve]) -> float:
    """Lower edge of log-log axes: 1e-3 or lower, below the finest FPR step the data have."""
    finest = min((1.0 / c.n_nonmembers for c in curves if c.n_nonmembers), default=1e-3)
    return min(1e-3, 10.0 ** math.floor(math.log10(finest / 2)))


def _rgba(hex_color: str, alpha: float) -> str:
    red, green, blue = (int(hex_color[i:i + 2], 16) for i in (1, 3, 5))
    return f"rgba({red},{green},{blue},{alpha})"


def roc_figure(curves: Sequence[RocCurve], log_axes: bool = False, height: int = 440, title: str | None = None) -> go.Figure:
    """ROC curves (overlaid when several) with the chance diagonal, on linear or log-log axes.

    On log-log axes, zeros cannot be drawn: points at FPR or TPR = 0 sit on the axis floor.
    """
    floor = _log_floor(curves) if log_axes else 0.0

    def clip(values: Sequence[float]) -> list[float]:
        return [max(v, floor) for v in values] if log_axes else list(values)

    figure = go.Figure()
    figure.add_trace(go.Scatter(x=[floor, 1], y=[floor, 1], mode="lines", name="chance (guessing)",
                                line={"dash": "dash", "color": "#888888", "width": 1}, hoverinfo="skip"))
    for index, curve in enumerate(curves):
        color = PALETTE[index % len(PALETTE)]
        if curve.band:
            grid = clip(curve.band["fpr_grid"])
            figure.add_trace(go.Scatter(x=grid, y=clip(curve.band["tpr_low"]), mode="lines", line={"width": 0},
                                        showlegend=False, hoverinfo="skip", legendgroup=curve.name, line_shape="hv"))
            figure.add_trace(go.Scatter(x=grid, y=clip(curve.band["tpr_high"]), mode="lines", line={"width": 0},
                                        fill="tonexty", fillcolor=_rgba(color, 0.18), name=f"{curve.name}: 95% band",
                                        hoverinfo="skip", legendgroup=curve.name, line_shape="hv",
                                        showlegend=len(curves) == 1))
        figure.add_trace(go.Scatter(
            x=clip(curve.fpr), y=clip(curve.tpr), mode="lines", name=curve.name, legendgroup=curve.name,
            line={"color": color, "width": 2},
            hovertemplate="FPR %{x:.4f}<br>TPR %{y:.4f}<extra>" + html.escape(curve.name) + "</extra>",
        ))
        if curve.operating_point:
            fpr, tpr = curve.operating_point
            figure.add_trace(go.Scatter(
                x=clip([fpr]), y=clip([tpr]), mode="markers", name=f"{curve.name}: decision rule",
                legendgroup=curve.name, marker={"color": color, "size": 10, "symbol": "diamond", "line": {"color": "white", "width": 1}},
                hovertemplate="decision rule<br>FPR %{x:.4f}<br>TPR %{y:.4f}<extra></extra>", showlegend=len(curves) == 1,
            ))
    axis_type = "log" if log_axes else "linear"
    axis_range = [math.log10(floor), 0.0] if log_axes else [0.0, 1.0]
    figure.update_layout(
        title=title or ("ROC, log-log axes (the low-error corner)" if log_axes else "ROC, linear axes"),
        height=height,
        margin={"l": 60, "r": 20, "t": 50, "b": 50},
        # below the chance diagonal, where a ROC worth reading never goes
        legend={"x": 0.98, "y": 0.02, "xanchor": "right", "yanchor": "bottom", "bgcolor": "rgba(255,255,255,0.8)"},
        template="plotly_white",
        xaxis={"title": "False positive rate (non-members wrongly flagged)", "type": axis_type, "range": axis_range},
        yaxis={"title": "True positive rate (members found)", "type": axis_type, "range": axis_range},
    )
    if log_axes:
        figure.update_xaxes(dtick=1)  # one tick per decade: 0.001, 0.01, 0.1, 1
        figure.update_yaxes(dtick=1)
    return figure


def score_figure(result: AttackResult, height: int = 360) -> go.Figure | None:
    """Score histograms of members and non-members with the decision threshold, or None without truth."""
    data = labels_and_scores(result)
    if data is None:
        return None
    labels, scores = data
    figure = go.Figure()
    for value, name, color in ((1, "members", PALETTE[1]), (0, "non-members", PALETTE[0])):
        figure.add_trace(go.Histogram(x=scores[labels == value].tolist(), name=name, marker_color=color, opacity=0.6, bingroup="scores"))
    threshold = (result.metrics.get("at_threshold") or {}).get("threshold")
    if threshold is not None:
        figure.add_vline(x=threshold, line_dash="dot", annotation_text="decision threshold")
    figure.update_layout(barmode="overlay", height=height, template="plotly_white", title="Attack scores",
                         xaxis_title="score (higher = more likely a member)", yaxis_title=attack_info(result.attack).units,
                         margin={"l": 60, "r": 20, "t": 50, "b": 50})
    return figure


# --------------------------------------------------------------------------- comparison

# (key, label, how to read it from metrics, its CI or None)
_COMPARED: tuple[tuple[str, str, Any, Any], ...] = (
    ("auc", "AUC", lambda m: m.get("auc"), lambda m: m.get("auc_ci")),
    ("tpr@1%", "TPR at 1% FPR", lambda m: (m.get("tpr_at_fpr") or {}).get("0.01"), lambda m: (m.get("tpr_at_fpr_ci") or {}).get("0.01")),
    ("tpr@0.1%", "TPR at 0.1% FPR", lambda m: (m.get("tpr_at_fpr") or {}).get("0.001"), lambda m: (m.get("tpr_at_fpr_ci") or {}).get("0.001")),
    ("tpr@0%", "TPR at 0% FPR", lambda m: (m.get("tpr_at_fpr") or {}).get("0"), lambda m: (m.get("tpr_at_fpr_ci") or {}).get("0")),
    ("tpr@rule", "TPR at decision rule", lambda m: (m.get("at_threshold") or {}).get("tpr"), None),
    ("fpr@rule", "FPR at decision rule", lambda m: (m.get("at_threshold") or {}).get("fpr"), None),
    ("precision@rule", "Precision at decision rule", lambda m: (m.get("at_threshold") or {}).get("precision"), None),
    ("accuracy@rule", "Accuracy at decision rule", lambda m: (m.get("at_threshold") or {}).get("accuracy"), None),
    ("n_members", "Members", lambda m: m.get("n_members"), None),
    ("n_nonmembers", "Non-members", lambda m: m.get("n_nonmembers"), None),
    ("n_identities", "Identities", lambda m: m.get("n_identities"), None),
)


def _flatten(data: Any, prefix: str = "") -> dict[str, Any]:
    if isinstance(data, dict):
        flat: dict[str, Any] = {}
        for key, value in data.items():
            flat.update(_flatten(value, f"{prefix}{key}."))
        return flat
    return {prefix.rstrip("."): data}


def compare_runs(results: Sequence[AttackResult], names: Sequence[str] | None = None) -> dict[str, Any]:
    """Metrics of several runs side by side, with each run's difference from the first.

    Returns ``names``; ``runs`` (attack, model, dataset, created_at, config_hash,
    code_version per run); ``metrics``: rows ``{key, label, values, cis, differences}``
    with ``differences[0]`` None and ``differences[i] = values[i] - values[0]`` (None
    when either is missing); ``config_differences``: config keys (dotted paths) whose
    values differ, with every run's value; and ``same_data``: whether all runs used
    the same dataset id, without which a difference may come from the data.
    """
    if not results:
        raise ValueError("compare_runs needs at least one result")
    names = list(names) if names is not None else [f"run {index + 1}" for index in range(len(results))]
    if len(names) != len(results):
        raise ValueError(f"got {len(names)} names for {len(results)} results")
    rows = []
    for key, label, read, read_ci in _COMPARED:
        values = [read(result.metrics) for result in results]
        if all(value is None for value in values):
            continue
        first = values[0]
        rows.append({
            "key": key,
            "label": label,
            "values": values,
            "cis": [read_ci(result.metrics) if read_ci else None for result in results],
            "differences": [None] + [
                None if value is None or first is None else value - first for value in values[1:]
            ],
        })
    flat = [_flatten(result.config) for result in results]
    keys = list(dict.fromkeys(key for config in flat for key in config))
    config_differences = {
        key: [config.get(key) for config in flat]
        for key in keys
        if any(json.dumps(config.get(key), sort_keys=True) != json.dumps(flat[0].get(key), sort_keys=True) for config in flat)
    }
    return {
        "names": names,
        "runs": [
            {
                "name": name,
                "attack": result.attack,
                "model": result.model.get("model"),
                "dataset": result.dataset.get("id"),
                "created_at": result.created_at,
                "config_hash": result.config_hash,
                "code_version": result.code_version,
            }
            for name, result in zip(names, results)
        ],
        "metrics": rows,
        "config_differences": config_differences,
        "same_data": len({json.dumps(result.dataset.get("id")) for result in results}) == 1,
    }


_RATE_KEYS = {"tpr@1%", "tpr@0.1%", "tpr@0%", "tpr@rule", "fpr@rule", "precision@rule", "accuracy@rule"}


def _comparison_value(key: str, value: Any, ci: Sequence[float] | None = None) -> str:
    if value is None:
        return "\u2014"
    if key in _RATE_KEYS:
        return _pct(value) + (f" [{_pct(ci[0])}, {_pct(ci[1])}]" if ci else "")
    if key == "auc":
        return f"{value:.3f}" + (f" [{ci[0]:.3f}, {ci[1]:.3f}]" if ci else "")
    return _number(value)


def _comparison_difference(key: str, difference: Any) -> str:
    if difference is None:
        return "\u2014"
    if key in _RATE_KEYS:
        return f"{100 * difference:+.1f} pts"
    if key == "auc":
        return f"{difference:+.3f}"
    return f"{difference:+,}" if isinstance(difference, int) else f"{difference:+.3g}"


def comparison_rows(comparison: Mapping[str, Any]) -> list[dict[str, str]]:
    """:func:`compare_runs` output as display rows: metric, each run's value [CI], and \u0394 of runs 2.. vs the first."""
    names = comparison["names"]
    rows = []
    for metric in comparison["metrics"]:
        key = metric["key"]
        row = {"metric": metric["label"]}
        for name, value, ci in zip(names, metric["values"], metric["cis"]):
            row[name] = _comparison_value(key, value, ci)
        for name, difference in zip(names[1:], metric["differences"][1:]):
            row[f"\u0394 {name}"] = _comparison_difference(key, difference)
        rows.append(row)
    return rows


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
            text = _number(value)
        numeric = isinstance(value, (int, float)) and not isinstance(value, bool)
        return ('<td class="num">' if numeric else "<td>") + html.escape(text) + "</td>"

    body = "\n".join(
        ('<tr class="member">' if row.get("member") is True else "<tr>") + "".join(cell(c, row.get(c)) for c in columns) + "</tr>"
        for row in rows
    )
    return f'<table id="identity-table"><thead><tr>{header}</tr></thead><tbody>\n{body}\n</tbody></table>'


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


def render_report(result: AttackResult, run_id: int | None = None, label: str | None = None) -> str:
    """A self-contained HTML report of one run for stakeholders (plotly.js inline, no external URLs)."""
    info = attack_info(result.attack)
    esc = html.escape
    model = result.model.get("model") or result.config.get("model") or "unknown model"
    pretrained = result.model.get("pretrained")
    model_text = f"{model} ({pretrained})" if pretrained else str(model)
    run_text = " \u00b7 ".join(part for part in (f"run {run_id}" if run_id is not None else "", label or "") if part)
    level, headline = risk_verdict(result.metrics)
    summary = plain_summary(result)
    if summary and summary[0] == headline:
        summary = summary[1:]

    figures: list[tuple[go.Figure, str, str]] = []  # (figure, div id, note under it)
    curve = result_roc(result, name=model_text)
    if curve is not None:
        figures.append((roc_figure([curve]), "roc-linear", ""))
        figures.append((roc_figure([curve], log_axes=True), "roc-log",
                        "The log-log view magnifies the low-error corner, where an attacker who wants to avoid false "
                        "accusations operates. Points at 0 sit on the axis edge."))
    histogram = score_figure(result)
    if histogram is not None:
        figures.append((histogram, "score-histogram", ""))
    figure_html = "".join(
        f'<div class="figure{" wide" if div_id == "score-histogram" else ""}">{_figure_html(fig, div_id, index == 0)}'
        + (f'<p class="note">{esc(note)}</p>' if note else "") + "</div>"
        for index, (fig, div_id, note) in enumerate(figures)
    )
    if curve is not None:
        figure_note = ("Shaded: pointwise 95% bootstrap band. Diamond: the attack's own decision rule. "
                       "Dashed: guessing.") if curve.band else "Dashed: guessing."
    else:
        figure_note = "No ROC: this run has no ground truth."

    rule = decision_rule(result)
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
    title = f"What {model} leaks: {info.title}"
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

<section id="summary">
<h2>Summary</h2>
<div class="verdict {level}">{esc(headline)}</div>
{''.join(f'<p>{esc(sentence)}</p>' for sentence in summary)}
</section>

<section id="method">
<h2>Method</h2>
<p>{esc(info.method)}</p>
{_key_values(method_rows)}
<p><strong>Threat:</strong> {esc(info.threat)}</p>
</section>

<section id="numbers">
<h2>The numbers</h2>
<p class="note">The field reports membership attacks by their true positive rate (TPR, share of members found) at a
low false positive rate (FPR, share of non-members wrongly accused), because an attack that finds a few people with
certainty matters more than one that is slightly better than guessing on average (Carlini et al., \u201cMembership
Inference Attacks From First Principles\u201d, 2022).</p>
{_metrics_table(metric_rows(result))}
</section>

<section id="figures">
<h2>ROC curves</h2>
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
