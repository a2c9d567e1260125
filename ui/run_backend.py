"""Where the attack pages run their attacks: this server, or a Ray cluster (the same backend as the
Batch audits page), so the server that serves the pages needs no GPU of its own."""

from __future__ import annotations

import streamlit as st

THIS_SERVER = "This server"
RAY = "A Ray cluster"
KEY = "run-backend"


def backend_picker() -> None:
    """The sidebar choice, shared by every attack page of the session."""
    with st.sidebar:
        where = st.radio("Run attacks on", [THIS_SERVER, RAY], key=f"{KEY}-choice", horizontal=True,
                         help="A Ray cluster runs the attack on its workers (its GPUs, when it has some); the result "
                              "comes back into this server's run store.")
        address = st.text_input("Ray address", key=f"{KEY}-address", placeholder="empty: a local cluster on this machine",
                                help="e.g. ray://head:10001; RAY_ADDRESS is used when set") if where == RAY else None
    st.session_state[KEY] = (address or "") if where == RAY else None


def ray_address() -> str | None:
    """None to run here; else the Ray address ("" for a local cluster started on this machine)."""
    return st.session_state.get(KEY)
