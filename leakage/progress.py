"""How long work reports progress and is stopped, for every engine: the `Progress` callback
`progress(stage, done, total)`, the `CancelFlag` checked between batches, and terminal progress for
the CLI (one tqdm bar per stage)."""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import Protocol

from tqdm import tqdm

Progress = Callable[[str, int, int], None]
"""progress(stage, done, total); total 0 means "no count known"."""


class CancelFlag(Protocol):
    """Anything with `is_set()` (a `threading.Event`); engines check it between batches."""

    def is_set(self) -> bool: ...


class StageBars:
    """Turns stage/done/total callbacks into tqdm bars on stderr, a new bar for each new stage."""

    def __init__(self, enabled: bool = True):
        self.enabled = enabled
        self._bar: tqdm | None = None
        self._stage_key: str | None = None

    def __call__(self, stage: str, done: int, total: int) -> None:
        if not self.enabled:
            return
        key = stage.split(" (")[0]  # "train lab CLIP (loss 1.23)" keeps one bar while its loss changes
        if key != self._stage_key:
            self.close()
            self._bar = tqdm(total=total, desc=key, file=sys.stderr, leave=True, dynamic_ncols=True)
            self._stage_key = key
        assert self._bar is not None
        self._bar.total = total
        self._bar.set_postfix_str(stage[len(key):].strip(" ()"), refresh=False)
        self._bar.update(done - self._bar.n)

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()
            self._bar = None
            self._stage_key = None
