"""A Cancel press, as the page's Cancel button makes it: the flag is set while a run is under way."""

from __future__ import annotations

import threading


class CancelDuring:
    """A progress callback that sets the cancel flag the first time `stage` reports progress, and
    records how far every stage got."""

    def __init__(self, stage: str) -> None:
        self.stage = stage
        self.flag = threading.Event()
        self.reached: dict[str, tuple[int, int]] = {}

    def __call__(self, stage: str, done: int, total: int) -> None:
        self.reached[stage] = (done, total)
        if stage == self.stage:
            self.flag.set()

    def stopped_early(self) -> bool:
        done, total = self.reached[self.stage]
        return done < total
