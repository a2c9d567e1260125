"""`python -m leakage mim`: membership inference against a masked image model (ViT-MAE)."""

from __future__ import annotations

import argparse

from leakage.commands._output import add_output_arguments, emit_result
from leakage.progress import StageBars


def fraction(text: str) -> float:
    value = float(text)
    if not 0.0 < value < 1.0:
        raise argparse.ArgumentTypeError(f"expected a fraction strictly between 0 and 1, got {text}")
    return value


def register(subparsers) -> None:
    mim = subparsers.add_parser("mim", help="membership inference against a masked image model (ViT-MAE)")
    mim.add_argument("--model", required=True, help="lab-mae | lab-mae-reference | a save_pretrained folder | a hub id (facebook/vit-mae-base)")
    mim.add_argument("--data", required=True, help="lab-mae | a folder with one subfolder of images per person (members.csv for ground truth)")
    mim.add_argument("--reference", default=None, help="reference (shadow) model trained without the target images: score = its error - the target's")
    mim.add_argument("--mask-ratio", type=fraction, default=0.75, help="fraction of patches hidden per mask (default 0.75)")
    mim.add_argument("--masks", type=int, default=8, help="random masks per image; errors are averaged (default 8)")
    mim.add_argument("--seed", type=int, default=0, help="seeds the masks")
    mim.add_argument("--device", default=None, help="auto (default), cuda, mps or cpu")
    mim.add_argument("--batch-size", type=int, default=16, help="images per forward pass (each with all its masks)")
    mim.add_argument("--workers", type=int, default=2)
    add_output_arguments(mim, rows="per-image rows")
    mim.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from transformers.utils import logging as transformers_logging

    from leakage.mim import MIMConfig, RuntimeOptions, resolve_data, resolve_model, run_mim

    transformers_logging.disable_progress_bar()  # its per-file bars would interleave with ours
    config = MIMConfig(mask_ratio=args.mask_ratio, n_masks=args.masks, seed=args.seed)
    bars = StageBars(enabled=not args.quiet)
    target = resolve_model(args.model, args.device, progress=bars)
    reference = resolve_model(args.reference, args.device, progress=bars) if args.reference else None
    dataset, dataset_id = resolve_data(args.data, progress=bars)
    result = run_mim(
        target,
        dataset,
        config,
        reference=reference,
        runtime=RuntimeOptions(batch_size=args.batch_size, num_workers=args.workers),
        dataset_id=dataset_id,
        progress=bars,
    )
    bars.close()
    print(format_summary(result))
    emit_result(result, args, rows="per-image rows")
    return 0


def format_summary(result) -> str:
    metrics, config = result.metrics, result.config
    reference = f", reference {config['reference_model']}" if config.get("reference_model") else ""
    lines = [
        f"MIM on {config['model']}{reference} ({result.model.get('device_description')}), data {result.dataset.get('id')}",
        f"config hash {result.config_hash} · code {result.code_version}",
        f"{metrics['n_images']} images of {metrics['n_people']} people, {config['n_masks']} masks per image at mask ratio "
        f"{config['mask_ratio']:.2f}; score = {config['score']}",
    ]
    for warning in [*result.model.get("warnings", []), *(result.details.get("models", {}).get("reference", {}).get("warnings", []))]:
        lines.append(f"warning: {warning}")
    if "mean_error_members" in metrics and "mean_error_nonmembers" in metrics:
        lines.append(f"mean reconstruction error: members {metrics['mean_error_members']:.4f}, "
                     f"non-members {metrics['mean_error_nonmembers']:.4f}")
    if "auc" in metrics:
        low, high = metrics["auc_ci"]
        lines.append(f"AUC {metrics['auc']:.3f} (95% CI {low:.3f}-{high:.3f}), {metrics['n_members']} member and "
                     f"{metrics['n_nonmembers']} non-member images")
        for key, label in (("0.01", "1%"), ("0.001", "0.1%"), ("0", "0%")):
            lines.append(f"TPR at {label:>4} FPR: {metrics['tpr_at_fpr'][key]:.3f}")
    else:
        lines.append("no ground truth with both members and non-members: scores only (lower error = more likely a member)")
    if result.problems:
        lines.append(f"{len(result.problems)} files skipped:")
        lines += [f"  {problem['path']}: {problem['reason']}" for problem in result.problems[:20]]
    lines.append(f"time: {result.timing.get('total_seconds', 0):.1f} s ({result.timing.get('images_per_second', 0):.0f} images/s)")
    lines += ["", f"{'image':<40} {'member':>6} {'error':>8} {'score':>8}"]
    for row in sorted(result.identities, key=lambda r: -r["score"])[:10]:
        member = {True: "yes", False: "no"}.get(row.get("member"), "?")
        lines.append(f"{row['name'][-40:]:<40} {member:>6} {row['reconstruction_error']:>8.4f} {row['score']:>8.4f}")
    if len(result.identities) > 10:
        lines.append(f"... {len(result.identities) - 10} more (see --json / --csv)")
    return "\n".join(lines)
