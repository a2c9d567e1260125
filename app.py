"""The leakage dashboard: how much do foundation models leak about the people in their training data?

The navigation comes from the attack registry (`leakage.attacks`): an attack with its own page file
gets that page, any other gets the page generated from its declaration (`ui.attack_page`).
"""

from functools import partial

import streamlit as st

from leakage.attacks import list_attacks
from ui.attack_page import render
from ui.auth import gate
from ui.run_backend import backend_picker

st.set_page_config(page_title="Leakage dashboard", page_icon=":material/visibility:", layout="wide")
gate()  # sign-in on a shared server; a refusal when bound beyond loopback without it (ui.auth)


def attack_page(attack) -> st.Page:
    title = attack.nav_title or attack.title
    if attack.page:
        return st.Page(attack.page, title=title, icon=attack.icon, url_path=attack.url_path)
    page = st.Page(partial(render, attack.name), title=title, icon=attack.icon, url_path=attack.url_path)
    return page


PAGES = [
    st.Page("app_pages/home.py", title="Home", icon=":material/home:", default=True),
    st.Page("app_pages/lessons.py", title="Lessons", icon=":material/school:", url_path="lessons"),
    *(attack_page(attack) for attack in list_attacks()),
    st.Page("app_pages/runs.py", title="Runs", icon=":material/history:", url_path="runs"),
    st.Page("app_pages/audits.py", title="Batch audits", icon=":material/playlist_play:", url_path="audits"),
]

current = st.navigation(PAGES)
if current.url_path in {attack.url_path for attack in list_attacks()}:
    backend_picker()  # where this session's attacks run: here or on a Ray cluster
current.run()
