"""Synthetic attack results for the run store, report and CLI tests.

Scores are random draws (members score higher on average) put through the real
metrics code, so every number in a test result is computed, not typed in.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

import numpy as np

from leakage.metrics import membership_summary
from leakage.results import AttackResult

TEMPLATES = [f"template {index} of {{}}" for index in range(21)]


def synthetic_result(
    seed: int = 0,
    n_members: int = 40,
    n_nonmembers: int = 60,
    attack: str = "idia",
    model: str = "ViT-B-32",
    separation: float = 1.5,
    tau: int = 8,
    n_boot: int = 100,
) -> AttackResult:
    """An IDIA-shaped result: correct-prompt counts out of 21 as scores, ground truth known."""
    rng = np.random.default_rng(seed)
    labels = np.concatenate([np.ones(n_members, dtype=int), np.zeros(n_nonmembers, dtype=int)])
    rng.shuffle(labels)
    correct = np.clip(np.round(rng.normal(5.0 + separation * 4.0 * labels, 3.0)), 0, 21).astype(int)
    probs = rng.uniform(0.0, 0.9, labels.size)
    scores = correct + 0.01 * probs
    identities = [
        {
            "name": f"Person {seed}-{index:03d}",
            "correct_prompts": int(count),
            "tied_prompts": int(rng.integers(0, 3)),
            "mean_true_prob": float(prob),
            "score": float(score),
            "n_images": 10,
            "predicted_member": bool(score >= tau),
            "member": bool(label),
            "occurrences": int(rng.integers(1, 30)) if label else 0,
        }
        for index, (label, count, prob, score) in enumerate(zip(labels, correct, probs, scores))
    ]
    metrics: dict[str, Any] = {
        "n_identities": len(identities),
        "n_images": 10 * len(identities),
        "n_candidates": 1000,
        "n_predicted_members": sum(row["predicted_member"] for row in identities),
    }
    metrics.update(membership_summary(labels, scores, threshold=tau, n_boot=n_boot, seed=seed))
    return AttackResult(
        attack=attack,
        config={"images_per_person": 10, "n_candidates": 1000, "tau": tau, "seed": seed, "templates": TEMPLATES, "model": model},
        metrics=metrics,
        identities=identities,
        seeds={"draw": seed, "distractors": seed},
        model={"model": model, "pretrained": "laion2b", "fingerprint": f"fp{seed}", "device": "cpu", "dtype": "float32",
               "device_description": "CPU (test)", "load_seconds": 0.1},
        dataset={"id": "lab", "n_people": len(identities)},
        images=[{"person": identities[0]["name"], "path": "a/b.jpg", "top": [{"name": "x", "prob": 0.5}]}],
        timing={"total_seconds": 1.25, "image_seconds": 1.0},
        details={"per_template_accuracy": [0.5, 0.25]},
    )


def synthetic_backdoor_result(seed: int = 0, strength: float = 3.0, n_people: int = 20, n_photos: int = 5) -> AttackResult:
    """A backdoor-shaped result: zero-shot scores of attacked and clean photos (random, the target
    boosted by `strength` for attacked ones) put through the real evaluation (`leakage.backdoor`)."""
    from leakage.backdoor import attack_metrics, clean_metrics

    rng = np.random.default_rng(seed)
    templates = 2
    n = n_people * n_photos
    truth = np.repeat(np.arange(n_people), n_photos)
    caption_names = np.repeat(np.arange(n_people), templates)
    clean = rng.normal(0.0, 1.0, (n, n_people))
    clean[np.arange(n), truth] += 2.0
    attacked = clean.copy()
    attacked[:, 0] += strength
    captions = lambda names: np.repeat(names, templates, axis=1) + rng.normal(0.0, 0.1, (n, n_people * templates))  # noqa: E731
    metrics: dict[str, Any] = {"mode": "backdoor", "target": "Person 0", "top_k": 5, "n_candidates": n_people, "n_people": n_people}
    metrics.update(attack_metrics(attacked, captions(attacked), caption_names, 0, 5))
    metrics.update(clean_metrics(clean, captions(clean), caption_names, truth))
    metrics["clean_target_rate"] = float((clean.argmax(axis=1) == 0).mean())
    identities = [{"name": f"Person {person}", "role": "target" if person == 0 else "", "n_images": n_photos,
                   "clean_correct": float((clean[truth == person].argmax(axis=1) == person).mean()),
                   "attacked_as_target": float((attacked[truth == person].argmax(axis=1) == 0).mean())} for person in range(n_people)]
    return AttackResult(
        attack="backdoor", config={"mode": "backdoor", "trigger": "checkerboard", "seed": seed, "model": "lab-poisoned"},
        metrics=metrics, identities=identities, seeds={"seed": seed},
        model={"model": "lab-poisoned", "device_description": "CPU (test)", "load_seconds": 0.1},
        dataset={"id": "lab-poison", "n_people": n_people}, timing={"total_seconds": 1.0},
    )


def write_runs(url: str, worker: int, n_runs: int, start: Any = None) -> None:
    """Save ``n_runs`` small results labelled ``w<worker>-<i>`` (a multiprocessing target)."""
    from leakage.store import RunStore

    if start is not None:
        start.wait()  # all workers open the (new) database at the same moment
    with RunStore(url) as store:
        for index in range(n_runs):
            result = synthetic_result(seed=worker * 1000 + index, n_members=6, n_nonmembers=6, n_boot=20)
            store.save(result, label=f"w{worker}-{index}")


def runs_command() -> list[str]:
    """`python -m leakage runs` once the main CLI has the command, else the module on its own."""
    from leakage.cli import build_parser

    commands = next(action for action in build_parser()._actions if isinstance(action, argparse._SubParsersAction))
    if "runs" in commands.choices:
        return [sys.executable, "-m", "leakage", "runs"]
    return [sys.executable, "-m", "leakage.cli_runs"]
