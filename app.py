"""The leakage dashboard: how much do foundation models leak about the people in their training data?"""

import streamlit as st

st.set_page_config(page_title="Leakage dashboard", page_icon=":material/visibility:", layout="wide")

PAGES = [
    st.Page("pages/home.py", title="Home", icon=":material/home:", default=True),
    st.Page("pages/identity_inference.py", title="Identity inference (CLIP)", icon=":material/face:", url_path="identity"),
    st.Page("pages/vlm_probe.py", title="VLM identity probe", icon=":material/chat:", url_path="vlm"),
    st.Page("pages/mim.py", title="Membership inference (MIM)", icon=":material/image:", url_path="mim"),
    st.Page("pages/runs.py", title="Runs", icon=":material/history:", url_path="runs"),
]

st.navigation(PAGES).run()
