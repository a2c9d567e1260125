"""The one control a lesson step is about, beside its live result (`leakage.lessons.Step.control`)."""

from __future__ import annotations

import streamlit as st

from leakage.anonymize import Anonymization, anonymize
from leakage.data import ImageLoadError, load_image
from leakage.lessons import FACE_BLUR, LAB_VLM, WHOLE_BLUR, Step
from leakage.results import AttackResult
from leakage.vlm_views import highlighted_answer
from ui.text import html, md

BLURS = {"the original photo": "none", "the face blurred": FACE_BLUR, "the whole photo blurred": WHOLE_BLUR}


def example_row(result: AttackResult, setting: str) -> dict | None:
    """A member's photo under `setting` from the probe's own rows: the first member the model names with the face
    blurred (the lesson's point), else the first member."""
    members = {row["name"] for row in result.identities if row.get("member") is True}
    rows = {(row["path"], row["setting"]): row for row in result.images if row["person"] in members}
    named = [path for (path, label), row in rows.items() if label == Anonymization.parse(FACE_BLUR).label
             and any(answer["names_person"] for answer in row["answers"])]
    paths = named or sorted({path for path, _ in rows})
    return next((rows.get((path, Anonymization.parse(setting).label)) for path in paths if (path, Anonymization.parse(setting).label) in rows), None)


def blur_example(step: Step, results: dict[str, AttackResult]) -> None:
    """One member's photo, as it is or blurred, and what the lab VLM answered about it."""
    result = results.get(LAB_VLM.id)
    if result is None or not result.images:
        return
    choice = st.segmented_control("Show the model", list(BLURS), default="the face blurred", key="lesson-blur-choice")
    row = example_row(result, BLURS[choice or "the face blurred"])
    if row is None:
        st.caption("No photo of a member under this setting in the run.")
        return
    left, right = st.columns([1, 3])
    try:
        image = anonymize(load_image(row["path"]), Anonymization.parse(row["setting"]), row["face_boxes"])
        left.image(image, width=220, caption=f"{md(row['person'])}, {md(Anonymization.parse(row['setting']).description.lower())}")
    except (ImageLoadError, OSError) as error:
        left.caption(f"cannot show the photo: {md(error)}")
    for answer in row["answers"]:
        right.markdown(f"<p style='font-size:1.5em'><i>{html(answer['question'])}</i><br>{highlighted_answer(answer)}</p>",
                       unsafe_allow_html=True)
    right.caption("Marked: where the answer names the person." if any(a["names_person"] for a in row["answers"]) else
                  "This answer does not name the person.")
