"""One family for the errors a user can fix: bad data, a bad model file, a bad image, a bad flag.

Message style, for every `MnistkitError`: one lower-case clause without a final full stop
(names such as MNIST, IDX and Keras keep their case) that names the file or value at
fault, e.g. "no model file at runs/x/model.keras". Pages and the command line embed it
after a colon ("error: ...", "Cannot use “x.png”: ..."), so it reads as the end of their
sentence. Anything else that escapes is a bug, not a message for the user.
"""

from __future__ import annotations


class MnistkitError(Exception):
    """A problem the user can fix, said in one sentence (see the module docstring)."""
