"""Words the pages say that are not a page's own: reason codes' sentences, and `plain` for any
text that comes from a file, a folder name, an upload or a person."""

from __future__ import annotations

import re


def plain(text: object) -> str:
    """`text` with Markdown's special characters escaped, so st.* shows it literally: every
    text from a file, a folder name, an upload or a person goes through this (or `st.text`)."""
    return re.sub(r"([\\`*_{}\[\]()#+\-.!|<>~$:])", r"\\\1", str(text))


# `mnistkit.preprocess.Preprocessed.reason`: why a drawing or upload gave no model input.
PREPROCESS_REASONS = {
    "empty": "Draw a digit",
    "dot": "That looks like a single dot — draw a whole digit",
    "small": (
        "Your digit is very small for the pen, so its lines run together and no model can "
        "read it. Draw it bigger: fill most of the black square."
    ),
    "no_upload": "Upload a picture of one digit",
}

# `mnistkit.outcome.judge`: a finished run that did not learn. (title, what to try)
OUTCOMES = {
    "diverged": (
        "Training went wrong: the loss blew up instead of falling",
        "The steps were too big. Try a smaller learning rate (0.001 with Adam is safe) and "
        "train again.",
    ),
    "guessing": (
        "Training finished, but the model is only guessing",
        "About 1 answer in 10 is right, as by chance. Try a smaller learning rate (0.001 with "
        "Adam), more epochs or more training images.",
    ),
}
