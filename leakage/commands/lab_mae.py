"""`python -m leakage lab-mae build|info`: the lab's masked autoencoder for the MIM attack.

Separate from `lab` (the CLIP lab): building one never rebuilds the other.
"""

from __future__ import annotations

import argparse
import time
from dataclasses import replace

from leakage.progress import StageBars


def register(subparsers) -> None:
    lab_mae = subparsers.add_parser("lab-mae", help="the lab's masked autoencoder (pre-trained on lab member images) for the MIM attack")
    commands = lab_mae.add_subparsers(dest="lab_mae_command", required=True)
    build = commands.add_parser("build", help="build the lab MAE (reused when already built)")
    info = commands.add_parser("info", help="where the lab MAE is and what it holds")
    for sub in (build, info):
        sub.add_argument("--seed", type=int, default=None, help="world and role seed (default 0)")
        sub.add_argument("--members", type=int, default=None, help="people whose images the MAE is pre-trained on")
        sub.add_argument("--nonmembers", type=int, default=None, help="people rendered fresh for the attack set")
        sub.add_argument("--images-per-person", type=int, default=None, help="images per member / non-member")
        sub.add_argument("--epochs", type=int, default=None, help="pre-training epochs")
    build.add_argument("--reference", action="store_true", help="also train the reference MAE (per-example calibration) now (else on first use)")
    build.add_argument("--shadow", action="store_true", help="also build the shadow MAE and its data (the paper's threshold) now (else on first use)")
    build.add_argument("--quiet", action="store_true")
    lab_mae.set_defaults(func=run)


def config_from_args(args: argparse.Namespace):
    from leakage.lab.mae import default_lab_mae_config

    config = default_lab_mae_config()
    changes = {
        "seed": args.seed,
        "n_members": args.members,
        "n_nonmembers": args.nonmembers,
        "images_per_person": args.images_per_person,
    }
    config = replace(config, **{key: value for key, value in changes.items() if value is not None})
    if args.epochs is not None:
        config = config.with_epochs(args.epochs)
    return config


def run(args: argparse.Namespace) -> int:
    from transformers.utils import logging as transformers_logging

    from leakage.lab.mae import LabMAE, ensure_lab_mae, ensure_reference, ensure_shadow, is_built, lab_mae_root

    transformers_logging.disable_progress_bar()  # its per-file bars would interleave with ours
    config = config_from_args(args)
    if args.lab_mae_command == "info":
        root = lab_mae_root(config)
        print(f"lab MAE directory: {root}")
        print(f"built: {'yes' if is_built(config) else 'no'}")
        if is_built(config):
            print_paths(LabMAE.load(root))
        return 0
    already = is_built(config)
    started = time.perf_counter()
    bars = StageBars(enabled=not args.quiet)
    lab = ensure_lab_mae(config, progress=bars)
    if args.reference:
        ensure_reference(lab, progress=bars)
    if args.shadow:
        ensure_shadow(lab, progress=bars)
    bars.close()
    state = "reused" if already else f"built in {lab.build_seconds:.1f} s ({', '.join(f'{k} {v}' for k, v in lab.timings.items())})"
    print(f"lab MAE {state}: {lab.root} ({len(lab.members)} member and {len(lab.nonmembers)} non-member people, "
          f"{lab.config.images_per_person} image(s) each, {lab.config.training.epochs} epochs) [{time.perf_counter() - started:.1f} s]")
    print_paths(lab)
    return 0


def print_paths(lab) -> None:
    print(f"  model:     {lab.model_dir}")
    print(f"  reference: {lab.reference_dir}" + ("" if lab.has_reference else " (not built yet: built on first use)"))
    print(f"  shadow:    {lab.shadow_model_dir} (its data: {lab.shadow_data_dir})" + ("" if lab.has_shadow else " (not built yet: built on first use)"))
    print(f"  data:      {lab.attack_dir}")
    print(f"attack it: python -m leakage mim --model {lab.model_dir} --data {lab.attack_dir}"
          + f" [--shadow {lab.shadow_model_dir} --shadow-data {lab.shadow_data_dir}] [--calibrate-with {lab.reference_dir}]")
