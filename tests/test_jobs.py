"""Background runs on the pages (ui.jobs): progress, a Cancel button that stops the run, and the
result shown once, driven through Streamlit's own script runner (AppTest)."""

from __future__ import annotations

import time

from streamlit.testing.v1 import AppTest


def counting_page(steps: int = 2000) -> None:
    import time

    import streamlit as st

    from leakage.results import RunCancelled
    from ui.jobs import job_running, start_job, watch_job

    def work(job):
        for step in range(steps):
            if job.cancel.is_set():  # as the engines check between batches
                raise RunCancelled("stopped")
            job.progress("counting", step, steps)
            time.sleep(0.005)
        return steps

    if st.button("Start", key="start", disabled=job_running("count-job")):
        start_job("count-job", "Counting", work)
    watch_job("count-job", lambda job: st.success(f"counted to {job.result}"))


def poll(app: AppTest, until, seconds: float = 30) -> AppTest:
    deadline = time.monotonic() + seconds
    while not until(app) and time.monotonic() < deadline:
        time.sleep(0.1)
        app.run()
    assert not app.exception, app.exception
    return app


def test_cancel_stops_the_run_and_says_so() -> None:
    app = AppTest.from_function(counting_page, default_timeout=30).run()
    app.button(key="start").click().run()
    assert app.button(key="start").disabled  # one run at a time per session
    assert app.button(key="count-job-cancel")  # the progress panel, with its Cancel button
    app.button(key="count-job-cancel").click().run()
    poll(app, lambda app: app.warning)
    assert "Run cancelled" in app.warning[0].value
    assert not app.success
    assert not app.button(key="start").disabled


def test_a_finished_run_is_shown_once() -> None:
    app = AppTest.from_function(counting_page, kwargs={"steps": 20}, default_timeout=30).run()
    app.button(key="start").click().run()
    poll(app, lambda app: app.success)
    assert app.success[0].value == "counted to 20"
    app.run()
    assert not app.success  # handed to the page once, not again on every rerun


def test_a_second_run_on_a_model_waits_its_turn_and_can_be_cancelled_while_waiting() -> None:
    import threading

    import pytest

    from leakage.results import RunCancelled
    from ui.jobs import Job

    lock = threading.Lock()
    first, second = Job("first"), Job("second")
    with first.turn(lock):
        assert lock.locked()
        outcome: list[BaseException | None] = []

        def wait_for_the_model() -> None:
            try:
                with second.turn(lock):
                    outcome.append(None)
            except BaseException as error:
                outcome.append(error)

        waiting = threading.Thread(target=wait_for_the_model)
        waiting.start()
        deadline = time.monotonic() + 5
        while second.stage != "waiting for another run on this model to finish" and time.monotonic() < deadline:
            time.sleep(0.01)
        assert second.stage.startswith("waiting") and not outcome
        second.cancel.set()
        waiting.join(timeout=5)
        assert len(outcome) == 1 and isinstance(outcome[0], RunCancelled)
    assert not lock.locked()  # released by the first, never taken by the cancelled second

    with pytest.raises(ValueError), Job("third").turn(lock):
        raise ValueError("the run failed")
    assert not lock.locked()  # a failed run hands the model back
