"""Links between pages that stay quiet where the other page is not part of the app (a page run on its
own, as Streamlit's AppTest runs it)."""

from __future__ import annotations

from functools import partial
from typing import Any

import streamlit as st
from streamlit.errors import StreamlitPageNotFoundError

from leakage.attacks.base import Attack


def attack_page(attack: Attack) -> Any:
    """The attack's page, generated from its declaration (`ui.attack_page.render`): for the navigation and for links."""
    from ui.attack_page import render  # the page's parts import the engine's heavy modules: only when a page is drawn

    return st.Page(partial(render, attack.name), title=attack.nav_title or attack.title, icon=attack.icon,
                   url_path=attack.url_path)


def page_link(page: Any, **kwargs: Any) -> None:
    try:
        st.page_link(page, **kwargs)
    except StreamlitPageNotFoundError:
        pass
