"""The image-text membership attack's page parts: the standard ones, and a section of its own on how
the decision threshold was chosen (set, or calibrated on pairs known not to be in training), what
the weakly supervised attack used, and what counts as a member pair."""

from __future__ import annotations

import streamlit as st

from leakage.results import AttackResult
from ui.page_parts import STANDARD_SECTIONS, PageParts


def show_threshold(result: AttackResult, key: str) -> None:
    metrics = result.metrics
    st.subheader("Threshold and mode")
    threshold = metrics.get("threshold")
    shown = "none" if threshold is None else f"{threshold:.4f}"
    st.text(f"Threshold on the cosine similarity: {shown}. {metrics.get('threshold_source', '')}")
    weak = result.details.get("weak_supervision")
    if weak:
        precision = weak.get("pseudo_member_precision")
        st.text(
            f"Weakly supervised attack: {weak['n_pseudo_members']} of {weak['n_candidates']} candidate pairs ("
            f"{weak['candidates']}) reach the threshold and serve as pseudo-members"
            + (f" ({precision:.0%} of them really are members)" if precision is not None else "")
            + f"; an attack model (MLP on the image and caption embeddings) learnt to tell {weak['n_per_class']} of them "
            f"from {weak['n_per_class']} of the {weak['n_known_nonmembers']} known non-member pairs in {weak['epochs']} epochs. "
            "The score is its membership probability; its own decision is at 0.5."
        )
    st.caption(
        "A pair is a member when that exact photo with that exact caption was a training pair. In the lab pair set the "
        "member pairs are training photos with a caption they were trained with; new photos of trained people are "
        "non-member pairs, although the model knows the person (that is what keeps the AUC well below the identity "
        "inference attack's)."
    )


PARTS = PageParts(sections=(*STANDARD_SECTIONS[:3], show_threshold, *STANDARD_SECTIONS[3:]))  # after the figures
