"""The closed-set scores' name-length bias on the lab VLM with a BPE tokenizer (`lab-vlm-bpe`).

Builds (or reuses) the lab VLM variant whose tokenizer is byte-pair encoding trained on the lab
texts (names take 3 to 10 tokens), probes it, and prints for each closed-set score kind (the
image-conditional identity z-score and posterior gain; raw, per-token and the blind baseline,
which measure name familiarity; the grey-image PMI) the Spearman correlation between a person's
name length in tokens and their score, for non-members (whom the model cannot know: any
correlation is bias) and members, and the closed-set AUC.

    python -m bench.vlm_calibration                      # writes bench/results/vlm_calibration.json
    python -m bench.vlm_calibration --images-per-person 2 --language-steps 300 --alignment-steps 300   # quicker
"""

from __future__ import annotations

import json
import time

import numpy as np

from bench import lab_vlm_variant, lab_vlm_variant_arguments
from bench.machine import machine_info
from leakage.context import RunContext
from leakage.data import scan_dataset
from leakage.lab.vlm import bpe_lab_vlm_config
from leakage.progress import StageBars
from leakage.vlm import (
    DEFAULT_QUESTIONS,
    VLMProbeConfig,
    load_vlm,
    run_vlm_probe,
    scored_answer_ids,
)
from leakage.vlm_calibration import SCORE_KINDS, spearman



def length_bias(result, vlm, question: str) -> dict:
    """Spearman(name length in tokens, score) per score kind, for non-members and for members."""
    rows = [row for row in result.identities if "scores" in row and "member" in row]
    lengths = {row["name"]: len(ids) for row, ids in zip(rows, scored_answer_ids(vlm, question, [row["name"] for row in rows]))}
    out: dict = {"name_tokens": {}}
    for group, wanted in (("nonmembers", False), ("members", True)):
        chosen = [row for row in rows if row["member"] is wanted]
        x = [lengths[row["name"]] for row in chosen]
        out["name_tokens"][group] = {"min": min(x), "max": max(x), "mean": sum(x) / len(x)} if x else None
        out[group] = {kind: spearman(x, [row["scores"][kind] for row in chosen]) for kind in SCORE_KINDS}
    return out


def score_spread(result) -> dict:
    """Per kind, the mean and spread of the true name's score before normalising over the candidates
    (for the calibrated kind: the pointwise mutual information), and the share ranked first."""
    members = {row["name"]: row["member"] for row in result.identities if "member" in row}
    out: dict = {}
    for kind in SCORE_KINDS:
        groups: dict[str, dict[str, list]] = {"members": {"score": [], "first": []}, "nonmembers": {"score": [], "first": []}}
        for image in result.images:
            entry = image.get("closed_set", {}).get("scores", {}).get(kind)
            if entry is None or image["person"] not in members:
                continue
            group = groups["members" if members[image["person"]] else "nonmembers"]
            group["score"].append(entry.get("true_score", entry["value"]))  # z and Δq are not normalised over the candidates
            group["first"].append(entry["rank"] == 1)
        out[kind] = {
            name: {"mean": float(np.mean(g["score"])), "sd": float(np.std(g["score"])), "top1": float(np.mean(g["first"]))}
            for name, g in groups.items() if g["score"]
        }
    return out


def main() -> None:
    args = lab_vlm_variant_arguments(__doc__, "vlm_calibration.json")
    started = time.perf_counter()
    bars = StageBars()
    lab, was_built = lab_vlm_variant(bpe_lab_vlm_config(), args, bars)
    vlm = load_vlm(lab.model_dir, name="lab-vlm (BPE tokenizer)")
    probe_config = VLMProbeConfig(questions=DEFAULT_QUESTIONS, images_per_person=args.images_per_person, n_candidates=args.candidates)
    result = run_vlm_probe(vlm, scan_dataset(lab.attack_dir), probe_config, RunContext(dataset_id="lab-vlm-bpe", progress=bars))
    bars.close()
    bias = length_bias(result, vlm, DEFAULT_QUESTIONS[0])
    by_score = result.metrics["by_score"]
    rates = result.metrics["leak_rates"]["none"]
    report = {
        "machine": machine_info(),
        "lab": lab.describe(),
        "built_now_seconds": None if was_built else lab.build_seconds,
        "recorded_build_seconds": lab.build_seconds,
        "training": lab.training,
        "vocabulary": len(vlm.tokenizer),
        "probe": {"images_per_person": args.images_per_person, "n_candidates": args.candidates, "questions": list(DEFAULT_QUESTIONS)},
        "leak_rate": {"members": rates["members"], "nonmembers": rates["nonmembers"]},
        "length_bias": bias,
        "true_name_score": score_spread(result),
        "auc": {kind: by_score[kind]["auc"] for kind in by_score},
        "auc_ci": {kind: by_score[kind]["auc_ci"] for kind in by_score},
        "tpr_at_1pct_fpr": {kind: by_score[kind]["tpr_at_fpr"]["0.01"] for kind in by_score},
        "probe_seconds": result.timing["total_seconds"],
        "closed_set_seconds": result.timing["closed_set_seconds"],
        "seconds": time.perf_counter() - started,
    }
    tokens = bias["name_tokens"]["nonmembers"]
    print(f"lab VLM with a BPE tokenizer ({report['vocabulary']} tokens; built in {lab.build_seconds:.0f} s); "
          f"non-members' names take {tokens['min']}-{tokens['max']} tokens (mean {tokens['mean']:.1f})")
    print(f"open answers name members in {rates['members']:.2f} of answers, non-members in {rates['nonmembers']:.3f}")
    print("| closed-set score | Spearman(name tokens, score), non-members | same, members | AUC (95% CI) | TPR at 1% FPR |")
    print("|---|---|---|---|---|")
    for kind in SCORE_KINDS:
        low, high = report["auc_ci"][kind]
        cell = lambda v: "–" if v is None else f"{v:+.2f}"
        print(f"| {kind} | {cell(bias['nonmembers'][kind])} | {cell(bias['members'][kind])} | "
              f"{report['auc'][kind]:.3f} ({low:.3f}–{high:.3f}) | {report['tpr_at_1pct_fpr'][kind]:.2f} |")
    print("\ntrue name's score before normalising over the candidates (mean ± sd; share of images where it ranks first)")
    print("| closed-set score | members | non-members |")
    print("|---|---|---|")
    for kind, groups in report["true_name_score"].items():
        cells = [f"{g['mean']:.2f} ± {g['sd']:.2f} (top-1 {g['top1']:.2f})" for g in (groups.get("members"), groups.get("nonmembers")) if g]
        print(f"| {kind} | " + " | ".join(cells) + " |")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2))
    print(f"\n{time.perf_counter() - started:.0f} s; written to {args.out}")


if __name__ == "__main__":
    main()
