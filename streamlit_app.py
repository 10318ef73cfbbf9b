"""mnistkit: the Streamlit entry point. It only declares the pages; each page is its own file.

The pages live in `app_pages/`, not `pages/`: a folder named `pages/` beside this file puts
Streamlit 1.67 in its old multipage mode until the first run of this script, so a fresh
server asked for `/draw` would skip the navigation (and `keep_keras_state`) below.
"""

import streamlit as st

from ui import server_guards, sidebar
from ui.resources import keep_keras_state, preload_default_models

st.set_page_config(page_title="mnistkit", page_icon="✏️", layout="wide")
keep_keras_state()  # Streamlit would reset Keras for every thread after each script run
server_guards.install()  # one session must not hoard uploads or empty everyone's caches

# Material icons ship with Streamlit; emoji need a font many classroom Linux machines lack.
pages = [
    st.Page("app_pages/home.py", title="Home", icon=":material/home:", default=True),
    st.Page("app_pages/data.py", title="Data", icon=":material/grid_on:"),
    st.Page("app_pages/train.py", title="Train", icon=":material/model_training:"),
    st.Page("app_pages/compare.py", title="Compare", icon=":material/compare_arrows:"),
    st.Page("app_pages/draw.py", title="Draw & predict", icon=":material/draw:"),
    st.Page("app_pages/inside.py", title="Inside the CNN", icon=":material/biotech:"),
    st.Page("app_pages/teacher.py", title="Teacher", icon=":material/school:"),
]
# `?view=projector` (the teacher's page for a room): no menu, no sidebar, nothing to press.
projector = st.query_params.get("view") == "projector"
navigation = st.navigation(pages, position="hidden" if projector else "sidebar")
if not projector:
    with st.sidebar:
        sidebar.panel()  # your name, your training's progress, the teacher badge
navigation.run()
# After the page is drawn: TensorFlow and the Draw page's models load in the background while
# the class reads it, so the first stroke does not wait 3-5 s (once per server process).
preload_default_models()
