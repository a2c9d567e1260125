"""Finding (ii) of "The Phantom Menace" in the lab: does the context change how often the VLM names people?

Photographs the default lab VLM's members and non-members three ways, with the same pose and
light: in their usual context (own clothes, own usual background), on a neutral plain grey
background (own clothes), and in another person's usual context (that person's clothes and
background). Each set is probed with the face visible and with the face blurred (radius 32 px of
the 128-px photos, the face gone), and prints the leak rate per context; for the swapped context
also how often the answer names the person whose context was borrowed.

    python -m bench.vlm_context                          # writes bench/results/vlm_context.json
    python -m bench.vlm_context --images-per-person 1    # quicker
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import numpy as np

from bench.machine import machine_info
from leakage.answer_match import match_name
from leakage.context import RunContext
from leakage.data import scan_dataset
from leakage.lab.vlm import (
    default_lab_vlm_config,
    ensure_lab_vlm,
    write_context_dataset,
)
from leakage.lab.portraits import CONTEXTS
from leakage.progress import StageBars
from leakage.vlm import DEFAULT_QUESTIONS, VLMProbeConfig, load_vlm, run_vlm_probe

RESULTS = Path(__file__).resolve().parent / "results"
FACE_BLUR = "blur:32"


def borrowed_rate(result, partners: dict[str, str], setting: str, members: set[str]) -> dict[str, float | None]:
    """Share of answers that name the person whose context was borrowed, by whether that person is a member."""
    hits: dict[bool, list[bool]] = {True: [], False: []}
    for row in result.images:
        if row["setting"] != setting:
            continue
        owner = partners[row["person"]]
        hits[owner in members] += [match_name(answer["answer"], owner) is not None for answer in row["answers"]]
    return {
        "owner_member": float(np.mean(hits[True])) if hits[True] else None,
        "owner_nonmember": float(np.mean(hits[False])) if hits[False] else None,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--images-per-person", type=int, default=2)
    parser.add_argument("--candidates", type=int, default=50)
    parser.add_argument("--out", type=Path, default=RESULTS / "vlm_context.json")
    args = parser.parse_args()
    started = time.perf_counter()
    bars = StageBars()
    lab = ensure_lab_vlm(default_lab_vlm_config(), progress=bars)
    vlm = load_vlm(lab.model_dir, name="lab-vlm")
    members = set(lab.members)
    config = VLMProbeConfig(
        questions=DEFAULT_QUESTIONS, anonymizations=(FACE_BLUR,), images_per_person=args.images_per_person,
        n_candidates=args.candidates, closed_set_all_settings=True,
    )
    rows = []
    with tempfile.TemporaryDirectory(prefix="vlm-context-") as scratch:
        for context in CONTEXTS:
            folder, partners = write_context_dataset(lab, Path(scratch) / context, context, args.images_per_person, progress=bars)
            result = run_vlm_probe(vlm, scan_dataset(folder), config, RunContext(dataset_id=f"lab-vlm/{context}", progress=bars))
            rates = result.metrics["leak_rates"]
            by_setting = result.metrics.get("closed_set_by_setting", {})
            row = {
                "context": context,
                "members": rates["none"]["members"],
                "nonmembers": rates["none"]["nonmembers"],
                "members_face_blurred": rates[FACE_BLUR]["members"],
                "nonmembers_face_blurred": rates[FACE_BLUR]["nonmembers"],
                "auc": result.metrics["auc"],
                "auc_face_blurred": by_setting.get(FACE_BLUR, {}).get("auc"),
                "raw_auc": result.metrics.get("raw", {}).get("auc"),
                "headline": result.metrics.get("closed_set_score"),
                "auc_by_score": {kind: entry["auc"] for kind, entry in result.metrics.get("by_score", {}).items()},
                "members_surname_only": rates["none"]["members_surname_only"],
                "nonmembers_surname_only": rates["none"]["nonmembers_surname_only"],
                "probe_seconds": result.timing["total_seconds"],
            }
            if partners:
                row["names_context_owner"] = borrowed_rate(result, partners, "none", members)
                row["names_context_owner_face_blurred"] = borrowed_rate(result, partners, FACE_BLUR, members)
            rows.append(row)
    bars.close()
    print(f"lab VLM ({len(lab.members)} members, {len(lab.nonmembers)} non-members), {args.images_per_person} photos each, "
          f"{len(DEFAULT_QUESTIONS)} questions; share of answers naming the person")
    print("| context | members | members, face blurred | non-members | non-members, face blurred | closed-set AUC, headline (face blurred) |")
    print("|---|---|---|---|---|---|")
    for row in rows:
        print(f"| {row['context']} | {row['members']:.2f} | {row['members_face_blurred']:.2f} | {row['nonmembers']:.3f} | "
              f"{row['nonmembers_face_blurred']:.3f} | {row['auc']:.3f} ({row['auc_face_blurred']:.3f}) |")
    swapped = next(row for row in rows if row["context"] == "swapped")
    owner, owner_blurred = swapped["names_context_owner"], swapped["names_context_owner_face_blurred"]
    print(f"\nswapped context: answers naming the person whose clothes and background were borrowed: "
          f"{owner['owner_member']:.2f} when that person is a member ({owner_blurred['owner_member']:.2f} face blurred), "
          f"{owner['owner_nonmember']:.3f} when not")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps({
        "machine": machine_info(),
        "lab": lab.describe(),
        "images_per_person": args.images_per_person,
        "questions": list(DEFAULT_QUESTIONS),
        "face_blur": FACE_BLUR,
        "rows": rows,
        "seconds": time.perf_counter() - started,
    }, indent=2))
    print(f"\n{time.perf_counter() - started:.0f} s; written to {args.out}")


if __name__ == "__main__":
    main()
