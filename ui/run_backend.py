"""Where the attack pages run their attacks: this server, or the Ray cluster the operator configured
(the same backend as the Batch audits page), so the server that serves the pages needs no GPU of its own.

The cluster comes from the server's own configuration, never from a page: anyone who can reach a
Ray cluster's ports can run code on it, and results travel pickled, so a server joins only the
cluster its operator named (background.md §12). `.streamlit/secrets.toml`::

    [ray]
    address = "ray://head.internal:10001"   # or "local": a Ray cluster started on this machine
    name = "the lab's GPU cluster"          # what the pages show

or the environment: `RAY_ADDRESS` (with `LEAKAGE_RAY_NAME`). Nothing configured: no Ray choice on
any page. Pages show the cluster by its name, never its address.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import streamlit as st

THIS_SERVER = "This server"
KEY = "run-backend"
NAME_ENV = "LEAKAGE_RAY_NAME"


@dataclass(frozen=True)
class Cluster:
    name: str
    address: str
    """A Ray address; "" = a local cluster started on this machine ("local" in the configuration)."""


def configured_cluster() -> Cluster | None:
    """The Ray cluster the operator configured for this server, or None."""
    try:
        section = dict(st.secrets.get("ray") or {})
    except Exception:  # no secrets.toml: the environment alone decides
        section = {}
    address = str(section.get("address") or os.environ.get("RAY_ADDRESS") or "").strip()
    if not address:
        return None
    name = str(section.get("name") or os.environ.get(NAME_ENV) or
               ("a Ray cluster on this machine" if address == "local" else "the configured Ray cluster"))
    return Cluster(name=name, address="" if address == "local" else address)


def backend_picker() -> None:
    """The sidebar choice, shared by every attack page of the session (only when a cluster is configured)."""
    cluster = configured_cluster()
    if cluster is None:
        st.session_state[KEY] = None
        return
    with st.sidebar:
        where = st.radio("Run attacks on", [THIS_SERVER, cluster.name], key=f"{KEY}-choice", horizontal=True,
                         help="The Ray cluster this server's operator configured runs the attack on its workers (its GPUs, "
                              "when it has some); the result comes back into this server's run store.")
    st.session_state[KEY] = cluster.address if where == cluster.name else None


def ray_address() -> str | None:
    """None to run here; else the configured Ray address ("" for a local cluster started on this machine)."""
    cluster = configured_cluster()
    chosen = st.session_state.get(KEY)
    # only ever the configured address, whatever the session holds
    return cluster.address if cluster is not None and chosen is not None and chosen == cluster.address else None
