"""Who is using a shared server, and whether it may serve at all.

Sign-in is Streamlit's built-in OpenID Connect login (`st.login`, `st.user`, Authlib), switched on
when the operator configures a provider in `.streamlit/secrets.toml` (`[auth]` with
`client_id`, `client_secret`, `server_metadata_url`, `redirect_uri`, `cookie_secret`). Then
every page asks for sign-in first, each run is stored with its owner (the user's e-mail, else
their subject id), a user sees and deletes only their own runs, and the admins listed in
`[leakage] admins = [...]` (or `$LEAKAGE_ADMINS`, comma-separated) see all.

Without a provider the dashboard has no notion of users, which is only safe on the loopback
interface: bound anywhere else it serves nothing but a refusal, unless the operator says
explicitly that the network in front of it does the access control
(`$LEAKAGE_ALLOW_UNAUTHENTICATED=1`, or `[leakage] allow_unauthenticated = true`).
"""

from __future__ import annotations

import ipaddress
import os
from dataclasses import dataclass
from typing import Any

import streamlit as st

from leakage.store import ANYONE
from ui.text import md

ADMINS_ENV = "LEAKAGE_ADMINS"
ALLOW_OPEN_ENV = "LEAKAGE_ALLOW_UNAUTHENTICATED"


@dataclass(frozen=True)
class User:
    id: str
    name: str
    admin: bool


def _secrets_section(name: str) -> dict[str, Any]:
    try:
        section = st.secrets.get(name)
    except Exception:  # no secrets.toml at all: nothing configured
        return {}
    return dict(section) if section else {}


def provider_configured() -> bool:
    """Whether the operator configured an OIDC provider (one default provider or named ones)."""
    auth = _secrets_section("auth")
    return "client_id" in auth or any(isinstance(value, dict) and "client_id" in value for value in auth.values())


def admins() -> set[str]:
    listed = _secrets_section("leakage").get("admins") or []
    listed = [listed] if isinstance(listed, str) else list(listed)
    listed += [part for part in os.environ.get(ADMINS_ENV, "").split(",")]
    return {str(entry).strip().lower() for entry in listed if str(entry).strip()}


def is_loopback(address: str | None) -> bool:
    """Whether Streamlit's `server.address` keeps the server on this machine (unset binds every interface)."""
    if not address:
        return False
    if address.strip().lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(address.strip("[]")).is_loopback
    except ValueError:
        return False


def open_server_allowed() -> bool:
    flag = os.environ.get(ALLOW_OPEN_ENV, "").strip().lower() in {"1", "true", "yes"}
    return flag or bool(_secrets_section("leakage").get("allow_unauthenticated"))


def current_user() -> User | None:
    """The signed-in user, or None (no provider configured, or not signed in)."""
    if not provider_configured() or not st.user.is_logged_in:
        return None
    ident = str(st.user.get("email") or st.user.get("sub") or "").strip().lower()
    if not ident:
        return None
    return User(ident, str(st.user.get("name") or ident), ident in admins())


def owner_filter() -> Any:
    """What the run store is asked with: a user's id (their runs only), or ANYONE (an admin, or no sign-in)."""
    user = current_user()
    return ANYONE if user is None or user.admin else user.id


def owner_id() -> str | None:
    """The owner stored with a new run (None without sign-in)."""
    user = current_user()
    return user.id if user else None


def gate() -> User | None:
    """Called before any page is drawn: stops the script on a refusal or the sign-in screen."""
    if provider_configured():
        if not st.user.is_logged_in:
            st.title("Leakage dashboard")
            st.write("This server is shared: sign in to run attacks and see your runs.")
            st.button("Sign in", type="primary", on_click=st.login, key="auth-login")
            st.stop()
        user = current_user()
        with st.sidebar:
            st.caption(f"Signed in as {md(user.name if user else '?')}" + (" (admin: sees every run)" if user and user.admin else ""))
            st.button("Sign out", on_click=st.logout, key="auth-logout")
        return user
    address = st.get_option("server.address")
    if not is_loopback(address) and not open_server_allowed():
        st.error(
            f"This server listens on {md(address or 'every network interface')} but has no sign-in configured, so anyone who "
            "can reach it could run attacks and read every stored run. It serves nothing until the operator either "
            "configures an OpenID Connect provider in .streamlit/secrets.toml ([auth], see SECURITY.md), binds it to "
            f"127.0.0.1, or sets {ALLOW_OPEN_ENV}=1 when the network in front of it already controls who gets in."
        )
        st.stop()
    return None
