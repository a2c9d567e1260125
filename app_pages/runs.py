"""Runs: every stored attack run. Open one, compare several, delete, download the stakeholder report.

Thin on purpose: the data come from `leakage.store`, the figures, texts and numbers from
`leakage.report`. Runs can be opened by link: `?run=12` opens run 12, `?run=12,15` compares.
"""

from __future__ import annotations

import functools
import json

import pandas as pd
import streamlit as st
from sqlalchemy.exc import SQLAlchemyError

from leakage.attacks import attack_spec, headline_spec
from leakage.comparison import compare_runs, comparison_rows
from leakage.exports import identity_csv
from leakage.figures import result_roc, roc_figure
from leakage.report import render_report
from leakage.results import AttackResult
from leakage.store import ANYONE, RunStore, RunStoreError, default_url
from ui.auth import owner_filter
from ui.page_parts import show_sections
from ui.text import md


@st.cache_resource(show_spinner=False)
def open_store(url: str) -> RunStore:
    return RunStore(url)


@st.cache_data(show_spinner=False, max_entries=32)
def load_result(url: str, run_id: int) -> AttackResult:
    # Safe to cache by id: a run never changes and a deleted run's id is never reused.
    return open_store(url).get(run_id)


@st.cache_data(show_spinner=False, max_entries=32)
def load_roc(url: str, run_id: int, name: str, band: bool):
    return result_roc(load_result(url, run_id), name=name, band=band)


def report_html(url: str, run_id: int, label: str | None) -> str:
    return render_report(load_result(url, run_id), run_id=run_id, label=label)


def requested_runs() -> list[int]:
    """Run ids from the page link (`?run=3` or `?run=3,5`)."""
    text = st.query_params.get("run", "")
    return [int(part) for part in text.split(",") if part.strip().isdigit()]


def headline_text(row) -> str | None:
    """The attack's own headline number (AUC for membership attacks, attack success rate for a backdoor, ...)."""
    if row.headline_value is None:
        return None
    spec = headline_spec(row.attack, row.headline_metric)
    return f"{spec.name} {spec.show(row.headline_value)}"


def run_name(row) -> str:
    return f"#{row.id} {row.label or row.model or row.attack}"


# --------------------------------------------------------------------------- one run


def show_run(store: RunStore, run_id: int) -> None:
    try:
        summary = store.summary(run_id, owner=owner_filter())  # another user's run is as missing
    except KeyError:
        st.warning(f"Run {run_id} does not exist (any more).")
        return
    result = load_result(store.url, run_id)
    st.subheader(f"Run {run_id}" + (f" \u00b7 {md(summary.label)}" if summary.label else ""))
    st.caption(f"{md(result.attack)} \u00b7 model {md(summary.model or '?')} \u00b7 data {md(summary.dataset or '?')} \u00b7 "
               f"{md(summary.device or '?')} \u00b7 {md(result.created_at)} \u00b7 config {md(result.config_hash)}"
               + (f" \u00b7 owner {md(summary.owner)}" if summary.owner else ""))

    attack = attack_spec(result.attack)
    show_sections(result, f"run-{run_id}", page=False)  # the attack page's own result view, verdict first
    st.markdown("**Every number, with its interval and what it means**")
    numbers = pd.DataFrame(attack.call("metric_rows", result)).rename(
        columns={"metric": "Metric", "value": "Value", "ci": "Confidence interval", "meaning": "What it means"}
    )
    st.dataframe(numbers, hide_index=True, width="stretch")

    with st.expander("Reproduce: config, hash, code version, seeds"):
        st.markdown(f"config hash `{result.config_hash}` \u00b7 code `{result.code_version}`")
        st.json({"config": result.config, "seeds": result.seeds, "model": result.model, "dataset": result.dataset,
                 "timing": result.timing}, expanded=False)

    downloads = st.columns(3)
    downloads[0].download_button(
        "Report (HTML)", data=functools.partial(report_html, store.url, run_id, summary.label),
        file_name=f"leakage-run-{run_id}.html", mime="text/html", icon=":material/description:", key=f"report-{run_id}",
    )
    downloads[1].download_button("Result (JSON)", data=functools.partial(result.to_json), file_name=f"leakage-run-{run_id}.json",
                                 mime="application/json", key=f"json-{run_id}")
    downloads[2].download_button("Per identity (CSV)", data=functools.partial(identity_csv, result.identities),
                                 file_name=f"leakage-run-{run_id}.csv", mime="text/csv", key=f"csv-{run_id}")

    with st.expander("Label and notes"):
        with st.form(f"label-{run_id}"):
            label = st.text_input("Label", value=summary.label or "")
            notes = st.text_area("Notes", value=summary.notes or "")
            if st.form_submit_button("Save"):
                store.update_label(run_id, label=label or None, notes=notes or None, owner=owner_filter())
                st.rerun()
    delete_control(store, [run_id])


# --------------------------------------------------------------------------- several runs


def show_comparison(store: RunStore, rows: list) -> None:
    names = [run_name(row) for row in rows]
    results = [load_result(store.url, row.id) for row in rows]
    comparison = compare_runs(results, names=names, attacks=[attack_spec(result.attack) for result in results])
    st.subheader(f"Comparing {len(rows)} runs")
    if not comparison["same_data"]:
        st.warning("These runs used different data: a difference may come from the data, not the model or settings.")

    curves = [load_roc(store.url, row.id, name, False) for row, name in zip(rows, names)]
    drawn = [curve for curve in curves if curve is not None]
    if drawn:
        left, right = st.columns(2)
        left.plotly_chart(roc_figure(drawn), key="compare-linear")
        right.plotly_chart(roc_figure(drawn, log_axes=True), key="compare-log")
    if len(drawn) < len(curves):
        st.caption("Runs without ground truth have no ROC curve.")

    st.markdown("**Metrics side by side** (\u0394: difference from the first selected run; rates in percentage points)")
    st.dataframe(pd.DataFrame(comparison_rows(comparison)), hide_index=True, width="stretch")
    if comparison["config_differences"]:
        st.markdown("**Settings that differ**")
        table = pd.DataFrame(
            {name: [json.dumps(values[index]) for values in comparison["config_differences"].values()]
             for index, name in enumerate(names)},
            index=list(comparison["config_differences"]),
        )
        st.dataframe(table, width="stretch")
    st.dataframe(pd.DataFrame(comparison["runs"]), hide_index=True, width="stretch")
    delete_control(store, [row.id for row in rows])


def delete_control(store: RunStore, run_ids: list[int]) -> None:
    what = f"run {run_ids[0]}" if len(run_ids) == 1 else f"these {len(run_ids)} runs"
    with st.expander(f"Delete {what}"):
        sure = st.checkbox(f"Yes, delete {what} and their per-identity rows", key=f"sure-{run_ids}")
        if st.button("Delete", type="primary", disabled=not sure, key=f"delete-{run_ids}"):
            for run_id in run_ids:
                store.delete(run_id, owner=owner_filter())  # only one's own runs (an admin: any)
            st.query_params.pop("run", None)
            st.toast(f"Deleted {what}.")
            st.rerun()


# --------------------------------------------------------------------------- page


def main() -> None:
    st.title("Runs")
    try:
        store = open_store(default_url())
        browse(store)
    except (RunStoreError, SQLAlchemyError) as error:  # a corrupt or unreachable database: said plainly
        st.error(md(error if isinstance(error, RunStoreError) else f"the run store could not be read: {error}"))


def browse(store: RunStore) -> None:
    owner = owner_filter()
    st.caption(f"Every attack run, from the app and from the command line, stored in {store.engine.url.render_as_string(hide_password=True)}.")

    filters = st.columns([1, 2, 2, 1])
    attack = filters[0].selectbox("Attack", ["all", *store.attacks(owner=owner)])
    model = filters[1].text_input("Model contains")
    search = filters[2].text_input("Search", placeholder="label, notes, dataset, config hash, id")
    limit = filters[3].number_input("Show", min_value=10, max_value=5000, value=200, step=50)
    rows = store.list(attack=None if attack == "all" else attack, model=model or None, search=search or None, limit=int(limit),
                      owner=owner)
    if not rows:
        st.info("No runs stored yet. Runs from the attack pages and from `python -m leakage idia ...` appear here."
                if store.count(owner=owner) == 0 else "No run matches these filters.")
        return

    table = pd.DataFrame(
        {
            "id": [row.id for row in rows],
            "created (UTC)": [row.created_at[:16].replace("T", " ") for row in rows],
            "attack": [row.attack for row in rows],
            "headline": [headline_text(row) for row in rows],
            "model": [row.model for row in rows],
            "data": [row.dataset for row in rows],
            "identities": [row.n_identities for row in rows],
            "config hash": [row.config_hash for row in rows],
            "label": [row.label for row in rows],
        }
    )
    event = st.dataframe(
        table,
        hide_index=True,
        width="stretch",
        on_select="rerun",
        selection_mode="multi-row",
        key="runs-table",
        column_config={"headline": st.column_config.TextColumn(help="The number each attack leads with: AUC for membership "
                                                                    "attacks, the attack success rate (ASR) for a backdoor")},
    )
    st.caption(f"{len(rows)} run{'' if len(rows) == 1 else 's'} shown" + (": your own" if owner is not ANYONE else ""))
    by_id = {row.id: row for row in rows}
    chosen = [rows[index].id for index in event.selection.rows] or requested_runs()
    missing = [run_id for run_id in chosen if run_id not in by_id]
    for run_id in missing:  # linked runs outside the current filter still open
        try:
            by_id[run_id] = store.summary(run_id, owner=owner)
        except KeyError:
            st.warning(f"Run {run_id} does not exist (any more).")
    chosen = [run_id for run_id in chosen if run_id in by_id]

    if not chosen:
        st.caption("Select one run to open it, two or more to compare them.")
    elif len(chosen) == 1:
        show_run(store, chosen[0])
    else:
        show_comparison(store, [by_id[run_id] for run_id in chosen])


main()
