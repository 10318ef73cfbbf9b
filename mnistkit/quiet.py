"""Import TensorFlow without the C++ start-up chatter on stderr (for the command line)."""

from __future__ import annotations

import os
import sys
import tempfile


def import_tensorflow_quietly() -> None:
    """Import TensorFlow and Keras with fd 2 captured; replay the capture if the import fails.

    TensorFlow's C++ logger prints before `TF_CPP_MIN_LOG_LEVEL` takes effect, which would
    break the CLI's "one line on stderr" contract. Not for the app: redirecting fd 2 there
    would hide other threads' output for the few seconds the import takes.
    """
    if "tensorflow" in sys.modules:
        return
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    sys.stderr.flush()
    saved = os.dup(2)
    with tempfile.TemporaryFile() as capture:
        os.dup2(capture.fileno(), 2)
        try:
            import keras  # noqa: F401
            import tensorflow  # noqa: F401
        except BaseException:
            os.dup2(saved, 2)
            capture.seek(0)
            sys.stderr.write(capture.read().decode(errors="replace"))
            raise
        finally:
            os.dup2(saved, 2)
            os.close(saved)
