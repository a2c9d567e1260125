"""What each part of Semantic Shield does in the lab, and an adaptive attacker against each defense.

    python -m bench.backdoor_ablation               # build what is missing (about 25 s a model, idle), measure, write
    python -m bench.backdoor_ablation --table-only  # print the table from bench/results/backdoor_ablation.json

The backdoor (checkerboard trigger, P = 64 of 1,164 fine-tuning pairs) against: no defense; Semantic Shield with
only its pair weights (the knowledge-element and attention terms off); with only its knowledge-element and
attention terms (every pair weighs 1); the full Semantic Shield; CleanCLIP. Each once with the poisoned photos of
random people, and once by an adaptive attacker whose poisoned photos are those the frozen lab CLIP (the model
the shield weighs pairs with) finds closest to the target's description. ASR and clean top-1 for each, with
95% intervals (person-level bootstrap). Models are built once into the data home (`leakage.lab.poison`) and
reused. Writes bench/results/backdoor_ablation.json with the machine it ran on.
"""

from __future__ import annotations

import argparse
import json
from dataclasses import replace
from pathlib import Path

OUT = Path(__file__).resolve().parent / "results" / "backdoor_ablation.json"
VARIANTS = (  # (defense, Semantic Shield parts)
    ("none", "full"),
    ("semantic-shield", "weights"),
    ("semantic-shield", "ke-attention"),
    ("semantic-shield", "full"),
    ("cleanclip", "full"),
)


def variant_title(defense: str, shield: str) -> str:
    from leakage.lab.poison import DEFENSE_TITLES, SHIELD_TITLES

    return SHIELD_TITLES[shield] if defense == "semantic-shield" else DEFENSE_TITLES[defense]


def table(report: dict) -> str:
    setup = report["setup"]
    lines = [f"Backdoor ({setup['trigger']}), P = {setup['n_poison']} of {setup['n_pairs']:,} pairs "
             f"({100 * setup['poison_fraction']:.1f}%): ASR top-1 / clean top-1",
             "| defense | poisoned photos of random people | poisoned photos of look-alikes of the target |", "|---|---|---|"]
    for defense, shield in VARIANTS:
        cells = []
        for selection in ("random", "look-alikes"):
            wanted = (defense, shield if defense == "semantic-shield" else "", selection)
            hit = [r for r in report["rows"] if (r["defense"], r["shield"], r["poison_selection"]) == wanted]
            cells.append(f"{hit[-1]['asr']:.2f} / {hit[-1]['clean_top1']:.3f}" if hit else "")
        lines.append(f"| {variant_title(defense, shield)} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    import torch

    from bench.backdoor_sweep import measure
    from bench.machine import machine_info
    from leakage.data import scan_dataset
    from leakage.lab import poison

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--threads", type=int, default=1, help="torch threads (1 is fastest on a shared 2-core machine)")
    parser.add_argument("--table-only", action="store_true")
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args(argv)
    if args.table_only:
        print(table(json.loads(args.out.read_text())))
        return 0
    torch.set_num_threads(args.threads)

    data = scan_dataset(poison.ensure_test_data())
    default = poison.PoisonConfig()
    setup = poison.setup_of(default)
    report = {"machine": machine_info(), "rows": [],
              "setup": {"attack": default.attack, "trigger": default.trigger, "n_poison": default.n_poison,
                        "n_pairs": default.n_pairs, "poison_fraction": default.poison_fraction, "target": setup.target}}
    for selection in ("random", "look-alikes"):
        for defense, shield in VARIANTS:
            config = replace(default, poison_selection=selection, shield=shield)
            row = measure(config, defense, data)
            clip = poison.load_model(config, defense)
            weights = clip.metadata.get("shield") or {}
            row.update(shield=shield if defense == "semantic-shield" else "", poison_selection=selection,
                       title=variant_title(defense, shield), mean_weight_clean=weights.get("mean_weight_clean"),
                       mean_weight_poisoned=weights.get("mean_weight_poisoned"))
            report["rows"].append(row)
            args.out.parent.mkdir(parents=True, exist_ok=True)
            args.out.write_text(json.dumps(report, indent=2))
    print(table(report))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
