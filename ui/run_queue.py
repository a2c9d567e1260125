"""A server-wide cap on concurrent runs, first come first served, with each waiting run's place.

A shared server has one CPU (or GPU) budget: every run started from a page or an audit takes a
slot, at most `$LEAKAGE_MAX_RUNS` (default 2) at once; the others wait in order and their
progress panels say "position N in the queue". A cancelled waiting run leaves the queue at once.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import streamlit as st

from leakage.results import RunCancelled

MAX_RUNS_ENV = "LEAKAGE_MAX_RUNS"
DEFAULT_MAX_RUNS = 2


class RunQueue:
    def __init__(self, slots: int) -> None:
        self.slots = max(1, slots)
        self.running = 0
        self.waiting: list[object] = []
        self.condition = threading.Condition()

    def position(self, ticket: object) -> int | None:
        """1 for the next run to start; None when `ticket` is not waiting."""
        with self.condition:
            return self.waiting.index(ticket) + 1 if ticket in self.waiting else None

    @contextmanager
    def slot(self, ticket: object, cancel: threading.Event, waiting: Callable[[int], None] = lambda position: None) -> Iterator[None]:
        """Hold one of the server's run slots while the body runs; wait for it in order, calling
        `waiting(position)` while queued; RunCancelled when `cancel` is set before a slot is free."""
        with self.condition:
            self.waiting.append(ticket)
        try:
            while True:
                with self.condition:
                    if self.waiting[0] is ticket and self.running < self.slots:
                        self.waiting.pop(0)
                        self.running += 1
                        self.condition.notify_all()
                        break
                    position = self.waiting.index(ticket) + 1
                waiting(position)
                if cancel.is_set():
                    raise RunCancelled("cancelled while waiting in the queue")
                with self.condition:
                    self.condition.wait(0.25)
        except BaseException:
            with self.condition:
                if ticket in self.waiting:
                    self.waiting.remove(ticket)
                    self.condition.notify_all()
            raise
        try:
            yield
        finally:
            with self.condition:
                self.running -= 1
                self.condition.notify_all()


def max_runs() -> int:
    value = os.environ.get(MAX_RUNS_ENV, "").strip()
    return int(value) if value.isdigit() and int(value) > 0 else DEFAULT_MAX_RUNS


@st.cache_resource(show_spinner=False)
def run_queue() -> RunQueue:
    """The one queue of this server process, shared by every session."""
    return RunQueue(max_runs())
