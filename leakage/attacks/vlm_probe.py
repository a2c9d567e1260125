"""Identity leakage probe of a vision-language model, with face anonymization.

After Caldarella et al., "The Phantom Menace" (2024); background.md §2. The engine is
`leakage.vlm`; this module declares the attack to the CLI, pages, run store and report.
"""

from __future__ import annotations

import argparse
from dataclasses import replace
from pathlib import Path
from typing import Any

from leakage.attacks.base import Attack, Headline, MetricSpec, RunContext
from leakage.attacks.membership import headline as membership_headline
from leakage.attacks.membership import problem_lines
from leakage.attacks.membership import tpr_at_fpr_rows
from leakage.catalog_entries import LabData, LabModel
from leakage.face_settings import DEFAULT_MARGIN, DEFAULT_MIN_CONFIDENCE, DETECTORS, no_face_lines
from leakage.metric_specs import MEMBERSHIP_METRICS
from leakage.results import AttackResult


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--questions", nargs="+", default=None, help="questions to ask (default: four phrasings)")
    parser.add_argument("--questions-file", type=Path, default=None, help="one question per line")
    parser.add_argument("--anonymize", default="", help="comma-separated settings, e.g. blur:8,pixelate:12,mask,blur:16@image")
    parser.add_argument("--images-per-person", type=int, default=4)
    parser.add_argument("--candidates", type=int, default=100, help="names in each closed set (0 = no closed set)")
    from leakage.vlm_calibration import DEFAULT_SCORE_KIND, SCORE_KINDS

    parser.add_argument("--closed-set-questions", type=int, default=0,
                        help="how many of the questions the closed set uses (0 = all, default; scores are averaged over them)")
    parser.add_argument("--closed-set-all", action="store_true", help="closed-set scores under every setting, not only the original")
    parser.add_argument("--controls", action="store_true",
                        help="also score the controls: the whole image masked and mismatched photos (a score that measures the photo "
                             "falls to chance on both; about 3x the closed-set time)")
    parser.add_argument("--answer-template", default="{}", help="the answer scored in the closed set, {} = the name")
    parser.add_argument("--closed-set-score", choices=SCORE_KINDS, default=DEFAULT_SCORE_KIND,
                        help=f"headline closed-set score (default {DEFAULT_SCORE_KIND}, chosen by the controls; all are computed): "
                             "identity_z, posterior_gain (what the photo reveals), raw, per_token, blind (name familiarity, no photo "
                             "needed), calibrated (grey-image PMI, a diagnostic)")
    parser.add_argument("--max-new-tokens", type=int, default=16)
    parser.add_argument("--face-detector", choices=DETECTORS, default="mtcnn", help="finds faces in images without boxes in faces.csv")
    parser.add_argument("--face-min-confidence", type=float, default=DEFAULT_MIN_CONFIDENCE, help="faces the detector is less sure of are left out")
    parser.add_argument("--face-margin", type=float, default=DEFAULT_MARGIN,
                        help="detected boxes grow by this fraction of their size on each side (hair, ears, chin)")
    parser.add_argument("--largest-face-only", action="store_true", help="anonymize only the largest face of each photo")
    parser.add_argument("--seed", type=int, default=0)


def config_from_args(args: argparse.Namespace) -> Any:
    from leakage.anonymize import parse_settings
    from leakage.vlm_config import DEFAULT_QUESTIONS, VLMProbeConfig

    questions = tuple(args.questions) if args.questions else DEFAULT_QUESTIONS
    if args.questions_file:
        questions = tuple(line.strip() for line in args.questions_file.read_text().splitlines() if line.strip())
    settings = parse_settings(args.anonymize)
    config = VLMProbeConfig(
        questions=questions,
        anonymizations=tuple(setting.label for setting in settings),
        images_per_person=args.images_per_person,
        max_new_tokens=args.max_new_tokens,
        closed_set=args.candidates > 0,
        n_candidates=max(2, args.candidates),
        closed_set_questions=args.closed_set_questions,
        closed_set_all_settings=args.closed_set_all,
        controls=args.controls,
        answer_template=args.answer_template,
        closed_set_score=args.closed_set_score,
        face_detector=args.face_detector,
        face_min_confidence=args.face_min_confidence,
        face_margin=args.face_margin,
        face_largest_only=args.largest_face_only,
        seed=args.seed,
    )
    return config


def run(model: Any, data: Any, config: Any, context: RunContext) -> AttackResult:
    from leakage.vlm import run_vlm_probe

    return run_vlm_probe(model, data, config, context, **context.options)


class PhotoSharding:
    """A batch audit's sharded VLM probe: the photos are asked about on several workers, each
    photo's open questions and closed-set scores on one (the plan of what is asked, drawn once in
    the driver: `leakage.vlm.probe_shards`); the run then reads the answers (`run_vlm_probe(precomputed=...)`)."""

    unit = "photos"
    units_per_call = 1

    def split(self, data: Any, config: Any, context: RunContext) -> list[dict]:
        from leakage.vlm import probe_shards

        return probe_shards(data, config, context)

    def work(self, model: Any, units: list[dict], config: Any, context: RunContext) -> list[dict]:
        from leakage.vlm import probe_shard

        return probe_shard(model, units, config, context)

    def join(self, units: list[dict], outputs: list[dict], data: Any, config: Any, context: RunContext) -> dict[str, Any]:
        from leakage.vlm import join_probe_shards

        return {"precomputed": join_probe_shards(units, outputs)}


def headline(result: AttackResult) -> list[Headline]:
    from leakage.vlm_calibration import GROUP_FAMILIARITY, SCORE_DESCRIPTIONS, SCORE_LABELS

    rates = result.metrics.get("leak_rates", {}).get("none") or next(iter(result.metrics.get("leak_rates", {}).values()), {})
    shown = []
    for key, label in (("members", "Members named"), ("nonmembers", "Non-members named")):
        if rates.get(key) is not None:
            surname = rates.get(f"{key}_surname_only")
            extra = f" Full name {100 * rates[f'{key}_full_name']:.1f}%, surname only {100 * surname:.1f}%." if surname is not None else ""
            shown.append(Headline(label, f"{100 * rates[key]:.1f}%", "Share of answers that name the person (original images)." + extra))
    closed = membership_headline(result)
    kind = result.metrics.get("closed_set_score")
    if closed and kind:
        closed[0] = Headline(f"AUC ({SCORE_LABELS.get(kind, kind)})", closed[0].value,
                             f"{closed[0].help} What the photo reveals: {SCORE_DESCRIPTIONS.get(kind, kind)}.")
        raw = result.metrics.get("raw")
        if kind != "raw" and raw and "auc" in raw:
            closed.append(Headline(f"AUC, raw: {GROUP_FAMILIARITY}", f"{raw['auc']:.3f}",
                                   "The name's raw log-likelihood: whether the language model knows the name at all. It stays high "
                                   "with the whole image masked, so it does not measure what the photo shows."))
    return shown + closed


def _rate(value) -> str:
    return "   -  " if value is None else f"{value:6.3f}"


def summary_lines(result: AttackResult) -> list[str]:
    from leakage.vlm_views import score_table

    metrics = result.metrics
    lines = [
        f"VLM probe of {result.model.get('model')} ({result.model.get('device_description')}), data {result.dataset.get('id')}",
        f"config hash {result.config_hash} · code {result.code_version}",
        f"{metrics['n_identities']} people, {metrics['n_images']} images, {metrics['n_questions']} questions, {metrics['n_answers']} answers",
        "",
        f"{'setting':<22} {'members':>8} {'non-mem.':>8} {'all':>8}   members: full name / surname only   "
        "(leak rate: share of answers naming the person)",
    ]
    for label, entry in metrics["leak_rates"].items():
        missing = f"  no face found in {entry['faces_missing']} images (left out)" if entry.get("faces_missing") else ""
        split = (f"   {_rate(entry.get('members_full_name'))} / {_rate(entry.get('members_surname_only'))}"
                 if entry.get("members_full_name") is not None else "")
        lines.append(f"{label:<22} {_rate(entry.get('members')):>8} {_rate(entry.get('nonmembers')):>8} {_rate(entry.get('all')):>8}{split}{missing}")
    if "auc" in metrics:
        low, high = metrics["auc_ci"]
        kind = metrics.get("closed_set_score", "raw")
        lines += ["", f"closed set ({result.config['n_candidates']} names, {metrics.get('n_closed_set_questions', 1)} questions averaged), "
                      f"headline {kind}: AUC {metrics['auc']:.3f} (95% CI {low:.3f}-{high:.3f})"]
        lines += [f"{row['label']}: {row['tpr']:.3f}" for row in tpr_at_fpr_rows(metrics)]
        table = score_table(result)
        lines += ["", table.to_string(index=False)]
        reference = metrics.get("identity_reference")
        if reference:
            lines.append(f"identity z-score reference: {reference['source']} (fewest photos of others per name in the run: "
                         f"{reference['fewest_photos_in_run']})")
    for label, entry in metrics.get("closed_set_by_setting", {}).items():
        lines.append(f"  under {label}: AUC {entry['auc']:.3f}")
    lines += no_face_lines(result.details.get("faces"))
    lines += problem_lines(result)
    lines.append(f"time: {result.timing.get('total_seconds', 0):.1f} s ({result.timing.get('answers_per_second', 0):.1f} answers/s)")
    return lines


def _score_auc(kind: str, label: str, short: str, help: str) -> MetricSpec:
    return MetricSpec(f"auc_{kind}", label, ("by_score", kind, "auc"), "score", interval=("by_score", kind, "auc_ci"), short=short,
                      chance=0.5, help=help)


VLM_METRICS: tuple[MetricSpec, ...] = (
    # The headline: what the photo reveals (chosen by the controls, bench/vlm_controls.py; README "VLM scores").
    _score_auc("identity_z", "AUC, identity z-score (what the photo reveals)", "AUC (z-score)",
               "How much more the photo raises the person's name than other people's photos do (an offline LiRA); "
               "falls to chance with the whole image masked and on mismatched photos. 0.5 is guessing."),
    _score_auc("posterior_gain", "AUC, posterior gain Δq (what the photo reveals)", "AUC (Δq)",
               "The name's share among the candidates under the photo minus under a blank grey image."),
    _score_auc("raw", "AUC, raw log-likelihood: name familiarity (no photo needed)", "AUC (raw)",
               "Whether the language model knows the name at all; stays high with the whole image masked."),
    _score_auc("blind", "AUC, blind baseline: the name under a grey image only", "AUC (blind)",
               "The name's likelihood with no photo: what a score can get without looking at the person."),
    MetricSpec("members_named", "Members named (original photos)", ("leak_rates", "none", "members"), "rate", short="Members named",
               help="Share of the answers about members' original photos that name them."),
    MetricSpec("nonmembers_named", "Non-members named (original photos)", ("leak_rates", "none", "nonmembers"), "rate",
               higher_is_better=False, short="Non-members named"),
    *(replace(spec, label="AUC, the run's headline score (--closed-set-score)", short="AUC (headline)") if spec.key == "auc" else spec
      for spec in MEMBERSHIP_METRICS),
)
"""The runs list, the comparison and the report lead with the identity z-score's AUC whatever score a
run chose as its headline (`metrics["auc"]`, kept as "auc"); raw and blind are labelled name familiarity."""


LAB_VLM_RECIPE = "leakage.lab.vlm:LAB_VLM"
LAB_VLM = LabModel("lab-vlm", "image-text-to-text", LAB_VLM_RECIPE, {}, "lab-vlm",
                   "the lab VLM (LLaVA), which learned the members' names from text only")
LAB_VLM_DATA = LabData("lab-vlm", "people", LAB_VLM_RECIPE, {"part": "attack"},
                       "the lab VLM's held-out photos of its members and non-members")
LAB_VLM_BPE = LabModel("lab-vlm-bpe", "image-text-to-text", LAB_VLM_RECIPE, {"variant": "bpe"}, "lab-vlm-bpe",
                       "the lab VLM's recipe with a subword (BPE) tokenizer, as real VLMs have (names take 3 to 10 tokens; 50 members)")
LAB_VLM_BPE_DATA = LabData("lab-vlm-bpe", "people", LAB_VLM_RECIPE, {"variant": "bpe", "part": "attack"},
                           "the BPE lab VLM's held-out photos of its members and non-members")


ATTACK = Attack(
    name="vlm",
    aliases=("vlm-probe",),
    title="Identity leakage probe of a vision-language model",
    nav_title="VLM identity probe",
    icon=":material/chat:",
    question="Does this vision-language model recognise and name this person?",
    explanation=(
        "The attacker shows the model a photo of a person and asks questions such as \u201cWho is this person?\u201d. "
        "An answer that names the person counts as leakage; in the closed-set version the candidate names are "
        "ranked by how likely the model is to answer with each, which gives a score per person and a ROC curve. "
        "Faces can be blurred, pixelated or masked to test whether anonymisation stops the leak "
        "(after Caldarella et al., \u201cThe Phantom Menace\u201d, 2024)."
    ),
    attacker_has="a photo of a person and the ability to ask the model questions",
    taxonomy="identity inference (training-data privacy)",
    config="leakage.vlm_config:VLMProbeConfig",
    run=run,
    model_kind="image-text-to-text",
    default_model="lab-vlm",
    default_data="lab-vlm",
    lab_models=(LAB_VLM, LAB_VLM_BPE),
    lab_data=(LAB_VLM_DATA, LAB_VLM_BPE_DATA),
    metrics=VLM_METRICS,
    primary_metric="auc_identity_z",
    parts="ui.parts.vlm:PARTS",
    shard=PhotoSharding(),
    add_arguments=add_arguments,
    config_from_args=config_from_args,
    summary_lines=summary_lines,
    headline=headline,
    item_columns=("name", "member", "score", "leak_rate", "predicted_member"),
)
