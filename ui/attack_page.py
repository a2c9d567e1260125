"""The page of any registered attack, generated from its declaration and its page parts
(`ui.page_parts`): title and explanation, the inputs, what the run will do, the run button (a
background run through the run service, with progress and Cancel), the result's sections, and
what the page shows below them."""

from __future__ import annotations

import streamlit as st

from leakage.attacks import get_attack
from ui.attack_runs import finished_result
from ui.jobs import job_running
from ui.page_parts import parts_of, show_sections
from ui.text import md


def render(name: str) -> None:
    attack = get_attack(name)
    parts = parts_of(attack)
    key = attack.name
    job = f"{key}-job"
    st.title(parts.title or attack.nav_title or attack.title)
    st.caption(parts.caption or attack.explanation)
    inputs = parts.inputs(attack, key)
    if inputs.error:
        st.error(md(inputs.error))
    shown = parts.prepare(attack, inputs, key) if parts.prepare else None
    label = inputs.run_label or parts.run_label
    if st.button(label, type="primary", disabled=not inputs.is_ready or job_running(job), key=f"{key}-run"):
        try:
            parts.start(attack, inputs, job)
        except (FileNotFoundError, NotADirectoryError, ValueError) as problem:
            st.error(md(problem))
    result = finished_result(job) or shown
    if result is not None:
        show_sections(result, f"{key}-result")
    if parts.after:
        parts.after(attack, inputs, key)
