"""How the lesson steps draw (`leakage.lessons`): plain bar charts in type large enough for a
projector, shares on a 0-100% axis with their values on the bars. The steps compute what to draw
from their live results; these functions only draw it. No Streamlit."""

from __future__ import annotations

from collections.abc import Sequence

import plotly.graph_objects as go

from leakage.figures import PALETTE, plotly_text

MEMBERS, NONMEMBERS, PROTECTED = PALETTE[1], PALETTE[0], PALETTE[2]
FONT = {"size": 16}
"""Large enough for the back of a classroom."""


def projected(figure: go.Figure, height: int = 460) -> go.Figure:
    """Any figure restyled for the room: larger type, the legend below."""
    figure.update_layout(font=FONT, height=height, legend={"orientation": "h", "y": -0.22}, margin={"l": 70, "r": 20, "t": 60, "b": 60})
    return figure


def bar_figure(title: str, y_title: str, categories: Sequence[str], series: Sequence[tuple[str, Sequence[float | None], str]],
               line: tuple[str, float, str] | None = None, x_title: str | None = None,
               notes: Sequence[str] | None = None) -> go.Figure:
    """Grouped bars of shares: one bar per (name, values, colour) series and category, each labelled
    with its percentage; `line` = (name, value, colour), a dashed reference across all categories;
    `notes`, one per category, shown on hover."""
    labels = [plotly_text(category) for category in categories]
    figure = go.Figure()
    for name, values, color in series:
        figure.add_trace(go.Bar(name=plotly_text(name), x=labels, y=list(values), marker_color=color,
                                text=[f"{100 * value:.0f}%" if value is not None else "" for value in values], textposition="outside",
                                hovertext=[plotly_text(note) for note in notes] if notes else None))
    if line is not None:
        name, value, color = line
        figure.add_trace(go.Scatter(x=labels, y=[value] * len(labels), mode="lines", name=plotly_text(name),
                                    line={"color": color, "dash": "dash", "width": 3}))
    figure.update_layout(template="plotly_white", title=title, barmode="group",
                         yaxis={"title": y_title, "range": [0, 1.1], "tickformat": ".0%"})
    if x_title:
        figure.update_xaxes(title_text=x_title)
    return projected(figure)
