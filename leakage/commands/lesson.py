"""`python -m leakage lesson list|run`: the Lessons without a browser. `run` prepares a lesson before
class (every step's runs through the run service, stored, so the page shows them at once), prints
whether the lab shows each step's claim, and writes the handout (HTML or PDF).

Exit status of `run`: 0 when every claim measured holds, 1 when one does not (a known-answer check
of the lab), 2 on a usage error.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path


def register(subparsers) -> None:
    lesson = subparsers.add_parser("lesson", help="the Lessons: list them, or run one ahead of class and write its handout")
    commands = lesson.add_subparsers(dest="lesson_command", required=True)
    listing = commands.add_parser("list", help="the lessons, their steps and whether the lab models they need are built")
    listing.add_argument("--lesson", default=None, help="only this lesson")
    run = commands.add_parser("run", help="run every step of a lesson (stored runs are reused) and print its claims")
    run.add_argument("--lesson", default=None, help="the lesson's id (default: the first)")
    run.add_argument("--build", action="store_true", help="build the lab models a step needs that are not built yet")
    run.add_argument("--fresh", action="store_true", help="compute every run again instead of reusing stored ones")
    run.add_argument("--handout", type=Path, default=None, help="write the handout here (.html, or .pdf through Chromium)")
    run.add_argument("--quiet", action="store_true", help="no progress bars")
    lesson.set_defaults(func=main)


def main(args: argparse.Namespace) -> int:
    from leakage.lessons import default_lesson, get_lesson

    lesson = get_lesson(args.lesson) if args.lesson else default_lesson()
    return list_lessons(args) if args.lesson_command == "list" else run_lesson(lesson, args)


def list_lessons(args: argparse.Namespace) -> int:
    from leakage.lessons import LESSONS, minutes

    for lesson in LESSONS:
        if args.lesson and lesson.id != args.lesson:
            continue
        print(f"{lesson.id}: {lesson.title} (about {lesson.minutes} minutes in class)")
        for index, step in enumerate(lesson.steps):
            print(f"  {index}. {step.title}" + (f"  [{step.frame}]" if step.frame else ""))
            for run in step.runs:
                missing = run.missing()
                state = f"not built ({minutes(run.build_seconds)} to build)" if missing else "ready"
                print(f"       {run.title}: {run.attack} on {run.model}, data {run.data} \u2014 {state}")
    return 0


def stored(request):
    from leakage.store import RunStore

    with RunStore() as store:
        run_id = store.find(request.key)
        if run_id is None:
            return None
        result = store.get(run_id)
    result.details["run_id"] = run_id
    return result


def run_lesson(lesson, args: argparse.Namespace) -> int:
    from leakage.lessons import FAILS, minutes
    from leakage.progress import StageBars
    from leakage.service import run_attack

    results, started, failing = {}, time.perf_counter(), 0
    for run in lesson.runs():
        missing = run.missing()
        if missing and not args.build:
            print(f"skipped {run.title}: not built ({', '.join(m.what for m in missing)}); {minutes(run.build_seconds)} "
                  "to build, --build builds it")
            continue
        request = run.request()
        clock = time.perf_counter()
        result = None if args.fresh else stored(request)
        how = "stored run"
        if result is None:
            bars = StageBars(enabled=not args.quiet)
            for part in missing:
                part.entry.build(progress=bars)
            result = run_attack(request, progress=bars)
            bars.close()
            how = "computed"
        results[run.id] = result
        print(f"{run.title} ({run.attack} on {run.model}): {how} in {time.perf_counter() - clock:.1f} s, "
              f"run {result.details.get('run_id', '(not stored)')}")
    print()
    for index, step in enumerate(lesson.steps):
        print(f"{index}. {step.title}")
        mine = {run.id: results[run.id] for run in step.runs if run.id in results}
        for check in step.checks(mine):
            failing += check.status == FAILS
            print(f"   {check.mark} {check.claim}: {check.evidence}")
        answer = step.answer(mine) if lesson.previous_question(index) else None
        if answer:
            print(f"   answer to the last question: {answer}")
    print(f"\nthe whole lesson: {time.perf_counter() - started:.1f} s")
    if args.handout:
        from leakage.handout import render_handout, render_handout_pdf

        if args.handout.suffix.lower() == ".pdf":
            render_handout_pdf(lesson, results, args.handout)
        else:
            args.handout.write_text(render_handout(lesson, results), encoding="utf-8")
        print(f"handout written to {args.handout}")
    return 1 if failing else 0
