"""Membership inference against masked image modeling, by reconstruction error.

Li et al., "Membership Inference Attack Against Masked Image Modeling" (2024); background.md §3.
The engine is `leakage.mim`; this module declares the attack to the CLI, pages, store and report.
"""

from __future__ import annotations

import argparse
from typing import Any

from leakage.attacks.membership import auc_lines, problem_lines
from leakage.attacks.base import Attack, RunContext
from leakage.catalog_entries import LabData, LabModel
from leakage.results import AttackResult


def fraction(text: str) -> float:
    value = float(text)
    if not 0.0 < value < 1.0:
        raise argparse.ArgumentTypeError(f"expected a fraction strictly between 0 and 1, got {text}")
    return value


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_method_arguments(parser)
    parser.add_argument("--mask-ratio", type=fraction, default=0.75, help="fraction of patches hidden per mask (default 0.75)")
    parser.add_argument("--masks", type=int, default=8, help="random masks per image; errors are averaged (default 8)")
    parser.add_argument("--seed", type=int, default=0, help="seeds the masks")


SHADOW_DATA_NEEDED = "--shadow needs --shadow-data: a folder of the shadow model's members and non-members with members.csv"


def add_method_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--shadow-data", default=None,
                        help="the shadow model's members and non-members (a folder with members.csv); "
                             "default lab-mae-shadow when --shadow is lab-mae-shadow")
    parser.add_argument("--calibrate-with", dest="reference", default=None,
                        help="same as --reference: per-example calibration (not the paper's method)")


def options_from_args(args: argparse.Namespace) -> dict[str, Any]:
    if args.shadow and args.reference:
        raise ValueError("--shadow (the paper's threshold) and --calibrate-with/--reference (per-example calibration) "
                         "are separate methods; use one")
    if args.shadow and not args.shadow_data and not own_data(args.shadow):
        raise ValueError(SHADOW_DATA_NEEDED)
    return {"shadow_data": args.shadow_data} if args.shadow else {}


def config_from_args(args: argparse.Namespace) -> Any:
    from leakage.mim_config import MIMConfig

    return MIMConfig(mask_ratio=args.mask_ratio, n_masks=args.masks, seed=args.seed)


def own_data(shadow: str | None) -> str | None:
    """A lab shadow model's own lab data set (its members and non-members: what the threshold is chosen on)."""
    entry = next((model for model in LAB_MODELS if model.name == shadow), None)
    return entry.data[0] if entry is not None and entry.data else None


def run(model: Any, data: Any, config: Any, context: RunContext) -> AttackResult:
    from leakage.mim import run_mim

    options = dict(context.options)
    shadow = context.extra_models.get("shadow")
    shadow_data = shadow_data_id = None
    if shadow is not None:
        spec = options.pop("shadow_data", None) or own_data(shadow.name)
        if not spec:
            raise ValueError(SHADOW_DATA_NEEDED)
        shadow_data, shadow_data_id = context.read_data(spec, model=shadow.name)
    return run_mim(model, data, config, context, reference=context.extra_models.get("reference"), shadow=shadow,
                   shadow_data=shadow_data, shadow_data_id=shadow_data_id, **options)


def summary_lines(result: AttackResult) -> list[str]:
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
        lines += auc_lines(metrics, "member", "non-member images")
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
    lines += problem_lines(result)
    lines.append(f"time: {result.timing.get('total_seconds', 0):.1f} s ({result.timing.get('images_per_second', 0):.0f} images/s)")
    lines += ["", f"{'image':<40} {'member':>6} {'error':>8} {'score':>8}"]
    for row in sorted(result.identities, key=lambda r: -r["score"])[:10]:
        member = {True: "yes", False: "no"}.get(row.get("member"), "?")
        lines.append(f"{row['name'][-40:]:<40} {member:>6} {row['reconstruction_error']:>8.4f} {row['score']:>8.4f}")
    if len(result.identities) > 10:
        lines.append(f"... {len(result.identities) - 10} more (see --json / --csv)")
    return lines


def figures(result: AttackResult, name: str | None = None) -> list:
    """ROC on linear and log-log axes, then the reconstruction errors of member and non-member images."""
    import plotly.graph_objects as go

    from leakage.figures import PALETTE, ResultFigure, membership_figures

    shown = [figure for figure in membership_figures(result, name=name) if figure.id != "score-histogram"]
    histogram = go.Figure()
    for wanted, label, color in ((True, "member images", PALETTE[1]), (False, "non-member images", PALETTE[0]), (None, "unknown", "#999999")):
        errors = [row["reconstruction_error"] for row in result.identities if row.get("member") is wanted]
        if errors:
            histogram.add_trace(go.Histogram(x=errors, name=label, marker_color=color, opacity=0.6, bingroup="errors"))
    histogram.update_layout(barmode="overlay", template="plotly_white", height=360,
                            title="Reconstruction error (lower = more likely a member)",
                            xaxis_title="mean error over the masks (the model's own loss)", yaxis_title="images",
                            margin={"l": 60, "r": 20, "t": 50, "b": 50})
    return shown + [ResultFigure("errors", histogram, wide=True)]


LAB_MAE = "leakage.lab.mae:LAB_MAE"
LAB_MODELS = (
    LabModel("lab-mae", "mae", LAB_MAE, {}, "lab-mae", "the lab MAE, pre-trained on the member images"),
    LabModel("lab-mae-reference", "mae", LAB_MAE, {"part": "reference"}, "lab-mae",
             "a reference MAE pre-trained on other people (per-example calibration)"),
    LabModel("lab-mae-shadow", "mae", LAB_MAE, {"part": "shadow"}, "lab-mae-shadow",
             "a shadow MAE, the lab MAE's recipe on disjoint people (the paper's threshold)"),
)
LAB_DATA = (
    LabData("lab-mae", "people", LAB_MAE, {"part": "attack"},
            "the lab MAE's member images (the exact training files) and fresh non-member renders"),
    LabData("lab-mae-shadow", "people", LAB_MAE, {"part": "shadow-data"}, "the shadow MAE's own members and non-members"),
)


ATTACK = Attack(
    name="mim",
    title="Membership inference against a masked image model",
    nav_title="Membership inference (MIM)",
    icon=":material/image:",
    question="Was this image in the pre-training data of this masked image model?",
    explanation=(
        "The attacker hides random parts of an image and lets the model fill them in, several times with "
        "different masks. Images the model was trained on are filled in better, so a low reconstruction error "
        "points to membership (Li et al., \u201cMembership Inference Attack Against Masked Image Modeling\u201d, 2024)."
    ),
    attacker_has="an image and access to the model's reconstructions",
    config="leakage.mim_config:MIMConfig",
    run=run,
    model_kind="mae",
    default_model="lab-mae",
    default_data="lab-mae",
    lab_models=LAB_MODELS,
    lab_data=LAB_DATA,
    extra_models=(
        ("shadow", "the paper's shadow model (lab-mae-shadow | a folder | a hub id): the error threshold that best separates "
                   "its own members and non-members is applied to the target (accuracy, TPR, FPR at it)"),
        ("reference", "per-example calibration (not the paper's method): a reference model trained without the target "
                      "images (lab-mae-reference | a folder); score = its error - the target's (Watson et al. 2022, LiRA offset)"),
    ),
    options_from_args=options_from_args,
    data_options=("shadow_data",),
    unit="image",
    units="images",
    parts="ui.parts.mim:PARTS",
    add_arguments=add_arguments,
    config_from_args=config_from_args,
    summary_lines=summary_lines,
    figures=figures,
    item_columns=("name", "member", "reconstruction_error", "score", "predicted_member"),
)
