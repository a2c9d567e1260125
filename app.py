"""The leakage dashboard: how much do foundation models leak about the people in their training data?

The navigation comes from the attack registry (`leakage.attacks`): every attack's page is generated
from its declaration and its page parts (`ui.attack_page`, `ui.page_parts`).
"""

import streamlit as st

from leakage.attacks import list_attacks
from ui.auth import gate
from ui.links import attack_page
from ui.run_backend import backend_picker

st.set_page_config(page_title="Leakage dashboard", page_icon=":material/visibility:", layout="wide")
gate()  # sign-in on a shared server; a refusal when bound beyond loopback without it (ui.auth)


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
