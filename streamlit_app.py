"""mnistkit: the Streamlit entry point. It only declares the pages; each page is its own file."""

import streamlit as st

st.set_page_config(page_title="mnistkit", page_icon="✏️", layout="wide")

pages = [
    st.Page("pages/home.py", title="Home", icon="🏠", default=True),
    st.Page("pages/data.py", title="Data", icon="🔢"),
    st.Page("pages/train.py", title="Train", icon="🏋️"),
    st.Page("pages/compare.py", title="Compare", icon="⚖️"),
    st.Page("pages/draw.py", title="Draw & predict", icon="✏️"),
    st.Page("pages/inside.py", title="Inside the CNN", icon="🔬"),
]
st.navigation(pages).run()
