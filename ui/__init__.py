"""Streamlit helpers shared by the pages: background jobs, cached models, result views.

The engine (`leakage/`) never imports Streamlit; everything Streamlit-specific lives here and in app_pages/.
"""
