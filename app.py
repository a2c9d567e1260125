"""The leakage dashboard: how much do foundation models leak about the people in their training data?"""

import streamlit as st

st.set_page_config(page_title="Leakage dashboard", page_icon=":material/visibility:", layout="wide")

PAGES = [
    st.Page("app_pages/home.py", title="Home", icon=":material/home:", default=True),
    st.Page("app_pages/identity_inference.py", title="Identity inference (CLIP)", icon=":material/face:", url_path="identity"),
    st.Page("app_pages/vlm_probe.py", title="VLM identity probe", icon=":material/chat:", url_path="vlm"),
    st.Page("app_pages/mim.py", title="Membership inference (MIM)", icon=":material/image:", url_path="mim"),
    st.Page("app_pages/runs.py", title="Runs", icon=":material/history:", url_path="runs"),
]

st.navigation(PAGES).run()
