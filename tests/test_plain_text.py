"""Text from files, folder names and uploads is shown as text: never HTML, never Markdown."""

from __future__ import annotations

from streamlit.testing.v1 import AppTest

from devtools.hostile import hand_in_run
from tests.classroom import (
    _calls,
    app_files,
    open_page,
)
from tests.helpers import (
    ROOT,
)

HOSTILE = "<b>x</b><script>alert(1)</script>"


def test_app_code_never_allows_html():
    """No `unsafe_allow_html`, `unsafe_allow_javascript`, `st.html` or `components.html`."""
    offenders = []
    for path in app_files():
        for call in _calls(path):
            unsafe = [k.arg for k in call.keywords if k.arg and k.arg.startswith("unsafe_allow")]
            if unsafe or getattr(call.func, "attr", None) == "html":
                offenders.append(f"{path.relative_to(ROOT)}:{call.lineno}")
    assert offenders == []


def _elements(node):
    for child in getattr(node, "children", {}).values():
        yield child
        yield from _elements(child)


def assert_no_html(at: AppTest) -> None:
    """No element of the page may render HTML."""
    for element in _elements(at._tree):
        proto = getattr(element, "proto", None)
        assert getattr(element, "type", "") != "html"
        assert not getattr(proto, "allow_html", False), proto
        assert not getattr(proto, "unsafe_allow_javascript", False), proto


def test_user_text_is_shown_literally_never_as_html(model_runs, canvas):
    """A run named with HTML and an upload named with HTML: shown as text on every page."""
    hand_in_run(model_runs["dense"].parent, "20240101-130000-b-x-b", fields={"name": HOSTILE})
    home = open_page("home")
    assert HOSTILE in set(home.dataframe[-1].value["name"])
    assert_no_html(home)
    assert_no_html(open_page("compare"))
    train = open_page("train")
    train.text_input(key="train_name").set_value(HOSTILE).run()
    assert_no_html(train)
    draw = open_page("draw", draw_source="Upload a picture")
    draw.file_uploader(key="draw_upload").set_value((f"{HOSTILE}.png", b"GIF89a", "image/png"))
    draw.run()
    assert "\\<b\\>x\\</b\\>" in draw.error[0].value  # escaped: no tag reaches the browser
    assert_no_html(draw)
