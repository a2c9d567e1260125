"""Masked image modeling: was this image in a masked autoencoder's pre-training data?

Thin on purpose: the attack is `leakage.mim`, the lab model `leakage.lab.mae`, the ROC figures
and numbers `leakage.report`; this page only picks inputs and draws results.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import plotly.graph_objects as go
import streamlit as st

from leakage.lab.mae import LAB_MAE_DATA, LAB_MAE_MODEL, LAB_MAE_REFERENCE, is_built, default_lab_mae_config
from leakage.mim import LoadedMAE, MIMConfig, RuntimeOptions, reconstruct, resolve_data, resolve_model, run_mim
from leakage.report import PALETTE, result_roc, roc_figure
from leakage.results import AttackResult

MODEL_SOURCES = {
    "Lab MAE": "pre-trained here on the lab's member images",
    "Local folder": "a folder written by save_pretrained",
    "Hub id": "e.g. facebook/vit-mae-base (needs the weights in the local cache, or downloads allowed)",
}


class StreamlitProgress:
    """progress(stage, done, total) drawn as one Streamlit progress bar."""

    def __init__(self) -> None:
        self.bar = st.progress(0.0, text="starting")

    def __call__(self, stage: str, done: int, total: int) -> None:
        self.bar.progress(min(1.0, done / max(total, 1)), text=f"{stage}: {done} / {total}")

    def done(self) -> None:
        self.bar.empty()


@st.cache_resource(show_spinner=False, max_entries=4)
def cached_model(spec: str, _progress=None) -> LoadedMAE:
    return resolve_model(spec, progress=_progress)


def model_picker(label: str, key: str, lab_name: str) -> str | None:
    """A model spec from the chosen source, or None while it is still empty."""
    source = st.radio(label, list(MODEL_SOURCES), horizontal=True, key=f"{key}-source", captions=list(MODEL_SOURCES.values()))
    if source == "Lab MAE":
        return lab_name
    placeholder = "/models/vit-mae-base" if source == "Local folder" else "facebook/vit-mae-base"
    return st.text_input(f"{label}: {source.lower()}", key=f"{key}-spec", placeholder=placeholder).strip() or None


def settings() -> dict:
    left, right = st.columns(2)
    with left:
        target = model_picker("Model under test", "target", LAB_MAE_MODEL)
        use_reference = st.checkbox("Calibrate with a reference model", key="use-reference",
                                    help="A model trained without the images under test (the paper's shadow model); "
                                         "the score becomes its error minus the target's, which cancels how hard an image is.")
        reference = model_picker("Reference model", "reference", LAB_MAE_REFERENCE) if use_reference else None
    with right:
        data_source = st.radio("Images", ["Lab attack set", "Folder"], horizontal=True, key="data-source",
                               captions=["member images are the exact pre-training images", "one subfolder per person, members.csv for ground truth"])
        data = LAB_MAE_DATA if data_source == "Lab attack set" else (st.text_input("Image folder", key="data-folder").strip() or None)
        mask_ratio = st.slider("Mask ratio", 0.05, 0.95, 0.75, 0.05, key="mask-ratio", help="Fraction of patches hidden per mask (MAE pre-trains at 0.75).")
        n_masks = st.slider("Masks per image", 1, 32, 8, key="masks", help="Errors are averaged over this many random masks.")
        seed = st.number_input("Seed", min_value=0, value=0, step=1, key="seed")
        keep = st.checkbox("Keep this run in the run store", value=True, key="keep")
    return {"target": target, "reference": reference, "data": data, "keep": keep,
            "config": MIMConfig(mask_ratio=float(mask_ratio), n_masks=int(n_masks), seed=int(seed))}


def run_attack(chosen: dict) -> None:
    progress = StreamlitProgress()
    try:
        if LAB_MAE_MODEL in (chosen["target"], chosen["data"]) and not is_built(default_lab_mae_config()):
            st.info("Building the lab MAE first (once; a few minutes on a CPU).")
        target = cached_model(chosen["target"], progress)
        reference = cached_model(chosen["reference"], progress) if chosen["reference"] else None
        dataset, dataset_id = resolve_data(chosen["data"], progress=progress)
        result = run_mim(target, dataset, chosen["config"], reference=reference, runtime=RuntimeOptions(num_workers=0),
                         dataset_id=dataset_id, progress=progress)
    except Exception as error:  # noqa: BLE001 - shown to the person, who can fix the input
        progress.done()
        st.session_state.pop("mim-result", None)
        st.error(f"{type(error).__name__}: {error}")
        return
    progress.done()
    if chosen["keep"]:
        from leakage.store import RunStore

        with RunStore() as store:
            run_id = store.save(result)
        st.success(f"Stored as run {run_id} (open it on the Runs page).")
    st.session_state["mim-result"] = (result, chosen)


def error_histogram(result: AttackResult) -> go.Figure:
    rows = result.identities
    figure = go.Figure()
    for wanted, name, color in ((True, "member images", PALETTE[1]), (False, "non-member images", PALETTE[0]), (None, "unknown", "#999999")):
        errors = [row["reconstruction_error"] for row in rows if row.get("member") is wanted]
        if errors:
            figure.add_trace(go.Histogram(x=errors, name=name, marker_color=color, opacity=0.6, bingroup="errors"))
    figure.update_layout(barmode="overlay", template="plotly_white", height=360, title="Reconstruction error (lower = more likely a member)",
                         xaxis_title="mean error over the masks (the model's own loss)", yaxis_title="images",
                         margin={"l": 60, "r": 20, "t": 50, "b": 50})
    return figure


def show_metrics(result: AttackResult) -> None:
    metrics = result.metrics
    if "auc" not in metrics:
        st.info("No ground truth with both member and non-member images: scores only (see the table).")
        return
    columns = st.columns(4)
    columns[0].metric("AUC", f"{metrics['auc']:.3f}", help=f"95% CI {metrics['auc_ci'][0]:.3f}\u2013{metrics['auc_ci'][1]:.3f}")
    for column, key, label in zip(columns[1:], ("0.01", "0.001", "0"), ("1%", "0.1%", "0%")):
        low, high = metrics["tpr_at_fpr_ci"][key]
        column.metric(f"TPR at {label} FPR", f"{100 * metrics['tpr_at_fpr'][key]:.1f}%", help=f"95% CI {100 * low:.1f}%\u2013{100 * high:.1f}%")
    curve = result_roc(result, name=result.config.get("model", "model"))
    left, right = st.columns(2)
    left.plotly_chart(roc_figure([curve]), key="mim-roc-linear")
    right.plotly_chart(roc_figure([curve], log_axes=True), key="mim-roc-log")


def example_row(result: AttackResult, member: bool, pick: str) -> dict | None:
    rows = sorted((row for row in result.identities if row.get("member") is member), key=lambda row: row["score"])
    if not rows:
        return None
    return {"typical": rows[len(rows) // 2], "most member-like": rows[-1], "least member-like": rows[0]}[pick]


def show_examples(result: AttackResult, chosen: dict) -> None:
    st.subheader("What the model sees")
    pick = st.radio("Example", ["typical", "most member-like", "least member-like"], horizontal=True, key="example-pick",
                    help="Median, highest and lowest score within each group.")
    mask_index = st.slider("Mask", 0, chosen["config"].n_masks - 1, 0, key="example-mask") if chosen["config"].n_masks > 1 else 0
    target = cached_model(chosen["target"])
    columns = st.columns(2)
    for column, member, title in ((columns[0], True, "Member image"), (columns[1], False, "Non-member image")):
        row = example_row(result, member, pick)
        with column:
            st.markdown(f"**{title}**")
            if row is None:
                st.caption("none in this data")
                continue
            shown = reconstruct(target, row["path"], row["name"], chosen["config"], mask_index)
            st.image([shown.original, shown.masked, shown.reconstruction], caption=["original", "masked input", "reconstruction"], width=150)
            st.caption(f"{row['name']} \u00b7 error under this mask {shown.error:.4f} \u00b7 mean over masks {row['reconstruction_error']:.4f}")


def main() -> None:
    st.title("Masked image modeling: membership inference")
    st.caption("Hide random patches of an image and let the masked autoencoder fill them in: images from its pre-training "
               "data come back with a lower error (Li et al., 2024).")
    chosen = settings()
    ready = chosen["target"] and chosen["data"] and (chosen["reference"] or not st.session_state.get("use-reference"))
    if st.button("Run attack", type="primary", disabled=not ready, key="run"):
        run_attack(chosen)
    stored = st.session_state.get("mim-result")
    if stored is None:
        return
    result, used = stored
    st.caption(f"model {result.config['model']} \u00b7 data {result.dataset.get('id')} \u00b7 mask ratio {used['config'].mask_ratio:.2f} "
               f"\u00b7 {used['config'].n_masks} masks \u00b7 {result.metrics['n_images']} images \u00b7 config {result.config_hash}")
    show_metrics(result)
    st.plotly_chart(error_histogram(result), key="mim-errors")
    show_examples(result, used)
    if result.problems:
        with st.expander(f"{len(result.problems)} files skipped"):
            st.dataframe(pd.DataFrame(result.problems), hide_index=True, width="stretch")
    with st.expander("Per image"):
        table = pd.DataFrame(result.identities).drop(columns=["path"], errors="ignore")
        st.dataframe(table.sort_values("score", ascending=False, ignore_index=True), hide_index=True, width="stretch")


main()
