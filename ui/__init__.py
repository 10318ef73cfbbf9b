"""Streamlit glue shared by the pages: caching, the session's training job, charts.

This package may import streamlit; `mnistkit/` never does.
"""
