"""Links between pages that stay quiet where the other page is not part of the app (a page run on its
own, as Streamlit's AppTest runs it)."""

from __future__ import annotations

from typing import Any

import streamlit as st
from streamlit.errors import StreamlitPageNotFoundError


def page_link(page: str, **kwargs: Any) -> None:
    try:
        st.page_link(page, **kwargs)
    except StreamlitPageNotFoundError:
        pass
