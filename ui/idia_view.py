"""How an IDIA result is shown, as sections `(result, key)` of its page parts (`ui.parts.identity`),
on the identity page and the Runs page alike: the people left out, the verdict (for one uploaded
person, with the false-positive rate it carries), the tau slider with its confusion matrix, the
identity table, a person's images with the top-5 names and the occurrence trend."""

from __future__ import annotations

from pathlib import Path
from typing import Mapping

import numpy as np
import pandas as pd
import plotly.graph_objects as go
import streamlit as st

from leakage.idia import retune
from leakage.results import AttackResult
from leakage.figures import plotly_text
from ui.result_view import item_frame, show_verdict
from ui.text import md
from ui.verdict import single_person_verdict

UPLOADS_SHOWN = "idia-uploads-shown"
"""Session state: the photos of this session's last "check one person" run, by label, in memory only."""


def is_upload_check(result: AttackResult) -> bool:
    return str(result.dataset.get("id", "")).startswith("uploaded")


def show_excluded(result: AttackResult, key: str | None = None) -> None:
    excluded = result.details.get("excluded") or []
    if excluded:
        with st.expander(f"{len(excluded)} people left out: fewer than k = {result.config['images_per_person']} usable images"):
            st.dataframe([{"name": row["name"], "reason": row["reason"]} for row in excluded], hide_index=True, width="stretch")


def show_identity_verdict(result: AttackResult, key: str | None = None) -> None:
    """One uploaded person: is this person in the training data, and how often such a claim is wrong;
    otherwise the attack's verdict on the people under test."""
    if is_upload_check(result):
        single_person_verdict(result)
    else:
        show_verdict(result, key)


def show_threshold(result: AttackResult, key: str) -> None:
    n_templates = len(result.config["templates"])
    tau = st.slider(
        "tau: member when at least this many prompts name the person",
        0, n_templates, int(result.config["tau"]), key=f"{key}-tau",
        help="Moving tau re-decides from the stored votes; nothing is recomputed.",
    )
    if "at_threshold" not in result.metrics:  # no ground truth: who would be called a member at this tau
        called = [row["name"] for row in result.identities if row["correct_prompts"] >= tau]
        st.markdown(f"At tau = {tau}, **{len(called)} of {len(result.identities)}** "
                    f"{'person is' if len(result.identities) == 1 else 'people are'} called members of the training data"
                    + (f": {', '.join(md(name) for name in called[:20])}{' …' if len(called) > 20 else ''}." if called else "."))
        return
    at = retune(result, tau)
    columns = st.columns([1, 2])
    matrix = pd.DataFrame(
        [[at["tp"], at["fn"]], [at["fp"], at["tn"]]],
        index=["actual member", "actual non-member"],
        columns=["predicted member", "predicted non-member"],
    )
    columns[0].dataframe(matrix, width="stretch")
    columns[1].markdown(
        f"**TPR** {at['tpr']:.3f} · **FPR** {at['fpr']:.3f} · **precision** {at['precision']:.3f} · **accuracy** {at['accuracy']:.3f}  \n"
        f"At tau = {tau}, {at['tp']} of {at['tp'] + at['fn']} members are found and {at['fp']} of {at['fp'] + at['tn']} non-members are wrongly flagged."
    )
    draws = result.metrics.get("draws")
    if draws:
        columns[1].caption(
            f"At the run's tau = {result.config['tau']}, over {draws['n']} random draws of {draws['k']} images per person: "
            f"TPR {draws['tpr']['mean']:.3f} ± {draws['tpr']['std']:.3f}, FPR {draws['fpr']['mean']:.3f} ± {draws['fpr']['std']:.3f} "
            f"(mean ± {'sample ' if draws.get('ddof') == 1 else ''}std, the paper's protocol)."
        )


def show_identities(result: AttackResult, key: str) -> str | None:
    frame = item_frame(result)
    st.dataframe(frame, width="stretch", hide_index=True, key=f"{key}-table")
    color = frame["member"].map({True: "member", False: "non-member"}) if "member" in frame else None
    figure = go.Figure()
    if color is not None:
        for label, colour in (("member", "#d62728"), ("non-member", "#1f77b4")):
            part = frame[color == label]
            figure.add_bar(x=part["name"].map(plotly_text), y=part["correct_prompts"], name=label, marker_color=colour)
    else:
        figure.add_bar(x=frame["name"].map(plotly_text), y=frame["correct_prompts"], name="people")
    figure.update_layout(title="Correct prompts per person", height=320, template="plotly_white", xaxis={"showticklabels": len(frame) <= 40},
                         yaxis_title="prompts naming the person", margin={"t": 40, "b": 30})
    st.plotly_chart(figure, width="stretch", key=f"{key}-scores")
    return st.selectbox("Show a person's images and what the model answers", frame["name"].tolist(), key=f"{key}-person")


def show_people(result: AttackResult, key: str) -> None:
    """The identity table and, for the person picked there, their images with the top-5 names; the
    photos of an uploaded check only while this session still holds them."""
    person = show_identities(result, key)
    if person:
        show_person_images(result, person, st.session_state.get(UPLOADS_SHOWN))


def show_person_images(result: AttackResult, person: str, images: Mapping[str, object] | None = None, limit: int = 8) -> None:
    """The person's attack images with the top-5 names; `images` maps labels to in-memory uploads.

    An uploaded check's photos come only from `images` (its labels are file names, or "upload N" once
    stored, never paths to read); other runs' images from their files, where they still are."""
    rows = [row for row in result.images if row["person"] == person][:limit]
    if not rows:
        return
    columns = st.columns(min(4, len(rows)))
    for index, row in enumerate(rows):
        with columns[index % len(columns)]:
            if is_upload_check(result):
                source = (images or {}).get(row["path"])
            else:
                source = row["path"] if Path(row["path"]).is_file() else None
            if source is not None:
                st.image(source, caption=f"{row['correct_prompts']}/{len(result.config['templates'])} prompts correct", width="stretch")
            st.markdown("\n".join(
                f"{rank}. {'**' if top['name'] == person else ''}{md(top['name'])}{'**' if top['name'] == person else ''} ({top['prob']:.0%})"
                for rank, top in enumerate(row["top"], 1)
            ))


def show_occurrence_trend(result: AttackResult, key: str) -> None:
    rows = [row for row in result.identities if row.get("member") and "occurrences" in row]
    levels = sorted({row["occurrences"] for row in rows})
    if len(levels) < 2:
        if levels:
            st.caption(f"Every member of this lab appears {levels[0]} times in training; the occurrence sweep is in bench/idia_trends.py.")
        return
    tpr = [np.mean([row["predicted_member"] for row in rows if row["occurrences"] == level]) for level in levels]
    figure = go.Figure(go.Scatter(x=levels, y=tpr, mode="lines+markers"))
    figure.update_layout(title="TPR against training occurrences", xaxis_title="training images of the person", yaxis_title="TPR at tau",
                         xaxis_type="log", height=320, template="plotly_white")
    st.plotly_chart(figure, width="stretch", key=f"{key}-occ")
