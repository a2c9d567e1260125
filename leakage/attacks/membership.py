"""The defaults of a membership-style attack (a score per item, higher = more likely a member):
headline numbers, figures, CLI summary and decision rule, read from the shared metrics block
(`leakage.metrics.membership_summary`). An attack declares its own where these do not fit.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from leakage.metric_specs import Headline
from leakage.results import AttackResult

if TYPE_CHECKING:  # annotations only: the declaration (base) names these defaults, so this module never imports it
    from leakage.attacks.base import Attack

def tpr_at_fpr_rows(metrics: dict) -> list[dict]:
    from leakage.metrics import tpr_at_fpr_rows as rows  # NumPy loads when a result is shown, not when the CLI starts

    return rows(metrics)


def headline(result: AttackResult) -> list[Headline]:
    metrics = result.metrics
    if "auc" not in metrics:
        return []
    from leakage.wording import auc_interval_text

    numbers = [Headline("AUC", f"{metrics['auc']:.3f}", f"{auc_interval_text(metrics)}. 0.5 is guessing, 1.0 is perfect.")]
    for row in tpr_at_fpr_rows(metrics):
        ci = row["ci"]
        help_text = f"95% CI {100 * ci[0]:.1f}%\u2013{100 * ci[1]:.1f}%" if ci else ""
        numbers.append(Headline(row["label"], f"{100 * row['tpr']:.1f}%", help_text))
    return numbers


def figures(result: AttackResult, name: str | None = None, *, attack: Attack | None = None) -> list:
    from leakage.figures import membership_figures

    return membership_figures(result, name=name, units=attack.units if attack else "records")


def verdict(result: AttackResult) -> tuple[str, str]:
    """From the AUC and its interval (`leakage.wording.risk_verdict`)."""
    from leakage.wording import risk_verdict

    return risk_verdict(result.metrics)


def decision_rule(result: AttackResult) -> str | None:
    at = result.metrics.get("at_threshold") or {}
    if "threshold" in at:
        from leakage.wording import format_number

        return f"member when the score is at least {format_number(at['threshold'])}"
    return None


def auc_lines(metrics: dict, members: str = "members", nonmembers: str = "non-members") -> list[str]:
    """AUC with its interval and the honestly labelled TPR-at-low-FPR rows, for a CLI summary."""
    from leakage.wording import auc_interval_text

    lines = [f"AUC {metrics['auc']:.3f} ({auc_interval_text(metrics, members, nonmembers)}), {metrics.get('n_members', '?')} "
             f"{members} and {metrics.get('n_nonmembers', '?')} {nonmembers}"]
    for row in tpr_at_fpr_rows(metrics):
        ci = f" (95% CI {row['ci'][0]:.3f}-{row['ci'][1]:.3f})" if row["ci"] else ""
        lines.append(f"{row['label']}: {row['tpr']:.3f}{ci}")
    return lines


def problem_lines(result: AttackResult, limit: int = 20) -> list[str]:
    """The input files a run skipped, with why."""
    if not result.problems:
        return []
    return [f"{len(result.problems)} files skipped:"] + [f"  {problem['path']}: {problem['reason']}" for problem in result.problems[:limit]]


def summary_lines(result: AttackResult, *, attack: Attack) -> list[str]:
    """The CLI's summary of any membership-style result."""
    spec = attack
    metrics = result.metrics
    lines = [
        f"{spec.title} on {result.model.get('model') or result.config.get('model')} "
        f"({result.model.get('device_description', '?')}), data {result.dataset.get('id')}",
        f"config hash {result.config_hash} \u00b7 code {result.code_version}",
        f"{len(result.identities)} {spec.units} scored",
    ]
    if "auc" in metrics:
        lines += auc_lines(metrics)
    else:
        lines.append("no ground truth with both members and non-members: scores only")
    lines += problem_lines(result)
    lines.append(f"time: {result.timing.get('total_seconds', 0):.1f} s")
    return lines
