"""Identity inference on CLIP (IDIA): was this person in the model's training data?

Hintersdorf et al., "Does CLIP Know My Face?" (JAIR 2024); background.md §1. The engine is
`leakage.idia`; this module declares the attack to the CLI, pages, run store and report.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from leakage.attacks.membership import auc_lines, problem_lines
from leakage.attacks.base import Attack, Headline, RunContext
from leakage.attacks.membership import headline as membership_headline
from leakage.lab.shared_entries import LAB_CLIP, LAB_CLIP_DATA, LAB_CONTROL
from leakage.results import AttackResult


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--images-per-person", type=int, default=10,
                        help="attack images per person, k (default 10); people with fewer usable images are left out and listed")
    parser.add_argument("--keep-short", action="store_true",
                        help="keep people with fewer than k usable images, scored on what they have and flagged")
    parser.add_argument("--min-images", type=int, default=None,
                        help="leave out people with fewer images than this in their folder, whatever k (default: k); "
                             "runs at several k with the same value score the same people (the paper: 30)")
    parser.add_argument("--names", type=int, default=1000, help="candidate names (people under test + distractors)")
    parser.add_argument("--tau", type=int, default=1, help="member when at least tau prompts name the person")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--draws", type=int, default=20, help="repeated random draws of attack images (mean ± std)")
    parser.add_argument("--templates-file", type=Path, default=None, help="one template per line, {} for the name")
    parser.add_argument("--names-file", type=Path, default=None,
                        help="distractor names, one full name per line (UTF-8, # comments), e.g. common names of the "
                             "population under test; default: the built-in pool (leakage/names.py)")


def config_from_args(args: argparse.Namespace) -> Any:
    from leakage.idia_config import DEFAULT_TEMPLATES, IDIAConfig
    from leakage.names import load_names_file

    templates = DEFAULT_TEMPLATES
    if args.templates_file:
        templates = tuple(line.strip() for line in args.templates_file.read_text().splitlines() if line.strip())
    return IDIAConfig(images_per_person=args.images_per_person, n_candidates=args.names, templates=templates,
                      tau=args.tau, seed=args.seed, n_draws=args.draws, keep_short=args.keep_short, min_images=args.min_images,
                      distractor_names=load_names_file(args.names_file) if args.names_file else ())


def run(model: Any, data: Any, config: Any, context: RunContext) -> AttackResult:
    from leakage.idia import run_idia

    return run_idia(model, data, config, context, **context.options)


class ImageSharding:
    """A batch audit's sharded IDIA: its images are encoded on several workers (the units are their
    paths, in `collect_images` order); the run then reads their embeddings (`run_idia(image_features=...)`).

    The workers encode with the same code as a whole run (`leakage.idia.embed_images`, embedding
    cache included, whose float16 rows are what every run reads), so the result is the same."""

    unit = "images"
    units_per_call = None

    def split(self, data: Any, config: Any, context: RunContext) -> list[str]:
        from leakage.idia import collect_images

        images, _, _ = collect_images(data, config)  # lists files, reads no pixels
        return [str(image.source) for image in images]

    def work(self, model: Any, units: list[str], config: Any, context: RunContext) -> list[tuple[Any, str]]:
        from leakage.idia import AttackImage, embed_images

        try:
            features, failures, _ = embed_images(model, [AttackImage("", path, path) for path in units], context)
        except ValueError as error:  # not one image of these could be read
            return [(None, str(error))] * len(units)
        return [(None, failures[row]) if row in failures else (features[row], "") for row in range(len(units))]

    def join(self, units: list[str], outputs: list[tuple[Any, str]], data: Any, config: Any, context: RunContext) -> dict[str, Any]:
        import numpy as np

        read = [embedding for embedding, _ in outputs if embedding is not None]
        if not read:
            raise ValueError("no image could be read: " + "; ".join(reason for _, reason in outputs[:5]))
        features = np.full((len(units), max(len(embedding) for embedding in read)), np.nan, dtype=np.float32)
        failures: dict[int, str] = {}
        for index, (embedding, reason) in enumerate(outputs):
            if embedding is None:
                failures[index] = reason
            else:
                features[index] = embedding
        return {"image_features": (features, failures)}


def headline(result: AttackResult) -> list[Headline]:
    metrics = result.metrics
    people = [Headline("People", str(metrics["n_identities"])), Headline("Predicted members", str(metrics["n_predicted_members"]))]
    return membership_headline(result) + people


def decision_rule(result: AttackResult) -> str | None:
    from leakage.wording import format_number

    config = result.config
    if "tau" not in config:
        return None
    templates = config.get("templates")
    out_of = f" of the {len(templates)} prompts" if isinstance(templates, list) else " prompts"
    return f"member when at least {format_number(config['tau'])}{out_of} name the person"


def summary_lines(result: AttackResult) -> list[str]:
    metrics, config = result.metrics, result.config
    distractors = (f"{len(config['distractor_names'])} names from the names file" if config.get("distractor_names")
                   else "the built-in pool")
    lines = [
        f"IDIA on {result.model.get('model')} ({result.model.get('device_description')}), data {result.dataset.get('id')}",
        f"config hash {result.config_hash} · code {result.code_version}",
        f"{metrics['n_identities']} people, {metrics['n_images']} attack images (k = {config['images_per_person']} per person), "
        f"{metrics['n_candidates']} candidate names (distractors from {distractors}), "
        f"tau = {config['tau']} of {len(config['templates'])} prompts",
        f"predicted members: {metrics['n_predicted_members']}",
    ]
    excluded = result.details.get("excluded") or []
    if excluded:
        floor = f" or min_images = {config['min_images']} images" if config.get("min_images") else ""
        lines.append(f"{len(excluded)} people left out, fewer than k = {config['images_per_person']} usable images{floor} "
                     "(--keep-short keeps them, flagged):")
        lines += [f"  {entry['name']}: {entry['reason']}" for entry in excluded[:20]]
        if len(excluded) > 20:
            lines.append(f"  ... {len(excluded) - 20} more (see --json)")
    short = result.details.get("too_few_images") or []
    if short:
        lines.append(f"{len(short)} people scored on fewer than k images (flagged too_few_images):")
        lines += [f"  {entry['name']}: {entry['reason']}" for entry in short[:20]]
    if "auc" in metrics:
        lines += auc_lines(metrics, "members", "non-members")
        at = metrics["at_threshold"]
        lines.append(
            f"at tau: TPR {at['tpr']:.3f}  FPR {at['fpr']:.3f}  precision {at['precision']:.3f}  accuracy {at['accuracy']:.3f}"
        )
        if "draws" in metrics:
            draws = metrics["draws"]
            spread = "sample std" if draws.get("ddof") == 1 else "std"
            lines.append(
                f"over {draws['n']} draws of {draws['k']} images (mean ± {spread}): "
                f"TPR {draws['tpr']['mean']:.3f} ± {draws['tpr']['std']:.3f}, FPR {draws['fpr']['mean']:.3f} ± {draws['fpr']['std']:.3f}"
            )
    lines += problem_lines(result)
    cache = result.details.get("image_cache") or {}
    if "listed" in cache:
        lines.append(f"images: {cache['images']} of {cache['listed']} needed, {cache['from_cache']} read back from the cache, "
                     f"{cache['encoded']} encoded")
    lines.append(
        f"time: {result.timing.get('total_seconds', 0):.1f} s ({result.timing.get('images_per_second', 0):.0f} images/s)"
    )
    lines += ["", f"{'name':<28} {'member':>6} {'correct':>7} {'score':>7} {'predicted':>9}"]
    for row in sorted(result.identities, key=lambda r: -r["score"])[:10]:
        member = {True: "yes", False: "no"}.get(row.get("member"), "?")
        flag = f"  ({row['n_images']} images)" if row.get("too_few_images") else ""
        lines.append(
            f"{row['name']:<28} {member:>6} {row['correct_prompts']:>7} {row['score']:>7.2f} {str(row['predicted_member']):>9}{flag}"
        )
    if len(result.identities) > 10:
        lines.append(f"... {len(result.identities) - 10} more (see --json / --csv)")
    return lines


ATTACK = Attack(
    name="idia",
    title="Identity inference attack (IDIA) on a CLIP model",
    nav_title="Identity inference (CLIP)",
    url="identity",
    icon=":material/face:",
    question="Was this person in the training data of this CLIP model?",
    explanation=(
        "The attacker shows the model several photos of a person and asks, with a set of prompts such as "
        "\u201ca photo of {name}\u201d, which of many candidate names fits best. The candidates are the people under "
        "test plus made-up distractor names. For each prompt the name chosen most often over the photos counts; "
        "the person is called a member of the training data when enough prompts pick their real name. The score "
        "is the number of prompts that pick the real name (plus a small tie-breaker from the model's confidence). "
        "Published as the Identity Inference Attack by Hintersdorf et al., \u201cDoes CLIP Know My Face?\u201d (JAIR 2024). "
        "It needs only what any user of the model has: images in, embeddings out."
    ),
    attacker_has="a few photos and the name of a person",
    taxonomy="identity inference (training-data privacy)",
    config="leakage.idia_config:IDIAConfig",
    run=run,
    model_kind="clip",
    default_model="lab",
    default_data="lab",
    lab_models=(LAB_CLIP, LAB_CONTROL),
    lab_data=(LAB_CLIP_DATA,),
    parts="ui.parts.identity:PARTS",
    shard=ImageSharding(),
    add_arguments=add_arguments,
    config_from_args=config_from_args,
    summary_lines=summary_lines,
    headline=headline,
    decision_rule=decision_rule,
    item_columns=("name", "member", "occurrences", "correct_prompts", "score", "predicted_member", "n_images"),
)
