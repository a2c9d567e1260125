"""The lessons' claim checks, answers, figures and handout on results shaped as the engines return
them: membership blocks from `leakage.metrics.membership_summary`, identities with occurrences, the
VLM probe's leak rates and the backdoor's metrics, read through the attacks' declared keys."""

from __future__ import annotations

import re

import numpy as np
import pytest

from leakage import lessons
from leakage.handout import render_handout
from leakage.lessons import FAILS, HOLDS, PENDING, default_lesson
from leakage.metrics import membership_summary
from leakage.report import render_report
from leakage.results import AttackResult


def membership(attack: str, members: list[float], nonmembers: list[float], threshold: float, model: str = "lab",
               occurrences: list[int] | None = None) -> AttackResult:
    """A membership result as the engines assemble it: the shared metrics block and one row per person."""
    labels = np.array([1] * len(members) + [0] * len(nonmembers))
    scores = np.array(members + nonmembers, dtype=float)
    identities = []
    for index, (label, score) in enumerate(zip(labels, scores)):
        row = {"name": f"person {index}", "member": bool(label), "score": float(score), "predicted_member": bool(score >= threshold)}
        if label and occurrences:
            row["occurrences"] = occurrences[index % len(occurrences)]
        identities.append(row)
    return AttackResult(attack=attack, config={}, metrics=dict(membership_summary(labels, scores, threshold=threshold, n_boot=200)),
                        identities=identities, model={"model": model})


def separated(attack: str = "idia", model: str = "lab") -> AttackResult:
    rng = np.random.default_rng(0)
    return membership(attack, list(rng.uniform(5, 21, 100)), list(rng.uniform(0, 0.9, 100)), threshold=1.0, model=model)


def guessing(attack: str = "idia", model: str = "lab-control") -> AttackResult:
    rng = np.random.default_rng(1)
    return membership(attack, list(rng.uniform(0, 1, 100)), list(rng.uniform(0, 1, 100)), threshold=0.97, model=model)


def statuses(checks) -> list[str]:
    return [check.status for check in checks]


def test_step_one_holds_on_a_leaking_model_and_a_control_at_chance():
    checks = lessons.step1_checks({"idia-lab": separated(), "idia-control": guessing()})
    assert statuses(checks) == [HOLDS, HOLDS, HOLDS], checks
    assert "100 of 100 members and 0 of 100 non-members" in checks[0].evidence
    answer = lessons.step1_answer({"idia-lab": separated()})
    assert answer.startswith("Yes") and "100 of the 100" in answer


def test_step_one_fails_when_the_control_finds_people_and_waits_for_missing_runs():
    leaking_control = separated(model="lab-control")
    checks = lessons.step1_checks({"idia-lab": separated(), "idia-control": leaking_control})
    assert statuses(checks) == [HOLDS, HOLDS, FAILS]
    assert statuses(lessons.step1_checks({"idia-lab": separated()})) == [HOLDS, HOLDS, PENDING]
    assert statuses(lessons.step1_checks({})) == [PENDING] * 3
    assert lessons.step1_answer({}) is None
    guessed = lessons.step1_checks({"idia-lab": guessing(model="lab"), "idia-control": guessing()})
    assert guessed[0].status == FAILS  # a model at chance does not "find its members"


def sweep(found_by_level: dict[int, float], false_rate: float = 0.0) -> AttackResult:
    """An IDIA result on the sweep lab: 20 members per occurrence level, the given share of them flagged."""
    identities = []
    for level, share in found_by_level.items():
        identities += [{"name": f"m{level}-{i}", "member": True, "occurrences": level, "predicted_member": i < round(20 * share),
                        "score": float(i < round(20 * share))} for i in range(20)]
    identities += [{"name": f"n{i}", "member": False, "predicted_member": i < round(120 * false_rate), "score": 0.0} for i in range(120)]
    return AttackResult(attack="idia", identities=identities, metrics={})


def test_step_two_reads_the_trend_from_the_people_and_their_occurrences():
    rising = sweep({1: 0.65, 2: 0.8, 4: 0.95, 8: 0.95, 16: 1.0, 32: 0.95}, false_rate=0.008)
    checks = lessons.step2_checks({"idia-sweep": rising})
    assert statuses(checks) == [HOLDS, HOLDS], checks
    assert "1\u00d7: 65%" in checks[0].evidence and "32\u00d7: 95%" in checks[0].evidence
    assert "65%" in lessons.step2_answer({"idia-sweep": rising}) and "32 times" in lessons.step2_answer({"idia-sweep": rising})
    flat = lessons.step2_checks({"idia-sweep": sweep({1: 0.9, 32: 0.92}, false_rate=0.2)})
    assert statuses(flat) == [FAILS, FAILS]
    figure = lessons.step2_figure({"idia-sweep": rising})
    assert [round(y, 2) for y in figure.data[0].y] == [0.65, 0.8, 0.95, 0.95, 1.0, 0.95] and figure.data[1].y[0] == pytest.approx(1 / 120)


def vlm(original: float, face: float, whole: float, nonmembers: float = 0.0) -> AttackResult:
    """A VLM probe result: leak rates per setting and group, as `leakage.vlm` assembles them, and its closed set."""
    rates = {label: {"members": value, "nonmembers": nonmembers if label == "none" else 0.0, "all": value / 2, "faces_missing": 0}
             for label, value in (("none", original), ("blur:32", face), ("blur:32@image", whole))}
    result = separated(attack="vlm", model="lab-vlm")
    result.metrics["leak_rates"] = rates
    # The closed set as the probe reports it: the headline kind (the identity z-score) among every kind's AUC.
    result.metrics["closed_set_score"] = "identity_z"
    result.metrics["by_score"] = {"identity_z": {"auc": result.metrics["auc"], "auc_ci": result.metrics["auc_ci"]}}
    return result


def test_step_three_face_blur_still_names_people_and_whole_photo_blur_stops_it():
    checks = lessons.step3_checks({"vlm-blur": vlm(0.66, 0.455, 0.05)})
    assert statuses(checks) == [HOLDS, HOLDS, HOLDS], checks
    assert "46%" in checks[1].evidence and "5%" in checks[2].evidence
    assert statuses(lessons.step3_checks({"vlm-blur": vlm(0.66, 0.05, 0.02)}))[1] == FAILS  # face blur that works
    assert statuses(lessons.step3_checks({"vlm-blur": vlm(0.66, 0.5, 0.45)}))[2] == FAILS  # whole blur that does not
    answer = lessons.step3_answer({"vlm-blur": vlm(0.66, 0.455, 0.05)})
    assert "46%" in answer and "66%" in answer
    numbers = lessons.step3_numbers({"vlm-blur": vlm(0.66, 0.455, 0.05)})
    from leakage.attacks import attack_spec

    declared = attack_spec("vlm").primary_spec  # the attack's declared headline metric, whatever it is called
    assert numbers[-1].label == f"closed set: {declared.label}" and numbers[-1].value == "1.000"
    assert "all 100 members score above all 100 non-members" in numbers[-1].help  # not the point interval 1.000-1.000
    control = lessons.headline_metric(guessing())
    assert "[" not in control.value and control.help.startswith("95% interval [")


def test_step_three_says_what_is_missing_from_a_run_without_the_blurs():
    result = vlm(0.66, 0.455, 0.05)
    del result.metrics["leak_rates"]["blur:32@image"]
    checks = lessons.step3_checks({"vlm-blur": result})
    assert statuses(checks) == [FAILS] * 3 and "lacks" in checks[0].evidence


def backdoor(n_poison: int, defense: str, asr: float, clean: float) -> AttackResult:
    metrics = {"mode": "backdoor", "target": "Aaliyah Butler", "asr": asr, "asr_ci": [asr, asr], "asr_top_k": asr, "top_k": 5,
               "clean_top1": clean, "clean_top1_ci": [clean, clean], "hit_at_k": {"1": asr, "5": asr, "10": asr},
               "clean_recall_at_k": {"1": clean}, "clean_target_rate": 0.005, "min_rank": 1.0, "median_min_rank": 1.0, "n_candidates": 100, "n_attacked": 990, "n_clean": 1000}
    setup = {"n_poison": n_poison, "defense": defense, "n_pairs": 1100 + n_poison, "poison_fraction": n_poison / (1100 + n_poison)}
    return AttackResult(attack="backdoor", metrics=metrics, model={"model": "lab-poisoned", "backdoor": setup}, config={"trigger": "checkerboard"})


def test_step_five_the_backdoor_grows_with_p_and_the_shield_stops_it_at_little_cost():
    results = {"backdoor-p4-none": backdoor(4, "none", 0.03, 0.95), "backdoor-p16-none": backdoor(16, "none", 0.43, 0.96),
               "backdoor-p64-none": backdoor(64, "none", 0.96, 0.95), "backdoor-p64-semantic-shield": backdoor(64, "semantic-shield", 0.04, 0.93)}
    checks = lessons.step5_checks(results)
    assert statuses(checks) == [HOLDS, HOLDS, HOLDS, HOLDS], checks
    assert "P = 4: 3%, P = 16: 43%, P = 64: 96%" in checks[1].evidence
    answer = lessons.step5_answer(results)
    assert "P = 64" in answer and "Aaliyah Butler" in answer
    broken = dict(results, **{"backdoor-p64-semantic-shield": backdoor(64, "semantic-shield", 0.02, 0.40)})
    assert lessons.step5_checks(broken)[3].status == FAILS  # a defense that breaks the model
    only_default = {key: results[key] for key in ("backdoor-p64-none",)}
    assert statuses(lessons.step5_checks(only_default)) == [HOLDS, PENDING, PENDING, PENDING]
    figure = lessons.step5_figure(results)
    assert {trace.name for trace in figure.data} >= {"ASR, no defense", "ASR, Semantic Shield"}


def test_step_six_puts_the_protections_side_by_side():
    results = {"idia-lab": separated(), "idia-control": guessing(), "vlm-blur": vlm(0.66, 0.455, 0.05),
               "backdoor-p64-none": backdoor(64, "none", 0.96, 0.95), "backdoor-p64-semantic-shield": backdoor(64, "semantic-shield", 0.04, 0.93)}
    rows = lessons.protections(results)
    assert [row["protection"] for row in rows] == ["Leave people's photos out of training", "Blur the face", "Blur the whole photo",
                                                    "Train with Semantic Shield"]
    assert statuses(lessons.step6_checks(results)) == [HOLDS] * 4
    assert lessons.step6_answer(results).startswith("Leaving them out of training")
    assert len(lessons.step6_figure(results).data) == 2


def test_every_question_is_answered_by_the_next_step_and_every_step_names_its_frame():
    lesson = default_lesson()
    assert [step.id for step in lesson.steps] == ["intro", "remembers", "occurrences", "blur", "exact-photo", "poison", "what-to-do"]
    for index, step in enumerate(lesson.steps[1:], 1):
        assert lesson.previous_question(index) == lesson.steps[index - 1].question
        assert step.frame.startswith(("confidentiality", "integrity")) and step.explanation and step.question.endswith("?")
    assert lesson.steps[-1].discussion
    assert lesson.step(99) is lesson.steps[-1]


def test_the_sweep_is_the_benchs_sweep_lab_and_the_poisoned_runs_are_the_backdoor_pages():
    from bench.idia_trends import SWEEP_LAB
    from leakage.attacks.backdoor import LAB_VARIANTS, poisoned_variant
    from leakage.lab.build import LabConfig
    from leakage.lab.recipe import with_params

    assert with_params(LabConfig(), lessons.SWEEP_IDIA.model_params) == SWEEP_LAB  # one build serves the lesson and the bench
    for run in lessons.POISON_RUNS:
        _, p, defense = run.id.split("-", 2)
        variant = poisoned_variant("backdoor", "checkerboard", int(p[1:]), defense)
        expected = (variant.name, {}) if variant in LAB_VARIANTS else ("lab-poisoned", dict(variant.params))
        assert (run.model, dict(run.model_params)) == expected
    assert lessons.IDIA_CONFIG == {"images_per_person": 10}  # the home page's lab demo: one run key for both


def test_a_run_says_what_it_misses_without_building_it(tmp_path, monkeypatch):
    monkeypatch.setenv("LEAKAGE_HOME", str(tmp_path))
    monkeypatch.delenv("LEAKAGE_LAB_VLM_DIR", raising=False)
    missing = lessons.LAB_VLM.missing()
    assert [m.entry.name for m in missing] == ["lab-vlm"]  # its photos are part of its build
    assert lessons.waiting_for_build([lessons.LAB_VLM]) == [lessons.LAB_VLM]  # too long to build unasked
    assert not any(tmp_path.iterdir())
    assert lessons.build_estimate([lessons.LAB_VLM]) == lessons.VLM_BUILD_SECONDS
    assert lessons.minutes(lessons.VLM_BUILD_SECONDS) == "about 9 minutes" and lessons.minutes(20) == "about 1 minute"


def test_the_handout_holds_every_step_its_figures_and_no_external_address():
    results = {"idia-lab": separated(), "idia-control": guessing(), "vlm-blur": vlm(0.66, 0.455, 0.05)}
    results["idia-lab"].details["run_id"] = 12
    page = render_handout(default_lesson(), results)
    for step in default_lesson().steps:
        assert f'id="step-{step.id}"' in page and step.title in page.replace("&#x27;", "'")
    assert 'id="figure-remembers"' in page and 'id="figure-blur"' in page and 'id="figure-what-to-do"' in page
    assert 'id="figure-poison"' not in page and "not run when this handout was made" in page
    script_tags = re.findall(r"<script\b[^>]*>", page, flags=re.I)
    assert script_tags and not any("src" in tag.lower() for tag in script_tags)
    markup = re.sub(r"<script\b[^>]*>.*?</script>", "", page, flags=re.I | re.S)  # plotly.js names URLs it never loads
    assert re.findall(r"""(?:src|href)\s*=\s*["']?\s*((?:https?:)?//[^"'\s>]+)""", markup, flags=re.I) == []
    assert len(re.findall(r"\* plotly\.js v\d", page)) == 1 and page.count("Plotly.newPlot") == 3
    assert "run 12 in the run store" in page and "For discussion" in page


def test_the_handout_escapes_what_users_typed():
    result = separated()
    result.dataset["id"] = "<script>alert(1)</script>"
    page = render_handout(default_lesson(), {"idia-lab": result})
    assert "<script>alert(1)</script>" not in page and "&lt;script&gt;" in page


def test_the_report_opens_with_the_lessons_plain_words():
    report = render_report(separated())
    top = report.index('id="plain-words"')
    assert top < report.index('id="summary"')
    assert "A model remembers who it saw." in report and "flagged 100 of 100 people that were in its training data" in report
    assert 'id="plain-words"' in render_report(backdoor(64, "none", 0.96, 0.95))
    assert "64 poisoned pairs among 1,164" in render_report(backdoor(64, "none", 0.96, 0.95))
    assert "with gaussian blur, radius 32 px, face only" in " ".join(lessons.plain_words(vlm(0.66, 0.455, 0.05)))
    assert lessons.plain_words(AttackResult(attack="confidence")) == []


# --------------------------------------------------------------------------- on the engines' own results


@pytest.mark.slow
def test_the_blur_step_reads_the_probes_own_settings_from_a_real_vlm(isolated_home, tmp_path):
    """A tiny random LLaVA, probed through the run service with the step's own config: every leak rate the
    step reads is in the result under the key it reads, and the checks judge it (a model that names nobody
    does not show the claim)."""
    from leakage.lab.portraits import render
    from leakage.lab.world import make_world
    from leakage.service import RunRequest, run_attack
    from test_vlm import write_people
    from vlm_family_models import tiny_llava

    world = make_world(seed=0, n_identities=4)
    people, boxes = {}, {}
    for person in world.identities:
        for index in range(2):
            image, box = render(person, index, world_seed=0, size=64)
            people.setdefault(person.name, []).append(image)
            boxes.setdefault(person.name, []).append(box)
    members = {name: index < 2 for index, name in enumerate(people)}
    data = write_people(tmp_path / "people", people, members, boxes)
    model = tiny_llava(tmp_path / "llava")
    config = dict(lessons.VLM_CONFIG, n_candidates=4)
    result = run_attack(RunRequest("vlm", str(model), str(data), config=config, store=False))
    for setting in ("none", lessons.FACE_BLUR, lessons.WHOLE_BLUR):
        assert lessons.leak(result, setting) is not None and lessons.leak(result, setting, "nonmembers") is not None
    checks = lessons.step3_checks({"vlm-blur": result})
    assert PENDING not in statuses(checks) and checks[0].status == FAILS  # a random model names nobody
    numbers = lessons.step3_numbers({"vlm-blur": result})
    assert lessons.step3_figure({"vlm-blur": result}) is not None and len(numbers) == 4
    # The closed set's number is the probe's declared headline, the identity z-score, read from the real result.
    assert "identity z-score" in numbers[-1].label and numbers[-1].value == f"{result.metrics['by_score']['identity_z']['auc']:.3f}"


def test_the_occurrence_step_reads_the_idias_own_rows(isolated_home, default_lab):
    """The IDIA on the lab's attack set, told that half its members were seen once and half 32 times: the
    step's trend comes from the engine's rows (their occurrences and decisions)."""
    from leakage.data import scan_dataset
    from leakage.idia import IDIAConfig, run_idia
    from leakage.models import load_clip

    clip = load_clip(default_lab.clip_model_name, str(default_lab.clip_checkpoint), device="cpu")
    data = scan_dataset(default_lab.attack_dir)
    people = sorted(default_lab.members)[:10] + sorted(default_lab.nonmembers)[:10]
    seen = {name: (1 if index % 2 else 32) for index, name in enumerate(sorted(default_lab.members)[:10])}
    result = run_idia(clip, data.subset(people), IDIAConfig(images_per_person=2, n_candidates=100, n_draws=0),
                      members={name: name in seen for name in people}, occurrences=seen)
    levels = lessons.by_occurrence(result)
    assert [level for level, _, _ in levels] == [1, 32] and [count for _, _, count in levels] == [5, 5]
    flagged = {row["name"]: row["predicted_member"] for row in result.identities}
    assert levels[0][1] == sum(flagged[name] for name, level in seen.items() if level == 1) / 5
    assert lessons.nonmember_rate(result) == sum(flagged[name] for name in people if name not in seen) / 10
    assert PENDING not in statuses(lessons.step2_checks({"idia-sweep": result}))


def test_the_lesson_command_runs_a_lesson_reuses_stored_runs_and_writes_the_handout(isolated_home, tmp_path, capsys):
    """`python -m leakage lesson run` on a one-step lesson (the photo-caption membership of the lab CLIP, seconds)."""
    import argparse
    from dataclasses import replace

    from leakage.commands.lesson import run_lesson

    step = replace(default_lesson().steps[4], runs=(lessons.LAB_PAIRS_MIA,))
    lesson = lessons.Lesson("one-step", "One step", "The photo-caption step only.", (default_lesson().steps[0], step), minutes=5)
    # --build: the photo-caption pairs are built here when no earlier test built them (about a minute), so the
    # test holds in any order and on any worker
    args = argparse.Namespace(build=True, fresh=False, handout=tmp_path / "handout.html", quiet=True)
    assert run_lesson(lesson, args) == 0
    first = capsys.readouterr().out
    assert "the lab CLIP (clip-mia on lab): computed in" in first and "\u2713 The lab CLIP gives away which photo-caption pairs" in first
    assert "\u2026 The control CLIP cannot tell: chance" in first  # not part of this lesson's runs: not measured
    assert run_lesson(lesson, args) == 0
    assert "stored run in" in capsys.readouterr().out  # the second time, read back by its run key
    handout = (tmp_path / "handout.html").read_text()
    assert 'id="figure-exact-photo"' in handout and "run 1 in the run store" in handout
