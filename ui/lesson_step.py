"""One step of a lesson on the page: the answer to the last question, the claim, its live runs (read
back, started, or built on request), whether the lab shows the claim, the numbers, the figure, the
one control the step is about, the plain words and the question to the audience."""

from __future__ import annotations

from collections.abc import Callable

import streamlit as st

from leakage.attacks import attack_spec
from leakage.lessons import HOLDS, FAILS, MACHINE, Lesson, Step, build_estimate, minutes, reference, waiting_for_build
from leakage.results import AttackResult
from ui.jobs import job_running, watch_job
from ui.links import attack_page, page_link
from ui.lesson_runs import PREPARE_JOB, finished_badly, job_key, start_runs, step_results
from ui.text import md


def stopped_key(step: Step) -> str:
    return f"lesson-stopped-{step.id}"


def run_step(step: Step, results: dict[str, AttackResult]) -> list:
    """Start the step's runs that can run now (built, or quick to build) unless already done, running, or
    stopped by the teacher; returns the runs that wait for a build the teacher must ask for."""
    key = job_key(step)
    if finished_badly(key):
        st.session_state[stopped_key(step)] = True
    waiting = waiting_for_build([run for run in step.runs if run.id not in results])
    ready = [run for run in step.runs if run.id not in results and run not in waiting]
    if (ready and not job_running(key) and not job_running(PREPARE_JOB) and key not in st.session_state
            and not st.session_state.get(stopped_key(step))):
        start_runs(key, step.title, ready)
    return waiting


def build_panel(step: Step, waiting: list) -> None:
    """What is not built yet, how long it takes here, and the button that builds it (or go on)."""
    seconds = build_estimate(waiting)
    names = "; ".join(dict.fromkeys(missing.what for run in waiting for missing in run.missing()))
    st.info(f"Not built yet: {md(names)}. Building takes {minutes(seconds)} on this machine (measured on {MACHINE}); "
            "it shows its progress and can be cancelled. Press B to build it now, or \u2192 to go on to the next step.",
            icon=":material/construction:")
    if st.button(f"Build and run ({minutes(seconds)})", key=f"lesson-build-{step.id}", type="primary", shortcut="B",
                 disabled=job_running(job_key(step)), icon=":material/build:"):
        st.session_state.pop(stopped_key(step), None)
        st.session_state.pop(job_key(step), None)
        start_runs(job_key(step), f"{step.title}: building", waiting + [run for run in step.runs if run not in waiting], build=True)


def show_checks(step: Step, results: dict[str, AttackResult]) -> None:
    lines = []
    for check in step.checks(results):
        colour = {HOLDS: "green", FAILS: "red"}.get(check.status, "gray")
        word = {HOLDS: "shown", FAILS: "not shown"}.get(check.status, "not measured yet")
        lines.append(f"- :{colour}[{check.mark} **{md(check.claim)}**] ({word}): {md(check.evidence)}")
    if lines:
        st.markdown("\n".join(lines))


def show_numbers(step: Step, results: dict[str, AttackResult], width: int = 4) -> None:
    numbers = step.numbers(results)
    for start in range(0, len(numbers), width):
        row = numbers[start:start + width]
        for column, number in zip(st.columns(len(row)), row):
            column.metric(md(number.label), number.value, help=md(number.help) if number.help else None)


def show_links(step: Step, results: dict[str, AttackResult]) -> None:
    """Where to go deeper: each run on the Runs page, and the attack's own page."""
    stored = [(run, results[run.id].details["run_id"]) for run in step.runs
              if run.id in results and results[run.id].details.get("run_id") is not None]
    for start in range(0, len(stored), 3):
        for column, (run, run_id) in zip(st.columns(3), stored[start:start + 3]):
            with column:
                page_link("app_pages/runs.py", label=f"Run {run_id}: {md(run.title)}", query_params={"run": str(run_id)},
                          icon=":material/history:")
    for attack in dict.fromkeys(attack_spec(run.attack) for run in step.runs):
        page_link(attack_page(attack), label=f"Go deeper: {md(attack.nav_title or attack.title)}", icon=":material/arrow_forward:")


def show_step(lesson: Lesson, index: int, presenting: bool, controls: dict[str, Callable[[Step, dict], None]]) -> None:
    step = lesson.step(index)
    results = step_results(step)
    number = f"Step {index} of {len(lesson.steps) - 1}" if index else "Introduction"
    st.caption(f"{number}" + (f" \u00b7 {md(step.frame)}" if step.frame else ""))
    st.title(step.title, anchor=False)
    asked = lesson.previous_question(index)
    if asked:
        answer = step.answer(results)
        st.markdown(f"**The last question:** *{md(asked)}*  \n"
                    + (f"**Answer:** {md(answer)}" if answer else "*The answer appears when this step's result is in.*"))
    st.markdown(f"#### {md(step.claim)}")
    waiting = run_step(step, results)
    if waiting:
        build_panel(step, waiting)
    key = job_key(step)
    if job_running(PREPARE_JOB) and any(run.id not in results for run in step.runs):
        st.caption("The lesson is being prepared: this step's result appears as soon as its runs are done.")
    if presenting and PREPARE_JOB in st.session_state:  # the normal view shows it at the top; here, the step waits for it
        watch_job(PREPARE_JOB, lambda job: None)
    if key in st.session_state:
        if job_running(key):
            st.caption("Computing the live result: it appears here as soon as it is in.")
        watch_job(key, lambda job: None)
    elif st.session_state.get(stopped_key(step)) and any(run.id not in results and run not in waiting for run in step.runs):
        if st.button("Run this step again", key=f"lesson-rerun-{step.id}", icon=":material/refresh:"):
            st.session_state.pop(stopped_key(step), None)
            st.rerun()
    figure = step.figure(results)
    left, right = st.columns([5, 6]) if figure is not None else (st.container(), None)
    with left:
        show_checks(step, results)
        show_numbers(step, results, width=2 if right is not None else 4)
    if right is not None:
        # the figure's own type sizes (large, for the room), not the app theme's
        right.plotly_chart(figure, width="stretch", theme=None, key=f"lesson-figure-{step.id}")
    if step.control in controls:
        controls[step.control](step, results)
    for paragraph in step.explanation:
        st.markdown(md(paragraph))
    st.warning(f"**{'For discussion' if step.discussion else 'Question to the audience'}:** {md(step.question)}",
               icon=":material/forum:")
    if not presenting:
        if step.references:
            st.caption("To read more: " + "; ".join(f"{md(reference(key).citation)} ({md(reference(key).shows)})" for key in step.references))
        show_links(step, results)
