"""`python -m leakage lab build|info`: the synthetic lab world and its models."""

from __future__ import annotations

import argparse
import time
from dataclasses import replace

from leakage.progress import StageBars


def int_tuple(text: str) -> tuple[int, ...]:
    try:
        values = tuple(int(part) for part in text.split(",") if part.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated integers, got {text!r}")
    if not values or min(values) < 1:
        raise argparse.ArgumentTypeError("expected positive integers")
    return values


def register(subparsers) -> None:
    lab = subparsers.add_parser("lab", help="the synthetic lab world and its models")
    lab_commands = lab.add_subparsers(dest="lab_command", required=True)
    build = lab_commands.add_parser("build", help="build the lab (reused when already built), or the named lab models")
    build.add_argument("models", nargs="*", metavar="NAME",
                       help="lab models to build (see `lab list`; each is reused when built); none = the CLIP lab")
    info = lab_commands.add_parser("info", help="where the lab is and what it holds")
    listing = lab_commands.add_parser("list", help="every lab model and lab data set, by kind")
    listing.set_defaults(func=list_lab)
    for sub in (build, info):
        sub.add_argument("--seed", type=int, default=0)
        sub.add_argument("--members", type=int, default=100, help="people the lab CLIP is trained on")
        sub.add_argument("--nonmembers", type=int, default=100, help="people it never sees, for the attack set")
        sub.add_argument("--occurrences", type=int_tuple, default=(20,), help="training images per member, e.g. 20 or 1,5,25 (cycled)")
        sub.add_argument("--epochs", type=int, default=None, help="training epochs of the lab CLIP")
        sub.add_argument("--attack-images", type=int, default=20, help="held-out attack images per person")
        sub.add_argument("--control", action="store_true", help="also train the control model (other people only)")
    build.add_argument("--quiet", action="store_true")
    lab.set_defaults(func=run)


def lab_config_from_args(args: argparse.Namespace):
    from leakage.lab.build import LabConfig

    config = LabConfig(
        seed=args.seed,
        n_members=args.members,
        n_nonmembers=args.nonmembers,
        occurrences=args.occurrences,
        attack_images_per_person=args.attack_images,
    )
    if args.epochs is not None:
        config = replace(config, clip=replace(config.clip, epochs=args.epochs))
    return config


def run(args: argparse.Namespace) -> int:
    from leakage.lab.build import ensure_control, ensure_lab, is_built, lab_root

    config = lab_config_from_args(args)
    if args.lab_command == "info":
        print(f"lab directory: {lab_root(config)}")
        print(f"built: {'yes' if is_built(config) else 'no'}")
        return 0
    if args.models:
        return build_named(args.models, quiet=args.quiet)
    already = is_built(config)
    started = time.perf_counter()
    bars = StageBars(enabled=not args.quiet)
    lab = ensure_lab(config, progress=bars)
    if args.control:
        ensure_control(lab, progress=bars)
    bars.close()
    state = "reused" if already else f"built in {lab.build_seconds:.1f} s"
    print(
        f"lab {state}: {lab.root} ({len(lab.members)} members, {len(lab.nonmembers)} non-members) "
        f"[{time.perf_counter() - started:.1f} s]"
    )
    return 0


def list_lab(args: argparse.Namespace) -> int:
    from leakage.catalog import LAB_DATA, MODEL_KINDS, lab_models

    print("lab models (python -m leakage lab build NAME):")
    for model in lab_models():
        print(f"  {model.name:<20} {MODEL_KINDS[model.kind].title:<34} {model.description}")
    print("lab data sets (--data NAME; --data lab is the attack's own, or a lab variant's):")
    for data in LAB_DATA.values():
        print(f"  {data.name:<20} {data.description}")
    return 0


def build_named(names: list[str], quiet: bool = False) -> int:
    """Build (or reuse) each named lab model through the catalog, as an attack would on first use."""
    from leakage.catalog import LAB_MODELS, lab_models, resolve_model

    lab_models()  # attack modules register their own lab models on import
    unknown = [name for name in names if name not in LAB_MODELS]
    if unknown:
        raise ValueError(f"unknown lab model {', '.join(unknown)}; lab models: {', '.join(LAB_MODELS)}")
    for name in names:
        started = time.perf_counter()
        bars = StageBars(enabled=not quiet)
        resolve_model(name, LAB_MODELS[name].kind, device="cpu", progress=bars)
        bars.close()
        print(f"{name}: ready [{time.perf_counter() - started:.1f} s]")
    return 0
