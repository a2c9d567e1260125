"""Models and the lab, loaded once per server and shared by all sessions and pages.

One lock per model: two users on one GPU take turns instead of interleaving batches, and
`st.cache_resource` makes sure a model is loaded once, not once per session or per page.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Any

import streamlit as st

from leakage.catalog import resolve_model
from leakage.lab.build import Lab, default_lab_config, ensure_lab, is_built


@dataclass
class SharedModel:
    model: Any
    lock: threading.Lock

    @property
    def clip(self) -> Any:  # the IDIA pages' name for it
        return self.model


@st.cache_resource(show_spinner=False, max_entries=8)
def shared_model(kind: str, spec: str, pretrained: str | None = None, device: str | None = None, _progress=None) -> SharedModel:
    """The model `spec` of `kind`, loaded once per server, with its lock."""
    return SharedModel(resolve_model(spec, kind, pretrained=pretrained, device=device, progress=_progress), threading.Lock())


class SharedModels:
    """The run service's model provider on a page (`leakage.service.run_attack(models=...)`): this
    server's shared models, the run taking its turn on each (waiting shows on the page, Cancel stops the wait)."""

    def __init__(self, job: Any, load: Any = None) -> None:
        self.job = job
        self._load = load or shared_model
        self._locks: dict[int, threading.Lock] = {}

    def load(self, kind: str, spec: str, pretrained: str | None, device: str | None, progress: Any) -> Any:
        shared = self._load(kind, spec, pretrained, device, progress)
        self._locks[id(shared.model)] = shared.lock
        return shared.model

    def turn(self, model: Any) -> Any:
        return self.job.turn(self._locks[id(model)])


def shared_clip(model: str, pretrained: str | None, device: str | None) -> SharedModel:
    return shared_model("clip", model, pretrained, device)


def lab_is_built() -> bool:
    return is_built(default_lab_config())


def ensure_lab_with_progress() -> Lab:
    """The default lab; on a first start it is built here with a visible progress bar."""
    if lab_is_built():
        return ensure_lab()
    with st.status("Building the lab (first start only: a few minutes)…", expanded=True) as status:
        bar = st.progress(0.0)

        def progress(stage: str, done: int, total: int) -> None:
            bar.progress(min(1.0, done / total) if total else 0.0, text=f"{stage}: {done}/{total}")

        lab = ensure_lab(progress=progress)
        status.update(label="Lab built", state="complete", expanded=False)
    return lab
