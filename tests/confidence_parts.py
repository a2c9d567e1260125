"""The page parts of the toy fifth attack (`tests/confidence_attack.py`): the standard result view with one
section of its own, and a note under the page. What `Attack.parts` names; `tests/test_service.py` shows that
its generated page and the Runs page both draw the section."""

from __future__ import annotations

import streamlit as st

from leakage.results import AttackResult
from ui.page_parts import STANDARD_SECTIONS, PageParts
from ui.text import md


def most_confident(result: AttackResult, key: str) -> None:
    st.subheader("The names CLIP is surest of")
    for row in sorted(result.identities, key=lambda row: row["score"], reverse=True)[:3]:
        st.markdown(f"- {md(row['name'])}: {row['score']:.3f}")


def note(attack, inputs, key: str) -> None:
    st.caption(f"The prompt decides what the confidence means: {md(inputs.config.template if inputs.config else '')}")


PARTS = PageParts(sections=(*STANDARD_SECTIONS[:3], most_confident, *STANDARD_SECTIONS[3:]), after=note,
                  run_label="Measure the confidence")
