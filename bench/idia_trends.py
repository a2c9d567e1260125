"""The published IDIA trends, reproduced in the lab: TPR rises with how often a person appears in
training (occurrences) and with how many attack images the attacker has (k).

Builds a sweep lab whose members appear 1, 2, 4, 8, 16 or 32 times in training, encodes every
attack image once, then re-votes for each k over repeated random draws (the paper's protocol).

    python -m bench.idia_trends            # prints the tables, writes bench/results/idia_trends.json
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np

from bench.machine import machine_info
from leakage.context import RunContext
from leakage.data import scan_dataset
from leakage.idia import (
    IDIAConfig,
    candidate_names,
    collect_images,
    draw_images,
    embed_images,
    person_scores,
    score_images,
)
from leakage.lab.build import LabConfig, ensure_lab
from leakage.models import load_clip
from leakage.progress import StageBars
from leakage.text_embeddings import prompt_embeddings

SWEEP_LAB = LabConfig(seed=1, n_members=120, n_nonmembers=120, occurrences=(1, 2, 4, 8, 16, 32))
IMAGES_PER_PERSON = (1, 3, 5, 10, 20)


def run(n_draws: int = 10, tau: int = 1) -> dict:
    bars = StageBars()
    lab = ensure_lab(SWEEP_LAB, progress=bars)
    clip = load_clip(lab.clip_model_name, str(lab.clip_checkpoint))
    dataset = scan_dataset(lab.attack_dir)
    config = IDIAConfig(tau=tau)
    images, by_person, _ = collect_images(dataset, config)
    # One population at every k, as the paper (people with fewer than min_images are left out at every k;
    # the authors use 30, the lab renders 20 a person, so the default is the largest k of the sweep).
    min_images = max(IMAGES_PER_PERSON)
    people = sorted(person for person, indices in by_person.items() if len(indices) >= min_images)
    images = [image for image in images if image.person in set(people)]
    by_person = {person: [i for i, image in enumerate(images) if image.person == person] for person in people}
    candidates = candidate_names(people, config.n_candidates, config.seed)
    index = {name: i for i, name in enumerate(candidates)}
    text, _ = prompt_embeddings(clip, config.templates, candidates)
    features, _, _ = embed_images(clip, images, RunContext(progress=bars))
    bars.close()
    truth = np.array([index[image.person] for image in images])
    predictions = score_images(features, text, truth, float(clip.model.logit_scale.detach().exp()), config.top_k)

    occurrence_of = {name: lab.members.get(name, 0) for name in people}
    levels = sorted(set(occurrence_of.values()) - {0})
    table = []
    for k in IMAGES_PER_PERSON:
        per_draw = []
        for draw in range(n_draws):
            scores = person_scores(draw_images(by_person, k, seed=1000 * k + draw), predictions, index)
            predicted = {name: scores[name]["correct_prompts"] >= tau for name in people}
            row = {f"tpr_occ_{level}": np.mean([predicted[n] for n in people if occurrence_of[n] == level]) for level in levels}
            row["tpr_all"] = np.mean([predicted[n] for n in people if occurrence_of[n] > 0])
            row["fpr"] = np.mean([predicted[n] for n in people if occurrence_of[n] == 0])
            per_draw.append(row)
        table.append(
            {"k": k, **{key: {"mean": float(np.mean([r[key] for r in per_draw])), "std": float(np.std([r[key] for r in per_draw]))} for key in per_draw[0]}}
        )
    return {"lab": lab.describe(), "tau": tau, "n_draws": n_draws, "levels": levels, "table": table,
            "min_images": min_images, "n_people": len(people)}


def format_table(result: dict) -> str:
    levels = result["levels"]
    header = "k  | " + " | ".join(f"occ {level:>2}" for level in levels) + " | all members | non-members (FPR)"
    lines = [f"IDIA TPR at tau={result['tau']} (mean ± std over {result['n_draws']} draws)", header, "-" * len(header)]
    for row in result["table"]:
        cells = [f"{row[f'tpr_occ_{level}']['mean']:.2f}±{row[f'tpr_occ_{level}']['std']:.2f}" for level in levels]
        lines.append(
            f"{row['k']:<2} | " + " | ".join(f"{c:>6}" for c in cells)
            + f" | {row['tpr_all']['mean']:.2f}±{row['tpr_all']['std']:.2f}   | {row['fpr']['mean']:.3f}±{row['fpr']['std']:.3f}"
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--draws", type=int, default=10)
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "results" / "idia_trends.json")
    args = parser.parse_args()
    started = time.perf_counter()
    result = run(args.draws)
    result["seconds"] = round(time.perf_counter() - started, 1)
    result["machine"] = machine_info()
    print(format_table(result))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2))
    print(f"written to {args.out}")


if __name__ == "__main__":
    main()
