"""Closed-set scores of the VLM probe: what the photo reveals about a name, told apart from what the
name alone gives away.

For every image x and question the probe scores each candidate name n as the answer,
s(n, x) = log p(n | x, question) over the name's tokens (teacher forcing), and the same under a
content-free reference image, a blank mid-grey image of the same size: r(n) = log p(n | grey,
question). Every score below is derived from these two, with no other model pass, except in
small runs (see the identity z-score), and each is averaged over all the probe's questions.

**What the photo reveals** (image-conditional; the headline is one of these, chosen by the controls
in `bench/vlm_controls.py`, rule in the README):

- ``identity_z``: the identity z-score, an offline LiRA (Carlini et al., 2022; background.md §10).
  z(n, x) = (s(n, x) - mean s(n, x')) / sd s(n, x'), over the photos x' of *other people* under
  which the same name was scored in the same run (same question, same anonymization). The name's
  length, tokenization and prior are in both terms and cancel by construction; a name the model
  does not know lands near N(0, 1); identical images (the whole image masked) give 0. Runs where
  some person's name was scored on fewer than `MIN_REFERENCE_PHOTOS` photos of others (one
  person, a few people) score every name on a fixed reference set of other people's photos
  instead (`reference_people`: people of a lab world no lab model was trained on).
- ``posterior_gain``: Δq = q(n | x) - q(n | grey), q the softmax share of the name among the
  candidates. 0 when the photo adds nothing; bounded; a name the model does not know has a share
  of about 0 under both images, so it adds about 0, not noise.

**Name familiarity (no photo needed)**: ``raw`` (log p(n | x) summed over the tokens), ``per_token``
(divided by the number of tokens scored) and ``blind`` (the name under the grey image alone, the
blind baseline of Das, Zhang & Tramèr, 2024). They measure whether the language model knows the
name, which stays true with the whole image masked: a text-membership question, not what the photo
shows. Raw, per-token and blind are turned into a log-posterior over the closed set (softmax
across the candidates).

**Diagnostic**: ``calibrated``, the grey-image PMI s(n, x) - r(n) (contextual calibration, Zhao et
al., 2021, with a content-free image). For a name the model never saw both terms are tiny and
their difference is noise larger than a member's signal (issue 21); kept to show it.

The closed-set score itself is this project's extension: "The Phantom Menace" scores only open
answers (background.md §2).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:  # PIL is imported where images are made, so the CLI's parser stays light
    from PIL import Image

SCORE_KINDS: tuple[str, ...] = ("identity_z", "posterior_gain", "calibrated", "raw", "per_token", "blind")
IMAGE_CONDITIONAL: tuple[str, ...] = ("identity_z", "posterior_gain")
NAME_FAMILIARITY: tuple[str, ...] = ("raw", "per_token", "blind")
DIAGNOSTIC: tuple[str, ...] = ("calibrated",)
LOG_POSTERIOR_KINDS: tuple[str, ...] = ("calibrated", "raw", "per_token", "blind")
"""Kinds turned into a log-posterior over the closed set; the others are averaged as they are."""
DEFAULT_SCORE_KIND = "identity_z"
"""Chosen by the controls (bench/results/vlm_controls.json, "chosen"; a test keeps the two equal)."""
REFERENCE_GREY = (128, 128, 128)
MIN_REFERENCE_PHOTOS = 10
"""Photos of other people a name must have been scored on in the run for its z-score to use the
run itself as the reference; below that, the fixed reference set is scored."""
REFERENCE_PHOTOS = 24
"""Photos in the fixed reference set (one per reference person)."""
REFERENCE_WORLD_SEED = 90_210
"""The lab world the fixed reference people come from: no lab model is trained on it."""
SD_FLOOR = 0.01
"""Nats: the smallest spread a z-score divides by (a reference of identical images does not vary)."""
NOISE = 1e-3
"""Nats: differences below this are float noise (the same image scored in another batch), and count as 0."""

GROUP_PHOTO = "what the photo reveals"
GROUP_FAMILIARITY = "name familiarity (no photo needed)"
GROUP_DIAGNOSTIC = "diagnostic"

SCORE_LABELS: dict[str, str] = {
    "identity_z": "identity z-score",
    "posterior_gain": "posterior gain Δq",
    "calibrated": "grey-image PMI",
    "raw": "raw log-likelihood",
    "per_token": "per-token log-likelihood",
    "blind": "blind baseline (grey image only)",
}

SCORE_DESCRIPTIONS: dict[str, str] = {
    "identity_z": "(log p(name | photo) - mean over other people's photos) / their sd: how much more this photo raises "
                  "the name than photos of other people do (offline LiRA)",
    "posterior_gain": "q(name | photo) - q(name | blank grey image), q the name's share among the candidates",
    "calibrated": "log p(name | photo) - log p(name | blank grey image) (pointwise mutual information; noisy for unknown names)",
    "raw": "log p(name | photo), summed over the name's tokens: whether the language model knows the name",
    "per_token": "log p(name | photo) / number of the name's tokens scored",
    "blind": "log p(name | blank grey image): the name with no photo at all",
}


def score_group(kind: str) -> str:
    if kind in IMAGE_CONDITIONAL:
        return GROUP_PHOTO
    return GROUP_FAMILIARITY if kind in NAME_FAMILIARITY else GROUP_DIAGNOSTIC


def check_score_kind(kind: str) -> str:
    if kind not in SCORE_KINDS:
        raise ValueError(f"closed-set score must be one of {', '.join(SCORE_KINDS)}, not {kind!r}")
    return kind


def reference_image(image: Image.Image) -> Image.Image:
    """The content-free input: a blank mid-grey image of the same size (the processor resizes
    both alike, and grey is the middle of every normalisation)."""
    return reference_image_of_size(image.size)


def reference_image_of_size(size: tuple[int, int]) -> Image.Image:
    from PIL import Image

    return Image.new("RGB", size, REFERENCE_GREY)


def reference_people(n: int = REFERENCE_PHOTOS, size: int = 128) -> list[tuple[Image.Image, tuple[int, int, int, int]]]:
    """The fixed reference set: one photo (with its face box) of each of n people of a lab world no
    lab model was trained on, as "other people" for the identity z-score of small runs."""
    from leakage.lab.portraits import render
    from leakage.lab.world import make_world

    world = make_world(REFERENCE_WORLD_SEED, n)
    return [render(person, 0, world_seed=REFERENCE_WORLD_SEED, size=size) for person in world.identities]


@dataclass
class ImageScores:
    """The closed set of one image: its candidates' log-likelihoods under it and under the grey
    image, and how many tokens each scored; every array is (questions, candidates)."""

    person: str
    names: list[str]
    raw: np.ndarray
    reference: np.ndarray
    tokens: np.ndarray


class ClosedSetScorer:
    """Scores candidate answers under one image and under the grey reference image.

    `vlm` is a `leakage.vlm.LoadedVLM` (or anything with its `scored_answer_ids` and
    `answer_logprobs` methods): this module stays below `leakage.vlm`, which imports it.

    The reference log-likelihoods depend only on the question, the answer and the image size, so
    each is computed once per run and reused for every image: about one extra scoring pass per
    distinct candidate name, not one per image.
    """

    def __init__(self, vlm: Any, questions: Sequence[str], batch_size: int = 128):
        self.vlm = vlm
        self.questions = tuple(questions)
        self.batch_size = batch_size
        self._reference: dict[tuple[str, tuple[int, int], str], float] = {}

    def token_counts(self, question: str, answers: Sequence[str]) -> np.ndarray:
        """How many tokens `answer_logprobs` scores for each answer (the per-token denominators)."""
        return np.array([max(1, len(ids)) for ids in self.vlm.scored_answer_ids(question, answers)], dtype=np.float64)

    def reference_logprobs(self, size: tuple[int, int], question: str, answers: Sequence[str]) -> np.ndarray:
        missing = [answer for answer in dict.fromkeys(answers) if (question, size, answer) not in self._reference]
        if missing:
            blank = reference_image_of_size(size)
            for answer, value in zip(missing, self.vlm.answer_logprobs(blank, question, missing, self.batch_size)):
                self._reference[(question, size, answer)] = float(value)
        return np.array([self._reference[(question, size, answer)] for answer in answers], dtype=np.float64)

    def score(self, image: Image.Image, answers: Sequence[str], person: str = "", names: Sequence[str] | None = None) -> ImageScores:
        """The image's closed set: `answers` scored under it and under the grey image."""
        raw = np.stack([self.vlm.answer_logprobs(image, question, answers, self.batch_size) for question in self.questions])
        reference = np.stack([self.reference_logprobs(image.size, question, answers) for question in self.questions])
        tokens = np.stack([self.token_counts(question, answers) for question in self.questions])
        return ImageScores(person, list(names if names is not None else answers), raw, reference, tokens)

    def scores(self, image: Image.Image, answers: Sequence[str]) -> dict[str, np.ndarray]:
        """Per kind that needs no other image, an array (questions, answers); higher = the model prefers the answer."""
        return per_question_scores(self.score(image, answers))


def _softmax(values: np.ndarray) -> np.ndarray:
    return np.exp(values - np.logaddexp.reduce(values, axis=-1, keepdims=True))


def per_question_scores(scores: ImageScores) -> dict[str, np.ndarray]:
    """Every kind but the identity z-score (which needs the run), (questions, candidates) each."""
    return {
        "posterior_gain": _softmax(scores.raw) - _softmax(scores.reference),
        "calibrated": scores.raw - scores.reference,
        "raw": scores.raw,
        "per_token": scores.raw / scores.tokens,
        "blind": scores.reference,
    }


# --------------------------------------------------------------------------- the identity z-score


@dataclass(frozen=True)
class NameReference:
    """A name's scores under other people's photos, per question: mean, sd and how many photos."""

    mean: np.ndarray
    sd: np.ndarray
    count: int


def _reference_of(values: np.ndarray) -> NameReference:
    count = int(values.shape[0])
    if count < 2:
        nothing = np.full(values.shape[1], np.nan)
        return NameReference(nothing, nothing, count)
    return NameReference(values.mean(axis=0), values.std(axis=0, ddof=1), count)


def name_references(images: Sequence[ImageScores]) -> dict[str, NameReference]:
    """Per candidate name, its scores under the photos of everyone else (one condition: the same
    questions and anonymization): the run's other people, or the fixed reference set."""
    by_name: dict[str, list[np.ndarray]] = {}
    for image in images:
        for column, name in enumerate(image.names):
            if image.person != name:
                by_name.setdefault(name, []).append(image.raw[:, column])
    return {name: _reference_of(np.stack(rows)) for name, rows in by_name.items()}


def fewest_reference_photos(images: Sequence[ImageScores]) -> int:
    """The fewest photos of others any probed person's own name was scored on in the run."""
    references = name_references(images)
    people = {image.person for image in images}
    return min((references[person].count if person in references else 0) for person in people) if people else 0


def identity_z(scores: ImageScores, references: Mapping[str, NameReference]) -> np.ndarray:
    """z per question and candidate; 0 for a name with no reference (no evidence either way)."""
    z = np.zeros_like(scores.raw)
    for column, name in enumerate(scores.names):
        reference = references.get(name)
        if reference is None or reference.count < 2:
            continue
        difference = scores.raw[:, column] - reference.mean
        z[:, column] = np.where(np.abs(difference) < NOISE, 0.0, difference) / np.maximum(reference.sd, SD_FLOOR)
    return z


# --------------------------------------------------------------------------- entries and metrics


def closed_set_entry(by_kind: Mapping[str, np.ndarray], names: Sequence[str], person: str, headline: str = DEFAULT_SCORE_KIND) -> dict[str, Any]:
    """The closed-set record of one image from per-kind (questions, candidates) arrays: for each kind
    the true name's value (averaged over questions; a log-posterior over the closed set for the
    likelihood kinds), its rank among the candidates and the top name; the headline kind's at the top."""
    true = list(names).index(person)
    scores: dict[str, dict[str, Any]] = {}
    for kind, per_question in by_kind.items():
        per_question = np.atleast_2d(np.asarray(per_question, dtype=np.float64))
        extra: dict[str, float] = {}
        if kind in LOG_POSTERIOR_KINDS:
            values = (per_question - np.logaddexp.reduce(per_question, axis=1, keepdims=True)).mean(axis=0)
            extra = {"true_log_posterior": float(values[true]), "true_score": float(per_question[:, true].mean())}
        else:
            values = per_question.mean(axis=0)
        scores[kind] = {
            "value": float(values[true]),
            "rank": int((values > values[true]).sum()) + 1,
            "top": names[int(np.argmax(values))],
            **extra,
        }
    top = scores[headline]
    return {
        "value": top["value"],
        "rank": top["rank"],
        "top": top["top"],
        "n_candidates": len(names),
        "score_kind": headline,
        "scores": scores,
    }


def condition_entries(images: Mapping[Any, ImageScores], references: Mapping[str, NameReference], headline: str) -> dict[Any, dict[str, Any]]:
    """Closed-set records of the images of one condition (setting or control), with the z-score
    against `references`."""
    entries = {}
    for key, scores in images.items():
        by_kind = {"identity_z": identity_z(scores, references), **per_question_scores(scores)}
        entries[key] = closed_set_entry(by_kind, scores.names, scores.person, headline)
    return entries


def person_scores(entries: Sequence[Mapping[str, Any]]) -> dict[str, float]:
    """A person's score per kind: the mean of their name's value over their images."""
    kinds = [kind for kind in SCORE_KINDS if all(kind in entry.get("scores", {}) for entry in entries)]
    return {kind: float(np.mean([entry["scores"][kind]["value"] for entry in entries])) for kind in kinds}


def score_metrics(labels: np.ndarray, rows: Sequence[Mapping[str, Any]], headline: str, n_boot: int = 200) -> dict[str, Any]:
    """AUC (with its bootstrap CI) and TPR at low FPR for every score kind, from identity rows
    holding "scores" (or plain {kind: score} mappings)."""
    from leakage.metrics import membership_summary

    out: dict[str, Any] = {}
    for kind in SCORE_KINDS:
        values = [row.get("scores", row).get(kind) for row in rows]
        if not rows or any(value is None for value in values):
            continue
        summary = membership_summary(labels, np.array(values, dtype=np.float64), n_boot=n_boot)
        out[kind] = {
            "auc": summary["auc"],
            "auc_ci": summary["auc_ci"],
            "tpr_at_fpr": summary["tpr_at_fpr"],
            "label": SCORE_LABELS[kind],
            "group": score_group(kind),
            "description": SCORE_DESCRIPTIONS[kind],
            "headline": kind == headline,
        }
    return out


def spearman(x: Sequence[float], y: Sequence[float]) -> float | None:
    """Spearman's rank correlation (ties averaged); None when either side is constant."""
    from scipy.stats import spearmanr

    if len(x) < 3 or len(set(x)) < 2 or len(set(y)) < 2:
        return None
    return float(spearmanr(x, y).statistic)
