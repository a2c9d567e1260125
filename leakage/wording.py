"""What a result means, in words for people who are not researchers: the risk verdict, a plain
summary, the decision rule and the table of numbers with what each one means. No Streamlit.

Below the attack registry: the caller passes the attack's declaration (`Attack`), whose title,
units and declared parts the words use; nothing here looks an attack up by name."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from leakage.metrics import tpr_at_fpr_rows
from leakage.results import AttackResult

if TYPE_CHECKING:  # annotations only: attack modules import this one
    from leakage.attacks.base import Attack


def decision_rule(result: AttackResult, attack: Attack) -> str | None:
    """The attack's own member / non-member rule, in words (as the attack declares it)."""
    return attack.call("decision_rule", result)


# --------------------------------------------------------------------------- formatting


def format_number(value: Any, digits: int = 3) -> str:
    if isinstance(value, bool) or value is None:
        return "\u2014" if value is None else str(value)
    if isinstance(value, int) or (isinstance(value, float) and value.is_integer() and abs(value) < 1e9):
        return f"{int(value):,}"
    if isinstance(value, float):
        return f"{value:.{digits}f}"
    return str(value)


def format_percent(value: float | None, digits: int = 1) -> str:
    if value is None:
        return "\u2014"
    text = f"{100 * value:.{digits}f}".rstrip("0").rstrip(".") if value not in (0, 1) else f"{100 * value:.0f}"
    return f"{text}%"


def format_ci(ci: Sequence[float] | None, percent: bool) -> str:
    if not ci or len(ci) != 2:
        return ""
    low, high = ci
    return f"{format_percent(low)} \u2013 {format_percent(high)}" if percent else f"{low:.3f} \u2013 {high:.3f}"


def confidence_label(metrics: Mapping[str, Any]) -> str:
    level = (metrics.get("bootstrap") or {}).get("confidence", 0.95)
    return f"{100 * level:g}%"


def separation_text(metrics: Mapping[str, Any], members: str = "members", nonmembers: str = "non-members") -> str | None:
    """"all N members score above all M non-members" where that is so (`metrics["perfect_separation"]`), else None.

    There every bootstrap resample is separated too and the interval is the point 1.000-1.000: it would read as
    certainty from a few hundred people, so the views say what the data show instead."""
    if not metrics.get("perfect_separation"):
        return None
    return f"all {format_number(metrics.get('n_members'))} {members} score above all {format_number(metrics.get('n_nonmembers'))} {nonmembers}"


def bootstrap_label(metrics: Mapping[str, Any]) -> str:
    """"95% bootstrap CI" or, where rows were clustered by person, "95% person-level bootstrap CI"."""
    boot = metrics.get("bootstrap") or {}
    return f"{confidence_label(metrics)}{' person-level' if boot.get('unit') == 'cluster' else ''} bootstrap CI"


def auc_interval_text(metrics: Mapping[str, Any], members: str = "members", nonmembers: str = "non-members") -> str:
    """The AUC's interval in words: "95% bootstrap CI 0.781-0.862", or the separation statement."""
    separated = separation_text(metrics, members, nonmembers)
    if separated:
        return f"{separated}: no interval, as every resample of these data is separated too"
    low, high = metrics.get("auc_ci") or (metrics["auc"], metrics["auc"])
    return f"{bootstrap_label(metrics)} {low:.3f}\u2013{high:.3f}"


# --------------------------------------------------------------------------- what the numbers say


def risk_verdict(metrics: Mapping[str, Any]) -> tuple[str, str]:
    """(level, headline) from the AUC and its interval: 'leak', 'none', 'below' or 'unknown'.

    An attack that measures something else than membership (e.g. a backdoor's success rate) states
    its own verdict in its metrics, `{"verdict": {"level": ..., "headline": ...}}`; that one is used.
    """
    own = metrics.get("verdict")
    if isinstance(own, Mapping) and "level" in own and "headline" in own:
        return str(own["level"]), str(own["headline"])
    if "auc" not in metrics:
        return "unknown", "No ground truth: who really was in the training data is not known, so leakage cannot be measured."
    auc, (low, high) = metrics["auc"], metrics.get("auc_ci") or (metrics["auc"], metrics["auc"])
    conf = confidence_label(metrics)
    separated = separation_text(metrics)
    if separated:
        return "leak", (
            f"Leakage detected: {separated} (AUC 1 on these data; a bootstrap interval would be the point 1.00\u20131.00 "
            "and say nothing about people outside them)."
        )
    if low > 0.5:
        return "leak", (
            f"Leakage detected: the attack tells members from non-members better than chance "
            f"(AUC {auc:.2f}, {conf} CI {low:.2f}\u2013{high:.2f}; 0.5 is guessing)."
        )
    if high < 0.5:
        return "below", (
            f"The attack does worse than guessing here (AUC {auc:.2f}, {conf} CI {low:.2f}\u2013{high:.2f}): "
            "no evidence of leakage, but check the setup, e.g. whether members and non-members are labelled the right way round."
        )
    return "none", (
        f"No leakage measurable with these data: the attack cannot be told apart from guessing "
        f"(AUC {auc:.2f}, {conf} CI {low:.2f}\u2013{high:.2f} includes 0.5). "
        "This does not prove the model is private: a stronger attack or more people could still find a leak."
    )


def plain_summary(result: AttackResult, attack: Attack) -> list[str]:
    """The risk in a few plain sentences, most important first (no markup); the first is the verdict."""
    metrics, info = result.metrics, attack
    if info.plain_summary is not None:
        return info.call("plain_summary", result)
    rule = decision_rule(result, info)
    if "auc" not in metrics:
        return _summary_without_truth(result, info, rule)
    sentences = [info.call("verdict", result)[1]]
    n_pos, n_neg = int(metrics.get("n_members", 0)), int(metrics.get("n_nonmembers", 0))
    conf = confidence_label(metrics)
    at = metrics.get("at_threshold")
    if at:
        members, nonmembers = at["tp"] + at["fn"], at["fp"] + at["tn"]
        sentences.append(
            f"An attacker who has {info.attacker_has} can tell whether that {info.unit} was in the model's training data "
            f"for {at['tp']} of {members} members ({format_percent(at['tpr'])}) while wrongly accusing {at['fp']} of "
            f"{nonmembers} non-members ({format_percent(at['fpr'])})" + (f", with the attack's own rule ({rule})." if rule else ".")
        )
    tpr = metrics.get("tpr_at_fpr") or {}
    tpr_ci = metrics.get("tpr_at_fpr_ci") or {}
    if "0.01" in tpr:
        value = tpr["0.01"]
        ci = format_ci(tpr_ci.get("0.01"), percent=True)
        if value > 0:
            sentences.append(
                f"If the attacker only accepts wrongly accusing at most 1 in 100 non-members, they still find "
                f"{format_percent(value)} of members ({conf} CI {ci}), {value / 0.01:.0f} times what guessing finds at that error rate."
            )
        else:
            sentences.append("If the attacker may wrongly accuse at most 1 in 100 non-members, the attack finds no members in these data.")
    if tpr.get("0", 0) > 0:
        found = round(tpr["0"] * n_pos)
        sentences.append(
            f"{found} of {n_pos} members ({format_percent(tpr['0'])}) scored higher than every non-member: the attack singles "
            f"them out without any false accusation in these data."
        )
    if 0 < n_neg < 100:
        sentences.append(
            f"Caution: with only {n_neg} non-members, one wrong accusation is already {format_percent(1 / n_neg)}, so error rates "
            "of 1% and below cannot be measured finely; more non-members would sharpen the low-error numbers."
        )
    return sentences


def _summary_without_truth(result: AttackResult, info, rule: str | None) -> list[str]:
    rows = result.identities
    flagged = [row for row in rows if row.get("predicted_member")]
    how = f" ({rule})" if rule else ""
    if len(rows) == 1:
        row = rows[0]
        verdict = "was" if row.get("predicted_member") else "was not found to be"
        return [
            f"The attack says {row.get('name', 'this ' + info.unit)} {verdict} in the model's training data{how}; "
            f"score {format_number(row.get('score'))}.",
            "A single check has no error rate of its own: the error rates measured on people whose membership is "
            "known, with the same model and settings, tell how far to trust it.",
        ]
    return [
        f"The attack flagged {len(flagged)} of {len(rows)} {info.units} as members of the training data{how}.",
        "Who really was in the training data is not known for these data, so error rates cannot be measured: "
        "treat every \u201cmember\u201d as a claim to check, with the error rates measured where the truth is known.",
    ]


def metric_rows(result: AttackResult, *, attack: Attack) -> list[dict[str, str]]:
    """The numbers table: metric, value, confidence interval and what it means."""
    metrics = result.metrics
    conf = confidence_label(metrics)
    n_neg = int(metrics.get("n_nonmembers", 0))
    rows: list[dict[str, str]] = []
    if "auc" in metrics:
        separated = separation_text(metrics)
        rows.append({
            "metric": "AUC",
            "value": f"{metrics['auc']:.3f}",
            "ci": separated or format_ci(metrics.get("auc_ci"), percent=False),
            "meaning": "Chance that the attack scores a random member above a random non-member; 0.5 is guessing, "
                       "1 is perfect. An average over all thresholds: it can look modest while a few people are "
                       "exposed with near certainty, which the rows below show."
                       + (" Here the separation is perfect, so a bootstrap interval would be the point 1.000\u20131.000: "
                          "it says nothing about people outside these data, only that they held no overlap." if separated else ""),
        })
    allowed = {"0.01": ("1 in 100", "1%"), "0.001": ("1 in 1,000", "0.1%")}
    for row in tpr_at_fpr_rows(metrics):
        if row["level"] > 0:
            share, guessing = allowed.get(row["levels"][0], (format_percent(row["level"]), format_percent(row["level"])))
            meaning = f"Members found when at most {share} non-members may be wrongly accused; guessing finds {guessing}."
        else:
            meaning = "Members scored above every non-member: found without a single false accusation in these data."
            if len(row["levels"]) > 1:
                meaning += (f" With only {n_neg} non-members, finer error rates ("
                            + ", ".join(format_percent(float(key)) for key in row["levels"] if float(key) > 0)
                            + ") cannot be measured: they are this same point.")
        rows.append({"metric": row["label"], "value": format_percent(row["tpr"]), "ci": format_ci(row["ci"], percent=True),
                     "meaning": meaning})
    at = metrics.get("at_threshold")
    if at:
        rule = decision_rule(result, attack) or "the attack's threshold"
        rows += [
            {"metric": "TPR at the decision rule", "value": format_percent(at["tpr"]), "ci": "",
             "meaning": f"Members flagged ({at['tp']} of {at['tp'] + at['fn']}) with {rule}."},
            {"metric": "FPR at the decision rule", "value": format_percent(at["fpr"]), "ci": "",
             "meaning": f"Non-members wrongly flagged ({at['fp']} of {at['fp'] + at['tn']})."},
            {"metric": "Precision at the decision rule", "value": format_percent(at["precision"]), "ci": "",
             "meaning": "Of everyone flagged, the share who really were members."},
            {"metric": "Accuracy at the decision rule", "value": format_percent(at["accuracy"]), "ci": "",
             "meaning": "Share of all decisions that were right; depends on how many members were tested."},
        ]
    draws = metrics.get("draws")
    if draws and "tpr" in draws and "fpr" in draws:
        for key, name in (("tpr", "TPR"), ("fpr", "FPR")):
            rows.append({
                "metric": f"{name} over {draws.get('n')} draws",
                "value": f"{format_percent(draws[key]['mean'])} \u00b1 {format_percent(draws[key]['std'])}",
                "ci": "",
                "meaning": f"Mean \u00b1 {'sample ' if draws.get('ddof') == 1 else ''}standard deviation over {draws.get('n')} random draws of {draws.get('k')} attack "
                           f"images per {attack.unit}, as the published protocol reports it.",
            })
    for key, name in (("n_members", "members tested"), ("n_nonmembers", "non-members tested"), ("n_identities", attack.units)):
        if key in metrics:
            rows.append({"metric": name.capitalize(), "value": format_number(metrics[key]), "ci": "", "meaning": ""})
    if rows and any(row["ci"] for row in rows):
        boot = metrics.get("bootstrap") or {}
        how = (f"Person-level (cluster) bootstrap: whole people resampled ({format_number(boot.get('n_clusters'))} people), "
               "since rows of one person are not independent" if boot.get("unit") == "cluster"
               else "Stratified bootstrap: members and non-members resampled separately")
        rows.append({"metric": "Confidence intervals", "value": conf, "ci": "",
                     "meaning": f"{how} ({boot.get('n_boot', '?')} resamples). The true value lies in "
                                "the interval in about this share of repetitions."})
    return rows
