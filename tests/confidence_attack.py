"""A fifth membership attack, whole, as the README's "Adding an attack" shows it: its declaration
and its run, nothing else. CLIP's zero-shot confidence in a person's own name among the people
under test, averaged over their photos (a weaker cousin of the IDIA: one prompt, probabilities
instead of votes). Everything else (CLI command and flags, generated page, run store, runs list,
comparison, report, audits) comes from the declaration; the membership defaults give it AUC, TPR
at low FPR, the ROC figures and the AUC verdict.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from leakage.attacks.base import Attack, RunContext
from leakage.results import AttackResult


@dataclass(frozen=True)
class ConfidenceConfig:
    template: str = field(default="a photo of {}", metadata={"help": "the prompt, {} where the name goes"})


def run(model: Any, data: Any, config: ConfidenceConfig, context: RunContext) -> AttackResult:
    import numpy as np

    from leakage.idia import AttackImage, embed_images
    from leakage.metrics import membership_summary
    from leakage.text_embeddings import encode_prompts

    people = data.names()
    images = [AttackImage(person, record.path, record.path) for person in people for record in data.people[person]]
    features, failures, _ = embed_images(model, images, context)  # batches, cache, progress and Cancel from the context
    names = encode_prompts(model, [config.template.format(person) for person in people], progress=context.progress,
                           cancel=context.cancel)
    logits = 100.0 * np.nan_to_num(features) @ names.T
    probabilities = np.exp(logits - logits.max(axis=1, keepdims=True))
    probabilities /= probabilities.sum(axis=1, keepdims=True)
    rows = []
    for column, person in enumerate(people):
        mine = [i for i, image in enumerate(images) if image.person == person and i not in failures]
        row = {"name": person, "score": float(probabilities[mine, column].mean()), "n_images": len(mine)}
        if data.members is not None and person in data.members:
            row["member"] = bool(data.members[person])
        rows.append(row)
    metrics: dict[str, Any] = {"n_identities": len(rows)}
    labels = [int(row["member"]) for row in rows if "member" in row]
    if 0 < sum(labels) < len(labels):
        metrics.update(membership_summary(labels, [row["score"] for row in rows if "member" in row], seed=0))
    return AttackResult(config={**asdict(config), "model": model.identifier}, metrics=metrics, identities=rows,
                        seeds={}, model=model.describe(), problems=[{"path": images[i].label, "reason": reason}
                                                                    for i, reason in failures.items()])


ATTACK = Attack(
    name="confidence",
    title="Zero-shot confidence in a person's own name",
    question="Was this person in the training data of this CLIP model?",
    explanation="The attacker asks CLIP which of the people's names fits each photo; a model trained on a person "
                "is more confident in their name.",
    attacker_has="a few photos and the name of a person",
    config=ConfidenceConfig,
    run=run,
    model_kind="clip",
    default_model="lab",
    default_data="lab",
)
