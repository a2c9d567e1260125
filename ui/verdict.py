"""The answer to "does this model know this face?" in plain words, with the error rate it carries."""

from __future__ import annotations

import math

import streamlit as st

from leakage.idia import reference_false_positive_rate
from leakage.results import AttackResult
from ui.text import md


def chance_rate(n_templates: int, n_candidates: int, at_least: int) -> float:
    """P(at least k of n templates pick the right name) if each picked one of the candidates at random."""
    p = 1.0 / n_candidates
    return sum(math.comb(n_templates, k) * p**k * (1 - p) ** (n_templates - k) for k in range(at_least, n_templates + 1))


def photos_text(rate: dict, checked: int) -> str:
    """"k = 3 photos, as many as were checked" (or what the reference could measure)."""
    measured = rate.get("measured_k") or []
    if rate.get("k") is None:  # a result from before the reference was measured per k
        return "its reference photos"
    if measured == [rate["k"]]:
        return f"k = {rate['k']} photos, as many as were checked here"
    return (f"k = {', '.join(str(k) for k in measured)} photos (the reference people have fewer than the "
            f"{checked} checked here)")


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
        rate = reference_false_positive_rate(reference, correct)
        st.markdown(
            f"How often would this be wrong? Of {rate['n']} people this model was **never** trained on (the lab's non-members), "
            f"each scored on {photos_text(rate, row['n_images'])}, {rate['false_alarms']} ({rate['fpr']:.1%}) are named in "
            f"{rate['at_least']} or more prompts. That is the false-positive rate of this claim. (Measured with the same prompts "
            f"and number of candidate names; there the {reference['n_candidates']} candidates held the {reference['n_people']} lab "
            "people under test, here one person plus made-up names.)"
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
