"""The identity inference (IDIA) page's parts: its own sidebar (a lab CLIP, an open_clip tag, a checkpoint
file or a model folder; the lab world, a dataset folder, or one person checked from photos held in
memory), the run through `ui.idia_runs.start_idia` (uploads, a reference run for one person's
verdict), and the result's sections (`ui.idia_view`)."""

from __future__ import annotations

from pathlib import Path

import streamlit as st

from leakage.attacks.base import Attack
from leakage.devices import pick_device
from leakage.idia import DEFAULT_TEMPLATES, IDIAConfig, PersonUpload
from leakage.models import list_open_clip_pretrained
from leakage.results import AttackResult
from ui.attack_form import allowed
from ui.attack_runs import cached_result
from ui.idia_runs import start_idia
from ui.idia_view import (
    UPLOADS_SHOWN,
    show_excluded,
    show_identity_verdict,
    show_occurrence_trend,
    show_people,
    show_threshold,
)
from ui.inputs import Inputs
from ui.page_parts import PageParts
from ui.resources import ensure_lab_with_progress
from ui.result_view import show_downloads, show_figures, show_headline, show_problems, show_provenance
from ui.text import md
from ui.uploads import decoded_uploads

MODEL_CHOICES = {
    "Lab CLIP (trained on the lab's members)": "lab",
    "Lab control CLIP (trained on other people only)": "lab-control",
    "open_clip model with a pretrained tag": "tag",
    "Local checkpoint file": "file",
    "Local folder (local-dir:) or hf-hub: id": "folder",
}
LAB_MODELS = ("lab", "lab-control")
SINGLE = "Check one person"


def identity_inputs(attack: Attack, key: str) -> Inputs:
    with st.sidebar:
        st.header("Model")
        model_kind = MODEL_CHOICES[st.radio("Model", list(MODEL_CHOICES), key=f"{key}-model-kind", label_visibility="collapsed")]
        model, pretrained = model_kind, None
        if model_kind == "tag":
            pairs = list_open_clip_pretrained()
            architecture = st.selectbox("Architecture", sorted({a for a, _ in pairs}), index=None, key=f"{key}-arch")
            tags = [t for a, t in pairs if a == architecture]
            model, pretrained = architecture or "", st.selectbox("Pretrained tag", tags, key=f"{key}-tag") if tags else None
            st.caption("Weights must be in the local cache; downloads are off unless LEAKAGE_ALLOW_DOWNLOADS=1.")
        elif model_kind == "file":
            model = st.text_input("Architecture (open_clip name)", "ViT-B-32", key=f"{key}-file-arch")
            pretrained = st.text_input("Checkpoint path", key=f"{key}-file-path") or None
        elif model_kind == "folder":
            model = st.text_input("local-dir:/path or hf-hub:org/repo", key=f"{key}-folder")

        st.header("Data")
        data_kind = st.radio("Data", ["Lab world", "Dataset folder", SINGLE], key=f"{key}-data-kind", label_visibility="collapsed")
        data, uploads, keep_check = "lab", [], True
        if data_kind == "Dataset folder":
            data = st.text_input("Folder with one subfolder of images per person", key=f"{key}-folder-path")
        elif data_kind == SINGLE:
            name = st.text_input("Full name of the person", key=f"{key}-person-name")
            files = st.file_uploader("Photos of the person (3 or more)", type=["jpg", "jpeg", "png", "webp", "bmp"],
                                     accept_multiple_files=True, key=f"{key}-uploads")
            st.caption("Photos stay in this server's memory for this session only; they are never written to disk.")
            keep_check = st.checkbox("Keep this check in the run store (name and scores, never the photos)", value=False,
                                     key=f"{key}-keep")
            if name and name.strip() and files:
                images, problems = decoded_uploads(files, f"{key}-uploads")  # capped, decoded once (ui.uploads)
                for problem in problems:
                    st.warning(f"{md(problem.path)}: {md(problem.reason)} (skipped)")
                uploads = [PersonUpload(name.strip(), images)] if images else []

        st.header("Attack")
        images_per_person = st.slider("Attack images per person", 1, 30, 10, key=f"{key}-k",
                                      help="k: the paper draws exactly k images per person and leaves out people with fewer.")
        keep_short = st.checkbox("Keep people with fewer than k usable images (flagged)", value=False, key=f"{key}-keep-short")
        n_candidates = st.select_slider("Candidate names", [50, 100, 200, 500, 1000, 2000], 1000, key=f"{key}-names")
        templates_text = st.text_area("Prompt templates ({} is the name)", "\n".join(DEFAULT_TEMPLATES), height=180,
                                      key=f"{key}-templates")
        templates = tuple(line.strip() for line in templates_text.splitlines() if line.strip())
        tau = st.number_input("tau (prompts that must name the person)", 0, max(1, len(templates)), 1, key=f"{key}-tau")

    config_error = None
    try:
        config = IDIAConfig(images_per_person=images_per_person, n_candidates=n_candidates, templates=templates, tau=int(tau),
                            keep_short=keep_short)
    except ValueError as error:
        config, config_error = None, str(error)

    needs_lab = model_kind in LAB_MODELS or data == "lab"
    # No model is loaded before the run: the run loads it (checked against the server's roots, never
    # running code from it), and says what went wrong there. Typed paths are checked here, without
    # reading them, so that a refused one leaves the button disabled.
    if model_kind in ("file", "folder"):
        model, pretrained = allowed(model, "model") or "", allowed(pretrained, "model")
        if model_kind == "file" and pretrained and not Path(pretrained).expanduser().is_file():
            st.error(f"checkpoint file not found: {md(pretrained)}")
            model = ""
    if data_kind == "Dataset folder":
        data = allowed(data.strip(), "data") or ""

    single = data_kind == SINGLE
    ready = bool(model) and config is not None and bool(uploads if single else data)
    return Inputs(model=model, data="uploads" if single else data, config=config, pretrained=pretrained, store=keep_check,
                  error=config_error, ready=ready,
                  extra={"single": single, "uploads": uploads, "model_kind": model_kind, "needs_lab": needs_lab})


def identity_prepare(attack: Attack, inputs: Inputs, key: str) -> AttackResult | None:
    if inputs.extra["needs_lab"]:
        ensure_lab_with_progress()
    st.info(f"Runs on this server use its {md(pick_device(None).description)}; the model is loaded when the run starts.")
    if inputs.extra["single"] and not inputs.extra["uploads"]:
        st.info("Type the person's name and upload a few photos of them in the sidebar.")
    # the home page's one-click demo lands here too ("Explore the result")
    return cached_result(st.session_state.get("demo-job-result"))


def identity_start(attack: Attack, inputs: Inputs, job: str) -> None:
    single, uploads = inputs.extra["single"], inputs.extra["uploads"]
    # one person checked against a lab model: a reference run on the lab's non-members gives the verdict its false-positive rate
    reference = "lab" if single and inputs.extra["model_kind"] in LAB_MODELS else None
    st.session_state[UPLOADS_SHOWN] = {label: image for upload in uploads for label, image in upload.images}
    start_idia(job, inputs.model, inputs.pretrained, inputs.data, inputs.config, uploads, store=inputs.store,
               reference_data=reference)


PARTS = PageParts(
    inputs=identity_inputs,
    prepare=identity_prepare,
    start=identity_start,
    sections=(show_excluded, show_identity_verdict, show_headline, show_figures, show_threshold, show_people,
              show_occurrence_trend, show_problems, show_downloads, show_provenance),
    title="Identity inference on CLIP",
    caption=(
        "The published attack (Hintersdorf et al., \"Does CLIP Know My Face?\"): the model sees photos of a person and 1,000 "
        "candidate names in 21 prompt templates; if it picks the right name for most photos under at least tau templates, "
        "the person was likely in its training data."
    ),
)
