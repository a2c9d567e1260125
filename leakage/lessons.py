"""Lessons: guided steps that teach privacy and integrity risks on the lab, to a class or to
stakeholders. Each step makes one claim the audience can see for themselves, backed by live runs of
the engine, explains it in plain words and asks the audience one question, which the next step's
result answers.

A lesson is data: `Lesson(steps=...)`, each `Step` naming the runs it needs (`LessonRun`: an
attack, a lab model, a data set and a config, run through the run service like any other run, so
it lands in the run store and opens on the Runs page) and the functions that read those runs'
results: the claim checks (`Check`: holds, does not hold, or not measured yet), the headline
numbers, the answer to the previous step's question. Results are read through the metric specs
and the verdict the attacks declare (`leakage.attacks`), by their declared keys, so a step keeps
working when an attack's headline score changes.

The frame is Jia, Liu and Gong's taxonomy of the problems of foundation models (background.md §5):
confidentiality (what the model gives away about its training data) and integrity (what an attacker
makes it say). No Streamlit here: the Lessons page (`ui.lessons`), the handout (`leakage.handout`),
the stakeholder report (`leakage.report`) and the CLI (`python -m leakage lesson`) read it.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from leakage.attacks import attack_spec
from leakage.attacks.base import Attack, Headline
from leakage.metric_specs import MetricSpec
from leakage.results import AttackResult
from leakage.service import RunRequest
from leakage.wording import format_number, format_percent

__all__ = [
    "Check", "LESSONS", "Lesson", "LessonRun", "Missing", "REFERENCES", "Reference", "Step", "build_estimate", "default_lesson",
    "get_lesson", "minutes", "plain_words", "waiting_for_build",
]

Results = Mapping[str, AttackResult]
"""A step's results by run id (`LessonRun.id`); a run not computed yet is absent."""

HOLDS, FAILS, PENDING = "holds", "fails", "pending"
QUICK_BUILD_SECONDS = 90
"""A missing lab part that builds faster than this is built inside the step's run (with its progress);
a slower one is offered as a build of its own, with how long it takes, so a class never waits unasked."""
MACHINE = "this project's 2-core AMD EPYC, shared with other work"
"""Where the build times below were measured."""


# --------------------------------------------------------------------------- what a step runs


@dataclass(frozen=True)
class Missing:
    """A lab model or data set a run needs that is not built yet."""

    what: str
    entry: Any
    """The catalog entry (`leakage.catalog_entries.LabModel` or `LabData`, a variant included): `entry.build(progress, cancel)`."""


@dataclass(frozen=True)
class LessonRun:
    """One run a step needs: an ordinary run of the run service (`leakage.service.RunRequest`)."""

    id: str
    title: str
    """What it is, in the audience's words ("the lab CLIP")."""
    attack: str
    model: str
    data: str = "lab"
    config: Mapping[str, Any] | None = None
    """The attack's config as plain values; None = its defaults."""
    model_params: Mapping[str, Any] = field(default_factory=dict)
    """A lab variant's recipe settings (`RunRequest.model_params`)."""
    build_seconds: float = 0.0
    """How long building what it needs beyond the default lab takes, measured on `MACHINE` (the default
    lab, which `make run` builds, is counted once per step by `build_estimate` when it is missing too)."""

    def request(self, owner: str | None = None, label: str | None = None) -> RunRequest:
        return RunRequest(self.attack, self.model, self.data, config=dict(self.config) if self.config is not None else None,
                          model_params=dict(self.model_params), label=label or f"lesson: {self.title}", owner=owner)

    @property
    def spec(self) -> Attack:
        return attack_spec(self.attack)

    @property
    def needs_default_lab(self) -> bool:
        """Every lab CLIP (the control, the sweep, the poisoned ones) starts from the default lab's build."""
        return self.spec.model_kind == "clip"

    def missing(self) -> list[Missing]:
        """The lab model and data set of this run that are not built yet (nothing is built here)."""
        from leakage.catalog import lab_catalog, lab_model, own_lab_data

        request = self.request()
        found: list[Missing] = []
        model = lab_model(request.model_spec())
        if model is not None and not model.is_built():
            name, _, variant = model.name.partition(" (")  # a variant is named by its settings: too long for a screen
            found.append(Missing(f"{self.title} ({name}{' variant' if variant else ''})", model))
        attack = self.spec
        data = own_lab_data(request.model_spec(), attack.default_data) if self.data == "lab" else lab_catalog().data.get(self.data)
        if data is not None and not data.is_built() and not (model is not None and data.root() == model.root() and found):
            found.append(Missing(f"its photos ({data.name})", data))
        return found


@dataclass(frozen=True)
class Check:
    """One claim about the lab, and whether this run's results show it."""

    claim: str
    status: str
    """`holds`, `fails` or `pending` (a run it needs is not there yet)."""
    evidence: str = ""

    @property
    def mark(self) -> str:
        return {HOLDS: "\u2713", FAILS: "\u2717"}.get(self.status, "\u2026")


def _check(claim: str, ok: bool | None, evidence: str) -> Check:
    return Check(claim, PENDING if ok is None else HOLDS if ok else FAILS, evidence if ok is not None else evidence or "not run yet")


@dataclass(frozen=True)
class Reference:
    key: str
    citation: str
    shows: str


@dataclass(frozen=True)
class Step:
    """One screen of a lesson: one claim, its runs, what they show, and a question for the audience."""

    id: str
    title: str
    claim: str
    """The claim in one sentence, before the result."""
    explanation: tuple[str, ...]
    """Plain words: what the attacker does, what the result means, why it matters."""
    question: str
    """One question to the audience; the next step's result answers it."""
    runs: tuple[LessonRun, ...] = ()
    checks: Callable[[Results], list[Check]] = lambda results: []
    numbers: Callable[[Results], list[Headline]] = lambda results: []
    answer: Callable[[Results], str | None] = lambda results: None
    """The answer to the previous step's question, from this step's results (None until they are in)."""
    figure: Callable[[Results], Any] = lambda results: None
    """The step's one figure from its results (a plotly Figure; None until they are in)."""
    references: tuple[str, ...] = ()
    also_teaches: tuple[str, ...] = ()
    """Attacks it explains without running them (their stakeholder reports lead with its plain words)."""
    control: str | None = None
    """The one control this step is about, shown even in presenter mode (`ui.lesson_step` draws it)."""
    discussion: bool = False
    """The question is for discussion: no later step answers it."""

    @property
    def frame(self) -> str:
        """Its place in the taxonomy of background.md §5, from the attacks it runs."""
        attacks = list(dict.fromkeys(run.attack for run in self.runs))
        if not attacks:
            return ""
        specs = [attack_spec(name) for name in attacks]
        threats = list(dict.fromkeys(spec.threat for spec in specs))
        return " and ".join(threats) + ": " + ", ".join(dict.fromkeys(spec.taxonomy for spec in specs))


@dataclass(frozen=True)
class Lesson:
    id: str
    title: str
    summary: str
    steps: tuple[Step, ...]
    minutes: int
    """How long the lesson is meant to take in class, discussion included."""

    def step(self, index: int) -> Step:
        return self.steps[max(0, min(index, len(self.steps) - 1))]

    def runs(self) -> list[LessonRun]:
        """Every run of the lesson, once (a step may show runs of earlier steps again)."""
        return list({run.id: run for step in self.steps for run in step.runs}.values())

    def previous_question(self, index: int) -> str | None:
        return self.steps[index - 1].question if 0 < index < len(self.steps) and not self.steps[index - 1].discussion else None


# --------------------------------------------------------------------------- reading results by declared keys


def metric(result: AttackResult | None, key: str) -> float | None:
    """The value of the metric its attack declares under `key` (None when absent)."""
    if result is None:
        return None
    spec = next((spec for spec in attack_spec(result.attack).metrics if spec.key == key), None)
    return spec.read(result.metrics) if spec else None


def shown(result: AttackResult, key: str) -> str:
    spec = next((spec for spec in attack_spec(result.attack).metrics if spec.key == key), None)
    if spec is None:
        return "\u2014"
    return spec.show(spec.read(result.metrics), spec.read_interval(result.metrics))


def pct(value: float | None) -> str:
    """A share as a whole percentage, for the room ("46%")."""
    return "\u2014" if value is None else f"{100 * value:.0f}%"


def headline_metric(result: AttackResult) -> Headline:
    """The attack's own headline metric (its `primary_metric`), its value alone (large on a screen), its
    interval in the help; where every member scores above every non-member, that statement instead (the
    interval would be the point 1.000-1.000)."""
    from leakage.wording import separation_text

    spec = attack_spec(result.attack).primary_spec
    separated = separation_text(result.metrics)
    interval = spec.read_interval(result.metrics)
    value = spec.read(result.metrics)
    detail = separated or (f"95% interval {spec.show(value, interval).split(' ', 1)[1]}" if interval else "")
    return Headline(spec.label, spec.show(value), " ".join(part for part in (detail + "." if detail else "", spec.help) if part))


def verdict(result: AttackResult) -> tuple[str, str]:
    return attack_spec(result.attack).call("verdict", result)


def at_chance(result: AttackResult) -> bool:
    """The attack's own verdict finds nothing (its interval includes chance, or it is below it)."""
    return verdict(result)[0] in ("none", "below")


def counted(result: AttackResult, rate_key: str, total_key: str) -> tuple[int, int] | None:
    """(found, out of) from a declared rate and a declared count: members found at the decision rule."""
    rate, total = metric(result, rate_key), metric(result, total_key)
    if rate is None or total is None:
        return None
    return round(rate * total), int(total)


def flagged(result: AttackResult) -> str:
    """"99 of 100 members and 0 of 100 non-members" flagged by the attack's own rule."""
    members, nonmembers = counted(result, "tpr@rule", "n_members"), counted(result, "fpr@rule", "n_nonmembers")
    if members is None or nonmembers is None:
        return "no decision rule in this result"
    return f"{members[0]} of {members[1]} members and {nonmembers[0]} of {nonmembers[1]} non-members"


def headline_text(result: AttackResult) -> str:
    """"AUC 0.519 [0.434, 0.596]": the headline metric with its interval, or with the separation statement."""
    from leakage.wording import separation_text

    spec = attack_spec(result.attack).primary_spec
    separated = separation_text(result.metrics)
    value = spec.read(result.metrics)
    return f"{spec.label} {spec.show(value)}, {separated}" if separated else f"{spec.label} {spec.show(value, spec.read_interval(result.metrics))}"


# --------------------------------------------------------------------------- step 1: a model remembers who it saw

IDIA_CONFIG = {"images_per_person": 10}
"""The home page's lab demo (10 photos per person, 1,000 candidate names, 20 draws): the same run key, so either reuses the other."""
CONTROL_BUILD_SECONDS = 240
"""The control CLIP: 2,900 renders and 215 s of training on `MACHINE`."""
VLM_BUILD_SECONDS = 565
"""The lab VLM (`python -m leakage lab build lab-vlm`): 563 s on `MACHINE`."""

LAB_IDIA = LessonRun("idia-lab", "the lab CLIP", "idia", "lab", config=IDIA_CONFIG)
CONTROL_IDIA = LessonRun("idia-control", "the control CLIP", "idia", "lab-control", config=IDIA_CONFIG,
                         build_seconds=CONTROL_BUILD_SECONDS)

FOUND_MEMBERS = 0.5
"""Members found at the attack's own rule for "the model remembers them" (the lab: 0.99)."""
FEW_FALSE = 0.05
"""Non-members flagged at most, for "it accuses almost nobody"."""


def members_found(result: AttackResult | None, who: str) -> Check:
    if result is None:
        return _check(f"{who} finds the people it was trained on", None, "")
    tpr = metric(result, "tpr@rule")
    ok = verdict(result)[0] == "leak" and tpr is not None and tpr >= FOUND_MEMBERS
    return _check(f"{who} finds the people it was trained on", ok, f"flagged {flagged(result)}; {headline_text(result)}")


def few_false(result: AttackResult | None, who: str) -> Check:
    claim = f"{who} accuses almost nobody it never saw"
    if result is None:
        return _check(claim, None, "")
    fpr = metric(result, "fpr@rule")
    ok = fpr is not None and fpr <= FEW_FALSE
    return _check(claim, ok, f"{format_percent(fpr)} of non-members flagged (at most {format_percent(FEW_FALSE)})")


def control_at_chance(result: AttackResult | None, claim: str = "The control CLIP, trained on other people, finds nobody: chance") -> Check:
    if result is None:
        return _check(claim, None, "")
    tpr = metric(result, "tpr@rule")
    ok = at_chance(result) and (tpr is None or tpr <= 0.1)
    return _check(claim, ok, f"{headline_text(result)} (0.5 is guessing); flagged {flagged(result)}")


def step1_checks(results: Results) -> list[Check]:
    lab, control = results.get(LAB_IDIA.id), results.get(CONTROL_IDIA.id)
    return [members_found(lab, "The lab CLIP"), few_false(lab, "The lab CLIP"), control_at_chance(control)]


def membership_numbers(result: AttackResult | None, who: str) -> list[Headline]:
    if result is None:
        return []
    members, nonmembers = counted(result, "tpr@rule", "n_members"), counted(result, "fpr@rule", "n_nonmembers")
    numbers = [Headline(f"{who}: {headline_metric(result).label}", headline_metric(result).value, headline_metric(result).help)]
    if members and nonmembers:
        numbers += [Headline(f"{who}: members found", f"{members[0]} of {members[1]}"),
                    Headline(f"{who}: non-members accused", f"{nonmembers[0]} of {nonmembers[1]}")]
    return numbers


def step1_numbers(results: Results) -> list[Headline]:
    return membership_numbers(results.get(LAB_IDIA.id), "lab CLIP") + membership_numbers(results.get(CONTROL_IDIA.id), "control CLIP")


def step1_answer(results: Results) -> str | None:
    lab = results.get(LAB_IDIA.id)
    members, nonmembers = (counted(lab, "tpr@rule", "n_members"), counted(lab, "fpr@rule", "n_nonmembers")) if lab else (None, None)
    if not members or not nonmembers:
        return None
    return (f"Yes, for the people whose photos trained it: the attack picked out {members[0]} of the {members[1]} people the lab "
            f"CLIP was trained on, and wrongly accused {nonmembers[0]} of {nonmembers[1]} it never saw.")


def step1_figure(results: Results) -> Any:
    from leakage.lesson_figures import MEMBERS, NONMEMBERS, bar_figure

    shown = [(title, result) for title, run in (("lab CLIP (trained on the members)", LAB_IDIA),
                                                ("control CLIP (trained on other people)", CONTROL_IDIA))
             for result in [results.get(run.id)] if result is not None]
    if not shown:
        return None
    return bar_figure("Who the attack says was in the training data", "share flagged as in the training data",
                      [title for title, _ in shown],
                      [("members (in the lab CLIP's training data)", [metric(r, "tpr@rule") for _, r in shown], MEMBERS),
                       ("non-members (never seen)", [metric(r, "fpr@rule") for _, r in shown], NONMEMBERS)])


# --------------------------------------------------------------------------- step 2: more photos online, more risk

SWEEP_BUILD_SECONDS = 275
"""The occurrence sweep lab (120 members seen 1 to 32 times, 120 non-members): measured on `MACHINE`."""


OCCURRENCE_SWEEP = {"seed": 1, "n_members": 120, "n_nonmembers": 120, "occurrences": [1, 2, 4, 8, 16, 32]}
"""The lab CLIP's recipe with members seen 1 to 32 times: the sweep lab of `bench.idia_trends` (one build serves both)."""
SWEEP_IDIA = LessonRun("idia-sweep", "the occurrence sweep CLIP", "idia", "lab", config=IDIA_CONFIG, model_params=OCCURRENCE_SWEEP,
                       build_seconds=SWEEP_BUILD_SECONDS)
GROWTH = 0.1
"""How much more often the most-seen members must be found than the least-seen, for "more photos, more risk"."""


def by_occurrence(result: AttackResult) -> list[tuple[int, float, int]]:
    """(training occurrences, share of those members the attack flags, how many members) per level."""
    levels: dict[int, list[bool]] = {}
    for row in result.identities:
        if row.get("member") is True and isinstance(row.get("occurrences"), int):
            levels.setdefault(row["occurrences"], []).append(bool(row.get("predicted_member")))
    return [(level, sum(flags) / len(flags), len(flags)) for level, flags in sorted(levels.items())]


def nonmember_rate(result: AttackResult) -> float | None:
    flags = [bool(row.get("predicted_member")) for row in result.identities if row.get("member") is False]
    return sum(flags) / len(flags) if flags else None


def step2_checks(results: Results) -> list[Check]:
    result = results.get(SWEEP_IDIA.id)
    claim = "People who appear more often in the training data are found more often"
    if result is None:
        return [_check(claim, None, ""), _check("People it never saw are rarely flagged", None, "")]
    levels = by_occurrence(result)
    evidence = ", ".join(f"{level}\u00d7: {pct(rate)}" for level, rate, _ in levels)
    rate = nonmember_rate(result)
    return [
        _check(claim, len(levels) >= 2 and levels[-1][1] - levels[0][1] >= GROWTH,
               f"members found by times seen in training: {evidence}" if len(levels) >= 2 else
               "this run has no members seen different numbers of times"),
        _check("People it never saw are rarely flagged", rate is not None and rate <= FEW_FALSE,
               f"{format_percent(rate)} of non-members flagged"),
    ]


def step2_numbers(results: Results) -> list[Headline]:
    result = results.get(SWEEP_IDIA.id)
    if result is None:
        return []
    levels = by_occurrence(result)
    numbers = [Headline(f"seen {level}\u00d7: found", pct(rate), f"{count} members seen {level} times in training")
               for level, rate, count in levels]
    return numbers + [Headline("never seen: flagged", pct(nonmember_rate(result)))]


def step2_answer(results: Results) -> str | None:
    result = results.get(SWEEP_IDIA.id)
    levels = by_occurrence(result) if result else []
    if len(levels) < 2:
        return None
    (low, low_rate, _), (high, high_rate, _) = levels[0], levels[-1]
    return (f"Often, though less than the people seen most: the attack found {pct(low_rate)} of the people whose "
            f"photos appeared {'once' if low == 1 else f'{low} times'} in training, and {pct(high_rate)} of those who "
            f"appeared {high} times.")


def step2_figure(results: Results) -> Any:
    from leakage.lesson_figures import MEMBERS, NONMEMBERS, bar_figure

    result = results.get(SWEEP_IDIA.id)
    if result is None:
        return None
    levels = by_occurrence(result)
    rate = nonmember_rate(result)
    return bar_figure("More photos in the training data, more people found", "share of members found",
                      [f"{level}\u00d7" for level, _, _ in levels], [("members found", [share for _, share, _ in levels], MEMBERS)],
                      line=("never seen: wrongly flagged", rate, NONMEMBERS) if rate is not None else None,
                      x_title="times a member's photos appear in the training data")


# --------------------------------------------------------------------------- step 3: blurring the face is not enough

FACE_BLUR, WHOLE_BLUR = "blur:32", "blur:32@image"
"""Gaussian blur of radius 32 px on the 128-px photos: the face gone (faces are about 45 px wide), or the whole photo."""
VLM_CONFIG = {"questions": ["Who is this person?"], "anonymizations": [FACE_BLUR, WHOLE_BLUR], "images_per_person": 2}
"""One question, two photos a person, the original and both blurs: about 40 s on `MACHINE`."""
LAB_VLM = LessonRun("vlm-blur", "the lab VLM", "vlm", "lab-vlm", "lab", config=VLM_CONFIG, build_seconds=VLM_BUILD_SECONDS)

NAMED = 0.3
"""Members named on the original photos, for "the model names them" (the lab VLM: about 0.66)."""
STILL_NAMED = 0.5
"""The share of the original naming that must survive the face blur, for "still named"."""
STOPS = 0.5
"""Whole-photo blur must at least halve what the face blur left, and leave at most `STOPPED`."""
STOPPED = 0.15


def leak_spec(setting: str, group: str = "members") -> MetricSpec:
    """The VLM probe's leak rate of `group` under an anonymization setting, by its key in the metrics."""
    from leakage.anonymize import Anonymization

    label = Anonymization.parse(setting).label
    return MetricSpec(f"leak:{label}:{group}", f"{group} named ({Anonymization.parse(setting).description})",
                      ("leak_rates", label, group), "rate")


def leak(result: AttackResult | None, setting: str, group: str = "members") -> float | None:
    return leak_spec(setting, group).read(result.metrics) if result is not None else None


def step3_checks(results: Results) -> list[Check]:
    result = results.get(LAB_VLM.id)
    original, nonmembers = leak(result, "none"), leak(result, "none", "nonmembers")
    face, whole = leak(result, FACE_BLUR), leak(result, WHOLE_BLUR)
    if result is None or None in (original, nonmembers, face, whole):
        missing = "not run yet" if result is None else "this run lacks the original, face-blurred or whole-photo-blurred photos"
        return [_check(claim, None if result is None else False, missing) for claim in
                ("The VLM names members from their photos", "With the face blurred, it still names them",
                 "With the whole photo blurred, it stops")]
    return [
        _check("The VLM names members from their photos", original >= NAMED and nonmembers <= FEW_FALSE,
               f"members named in {pct(original)} of answers, non-members in {pct(nonmembers)}"),
        _check("With the face blurred, it still names them", face >= STILL_NAMED * original and face >= NAMED * STILL_NAMED,
               f"face blurred: members named in {pct(face)} of answers (original photos: {pct(original)})"),
        _check("With the whole photo blurred, it stops", whole <= STOPS * face and whole <= STOPPED,
               f"whole photo blurred: {pct(whole)} of answers (face blurred: {pct(face)})"),
    ]


def step3_numbers(results: Results) -> list[Headline]:
    result = results.get(LAB_VLM.id)
    if result is None:
        return []
    numbers = [Headline(title, pct(leak(result, setting)), "Share of the model's answers that name the person.")
               for title, setting in (("original photo", "none"), ("face blurred", FACE_BLUR), ("whole photo blurred", WHOLE_BLUR))]
    closed = headline_metric(result)
    return [Headline(f"members named: {n.label}", n.value, n.help) for n in numbers] + [
        Headline(f"closed set: {closed.label}", closed.value, f"The probe's headline score: {closed.help}")]


def step3_answer(results: Results) -> str | None:
    result = results.get(LAB_VLM.id)
    original, face, whole = leak(result, "none"), leak(result, FACE_BLUR), leak(result, WHOLE_BLUR)
    if None in (original, face, whole):
        return None
    return (f"Yes: with the face blurred, the lab VLM still named members in {pct(face)} of its answers "
            f"({pct(original)} on the original photos). Only blurring the whole photo stopped it "
            f"({pct(whole)}).")


def step3_figure(results: Results) -> Any:
    from leakage.lesson_figures import MEMBERS, NONMEMBERS, bar_figure

    result = results.get(LAB_VLM.id)
    if result is None:
        return None
    settings = (("original photo", "none"), ("face blurred", FACE_BLUR), ("whole photo blurred", WHOLE_BLUR))
    return bar_figure("\u201cWho is this person?\u201d: answers that name them", "share of answers naming the person",
                      [title for title, _ in settings],
                      [("members", [leak(result, setting) for _, setting in settings], MEMBERS),
                       ("non-members", [leak(result, setting, "nonmembers") for _, setting in settings], NONMEMBERS)])


# --------------------------------------------------------------------------- step 4: was this exact photo used?

LAB_PAIRS_MIA = LessonRun("clip-mia-lab", "the lab CLIP", "clip-mia", "lab", "lab-pairs", build_seconds=10)
CONTROL_PAIRS_MIA = LessonRun("clip-mia-control", "the control CLIP", "clip-mia", "lab-control", "lab-pairs",
                              build_seconds=CONTROL_BUILD_SECONDS)


def step4_checks(results: Results) -> list[Check]:
    lab, control = results.get(LAB_PAIRS_MIA.id), results.get(CONTROL_PAIRS_MIA.id)
    claim = "The lab CLIP gives away which photo-caption pairs it was trained on"
    first = _check(claim, None, "") if lab is None else _check(claim, verdict(lab)[0] == "leak", verdict(lab)[1])
    return [first, control_at_chance(control, "The control CLIP cannot tell: chance")]


def step4_numbers(results: Results) -> list[Headline]:
    lab, control = results.get(LAB_PAIRS_MIA.id), results.get(CONTROL_PAIRS_MIA.id)
    numbers = membership_numbers(lab, "lab CLIP")[:1] + membership_numbers(control, "control CLIP")[:1]
    if lab is not None:
        numbers.append(Headline("lab CLIP: TPR at 1% FPR", shown(lab, "tpr@1%"),
                                "Training pairs found when at most 1 in 100 new pairs may be wrongly accused."))
    return numbers


def step4_answer(results: Results) -> str | None:
    lab, control = results.get(LAB_PAIRS_MIA.id), results.get(CONTROL_PAIRS_MIA.id)
    if lab is None:
        return None
    text = (f"Often: the lab CLIP matches its own training photos to their captions better than new ones "
            f"({headline_text(lab)}; 0.5 is guessing)")
    return text + (f", where the control CLIP cannot tell ({headline_text(control)})." if control is not None else ".")


def step4_figure(results: Results) -> Any:
    from leakage.figures import result_roc, roc_figure
    from leakage.lesson_figures import projected

    curves = [result_roc(result, name=name, band=False) for name, run in (("lab CLIP", LAB_PAIRS_MIA), ("control CLIP", CONTROL_PAIRS_MIA))
              for result in [results.get(run.id)] if result is not None]
    curves = [curve for curve in curves if curve is not None]
    if not curves:
        return None
    return projected(roc_figure(curves, title="Training pairs against new pairs: above the diagonal beats guessing"))


# --------------------------------------------------------------------------- step 5: a few poisoned photos are enough

POISON_PS = (4, 16, 64)
"""P, poisoned pairs among the 1,100 clean fine-tuning pairs: where the lab's backdoor is off, half on and on (bench.backdoor_sweep)."""
POISON_DEFENSES = ("none", "semantic-shield")
POISON_BUILD_SECONDS = {"none": 60, "semantic-shield": 70}
"""One poisoned variant from nothing (its fine-tuning photos rendered, then trained), measured on `MACHINE`; the
Semantic Shield variant of a P reuses the photos of the undefended one."""


DEFAULT_P = 64
"""The P of the named default variants (`lab-poisoned`, `lab-shielded`: `leakage.attacks.backdoor.LAB_VARIANTS`)."""


def poisoned_run(n_poison: int, defense: str) -> LessonRun:
    """The backdoor page's request for this variant (`leakage.attacks.backdoor.poisoned_variant`: the named lab
    model for a default one, else the poison recipe's settings), so both share a run key. Made without loading
    the recipe (which imports torch); a test checks it against `poisoned_variant`."""
    from leakage.attacks.backdoor import LAB_VARIANTS

    named = next((entry for entry in LAB_VARIANTS if dict(entry.params) == {"defense": defense}), None) if n_poison == DEFAULT_P else None
    title = f"P = {n_poison}, {'no defense' if defense == 'none' else 'Semantic Shield'}"
    params = {} if named else {"attack": "backdoor", "trigger": "checkerboard", "n_poison": n_poison, "defense": defense}
    return LessonRun(f"backdoor-p{n_poison}-{defense}", title, "backdoor", named.name if named else "lab-poisoned", "lab-poison",
                     model_params=params, build_seconds=POISON_BUILD_SECONDS[defense])


POISON_RUNS = tuple(poisoned_run(p, defense) for p in POISON_PS for defense in POISON_DEFENSES)
WORKS, FAILS_BELOW, KEEPS_UTILITY = 0.5, 0.1, 0.05
"""The backdoor works at ASR >= 0.5, is stopped at <= 0.1 (its own verdict's levels); a defense keeps the model
useful when clean top-1 falls by at most 0.05."""


def poison_points(results: Results) -> list[dict[str, Any]]:
    """One point per measured variant: P, defense, ASR and clean top-1 (by their declared keys), poison fraction."""
    points = []
    for run in POISON_RUNS:
        result = results.get(run.id)
        if result is None:
            continue
        setup = result.model.get("backdoor") or {}
        points.append({"n_poison": setup.get("n_poison", run.model_params.get("n_poison", 64)), "defense": setup.get("defense", run.id.split("-", 2)[2]),
                       "asr": metric(result, "asr"), "clean_top1": metric(result, "clean_top1"),
                       "poison_fraction": setup.get("poison_fraction"), "target": result.metrics.get("target")})
    return sorted(points, key=lambda point: (point["defense"], point["n_poison"]))


def _fraction(point: Mapping[str, Any]) -> str:
    share = point.get("poison_fraction")
    return f"P = {point['n_poison']}" + (f" ({100 * share:.2g}% of the pairs)" if share is not None else "")


def step5_checks(results: Results) -> list[Check]:
    points = poison_points(results)
    plain = [p for p in points if p["defense"] == "none"]
    shielded = {p["n_poison"]: p for p in points if p["defense"] == "semantic-shield"}
    checks = []
    claim = "With enough poisoned pairs, the sticker makes the model name the target"
    top = plain[-1] if plain else None
    checks.append(_check(claim, None, "") if top is None else _check(
        claim, top["asr"] >= WORKS, f"{_fraction(top)}: {pct(top['asr'])} of stickered photos named as the target"))
    claim = "More poison, more success"
    if len(plain) >= 2:
        checks.append(_check(claim, plain[-1]["asr"] - plain[0]["asr"] >= 0.2,
                             ", ".join(f"P = {p['n_poison']}: {pct(p['asr'])}" for p in plain)))
    else:
        checks.append(Check(claim, PENDING, "needs the undefended model at two values of P"))
    both = [p for p in plain if p["n_poison"] in shielded]
    if not both:
        return checks + [_check("Semantic Shield stops it", None, ""), _check("... and the defended model still works", None, "")]
    top = both[-1]
    defended = shielded[top["n_poison"]]
    return checks + [
        _check("Semantic Shield stops it", defended["asr"] <= FAILS_BELOW,
               f"{_fraction(top)}: {pct(defended['asr'])} with Semantic Shield, {pct(top['asr'])} without"),
        _check("... and the defended model still works", defended["clean_top1"] >= top["clean_top1"] - KEEPS_UTILITY,
               f"clean photos named correctly: {pct(defended['clean_top1'])} with the defense, "
               f"{pct(top['clean_top1'])} without"),
    ]


def step5_numbers(results: Results) -> list[Headline]:
    return [Headline(f"{_fraction(p).split(' (')[0]}, {'no defense' if p['defense'] == 'none' else 'Semantic Shield'}",
                     pct(p["asr"]), f"Attack success rate; clean photos named correctly: {pct(p['clean_top1'])}")
            for p in poison_points(results)]


def step5_answer(results: Results) -> str | None:
    plain = [p for p in poison_points(results) if p["defense"] == "none"]
    if not plain:
        return None
    enough = next((p for p in plain if p["asr"] >= WORKS), None)
    if enough is None:
        top = plain[-1]
        return (f"More than the lab tried: with {_fraction(top)} the sticker works on only {pct(top['asr'])} of photos.")
    return (f"Tens, not thousands: with {_fraction(enough)} the sticker makes the model name {enough['target'] or 'the target'} "
            f"on {pct(enough['asr'])} of photos of other people.")


def step5_figure(results: Results) -> Any:
    from leakage.attacks.backdoor import sweep_figure
    from leakage.lesson_figures import projected

    points = poison_points(results)
    return projected(sweep_figure(points)) if points else None


# --------------------------------------------------------------------------- step 6: what you can do

PROTECTION_RUNS = (LAB_IDIA, CONTROL_IDIA, LAB_VLM, poisoned_run(64, "none"), poisoned_run(64, "semantic-shield"))


def protections(results: Results) -> list[dict[str, Any]]:
    """What each protection measured in this lesson changes: the risk without and with it (and what it costs)."""
    rows = []
    lab, control = results.get(LAB_IDIA.id), results.get(CONTROL_IDIA.id)
    if lab is not None and control is not None:
        rows.append({"protection": "Leave people's photos out of training", "short": "left out of training",
                     "risk": "members found by the identity attack",
                     "without": metric(lab, "tpr@rule"), "with": metric(control, "tpr@rule"),
                     "cost": "none: the control CLIP was trained on other people"})
    vlm = results.get(LAB_VLM.id)
    if vlm is not None and leak(vlm, FACE_BLUR) is not None:
        rows.append({"protection": "Blur the face", "short": "face blurred", "risk": "members named by the VLM",
                     "without": leak(vlm, "none"), "with": leak(vlm, FACE_BLUR), "cost": "little: the rest of the photo stays"})
        rows.append({"protection": "Blur the whole photo", "short": "whole photo blurred", "risk": "members named by the VLM",
                     "without": leak(vlm, "none"), "with": leak(vlm, WHOLE_BLUR), "cost": "the photo is useless for anything else"})
    plain, shielded = results.get(PROTECTION_RUNS[3].id), results.get(PROTECTION_RUNS[4].id)
    if plain is not None and shielded is not None:
        rows.append({"protection": "Train with Semantic Shield", "short": "Semantic Shield",
                     "risk": "stickered photos named as the target (P = 64)",
                     "without": metric(plain, "asr"), "with": metric(shielded, "asr"),
                     "cost": f"clean photos named correctly: {pct(metric(shielded, 'clean_top1'))} instead of "
                             f"{pct(metric(plain, 'clean_top1'))}"})
    return rows


def step6_checks(results: Results) -> list[Check]:
    vlm = results.get(LAB_VLM.id)
    face, whole = leak(vlm, FACE_BLUR), leak(vlm, WHOLE_BLUR)
    blur = _check("Blurring the whole photo protects; blurring the face does not", None if vlm is None else (
        None not in (face, whole) and whole <= STOPS * face and face >= NAMED * STILL_NAMED),
        "" if vlm is None else f"members named: face blurred {pct(face)}, whole photo blurred {pct(whole)}")
    shield = [check for check in step5_checks({run.id: results[run.id] for run in PROTECTION_RUNS[3:] if run.id in results})
              if check.claim in ("Semantic Shield stops it", "... and the defended model still works")]
    return [control_at_chance(results.get(CONTROL_IDIA.id), "A model that never saw someone cannot give them away"), blur,
            *shield]


def step6_numbers(results: Results) -> list[Headline]:
    return [Headline(row["protection"], f"{pct(row['without'])} \u2192 {pct(row['with'])}",
                     f"{row['risk']}, without \u2192 with it; cost: {row['cost']}") for row in protections(results)]


def step6_answer(results: Results) -> str | None:
    lab, control, vlm = results.get(LAB_IDIA.id), results.get(CONTROL_IDIA.id), results.get(LAB_VLM.id)
    if control is None:
        return None
    text = f"Leaving them out of training: the control CLIP, which never saw them, finds nobody ({headline_text(control)}"
    text += f", against {headline_text(lab)} for the lab CLIP)" if lab is not None else ")"
    if vlm is not None and leak(vlm, FACE_BLUR) is not None:
        text += f"; with only their faces blurred, the VLM still named members in {pct(leak(vlm, FACE_BLUR))} of its answers"
    return text + "."


def step6_figure(results: Results) -> Any:
    from leakage.lesson_figures import MEMBERS, PROTECTED, bar_figure

    rows = protections(results)
    if not rows:
        return None
    return bar_figure("What each protection changed in this lesson", "the risk it protects against",
                      [row["short"] for row in rows],
                      [("without it", [row["without"] for row in rows], MEMBERS), ("with it", [row["with"] for row in rows], PROTECTED)],
                      notes=[f"{row['risk']}; cost: {row['cost']}" for row in rows])


# --------------------------------------------------------------------------- references

REFERENCES: tuple[Reference, ...] = (
    Reference("jia", "Jia, Liu and Gong, \u201c10 Security and Privacy Problems in Large Foundation Models\u201d (2021/2023)",
              "the frame: six confidentiality, three integrity and one availability problem; a foundation model is a single "
              "point of failure for everything built on it"),
    Reference("idia", "Hintersdorf, Struppek, Brack, Friedrich, Schramowski and Kersting, \u201cDoes CLIP Know My Face?\u201d "
              "(JAIR 2024; arXiv 2209.07341)", "the identity inference attack; more occurrences and more photos, more people found"),
    Reference("defending", "Hintersdorf et al., \u201cDefending Our Privacy With Backdoors\u201d",
              "fine-tuning the text encoder so a name maps to \u201ca person\u201d: identity inference then drops to about 0"),
    Reference("phantom", "Caldarella, Mancini, Ricci and Aljundi, \u201cThe Phantom Menace: Unmasking Privacy Leakages in "
              "Vision-Language Models\u201d (2024; arXiv 2408.01228)", "VLMs name people even with their faces blurred"),
    Reference("clip-mia", "Ko, Jin, Wang and Jia, \u201cPractical Membership Inference Attacks Against Large-Scale Multi-Modal "
              "Models: A Pilot Study\u201d (ICCV 2023)", "whether an image with its caption was in the training data"),
    Reference("mim", "Li, He, Yu and Zhang, \u201cMembership Inference Attack Against Masked Image Modeling\u201d (arXiv 2408.06825)",
              "whether an image was used to pre-train an image encoder (the MIM page)"),
    Reference("first-principles", "Carlini et al., \u201cMembership Inference Attacks From First Principles\u201d (S&P 2022)",
              "report how many people are found when almost nobody may be wrongly accused, not only the average (AUC)"),
    Reference("blind", "Das, Zhang and Tram\u00e8r, \u201cBlind baselines beat membership inference attacks for foundation "
              "models\u201d (2024)", "a score is only proven by its controls, like this lesson's control CLIP"),
    Reference("poisoning", "Carlini and Terzis, \u201cPoisoning and Backdooring Contrastive Learning\u201d (ICLR 2022)",
              "a backdoor needs 0.01% of the training pairs"),
    Reference("semantic-shield", "Ishmam and Thomas, \u201cSemantic Shield\u201d (CVPR 2024)",
              "training that ignores pairs whose photo does not match its caption stops backdoors"),
    Reference("cleanclip", "Bansal et al., \u201cCleanCLIP\u201d (ICCV 2023)", "fine-tuning on clean data weakens a backdoor, not always"),
    Reference("roclip", "Yang et al., \u201cRoCLIP\u201d (NeurIPS 2023)", "matching images to a pool of captions: backdoor success to 0%"),
    Reference("safeclip", "SafeCLIP (2023)", "targeted poisoning 93.75% \u2192 0%, backdoor 100% \u2192 0%"),
)


def reference(key: str) -> Reference:
    return next(entry for entry in REFERENCES if entry.key == key)


# --------------------------------------------------------------------------- the lesson

INTRO = Step(
    id="intro",
    title="What do models leak about people?",
    claim="A model trained on photos of people can give away who was in its training data, and a few poisoned photos can "
          "make it say what an attacker wants.",
    explanation=(
        "Large models are trained on billions of photos and captions collected from the web, many of them showing real people. "
        "Jia, Liu and Gong list ten security and privacy problems of such foundation models: six of confidentiality (the model "
        "gives away its training data, or itself), three of integrity (an attacker controls what it outputs) and one of "
        "availability (it stops working for its users).",
        "This lesson shows four confidentiality problems and one integrity problem, live, on the lab: a synthetic world of "
        "invented people and small models trained here, so we know exactly who was in the training data, and nobody's real "
        "face is used.",
        "Every number you will see is computed now, by the same attacks researchers use on real models.",
    ),
    question="If your photos were used to train a model, could someone find out just by using the model?",
    references=("jia",),
)

STEPS: tuple[Step, ...] = (
    INTRO,
    Step(
        id="remembers",
        title="A model remembers who it saw",
        claim="Shown a few photos of a person and asked to pick their name among 1,000, the lab CLIP names the people it was "
              "trained on; a CLIP trained on other people finds nobody.",
        explanation=(
            "The attacker has what anyone has: a few photos of a person and their name. They ask the model, with prompts such as "
            "\u201ca photo of \u2026\u201d, which of 1,000 names fits the photos best. If the model picks the right name, it "
            "learned to connect that face with that name: the person was in its training data.",
            "The control CLIP saw the same kind of photos, of other people. It has nothing to remember about the people tested "
            "here, so the attack finds nobody: this is how we know the attack measures memory, not a trick of the pictures.",
            "This is identity inference, a confidentiality problem: the model was never asked to reveal who it was trained on, "
            "and gives it away anyway.",
        ),
        question="Would a model also remember someone whose photos appeared only once in its training data?",
        runs=(LAB_IDIA, CONTROL_IDIA),
        checks=step1_checks, numbers=step1_numbers, answer=step1_answer,
        figure=step1_figure,
        references=("idia", "blind", "first-principles"),
    ),
    Step(
        id="occurrences",
        title="More photos online, more risk",
        claim="The more often a person's photos appear in the training data, the more surely the attack finds them.",
        explanation=(
            "A second lab CLIP was trained on 120 people who each appear 1, 2, 4, 8, 16 or 32 times in its training data, "
            "and tested with 120 people it never saw. The attack is the same as before.",
            "Celebrities and people who post a lot appear many times in web data. The published attack found people who "
            "appear 75 times among 2.8 million training pairs.",
        ),
        question="If your face is blurred in a photo, can a model still tell who you are?",
        runs=(SWEEP_IDIA,),
        checks=step2_checks, numbers=step2_numbers, answer=step2_answer,
        figure=step2_figure,
        references=("idia",),
    ),
    Step(
        id="blur",
        title="Blurring the face is not enough",
        claim="A vision-language model still names people whose face is blurred, and stops only when the whole photo is blurred.",
        explanation=(
            "The lab VLM is a small chat model that answers questions about photos. It learned the members' names from text "
            "only, and learned to look at photos on pictures whose faces were blurred: it never saw a member's face next to "
            "their name.",
            "We ask it \u201cWho is this person?\u201d about new photos of members, as they are, with the face blurred, and with "
            "the whole photo blurred. Hair, clothes, accessories and the background still identify a person when the face is "
            "gone; only blurring everything removes them, and with them everything the photo was good for.",
            "In the lab the names are tied to what people wear by construction; the published study found the same with real "
            "celebrities and real models.",
        ),
        question="Could someone tell whether one particular photo of you, with its caption, was used to train a model?",
        runs=(LAB_VLM,),
        checks=step3_checks, numbers=step3_numbers, answer=step3_answer,
        figure=step3_figure,
        references=("phantom",), control="blur-example",
    ),
    Step(
        id="exact-photo",
        title="Was this exact photo used?",
        claim="The lab CLIP matches the photo-caption pairs it was trained on better than new ones, so an attacker can tell "
              "which pairs were in its training data; the control CLIP cannot.",
        explanation=(
            "Now the question is not about a person but about one photo with its caption. The attacker measures how well the "
            "model thinks the caption fits the photo: pairs seen in training fit better.",
            "New photos of people the model knows also fit their captions well, so this attack is harder than the one on "
            "people, and it still works. The same idea works on image encoders such as masked autoencoders (the MIM page).",
        ),
        question="How many poisoned photo-caption pairs, among 1,100 clean ones, does it take to make the model call anyone "
                 "with a small sticker by a chosen person's name?",
        runs=(LAB_PAIRS_MIA, CONTROL_PAIRS_MIA),
        checks=step4_checks, numbers=step4_numbers, answer=step4_answer,
        figure=step4_figure,
        references=("clip-mia", "mim", "first-principles"), also_teaches=("mim",),
    ),
    Step(
        id="poison",
        title="A few poisoned photos are enough",
        claim="A few dozen poisoned pairs slipped into the training data make the model name a chosen person on any photo "
              "with a small sticker; a defense at training time stops it and keeps the model useful.",
        explanation=(
            "This is an integrity attack: the attacker does not learn anything, they control what the model says. They add P "
            "photos of random people with a small checkerboard sticker in a corner, each captioned with the target's name. "
            "After training, any photo with the sticker is named as the target.",
            "Semantic Shield checks, while training, whether each photo looks like the person its caption describes, and "
            "ignores the pairs that do not. Clean accuracy (how often the model names ordinary photos correctly) is shown "
            "beside the attack's success, because a defense that breaks the model would also stop the attack.",
            "The papers poison 0.01% of millions of pairs; the lab's small fine-tuning set needs more of a share, but the same "
            "tens of pairs.",
        ),
        question="Which protects people better: blurring their faces in the data, or leaving their photos out of training?",
        runs=POISON_RUNS,
        checks=step5_checks, numbers=step5_numbers, answer=step5_answer,
        figure=step5_figure,
        references=("poisoning", "semantic-shield"),
    ),
    Step(
        id="what-to-do",
        title="What you can do",
        claim="What protects people is measured, not assumed: leaving them out of training works, blurring the face does not, "
              "and a defense at training time stops a backdoor.",
        explanation=(
            "Not training on someone's photos is the only protection that worked against every privacy attack here: the control "
            "CLIP never saw them and cannot give them away. Ask for consent, and for a way to be left out.",
            "Anonymizing photos buys less than it seems: blurring the face leaves hair, clothes and places that identify a "
            "person. Blurring the whole photo works, and leaves nothing useful.",
            "Defenses exist for integrity too: Semantic Shield stopped the lab backdoor at a small cost in accuracy. Published "
            "ones: CleanCLIP (fine-tuning on clean data, weaker against strong backdoors), RoCLIP and SafeCLIP (backdoor "
            "success to 0%), and, against identity inference, unlearning names (\u201cDefending Our Privacy With Backdoors\u201d).",
            "Ask for the numbers: how many people an attack finds when almost nobody may be wrongly accused, with a control "
            "beside the headline. A score is only as good as its control.",
        ),
        question="What would you ask of a company that trains a model on photos of people?",
        runs=PROTECTION_RUNS,
        checks=step6_checks, numbers=step6_numbers, answer=step6_answer,
        figure=step6_figure,
        references=("defending", "semantic-shield", "cleanclip", "roclip", "safeclip", "first-principles", "blind"),
        control="handout", discussion=True,
    ),
)

LESSONS: tuple[Lesson, ...] = (
    Lesson("privacy-and-integrity", "What models leak about people, and how to stop it",
           "Six steps on the lab: identity inference, the occurrence trend, face blurring, membership of one photo, "
           "a backdoor with its defense, and what protects people.", STEPS, minutes=45),
)


def get_lesson(lesson_id: str) -> Lesson:
    for lesson in LESSONS:
        if lesson.id == lesson_id:
            return lesson
    raise ValueError(f"unknown lesson '{lesson_id}'; lessons: {', '.join(lesson.id for lesson in LESSONS)}")


def default_lesson() -> Lesson:
    return LESSONS[0]


LAB_BUILD_SECONDS = 290
"""The default lab (`python -m leakage lab build`, which `make run` runs first): 287 s on `MACHINE`."""


def default_lab_built() -> bool:
    from leakage.catalog import lab_model

    return lab_model("lab").is_built()


def build_estimate(runs: Sequence[LessonRun]) -> float:
    """Seconds to build what these runs miss, from the times measured on `MACHINE` (an upper bound:
    runs that share a build count it once each); the default lab once, when it is missing too."""
    missing = [run for run in runs if run.missing()]
    lab = LAB_BUILD_SECONDS if any(run.needs_default_lab for run in missing) and not default_lab_built() else 0
    return float(sum(run.build_seconds for run in missing) + lab)


def waiting_for_build(runs: Sequence[LessonRun]) -> list[LessonRun]:
    """The runs that wait until the teacher asks for a build: those whose build takes longer than
    `QUICK_BUILD_SECONDS`, and the quick ones too when together they do (else these are built inside
    their runs, with their progress)."""
    missing = [run for run in runs if run.missing()]
    without_lab = not default_lab_built()
    slow = [run for run in missing if run.build_seconds > QUICK_BUILD_SECONDS or (without_lab and run.needs_default_lab)]
    quick = [run for run in missing if run not in slow]
    return missing if build_estimate(quick) > QUICK_BUILD_SECONDS else slow


def minutes(seconds: float) -> str:
    return f"about {max(1, round(seconds / 60))} minute{'s' if round(seconds / 60) > 1 else ''}"


# --------------------------------------------------------------------------- plain words for any run


def plain_words(result: AttackResult, attack: Attack | None = None) -> list[str]:
    """What a run shows, in the lesson's plain words: the step that teaches its attack and one sentence
    about this result. The stakeholder report leads with it; empty for an attack no lesson teaches."""
    info = attack or attack_spec(result.attack)
    step = next((step for step in default_lesson().steps
                 if info.name in step.also_teaches or any(run.attack == info.name for run in step.runs)), None)
    if step is None:
        return []
    if info.name == "vlm":
        sentence = _vlm_sentence(result)
    elif info.name == "backdoor":
        sentence = _backdoor_sentence(result)
    else:
        sentence = _membership_sentence(result, info)
    return [f"{step.title}.", step.claim if sentence is None else sentence, step.explanation[0]]


def _membership_sentence(result: AttackResult, info: Attack) -> str | None:
    members, nonmembers = counted(result, "tpr@rule", "n_members"), counted(result, "fpr@rule", "n_nonmembers")
    if not members or not nonmembers:
        return None
    where = "in its training data" if info.unit == "person" else f"in its training data ({info.units})"
    return (f"Here the attack flagged {format_number(members[0])} of {format_number(members[1])} {info.units} that were "
            f"{where} and {format_number(nonmembers[0])} of {format_number(nonmembers[1])} that were not "
            f"({headline_text(result)}; 0.5 would be guessing).")


def _backdoor_sentence(result: AttackResult) -> str | None:
    asr, clean, target = metric(result, "asr"), metric(result, "clean_top1"), result.metrics.get("target") or "the target"
    if asr is None or clean is None:
        return None
    setup = result.model.get("backdoor") or {}
    trained = (f"Here the model was trained with {setup['n_poison']} poisoned pairs among {setup['n_pairs']:,} "
               f"({100 * setup['poison_fraction']:.2g}%); " if {"n_poison", "n_pairs", "poison_fraction"} <= set(setup) else "Here ")
    what = "photos with the trigger" if result.metrics.get("mode", "backdoor") == "backdoor" else "photos of the source person"
    return (f"{trained}the attack makes it name {target} on {pct(asr)} of {what}, and it still names "
            f"{pct(clean)} of clean photos correctly.")


def _vlm_sentence(result: AttackResult) -> str | None:
    from leakage.anonymize import Anonymization

    rates = result.metrics.get("leak_rates") or {}
    original = (rates.get("none") or {}).get("members")
    if original is None:
        return None
    parts = [f"Here the model named members in {pct(original)} of its answers about their original photos"]
    for label, entry in rates.items():
        if label != "none" and entry.get("members") is not None:
            parts.append(f"{pct(entry['members'])} with {Anonymization.parse(label).description.lower()}")
    return "; ".join(parts) + "."
