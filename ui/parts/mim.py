"""Membership inference against masked image modeling: was this image in a masked autoencoder's
pre-training data? The page's parts (`ui.page_parts`): its own sidebar (the model from the lab, a
folder or the hub, the method and its shadow or reference model, the images, the mask settings), the
notice that the lab MAE is built on the first run, and the result's sections: the standard ones and
the run's settings, the shadow model's threshold and the reconstructions.

The attack is declared in `leakage.attacks.mim` (engine `leakage.mim`); runs start through the run
service (`ui.page_parts.default_start`).
"""

from __future__ import annotations

import streamlit as st

from leakage.attacks.base import Attack
from leakage.catalog import lab_model
from leakage.hub import HubUnavailableError
from leakage.lab.mae import default_lab_mae_config, is_built
from leakage.mim import MIMConfig, reconstruct
from leakage.results import AttackResult
from ui.inputs import Inputs
from ui.page_parts import PageParts
from ui.resources import shared_model
from ui.result_view import (
    show_downloads,
    show_figures,
    show_headline,
    show_items,
    show_problems,
    show_provenance,
    show_verdict,
)
from ui.text import md

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


def sidebar(attack: Attack, key: str) -> Inputs:
    """The model under test, the method (with its shadow or reference model), the images and the masks.
    Ready once the model, the images and the method's extra model are given."""
    with st.sidebar:
        st.header("Model")
        target = model_picker("Model under test", f"{key}-target", "lab-mae")
        method = st.radio(
            "Method", list(METHODS), key=f"{key}-method", captions=list(METHODS.values()),
            help="The paper's method picks an error threshold on a shadow model trained on the attacker's own data; "
                 "per-example calibration is a different, stronger method (Watson et al. 2022, LiRA's offset).")
        extra = {}
        if method == "Shadow-model threshold (the paper)":
            extra["shadow"] = model_picker("Shadow model", f"{key}-shadow", "lab-mae-shadow")
        elif method == "Per-example calibration":
            extra["reference"] = model_picker("Reference model", f"{key}-reference", "lab-mae-reference")
        st.header("Images")
        data_source = st.radio("Images", ["Lab attack set", "Folder"], key=f"{key}-data-source", label_visibility="collapsed",
                               captions=["members: the exact pre-training images; non-members: fresh renders",
                                         "one subfolder per person (or member/ and non-member/), members.csv for ground truth"])
        data = "lab-mae" if data_source == "Lab attack set" else (st.text_input("Image folder", key=f"{key}-data-folder").strip() or None)
        st.header("Attack")
        mask_ratio = st.slider("Mask ratio", 0.05, 0.95, 0.75, 0.05, key=f"{key}-mask-ratio",
                               help="Fraction of patches hidden per mask; MAE pre-training uses 0.75.")
        n_masks = st.slider("Masks per image", 1, 32, 8, key=f"{key}-masks", help="The error is averaged over this many random masks.")
        seed = st.number_input("Seed of the masks", min_value=0, value=0, step=1, key=f"{key}-seed")
        keep = st.checkbox("Keep this run in the run store", value=True, key=f"{key}-keep")
    return Inputs(model=target, data=data, extra_models=extra, store=keep,
                  config=MIMConfig(mask_ratio=float(mask_ratio), n_masks=int(n_masks), seed=int(seed)))


def build_notice(attack: Attack, inputs: Inputs, key: str) -> None:
    if "lab-mae" in (inputs.model, inputs.data) and not is_built(default_lab_mae_config()):
        st.info("The lab MAE is built on the first run (once; a few minutes on a CPU).")


def run_settings(result: AttackResult) -> tuple[str, MIMConfig]:
    """The model this result was computed with (a lab name, or the folder or id it was loaded from) and
    its mask settings: what the reconstructions must show, whatever the sidebar names now."""
    config = MIMConfig(**{name: result.config[name] for name in ("mask_ratio", "n_masks", "seed")})
    return str(result.config["model"]), config


def show_settings(result: AttackResult, key: str) -> None:
    """The run's model, data and masks, the target model's warnings and the method."""
    config = run_settings(result)[1]
    st.caption(f"model {md(result.config['model'])}" + (f" \u00b7 reference {md(result.config['reference_model'])}" if result.config.get("reference_model") else "")
               + f" \u00b7 data {md(result.dataset.get('id'))} \u00b7 mask ratio {config.mask_ratio:.2f} \u00b7 {config.n_masks} masks \u00b7 "
               f"{result.metrics['n_images']} images")
    for warning in result.model.get("warnings", []):
        st.warning(f"Target model: {md(warning)}")
    if result.details.get("method_description"):
        st.caption(f"Method: {result.details['method_description']}")


def show_shadow_threshold(result: AttackResult, key: str) -> None:
    """The paper's decision: the error threshold chosen on the shadow model, applied to the target."""
    shadow = result.details.get("shadow")
    if shadow and "threshold_accuracy" in result.metrics:
        metrics = result.metrics
        columns = st.columns(4)
        columns[0].metric("Threshold (error)", f"{shadow['error_threshold']:.4f}", help="Chosen on the shadow model's own data.")
        columns[1].metric("Accuracy at it", f"{metrics['threshold_accuracy']:.3f}")
        columns[2].metric("TPR at it", f"{metrics['threshold_tpr']:.3f}")
        columns[3].metric("FPR at it", f"{metrics['threshold_fpr']:.3f}")


def example_row(result: AttackResult, member: bool, pick: str) -> dict | None:
    rows = sorted((row for row in result.identities if row.get("member") is member), key=lambda row: row["score"])
    if not rows:
        return None
    return {"typical": rows[len(rows) // 2], "most member-like": rows[-1], "least member-like": rows[0]}[pick]


def run_model(model: str):
    """The result's own model, or None with the reason shown: on the Runs page it may be gone (a moved
    folder, a lab MAE not built in this data home, a hub id not in the cache)."""
    entry = lab_model(model)
    if entry is not None and not entry.is_built():  # not built here: loading would build it (minutes)
        st.caption(f"{md(model)} is not built here: no reconstructions.")
        return None
    try:
        return shared_model("mae", model).model
    except (OSError, ValueError, HubUnavailableError) as error:
        st.caption(f"cannot load {md(model)}: {md(error)}")
        return None


def show_examples(result: AttackResult, key: str) -> None:
    st.subheader("What the model sees")
    model, config = run_settings(result)
    # one result at a time on the attack's page and on the Runs page: the keys need no run in them
    pick = st.radio("Example", ["typical", "most member-like", "least member-like"], horizontal=True, key="mim-example",
                    help="The median, highest and lowest score within each group.")
    mask_index = st.slider("Mask", 1, config.n_masks, 1, key="mim-example-mask") - 1 if config.n_masks > 1 else 0
    target = run_model(model)
    if target is None:
        return
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


def show_per_image(result: AttackResult, key: str) -> None:
    with st.expander("Per image"):
        show_items(result, key)


PARTS = PageParts(
    title="Membership inference on masked image models",
    caption="The attack of Li et al. (\u201cMembership Inference Attack Against Masked Image Modeling\u201d, 2024): hide random "
            "patches of an image and let the masked autoencoder fill them in, several times; images from its pre-training "
            "data come back with a lower error.",
    inputs=sidebar,
    prepare=build_notice,
    sections=(show_verdict, show_settings, show_headline, show_shadow_threshold, show_figures, show_examples, show_problems, show_per_image,
              show_downloads, show_provenance),
)
