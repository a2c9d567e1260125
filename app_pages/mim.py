"""Membership inference against masked image modeling: was this image in a masked autoencoder's
pre-training data?

Thin on purpose: the attack is `leakage.mim`, the lab model `leakage.lab.mae`, the ROC figures
`leakage.report`, background runs with progress and Cancel `ui.jobs`; this page picks inputs and
draws results.
"""

from __future__ import annotations

import pandas as pd
import plotly.graph_objects as go
import streamlit as st

from leakage.lab.mae import LAB_MAE_DATA, LAB_MAE_MODEL, LAB_MAE_REFERENCE, default_lab_mae_config, is_built
from leakage.mim import LoadedMAE, MIMConfig, RuntimeOptions, reconstruct, resolve_data, resolve_model, run_mim
from leakage.report import PALETTE, result_roc, roc_figure, short_model_name
from leakage.results import AttackResult
from ui.jobs import Job, job_running, start_job, watch_job

JOB = "mim-job"
MODEL_SOURCES = {
    "Lab MAE": "pre-trained here on the lab's member images",
    "Local folder": "written by save_pretrained",
    "Hub id": "e.g. facebook/vit-mae-base; weights must be in the local cache unless LEAKAGE_ALLOW_DOWNLOADS=1",
}


@st.cache_resource(show_spinner=False, max_entries=4)
def shared_mae(spec: str, _progress=None) -> LoadedMAE:
    """One copy per server; concurrent runs are safe (the mask ratio is set under a lock in leakage.mim)."""
    return resolve_model(spec, progress=_progress)


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
        target = model_picker("Model under test", "mim-target", LAB_MAE_MODEL)
        use_reference = st.checkbox(
            "Calibrate with a reference model", key="mim-use-reference",
            help="A model pre-trained without the images under test (the paper's shadow model). The score becomes its "
                 "error minus the target's, which cancels how hard an image is to reconstruct.")
        reference = model_picker("Reference model", "mim-reference", LAB_MAE_REFERENCE) if use_reference else None
        st.header("Images")
        data_source = st.radio("Images", ["Lab attack set", "Folder"], key="mim-data-source", label_visibility="collapsed",
                               captions=["members: the exact pre-training images; non-members: fresh renders",
                                         "one subfolder per person (or member/ and non-member/), members.csv for ground truth"])
        data = LAB_MAE_DATA if data_source == "Lab attack set" else (st.text_input("Image folder", key="mim-data-folder").strip() or None)
        st.header("Attack")
        mask_ratio = st.slider("Mask ratio", 0.05, 0.95, 0.75, 0.05, key="mim-mask-ratio",
                               help="Fraction of patches hidden per mask; MAE pre-training uses 0.75.")
        n_masks = st.slider("Masks per image", 1, 32, 8, key="mim-masks", help="The error is averaged over this many random masks.")
        seed = st.number_input("Seed of the masks", min_value=0, value=0, step=1, key="mim-seed")
        keep = st.checkbox("Keep this run in the run store", value=True, key="mim-keep")
    return {"target": target, "reference": reference, "use_reference": use_reference, "data": data, "keep": keep,
            "config": MIMConfig(mask_ratio=float(mask_ratio), n_masks=int(n_masks), seed=int(seed))}


def start_attack(chosen: dict) -> None:
    def work(job: Job) -> tuple[AttackResult, dict]:
        job.progress("loading the model", 0, 0)
        target = shared_mae(chosen["target"], job.progress)
        reference = shared_mae(chosen["reference"], job.progress) if chosen["reference"] else None
        job.progress("scanning the images", 0, 0)
        dataset, dataset_id = resolve_data(chosen["data"], progress=job.progress)
        result = run_mim(target, dataset, chosen["config"], reference=reference, runtime=RuntimeOptions(num_workers=0),
                         dataset_id=dataset_id, progress=job.progress, cancel=job.cancel)
        if chosen["keep"]:
            from leakage.store import RunStore

            with RunStore() as store:
                result.details["run_id"] = store.save(result)
        return result, chosen

    start_job(JOB, "MIM attack", work)


def error_histogram(result: AttackResult) -> go.Figure:
    figure = go.Figure()
    for wanted, name, color in ((True, "member images", PALETTE[1]), (False, "non-member images", PALETTE[0]), (None, "unknown", "#999999")):
        errors = [row["reconstruction_error"] for row in result.identities if row.get("member") is wanted]
        if errors:
            figure.add_trace(go.Histogram(x=errors, name=name, marker_color=color, opacity=0.6, bingroup="errors"))
    figure.update_layout(barmode="overlay", template="plotly_white", height=360, title="Reconstruction error (lower = more likely a member)",
                         xaxis_title="mean error over the masks (the model's own loss)", yaxis_title="images",
                         margin={"l": 60, "r": 20, "t": 50, "b": 50})
    return figure


def show_numbers(result: AttackResult) -> None:
    metrics = result.metrics
    for warning in result.model.get("warnings", []):
        st.warning(f"Target model: {warning}")
    if "auc" not in metrics:
        st.info("No ground truth with both member and non-member images: scores only (see the per-image table).")
        return
    columns = st.columns(4)
    columns[0].metric("AUC", f"{metrics['auc']:.3f}", help=f"95% CI {metrics['auc_ci'][0]:.3f}\u2013{metrics['auc_ci'][1]:.3f}; 0.5 is guessing.")
    for column, key, label in zip(columns[1:], ("0.01", "0.001", "0"), ("1%", "0.1%", "0%")):
        low, high = metrics["tpr_at_fpr_ci"][key]
        column.metric(f"TPR at {label} FPR", f"{100 * metrics['tpr_at_fpr'][key]:.1f}%",
                      help=f"Share of member images found while at most {label} of non-members are flagged; 95% CI {100 * low:.1f}%\u2013{100 * high:.1f}%.")
    curve = result_roc(result, name=f"{short_model_name(result.config.get('model', 'model'))} \u00b7 AUC {metrics['auc']:.3f}")
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
    config: MIMConfig = chosen["config"]
    pick = st.radio("Example", ["typical", "most member-like", "least member-like"], horizontal=True, key="mim-example",
                    help="The median, highest and lowest score within each group.")
    mask_index = st.slider("Mask", 1, config.n_masks, 1, key="mim-example-mask") - 1 if config.n_masks > 1 else 0
    target = shared_mae(chosen["target"])
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
                st.caption(f"cannot show {row['name']}: {error}")
                continue
            st.image([shown.original, shown.masked, shown.reconstruction], caption=["original", "masked input", "reconstruction"], width=150)
            st.caption(f"{row['name']} \u00b7 error under this mask {shown.error:.4f} \u00b7 mean over the masks {row['reconstruction_error']:.4f}")


def show_result(result: AttackResult, chosen: dict) -> None:
    config: MIMConfig = chosen["config"]
    run_id = result.details.get("run_id")
    st.caption(f"model {result.config['model']}" + (f" \u00b7 reference {result.config['reference_model']}" if result.config.get("reference_model") else "")
               + f" \u00b7 data {result.dataset.get('id')} \u00b7 mask ratio {config.mask_ratio:.2f} \u00b7 {config.n_masks} masks \u00b7 "
               f"{result.metrics['n_images']} images \u00b7 config {result.config_hash}" + (f" \u00b7 stored as run {run_id}" if run_id else ""))
    show_numbers(result)
    st.plotly_chart(error_histogram(result), key="mim-errors")
    show_examples(result, chosen)
    if result.problems:
        with st.expander(f"{len(result.problems)} files skipped"):
            st.dataframe(pd.DataFrame(result.problems), hide_index=True, width="stretch")
    with st.expander("Per image"):
        table = pd.DataFrame(result.identities).drop(columns=["path"], errors="ignore")
        st.dataframe(table.sort_values("score", ascending=False, ignore_index=True), hide_index=True, width="stretch")


def main() -> None:
    st.title("Membership inference on masked image models")
    st.caption("The attack of Li et al. (\u201cMembership Inference Attack Against Masked Image Modeling\u201d, 2024): hide random "
               "patches of an image and let the masked autoencoder fill them in, several times; images from its pre-training "
               "data come back with a lower error.")
    chosen = sidebar()
    if LAB_MAE_MODEL in (chosen["target"], chosen["data"]) and not is_built(default_lab_mae_config()):
        st.info("The lab MAE is built on the first run (once; a few minutes on a CPU).")
    ready = bool(chosen["target"] and chosen["data"] and (chosen["reference"] or not chosen["use_reference"]))
    if st.button("Run the attack", type="primary", disabled=not ready or job_running(JOB), key="mim-run"):
        start_attack(chosen)

    def finished(job: Job) -> None:
        st.session_state["mim-result"] = job.result

    watch_job(JOB, finished)
    stored = st.session_state.get("mim-result")
    if stored is not None:
        show_result(*stored)


main()
