"""Tests of leakage.metrics: agreement with scikit-learn, hand-checked examples, bootstrap behaviour."""

from __future__ import annotations

import json

import numpy as np
import pytest
from sklearn import metrics as sk

from leakage import metrics as m


def random_case(seed: int, size: int, kind: str) -> tuple[np.ndarray, np.ndarray]:
    """Labels with both classes present and scores of the given kind, from a seed."""
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, 2, size)
    labels[:2] = [0, 1]
    rng.shuffle(labels)
    if kind == "continuous":
        scores = rng.normal(size=size) + labels
    elif kind == "idia_counts":  # correct-prompt counts 0..21, as the IDIA attack produces
        scores = rng.binomial(21, np.where(labels == 1, 0.4, 0.1)).astype(float)
    elif kind == "few_values":
        scores = rng.integers(0, 3, size).astype(float)
    elif kind == "all_tied":
        scores = np.full(size, 0.7)
    else:
        raise AssertionError(kind)
    return labels, scores


CASES = [
    (seed, size, kind)
    for seed, size in enumerate([2, 3, 5, 17, 100, 513, 2000])
    for kind in ("continuous", "idia_counts", "few_values", "all_tied")
]


# ----------------------------------------------------------------------------- agreement with sklearn


@pytest.mark.parametrize(("seed", "size", "kind"), CASES)
def test_roc_curve_matches_sklearn(seed: int, size: int, kind: str) -> None:
    labels, scores = random_case(seed, size, kind)
    fpr, tpr, thresholds = m.roc_curve(labels, scores)
    sk_fpr, sk_tpr, sk_thresholds = sk.roc_curve(labels, scores, drop_intermediate=False)
    np.testing.assert_array_equal(fpr, sk_fpr)
    np.testing.assert_array_equal(tpr, sk_tpr)
    np.testing.assert_array_equal(thresholds, sk_thresholds)


@pytest.mark.parametrize(("seed", "size", "kind"), CASES)
def test_roc_auc_matches_sklearn_and_trapezoid(seed: int, size: int, kind: str) -> None:
    labels, scores = random_case(seed, size, kind)
    expected = sk.roc_auc_score(labels, scores)
    assert m.roc_auc(labels, scores) == pytest.approx(expected, abs=1e-12)
    fpr, tpr, _ = m.roc_curve(labels, scores)
    assert m.auc(fpr, tpr) == pytest.approx(expected, abs=1e-12)


def test_all_tied_scores_give_the_diagonal() -> None:
    fpr, tpr, thresholds = m.roc_curve([0, 1, 1, 0], [3.0, 3.0, 3.0, 3.0])
    np.testing.assert_array_equal(fpr, [0.0, 1.0])
    np.testing.assert_array_equal(tpr, [0.0, 1.0])
    np.testing.assert_array_equal(thresholds, [np.inf, 3.0])
    assert m.roc_auc([0, 1, 1, 0], [3.0, 3.0, 3.0, 3.0]) == 0.5


def test_accepts_bool_labels_and_int_scores() -> None:
    assert m.roc_auc(np.array([False, True, True]), np.array([1, 2, 3])) == 1.0


def test_auc_of_decreasing_fpr_is_positive() -> None:
    assert m.auc([1.0, 0.5, 0.0], [1.0, 1.0, 0.0]) == pytest.approx(0.75)


# ----------------------------------------------------------------------------- TPR at low FPR

#   score:  9  8  7  6  5  4  3  2
#   label:  1  1  0  1  1  0  0  0     4 members, 4 non-members
SMALL_LABELS = [1, 1, 0, 1, 1, 0, 0, 0]
SMALL_SCORES = [9, 8, 7, 6, 5, 4, 3, 2]


def test_tpr_at_fpr_hand_checked() -> None:
    # Zero false positives allowed: thresholds above 7, so members 9 and 8 -> 2/4.
    assert m.tpr_at_fpr(SMALL_LABELS, SMALL_SCORES, 0.0) == 0.5
    # Below 1/N = 0.25 nothing changes: FPR resolution is 1/4.
    assert m.tpr_at_fpr(SMALL_LABELS, SMALL_SCORES, 0.2) == 0.5
    # Exactly one false positive (FPR = 0.25 <= 0.25): threshold 5 catches all 4 members.
    assert m.tpr_at_fpr(SMALL_LABELS, SMALL_SCORES, 0.25) == 1.0
    assert m.tpr_at_fpr(SMALL_LABELS, SMALL_SCORES, 1.0) == 1.0


def test_tpr_at_fpr_zero_is_zero_when_top_score_is_a_non_member() -> None:
    assert m.tpr_at_fpr([0, 1, 1], [5.0, 4.0, 3.0], 0.0) == 0.0


def test_tpr_at_fpr_zero_with_a_tie_across_classes() -> None:
    # The member tied with a non-member at 8 cannot be taken without that false positive.
    labels = [1, 1, 0, 0, 0]
    scores = [9.0, 8.0, 8.0, 1.0, 0.0]
    assert m.tpr_at_fpr(labels, scores, 0.0) == 0.5
    assert m.tpr_at_fpr(labels, scores, 1 / 3) == 1.0


def test_tpr_at_fpr_is_monotone_in_max_fpr() -> None:
    labels, scores = random_case(3, 500, "continuous")
    levels = np.linspace(0.0, 1.0, 101)
    values = [m.tpr_at_fpr(labels, scores, level) for level in levels]
    assert np.all(np.diff(values) >= 0)
    assert values[-1] == 1.0


def test_tpr_at_fpr_levels_keys_and_values() -> None:
    labels, scores = random_case(4, 2000, "continuous")
    result = m.tpr_at_fpr_levels(labels, scores)
    assert list(result) == ["0.01", "0.001", "0"]
    for level in m.TPR_FPR_LEVELS:
        assert result[m.fpr_key(level)] == m.tpr_at_fpr(labels, scores, level)


def test_fpr_key_format() -> None:
    assert [m.fpr_key(level) for level in m.TPR_FPR_LEVELS] == ["0.01", "0.001", "0"]
    assert m.fpr_key(0.1) == "0.1"


# ----------------------------------------------------------------------------- binary decisions


def test_threshold_metrics_hand_computed() -> None:
    labels = [1, 1, 1, 1, 0, 0, 0, 0, 0, 0]
    predicted = [1, 1, 1, 0, 1, 0, 0, 0, 0, 0]  # tp 3, fn 1, fp 1, tn 5
    result = m.threshold_metrics(labels, predicted)
    assert {key: result[key] for key in ("tp", "fp", "tn", "fn")} == {"tp": 3, "fp": 1, "tn": 5, "fn": 1}
    assert result["tpr"] == pytest.approx(0.75)
    assert result["fnr"] == pytest.approx(0.25)
    assert result["fpr"] == pytest.approx(1 / 6)
    assert result["tnr"] == pytest.approx(5 / 6)
    assert result["precision"] == pytest.approx(0.75)
    assert result["accuracy"] == pytest.approx(0.8)
    assert all(isinstance(result[key], int) for key in ("tp", "fp", "tn", "fn"))


def test_threshold_metrics_zero_denominators_are_zero_not_nan() -> None:
    result = m.threshold_metrics([0, 0, 0], [0, 0, 0])
    assert result["precision"] == 0.0 and result["tpr"] == 0.0 and result["tnr"] == 1.0
    json.dumps(result, allow_nan=False)


def test_metrics_at_threshold_uses_greater_or_equal() -> None:
    # IDIA: member if at least tau = 1 of 21 prompts is correct.
    counts = [0, 1, 3, 0, 0, 2]
    labels = [0, 1, 1, 1, 0, 0]
    result = m.metrics_at_threshold(labels, counts, 1)
    assert (result["tp"], result["fp"], result["tn"], result["fn"]) == (2, 1, 2, 1)
    assert result["threshold"] == 1.0


# ----------------------------------------------------------------------------- bootstrap


def test_bootstrap_ci_contains_estimate_and_is_deterministic() -> None:
    labels, scores = random_case(5, 400, "continuous")
    low, high = m.bootstrap_ci(labels, scores, m.roc_auc, n_boot=200, seed=7)
    assert low < m.roc_auc(labels, scores) < high
    assert (low, high) == m.bootstrap_ci(labels, scores, m.roc_auc, n_boot=200, seed=7)
    assert (low, high) != m.bootstrap_ci(labels, scores, m.roc_auc, n_boot=200, seed=8)


def test_bootstrap_ci_narrows_with_more_data() -> None:
    small = m.bootstrap_ci(*random_case(6, 100, "continuous"), m.roc_auc, n_boot=200)
    large = m.bootstrap_ci(*random_case(6, 3000, "continuous"), m.roc_auc, n_boot=200)
    assert large[1] - large[0] < (small[1] - small[0]) / 2


def test_bootstrap_resamples_keep_class_sizes() -> None:
    labels, scores = random_case(7, 50, "continuous")
    sizes = m.bootstrap_ci(labels, scores, lambda lab, _: float(lab.sum()), n_boot=20)
    assert sizes == (float(np.sum(labels)), float(np.sum(labels)))


def test_summary_intervals_equal_generic_bootstrap() -> None:
    """The vectorised bootstrap in membership_summary matches bootstrap_ci on the same resamples."""
    labels, scores = random_case(8, 300, "idia_counts")
    summary = m.membership_summary(labels, scores, n_boot=150, seed=3)
    auc_ci = m.bootstrap_ci(labels, scores, m.roc_auc, n_boot=150, seed=3)
    assert summary["auc_ci"] == pytest.approx(list(auc_ci), abs=1e-12)
    for level in m.TPR_FPR_LEVELS:
        ci = m.bootstrap_ci(labels, scores, lambda lab, sc: m.tpr_at_fpr(lab, sc, level), n_boot=150, seed=3)
        assert summary["tpr_at_fpr_ci"][m.fpr_key(level)] == pytest.approx(list(ci), abs=1e-12)


def test_roc_band_is_ordered_and_bounded() -> None:
    labels, scores = random_case(9, 1000, "continuous")
    band = m.roc_band(labels, scores, n_boot=100)
    assert band["fpr_grid"][0] == 0.0 and band["fpr_grid"][1] == pytest.approx(1e-4)
    assert band["fpr_grid"][-1] == 1.0
    for key in ("tpr_low", "tpr_median", "tpr_high"):
        assert band[key].shape == band["fpr_grid"].shape
        assert np.all((band[key] >= 0.0) & (band[key] <= 1.0))
    assert np.all(band["tpr_low"] <= band["tpr_median"])
    assert np.all(band["tpr_median"] <= band["tpr_high"])
    assert band["tpr_low"][-1] == 1.0  # every resample reaches (1, 1)


def test_roc_band_agrees_with_tpr_at_fpr_bootstrap() -> None:
    labels, scores = random_case(10, 200, "continuous")
    band = m.roc_band(labels, scores, n_boot=80, seed=2, grid=[0.05])
    ci = m.bootstrap_ci(labels, scores, lambda lab, sc: m.tpr_at_fpr(lab, sc, 0.05), n_boot=80, seed=2)
    assert (band["tpr_low"][0], band["tpr_high"][0]) == pytest.approx(ci, abs=1e-12)


# ----------------------------------------------------------------------------- aggregation & summary


def test_mean_std_uses_the_sample_std_as_the_papers_pandas_code() -> None:
    import pandas as pd

    records = [{"tpr": 1.0, "fpr": 0.0}, {"tpr": 0.5, "fpr": 0.0}, {"tpr": 0.0, "fpr": 0.3}]
    result = m.mean_std(records)
    assert list(result) == ["tpr", "fpr"]
    assert result["tpr"]["mean"] == pytest.approx(0.5)
    frame = pd.DataFrame(records)
    assert result["tpr"]["std"] == pytest.approx(frame["tpr"].std()) == pytest.approx(0.5)  # ddof = 1
    assert result["fpr"] == pytest.approx({"mean": 0.1, "std": frame["fpr"].std()})
    assert m.mean_std(records, ddof=0)["tpr"]["std"] == pytest.approx(np.std([1.0, 0.5, 0.0]))
    assert m.mean_std(records[:1]) == {"tpr": {"mean": 1.0, "std": 0.0}, "fpr": {"mean": 0.0, "std": 0.0}}


def test_mean_std_rejects_empty_and_mismatched_records() -> None:
    with pytest.raises(ValueError, match="empty"):
        m.mean_std([])
    with pytest.raises(ValueError, match="same keys"):
        m.mean_std([{"tpr": 1.0}, {"fpr": 0.0}])


def test_membership_summary_is_strict_json() -> None:
    labels, scores = random_case(11, 500, "idia_counts")
    summary = m.membership_summary(labels, scores, threshold=1, n_boot=100)
    decoded = json.loads(json.dumps(summary, allow_nan=False))
    assert decoded == summary
    assert summary["n_members"] + summary["n_nonmembers"] == 500
    assert summary["auc"] == pytest.approx(sk.roc_auc_score(labels, scores))
    assert list(summary["tpr_at_fpr"]) == ["0.01", "0.001", "0"]
    assert summary["tpr_at_fpr"] == m.tpr_at_fpr_levels(labels, scores)
    for key, (low, high) in summary["tpr_at_fpr_ci"].items():
        assert 0.0 <= low <= high <= 1.0, key
    assert summary["auc_ci"][0] <= summary["auc"] <= summary["auc_ci"][1]
    thresholds = summary["roc"]["thresholds"]
    assert thresholds[0] == max(scores) + 1.0
    assert len(thresholds) == len(summary["roc"]["fpr"]) == len(summary["roc"]["tpr"])
    assert summary["at_threshold"] == m.metrics_at_threshold(labels, scores, 1)


def test_membership_summary_first_threshold_stays_above_huge_scores() -> None:
    summary = m.membership_summary([0, 1], [1e20, 2e20], n_boot=5)
    assert summary["roc"]["thresholds"][0] > 2e20


# ----------------------------------------------------------------------------- validation


@pytest.mark.parametrize(
    ("labels", "scores", "message"),
    [
        ([0, 1, 1], [0.1, 0.2], "same length"),
        ([0, 1, 2], [0.1, 0.2, 0.3], "only 0 .* and 1"),
        ([0.0, 1.0, 0.5], [0.1, 0.2, 0.3], "only 0 .* and 1"),
        (["a", "b"], [0.1, 0.2], "numeric"),
        ([0, 1, 1], [0.1, np.nan, 0.3], "NaN"),
        ([0, 1, 1], [0.1, np.inf, 0.3], "finite"),
        ([1, 1, 1], [0.1, 0.2, 0.3], "both members .* and non-members"),
        ([0, 0], [0.1, 0.2], "both members .* and non-members"),
        ([], [], "empty"),
        ([[0, 1]], [[0.1, 0.2]], "1-D"),
    ],
)
def test_invalid_inputs_raise_clear_errors(labels: list, scores: list, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        m.roc_curve(labels, scores)
    with pytest.raises(ValueError, match=message):
        m.membership_summary(labels, scores, n_boot=5)


def test_invalid_parameters_raise() -> None:
    with pytest.raises(ValueError, match="between 0 and 1"):
        m.tpr_at_fpr(SMALL_LABELS, SMALL_SCORES, 1.5)
    with pytest.raises(ValueError, match="n_boot"):
        m.bootstrap_ci(SMALL_LABELS, SMALL_SCORES, m.roc_auc, n_boot=0)
    with pytest.raises(ValueError, match="confidence"):
        m.roc_band(SMALL_LABELS, SMALL_SCORES, confidence=1.0)
    with pytest.raises(ValueError, match="grid"):
        m.roc_band(SMALL_LABELS, SMALL_SCORES, grid=[0.5, 2.0])
    with pytest.raises(ValueError, match="threshold must be finite"):
        m.metrics_at_threshold(SMALL_LABELS, SMALL_SCORES, float("nan"))
    with pytest.raises(ValueError, match="monotonic"):
        m.auc([0.0, 1.0, 0.5], [0.0, 1.0, 1.0])


# ----------------------------------------------------------------------------- honest low-FPR figures


def test_a_level_is_resolvable_only_when_it_allows_one_false_positive() -> None:
    assert m.resolvable(0.01, 100) and not m.resolvable(0.001, 100) and m.resolvable(0.001, 1000)
    assert not m.resolvable(0.01, 99) and m.resolvable(0.0, 1) and m.resolvable(0.5, 2)
    with pytest.raises(ValueError, match="n_negatives"):
        m.resolvable(0.01, 0)


@pytest.mark.parametrize(
    ("level", "n", "label"),
    [
        (0.01, 100, "TPR at 1% FPR"),
        (0.001, 100, "TPR at FPR = 0 (N = 100: levels below 1% not resolvable)"),
        (0.001, 1000, "TPR at 0.1% FPR"),
        (0.01, 18, "TPR at FPR = 0 (N = 18: levels below 5.6% not resolvable)"),
        (0.001, 256, "TPR at FPR = 0 (N = 256: levels below 0.39% not resolvable)"),
        (0.0, 100, "TPR at 0% FPR"),
        (0.001, None, "TPR at 0.1% FPR (number of non-members unknown)"),
    ],
)
def test_fpr_level_labels(level: float, n: int | None, label: str) -> None:
    assert m.fpr_level_label(level, n) == label


def test_rows_merge_unresolvable_levels_into_the_zero_row_with_their_value() -> None:
    labels, scores = random_case(5, 300, "continuous")
    summary = m.membership_summary(labels, scores, n_boot=50)
    n = summary["n_nonmembers"]
    assert 100 <= n < 1000  # 1% resolvable, 0.1% not
    rows = m.tpr_at_fpr_rows(summary)
    assert [row["label"] for row in rows] == [
        "TPR at 1% FPR", f"TPR at FPR = 0 (N = {n}: levels below {100 / n:.2g}% not resolvable)"]
    assert rows[0]["tpr"] == summary["tpr_at_fpr"]["0.01"] and rows[0]["ci"] == summary["tpr_at_fpr_ci"]["0.01"]
    assert rows[1]["levels"] == ["0.001", "0"] and rows[1]["level"] == 0.0 and rows[1]["resolvable"] is False
    # what the merged row shows is what the data say at FPR = 0, and also at the finer level
    assert rows[1]["tpr"] == summary["tpr_at_fpr"]["0"] == summary["tpr_at_fpr"]["0.001"]
    assert rows[1]["tpr"] == m.tpr_at_fpr(labels, scores, 0.0)


def test_rows_keep_every_level_when_there_are_enough_non_members_and_say_when_n_is_unknown() -> None:
    labels = np.r_[np.ones(50, dtype=int), np.zeros(1000, dtype=int)]
    scores = np.r_[np.linspace(1, 2, 50), np.linspace(0, 1.5, 1000)]
    summary = m.membership_summary(labels, scores, n_boot=20)
    assert [row["label"] for row in m.tpr_at_fpr_rows(summary)] == ["TPR at 1% FPR", "TPR at 0.1% FPR", "TPR at 0% FPR"]
    stored_long_ago = {"tpr_at_fpr": summary["tpr_at_fpr"]}
    assert [row["label"] for row in m.tpr_at_fpr_rows(stored_long_ago)] == [
        "TPR at 1% FPR (number of non-members unknown)", "TPR at 0.1% FPR (number of non-members unknown)", "TPR at 0% FPR"]
    few = {"tpr_at_fpr": {"0.01": 0.5, "0.001": 0.5, "0": 0.5}, "n_nonmembers": 20}
    assert [row["label"] for row in m.tpr_at_fpr_rows(few)] == ["TPR at FPR = 0 (N = 20: levels below 5% not resolvable)"]
    assert m.tpr_at_fpr_rows({}) == []


def test_best_threshold_separates_and_sits_between_scores() -> None:
    labels = np.array([1, 1, 1, 0, 1, 0, 0, 0])
    scores = np.array([9.0, 8.0, 7.0, 6.0, 5.0, 4.0, 3.0, 2.0])
    best = m.best_threshold(labels, scores)
    # calling the top three members: TPR 3/4, FPR 0 -> balanced 0.875; the top five: TPR 1, FPR 1/4 -> 0.875 too;
    # ties go to the higher (more cautious) threshold, placed midway between 7 and 6
    assert best["threshold"] == 6.5 and best["tpr"] == 0.75 and best["fpr"] == 0.0
    assert best["balanced_accuracy"] == pytest.approx(0.875)
    # it is the best balanced accuracy over every threshold
    for threshold in np.r_[scores, 10.0, 1.0]:
        at = m.metrics_at_threshold(labels, scores, threshold)
        assert (at["tpr"] + at["tnr"]) / 2 <= best["balanced_accuracy"] + 1e-12
    # perfectly separated classes, unbalanced: all members found, no false positive
    labels, scores = np.r_[np.ones(3), np.zeros(30)].astype(int), np.r_[[5.0, 6.0, 7.0], np.linspace(0, 1, 30)]
    best = m.best_threshold(labels, scores)
    assert best["tpr"] == 1.0 and best["fpr"] == 0.0 and 1.0 < best["threshold"] < 5.0


# ----------------------------------------------------------------------------- clustered rows and perfect separation


def test_one_row_per_cluster_is_the_stratified_bootstrap() -> None:
    labels, scores = random_case(11, 300, "continuous")
    plain = m.membership_summary(labels, scores, n_boot=200, seed=4)
    clustered = m.membership_summary(labels, scores, n_boot=200, seed=4, clusters=np.arange(300))
    assert clustered["auc_ci"] == plain["auc_ci"] and clustered["tpr_at_fpr_ci"] == plain["tpr_at_fpr_ci"]
    assert plain["bootstrap"]["unit"] == "sample"
    assert clustered["bootstrap"] == {**plain["bootstrap"], "unit": "cluster", "n_clusters": 300}


def test_copies_of_a_person_do_not_narrow_the_cluster_interval() -> None:
    """Five rows per person that say the same thing: the row bootstrap treats them as 5x the evidence
    and narrows; resampling people gives exactly the interval of one row per person."""
    labels, scores = random_case(12, 200, "continuous")
    copies, people = np.repeat(labels, 5), np.repeat(np.arange(200), 5)
    one = m.membership_summary(labels, scores, n_boot=300, seed=1)
    rows = m.membership_summary(copies, np.repeat(scores, 5), n_boot=300, seed=1)
    by_person = m.membership_summary(copies, np.repeat(scores, 5), n_boot=300, seed=1, clusters=people)
    width = lambda ci: ci[1] - ci[0]  # noqa: E731
    assert width(rows["auc_ci"]) < 0.6 * width(one["auc_ci"])
    assert by_person["auc_ci"] == pytest.approx(one["auc_ci"], abs=1e-12)
    assert by_person["bootstrap"]["n_clusters"] == 200
    generic = m.bootstrap_ci(copies, np.repeat(scores, 5), m.roc_auc, n_boot=300, seed=1, clusters=people)
    assert list(generic) == pytest.approx(by_person["auc_ci"], abs=1e-12)
    band = m.roc_band(copies, np.repeat(scores, 5), n_boot=50, clusters=people.astype(str))
    assert (band["tpr_low"] <= band["tpr_high"]).all()


def test_clusters_holding_both_classes_keep_both_in_every_resample() -> None:
    # CLIP-MIA's lab: a member person has two member pairs and one held-out (non-member) pair
    rng = np.random.default_rng(3)
    people = np.concatenate([np.repeat(np.arange(30), 3), np.arange(30, 60)])
    labels = np.concatenate([np.tile([1, 1, 0], 30), np.zeros(30, dtype=int)])
    scores = rng.normal(size=labels.size) + labels
    seen = m.bootstrap_ci(labels, scores, lambda lab, _: float(0 < lab.sum() < lab.size), n_boot=200, clusters=people)
    assert seen == (1.0, 1.0)
    with pytest.raises(ValueError, match="same length"):
        m.membership_summary(labels, scores, clusters=people[:-1])


def test_perfect_separation_is_flagged_and_worded_instead_of_a_point_interval() -> None:
    from leakage.results import AttackResult
    from leakage.wording import metric_rows, risk_verdict

    labels = np.array([1] * 100 + [0] * 100)
    scores = np.concatenate([np.linspace(5, 6, 100), np.linspace(0, 1, 100)])
    summary = m.membership_summary(labels, scores, n_boot=100)
    assert summary["perfect_separation"] and summary["auc_ci"] == [1.0, 1.0]
    assert not m.membership_summary(*random_case(1, 100, "continuous"), n_boot=50)["perfect_separation"]
    level, headline = risk_verdict(summary)
    assert level == "leak" and "all 100 members score above all 100 non-members" in headline
    result = AttackResult(attack="idia", config={}, metrics=summary, identities=[], seeds={})
    from leakage.attacks import get_attack

    auc_row = next(row for row in metric_rows(result, attack=get_attack("idia")) if row["metric"] == "AUC")
    assert auc_row["ci"] == "all 100 members score above all 100 non-members" and "1.000 \u2013 1.000" not in auc_row["ci"]
    assert m.perfectly_separated([1, 0, 0], [0.5, 0.5, 0.1]) is False  # a tie is no separation


def test_a_clustered_rate_gets_a_person_level_interval() -> None:
    rng = np.random.default_rng(5)
    people = np.repeat(np.arange(99), 10)
    succeeds = (rng.random(99) < 0.4)[people].astype(int)  # a person's photos succeed or fail together
    succeeds[rng.random(990) < 0.05] ^= 1
    clustered = m.cluster_proportion_ci(succeeds, people, n_boot=500)
    naive = m.wilson_interval(int(succeeds.sum()), 990)
    assert clustered[0] < succeeds.mean() < clustered[1]
    assert clustered[1] - clustered[0] > 2 * (naive[1] - naive[0])  # 99 people, not 990 independent photos
    # every photo fails: the bootstrap collapses, the interval is the Wilson one over the 99 people
    assert m.cluster_proportion_ci(np.zeros(990, dtype=int), people) == pytest.approx(m.wilson_interval(0, 99))
    assert m.cluster_proportion_ci(np.ones(990, dtype=int), people)[0] == pytest.approx(m.wilson_interval(99, 99)[0])
    low, high = m.wilson_interval(0, 99)
    assert low == 0.0 and 0.03 < high < 0.04


def test_repeated_clusters_only_where_a_person_has_several_rows() -> None:
    assert m.repeated_clusters(["a", "a", "b"]) == ["a", "a", "b"]
    assert m.repeated_clusters(["a", "b"]) is None  # one row per person: the row bootstrap already
    assert m.repeated_clusters(["a", None, "a"]) is None  # unknown who a row shows


def test_a_perfectly_separated_headline_reads_as_words_not_a_point_interval() -> None:
    """The audit report's headline (`MetricSpec.show_measured`) says "all N members above all N
    non-members" where the interval is one point; an ordinary result keeps its bracketed interval."""
    from leakage.metric_specs import MEMBERSHIP_METRICS

    auc = MEMBERSHIP_METRICS[0]
    separated = m.membership_summary(np.array([1] * 100 + [0] * 100), np.concatenate([np.linspace(5, 6, 100), np.linspace(0, 1, 100)]),
                                     n_boot=50)
    assert auc.show_measured(separated) == "1.000 (all 100 members above all 100 non-members)"
    ordinary = m.membership_summary(*random_case(1, 100, "continuous"), n_boot=50)
    assert auc.show_measured(ordinary) == auc.show(ordinary["auc"], ordinary["auc_ci"]) and "[" in auc.show_measured(ordinary)
