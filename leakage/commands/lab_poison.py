"""`python -m leakage lab-poison build|info|list|clean`: the poisoned lab CLIP and its defended variants
(Semantic Shield, CleanCLIP) for the backdoor attack. Separate from `lab`: building these never
rebuilds the lab CLIP they start from.
"""

from __future__ import annotations

import argparse

from leakage.progress import StageBars


def register(subparsers) -> None:
    parser = subparsers.add_parser("lab-poison", help="the poisoned lab CLIP and its Semantic-Shield and CleanCLIP variants")
    commands = parser.add_subparsers(dest="lab_poison_command", required=True)
    build = commands.add_parser("build", help="build the default poisoned, Semantic-Shield and CleanCLIP lab models (reused when built)")
    build.add_argument("--quiet", action="store_true")
    commands.add_parser("info", help="where the poisoned lab models are and whether they are built")
    commands.add_parser("list", help="every poisoned lab variant built in the data home, its size, and whether it is current")
    clean = commands.add_parser("clean", help="delete the variants built by an older recipe (never loaded again)")
    clean.add_argument("--all", action="store_true", help="delete every variant, current ones too (they are rebuilt when asked for)")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from leakage.lab.poison import DEFENSE_TITLES, DEFENSES, PoisonConfig, build_defaults, checkpoint_path, is_built, setup_of

    if args.lab_poison_command in ("list", "clean"):
        return manage_variants(args)
    config = PoisonConfig()
    if args.lab_poison_command == "info":
        setup = setup_of(config)
        print(f"default: {config.attack}, trigger {config.trigger}, P = {config.n_poison}, target {setup.target}")
        for defense in DEFENSES:
            print(f"{DEFENSE_TITLES[defense]:<16} {'built' if is_built(config, defense) else 'not built':<10} {checkpoint_path(config, defense)}")
        return 0
    bars = StageBars(enabled=not args.quiet)
    report = build_defaults(progress=bars)
    bars.close()
    for defense, path in report["models"].items():
        print(f"{DEFENSE_TITLES[defense]:<16} {path}")
    print(f"test data        {report['data']}")
    print(f"{'reused (already built)' if report['reused'] else 'built'} in {report['seconds']:.1f} s")
    return 0


def manage_variants(args: argparse.Namespace) -> int:
    from leakage.lab.poison import built_variants, remove_variants

    variants = built_variants()
    if args.lab_poison_command == "list":
        if not variants:
            print("no poisoned lab variants built")
        for variant in variants:
            key = variant.poison_key or {}
            what = (f"{key.get('attack', '?')}{' ' + key['trigger'] if key.get('trigger') else ''}, P = {key.get('n_poison', '?')}, "
                    f"{key.get('epochs', '?')} epochs" + (", look-alike photos" if key.get("poison_selection") == "look-alikes" else "")
                    ) if key else "no record (an interrupted build?)"
            state = "current" if variant.current else "stale: built by an older recipe"
            print(f"{variant.root.name}  {what:<40} {', '.join(variant.defenses) or 'no model':<32} {variant.megabytes:7.1f} MB  {state}")
        return 0
    doomed = [v for v in variants if args.all or not v.current]
    freed = remove_variants(doomed)
    print(f"removed {len(doomed)} of {len(variants)} variants, {freed:.1f} MB freed")
    return 0
