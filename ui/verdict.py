"""The answer to "does this model know this face?" in plain words, with the error rate it carries."""

from __future__ import annotations

import math

import streamlit as st

from leakage.results import AttackResult
from ui.text import md


def chance_rate(n_templates: int, n_candidates: int, at_least: int) -> float:
    """P(at least k of n templates pick the right name) if each picked one of the candidates at random."""
    p = 1.0 / n_candidates
    return sum(math.comb(n_templates, k) * p**k * (1 - p) ** (n_templates - k) for k in range(at_least, n_templates + 1))


def single_person_verdict(result: AttackResult) -> None:
    (row,) = result.identities
    n_templates = len(result.config["templates"])
    correct, tau = row["correct_prompts"], result.config["tau"]
    likely = correct >= tau
    st.subheader("Verdict")
    text = (f"The model names **{md(row['name'])}** in **{correct} of {n_templates}** prompts: "
            + ("**likely in its training data**." if likely else "**no sign that it was in its training data**."))
    (st.error if likely else st.success)(text)
    reference = result.details.get("reference")
    if reference and reference["nonmember_correct_prompts"]:
        counts = reference["nonmember_correct_prompts"]
        false_alarms = sum(count >= max(correct, 1) for count in counts)
        st.markdown(
            f"How often would this be wrong? Of {len(counts)} people this model was **never** trained on (the lab's non-members), "
            f"{false_alarms} ({false_alarms / len(counts):.1%}) are named in {max(correct, 1)} or more prompts. "
            "That is the false-positive rate of this claim. (Measured with the same prompts and number of candidate names; "
            f"there the {reference['n_candidates']} candidates held the {reference['n_people']} lab people under test, here one "
            "person plus made-up names.)"
        )
    else:
        st.markdown(
            f"Guessing alone would name a person in {max(correct, 1)} or more of {n_templates} prompts with probability "
            f"{chance_rate(n_templates, result.metrics['n_candidates'], max(correct, 1)):.1e}, but real models err more often "
            "than chance: run the attack on a folder of people known **not** to be in the training data (a reference set) to "
            "measure the false-positive rate for this model."
        )
    st.caption(
        "What the numbers mean: each prompt template (\"a photo of {}\", \"{} at a gala\", …) is a separate question; the model "
        "answers it by picking the most likely of the candidate names for each photo, and the name picked most often counts. "
        f"The person counts as known when at least tau = {tau} templates pick their name."
    )
