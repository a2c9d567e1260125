"""`python -m leakage idia`: the identity inference attack on a CLIP model."""

from __future__ import annotations

import argparse
from pathlib import Path

from leakage.commands._output import add_output_arguments, emit_result
from leakage.progress import StageBars


def register(subparsers) -> None:
    idia = subparsers.add_parser("idia", help="identity inference attack on a CLIP model")
    idia.add_argument("--model", required=True, help="lab | lab-control | open_clip name | local-dir:PATH | hf-hub:ID")
    idia.add_argument("--pretrained", default=None, help="pretrained tag or local checkpoint file")
    idia.add_argument("--data", required=True, help="lab | a folder with one subfolder of images per person")
    idia.add_argument("--images-per-person", type=int, default=10,
                      help="attack images per person, k (default 10); people with fewer usable images are left out and listed")
    idia.add_argument("--keep-short", action="store_true",
                      help="keep people with fewer than k usable images, scored on what they have and flagged")
    idia.add_argument("--names", type=int, default=1000, help="candidate names (people under test + distractors)")
    idia.add_argument("--tau", type=int, default=1, help="member when at least tau prompts name the person")
    idia.add_argument("--seed", type=int, default=0)
    idia.add_argument("--draws", type=int, default=20, help="repeated random draws of attack images (mean ± sample std)")
    idia.add_argument("--templates-file", type=Path, default=None, help="one template per line, {} for the name")
    idia.add_argument("--names-file", type=Path, default=None,
                      help="distractor names, one full name per line (UTF-8, # comments), e.g. common names of the "
                           "population under test; default: the built-in pool (leakage/names.py)")
    idia.add_argument("--device", default=None, help="auto (default), cuda, mps or cpu")
    idia.add_argument("--batch-size", type=int, default=64)
    idia.add_argument("--workers", type=int, default=2)
    add_output_arguments(idia)
    idia.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from leakage.idia import DEFAULT_TEMPLATES, IDIAConfig, RuntimeOptions, run_idia
    from leakage.names import load_names_file
    from leakage.sources import resolve_data, resolve_model

    templates = DEFAULT_TEMPLATES
    if args.templates_file:
        templates = tuple(line.strip() for line in args.templates_file.read_text().splitlines() if line.strip())
    config = IDIAConfig(
        images_per_person=args.images_per_person,
        n_candidates=args.names,
        templates=templates,
        tau=args.tau,
        seed=args.seed,
        n_draws=args.draws,
        keep_short=args.keep_short,
        distractor_names=load_names_file(args.names_file) if args.names_file else (),
    )
    clip = resolve_model(args.model, args.pretrained, args.device)
    dataset, dataset_id = resolve_data(args.data)
    bars = StageBars(enabled=not args.quiet)
    result = run_idia(
        clip,
        dataset,
        config,
        runtime=RuntimeOptions(batch_size=args.batch_size, num_workers=args.workers),
        dataset_id=dataset_id,
        progress=bars,
    )
    bars.close()
    print(format_summary(result))
    emit_result(result, args)
    return 0


def format_summary(result) -> str:
    from leakage.metrics import tpr_at_fpr_rows

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
        lines.append(f"{len(excluded)} people left out, fewer than k = {config['images_per_person']} usable images "
                     "(--keep-short keeps them, flagged):")
        lines += [f"  {entry['name']}: {entry['reason']}" for entry in excluded[:20]]
        if len(excluded) > 20:
            lines.append(f"  ... {len(excluded) - 20} more (see --json)")
    short = result.details.get("too_few_images") or []
    if short:
        lines.append(f"{len(short)} people scored on fewer than k images (flagged too_few_images):")
        lines += [f"  {entry['name']}: {entry['reason']}" for entry in short[:20]]
    if "auc" in metrics:
        low, high = metrics["auc_ci"]
        lines.append(f"AUC {metrics['auc']:.3f} (95% CI {low:.3f}-{high:.3f}), {metrics.get('n_members', '?')} members and "
                     f"{metrics.get('n_nonmembers', '?')} non-members")
        for row in tpr_at_fpr_rows(metrics):
            ci = f" (95% CI {row['ci'][0]:.3f}-{row['ci'][1]:.3f})" if row["ci"] else ""
            lines.append(f"{row['label']}: {row['tpr']:.3f}{ci}")
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
    if result.problems:
        lines.append(f"{len(result.problems)} files skipped:")
        lines += [f"  {problem['path']}: {problem['reason']}" for problem in result.problems[:20]]
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
    return "\n".join(lines)
