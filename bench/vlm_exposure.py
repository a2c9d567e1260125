"""Finding (iv) of "The Phantom Menace" in the lab: leakage tracks how often a person appears in training.

Builds (or reuses) the lab VLM variant whose members appear in 1, 2, 4, 8 or 16 "who is this"
texts of the language data (10 members per level; non-members in none), probes it, and prints
per exposure level the share of answers naming the person, the share of people named at least
once, and the closed-set top-1 rate and mean score.

    python -m bench.vlm_exposure                          # writes bench/results/vlm_exposure.json
    python -m bench.vlm_exposure --images-per-person 2    # quicker
"""

from __future__ import annotations

import json
import time

import numpy as np

from bench import lab_vlm_variant, lab_vlm_variant_arguments
from bench.machine import machine_info
from leakage.context import RunContext
from leakage.data import scan_dataset
from leakage.lab.vlm import exposure_lab_vlm_config
from leakage.progress import StageBars
from leakage.vlm import DEFAULT_QUESTIONS, VLMProbeConfig, load_vlm, run_vlm_probe
from leakage.vlm_calibration import spearman

FACE_BLUR = "blur:32"


def by_level(identities: list[dict], exposure: dict[str, int]) -> list[dict]:
    levels: dict[int, list[dict]] = {}
    for row in identities:
        levels.setdefault(exposure.get(row["name"], 0), []).append(row)
    out = []
    for level in sorted(levels):
        rows = levels[level]
        out.append({
            "texts": level,
            "people": len(rows),
            "leak_rate": float(np.mean([row["leak_rates"]["none"] for row in rows])),
            "leak_rate_face_blurred": float(np.mean([row["leak_rates"][FACE_BLUR] for row in rows if FACE_BLUR in row["leak_rates"]])),
            "people_named": float(np.mean([row["named"] for row in rows])),
            "closed_set_top1": float(np.mean([row["closed_set_top1"] for row in rows])),
            "mean_score": float(np.mean([row["score"] for row in rows])),
        })
    return out


def main() -> None:
    args = lab_vlm_variant_arguments(__doc__, "vlm_exposure.json")
    started = time.perf_counter()
    bars = StageBars()
    lab, was_built = lab_vlm_variant(exposure_lab_vlm_config(), args, bars)
    vlm = load_vlm(lab.model_dir, name="lab-vlm (exposure levels)")
    probe_config = VLMProbeConfig(
        questions=DEFAULT_QUESTIONS, anonymizations=(FACE_BLUR,), images_per_person=args.images_per_person, n_candidates=args.candidates
    )
    result = run_vlm_probe(vlm, scan_dataset(lab.attack_dir), probe_config, RunContext(dataset_id="lab-vlm-exposure", progress=bars))
    bars.close()
    exposure = lab.member_exposure()
    levels = by_level(result.identities, exposure)
    members = [row for row in result.identities if row.get("member")]
    report = {
        "machine": machine_info(),
        "lab": lab.describe(),
        "built_now_seconds": None if was_built else lab.build_seconds,
        "recorded_build_seconds": lab.build_seconds,
        "training": lab.training,
        "probe": {"images_per_person": args.images_per_person, "n_candidates": args.candidates, "questions": list(DEFAULT_QUESTIONS)},
        "levels": levels,
        "spearman_texts_leak_rate_members": spearman([exposure[row["name"]] for row in members], [row["leak_rates"]["none"] for row in members]),
        "auc": result.metrics["auc"],
        "probe_seconds": result.timing["total_seconds"],
        "seconds": time.perf_counter() - started,
    }
    print(f"lab VLM with exposure levels (built in {lab.build_seconds:.0f} s), {args.images_per_person} photos per person, "
          f"{len(DEFAULT_QUESTIONS)} questions; 0 texts = non-members")
    print("| texts per member | people | answers naming the person | face blurred | people named at least once | closed-set top-1 |")
    print("|---|---|---|---|---|---|")
    for row in levels:
        print(f"| {row['texts']} | {row['people']} | {row['leak_rate']:.2f} | {row['leak_rate_face_blurred']:.2f} | "
              f"{row['people_named']:.2f} | {row['closed_set_top1']:.2f} |")
    print(f"\nSpearman(texts, leak rate) over members: {report['spearman_texts_leak_rate_members']:+.2f}; closed-set AUC {report['auc']:.3f}")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2))
    print(f"\n{time.perf_counter() - started:.0f} s; written to {args.out}")


if __name__ == "__main__":
    main()
