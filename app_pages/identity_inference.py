"""Identity inference on CLIP (IDIA): was this person in the model's training data?"""

from pathlib import Path

import streamlit as st

from leakage.devices import pick_device
from leakage.idia import DEFAULT_TEMPLATES, IDIAConfig, PersonUpload
from leakage.models import list_open_clip_pretrained
from ui.attack_page import allowed
from ui.attack_runs import cached_result, finished_result
from ui.idia_runs import start_idia
from ui.idia_view import show_result
from ui.jobs import job_running
from ui.resources import ensure_lab_with_progress
from ui.text import md
from ui.uploads import decoded_uploads
from ui.verdict import single_person_verdict

st.title("Identity inference on CLIP")
st.caption(
    "The published attack (Hintersdorf et al., \"Does CLIP Know My Face?\"): the model sees photos of a person and 1,000 "
    "candidate names in 21 prompt templates; if it picks the right name for most photos under at least tau templates, "
    "the person was likely in its training data."
)

MODEL_CHOICES = {
    "Lab CLIP (trained on the lab's members)": "lab",
    "Lab control CLIP (trained on other people only)": "lab-control",
    "open_clip model with a pretrained tag": "tag",
    "Local checkpoint file": "file",
    "Local folder (local-dir:) or hf-hub: id": "folder",
}
with st.sidebar:
    st.header("Model")
    model_kind = MODEL_CHOICES[st.radio("Model", list(MODEL_CHOICES), key="idia-model-kind", label_visibility="collapsed")]
    model, pretrained = model_kind, None
    if model_kind == "tag":
        pairs = list_open_clip_pretrained()
        architecture = st.selectbox("Architecture", sorted({a for a, _ in pairs}), index=None, key="idia-arch")
        tags = [t for a, t in pairs if a == architecture]
        model, pretrained = architecture or "", st.selectbox("Pretrained tag", tags, key="idia-tag") if tags else None
        st.caption("Weights must be in the local cache; downloads are off unless LEAKAGE_ALLOW_DOWNLOADS=1.")
    elif model_kind == "file":
        model = st.text_input("Architecture (open_clip name)", "ViT-B-32", key="idia-file-arch")
        pretrained = st.text_input("Checkpoint path", key="idia-file-path") or None
    elif model_kind == "folder":
        model = st.text_input("local-dir:/path or hf-hub:org/repo", key="idia-folder")

    st.header("Data")
    data_kind = st.radio("Data", ["Lab world", "Dataset folder", "Check one person"], key="idia-data-kind", label_visibility="collapsed")
    data, uploads, keep_check = "lab", [], True
    if data_kind == "Dataset folder":
        data = st.text_input("Folder with one subfolder of images per person", key="idia-folder-path")
    elif data_kind == "Check one person":
        name = st.text_input("Full name of the person", key="idia-person-name")
        files = st.file_uploader("Photos of the person (3 or more)", type=["jpg", "jpeg", "png", "webp", "bmp"],
                                 accept_multiple_files=True, key="idia-uploads")
        st.caption("Photos stay in this server's memory for this session only; they are never written to disk.")
        keep_check = st.checkbox("Keep this check in the run store (name and scores, never the photos)", value=False, key="idia-keep")
        if name and name.strip() and files:
            images, problems = decoded_uploads(files, "idia-uploads")  # capped, decoded once (ui.uploads)
            for problem in problems:
                st.warning(f"{md(problem.path)}: {md(problem.reason)} (skipped)")
            uploads = [PersonUpload(name.strip(), images)] if images else []

    st.header("Attack")
    images_per_person = st.slider("Attack images per person", 1, 30, 10, key="idia-k",
                                  help="k: the paper draws exactly k images per person and leaves out people with fewer.")
    keep_short = st.checkbox("Keep people with fewer than k usable images (flagged)", value=False, key="idia-keep-short")
    n_candidates = st.select_slider("Candidate names", [50, 100, 200, 500, 1000, 2000], 1000, key="idia-names")
    templates_text = st.text_area("Prompt templates ({} is the name)", "\n".join(DEFAULT_TEMPLATES), height=180, key="idia-templates")
    templates = tuple(line.strip() for line in templates_text.splitlines() if line.strip())
    tau = st.number_input("tau (prompts that must name the person)", 0, max(1, len(templates)), 1, key="idia-tau")

config_error = None
try:
    config = IDIAConfig(images_per_person=images_per_person, n_candidates=n_candidates, templates=templates, tau=int(tau),
                        keep_short=keep_short)
except ValueError as error:
    config, config_error = None, str(error)

if model_kind in ("lab", "lab-control") or data == "lab":
    ensure_lab_with_progress()
# No model is loaded before the run: the run loads it (checked against the server's roots, never
# running code from it), and says what went wrong there. Typed paths are checked here, without reading them.
if model_kind in ("file", "folder"):
    model, pretrained = allowed(model, "model") or "", allowed(pretrained, "model")
    if model_kind == "file" and pretrained and not Path(pretrained).expanduser().is_file():
        st.error(f"checkpoint file not found: {md(pretrained)}")
        model = ""
if data_kind == "Dataset folder":
    data = allowed(data.strip(), "data") or ""
st.info(f"Runs on this server use its {md(pick_device(None).description)}; the model is loaded when the run starts.")

single = data_kind == "Check one person"
ready = bool(model) and config is not None and (uploads if single else bool(data))
if config_error:
    st.error(md(config_error))
if single and not uploads:
    st.info("Type the person's name and upload a few photos of them in the sidebar.")
if st.button("Run the attack", type="primary", disabled=not ready or job_running("idia-job"), key="idia-run"):
    reference = "lab" if single and model_kind in ("lab", "lab-control") else None
    st.session_state["idia-uploads-shown"] = {label: image for upload in uploads for label, image in upload.images}
    try:
        start_idia("idia-job", model, pretrained, "uploads" if single else data, config, uploads,
                   store=keep_check, reference_data=reference)
    except (FileNotFoundError, NotADirectoryError, ValueError) as error:
        st.error(md(error))

# the home page's one-click demo lands here too ("Explore the result")
result = finished_result("idia-job") or cached_result(st.session_state.get("demo-job-result"))
if result is not None:
    excluded = result.details.get("excluded") or []
    if excluded:
        with st.expander(f"{len(excluded)} people left out: fewer than k = {result.config['images_per_person']} usable images"):
            st.dataframe([{"name": row["name"], "reason": row["reason"]} for row in excluded], hide_index=True, width="stretch")
    if result.dataset.get("id", "").startswith("uploaded"):
        single_person_verdict(result)
    show_result(result, "idia-result", images=st.session_state.get("idia-uploads-shown"))
