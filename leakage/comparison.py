"""Comparing stored runs: their metrics side by side with differences, and whether they used the
same data. The metrics are those each run's attack declares (`Attack.metrics`, `MetricSpec`): AUC
and TPR at low FPR for membership attacks, the attack success rate for a backdoor. No Streamlit."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

from leakage.metric_specs import MEMBERSHIP_METRICS, MetricSpec
from leakage.metrics import fpr_level_label, resolvable
from leakage.results import AttackResult


def _flatten(data: Any, prefix: str = "") -> dict[str, Any]:
    if isinstance(data, dict):
        flat: dict[str, Any] = {}
        for key, value in data.items():
            flat.update(_flatten(value, f"{prefix}{key}."))
        return flat
    return {prefix.rstrip("."): data}


def compare_runs(results: Sequence[AttackResult], names: Sequence[str] | None = None,
                 attacks: Sequence[Any] | None = None) -> dict[str, Any]:
    """Metrics of several runs side by side, with each run's difference from the first.

    `attacks` are the runs' `Attack` declarations (default: membership metrics for all): each run
    is read with the metrics its own attack declares, in the order the first run's attack lists
    them, so a backdoor's attack success rate sits where a membership attack's AUC would.

    Returns ``names``; ``runs`` (attack, model, dataset, created_at, config_hash,
    code_version per run); ``metrics``: rows ``{key, label, values, cis, differences,
    format, higher_is_better, best}`` with ``differences[0]`` None and ``differences[i] =
    values[i] - values[0]`` (None when either is missing) and ``best`` the index of the best
    value (by the metric's direction; None when fewer than two runs have one);
    ``config_differences``: config keys (dotted paths) whose values differ, with every run's
    value; and ``same_data``: whether all runs used the same dataset id, without which a
    difference may come from the data.
    """
    if not results:
        raise ValueError("compare_runs needs at least one result")
    names = list(names) if names is not None else [f"run {index + 1}" for index in range(len(results))]
    if len(names) != len(results):
        raise ValueError(f"got {len(names)} names for {len(results)} results")
    if attacks is not None and len(attacks) != len(results):
        raise ValueError(f"got {len(attacks)} attacks for {len(results)} results")
    declared = [tuple(attack.metrics) if attack is not None else MEMBERSHIP_METRICS for attack in (attacks or [None] * len(results))]
    specs: dict[str, MetricSpec] = {}
    for own in declared:
        specs.update((spec.key, spec) for spec in own if spec.key not in specs)
    rows = []
    known = [int(result.metrics["n_nonmembers"]) for result in results if isinstance(result.metrics.get("n_nonmembers"), int)
             and result.metrics["n_nonmembers"] > 0]
    fewest = min(known) if known else None
    unresolved = [level for level in (0.01, 0.001) if fewest is not None and not resolvable(level, fewest)]
    for key, spec in specs.items():
        own = [next((mine for mine in specs_of_run if mine.key == key), None) for specs_of_run in declared]
        values = [mine.read(result.metrics) if mine else None for mine, result in zip(own, results)]
        if all(value is None for value in values):
            continue
        label = spec.label
        # A level finer than 1/N (N: the fewest non-members of the runs) is the FPR = 0 point: kept
        # as data, marked, and shown once under the honest label of the 0% row.
        resolved = not (spec.fpr_level and spec.fpr_level in unresolved)
        if spec.fpr_level == 0 and unresolved:
            label = fpr_level_label(min(unresolved), fewest)
        first = values[0]
        present = [index for index, value in enumerate(values) if value is not None]
        best = None
        if len(present) > 1:
            best = present[0]
            for index in present[1:]:
                if spec.better(values[index], values[best]):
                    best = index
        rows.append({
            "key": key,
            "label": label,
            "values": values,
            "cis": [mine.read_interval(result.metrics) if mine else None for mine, result in zip(own, results)],
            "differences": [None] + [
                None if value is None or first is None else value - first for value in values[1:]
            ],
            "resolvable": resolved,
            "format": spec.format,
            "higher_is_better": spec.higher_is_better,
            "best": best,
        })
    flat = [_flatten(result.config) for result in results]
    keys = list(dict.fromkeys(key for config in flat for key in config))
    config_differences = {
        key: [config.get(key) for config in flat]
        for key in keys
        if any(json.dumps(config.get(key), sort_keys=True) != json.dumps(flat[0].get(key), sort_keys=True) for config in flat)
    }
    return {
        "names": names,
        "runs": [
            {
                "name": name,
                "attack": result.attack,
                "model": result.model.get("model"),
                "dataset": result.dataset.get("id"),
                "created_at": result.created_at,
                "config_hash": result.config_hash,
                "code_version": result.code_version,
            }
            for name, result in zip(names, results)
        ],
        "metrics": rows,
        "config_differences": config_differences,
        "same_data": len({json.dumps(result.dataset.get("id")) for result in results}) == 1,
    }


def comparison_rows(comparison: Mapping[str, Any]) -> list[dict[str, str]]:
    """:func:`compare_runs` output as display rows: metric, each run's value [CI], and \u0394 of runs 2.. vs the first."""
    names = comparison["names"]
    rows = []
    for metric in comparison["metrics"]:
        if not metric.get("resolvable", True):
            continue
        shown = MetricSpec(metric["key"], metric["label"], (), metric.get("format", "score"))
        row = {"metric": metric["label"]}
        for name, value, ci in zip(names, metric["values"], metric["cis"]):
            row[name] = shown.show(value, ci)
        for name, difference in zip(names[1:], metric["differences"][1:]):
            row[f"\u0394 {name}"] = shown.show_difference(difference)
        rows.append(row)
    return rows
