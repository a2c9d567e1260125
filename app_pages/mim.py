"""Membership inference against masked image modeling: was this image in a masked autoencoder's
pre-training data?

Thin on purpose: the attack is declared in `leakage.attacks.mim` (engine `leakage.mim`), runs start
through `ui.attack_runs` (shared model, turns, progress and Cancel) and the numbers and figures come
from the standard result view; this page adds the reconstructions.
"""

from __future__ import annotations

import streamlit as st

from leakage.attacks.mim import ATTACK
from leakage.lab.mae import default_lab_mae_config, is_built
from leakage.mim import MIMConfig, reconstruct
from leakage.results import AttackResult
from ui.attack_runs import finished_result, start_attack
from ui.jobs import job_running
from ui.resources import shared_model
from ui.result_view import show_downloads, show_figures, show_headline, show_items, show_problems, show_provenance
from ui.text import md

JOB = "mim-job"
METHODS = {
    "Plain": "score = minus the reconstruction error; AUC and TPR at low FPR",
    "Shadow-model threshold (the paper)": "a threshold chosen on a shadow model's own members and non-members",
    "Per-example calibration": "score = a reference model's error minus the target's (not the paper's method)",
}
MODEL_SOURCES = {
    "Lab MAE": "pre-trained here on the lab's member images",
    "Local folder": "written by save_pretrained",
    "Hub id": "e.g. facebook/vit-mae-base; weights must be in the local cache unless LEAKAGE_ALLOW_DOWNLOADS=1",
}


def model_picker(label: str, key: str, lab_name: str) -> str | None:
    """A model spec from the chosen source, or None while it is still empty."""
    source = st.radio(label, list(MODEL_SOURCES), key=f"{key}-source", captions=list(MODEL_SOURCES.values()))
    if source == "Lab MAE":
        return lab_name
    placeholder = "/models/vit-mae-base" if source == "Local folder" else "facebook/vit-mae-base"
    return st.text_input(f"{label}: {source.lower()}", key=f"{key}-spec", placeholder=placeholder).strip() or None


def sidebar() -> dict:
    with st.sidebar:
        st.header("Model")
        target = model_picker("Model under test", "mim-target", "lab-mae")
        method = st.radio(
            "Method", list(METHODS), key="mim-method", captions=list(METHODS.values()),
            help="The paper's method picks an error threshold on a shadow model trained on the attacker's own data; "
                 "per-example calibration is a different, stronger method (Watson et al. 2022, LiRA's offset).")
        reference = shadow = None
        if method == "Shadow-model threshold (the paper)":
            shadow = model_picker("Shadow model", "mim-shadow", "lab-mae-shadow")
        elif method == "Per-example calibration":
            reference = model_picker("Reference model", "mim-reference", "lab-mae-reference")
        st.header("Images")
        data_source = st.radio("Images", ["Lab attack set", "Folder"], key="mim-data-source", label_visibility="collapsed",
                               captions=["members: the exact pre-training images; non-members: fresh renders",
                                         "one subfolder per person (or member/ and non-member/), members.csv for ground truth"])
        data = "lab-mae" if data_source == "Lab attack set" else (st.text_input("Image folder", key="mim-data-folder").strip() or None)
        st.header("Attack")
        mask_ratio = st.slider("Mask ratio", 0.05, 0.95, 0.75, 0.05, key="mim-mask-ratio",
                               help="Fraction of patches hidden per mask; MAE pre-training uses 0.75.")
        n_masks = st.slider("Masks per image", 1, 32, 8, key="mim-masks", help="The error is averaged over this many random masks.")
        seed = st.number_input("Seed of the masks", min_value=0, value=0, step=1, key="mim-seed")
        keep = st.checkbox("Keep this run in the run store", value=True, key="mim-keep")
    return {"target": target, "reference": reference, "shadow": shadow, "method": method, "data": data, "keep": keep,
            "config": MIMConfig(mask_ratio=float(mask_ratio), n_masks=int(n_masks), seed=int(seed))}


def start(chosen: dict) -> None:
    extra = {role: chosen[role] for role in ("reference", "shadow") if chosen[role]}
    # kept before the start: start_attack redraws the page at once, and the result view must show
    # the run's own model and settings, not whatever the sidebar names later
    st.session_state["mim-chosen"] = chosen
    start_attack(JOB, ATTACK.name, chosen["target"], chosen["data"], chosen["config"], extra_models=extra, store=chosen["keep"])


def run_settings(result: AttackResult) -> tuple[str, MIMConfig]:
    """The model this result was computed with (a lab name, or the folder or id it was loaded from) and
    its mask settings: what the reconstructions must show, whatever the sidebar names now."""
    config = MIMConfig(**{key: result.config[key] for key in ("mask_ratio", "n_masks", "seed")})
    return str(result.config["model"]), config


def example_row(result: AttackResult, member: bool, pick: str) -> dict | None:
    rows = sorted((row for row in result.identities if row.get("member") is member), key=lambda row: row["score"])
    if not rows:
        return None
    return {"typical": rows[len(rows) // 2], "most member-like": rows[-1], "least member-like": rows[0]}[pick]


def show_examples(result: AttackResult, chosen: dict) -> None:
    st.subheader("What the model sees")
    model, config = run_settings(result)
    pick = st.radio("Example", ["typical", "most member-like", "least member-like"], horizontal=True, key="mim-example",
                    help="The median, highest and lowest score within each group.")
    mask_index = st.slider("Mask", 1, config.n_masks, 1, key="mim-example-mask") - 1 if config.n_masks > 1 else 0
    target = shared_model("mae", model).model
    for column, member, title in zip(st.columns(2), (True, False), ("Member image", "Non-member image")):
        row = example_row(result, member, pick)
        with column:
            st.markdown(f"**{title}**")
            if row is None:
                st.caption("none in this data")
                continue
            try:
                shown = reconstruct(target, row["path"], row["name"], config, mask_index)
            except (OSError, ValueError) as error:
                st.caption(f"cannot show {md(row['name'])}: {md(error)}")
                continue
            st.image([shown.original, shown.masked, shown.reconstruction], caption=["original", "masked input", "reconstruction"], width=150)
            st.caption(f"{md(row['name'])} \u00b7 error under this mask {shown.error:.4f} \u00b7 mean over the masks {row['reconstruction_error']:.4f}")


def show_result(result: AttackResult, chosen: dict) -> None:
    config = run_settings(result)[1]
    st.caption(f"model {md(result.config['model'])}" + (f" \u00b7 reference {md(result.config['reference_model'])}" if result.config.get("reference_model") else "")
               + f" \u00b7 data {md(result.dataset.get('id'))} \u00b7 mask ratio {config.mask_ratio:.2f} \u00b7 {config.n_masks} masks \u00b7 "
               f"{result.metrics['n_images']} images")
    for warning in result.model.get("warnings", []):
        st.warning(f"Target model: {md(warning)}")
    if result.details.get("method_description"):
        st.caption(f"Method: {result.details['method_description']}")
    show_headline(result)
    shadow = result.details.get("shadow")
    if shadow and "threshold_accuracy" in result.metrics:
        metrics = result.metrics
        columns = st.columns(4)
        columns[0].metric("Threshold (error)", f"{shadow['error_threshold']:.4f}", help="Chosen on the shadow model's own data.")
        columns[1].metric("Accuracy at it", f"{metrics['threshold_accuracy']:.3f}")
        columns[2].metric("TPR at it", f"{metrics['threshold_tpr']:.3f}")
        columns[3].metric("FPR at it", f"{metrics['threshold_fpr']:.3f}")
    show_figures(result, "mim-result")
    show_examples(result, chosen)
    show_problems(result)
    with st.expander("Per image"):
        show_items(result, "mim-result")
    show_downloads(result, "mim-result")
    show_provenance(result)


def main() -> None:
    st.title("Membership inference on masked image models")
    st.caption("The attack of Li et al. (\u201cMembership Inference Attack Against Masked Image Modeling\u201d, 2024): hide random "
               "patches of an image and let the masked autoencoder fill them in, several times; images from its pre-training "
               "data come back with a lower error.")
    chosen = sidebar()
    if "lab-mae" in (chosen["target"], chosen["data"]) and not is_built(default_lab_mae_config()):
        st.info("The lab MAE is built on the first run (once; a few minutes on a CPU).")
    ready = bool(chosen["target"] and chosen["data"] and (chosen["method"] == "Plain" or chosen["reference"] or chosen["shadow"]))
    if st.button("Run the attack", type="primary", disabled=not ready or job_running(JOB), key="mim-run"):
        start(chosen)
    result = finished_result(JOB)
    if result is not None:
        show_result(result, st.session_state.get("mim-chosen") or chosen)


main()
