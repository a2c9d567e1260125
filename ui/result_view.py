"""The standard sections of every attack's result view, on its page and on the Runs page: the verdict
in plain words, the headline numbers the attack declares, its figures (ROC on linear and log-log
axes for membership attacks), the per-item table, downloads and what reproduces the run. Each is
`(result, key)`; an attack's page parts (`ui.page_parts`) put them in order and add their own."""

from __future__ import annotations

import json

import pandas as pd
import streamlit as st

from leakage.attacks import attack_spec
from leakage.exports import identity_csv
from leakage.figures import short_model_name
from leakage.results import AttackResult
from leakage.wording import plain_summary
from ui.text import md


def result_name(result: AttackResult) -> str:
    return short_model_name(str(result.model.get("model") or result.config.get("model") or result.attack))


def show_verdict(result: AttackResult, key: str | None = None) -> None:
    """The attack's verdict, then the result in plain words (the sentences quote names and labels: text only)."""
    attack = attack_spec(result.attack)
    level, headline = attack.call("verdict", result)
    {"leak": st.error, "none": st.success}.get(level, st.warning)(md(headline))
    for sentence in plain_summary(result, attack)[1 if level != "unknown" else 0:]:
        st.markdown(md(sentence))


def show_headline(result: AttackResult, key: str | None = None) -> None:
    numbers = attack_spec(result.attack).call("headline", result)
    if not numbers:
        st.info("No ground truth with both members and non-members: scores only (see the table).")
        return
    for start in range(0, len(numbers), 5):
        row = numbers[start:start + 5]
        for column, number in zip(st.columns(len(row)), row):
            column.metric(number.label, number.value, help=number.help or None)


def show_figures(result: AttackResult, key: str, name: str | None = None) -> None:
    figures = attack_spec(result.attack).call("figures", result, name=name or result_name(result))
    pairs = [figure for figure in figures if not figure.wide]
    for start in range(0, len(pairs), 2):
        for column, figure in zip(st.columns(2), pairs[start:start + 2]):
            column.plotly_chart(figure.figure, width="stretch", key=f"{key}-{figure.id}")
            if figure.note:
                column.caption(figure.note)
    for figure in (f for f in figures if f.wide):
        st.plotly_chart(figure.figure, width="stretch", key=f"{key}-{figure.id}")


def item_frame(result: AttackResult) -> pd.DataFrame:
    frame = pd.DataFrame(result.identities)
    if frame.empty:
        return frame
    first = [column for column in attack_spec(result.attack).item_columns if column in frame.columns]
    rest = [column for column in frame.columns if column not in first and column != "path"
            and not frame[column].map(lambda value: isinstance(value, (list, dict))).any()]
    frame = frame[first + rest]
    return frame.sort_values("score", ascending=False) if "score" in frame else frame


def show_items(result: AttackResult, key: str) -> None:
    spec = attack_spec(result.attack)
    st.markdown(f"**Per {spec.unit}**")
    st.dataframe(item_frame(result), width="stretch", hide_index=True, key=f"{key}-items")


def show_problems(result: AttackResult, key: str | None = None) -> None:
    if result.problems:
        with st.expander(f"{len(result.problems)} files skipped"):
            st.dataframe(pd.DataFrame(result.problems), hide_index=True, width="stretch")


def show_downloads(result: AttackResult, key: str) -> None:
    spec = attack_spec(result.attack)
    left, right = st.columns(2)
    left.download_button("Download result (JSON)", json.dumps(result.to_dict(), indent=2), file_name=f"{result.attack}-{result.config_hash}.json",
                         mime="application/json", key=f"{key}-json")
    right.download_button(f"Download per-{spec.unit} table (CSV)" if spec.unit != "person" else "Download per-identity table (CSV)",
                          identity_csv(result.identities), file_name=f"{result.attack}-{result.config_hash}.csv",
                          mime="text/csv", key=f"{key}-csv")


def show_provenance(result: AttackResult, key: str | None = None) -> None:
    run_id = result.details.get("run_id")
    st.caption(f"config hash `{result.config_hash}` \u00b7 code `{result.code_version}` \u00b7 seeds {result.seeds} \u00b7 "
               f"{result.model.get('device_description', '')} \u00b7 model loaded in {result.model.get('load_seconds', 0):.1f} s \u00b7 "
               f"run took {result.timing.get('total_seconds', 0):.1f} s" + (f" \u00b7 stored as run {run_id}" if run_id else ""))
