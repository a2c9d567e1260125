"""Home: what the dashboard shows, where each attack sits in the threat taxonomy, a one-click lab demo."""

import streamlit as st

from leakage.idia import IDIAConfig
from ui.idia_runs import cached_result, start_idia
from ui.idia_view import show_headline, show_roc
from ui.jobs import watch_job
from ui.resources import ensure_lab_with_progress

st.title("How much do models leak about people?")
st.markdown(
    """
Foundation models are trained on billions of pictures and captions scraped from the web, and
many of them show real people. This dashboard runs published **privacy attacks** against a
model and measures, with honest error rates, how much it gives away about the people in its
training data:

- **Identity inference on CLIP**: with a few photos and the name of a person, tell whether the
  person was in the training data ("Does CLIP know my face?").
- **VLM identity probe**: ask a vision-language model who is in a picture, with the face
  blurred, pixelated or masked, and count how often it names the person.
- **Membership inference on masked image modeling**: tell whether a given *image* was in the
  pre-training set from how well the model reconstructs it.

Everything runs out of the box on **the lab**: a synthetic world of invented people and small
models trained here on a known subset of them, so you can demonstrate leakage without using
anyone's real face. Point the attack pages at your own models for real audits.
"""
)

st.subheader("Where the attacks sit among the risks of foundation models")
st.markdown(
    """
Jia, Liu and Gong list ten security and privacy problems of foundation models: a foundation
model is a single point of failure for every downstream task.

| | confidentiality (6 problems) | integrity (3) | availability (1) |
|---|---|---|---|
| what goes wrong | training data, the model or its inputs are revealed | an attacker controls what the model outputs | the model stops working for its users |
| examples | membership and identity inference, data extraction, model stealing | backdoors, data poisoning, adversarial examples | poisoning that degrades a model for everyone |
| in this dashboard | **identity inference (CLIP)**, **VLM identity probe**, **MIM membership inference** | backdoors and poisoning with a defense: planned | — |
"""
)

st.subheader("One-click demo")
st.markdown(
    "Runs the identity inference attack on the lab's CLIP with 10 photos per person, for 100 people it "
    "was trained on and 100 it never saw, against 1,000 candidate names."
)
DEMO = IDIAConfig(images_per_person=10)
if st.button("Run the lab demo", type="primary", key="demo-run"):
    ensure_lab_with_progress()
    start_idia("demo-job", "lab", None, "lab", DEMO)

watch_job("demo-job", lambda job: st.session_state.__setitem__("demo-job-result", job.result))
result = cached_result(st.session_state.get("demo-job-result"))
if result is not None:
    st.success(
        f"The attack found {result.metrics['at_threshold']['tp']} of {result.metrics['n_members']} people the model was "
        f"trained on, and wrongly flagged {result.metrics['at_threshold']['fp']} of {result.metrics['n_nonmembers']} it never saw."
    )
    show_headline(result)
    show_roc(result, "demo")
    st.page_link("app_pages/identity_inference.py", label="Explore the result: thresholds, people, images", icon=":material/arrow_forward:")
