"""Streamlit glue shared by the pages: caching, the session's training job, pictures and inputs.

This package may import streamlit; `mnistkit/` never does.
"""
