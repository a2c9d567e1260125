"""Figures of attack results: ROC curves (linear and log-log, overlaid, with bootstrap bands) and
score histograms. Plain functions from results to plotly figures; no Streamlit."""

from __future__ import annotations

import html
import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import plotly.graph_objects as go

from leakage.metrics import roc_band
from leakage.results import AttackResult

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


def plotly_text(value: object) -> str:
    """A user string (a name, a run label) as literal text in a Plotly figure, which renders a subset
    of HTML (`<a href>`, `<b>`, ...) in legends, ticks and hover labels."""
    return html.escape(str(value), quote=False)


def band_clusters(result: AttackResult, field: str | None) -> list | None:
    """The cluster (e.g. person) of each row `labels_and_scores` keeps, when the result was bootstrapped by cluster."""
    if not field:
        return None
    rows = [row for row in result.identities
            if isinstance(row.get("member"), (bool, int)) and isinstance(row.get("score"), (int, float))]
    clusters = [row.get(field) for row in rows]
    return clusters if all(cluster is not None for cluster in clusters) else None


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
        name=plotly_text(name or f"{result.attack} \u00b7 {result.model.get('model', '?')}"),
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
        computed = roc_band(*data, n_boot=200, confidence=boot.get("confidence", 0.95), seed=boot.get("seed", 0),
                            clusters=band_clusters(result, boot.get("cluster_field")))
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


def score_figure(result: AttackResult, height: int = 360, units: str = "records") -> go.Figure | None:
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
                         xaxis_title="score (higher = more likely a member)", yaxis_title=units,
                         margin={"l": 60, "r": 20, "t": 50, "b": 50})
    return figure


@dataclass
class ResultFigure:
    """A figure an attack declares for its results, with where it goes and what to say under it."""

    id: str
    figure: go.Figure
    note: str = ""
    wide: bool = False


ROC_NOTE = ("The log-log view magnifies the low-error corner, where an attacker who wants to avoid false accusations "
            "operates. Points at 0 sit on the axis edge.")


def membership_figures(result: AttackResult, name: str | None = None, units: str = "records") -> list[ResultFigure]:
    """ROC on linear and log-log axes and the score histogram (of `units`, the attack's word for its
    items); none of them without ground truth."""
    shown: list[ResultFigure] = []
    curve = result_roc(result, name=name)
    if curve is not None:
        shown.append(ResultFigure("roc-linear", roc_figure([curve])))
        shown.append(ResultFigure("roc-log", roc_figure([curve], log_axes=True), ROC_NOTE))
    histogram = score_figure(result, units=units)
    if histogram is not None:
        shown.append(ResultFigure("score-histogram", histogram, wide=True))
    return shown
