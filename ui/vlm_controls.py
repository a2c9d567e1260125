"""The VLM page's closed-set scores and their controls: which score leads and what each one measures
(what the photo reveals, or name familiarity that needs no photo), the run's own controls, and the
controls measured on the lab VLMs by `bench/vlm_controls.py`, with the machine they ran on."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import streamlit as st

from leakage.results import AttackResult
from leakage.vlm_calibration import GROUP_FAMILIARITY, GROUP_PHOTO, SCORE_LABELS
from leakage.vlm_views import bench_controls_table, controls_leak_line, score_table
from ui.text import md

BENCH_RESULT = Path(__file__).resolve().parent.parent / "bench" / "results" / "vlm_controls.json"
MODEL_TITLES = {"lab-vlm": "lab VLM (word-level tokenizer)", "lab-vlm-bpe": "lab VLM with a BPE tokenizer"}


def measured_controls(path: Path = BENCH_RESULT) -> dict[str, Any] | None:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None


def show_scores(result: AttackResult) -> None:
    """Every score of this run, grouped by what it measures, with the run's controls when it scored them."""
    table = score_table(result)
    if table.empty:
        return
    kind = result.metrics.get("closed_set_score", "")
    st.markdown(f"**Which score leads.** The headline is the **{SCORE_LABELS.get(kind, kind)}**, a score of "
                f"*{GROUP_PHOTO}*. Raw, per-token and the blind baseline are *{GROUP_FAMILIARITY}*: they say whether "
                "the language model knows a name, and stay high when the photo shows nothing of the person.")
    st.table(table.set_index("score"))
    line = controls_leak_line(result)
    if line:
        st.caption(line)
    elif not result.metrics.get("controls"):
        st.caption("Tick \u201cControls\u201d before running to score this model with the whole image masked and on mismatched "
                   "photos as well: a score that measures the photo falls to about 0.5 on both.")
    reference = result.metrics.get("identity_reference")
    if reference and reference["source"] != "run":
        st.caption(f"Few people in this run: the identity z-score compares each name with its scores on a fixed reference set of "
                   f"{reference.get('photos')} other people's photos (lab renders no lab model was trained on).")


def show_measured_controls(key: str = "vlm", path: Path = BENCH_RESULT) -> None:
    """The controls table of the lab VLMs, as measured (the rule that chose the headline goes with it)."""
    report = measured_controls(path)
    st.markdown("**Controls measured on the lab VLMs** (`python -m bench.vlm_controls`)")
    if report is None:
        st.caption("Not measured yet: run `python -m bench.vlm_controls`.")
        return
    models = [name for name in MODEL_TITLES if name in report.get("models", {})]
    if not models:
        return
    chosen = st.radio("Lab VLM", models, horizontal=True, key=f"{key}-controls-model", format_func=lambda name: MODEL_TITLES[name])
    st.table(bench_controls_table(report["models"][chosen]).set_index("score"))
    machine = report.get("machine", {})
    # The report is a file on disk: its words go through md() like any text this page did not write.
    st.caption(f"AUC (95% bootstrap CI), members against non-members. {md(report.get('rule', ''))} "
               f"Chosen: {md(SCORE_LABELS.get(report.get('chosen', ''), report.get('chosen')))}. Measured on {md(machine.get('cpu', '?'))}, "
               f"{md(machine.get('cores', '?'))} cores, torch {md(machine.get('torch', '?'))}, {md(str(machine.get('date', ''))[:10])}"
               f"{'; ' + md(report['load_note']) if report.get('load_note') else ''}.")


def show(result: AttackResult, key: str) -> None:
    """The closed-set block's scores and controls; `key` keeps its widget apart where two results share a page."""
    show_scores(result)
    show_measured_controls(key)
