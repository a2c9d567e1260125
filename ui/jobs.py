"""Attacks run in a background thread so the page stays live: progress per batch, and a Cancel
button that actually stops the run (the engine checks the flag between batches)."""

from __future__ import annotations

import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, Callable, Iterator

import streamlit as st

from leakage.results import RunCancelled
from ui.run_queue import run_queue
from ui.text import md


PROGRESS_REFRESH_SECONDS = 1.0
"""How often a running job's panel is redrawn: each redraw is a script run on the server and a
repaint in the browser, both on the CPU the attack runs on."""


@dataclass
class Job:
    label: str
    cancel: threading.Event = field(default_factory=threading.Event)
    stage: str = "starting"
    done: int = 0
    total: int = 0
    result: Any = None
    error: BaseException | None = None
    finished: bool = False
    started: float = field(default_factory=time.perf_counter)

    def progress(self, stage: str, done: int, total: int) -> None:
        self.stage, self.done, self.total = stage, done, total

    @contextmanager
    def turn(self, lock: threading.Lock) -> Iterator[None]:
        """Hold `lock` (one model, one run at a time) while the body runs; wait for it showing so,
        and stop waiting when the run is cancelled."""
        if not lock.acquire(blocking=False):
            self.progress("waiting for another run on this model to finish", 0, 0)
            while not lock.acquire(timeout=0.2):
                if self.cancel.is_set():
                    raise RunCancelled("cancelled while waiting for the model")
        try:
            yield
        finally:
            lock.release()

    @property
    def fraction(self) -> float:
        return min(1.0, self.done / self.total) if self.total else 0.0


def start_job(key: str, label: str, work: Callable[[Job], Any]) -> None:
    """Run `work(job)` in a thread; the job lives in the session under `key`.

    One job per key: while one runs, a second start (a double click) is ignored. The page is
    redrawn at once, so its Run button shows as disabled while the job runs.
    """
    if job_running(key):
        return
    job = Job(label)
    queue = run_queue()  # the server's cap on concurrent runs (ui.run_queue), taken in the page's thread

    def target() -> None:
        try:
            with queue.slot(job, job.cancel, lambda position: job.progress(f"waiting for a free run slot: position {position} "
                                                                            f"in the queue ({queue.slots} runs at a time)", 0, 0)):
                job.result = work(job)
        except BaseException as error:  # reported on the page, never lost in a thread
            job.error = error
        finally:
            job.finished = True

    threading.Thread(target=target, name=f"job-{key}", daemon=True).start()
    st.session_state[key] = job
    st.rerun()


def job_running(key: str) -> bool:
    job: Job | None = st.session_state.get(key)
    return job is not None and not job.finished


def watch_job(key: str, on_done: Callable[[Job], None]) -> None:
    """Show the running job's progress with a Cancel button; call on_done once when it ends."""
    job: Job | None = st.session_state.get(key)
    if job is None:
        return

    @st.fragment(run_every=PROGRESS_REFRESH_SECONDS)
    def progress_panel() -> None:
        current: Job = st.session_state[key]
        if current.finished:
            st.rerun()  # the whole page, to show the result
        with st.status(f"{md(current.label)}: {md(current.stage)}", expanded=True):
            st.progress(current.fraction, text=md(f"{current.stage} ({current.done}/{current.total})" if current.total else current.stage))
            st.caption(f"{time.perf_counter() - current.started:.0f} s elapsed")
            if st.button("Cancel", key=f"{key}-cancel", disabled=current.cancel.is_set()):
                current.cancel.set()
                st.toast("Cancelling after the current batch…")

    if not job.finished:
        progress_panel()
        return
    del st.session_state[key]
    if isinstance(job.error, RunCancelled):
        st.warning("Run cancelled: nothing was computed past the last batch, nothing was stored.")
    elif job.error is not None:
        st.error(f"The run failed: {md(job.error)}")
    else:
        on_done(job)
