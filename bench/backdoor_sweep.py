"""Backdoor and targeted poisoning in the lab: attack success rate against P for no defense,
Semantic Shield and CleanCLIP, with clean top-1 beside it, and the targeted-poisoning figures.

    python -m bench.backdoor_sweep                        # P = 1 2 4 8 16 32 64, all defenses, and targeted
    python -m bench.backdoor_sweep --p 32 --defenses none # any subset
    python -m bench.backdoor_sweep --table-only           # print what is measured so far, train nothing
    python -m bench.backdoor_sweep --clean-scale 4 --p 16 64 --defenses none --no-targeted
                                                          # 4x the clean pairs: the same P at a quarter of the fraction

Models are built once into the data home (`leakage.lab.poison`) and reused, so an interrupted sweep
continues where it stopped; every evaluation is kept beside its model and the table is printed
from those. Writes bench/results/backdoor_sweep.json with the machine it ran on (rows measured
since the fraction was recorded carry their own machine and date).
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

P_VALUES = (1, 2, 4, 8, 16, 32, 64)


def measure(config, defense: str, data) -> dict:
    from leakage.attacks import get_attack
    from leakage.attacks.base import RunContext
    from leakage.backdoor import BackdoorConfig
    from leakage.lab import poison

    started = time.perf_counter()
    poison.ensure_models(config, (defense,), progress=lambda stage, done, total: None)
    built = time.perf_counter() - started
    clip = poison.load_model(config, defense)
    result = get_attack("backdoor").execute(clip, data, BackdoorConfig(mode=config.attack), RunContext(dataset_id="lab-poison"))
    m = result.metrics
    row = {"attack": config.attack, "trigger": config.trigger if config.attack == "backdoor" else "", "n_poison": config.n_poison,
           "n_pairs": config.n_pairs, "poison_fraction": config.poison_fraction, "defense": defense,
           "asr": m["asr"], "asr_ci": m["asr_ci"], "asr_ci_method": m.get("asr_ci_method"), "asr_top_k": m["asr_top_k"],
           "hit_at_1": m["hit_at_k"]["1"], "hit_at_10": m["hit_at_k"]["10"], "min_rank": m["min_rank"],
           "clean_top1": m["clean_top1"], "clean_top1_ci": m["clean_top1_ci"], "build_seconds": round(built, 1),
           "training": clip.metadata.get("training", {})}
    print(json.dumps({k: v for k, v in row.items() if k != "training"}), flush=True)
    return row


def fraction(n_poison: int) -> str:
    """P / pairs of the default fine-tuning set, as the papers state their poison rates."""
    from leakage.lab.poison import PoisonConfig

    share = 100 * PoisonConfig(n_poison=n_poison).poison_fraction
    return f"{share:.2g}%" if share < 1 else f"{share:.1f}%"


def table(rows: list[dict], attack: str, trigger: str = "checkerboard") -> str:
    from leakage.lab.poison import DEFENSE_TITLES, DEFENSES

    rows = [r for r in rows if r["attack"] == attack and (attack == "targeted" or r["trigger"] == trigger)]
    ps = sorted({r["n_poison"] for r in rows})
    lines = [f"{attack}{' (' + trigger + ')' if attack == 'backdoor' else ''}: ASR top-1 / clean top-1 by P (P / pairs)",
             "| defense | " + " | ".join(f"P={p} ({fraction(p)})" for p in ps) + " |", "|---|" + "---|" * len(ps)]
    for defense in DEFENSES:
        cells = []
        for p in ps:
            hit = [r for r in rows if r["attack"] == attack and r["defense"] == defense and r["n_poison"] == p]
            cells.append(f"{hit[-1]['asr']:.2f} / {hit[-1]['clean_top1']:.2f}" if hit else "")
        lines.append(f"| {DEFENSE_TITLES[defense]} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    import torch

    from bench.machine import machine_info
    from leakage.data import scan_dataset
    from leakage.lab import poison

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--p", type=int, nargs="+", default=list(P_VALUES))
    parser.add_argument("--defenses", nargs="+", default=list(poison.DEFENSES), choices=poison.DEFENSES)
    parser.add_argument("--trigger", default="checkerboard", choices=("checkerboard", "blended"))
    parser.add_argument("--no-targeted", action="store_true")
    parser.add_argument("--table-only", action="store_true", help="print what is measured so far, train nothing")
    parser.add_argument("--threads", type=int, default=1, help="torch threads (1 is fastest on a shared 2-core machine)")
    parser.add_argument("--clean-scale", type=int, default=1,
                        help="times the default clean pairs (8 per member, 2 per filler person): lower fractions for the same P")
    parser.add_argument("--out", type=Path, default=Path(__file__).resolve().parent / "results" / "backdoor_sweep.json")
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)

    data = None if args.table_only else scan_dataset(poison.ensure_test_data())
    out = args.out
    recorded = json.loads(out.read_text()) if out.is_file() else {}
    rows: list[dict] = recorded.get("rows", [])
    machine = recorded.get("machine") or machine_info()  # of the rows without their own (measured before rows carried one)

    def keep(row: dict) -> None:
        key = lambda r: (r["attack"], r["trigger"], r["n_poison"], r["defense"], r.get("clean_scale", 1))  # noqa: E731
        rows[:] = [r for r in rows if key(r) != key(row)] + [row]
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps({"machine": machine, "rows": rows}, indent=2))

    default = poison.PoisonConfig(trigger=args.trigger)
    if args.clean_scale != 1:  # only the asked P and defenses, on the larger clean set
        plan = [(poison.PoisonConfig(trigger=args.trigger, n_poison=p, clean_per_member=default.clean_per_member * args.clean_scale,
                                     filler_per_person=default.filler_per_person * args.clean_scale), d)
                for d in args.defenses for p in sorted(args.p)]
    else:
        plan = [(default, d) for d in args.defenses]  # the default P first: the headline figures
        if not args.no_targeted:
            plan += [(poison.PoisonConfig(attack="targeted"), d) for d in args.defenses]
        # then the sweep, one defense at a time (no defense first: the smallest P at which the attack works)
        plan += [(poison.PoisonConfig(trigger=args.trigger, n_poison=p), d) for d in args.defenses for p in sorted(args.p)
                 if p != default.n_poison]
    for config, defense in [] if args.table_only else plan:
        keep({**measure(config, defense, data), "clean_scale": args.clean_scale, "machine": machine_info()})
    scaled = [r for r in rows if r.get("clean_scale", 1) == 1]
    for trigger in sorted({r["trigger"] for r in scaled if r["attack"] == "backdoor"}):
        print(table(scaled, "backdoor", trigger))
        print()
    print(table(scaled, "targeted"))
    larger = [r for r in rows if r.get("clean_scale", 1) != 1]
    if larger:
        print("\nlarger clean sets: P, pairs, P / pairs, defense: ASR top-1 / clean top-1")
        for r in sorted(larger, key=lambda r: (r["clean_scale"], r["n_poison"])):
            print(f"P = {r['n_poison']} of {r['n_pairs']:,} ({100 * r['poison_fraction']:.2g}%), {r['defense']}: "
                  f"{r['asr']:.3f} / {r['clean_top1']:.3f}")
    setup = poison.setup_of(default)
    print(f"\ntarget {setup.target}; targeted: photos of {setup.source} named {setup.target}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
