"""Finding (iii) of "The Phantom Menace" in the lab: face blurring does not stop a VLM from naming
people, whole-image blurring does. And the raw-vs-anonymized alignment comparison.

Builds (or reuses) the lab VLM aligned on face-blurred photos (the paper's setting) and the
same recipe aligned on raw photos, probes both with every anonymization setting of the sweep,
and prints members' and non-members' leak rates and the closed-set AUC per setting.

    python -m bench.vlm_anonymization                # both alignments, writes bench/results/vlm_anonymization.json
    python -m bench.vlm_anonymization --only blurred # just the default lab VLM
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

from bench.machine import machine_info
from leakage.anonymize import default_sweep
from leakage.context import RunContext
from leakage.data import scan_dataset
from leakage.lab.vlm import default_lab_vlm_config, ensure_lab_vlm, is_built
from leakage.progress import StageBars
from leakage.vlm import DEFAULT_QUESTIONS, VLMProbeConfig, load_vlm, run_vlm_probe

RESULTS = Path(__file__).resolve().parent / "results"


def probe(align_on: str, images_per_person: int, n_candidates: int, closed_set_all: bool = False) -> dict:
    bars = StageBars()
    config = default_lab_vlm_config(align_on)
    was_built = is_built(config)
    lab = ensure_lab_vlm(config, progress=bars)
    vlm = load_vlm(lab.model_dir, name=f"lab-vlm ({align_on} alignment)")
    probe_config = VLMProbeConfig(
        questions=DEFAULT_QUESTIONS,
        anonymizations=tuple(setting.label for setting in default_sweep()),
        images_per_person=images_per_person,
        n_candidates=n_candidates,
        closed_set_all_settings=closed_set_all,
    )
    result = run_vlm_probe(vlm, scan_dataset(lab.attack_dir), probe_config, RunContext(dataset_id="lab-vlm", progress=bars))
    bars.close()
    by_setting = result.metrics.get("closed_set_by_setting", {})
    rows = []
    for label, entry in result.metrics["leak_rates"].items():
        auc = result.metrics["auc"] if label == "none" else by_setting.get(label, {}).get("auc")
        rows.append({
            "setting": label,
            "description": entry["description"],
            "members": entry["members"],
            "nonmembers": entry["nonmembers"],
            "members_full_name": entry["members_full_name"],
            "members_surname_only": entry["members_surname_only"],
            "nonmembers_surname_only": entry["nonmembers_surname_only"],
            "members_named": entry["members_people_named"],
            "nonmembers_named": entry["nonmembers_people_named"],
            "closed_set_auc": auc,
        })
    return {
        "align_on": align_on,
        "lab": lab.describe(),
        "build_seconds": lab.build_seconds if not was_built else None,
        "recorded_build_seconds": lab.build_seconds,
        "training": lab.training,
        "auc": result.metrics["auc"],
        "tpr_at_fpr": result.metrics["tpr_at_fpr"],
        "leak_rate_by_question": result.metrics["leak_rate_by_question"],
        "rows": rows,
        "probe_seconds": result.timing["total_seconds"],
        "config_hash": result.config_hash,
    }


def _cell(value) -> str:
    return "  -  " if value is None else f"{value:.2f}"


def table(report: dict) -> str:
    lines = [
        f"lab VLM aligned on {report['align_on']} photos (built in {report['recorded_build_seconds']:.0f} s; "
        f"closed-set AUC {report['auc']:.3f}, TPR at 1% FPR {report['tpr_at_fpr']['0.01']:.2f})",
        f"| {'setting':<18} | members named (answers) | non-members named (answers) | closed-set AUC |",
        f"|{'-' * 20}|{'-' * 25}|{'-' * 29}|{'-' * 16}|",
    ]
    for row in report["rows"]:
        lines.append(
            f"| {row['setting']:<18} | {_cell(row['members']):>23} | {_cell(row['nonmembers']):>27} | {_cell(row['closed_set_auc']):>14} |"
        )
    return "\n".join(lines)


def comparison(reports: dict[str, dict]) -> str:
    """Members' leak rate side by side for the two alignments, on the settings that tell them apart."""
    if set(reports) != {"blurred", "raw"}:
        return ""
    blurred = {row["setting"]: row for row in reports["blurred"]["rows"]}
    raw = {row["setting"]: row for row in reports["raw"]["rows"]}
    lines = [
        "members' leak rate by alignment data",
        f"| {'setting':<18} | aligned on face-blurred photos | aligned on raw photos |",
        f"|{'-' * 20}|{'-' * 32}|{'-' * 23}|",
    ]
    for label in blurred:
        lines.append(f"| {label:<18} | {_cell(blurred[label]['members']):>30} | {_cell(raw[label]['members']):>21} |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--only", choices=("blurred", "raw"), default=None)
    parser.add_argument("--images-per-person", type=int, default=2)
    parser.add_argument("--candidates", type=int, default=50)
    parser.add_argument("--closed-set-all", action="store_true",
                        help="closed-set scores under every setting too (slow; bench/vlm_controls.py measures them under the face-blur "
                             "sweep and the whole-image mask)")
    parser.add_argument("--out", type=Path, default=RESULTS / "vlm_anonymization.json")
    args = parser.parse_args()
    started = time.perf_counter()
    reports = {}
    for align_on in ([args.only] if args.only else ["blurred", "raw"]):
        reports[align_on] = probe(align_on, args.images_per_person, args.candidates, args.closed_set_all)
        print(table(reports[align_on]), flush=True)
        print()
    text = comparison(reports)
    if text:
        print(text)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps({
        "machine": machine_info(),
        "questions": list(DEFAULT_QUESTIONS),
        "reports": reports,
        "seconds": time.perf_counter() - started,
    }, indent=2))
    print(f"\nwritten to {args.out}")


if __name__ == "__main__":
    main()
