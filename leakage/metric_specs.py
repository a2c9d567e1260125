"""What an attack measures, declared: the metrics of its results (where each value and its interval
live in `AttackResult.metrics`, how to show it, which way is better) and the headline numbers a
page shows. Each `Attack` lists its `MetricSpec`s; the runs list, the comparison, the audit report
and the CLI read them instead of spelling AUC by hand. Membership attacks share
`MEMBERSHIP_METRICS`; an attack that measures something else (a backdoor's success rate) declares
its own.

Plain data, no imports from above: the store, the comparison and the attacks all read it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

FORMATS = ("score", "rate", "count", "rank")
"""score: a number read to 3 decimals (AUC); rate: a share shown in percent (TPR, ASR), differences in
points; count: a whole number; rank: a mean rank, 1 decimal."""


@dataclass(frozen=True)
class Headline:
    """One headline number of a result, as a page, the report and the CLI show it."""

    label: str
    value: str
    help: str = ""


@dataclass(frozen=True)
class MetricSpec:
    """One metric an attack reports."""

    key: str
    """Its id in comparisons and plans ("auc", "tpr@1%", "asr")."""
    label: str
    """How a table names it."""
    path: tuple[str, ...]
    """Where its value lives in the metrics (`("tpr_at_fpr", "0.01")` is metrics["tpr_at_fpr"]["0.01"])."""
    format: str = "score"
    """One of `FORMATS`."""
    higher_is_better: bool = True
    """Which way is the better outcome of what it measures (more leakage found, more success, more
    utility); False for error rates and ranks."""
    interval: tuple[str, ...] | None = None
    """Where its confidence interval (low, high) lives, if it has one."""
    short: str = ""
    """A column-sized name (the runs list): "AUC", "ASR"; default the label."""
    help: str = ""
    chance: float | None = None
    """The value of an attacker who guesses (AUC 0.5), drawn as a reference line."""
    fpr_level: float | None = None
    """For a TPR at a fixed FPR: the level, which N non-members may not resolve (`leakage.metrics.resolvable`)."""

    def __post_init__(self) -> None:
        if self.format not in FORMATS:
            raise ValueError(f"metric {self.key}: format must be one of {', '.join(FORMATS)}, not {self.format!r}")

    @property
    def name(self) -> str:
        return self.short or self.label

    def read(self, metrics: Mapping[str, Any] | None) -> float | None:
        """Its value in `metrics`, or None where the result has none."""
        value = _at(metrics, self.path)
        return value if isinstance(value, (int, float)) and not isinstance(value, bool) else None

    def read_interval(self, metrics: Mapping[str, Any] | None) -> list[float] | None:
        found = _at(metrics, self.interval) if self.interval else None
        return list(found) if isinstance(found, (list, tuple)) and len(found) == 2 else None

    def show(self, value: float | None, interval: Sequence[float] | None = None) -> str:
        """`value` as a table shows it, with its interval in brackets when given."""
        from leakage.wording import format_number, format_percent

        if value is None:
            return "\u2014"
        if self.format == "rate":
            return format_percent(value) + (f" [{format_percent(interval[0])}, {format_percent(interval[1])}]" if interval else "")
        if self.format == "score":
            return f"{value:.3f}" + (f" [{interval[0]:.3f}, {interval[1]:.3f}]" if interval else "")
        if self.format == "rank":
            return f"{value:.1f}" + (f" [{interval[0]:.1f}, {interval[1]:.1f}]" if interval else "")
        return format_number(int(value) if float(value).is_integer() else value)

    def show_measured(self, metrics: Mapping[str, Any] | None) -> str:
        """Its value in `metrics` with its interval; where members and non-members separate perfectly (an
        interval of one point, which would read as certainty), that fact in words instead."""
        value, interval = self.read(metrics), self.read_interval(metrics)
        if interval and interval[0] == interval[1] and (metrics or {}).get("perfect_separation"):
            members, nonmembers = (metrics or {}).get("n_members"), (metrics or {}).get("n_nonmembers")
            who = f"all {members} members above all {nonmembers} non-members" if members and nonmembers else "perfect separation"
            return f"{self.show(value)} ({who})"
        return self.show(value, interval)

    def show_difference(self, difference: float | None) -> str:
        if difference is None:
            return "\u2014"
        if self.format == "rate":
            return f"{100 * difference:+.1f} pts"
        if self.format == "score":
            return f"{difference:+.3f}"
        if self.format == "rank":
            return f"{difference:+.1f}"
        return f"{int(difference):+,}" if float(difference).is_integer() else f"{difference:+.3g}"

    def better(self, first: float, second: float) -> bool:
        """Whether `first` is the better outcome than `second`."""
        return first > second if self.higher_is_better else first < second


def _at(data: Mapping[str, Any] | None, path: Sequence[str] | None) -> Any:
    for key in path or ():
        if not isinstance(data, Mapping):
            return None
        data = data.get(key)
    return data


def spec_by_key(specs: Sequence[MetricSpec], key: str) -> MetricSpec:
    for spec in specs:
        if spec.key == key:
            return spec
    raise KeyError(f"no metric {key!r}; metrics: {', '.join(spec.key for spec in specs)}")


MEMBERSHIP_METRICS: tuple[MetricSpec, ...] = (
    MetricSpec("auc", "AUC", ("auc",), "score", interval=("auc_ci",), chance=0.5,
               help="Chance that the attack scores a random member above a random non-member; 0.5 is guessing."),
    MetricSpec("tpr@1%", "TPR at 1% FPR", ("tpr_at_fpr", "0.01"), "rate", interval=("tpr_at_fpr_ci", "0.01"), fpr_level=0.01,
               short="TPR@1%", help="Members found when at most 1 in 100 non-members may be wrongly accused."),
    MetricSpec("tpr@0.1%", "TPR at 0.1% FPR", ("tpr_at_fpr", "0.001"), "rate", interval=("tpr_at_fpr_ci", "0.001"), fpr_level=0.001,
               short="TPR@0.1%"),
    MetricSpec("tpr@0%", "TPR at 0% FPR", ("tpr_at_fpr", "0"), "rate", interval=("tpr_at_fpr_ci", "0"), fpr_level=0.0,
               short="TPR@0%"),
    MetricSpec("tpr@rule", "TPR at decision rule", ("at_threshold", "tpr"), "rate"),
    MetricSpec("fpr@rule", "FPR at decision rule", ("at_threshold", "fpr"), "rate", higher_is_better=False),
    MetricSpec("precision@rule", "Precision at decision rule", ("at_threshold", "precision"), "rate"),
    MetricSpec("accuracy@rule", "Accuracy at decision rule", ("at_threshold", "accuracy"), "rate"),
    MetricSpec("n_members", "Members", ("n_members",), "count"),
    MetricSpec("n_nonmembers", "Non-members", ("n_nonmembers",), "count"),
    MetricSpec("n_identities", "Identities", ("n_identities",), "count"),
)
"""What a membership-style result reports (`leakage.metrics.membership_summary`); AUC first, the
headline of the runs list."""
