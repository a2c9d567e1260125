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
    mim.add_argument("--model", required=True, help="lab-mae | a save_pretrained folder | a hub id (facebook/vit-mae-base)")
    mim.add_argument("--data", required=True, help="lab-mae | a folder with one subfolder of images per person (members.csv for ground truth)")
    mim.add_argument("--shadow", default=None,
                     help="the paper's shadow model (lab-mae-shadow | a folder | a hub id): the error threshold that best "
                          "separates its own members and non-members is applied to the target (accuracy, TPR, FPR at it)")
    mim.add_argument("--shadow-data", default=None,
                     help="the shadow model's members and non-members (a folder with members.csv); "
                          "default lab-mae-shadow when --shadow is lab-mae-shadow")
    mim.add_argument("--calibrate-with", "--reference", dest="reference", default=None,
                     help="per-example calibration (not the paper's method): a reference model trained without the target "
                          "images (lab-mae-reference | a folder); score = its error - the target's (Watson et al. 2022, LiRA offset)")
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

    from leakage.lab.mae import LAB_MAE_SHADOW
    from leakage.mim import MIMConfig, RuntimeOptions, resolve_data, resolve_model, run_mim

    transformers_logging.disable_progress_bar()  # its per-file bars would interleave with ours
    config = MIMConfig(mask_ratio=args.mask_ratio, n_masks=args.masks, seed=args.seed)
    if args.shadow and args.reference:
        raise ValueError("--shadow (the paper's threshold) and --calibrate-with/--reference (per-example calibration) "
                         "are separate methods; use one")
    shadow_data_spec = args.shadow_data or (LAB_MAE_SHADOW if args.shadow == LAB_MAE_SHADOW else None)
    if args.shadow and not shadow_data_spec:
        raise ValueError("--shadow needs --shadow-data: a folder of the shadow model's members and non-members with members.csv")
    bars = StageBars(enabled=not args.quiet)
    target = resolve_model(args.model, args.device, progress=bars)
    reference = resolve_model(args.reference, args.device, progress=bars) if args.reference else None
    shadow = resolve_model(args.shadow, args.device, progress=bars) if args.shadow else None
    shadow_data, shadow_data_id = resolve_data(shadow_data_spec, progress=bars) if shadow else (None, None)
    dataset, dataset_id = resolve_data(args.data, progress=bars)
    result = run_mim(
        target,
        dataset,
        config,
        reference=reference,
        runtime=RuntimeOptions(batch_size=args.batch_size, num_workers=args.workers),
        dataset_id=dataset_id,
        progress=bars,
        shadow=shadow,
        shadow_data=shadow_data,
        shadow_data_id=shadow_data_id,
    )
    bars.close()
    print(format_summary(result))
    emit_result(result, args, rows="per-image rows")
    return 0


def format_summary(result) -> str:
    from leakage.metrics import tpr_at_fpr_rows

    metrics, config = result.metrics, result.config
    method = result.details.get("method", "calibrated" if config.get("reference_model") else "plain")
    against = {"calibrated": f", calibrated with reference model {config.get('reference_model')}",
               "shadow": f", threshold from shadow model {config.get('shadow_model')}"}.get(method, "")
    lines = [
        f"MIM on {config['model']}{against} ({result.model.get('device_description')}), data {result.dataset.get('id')}",
        f"config hash {result.config_hash} · code {result.code_version}",
        f"{metrics['n_images']} images of {metrics['n_people']} people, {config['n_masks']} masks per image at mask ratio "
        f"{config['mask_ratio']:.2f}; score = {config['score']}",
    ]
    if result.details.get("method_description"):
        lines.append(f"method: {result.details['method_description']}")
    models = result.details.get("models", {})
    for warning in [*result.model.get("warnings", []), *(w for role in ("reference", "shadow") for w in models.get(role, {}).get("warnings", []))]:
        lines.append(f"warning: {warning}")
    if "mean_error_members" in metrics and "mean_error_nonmembers" in metrics:
        lines.append(f"mean reconstruction error: members {metrics['mean_error_members']:.4f}, "
                     f"non-members {metrics['mean_error_nonmembers']:.4f}")
    if "auc" in metrics:
        low, high = metrics["auc_ci"]
        lines.append(f"AUC {metrics['auc']:.3f} (95% CI {low:.3f}-{high:.3f}), {metrics.get('n_members', '?')} member and "
                     f"{metrics.get('n_nonmembers', '?')} non-member images")
        for row in tpr_at_fpr_rows(metrics):
            ci = f" (95% CI {row['ci'][0]:.3f}-{row['ci'][1]:.3f})" if row["ci"] else ""
            lines.append(f"{row['label']}: {row['tpr']:.3f}{ci}")
    else:
        lines.append("no ground truth with both members and non-members: scores only (lower error = more likely a member)")
    shadow = result.details.get("shadow")
    if shadow:
        lines.append(f"shadow-model threshold: member when error <= {shadow['error_threshold']:.4f}, chosen on the shadow's own "
                     f"{shadow['n_members']} members and {shadow['n_nonmembers']} non-members (there: balanced accuracy "
                     f"{shadow['balanced_accuracy']:.3f}, TPR {shadow['tpr']:.3f}, FPR {shadow['fpr']:.3f}, AUC {shadow['auc']:.3f})")
        if "threshold_accuracy" in metrics:
            lines.append(f"on the target at that threshold: accuracy {metrics['threshold_accuracy']:.3f}, "
                         f"TPR {metrics['threshold_tpr']:.3f}, FPR {metrics['threshold_fpr']:.3f}, "
                         f"precision {metrics['threshold_precision']:.3f}")
        lines.append(f"predicted members: {metrics.get('n_predicted_members', 0)} of {metrics['n_images']} images")
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
