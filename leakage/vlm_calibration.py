"""Calibrated closed-set scores for the VLM probe: what the image adds to a name's likelihood.

The raw closed-set score is log p(name | image, question), the sum of the answer's token
log-probabilities. With a subword tokenizer a long or rare name splits into more tokens and gets
a lower likelihood whatever the model knows about the person, so a ROC over raw scores partly
measures name length and frequency. Two corrections, reported beside the raw score:

- ``calibrated`` (the default): pointwise mutual information between the name and the image,
  log p(name | image, question) - log p(name | reference image, question), where the reference is
  a blank mid-grey image of the same size. The name's prior under the question (its length,
  its frequency in the language data) cancels; what is left is how much *this* picture raises
  the name. This is "contextual calibration" (Zhao et al., 2021, "Calibrate before use") with a
  content-free image in place of a content-free text.
- ``per_token``: the mean log-probability per answer token, the usual length normalisation. It
  removes the length effect only to first order and none of the frequency effect.

For each kind the candidates' scores are turned into a log-posterior over the closed set (a
softmax across candidates, averaged over questions), as the probe always did for the raw score;
the person's score is the log-posterior of their own name.

The closed-set score itself is this project's extension: "The Phantom Menace" scores only open
answers (background.md §2).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from PIL import Image

SCORE_KINDS: tuple[str, ...] = ("calibrated", "raw", "per_token")
DEFAULT_SCORE_KIND = "calibrated"
REFERENCE_GREY = (128, 128, 128)

SCORE_DESCRIPTIONS: dict[str, str] = {
    "calibrated": "log p(name | image, question) - log p(name | blank grey image, question): what the image adds (pointwise mutual information)",
    "raw": "log p(name | image, question), summed over the name's tokens (favours short and frequent names)",
    "per_token": "log p(name | image, question) / number of the name's tokens (length-normalised)",
}


def check_score_kind(kind: str) -> str:
    if kind not in SCORE_KINDS:
        raise ValueError(f"closed-set score must be one of {', '.join(SCORE_KINDS)}, not {kind!r}")
    return kind


def reference_image(image: Image.Image) -> Image.Image:
    """The content-free input: a blank mid-grey image of the same size (the processor resizes
    both alike, and grey is the middle of every normalisation)."""
    return Image.new("RGB", image.size, REFERENCE_GREY)


class ClosedSetScorer:
    """Scores candidate answers under one image, raw, per token and against the reference image.

    `vlm` is a `leakage.vlm.LoadedVLM` (or anything with its `prompt`, `answer_token_ids` and
    `answer_logprobs` methods): this module stays below `leakage.vlm`, which imports it.

    The reference log-likelihoods depend only on the question, the answer and the image size, so
    each is computed once per run and reused for every image: calibration costs about one extra
    scoring pass per distinct candidate name, not one per image.
    """

    def __init__(self, vlm: Any, questions: Sequence[str], batch_size: int = 128):
        self.vlm = vlm
        self.questions = tuple(questions)
        self.batch_size = batch_size
        self._reference: dict[tuple[str, tuple[int, int], str], float] = {}
        self._lengths: dict[tuple[str, str], int] = {}

    def token_counts(self, question: str, answers: Sequence[str]) -> np.ndarray:
        prompt = None
        counts = []
        for answer in answers:
            key = (question, answer)
            if key not in self._lengths:
                prompt = prompt if prompt is not None else self.vlm.prompt(question)
                self._lengths[key] = max(1, len(self.vlm.answer_token_ids(prompt, answer)))
            counts.append(self._lengths[key])
        return np.array(counts, dtype=np.float64)

    def reference_logprobs(self, size: tuple[int, int], question: str, answers: Sequence[str]) -> np.ndarray:
        missing = [answer for answer in dict.fromkeys(answers) if (question, size, answer) not in self._reference]
        if missing:
            blank = Image.new("RGB", size, REFERENCE_GREY)
            for answer, value in zip(missing, self.vlm.answer_logprobs(blank, question, missing, self.batch_size)):
                self._reference[(question, size, answer)] = float(value)
        return np.array([self._reference[(question, size, answer)] for answer in answers], dtype=np.float64)

    def scores(self, image: Image.Image, answers: Sequence[str]) -> dict[str, np.ndarray]:
        """Per kind, an array (questions, answers) of scores; higher = the model prefers the answer."""
        raw = np.stack([self.vlm.answer_logprobs(image, question, answers, self.batch_size) for question in self.questions])
        reference = np.stack([self.reference_logprobs(image.size, question, answers) for question in self.questions])
        lengths = np.stack([self.token_counts(question, answers) for question in self.questions])
        return {"calibrated": raw - reference, "raw": raw, "per_token": raw / lengths}

    def entry(self, image: Image.Image, names: Sequence[str], person: str, answer_template: str = "{}", headline: str = DEFAULT_SCORE_KIND) -> dict[str, Any]:
        """The closed-set record of one image: the headline kind's fields at the top (the keys the
        probe always had), every kind under "scores"."""
        by_kind = self.scores(image, [answer_template.format(name) for name in names])
        return closed_set_entry(by_kind, names, person, headline)


def closed_set_entry(by_kind: Mapping[str, np.ndarray], names: Sequence[str], person: str, headline: str = DEFAULT_SCORE_KIND) -> dict[str, Any]:
    true = list(names).index(person)
    scores: dict[str, dict[str, Any]] = {}
    for kind, per_question in by_kind.items():
        per_question = np.atleast_2d(np.asarray(per_question, dtype=np.float64))
        log_posterior = (per_question - np.logaddexp.reduce(per_question, axis=1, keepdims=True)).mean(axis=0)
        scores[kind] = {
            "true_log_posterior": float(log_posterior[true]),
            "true_score": float(per_question[:, true].mean()),
            "rank": int((log_posterior > log_posterior[true]).sum()) + 1,
            "top": names[int(np.argmax(log_posterior))],
        }
    top = scores[headline]
    return {
        "true_log_posterior": top["true_log_posterior"],
        "rank": top["rank"],
        "top": top["top"],
        "n_candidates": len(names),
        "score_kind": headline,
        "scores": scores,
    }


def person_scores(entries: Sequence[Mapping[str, Any]]) -> dict[str, float]:
    """A person's score per kind: the mean log-posterior of their name over their images."""
    kinds = [kind for kind in SCORE_KINDS if all(kind in entry.get("scores", {}) for entry in entries)]
    return {kind: float(np.mean([entry["scores"][kind]["true_log_posterior"] for entry in entries])) for kind in kinds}


def score_metrics(labels: np.ndarray, rows: Sequence[Mapping[str, Any]], headline: str, n_boot: int = 200) -> dict[str, Any]:
    """AUC and TPR at low FPR for every score kind, from identity rows holding "scores"."""
    from leakage.metrics import membership_summary

    out: dict[str, Any] = {}
    for kind in SCORE_KINDS:
        if not rows or not all(kind in row.get("scores", {}) for row in rows):
            continue
        summary = membership_summary(labels, np.array([row["scores"][kind] for row in rows]), n_boot=n_boot)
        out[kind] = {
            "auc": summary["auc"],
            "auc_ci": summary["auc_ci"],
            "tpr_at_fpr": summary["tpr_at_fpr"],
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
