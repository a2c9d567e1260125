"""The Lessons page: a lesson's steps one at a time, each with its live result, in an ordinary view
for preparing and a presenter mode for the projector (large type, one step per screen, the
navigation and everything but the step's own control hidden), moved through with the keyboard:
\u2192 / PageDown next, \u2190 / PageUp previous, Esc leaves presenter mode. Streamlit's own button
shortcuts (`st.button(shortcut=...)`) bind the keys; a clicker's PageUp / PageDown go to buttons kept
out of sight. The step's place survives a reload (`?step=2&present=1`).

The handout (HTML with the figures inline, and PDF) is the lesson as run: `leakage.handout`."""

from __future__ import annotations

import datetime as _dt
import tempfile
from pathlib import Path

import streamlit as st

from leakage.handout import render_handout
from leakage.lessons import LESSONS, Lesson, Step, build_estimate, default_lesson, get_lesson, minutes, waiting_for_build
from leakage.results import AttackResult
from ui.jobs import job_running, watch_job
from ui.lesson_runs import PREPARE_JOB, start_runs, step_results
from ui.lesson_step import show_step
from ui.text import md

STEP, PRESENT, LESSON = "lesson-step", "lesson-present", "lesson-id"
PRESENTER_CSS = """
<style>
section[data-testid="stSidebar"], [data-testid="stSidebarCollapsedControl"], [data-testid="stExpandSidebarButton"],
header[data-testid="stHeader"], [data-testid="stToolbar"], [data-testid="stDecoration"] { display: none !important; }
[data-testid="stMainBlockContainer"] { max-width: 1500px; padding-top: 1.5rem; }
[data-testid="stMainBlockContainer"] [data-testid="stMarkdownContainer"] p,
[data-testid="stMainBlockContainer"] [data-testid="stMarkdownContainer"] li { font-size: 1.55rem; line-height: 1.45; }
[data-testid="stMainBlockContainer"] h1 { font-size: 3.2rem; }
[data-testid="stMainBlockContainer"] h4 { font-size: 2.0rem; line-height: 1.3; }
[data-testid="stMetricValue"], [data-testid="stMetricValue"] * { font-size: 2.6rem !important; }
[data-testid="stMetricLabel"] p { font-size: 1.25rem !important; }
[data-testid="stAlertContentInfo"] p, [data-testid="stAlertContentWarning"] p { font-size: 1.5rem !important; }
[data-testid="stCaptionContainer"] { font-size: 1.2rem; }
</style>
"""
HIDDEN_CSS = """
<style>
.st-key-lesson-next-pagedown, .st-key-lesson-previous-pageup { display: none !important; }
[data-testid="stMetricLabel"], [data-testid="stMetricLabel"] * { white-space: normal !important; overflow: visible !important;
  text-overflow: clip !important; }
</style>
"""


def current_lesson() -> Lesson:
    if LESSON not in st.session_state:
        wanted = st.query_params.get("lesson", default_lesson().id)
        st.session_state[LESSON] = wanted if wanted in {lesson.id for lesson in LESSONS} else default_lesson().id
    return get_lesson(st.session_state[LESSON])


def current_index(lesson: Lesson) -> int:
    if STEP not in st.session_state:
        text = st.query_params.get("step", "0")
        st.session_state[STEP] = int(text) if text.isdigit() else 0
    st.session_state[STEP] = max(0, min(st.session_state[STEP], len(lesson.steps) - 1))
    return st.session_state[STEP]


def presenting() -> bool:
    if PRESENT not in st.session_state:
        st.session_state[PRESENT] = st.query_params.get("present") == "1"
    return st.session_state[PRESENT]


def move(delta: int, last: int) -> None:
    st.session_state[STEP] = max(0, min(st.session_state.get(STEP, 0) + delta, last))


def pick() -> None:
    st.session_state[STEP] = st.session_state["lesson-step-picker"]


def set_presenting(value: bool) -> None:
    st.session_state[PRESENT] = value


def navigation(lesson: Lesson, index: int, present: bool) -> None:
    """Previous / next with the arrow keys (and hidden twins for a clicker's PageUp / PageDown); Esc leaves presenter mode."""
    last = len(lesson.steps) - 1
    st.markdown(HIDDEN_CSS, unsafe_allow_html=True)
    left, middle, right = st.columns([1, 2, 1])
    left.button("Previous", key="lesson-previous", icon=":material/arrow_back:", shortcut="Left", disabled=index == 0,
                on_click=move, args=(-1, last), width="stretch")
    right.button("Next", key="lesson-next", icon=":material/arrow_forward:", shortcut="Right", disabled=index == last,
                 on_click=move, args=(1, last), width="stretch", type="primary" if not present else "secondary")
    st.button("Previous", key="lesson-previous-pageup", shortcut="PageUp", disabled=index == 0, on_click=move, args=(-1, last))
    st.button("Next", key="lesson-next-pagedown", shortcut="PageDown", disabled=index == last, on_click=move, args=(1, last))
    middle.progress(index / last if last else 1.0, text=f"{index} of {last}" if index else "Introduction")
    if present:
        middle.button("Leave presenter mode", key="lesson-leave", shortcut="Esc", on_click=set_presenting, args=(False,),
                      width="stretch")


def lesson_results(lesson: Lesson) -> dict[str, AttackResult]:
    found: dict[str, AttackResult] = {}
    for step in lesson.steps:
        found.update(step_results(step))
    return found


def handout_pdf(lesson: Lesson, results: dict[str, AttackResult]) -> bytes:
    from leakage.report import render_pdf

    with tempfile.TemporaryDirectory(prefix="leakage-handout-") as folder:
        return render_pdf(render_handout(lesson, results), Path(folder) / "handout.pdf").read_bytes()


def handout_buttons(lesson: Lesson, key: str) -> None:
    """The lesson as run so far, as HTML and as PDF (made when clicked: Chromium prints it)."""
    results = lesson_results(lesson)
    stamp = _dt.date.today().isoformat()
    left, right = st.columns(2)
    left.download_button("Handout (HTML)", data=lambda: render_handout(lesson, results), file_name=f"lesson-{lesson.id}-{stamp}.html",
                         mime="text/html", icon=":material/description:", key=f"{key}-html", on_click="ignore", width="stretch")
    right.download_button("Handout (PDF)", data=lambda: handout_pdf(lesson, results), file_name=f"lesson-{lesson.id}-{stamp}.pdf",
                          mime="application/pdf", icon=":material/picture_as_pdf:", key=f"{key}-pdf", on_click="ignore",
                          width="stretch")


def handout_control(step: Step, results: dict) -> None:
    st.markdown("**Take it home:** every step as it ran here, its figure and its plain words.")
    handout_buttons(current_lesson(), "lesson-handout-step")


def prepare(lesson: Lesson) -> None:
    """Run every step that can run now, ahead of the class."""
    waiting = list({run.id: run for step in lesson.steps for run in waiting_for_build(step.runs)}.values())
    runs = [run for run in lesson.runs() if run not in waiting]
    help_text = ("Runs every step whose lab models are built, one after the other, and keeps the results, so that the class "
                 "sees each result at once." + (f" Not built, and left out: {', '.join(run.title for run in waiting)} "
                                                f"({minutes(build_estimate(waiting))} to build)." if waiting else ""))
    if st.button("Prepare: run every step now", key="lesson-prepare", help=help_text, icon=":material/playlist_play:",
                 disabled=job_running(PREPARE_JOB)):
        have = lesson_results(lesson)
        todo = [run for run in runs if run.id not in have]
        if todo:
            start_runs(PREPARE_JOB, "Preparing the lesson", todo)
        else:
            st.toast("Lesson prepared: 0 runs computed (every step that can run has its result already).")
    if PREPARE_JOB in st.session_state:
        watch_job(PREPARE_JOB, lambda job: st.toast(f"Lesson prepared: {job.result} runs computed."))


def render(controls: dict | None = None) -> None:
    lesson = current_lesson()
    index = current_index(lesson)
    present = presenting()
    st.query_params.update({"lesson": lesson.id, "step": str(index), **({"present": "1"} if present else {})})
    if not present and "present" in st.query_params:
        del st.query_params["present"]
    from ui.lesson_controls import blur_example

    controls = {"handout": handout_control, "blur-example": blur_example, **(controls or {})}
    if present:
        st.markdown(PRESENTER_CSS, unsafe_allow_html=True)
    else:
        st.title("Lessons")
        st.markdown(f"**{md(lesson.title)}** \u00b7 {md(lesson.summary)} About {lesson.minutes} minutes in class. Each step is "
                    "computed live on the lab and kept in the run store; \u2190 and \u2192 (or PageUp and PageDown) move between "
                    "steps.")
        top = st.columns([1, 1, 2])
        top[0].button("Present", key="lesson-present-button", type="primary", icon=":material/slideshow:", on_click=set_presenting,
                      args=(True,), help="Large type, one step per screen, the keyboard moves on. Esc leaves.", width="stretch")
        with top[1]:
            prepare(lesson)
        with top[2]:
            handout_buttons(lesson, "lesson-handout")
        st.session_state["lesson-step-picker"] = index  # a widget of its own: presenter mode does not draw it, and its state would go
        st.selectbox("Step", range(len(lesson.steps)), key="lesson-step-picker", on_change=pick,
                     format_func=lambda i: f"{i}. {lesson.steps[i].title}" if i else f"Introduction: {lesson.steps[0].title}")
        st.divider()
    show_step(lesson, index, present, controls)
    st.divider()
    navigation(lesson, index, present)
