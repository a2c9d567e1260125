"""Controls of the VLM probe's closed-set scores: which of them measure what the photo reveals.

On the lab VLM and the BPE lab VLM, the members' and non-members' held-out photos are probed in
their usual context (original, and with the face blurred at 8, 16 and 32 px), on a neutral grey
background and in another person's clothes and background; with the two controls (the whole image
masked; each person's name scored on another person's photos). The blind baseline is a score of
its own (the name under a grey image, no photo). For every score: the AUC (members against
non-members, 95% bootstrap CI) in each condition, and the Spearman correlation between that AUC
and the members' open-answer leak rate across the conditions. The headline is then chosen by RULE
and the result written to bench/results/vlm_controls.json (the page and the README show it).

    python -m bench.vlm_controls                                  # both lab VLMs (built first if missing)
    python -m bench.vlm_controls --only lab-vlm-bpe --images-per-person 1 --out /tmp/controls.json
    python -m bench.vlm_controls --choose-again                  # RULE on the measurements already written
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

from bench import RESULTS_DIR, write_results
from bench.machine import machine_info
from leakage.data import scan_dataset
from leakage.lab.portraits import CONTEXTS
from leakage.catalog import lab_model
from leakage.context import RunContext
from leakage.lab.vlm import ensure_lab_vlm, is_built, write_context_dataset
from leakage.progress import StageBars
from leakage.vlm import DEFAULT_QUESTIONS, VLMProbeConfig, load_vlm, run_vlm_probe
from leakage.vlm_calibration import IMAGE_CONDITIONAL, SCORE_KINDS, spearman
from leakage.vlm_views import BENCH_CONDITIONS, bench_controls_table

LAB_VLMS = ("lab-vlm", "lab-vlm-bpe")
"""The lab VLMs the controls run on (catalog entries: the same recipe, word or BPE tokens)."""
FACE_BLUR_SWEEP = ("blur:8", "blur:16", "blur:32")
USUAL_AUC, CHANCE, TRACKING = 0.8, 0.1, 0.5
RULE = (f"Rule: the headline is a score with AUC >= {USUAL_AUC} on each lab VLM in the usual context, AUC at chance "
        f"({0.5 - CHANCE:.1f} to {0.5 + CHANCE:.1f}) with the whole image masked and with mismatched photos, and a Spearman "
        f"correlation >= {TRACKING} between its AUC and the members' leak rate across the conditions (it tracks the open "
        "answers); among those, the highest mean Spearman over the two lab VLMs, then the highest mean usual AUC. An AUC "
        f"below {0.5 - CHANCE:.1f} under a control is not chance: the score still tells members apart without the photo, inverted.")


def condition(by_score: dict[str, Any], rates: dict[str, Any]) -> dict[str, Any]:
    keys = ("members", "nonmembers", "members_full_name", "members_surname_only", "nonmembers_full_name", "nonmembers_surname_only")
    return {"by_score": {kind: {"auc": entry["auc"], "auc_ci": entry["auc_ci"]} for kind, entry in by_score.items()},
            "leak_rates": {key: rates.get(key) for key in keys if key in rates}}


def measure(name: str, images_per_person: int, candidates: int, bars: StageBars) -> dict[str, Any]:
    config = lab_model(name).config
    was_built = is_built(config)
    lab = ensure_lab_vlm(config, progress=bars)
    vlm = load_vlm(lab.model_dir, name=name)
    conditions: dict[str, Any] = {}
    timing: dict[str, float] = {}
    reference = None
    with tempfile.TemporaryDirectory(prefix="vlm-controls-") as scratch:
        for context in CONTEXTS:
            folder, _ = write_context_dataset(lab, Path(scratch) / context, context, images_per_person, progress=bars)
            usual = context == "usual"
            probe_config = VLMProbeConfig(
                questions=DEFAULT_QUESTIONS, anonymizations=FACE_BLUR_SWEEP if usual else (), images_per_person=images_per_person,
                n_candidates=candidates, closed_set_all_settings=usual, controls=usual,
            )
            result = run_vlm_probe(vlm, scan_dataset(folder), probe_config, RunContext(dataset_id=f"{name}/{context}", progress=bars))
            metrics = result.metrics
            timing[context] = result.timing["total_seconds"]
            conditions[context] = condition(metrics["by_score"], metrics["leak_rates"]["none"])
            if usual:
                reference = metrics.get("identity_reference")
                for label in FACE_BLUR_SWEEP:
                    conditions[label] = condition(metrics["closed_set_by_setting"][label]["by_score"], metrics["leak_rates"][label])
                for control in ("masked", "mismatched"):
                    conditions[control] = condition(metrics["controls"][control]["by_score"], metrics["controls"][control]["leak_rates"])
    order = [key for key, _ in BENCH_CONDITIONS if key in conditions]
    leak = [conditions[key]["leak_rates"]["members"] for key in order]
    tracking = {kind: spearman([conditions[key]["by_score"][kind]["auc"] for key in order], leak) for kind in SCORE_KINDS}
    contexts_only = {kind: spearman([conditions[key]["by_score"][kind]["auc"] for key in CONTEXTS],
                                    [conditions[key]["leak_rates"]["members"] for key in CONTEXTS]) for kind in SCORE_KINDS}
    return {
        "lab": lab.describe(),
        "built_now_seconds": None if was_built else lab.build_seconds,
        "recorded_build_seconds": lab.build_seconds,
        "probe": {"images_per_person": images_per_person, "n_candidates": candidates, "questions": list(DEFAULT_QUESTIONS),
                  "closed_set_questions": "all (scores averaged over them)"},
        "identity_reference": reference,
        "conditions": conditions,
        "spearman_with_leak_rate": tracking,
        "spearman_with_leak_rate_three_contexts": contexts_only,
        "probe_seconds": timing,
    }


def markdown(frame) -> str:
    """A table as README Markdown."""
    lines = ["| " + " | ".join(map(str, frame.columns)) + " |", "|" + "---|" * len(frame.columns)]
    lines += ["| " + " | ".join(map(str, row)) + " |" for row in frame.itertuples(index=False)]
    return "\n".join(lines)


def passes(model: dict[str, Any], kind: str, at_most_only: bool = False) -> bool:
    """RULE for one score on one lab VLM; at_most_only: the controls need only AUC <= 0.6 (the issue's
    wording), not chance from both sides."""
    conditions = model["conditions"]
    auc = lambda key: conditions[key]["by_score"][kind]["auc"]  # noqa: E731
    tracking = model["spearman_with_leak_rate"].get(kind)
    at_chance = lambda value: value <= 0.5 + CHANCE and (at_most_only or value >= 0.5 - CHANCE)  # noqa: E731
    return (auc("usual") >= USUAL_AUC and at_chance(auc("masked")) and at_chance(auc("mismatched"))
            and tracking is not None and tracking >= TRACKING)


def choose(models: dict[str, dict[str, Any]], at_most_only: bool = False) -> tuple[str | None, dict[str, dict[str, bool]]]:
    """The headline by RULE over every lab VLM measured, and which score passes on which model."""
    verdicts = {kind: {name: passes(model, kind, at_most_only) for name, model in models.items()} for kind in SCORE_KINDS}
    eligible = [kind for kind in SCORE_KINDS if all(verdicts[kind].values())]
    if not eligible:
        return None, verdicts

    def merit(kind: str) -> tuple[float, float]:
        return (float(np.mean([model["spearman_with_leak_rate"][kind] for model in models.values()])),
                float(np.mean([model["conditions"]["usual"]["by_score"][kind]["auc"] for model in models.values()])))

    return max(eligible, key=merit), verdicts


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--only", choices=LAB_VLMS, default=None)
    parser.add_argument("--images-per-person", type=int, default=1)
    parser.add_argument("--candidates", type=int, default=50)
    parser.add_argument("--load-note", default="", help="how busy the machine was, for the README and the page")
    parser.add_argument("--out", type=Path, default=RESULTS_DIR / "vlm_controls.json")
    parser.add_argument("--choose-again", action="store_true",
                        help="measure nothing: apply RULE to the measurements already in --out and write it back")
    args = parser.parse_args()
    started = time.perf_counter()
    if args.choose_again:
        previous = json.loads(Path(args.out).read_text())
        models, machine, seconds = previous["models"], previous["machine"], previous["seconds"]
        load_note = args.load_note or previous.get("load_note", "")
    else:
        bars = StageBars()
        models = {name: measure(name, args.images_per_person, args.candidates, bars) for name in ([args.only] if args.only else LAB_VLMS)}
        bars.close()
        machine, seconds, load_note = machine_info(), None, args.load_note
    chosen, verdicts = choose(models)
    lenient, lenient_verdicts = choose(models, at_most_only=True)
    for name, model in models.items():
        model["headline"] = chosen
        print(f"\n{name}: {model['lab']['n_members']} members, {model['lab']['n_nonmembers']} non-members, "
              f"{model['probe']['images_per_person']} photo(s) each, {len(model['probe']['questions'])} questions, "
              f"{model['probe']['n_candidates']} names per closed set")
        print(markdown(bench_controls_table(model)))
    print(f"\n{RULE}\npasses: " + ", ".join(f"{kind} {'yes' if all(v.values()) else 'no'}" for kind, v in verdicts.items()))
    print(f"chosen: {chosen}" + ("" if chosen in IMAGE_CONDITIONAL else "  (no image-conditional score passed)"))
    print(f"with the controls only at most {0.5 + CHANCE:.1f} (not chance from both sides): "
          + ", ".join(kind for kind, v in lenient_verdicts.items() if all(v.values())) + f" pass; that rule would choose {lenient}")
    path = write_results(Path(args.out).stem, {
        "machine": machine,
        "load_note": load_note,
        "rule": RULE,
        "chosen": chosen,
        "passes": verdicts,
        "passes_with_controls_at_most_0.6": lenient_verdicts,
        "chosen_with_controls_at_most_0.6": lenient,
        "models": models,
        "seconds": seconds if seconds is not None else time.perf_counter() - started,
    }, Path(args.out).parent)
    print(f"\n{time.perf_counter() - started:.0f} s; written to {path}")


if __name__ == "__main__":
    main()
