"""Widget values that survive a page switch (Streamlit drops a widget's state when its page
is left): `restore(key)` before the widget, `keep(key)` after it."""

from __future__ import annotations

from collections.abc import Collection

import streamlit as st

PREFIX = "kept_"  # session_state: the kept copy of widget `key` is f"{PREFIX}{key}"


def restore(key: str, allowed: Collection | None = None) -> None:
    """Give widget `key` its kept value again, if it has none and the value is still allowed
    (a model that was deleted meanwhile is not)."""
    kept = st.session_state.get(PREFIX + key)
    if key in st.session_state or kept is None:
        return
    if allowed is None or kept in allowed:
        st.session_state[key] = kept


def keep(*keys: str) -> None:
    """Remember the widgets' current values."""
    for key in keys:
        if key in st.session_state:
            st.session_state[PREFIX + key] = st.session_state[key]
