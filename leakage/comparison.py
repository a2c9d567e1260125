"""Comparing stored runs: their metrics side by side with differences, and whether they used the
same data. No Streamlit."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

from leakage.metrics import fpr_level_label, resolvable
from leakage.results import AttackResult
from leakage.wording import format_number, format_percent

# (key, label, how to read it from metrics, its CI or None)
_COMPARED: tuple[tuple[str, str, Any, Any], ...] = (
    ("auc", "AUC", lambda m: m.get("auc"), lambda m: m.get("auc_ci")),
    ("tpr@1%", "TPR at 1% FPR", lambda m: (m.get("tpr_at_fpr") or {}).get("0.01"), lambda m: (m.get("tpr_at_fpr_ci") or {}).get("0.01")),
    ("tpr@0.1%", "TPR at 0.1% FPR", lambda m: (m.get("tpr_at_fpr") or {}).get("0.001"), lambda m: (m.get("tpr_at_fpr_ci") or {}).get("0.001")),
    ("tpr@0%", "TPR at 0% FPR", lambda m: (m.get("tpr_at_fpr") or {}).get("0"), lambda m: (m.get("tpr_at_fpr_ci") or {}).get("0")),
    ("tpr@rule", "TPR at decision rule", lambda m: (m.get("at_threshold") or {}).get("tpr"), None),
    ("fpr@rule", "FPR at decision rule", lambda m: (m.get("at_threshold") or {}).get("fpr"), None),
    ("precision@rule", "Precision at decision rule", lambda m: (m.get("at_threshold") or {}).get("precision"), None),
    ("accuracy@rule", "Accuracy at decision rule", lambda m: (m.get("at_threshold") or {}).get("accuracy"), None),
    ("n_members", "Members", lambda m: m.get("n_members"), None),
    ("n_nonmembers", "Non-members", lambda m: m.get("n_nonmembers"), None),
    ("n_identities", "Identities", lambda m: m.get("n_identities"), None),
)


def _flatten(data: Any, prefix: str = "") -> dict[str, Any]:
    if isinstance(data, dict):
        flat: dict[str, Any] = {}
        for key, value in data.items():
            flat.update(_flatten(value, f"{prefix}{key}."))
        return flat
    return {prefix.rstrip("."): data}


def compare_runs(results: Sequence[AttackResult], names: Sequence[str] | None = None) -> dict[str, Any]:
    """Metrics of several runs side by side, with each run's difference from the first.

    Returns ``names``; ``runs`` (attack, model, dataset, created_at, config_hash,
    code_version per run); ``metrics``: rows ``{key, label, values, cis, differences}``
    with ``differences[0]`` None and ``differences[i] = values[i] - values[0]`` (None
    when either is missing); ``config_differences``: config keys (dotted paths) whose
    values differ, with every run's value; and ``same_data``: whether all runs used
    the same dataset id, without which a difference may come from the data.
    """
    if not results:
        raise ValueError("compare_runs needs at least one result")
    names = list(names) if names is not None else [f"run {index + 1}" for index in range(len(results))]
    if len(names) != len(results):
        raise ValueError(f"got {len(names)} names for {len(results)} results")
    rows = []
    known = [int(result.metrics["n_nonmembers"]) for result in results if isinstance(result.metrics.get("n_nonmembers"), int)
             and result.metrics["n_nonmembers"] > 0]
    fewest = min(known) if known else None
    unresolved = [level for level in (0.01, 0.001) if fewest is not None and not resolvable(level, fewest)]
    for key, label, read, read_ci in _COMPARED:
        values = [read(result.metrics) for result in results]
        if all(value is None for value in values):
            continue
        # A level finer than 1/N (N: the fewest non-members of the runs) is the FPR = 0 point: kept
        # as data, marked, and shown once under the honest label of the 0% row.
        resolved = not (key in ("tpr@1%", "tpr@0.1%") and float(key[4:-1]) / 100 in unresolved)
        if key == "tpr@0%" and unresolved:
            label = fpr_level_label(min(unresolved), fewest)
        first = values[0]
        rows.append({
            "key": key,
            "label": label,
            "values": values,
            "cis": [read_ci(result.metrics) if read_ci else None for result in results],
            "differences": [None] + [
                None if value is None or first is None else value - first for value in values[1:]
            ],
            "resolvable": resolved,
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


_RATE_KEYS = {"tpr@1%", "tpr@0.1%", "tpr@0%", "tpr@rule", "fpr@rule", "precision@rule", "accuracy@rule"}


def _comparison_value(key: str, value: Any, ci: Sequence[float] | None = None) -> str:
    if value is None:
        return "\u2014"
    if key in _RATE_KEYS:
        return format_percent(value) + (f" [{format_percent(ci[0])}, {format_percent(ci[1])}]" if ci else "")
    if key == "auc":
        return f"{value:.3f}" + (f" [{ci[0]:.3f}, {ci[1]:.3f}]" if ci else "")
    return format_number(value)


def _comparison_difference(key: str, difference: Any) -> str:
    if difference is None:
        return "\u2014"
    if key in _RATE_KEYS:
        return f"{100 * difference:+.1f} pts"
    if key == "auc":
        return f"{difference:+.3f}"
    return f"{difference:+,}" if isinstance(difference, int) else f"{difference:+.3g}"


def comparison_rows(comparison: Mapping[str, Any]) -> list[dict[str, str]]:
    """:func:`compare_runs` output as display rows: metric, each run's value [CI], and \u0394 of runs 2.. vs the first."""
    names = comparison["names"]
    rows = []
    for metric in comparison["metrics"]:
        if not metric.get("resolvable", True):
            continue
        key = metric["key"]
        row = {"metric": metric["label"]}
        for name, value, ci in zip(names, metric["values"], metric["cis"]):
            row[name] = _comparison_value(key, value, ci)
        for name, difference in zip(names[1:], metric["differences"][1:]):
            row[f"\u0394 {name}"] = _comparison_difference(key, difference)
        rows.append(row)
    return rows
