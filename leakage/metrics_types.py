"""The typed shape of the metrics block every membership-style result shares, so views read
known keys (`leakage.metrics.membership_summary` builds it; it stays a plain JSON dict)."""

from __future__ import annotations

from typing import Any, TypedDict


class MembershipMetrics(TypedDict, total=False):
    """The metrics every membership-style result shares (`leakage.metrics.membership_summary`)."""

    auc: float
    auc_ci: list[float]
    tpr_at_fpr: dict[str, float]
    """"0.01", "0.001", "0" -> TPR at that FPR (highest ROC point with FPR <= the level)."""
    tpr_at_fpr_ci: dict[str, list[float]]
    n_members: int
    n_nonmembers: int
    roc: dict[str, list[float]]
    bootstrap: dict[str, Any]
    """n_boot, confidence, seed, unit ("sample" or "cluster", then n_clusters and, set by the attack, cluster_field)."""
    perfect_separation: bool
    """Every member above every non-member: the intervals collapse to a point and the views say so instead."""
    at_threshold: dict[str, float]
