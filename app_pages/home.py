"""Home: what the dashboard shows, where each attack sits in the threat taxonomy, a one-click lab demo."""

import streamlit as st

from leakage.attacks import get_attack, list_attacks
from leakage.attacks.base import THREATS
from leakage.idia import IDIAConfig
from ui.attack_runs import finished_result
from ui.idia_runs import start_idia
from ui.links import attack_page, page_link
from ui.resources import ensure_lab_with_progress
from ui.result_view import show_figures, show_headline

st.title("How much do models leak about people?")
st.markdown(
    """
Foundation models are trained on billions of pictures and captions scraped from the web, and
many of them show real people. This dashboard runs published **attacks** against a model and
measures, with honest error rates, how much it gives away about the people in its training data
and how far an attacker can control what it says:
"""
)
st.markdown("\n".join(f"- **{attack.nav_title or attack.title}**: {attack.question}" for attack in list_attacks()))
st.markdown(
    """
Everything runs out of the box on **the lab**: a synthetic world of invented people and small
models trained here on a known subset of them, so you can demonstrate leakage without using
anyone's real face. Point the attack pages at your own models for real audits.
"""
)

st.subheader("Where the attacks sit among the risks of foundation models")
st.markdown(
    "Jia, Liu and Gong list ten security and privacy problems of foundation models: a foundation model is a single "
    "point of failure for every downstream task."
)


def in_dashboard(threat: str) -> str:
    names = [f"**{attack.nav_title or attack.title}** ({attack.taxonomy})" for attack in list_attacks() if attack.threat == threat]
    return ", ".join(names) or "\u2014"


st.markdown(
    f"""
| | confidentiality (6 problems) | integrity (3) | availability (1) |
|---|---|---|---|
| what goes wrong | training data, the model or its inputs are revealed | an attacker controls what the model outputs | the model stops working for its users |
| examples | membership and identity inference, data extraction, model stealing | backdoors, data poisoning, adversarial examples | poisoning that degrades a model for everyone |
| in this dashboard | {in_dashboard("confidentiality")} | {in_dashboard("integrity")} | {in_dashboard("availability")} |
"""
)
with st.expander("What each threat means"):
    for threat, text in THREATS.items():
        st.markdown(f"- {text}")

page_link("app_pages/lessons.py", label="Teaching a class or briefing stakeholders? The Lessons walk through every risk in "
             "guided steps, live on the lab, with a presenter mode and a handout.", icon=":material/school:")

st.subheader("One-click demo")
st.markdown(
    "Runs the identity inference attack on the lab's CLIP with 10 photos per person, for 100 people it "
    "was trained on and 100 it never saw, against 1,000 candidate names."
)
DEMO = IDIAConfig(images_per_person=10)
if st.button("Run the lab demo", type="primary", key="demo-run"):
    ensure_lab_with_progress()
    start_idia("demo-job", "lab", None, "lab", DEMO)

result = finished_result("demo-job")
if result is not None:
    st.success(
        f"The attack found {result.metrics['at_threshold']['tp']} of {result.metrics['n_members']} people the model was "
        f"trained on, and wrongly flagged {result.metrics['at_threshold']['fp']} of {result.metrics['n_nonmembers']} it never saw."
    )
    show_headline(result)
    show_figures(result, "demo")
    page_link(attack_page(get_attack("idia")), label="Explore the result: thresholds, people, images", icon=":material/arrow_forward:")
