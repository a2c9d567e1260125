"""Models and the lab, loaded once per server and shared by all sessions.

One lock per model: two users on one GPU take turns instead of interleaving batches, and
`st.cache_resource` makes sure a model is loaded once, not once per session.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass

import streamlit as st

from leakage.lab.build import Lab, ensure_lab, is_built, default_lab_config
from leakage.models import LoadedClip
from leakage.sources import resolve_model


@dataclass
class SharedClip:
    clip: LoadedClip
    lock: threading.Lock


@st.cache_resource(show_spinner=False)
def model_lock(kind: str, spec: str) -> threading.Lock:
    """The lock of one model of this server, for models held in a page's own cache."""
    return threading.Lock()


@st.cache_resource(show_spinner=False)
def shared_clip(model: str, pretrained: str | None, device: str | None) -> SharedClip:
    return SharedClip(resolve_model(model, pretrained, device), threading.Lock())


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
