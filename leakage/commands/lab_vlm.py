"""`python -m leakage lab-vlm build|info`: the lab's small LLaVA (see leakage.lab.vlm)."""

from __future__ import annotations

import argparse
import time
from dataclasses import replace

from leakage.progress import StageBars


def register(subparsers) -> None:
    lab_vlm = subparsers.add_parser("lab-vlm", help="the lab VLM: a small LLaVA trained on the lab world")
    commands = lab_vlm.add_subparsers(dest="lab_vlm_command", required=True)
    build = commands.add_parser("build", help="build the lab VLM (reused when already built)")
    info = commands.add_parser("info", help="where the lab VLM is and whether it is built")
    for sub in (build, info):
        sub.add_argument("--seed", type=int, default=0)
        sub.add_argument("--variant", choices=("default", "bpe", "exposure"), default="default",
                         help="bpe: subword tokenizer trained on the lab texts (the closed-set length bias); "
                              "exposure: members in 1, 2, 4, 8 or 16 language texts (finding iv); both half the default's people")
        sub.add_argument("--align-on", choices=("blurred", "raw"), default="blurred",
                         help="alignment photos with faces blurred (the paper's setting) or raw, for comparison")
        sub.add_argument("--language-steps", type=int, default=None)
        sub.add_argument("--alignment-steps", type=int, default=None)
    build.add_argument("--quiet", action="store_true")
    lab_vlm.set_defaults(func=run)


def config_from_args(args: argparse.Namespace):
    from leakage.lab.vlm import LAB_VLM_VARIANTS

    config = replace(LAB_VLM_VARIANTS[getattr(args, "variant", "default")](args.align_on), seed=args.seed)
    if args.language_steps is not None:
        config = replace(config, language_steps=args.language_steps)
    if args.alignment_steps is not None:
        config = replace(config, alignment_steps=args.alignment_steps)
    return config


def run(args: argparse.Namespace) -> int:
    from leakage.lab.vlm import ensure_lab_vlm, is_built, lab_vlm_root

    config = config_from_args(args)
    if args.lab_vlm_command == "info":
        print(f"lab VLM directory: {lab_vlm_root(config)}")
        print(f"built: {'yes' if is_built(config) else 'no'}")
        return 0
    already = is_built(config)
    started = time.perf_counter()
    bars = StageBars(enabled=not args.quiet)
    lab = ensure_lab_vlm(config, progress=bars)
    bars.close()
    state = "reused" if already else f"built in {lab.build_seconds:.1f} s"
    print(f"lab VLM {state}: {lab.model_dir} ({len(lab.members)} members, {len(lab.nonmembers)} non-members, "
          f"aligned on {lab.config.align_on} photos, {lab.config.tokenizer} tokenizer) [{time.perf_counter() - started:.1f} s]")
    return 0
