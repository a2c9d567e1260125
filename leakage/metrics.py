"""Metrics for membership and identity inference attacks.

Pure numpy functions in the style of :mod:`sklearn.metrics`: arrays in, arrays,
floats or plain dicts out, no global state.

Conventions
-----------
``labels``
    1-D array of 0/1 (or bool); 1 means *member* (the positive class).
``scores``
    1-D array of finite floats; a HIGHER score means *more likely a member*.

The field reports membership results as AUC plus the TPR at low FPR (1%, 0.1%
and 0%) with a log-log ROC (Carlini et al., "Membership Inference Attacks From
First Principles", 2022); :func:`membership_summary` builds that block, with
stratified-bootstrap confidence intervals, as JSON-ready Python data.

``clusters``
    Optional 1-D array of cluster ids, one per sample (e.g. the person a pair or a
    photo shows). Samples of one person are not independent: where several rows share
    a person, pass ``clusters`` and the bootstrap resamples whole people (a cluster
    bootstrap), so the intervals are as wide as the number of people warrants.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator, Mapping, Sequence
from statistics import NormalDist
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray
from leakage.metrics_types import MembershipMetrics

__all__ = [
    "TPR_FPR_LEVELS",
    "auc",
    "best_threshold",
    "bootstrap_ci",
    "cluster_proportion_ci",
    "fpr_key",
    "fpr_level_label",
    "mean_std",
    "membership_summary",
    "metrics_at_threshold",
    "perfectly_separated",
    "repeated_clusters",
    "resolvable",
    "roc_auc",
    "roc_band",
    "roc_curve",
    "threshold_metrics",
    "tpr_at_fpr",
    "tpr_at_fpr_levels",
    "tpr_at_fpr_rows",
    "wilson_interval",
]

#: FPR levels the field reports TPR at: 1%, 0.1% and 0% (Carlini et al. 2022).
TPR_FPR_LEVELS: tuple[float, ...] = (0.01, 0.001, 0.0)

#: Default FPR grid of :func:`roc_band`: 0 plus 10 points per decade from 1e-4 to 1,
#: so the band can be drawn on log-log axes as well as linear ones.
DEFAULT_BAND_GRID: NDArray[np.float64] = np.concatenate([[0.0], np.logspace(-4.0, 0.0, 41)])

# Bootstrap resamples are drawn in chunks of about this many indices, which bounds
# memory (a few tens of MB) while keeping the work inside numpy.
_BOOT_CHUNK_ELEMENTS = 1 << 21

StatisticFn = Callable[[NDArray[np.int8], NDArray[np.float64]], float]


# --------------------------------------------------------------------------- validation


def _as_labels(labels: ArrayLike, name: str = "labels") -> NDArray[np.int8]:
    array = np.asarray(labels)
    if array.ndim != 1:
        raise ValueError(f"{name} must be a 1-D array, got shape {array.shape}")
    if array.size == 0:
        raise ValueError(f"{name} must not be empty")
    if array.dtype.kind not in "biuf":
        raise ValueError(f"{name} must be numeric 0/1 or bool, got dtype {array.dtype}")
    if array.dtype.kind == "f" and np.isnan(array).any():
        raise ValueError(f"{name} contain NaN; expected only 0 and 1")
    values = np.unique(array)
    if not np.isin(values, (0, 1)).all():
        shown = values[~np.isin(values, (0, 1))][:5].tolist()
        raise ValueError(f"{name} must contain only 0 (non-member) and 1 (member); found {shown}")
    return array.astype(np.int8)


def _as_scores(scores: ArrayLike) -> NDArray[np.float64]:
    array = np.asarray(scores)
    if array.ndim != 1:
        raise ValueError(f"scores must be a 1-D array, got shape {array.shape}")
    if array.dtype.kind not in "biuf":
        raise ValueError(f"scores must be numeric, got dtype {array.dtype}")
    array = array.astype(np.float64)
    if np.isnan(array).any():
        raise ValueError(f"scores contain {int(np.isnan(array).sum())} NaN value(s)")
    if np.isinf(array).any():
        raise ValueError("scores contain infinite values; scores must be finite")
    return array


def _check_same_length(first: np.ndarray, second: np.ndarray, names: str) -> None:
    if first.shape[0] != second.shape[0]:
        raise ValueError(f"{names} must have the same length, got {first.shape[0]} and {second.shape[0]}")


def _check_labels_scores(
    labels: ArrayLike, scores: ArrayLike, *, need_both_classes: bool = True
) -> tuple[NDArray[np.int8], NDArray[np.float64]]:
    labels_arr = _as_labels(labels)
    scores_arr = _as_scores(scores)
    _check_same_length(labels_arr, scores_arr, "labels and scores")
    if need_both_classes:
        n_members = int(labels_arr.sum())
        if n_members == 0 or n_members == labels_arr.size:
            present = "members (1)" if n_members else "non-members (0)"
            raise ValueError(
                f"a ROC needs both members (label 1) and non-members (label 0); got only {present}"
            )
    return labels_arr, scores_arr


def _check_fraction(value: float, name: str, *, open_interval: bool = False) -> float:
    value = float(value)
    if open_interval:
        if not 0.0 < value < 1.0:
            raise ValueError(f"{name} must be strictly between 0 and 1, got {value}")
    elif not 0.0 <= value <= 1.0:
        raise ValueError(f"{name} must be between 0 and 1, got {value}")
    return value


def _check_n_boot(n_boot: int) -> int:
    if int(n_boot) != n_boot or n_boot < 1:
        raise ValueError(f"n_boot must be a positive integer, got {n_boot!r}")
    return int(n_boot)


# --------------------------------------------------------------------------- ROC core
#
# Everything ROC-shaped is computed from per-score-group counts: samples with the
# same score form one group (one ROC point), groups ordered by descending score.
# The bootstrap reuses the grouping and only recounts, so it never re-sorts.


def _group_by_score(scores: NDArray[np.float64]) -> tuple[NDArray[np.intp], NDArray[np.float64]]:
    """Group id of every sample (0 = highest score) and the distinct scores, descending."""
    order = np.argsort(-scores, kind="stable")
    sorted_scores = scores[order]
    starts_new_group = np.concatenate([[False], sorted_scores[1:] != sorted_scores[:-1]])
    group_of_sorted = np.cumsum(starts_new_group)
    groups = np.empty_like(group_of_sorted)
    groups[order] = group_of_sorted
    return groups, sorted_scores[np.concatenate([[True], starts_new_group[1:]])]


def _counts_per_group(groups: NDArray[np.intp], n_groups: int) -> NDArray[np.int64]:
    """Count samples per group, row by row: (rows, n) group ids -> (rows, n_groups) counts."""
    groups = np.atleast_2d(groups)
    n_rows = groups.shape[0]
    flat = (groups + (np.arange(n_rows) * n_groups)[:, None]).ravel()
    return np.bincount(flat, minlength=n_rows * n_groups).reshape(n_rows, n_groups)


def _roc_from_counts(
    pos_counts: NDArray[np.int64], neg_counts: NDArray[np.int64]
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Row-wise ROC points (with the leading (0, 0)) from per-group counts."""
    zeros = np.zeros((pos_counts.shape[0], 1), dtype=np.int64)
    tps = np.concatenate([zeros, np.cumsum(pos_counts, axis=1)], axis=1)
    fps = np.concatenate([zeros, np.cumsum(neg_counts, axis=1)], axis=1)
    return fps / fps[:, -1:], tps / tps[:, -1:]


def _auc_from_counts(pos_counts: NDArray[np.int64], neg_counts: NDArray[np.int64]) -> NDArray[np.float64]:
    """Row-wise ROC AUC from per-group counts (Mann-Whitney U, ties count one half).

    Equal to the trapezoidal area under the ROC; the sum stays in exact integers
    (as float64 up to 2**53) until the final division.
    """
    n_pos = pos_counts.sum(axis=1)
    n_neg = neg_counts.sum(axis=1)
    negatives_ranked_lower = n_neg[:, None] - np.cumsum(neg_counts, axis=1)
    twice_u = (pos_counts * (2 * negatives_ranked_lower + neg_counts)).sum(axis=1, dtype=np.float64)
    return twice_u / (2.0 * n_pos * n_neg)


def _step_tpr(fpr: NDArray[np.float64], tpr: NDArray[np.float64], levels: ArrayLike) -> NDArray[np.float64]:
    """Highest TPR among ROC points with FPR <= level, row-wise: (rows, points) -> (rows, levels).

    Both coordinates are non-decreasing along a ROC, so the best admissible point is
    the last one with FPR <= level; the leading (0, 0) point makes one always exist.
    """
    fpr, tpr = np.atleast_2d(fpr), np.atleast_2d(tpr)
    levels = np.atleast_1d(np.asarray(levels, dtype=np.float64))
    rows = np.arange(fpr.shape[0])
    result = np.empty((fpr.shape[0], levels.size))
    for column, level in enumerate(levels):
        last_admissible = (fpr <= level).sum(axis=1) - 1
        result[:, column] = tpr[rows, last_admissible]
    return result


# --------------------------------------------------------------------------- ROC API


def roc_curve(
    labels: ArrayLike, scores: ArrayLike
) -> tuple[NDArray[np.float64], NDArray[np.float64], NDArray[np.float64]]:
    """Compute the receiver operating characteristic at every distinct threshold.

    Same output as ``sklearn.metrics.roc_curve(labels, scores,
    drop_intermediate=False)``: one point per distinct score (tied scores form a
    single point), preceded by the point (0, 0) at threshold ``+inf``.

    Parameters
    ----------
    labels : array-like of shape (n_samples,)
        1 for members, 0 for non-members. Both classes must be present.
    scores : array-like of shape (n_samples,)
        Finite attack scores; higher means more likely a member.

    Returns
    -------
    fpr : ndarray of shape (n_thresholds + 1,)
        False positive rate of the rule ``score >= thresholds[i]``; non-decreasing.
    tpr : ndarray of shape (n_thresholds + 1,)
        True positive rate of the same rule; non-decreasing.
    thresholds : ndarray of shape (n_thresholds + 1,)
        ``+inf`` followed by the distinct scores in decreasing order.

    Raises
    ------
    ValueError
        On mismatched lengths, non-binary labels, NaN or infinite scores, or when
        only one class is present.
    """
    labels_arr, scores_arr = _check_labels_scores(labels, scores)
    groups, distinct_scores = _group_by_score(scores_arr)
    members = labels_arr == 1
    pos_counts = _counts_per_group(groups[members], distinct_scores.size)
    neg_counts = _counts_per_group(groups[~members], distinct_scores.size)
    fpr, tpr = _roc_from_counts(pos_counts, neg_counts)
    thresholds = np.concatenate([[np.inf], distinct_scores])
    return fpr[0], tpr[0], thresholds


def auc(fpr: ArrayLike, tpr: ArrayLike) -> float:
    """Area under a curve by the trapezoidal rule, for ROC points.

    Parameters
    ----------
    fpr : array-like of shape (n_points,)
        x coordinates, monotonic (non-decreasing or non-increasing).
    tpr : array-like of shape (n_points,)
        y coordinates.

    Returns
    -------
    float
        The area; positive for either direction of ``fpr``.
    """
    x = np.asarray(fpr, dtype=np.float64)
    y = np.asarray(tpr, dtype=np.float64)
    if x.ndim != 1 or y.ndim != 1:
        raise ValueError(f"fpr and tpr must be 1-D arrays, got shapes {x.shape} and {y.shape}")
    _check_same_length(x, y, "fpr and tpr")
    if x.size < 2:
        raise ValueError(f"at least 2 points are needed to compute an area, got {x.size}")
    if not (np.isfinite(x).all() and np.isfinite(y).all()):
        raise ValueError("fpr and tpr must be finite")
    steps = np.diff(x)
    if (steps < 0).any() and (steps > 0).any():
        raise ValueError("fpr must be monotonic (non-decreasing or non-increasing)")
    direction = -1.0 if (steps < 0).any() else 1.0
    return direction * float(np.trapezoid(y, x))


def roc_auc(labels: ArrayLike, scores: ArrayLike) -> float:
    """Area under the ROC curve of ``scores`` for ``labels``.

    Equals ``auc(*roc_curve(labels, scores)[:2])`` and
    ``sklearn.metrics.roc_auc_score``: the probability that a random member
    scores higher than a random non-member, ties counting one half. Computed from
    rank counts (Mann-Whitney U), which is exact and is also what the bootstrap in
    :func:`membership_summary` uses.

    Parameters
    ----------
    labels : array-like of shape (n_samples,)
        1 for members, 0 for non-members. Both classes must be present.
    scores : array-like of shape (n_samples,)
        Finite attack scores; higher means more likely a member.

    Returns
    -------
    float
        AUC in [0, 1]; 0.5 is chance.
    """
    labels_arr, scores_arr = _check_labels_scores(labels, scores)
    groups, distinct_scores = _group_by_score(scores_arr)
    members = labels_arr == 1
    pos_counts = _counts_per_group(groups[members], distinct_scores.size)
    neg_counts = _counts_per_group(groups[~members], distinct_scores.size)
    return float(_auc_from_counts(pos_counts, neg_counts)[0])


def tpr_at_fpr(labels: ArrayLike, scores: ArrayLike, max_fpr: float) -> float:
    """True positive rate achievable at a false positive rate of at most ``max_fpr``.

    Rule: the highest TPR among the ROC points (see :func:`roc_curve`) whose FPR
    is ``<= max_fpr``. There is no interpolation between points, so the value is
    conservative: it is attained by an actual threshold on these data.

    At ``max_fpr=0`` this is the TPR at the lowest threshold that still admits no
    false positive, i.e. the fraction of members scored strictly above every
    non-member.

    Carlini et al.'s plotting code (``tpr[np.where(fpr < level)[0][-1]]``) uses a
    strict ``<``; here it is ``<=``, which is what makes the 0% level defined and
    differs from theirs only when ``max_fpr`` is exactly a multiple of ``1/N``.

    Parameters
    ----------
    labels : array-like of shape (n_samples,)
        1 for members, 0 for non-members. Both classes must be present.
    scores : array-like of shape (n_samples,)
        Finite attack scores; higher means more likely a member.
    max_fpr : float
        FPR budget in [0, 1].

    Returns
    -------
    float
        TPR in [0, 1]; non-decreasing in ``max_fpr``.

    Notes
    -----
    With N non-members the FPR moves in steps of ``1/N``: at 1% FPR with 100
    non-members at most one false positive is allowed, and any ``max_fpr < 1/N``
    is the same as 0%. Report N alongside low-FPR numbers.
    """
    return tpr_at_fpr_levels(labels, scores, (max_fpr,))[fpr_key(max_fpr)]


def fpr_key(level: float) -> str:
    """The string key of an FPR level: ``format(level, "g")``.

    ``0.01 -> "0.01"``, ``0.001 -> "0.001"``, ``0.0 -> "0"``. These keys are a
    stable public JSON contract of :func:`tpr_at_fpr_levels` and
    :func:`membership_summary`.
    """
    return format(_check_fraction(level, "FPR level"), "g")


def tpr_at_fpr_levels(
    labels: ArrayLike, scores: ArrayLike, levels: Sequence[float] = TPR_FPR_LEVELS
) -> dict[str, float]:
    """TPR at several FPR budgets, keyed by :func:`fpr_key` (``"0.01"``, ``"0.001"``, ``"0"``).

    Each value follows the rule of :func:`tpr_at_fpr`; the ROC is built once.

    Parameters
    ----------
    labels : array-like of shape (n_samples,)
        1 for members, 0 for non-members. Both classes must be present.
    scores : array-like of shape (n_samples,)
        Finite attack scores; higher means more likely a member.
    levels : sequence of float, default=TPR_FPR_LEVELS
        FPR budgets in [0, 1].

    Returns
    -------
    dict of str to float
        ``{fpr_key(level): tpr}`` in the order of ``levels``.
    """
    keys = [fpr_key(level) for level in levels]
    fpr, tpr, _ = roc_curve(labels, scores)
    values = _step_tpr(fpr, tpr, levels)[0]
    return {key: float(value) for key, value in zip(keys, values)}


# --------------------------------------------------------------------------- binary decisions


def _safe_ratio(numerator: int, denominator: int) -> float:
    return numerator / denominator if denominator else 0.0


def threshold_metrics(labels: ArrayLike, predicted: ArrayLike) -> dict[str, int | float]:
    """Confusion matrix and rates of a binary member / non-member decision.

    Parameters
    ----------
    labels : array-like of shape (n_samples,)
        1 for members, 0 for non-members.
    predicted : array-like of shape (n_samples,)
        The attack's decision: 1 (or True) for "member".

    Returns
    -------
    dict
        ``tp``, ``fp``, ``tn``, ``fn`` (int) and ``tpr``, ``fnr``, ``fpr``, ``tnr``,
        ``precision``, ``accuracy`` (float). A rate whose denominator is zero
        (e.g. ``precision`` when nothing is predicted a member, or ``tpr`` when
        there are no members) is reported as 0.0 rather than NaN, so the result
        is always JSON-serialisable; check the counts to tell the cases apart.
    """
    labels_arr = _as_labels(labels)
    predicted_arr = _as_labels(predicted, name="predicted")
    _check_same_length(labels_arr, predicted_arr, "labels and predicted")
    is_member = labels_arr == 1
    says_member = predicted_arr == 1
    tp = int(np.count_nonzero(is_member & says_member))
    fp = int(np.count_nonzero(~is_member & says_member))
    tn = int(np.count_nonzero(~is_member & ~says_member))
    fn = int(np.count_nonzero(is_member & ~says_member))
    return {
        "tp": tp,
        "fp": fp,
        "tn": tn,
        "fn": fn,
        "tpr": _safe_ratio(tp, tp + fn),
        "fnr": _safe_ratio(fn, tp + fn),
        "fpr": _safe_ratio(fp, fp + tn),
        "tnr": _safe_ratio(tn, fp + tn),
        "precision": _safe_ratio(tp, tp + fp),
        "accuracy": _safe_ratio(tp + tn, labels_arr.size),
    }


def metrics_at_threshold(labels: ArrayLike, scores: ArrayLike, threshold: float) -> dict[str, int | float]:
    """:func:`threshold_metrics` for the decision ``scores >= threshold``.

    Parameters
    ----------
    labels : array-like of shape (n_samples,)
        1 for members, 0 for non-members.
    scores : array-like of shape (n_samples,)
        Finite attack scores; higher means more likely a member.
    threshold : float
        Finite decision threshold (e.g. IDIA's tau = 1 correct prompt).

    Returns
    -------
    dict
        The keys of :func:`threshold_metrics` plus ``threshold`` (float).
    """
    threshold = float(threshold)
    if not math.isfinite(threshold):
        raise ValueError(f"threshold must be finite, got {threshold}")
    labels_arr, scores_arr = _check_labels_scores(labels, scores, need_both_classes=False)
    return {**threshold_metrics(labels_arr, scores_arr >= threshold), "threshold": threshold}


# --------------------------------------------------------------------------- bootstrap


def _stratified_resamples(
    n_pos: int, n_neg: int, n_boot: int, seed: int
) -> Iterator[tuple[NDArray[np.int64], NDArray[np.int64]]]:
    """Yield chunks of bootstrap index rows: (rows, n_pos) into members, (rows, n_neg) into non-members.

    Members and non-members are resampled separately, so every resample keeps the
    class sizes (and both classes). Every bootstrap in this module draws through
    here, so the same seed gives the same resamples everywhere.
    """
    rng = np.random.default_rng(seed)
    rows_per_chunk = max(1, _BOOT_CHUNK_ELEMENTS // (n_pos + n_neg))
    for start in range(0, n_boot, rows_per_chunk):
        rows = min(rows_per_chunk, n_boot - start)
        yield rng.integers(0, n_pos, size=(rows, n_pos)), rng.integers(0, n_neg, size=(rows, n_neg))


def _percentile_interval(values: NDArray[np.float64], confidence: float) -> NDArray[np.float64]:
    """Lower and upper percentile bounds over resamples (axis 0)."""
    tail = (1.0 - confidence) / 2.0
    return np.quantile(values, [tail, 1.0 - tail], axis=0)


def _as_clusters(clusters: ArrayLike, n_samples: int) -> NDArray[np.intp]:
    """Cluster ids (any hashable values: names, numbers) as codes 0..n_clusters-1."""
    array = np.asarray(clusters)
    if array.ndim != 1:
        raise ValueError(f"clusters must be a 1-D array, got shape {array.shape}")
    if array.shape[0] != n_samples:
        raise ValueError(f"labels and clusters must have the same length, got {n_samples} and {array.shape[0]}")
    if array.dtype.kind == "O":
        array = array.astype(str)
    return np.unique(array, return_inverse=True)[1].ravel()


def _cluster_resamples(labels: NDArray[np.int8], codes: NDArray[np.intp], n_boot: int, seed: int) -> Iterator[NDArray[np.int64]]:
    """Yield chunks of (rows, n_samples) multiplicities: how often each sample occurs in a resample.

    Whole clusters are drawn with replacement, separately among the clusters holding only
    members, only non-members, and both, keeping each kind's count: every resample has both
    classes, and with one sample per cluster this is the stratified bootstrap of the rows.
    """
    n_clusters = int(codes.max()) + 1
    has_member = np.bincount(codes, weights=labels == 1, minlength=n_clusters) > 0
    has_nonmember = np.bincount(codes, weights=labels == 0, minlength=n_clusters) > 0
    kind = has_member.astype(int) + 2 * has_nonmember.astype(int)
    strata = [np.flatnonzero(kind == value) for value in (1, 2, 3) if (kind == value).any()]
    rng = np.random.default_rng(seed)
    rows_per_chunk = max(1, _BOOT_CHUNK_ELEMENTS // codes.size)
    for start in range(0, n_boot, rows_per_chunk):
        rows = min(rows_per_chunk, n_boot - start)
        counts = np.zeros((rows, n_clusters), dtype=np.int64)
        for stratum in strata:
            counts += _counts_per_group(stratum[rng.integers(0, stratum.size, size=(rows, stratum.size))], n_clusters)
        yield counts[:, codes]


def _weighted_counts_per_group(groups: NDArray[np.intp], weights: NDArray[np.int64], n_groups: int) -> NDArray[np.float64]:
    """Row-wise sums of `weights` per group: (n,) group ids, (rows, n) weights -> (rows, n_groups)."""
    n_rows = weights.shape[0]
    flat = (groups[None, :] + (np.arange(n_rows) * n_groups)[:, None]).ravel()
    return np.bincount(flat, weights=weights.ravel(), minlength=n_rows * n_groups).reshape(n_rows, n_groups)


def _bootstrap_rocs(
    labels: NDArray[np.int8], scores: NDArray[np.float64], n_boot: int, seed: int, clusters: NDArray[np.intp] | None = None
) -> Iterator[tuple[NDArray, NDArray]]:
    """Per-group member / non-member counts of each resample, in chunks of rows.

    Resampling only changes how often each original sample occurs, so the score
    groups of the full data are reused and each resample is a bincount, no sort.
    With `clusters` (codes from :func:`_as_clusters`), whole clusters are resampled.
    """
    groups, distinct_scores = _group_by_score(scores)
    members = labels == 1
    member_groups, nonmember_groups = groups[members], groups[~members]
    if clusters is not None:
        for weights in _cluster_resamples(labels, clusters, n_boot, seed):
            yield (
                _weighted_counts_per_group(member_groups, weights[:, members], distinct_scores.size),
                _weighted_counts_per_group(nonmember_groups, weights[:, ~members], distinct_scores.size),
            )
        return
    for member_rows, nonmember_rows in _stratified_resamples(
        member_groups.size, nonmember_groups.size, n_boot, seed
    ):
        yield (
            _counts_per_group(member_groups[member_rows], distinct_scores.size),
            _counts_per_group(nonmember_groups[nonmember_rows], distinct_scores.size),
        )


def bootstrap_ci(
    labels: ArrayLike,
    scores: ArrayLike,
    statistic: StatisticFn,
    n_boot: int = 1000,
    confidence: float = 0.95,
    seed: int = 0,
    clusters: ArrayLike | None = None,
) -> tuple[float, float]:
    """Stratified-bootstrap percentile confidence interval of ``statistic(labels, scores)``.

    Members and non-members are resampled with replacement separately, keeping
    the class sizes, so both classes are present in every resample (a ROC
    statistic is always defined). With ``clusters``, whole clusters are resampled
    instead (a cluster bootstrap), separately among clusters holding only members,
    only non-members and both, so both classes are again always present.

    Parameters
    ----------
    labels : array-like of shape (n_samples,)
        1 for members, 0 for non-members. Both classes must be present.
    scores : array-like of shape (n_samples,)
        Finite attack scores; higher means more likely a member.
    statistic : callable
        ``statistic(labels, scores) -> float``; it receives the resample's labels
        (members first, without ``clusters``) and scores.
    n_boot : int, default=1000
        Number of resamples.
    confidence : float, default=0.95
        Coverage of the interval, in (0, 1).
    seed : int, default=0
        Seed of the resampling; the same seed gives the same resamples as
        :func:`roc_band` and :func:`membership_summary`.
    clusters : array-like of shape (n_samples,), optional
        The cluster (e.g. person) of every sample; resample whole clusters.

    Returns
    -------
    (low, high) : tuple of float
        The ``(1 - confidence) / 2`` and ``(1 + confidence) / 2`` quantiles of the
        bootstrap distribution.
    """
    labels_arr, scores_arr = _check_labels_scores(labels, scores)
    n_boot = _check_n_boot(n_boot)
    confidence = _check_fraction(confidence, "confidence", open_interval=True)
    if clusters is not None:
        codes = _as_clusters(clusters, labels_arr.size)
        cluster_values = [
            float(statistic(labels_arr[rows], scores_arr[rows]))
            for weights in _cluster_resamples(labels_arr, codes, n_boot, seed)
            for rows in (np.repeat(np.arange(labels_arr.size), row) for row in weights)
        ]
        low, high = _percentile_interval(np.asarray(cluster_values), confidence)
        return float(low), float(high)
    member_scores = scores_arr[labels_arr == 1]
    nonmember_scores = scores_arr[labels_arr == 0]
    resample_labels = np.concatenate(
        [np.ones(member_scores.size, dtype=np.int8), np.zeros(nonmember_scores.size, dtype=np.int8)]
    )
    values = []
    for member_rows, nonmember_rows in _stratified_resamples(
        member_scores.size, nonmember_scores.size, n_boot, seed
    ):
        for member_idx, nonmember_idx in zip(member_rows, nonmember_rows):
            resample_scores = np.concatenate([member_scores[member_idx], nonmember_scores[nonmember_idx]])
            values.append(float(statistic(resample_labels, resample_scores)))
    low, high = _percentile_interval(np.asarray(values), confidence)
    return float(low), float(high)


def repeated_clusters(clusters: Sequence[Any]) -> list[Any] | None:
    """``clusters`` when every row names one and some cluster holds several rows, else None.

    What to pass as ``clusters`` to the bootstrap: with one row per person it is the
    stratified bootstrap of the rows anyway, and a missing person leaves it unknown
    which rows belong together.

    >>> repeated_clusters(["a", "a", "b"]), repeated_clusters(["a", "b"]), repeated_clusters(["a", None, "a"])
    (['a', 'a', 'b'], None, None)
    """
    values = list(clusters)
    if not values or any(value is None or value == "" for value in values) or len(set(values)) == len(values):
        return None
    return values


def perfectly_separated(labels: ArrayLike, scores: ArrayLike) -> bool:
    """Whether every member scores strictly above every non-member.

    Then the AUC is 1 and TPR at FPR = 0 is 1, and every bootstrap resample of
    these data is separated too: the interval collapses to 1.000-1.000, which
    reads as certainty but only says that the sample held no overlap. Views state
    "all N members above all M non-members" instead (``leakage.wording``).

    >>> perfectly_separated([1, 1, 0], [0.9, 0.8, 0.1]), perfectly_separated([1, 0], [0.5, 0.5])
    (True, False)
    """
    labels_arr, scores_arr = _check_labels_scores(labels, scores)
    return bool(scores_arr[labels_arr == 1].min() > scores_arr[labels_arr == 0].max())


def wilson_interval(successes: float, total: float, confidence: float = 0.95) -> list[float]:
    """Wilson score interval of a proportion ``successes / total``.

    Sound at 0 and 1, where the normal interval collapses. ``total`` may be an
    effective sample size (not an integer), e.g. the number of independent
    clusters. ``total == 0`` gives the uninformative ``[0, 1]``.

    >>> [round(x, 4) for x in wilson_interval(0, 99)]
    [0.0, 0.0373]
    """
    confidence = _check_fraction(confidence, "confidence", open_interval=True)
    if total <= 0:
        return [0.0, 1.0]
    if not 0 <= successes <= total:
        raise ValueError(f"successes must lie between 0 and total, got {successes} of {total}")
    z = NormalDist().inv_cdf(0.5 + confidence / 2.0)
    p = successes / total
    denominator = 1 + z * z / total
    centre = (p + z * z / (2 * total)) / denominator
    half = z * math.sqrt(p * (1 - p) / total + z * z / (4 * total * total)) / denominator
    low = 0.0 if successes == 0 else max(0.0, centre - half)  # exact at the edges, where rounding leaves 1e-17
    high = 1.0 if successes == total else min(1.0, centre + half)
    return [float(low), float(high)]


def cluster_proportion_ci(
    successes: ArrayLike,
    clusters: ArrayLike,
    n_boot: int = 1000,
    confidence: float = 0.95,
    seed: int = 0,
) -> list[float]:
    """Cluster-bootstrap percentile interval of a proportion whose rows are clustered.

    For a rate over photos of several people (a backdoor's success rate over the
    triggered photos of 99 people): photos of one person succeed or fail together
    more often than photos of different people, so whole people are resampled.
    Where every row succeeds or every row fails the bootstrap collapses to a point;
    the interval is then the :func:`wilson_interval` over the number of clusters
    (each person counted once), which is never a point.

    Parameters
    ----------
    successes : array-like of shape (n_samples,)
        1 (or True) where the row succeeded, else 0.
    clusters : array-like of shape (n_samples,)
        The cluster (e.g. person) of every row.
    n_boot : int, default=1000
        Number of resamples.
    confidence : float, default=0.95
        Coverage of the interval, in (0, 1).
    seed : int, default=0
        Seed of the resampling.

    Returns
    -------
    [low, high] : list of float
    """
    values = _as_labels(successes, name="successes").astype(np.float64)
    codes = _as_clusters(clusters, values.size)
    n_boot = _check_n_boot(n_boot)
    confidence = _check_fraction(confidence, "confidence", open_interval=True)
    n_clusters = int(codes.max()) + 1
    if values.min() == values.max():
        return wilson_interval(float(values[0]) * n_clusters, n_clusters, confidence)
    size = np.bincount(codes, minlength=n_clusters).astype(np.float64)
    hits = np.bincount(codes, weights=values, minlength=n_clusters)
    rng = np.random.default_rng(seed)
    draws = np.zeros(n_boot)
    rows_per_chunk = max(1, _BOOT_CHUNK_ELEMENTS // n_clusters)
    for start in range(0, n_boot, rows_per_chunk):
        rows = min(rows_per_chunk, n_boot - start)
        counts = _counts_per_group(rng.integers(0, n_clusters, size=(rows, n_clusters)), n_clusters)
        draws[start:start + rows] = (counts @ hits) / (counts @ size)
    low, high = _percentile_interval(draws, confidence)
    return [float(low), float(high)]


def roc_band(
    labels: ArrayLike,
    scores: ArrayLike,
    n_boot: int = 200,
    confidence: float = 0.95,
    seed: int = 0,
    grid: ArrayLike | None = None,
    clusters: ArrayLike | None = None,
) -> dict[str, NDArray[np.float64]]:
    """Pointwise stratified-bootstrap band around the ROC, for drawing under a ROC plot.

    For each resample the ROC is read on ``grid`` as a step function, with the
    rule of :func:`tpr_at_fpr` (highest TPR among points with FPR <= grid value);
    the band is the pointwise percentile interval over resamples.

    Parameters
    ----------
    labels : array-like of shape (n_samples,)
        1 for members, 0 for non-members. Both classes must be present.
    scores : array-like of shape (n_samples,)
        Finite attack scores; higher means more likely a member.
    n_boot : int, default=200
        Number of resamples.
    confidence : float, default=0.95
        Coverage of the band at each grid point, in (0, 1).
    seed : int, default=0
        Seed of the resampling (shared with :func:`bootstrap_ci`).
    grid : array-like of float in [0, 1], optional
        FPR values to evaluate at. Default :data:`DEFAULT_BAND_GRID`: 0 plus
        log-spaced points from 1e-4 to 1, usable on log-log axes.
    clusters : array-like of shape (n_samples,), optional
        The cluster (e.g. person) of every sample; resample whole clusters.

    Returns
    -------
    dict of str to ndarray
        ``fpr_grid``, ``tpr_low``, ``tpr_median``, ``tpr_high``, all of the grid's
        shape; ``tpr_low <= tpr_median <= tpr_high`` and all lie in [0, 1].
    """
    labels_arr, scores_arr = _check_labels_scores(labels, scores)
    n_boot = _check_n_boot(n_boot)
    confidence = _check_fraction(confidence, "confidence", open_interval=True)
    fpr_grid = DEFAULT_BAND_GRID.copy() if grid is None else np.asarray(grid, dtype=np.float64)
    if fpr_grid.ndim != 1 or fpr_grid.size == 0:
        raise ValueError(f"grid must be a non-empty 1-D array, got shape {fpr_grid.shape}")
    if not ((fpr_grid >= 0.0) & (fpr_grid <= 1.0)).all():
        raise ValueError("grid values must lie in [0, 1]")
    tpr_on_grid = np.concatenate([
        _step_tpr(*_roc_from_counts(pos_counts, neg_counts), fpr_grid)
        for pos_counts, neg_counts in _bootstrap_rocs(
            labels_arr, scores_arr, n_boot, seed, None if clusters is None else _as_clusters(clusters, labels_arr.size))
    ])
    low, high = _percentile_interval(tpr_on_grid, confidence)
    return {
        "fpr_grid": fpr_grid,
        "tpr_low": low,
        "tpr_median": np.median(tpr_on_grid, axis=0),
        "tpr_high": high,
    }


# --------------------------------------------------------------------------- aggregation & summary


def mean_std(records: Sequence[Mapping[str, float]], ddof: int = 1) -> dict[str, dict[str, float]]:
    """Mean and standard deviation, per key, over repeated runs.

    For results reported as mean +- std over random draws (the IDIA paper uses
    20 draws of attack images). The std is the *sample* std (``ddof=1``) by
    default, as the paper's pandas code computes it (``DataFrame.std``); pass
    ``ddof=0`` for the population std (``numpy.std``'s default). With a single
    record the sample std is undefined; it is reported as 0.0 so the block stays
    valid JSON.

    Parameters
    ----------
    records : sequence of mappings of str to float
        One mapping per run, all with the same keys.
    ddof : int, default=1
        Delta degrees of freedom of the std (0 or 1).

    Returns
    -------
    dict of str to dict
        ``{key: {"mean": float, "std": float}}`` in the key order of the first record.
    """
    if len(records) == 0:
        raise ValueError("records must not be empty")
    if ddof not in (0, 1):
        raise ValueError(f"ddof must be 0 or 1, got {ddof!r}")
    keys = list(records[0])
    for index, record in enumerate(records):
        if set(record) != set(keys):
            raise ValueError(
                f"every record must have the same keys; record {index} has {sorted(record)}, "
                f"record 0 has {sorted(keys)}"
            )
    summary = {}
    for key in keys:
        values = np.asarray([record[key] for record in records], dtype=np.float64)
        std = float(values.std(ddof=ddof)) if values.size > ddof else 0.0
        summary[key] = {"mean": float(values.mean()), "std": std}
    return summary


def _json_thresholds(thresholds: NDArray[np.float64]) -> list[float]:
    """Thresholds as a JSON-safe list: the leading +inf becomes a value above every score."""
    finite = thresholds.copy()
    highest = float(thresholds[1])
    # For huge scores, +1.0 can be lost to rounding; the next float up is then the smallest valid stand-in.
    finite[0] = max(highest + 1.0, float(np.nextafter(highest, np.inf)))
    return finite.tolist()


def membership_summary(
    labels: ArrayLike,
    scores: ArrayLike,
    threshold: float | None = None,
    n_boot: int = 1000,
    seed: int = 0,
    confidence: float = 0.95,
    clusters: ArrayLike | None = None,
) -> MembershipMetrics:
    """The standard result block of a membership attack, as JSON-ready Python data.

    Parameters
    ----------
    labels : array-like of shape (n_samples,)
        1 for members, 0 for non-members. Both classes must be present.
    scores : array-like of shape (n_samples,)
        Finite attack scores; higher means more likely a member.
    threshold : float, optional
        The attack's own decision threshold; when given, ``at_threshold`` holds
        :func:`metrics_at_threshold` for it.
    n_boot : int, default=1000
        Bootstrap resamples for the confidence intervals.
    seed : int, default=0
        Seed of the bootstrap; the intervals equal those of :func:`bootstrap_ci`
        with :func:`roc_auc` / :func:`tpr_at_fpr` and the same seed.
    confidence : float, default=0.95
        Coverage of the intervals.
    clusters : array-like of shape (n_samples,), optional
        The cluster of every sample (e.g. the person a pair shows); the intervals
        then come from a cluster bootstrap that resamples whole clusters.

    Returns
    -------
    dict
        ``auc`` (float) and ``auc_ci`` ([low, high]);
        ``tpr_at_fpr`` ({"0.01", "0.001", "0"} -> float) and ``tpr_at_fpr_ci``
        (same keys -> [low, high]); ``n_members``, ``n_nonmembers`` (int: the
        negatives that bound which FPR levels mean anything, see
        :func:`tpr_at_fpr_rows`);
        ``roc``: {"fpr", "tpr", "thresholds"} lists from :func:`roc_curve`, except
        that the first threshold (``+inf`` there) is ``max(scores) + 1.0`` so the
        block stays valid JSON (``json.dumps(..., allow_nan=False)``);
        ``bootstrap``: {"n_boot", "confidence", "seed", "unit"} with ``unit``
        "sample" or "cluster" (then also ``n_clusters``);
        ``perfect_separation`` (bool, :func:`perfectly_separated`: every member
        scores above every non-member, where a bootstrap interval collapses to a
        point and says nothing); and ``at_threshold`` when ``threshold`` is
        given. Only plain floats, ints, lists and dicts.
    """
    labels_arr, scores_arr = _check_labels_scores(labels, scores)
    n_boot = _check_n_boot(n_boot)
    confidence = _check_fraction(confidence, "confidence", open_interval=True)
    keys = [fpr_key(level) for level in TPR_FPR_LEVELS]

    fpr, tpr, thresholds = roc_curve(labels_arr, scores_arr)
    tpr_levels = _step_tpr(fpr, tpr, TPR_FPR_LEVELS)[0]

    codes = None if clusters is None else _as_clusters(clusters, labels_arr.size)
    boot_auc, boot_tpr = [], []
    for pos_counts, neg_counts in _bootstrap_rocs(labels_arr, scores_arr, n_boot, seed, codes):
        boot_auc.append(_auc_from_counts(pos_counts, neg_counts))
        boot_tpr.append(_step_tpr(*_roc_from_counts(pos_counts, neg_counts), TPR_FPR_LEVELS))
    auc_low, auc_high = _percentile_interval(np.concatenate(boot_auc), confidence)
    tpr_low, tpr_high = _percentile_interval(np.concatenate(boot_tpr), confidence)

    n_members = int(labels_arr.sum())
    summary: dict[str, Any] = {
        "auc": roc_auc(labels_arr, scores_arr),
        "auc_ci": [float(auc_low), float(auc_high)],
        "tpr_at_fpr": {key: float(value) for key, value in zip(keys, tpr_levels)},
        "tpr_at_fpr_ci": {key: [float(lo), float(hi)] for key, lo, hi in zip(keys, tpr_low, tpr_high)},
        "n_members": n_members,
        "n_nonmembers": int(labels_arr.size - n_members),
        "roc": {"fpr": fpr.tolist(), "tpr": tpr.tolist(), "thresholds": _json_thresholds(thresholds)},
        "bootstrap": {"n_boot": n_boot, "confidence": confidence, "seed": int(seed),
                      **({"unit": "sample"} if codes is None else {"unit": "cluster", "n_clusters": int(codes.max()) + 1})},
        "perfect_separation": perfectly_separated(labels_arr, scores_arr),
    }
    if threshold is not None:
        summary["at_threshold"] = metrics_at_threshold(labels_arr, scores_arr, threshold)
    return summary


# --------------------------------------------------------------------------- honest low-FPR figures
#
# With N non-members the empirical FPR moves in steps of 1/N: a "TPR at 0.1% FPR"
# from 100 non-members is the TPR at FPR = 0, and printing it under the 0.1% label
# claims a resolution the data do not have. Views label every level through here.


def resolvable(level: float, n_negatives: int) -> bool:
    """Whether an FPR level can be told apart from FPR = 0 with ``n_negatives`` non-members.

    A level is resolvable when it allows at least one false positive, ``level >= 1/N``;
    the 0 level itself is always resolvable. Below ``1/N`` the TPR "at" the level is the
    TPR at FPR = 0 (:func:`tpr_at_fpr` takes the best ROC point with FPR <= level).

    >>> resolvable(0.01, 100), resolvable(0.001, 100), resolvable(0.001, 1000), resolvable(0.0, 5)
    (True, False, True, True)
    """
    level = _check_fraction(level, "FPR level")
    if int(n_negatives) != n_negatives or n_negatives < 1:
        raise ValueError(f"n_negatives must be a positive integer, got {n_negatives!r}")
    return level == 0.0 or level * n_negatives >= 1.0 - 1e-9


def _percent(fraction: float) -> str:
    """0.01 -> "1%", 0.001 -> "0.1%", 1/256 -> "0.39%" (two significant digits at most)."""
    return f"{100.0 * fraction:.2g}%"


def fpr_level_label(level: float, n_negatives: int | None) -> str:
    """How to name the TPR reported at an FPR level, given the number of non-members N.

    * resolvable level: ``"TPR at 1% FPR"`` (``"TPR at 0% FPR"`` for the 0 level);
    * level below ``1/N``: ``"TPR at FPR = 0 (N = 100: levels below 1% not resolvable)"``,
      because that is what the number is;
    * N unknown (``None``, e.g. a stored result without ``n_nonmembers``):
      ``"TPR at 0.1% FPR (number of non-members unknown)"``.

    >>> fpr_level_label(0.001, 100)
    'TPR at FPR = 0 (N = 100: levels below 1% not resolvable)'
    >>> fpr_level_label(0.01, 256)
    'TPR at 1% FPR'
    """
    level = _check_fraction(level, "FPR level")
    if n_negatives is None:
        return f"TPR at {_percent(level)} FPR" + ("" if level == 0.0 else " (number of non-members unknown)")
    if resolvable(level, n_negatives):
        return f"TPR at {_percent(level)} FPR"
    return f"TPR at FPR = 0 (N = {int(n_negatives)}: levels below {_percent(1.0 / n_negatives)} not resolvable)"


def tpr_at_fpr_rows(metrics: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The TPR-at-low-FPR block of a membership metrics dict as display rows, honestly labelled.

    Every view (CLI, pages, report) shows ``metrics["tpr_at_fpr"]`` through this function so
    that no output claims a TPR at an FPR level finer than ``1/N`` (N = ``n_nonmembers``).
    Levels below ``1/N`` equal the TPR at FPR = 0, so they are merged into one row labelled
    by :func:`fpr_level_label` (e.g. ``"TPR at FPR = 0 (N = 100: levels below 1% not
    resolvable)"``) instead of repeating the same number under finer labels. Levels that can
    be resolved keep their own row. Bootstrap intervals (``tpr_at_fpr_ci``) are carried along.

    Parameters
    ----------
    metrics : mapping
        A dict with ``tpr_at_fpr`` ({fpr_key: tpr}), optionally ``tpr_at_fpr_ci``
        ({fpr_key: [low, high]}) and ``n_nonmembers`` (int; missing in a stored result
        means unknown, and every row then says so).

    Returns
    -------
    list of dict
        One dict per row, in order of decreasing level: ``label`` (str, full text),
        ``level`` (float, the level the value is at: 0.0 for merged rows), ``levels``
        (list of the fpr_keys the row stands for), ``tpr`` (float), ``ci`` ([low, high] or
        None), ``resolvable`` (bool, or None when N is unknown), ``n_negatives`` (int or None).
        Empty when the metrics hold no ``tpr_at_fpr``.
    """
    tpr = metrics.get("tpr_at_fpr") or {}
    ci = metrics.get("tpr_at_fpr_ci") or {}
    n = metrics.get("n_nonmembers")
    n = int(n) if isinstance(n, (int, float)) and n >= 1 else None
    levels = sorted(((float(key), key) for key in tpr), reverse=True)
    rows: list[dict[str, Any]] = []
    merged: list[str] = []
    for level, key in levels:
        if n is not None and not resolvable(level, n):
            merged.append(key)
            continue
        rows.append({"label": fpr_level_label(level, n), "level": level, "levels": [key], "tpr": float(tpr[key]),
                     "ci": list(ci[key]) if key in ci else None, "resolvable": None if n is None else True,
                     "n_negatives": n})
    if merged:
        zero = next((row for row in rows if row["level"] == 0.0), None)
        if zero is None:  # the value at an unresolvable level is the value at 0 (they are equal)
            key = merged[-1]
            zero = {"level": 0.0, "levels": [], "tpr": float(tpr[key]), "ci": list(ci[key]) if key in ci else None,
                    "n_negatives": n}
            rows.append(zero)
        zero["levels"] = merged + zero["levels"]
        zero["label"] = fpr_level_label(min(float(key) for key in merged), n)
        zero["resolvable"] = False
    return rows


# --------------------------------------------------------------------------- thresholds from other data


def best_threshold(labels: ArrayLike, scores: ArrayLike) -> dict[str, Any]:
    """The decision threshold that separates members from non-members best on these data.

    For attacks that set their threshold on a shadow model's own members and non-members
    and then apply it to the target (Li et al.'s MIM attack, background.md §3). "Best" is
    the highest balanced accuracy, ``(TPR + TNR) / 2`` (equal to accuracy on a balanced set,
    and not won by calling everyone a non-member on an unbalanced one); ties go to the
    highest threshold, the more cautious claim. The threshold returned lies midway between
    the chosen score and the next lower one, so it makes the same decisions on these data
    and does not sit on a sample.

    Parameters
    ----------
    labels : array-like of shape (n_samples,)
        1 for members, 0 for non-members. Both classes must be present.
    scores : array-like of shape (n_samples,)
        Finite attack scores; higher means more likely a member.

    Returns
    -------
    dict
        ``threshold`` (float; decide member when ``score >= threshold``),
        ``balanced_accuracy`` (float), and :func:`metrics_at_threshold` at that threshold
        on these data (``tpr``, ``fpr``, ``accuracy``, counts ...).
    """
    labels_arr, scores_arr = _check_labels_scores(labels, scores)
    fpr, tpr, thresholds = roc_curve(labels_arr, scores_arr)
    balanced = (tpr + 1.0 - fpr) / 2.0
    best = int(np.argmax(balanced))
    if best == 0:
        threshold = _json_thresholds(thresholds)[0]  # above every score: nobody is called a member
    elif best + 1 < thresholds.size:
        threshold = float((thresholds[best] + thresholds[best + 1]) / 2.0)
        if not thresholds[best + 1] < threshold <= thresholds[best]:  # adjacent floats: no midpoint exists
            threshold = float(thresholds[best])
    else:
        threshold = float(thresholds[best])
    at = metrics_at_threshold(labels_arr, scores_arr, threshold)
    return {**at, "threshold": threshold, "balanced_accuracy": float((at["tpr"] + at["tnr"]) / 2.0)}
