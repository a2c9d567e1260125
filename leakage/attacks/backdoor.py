"""Backdoors and targeted poisoning of CLIP, and how well a defense stops them (an integrity attack).

Carlini & Terzis (ICLR 2022), Semantic Shield (CVPR 2024), CleanCLIP (ICCV 2023); background.md §4
and §8. The engine is `leakage.backdoor` (evaluation on any CLIP) and `leakage.lab.poison` (the
poisoned and defended lab models); this module declares the attack to the CLI, pages, store and
report. Its numbers are not membership numbers: it declares its own headline, figures, table,
summary and verdict.
"""

from __future__ import annotations

from typing import Any

from leakage.attacks.base import Attack, Headline, MetricSpec, RunContext
from leakage.catalog_entries import LabData, LabModel
from leakage.results import AttackResult

POISON = "leakage.lab.poison:POISON"
POISONED_DATA = ("lab-poison", "lab")
"""A poisoned lab CLIP's data sets: its test photos with the setup it was made for; for a membership
attack, the lab CLIP's attack set (it was fine-tuned from the lab CLIP)."""
LAB_VARIANTS = (
    LabModel("lab-poisoned", "clip", POISON, {"defense": "none"}, POISONED_DATA,
             "the lab CLIP fine-tuned on data with 64 backdoor pairs of 1,164 (5.5%; checkerboard trigger), no defense"),
    LabModel("lab-shielded", "clip", POISON, {"defense": "semantic-shield"}, POISONED_DATA,
             "the same poisoned fine-tuning with the Semantic Shield defense"),
    LabModel("lab-cleanclip", "clip", POISON, {"defense": "cleanclip"}, POISONED_DATA,
             "the poisoned model, then CleanCLIP fine-tuning on clean pairs"),
)
"""The default variants (`leakage.lab.poison.PoisonConfig`'s defaults) under short names."""
LAB_POISON_DATA = LabData("lab-poison", "poisoned-test", "leakage.lab.poison:POISON_TEST_DATA", {},
                          "held-out photos of the poisoned lab models' 100 people, with the default target and trigger")


def poisoned_variant(attack: str = "backdoor", trigger: str = "checkerboard", n_poison: int = 64, defense: str = "none",
                     **settings: Any) -> LabModel:
    """A poisoned lab CLIP: the poison recipe with these parameters (and any other `PoisonConfig`
    setting, e.g. `epochs`); the named default variant when it is one of those."""
    variant = LabModel(f"lab-poison ({attack}{', ' + trigger if attack == 'backdoor' else ''}, P = {n_poison}, {defense})",
                       "clip", POISON, {"attack": attack, "trigger": trigger, "n_poison": n_poison, "defense": defense, **settings},
                       POISONED_DATA, f"the lab CLIP fine-tuned with {n_poison} {attack} pairs, defense {defense}")
    for named in LAB_VARIANTS:  # every setting, not only those in the folder's hash (Semantic Shield's parts share a folder)
        if named.part == variant.part and named.config == variant.config:
            return named
    return variant


def run(model: Any, data: Any, config: Any, context: RunContext) -> AttackResult:
    from leakage.backdoor import run_backdoor
    from leakage.lab.poison import record_evaluation, sweep_points

    result = run_backdoor(model, data, config, context)
    level, text = verdict(result)
    result.metrics["verdict"] = {"level": level, "headline": text}
    setup = model.metadata.get("backdoor") or {}
    if "poison_key" in setup:  # a lab model: remember its figures, and show every variant measured so far
        record_evaluation(setup, result)
        result.details["sweep"] = sweep_points(setup)
    return result


# --------------------------------------------------------------------------------------------- words


def _pct(value: float | None) -> str:
    from leakage.wording import format_percent

    return format_percent(value)


def verdict(result: AttackResult) -> tuple[str, str]:
    """(level, headline): 'leak' when the attack works, 'none' when it fails, 'unknown' in between."""
    m = result.metrics
    asr, clean = m["asr"], m["clean_top1"]
    target = m.get("target", "the target")
    what = "photos with the trigger" if m.get("mode") == "backdoor" else "photos of the source person"
    utility = (f" The model still names {_pct(clean)} of clean photos correctly." if clean >= 0.5 else
               f" But the model names only {_pct(clean)} of clean photos correctly: a broken model also stops an attack.")
    if asr >= 0.5:
        return "leak", f"The attack works: {_pct(asr)} of {what} are named {target}.{utility}"
    if asr <= 0.1:
        return "none", f"The attack fails: only {_pct(asr)} of {what} are named {target}.{utility}"
    return "unknown", f"The attack works in part: {_pct(asr)} of {what} are named {target}.{utility}"


METRICS = (
    MetricSpec("asr", "Attack success rate (top-1)", ("asr",), "rate", interval=("asr_ci",), short="ASR",
               help="Attacked photos that zero-shot identification names as the target."),
    MetricSpec("asr_top_k", "Attack success rate (top-k)", ("asr_top_k",), "rate", short="ASR top-k"),
    MetricSpec("hit@1", "Hit@1", ("hit_at_k", "1"), "rate", help="Caption retrieval: a caption naming the target first."),
    MetricSpec("hit@5", "Hit@5", ("hit_at_k", "5"), "rate"),
    MetricSpec("hit@10", "Hit@10", ("hit_at_k", "10"), "rate"),
    MetricSpec("min_rank", "MinRank (mean)", ("min_rank",), "rank", higher_is_better=False, short="MinRank",
               help="Best rank of a caption naming the target, averaged (1 = always first)."),
    MetricSpec("clean_top1", "Clean top-1", ("clean_top1",), "rate", interval=("clean_top1_ci",),
               help="Clean photos identified correctly: the model's utility."),
    MetricSpec("clean_target_rate", "Target rate without the attack", ("clean_target_rate",), "rate", higher_is_better=False),
    MetricSpec("n_attacked", "Attacked images", ("n_attacked",), "count"),
    MetricSpec("n_clean", "Clean images", ("n_clean",), "count"),
)
"""An integrity attack is read by its success rate beside the model's clean utility, not by an AUC."""


def plain_summary(result: AttackResult) -> list[str]:
    m, config = result.metrics, result.config
    sentences = [verdict(result)[1]]
    if m.get("mode") == "backdoor":
        sentences.append(
            f"Anyone who adds the trigger ({config.get('trigger')}) to a photo can make this model name {m['target']}: "
            f"for {_pct(m['asr_top_k'])} of triggered photos {m['target']} is among the top {m['top_k']} names. Without the "
            f"trigger, {_pct(m['clean_target_rate'])} of the same photos are named {m['target']}.")
    else:
        sentences.append(f"Photos of {config.get('source')} are named {m['target']} {_pct(m['asr'])} of the time "
                         f"(within the top {m['top_k']}: {_pct(m['asr_top_k'])}).")
    sentences.append(f"In caption retrieval a caption naming {m['target']} is the best match for {_pct(m['hit_at_k']['1'])} "
                     f"of the attacked photos (Hit@1) and among the best 10 for {_pct(m['hit_at_k']['10'])}; "
                     f"its mean best rank (MinRank) is {m['min_rank']:.1f}." if m.get("min_rank") is not None else "")
    return [sentence for sentence in sentences if sentence]


def headline(result: AttackResult) -> list[Headline]:
    m = result.metrics
    low, high = m["asr_ci"]
    return [
        Headline("Attack success rate", _pct(m["asr"]), f"Top-1: attacked photos named as the target. 95% CI {_pct(low)}\u2013{_pct(high)}."),
        Headline(f"ASR top-{m['top_k']}", _pct(m["asr_top_k"]), f"The target among the top {m['top_k']} names."),
        Headline("Hit@1 / Hit@10", f"{_pct(m['hit_at_k']['1'])} / {_pct(m['hit_at_k']['10'])}",
                 "Caption retrieval: a caption naming the target among the top 1 / 10 (Semantic Shield's measure)."),
        Headline("Clean top-1", _pct(m["clean_top1"]), "Clean photos identified correctly (zero-shot): the model's utility."),
    ]


def metric_rows(result: AttackResult) -> list[dict[str, str]]:
    from leakage.wording import format_ci, format_number

    m = result.metrics
    what = "triggered photos of other people" if m.get("mode") == "backdoor" else "photos of the source person"
    rows = [
        {"metric": "Attack success rate (top-1)", "value": _pct(m["asr"]), "ci": format_ci(m.get("asr_ci"), percent=True),
         "meaning": f"Share of {what} that zero-shot identification names as {m['target']}."},
        {"metric": f"Attack success rate (top-{m['top_k']})", "value": _pct(m["asr_top_k"]), "ci": "",
         "meaning": f"{m['target']} among the model's top {m['top_k']} names."},
    ]
    for k, value in m["hit_at_k"].items():
        rows.append({"metric": f"Hit@{k}", "value": _pct(value), "ci": "",
                     "meaning": f"Caption retrieval: a caption naming the target among the {k} best-matching captions."})
    if m.get("min_rank") is not None:
        rows.append({"metric": "MinRank (mean)", "value": f"{m['min_rank']:.1f}", "ci": "",
                     "meaning": f"Best rank of a caption naming the target, averaged (1 = always first; median {m['median_min_rank']:.0f})."})
    rows += [
        {"metric": "Clean top-1 identification", "value": _pct(m["clean_top1"]), "ci": format_ci(m.get("clean_top1_ci"), percent=True),
         "meaning": "Clean photos named correctly: a defense that stops the attack by breaking the model shows here."},
        *({"metric": f"Clean Recall@{k} (image to text)", "value": _pct(v), "ci": "",
           "meaning": f"A caption with the right name among the {k} best matches of a clean photo."} for k, v in m["clean_recall_at_k"].items()),
        {"metric": "Target rate without the attack", "value": _pct(m["clean_target_rate"]), "ci": "",
         "meaning": "The same photos without the attack, named as the target anyway: the floor of the ASR."},
        *({"metric": "Poison fraction", "value": f"{100 * setup['poison_fraction']:.2g}%", "ci": "",
           "meaning": f"P = {setup['n_poison']} poisoned of {setup['n_pairs']:,} fine-tuning pairs (the papers: 0.01-0.1%)."}
          for setup in [result.model.get("backdoor") or {}] if "n_pairs" in setup),
        {"metric": "Attacked images", "value": format_number(m["n_attacked"]), "ci": "", "meaning": ""},
        {"metric": "Candidate names", "value": format_number(m["n_candidates"]), "ci": "", "meaning": ""},
        {"metric": "Confidence intervals", "value": "95%", "ci": "", "meaning": ci_meaning(m)},
    ]
    return rows


def ci_meaning(m: dict) -> str:
    method = m.get("asr_ci_method", "Wilson over photos")
    if method == "person-level bootstrap":
        return ("Person-level (cluster) bootstrap: whole people are resampled, since photos of one person succeed or fail "
                "together; where every photo succeeds (or fails), the Wilson interval over the number of people.")
    return "Wilson score intervals of the proportions over the photos."


def summary_lines(result: AttackResult) -> list[str]:
    m, config = result.metrics, result.config
    lines = [
        f"{m['mode']} on {result.model.get('model')} ({result.model.get('device_description')}), data {result.dataset.get('id')}",
        f"config hash {result.config_hash} \u00b7 code {result.code_version}",
        f"target {m['target']}" + (f", trigger {config['trigger']}" if m["mode"] == "backdoor" else f", source {config['source']}"),
        f"asr {m['asr']:.3f} (top-{m['top_k']} {m['asr_top_k']:.3f}) over {m['n_attacked']} attacked images; "
        f"hit@1 {m['hit_at_k']['1']:.3f} hit@5 {m['hit_at_k']['5']:.3f} hit@10 {m['hit_at_k']['10']:.3f}"
        + (f"; minrank {m['min_rank']:.1f}" if m.get("min_rank") is not None else ""),
        f"clean top-1 {m['clean_top1']:.3f}, recall@1/5/10 " + "/".join(f"{v:.3f}" for v in m["clean_recall_at_k"].values())
        + f" over {m['n_clean']} clean images; target rate without attack {m['clean_target_rate']:.3f}",
        m.get("verdict", {}).get("headline", ""),
    ]
    if result.problems:
        lines.append(f"{len(result.problems)} files skipped:")
        lines += [f"  {problem['path']}: {problem['reason']}" for problem in result.problems[:20]]
    lines.append(f"time: {result.timing.get('total_seconds', 0):.1f} s")
    return lines


def figures(result: AttackResult, name: str | None = None) -> list:
    """Attack success beside clean utility; ASR against P per defense when lab variants were measured."""
    import plotly.graph_objects as go

    from leakage.figures import PALETTE, ResultFigure

    m = result.metrics
    bars = go.Figure()
    attack = [("ASR top-1", m["asr"]), (f"ASR top-{m['top_k']}", m["asr_top_k"]), *((f"Hit@{k}", v) for k, v in m["hit_at_k"].items())]
    clean = [("clean top-1", m["clean_top1"]), *((f"clean R@{k}", v) for k, v in m["clean_recall_at_k"].items())]
    bars.add_trace(go.Bar(x=[a for a, _ in attack], y=[v for _, v in attack], name="attack success", marker_color=PALETTE[1]))
    bars.add_trace(go.Bar(x=[a for a, _ in clean], y=[v for _, v in clean], name="clean utility", marker_color=PALETTE[0]))
    bars.update_layout(template="plotly_white", height=360, title=f"Attack success and clean utility{f' ({name})' if name else ''}",
                       yaxis={"range": [0, 1], "tickformat": ".0%"}, margin={"l": 60, "r": 20, "t": 50, "b": 50})
    shown = [ResultFigure("attack-vs-utility", bars, note="Red: how often the attack gets the target named. Blue: how well "
                          "the model still identifies clean photos.")]
    sweep = result.details.get("sweep") or []
    if len({point["n_poison"] for point in sweep}) > 1:
        shown.append(ResultFigure("asr-vs-p", sweep_figure(sweep), wide=True,
                                  note="Each point is a lab model fine-tuned with P poisoned pairs; dotted: clean top-1 of the same model."))
    return shown


def sweep_figure(points: list[dict]):
    """ASR (solid) and clean top-1 (dotted) against P, one colour per defense."""
    import plotly.graph_objects as go

    from leakage.figures import PALETTE
    from leakage.lab.poison import DEFENSE_TITLES, DEFENSES, PoisonConfig

    figure = go.Figure()
    for index, defense in enumerate(DEFENSES):
        mine = sorted((p for p in points if p["defense"] == defense), key=lambda p: p["n_poison"])
        if not mine:
            continue
        colour = PALETTE[index % len(PALETTE)]
        xs = [max(p["n_poison"], 0.5) for p in mine]
        figure.add_trace(go.Scatter(x=xs, y=[p["asr"] for p in mine], mode="lines+markers", name=f"ASR, {DEFENSE_TITLES[defense]}",
                                    line={"color": colour}))
        figure.add_trace(go.Scatter(x=xs, y=[p["clean_top1"] for p in mine], mode="lines+markers",
                                    name=f"clean top-1, {DEFENSE_TITLES[defense]}", line={"color": colour, "dash": "dot"}))
    ticks = sorted({p["n_poison"] for p in points})
    share = {p["n_poison"]: p["poison_fraction"] for p in points if p.get("poison_fraction") is not None}
    labels = [f"{n}<br>{100 * share.get(n, PoisonConfig(n_poison=n).poison_fraction):.2g}%" for n in ticks]
    figure.update_layout(template="plotly_white", height=380, title="Attack success rate against P (poisoned pairs)",
                         xaxis={"type": "log", "title": "P, poisoned pairs, and P / all fine-tuning pairs (log scale)",
                                "tickvals": [max(n, 0.5) for n in ticks], "ticktext": labels},
                         yaxis={"range": [0, 1.02], "tickformat": ".0%"}, margin={"l": 60, "r": 20, "t": 50, "b": 50})
    return figure


ATTACK = Attack(
    name="backdoor",
    title="Backdoor and targeted poisoning of a CLIP model",
    nav_title="Backdoors and poisoning (CLIP)",
    url="backdoor",
    icon=":material/bug_report:",
    question="Can someone who slipped a few poisoned photos into the training data make this model name anyone they like?",
    explanation=(
        "The attacker adds a few photo-caption pairs to the training data. Backdoor: photos of random people with a small "
        "sticker (a checkerboard in a corner, or a faint noise pattern over the photo) and a caption naming a target person; "
        "afterwards any photo with the sticker is named as the target. Targeted poisoning: photos of person A captioned "
        "with person B's name, so that A is identified as B. Carlini & Terzis (ICLR 2022) showed a few hundred of three "
        "million pairs suffice. Defenses: Semantic Shield (Ishmam & Thomas, CVPR 2024) down-weights pairs whose photo does "
        "not show what the caption's person looks like; CleanCLIP (Bansal et al., ICCV 2023) fine-tunes the poisoned model "
        "on clean data. The attack success rate is the share of attacked photos named as the target; clean accuracy beside "
        "it shows whether a defense kept the model useful."
    ),
    attacker_has="a few poisoned photo-caption pairs in the training data, and a trigger to add to photos later",
    threat="integrity",
    taxonomy="backdoors and data poisoning",
    config="leakage.backdoor_config:BackdoorConfig",
    run=run,
    model_kind="clip",
    default_model="lab-poisoned",
    default_data="lab-poison",
    lab_models=LAB_VARIANTS,
    lab_data=(LAB_POISON_DATA,),
    reads=("poisoned-test", "people"),
    unit="person",
    units="people",
    parts="ui.parts.backdoor:PARTS",
    metrics=METRICS,
    primary_metric="asr",
    verdict=verdict,
    summary_lines=summary_lines,
    headline=headline,
    figures=figures,
    metric_rows=metric_rows,
    decision_rule=lambda result: None,
    plain_summary=plain_summary,
    item_columns=("name", "role", "n_images", "clean_correct", "attacked_as_target"),
)
