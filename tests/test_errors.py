"""Tests for mnistkit.errors: one family, one message style."""

from __future__ import annotations

import re

import pytest

from mnistkit.cli import CliError
from mnistkit.data import DataError, read_idx, resolve_data_dir
from mnistkit.errors import MnistkitError
from mnistkit.imaging import ImageError, load_image
from mnistkit.predict import ModelError, resolve_model_path

PROPER = ("MNIST", "IDX", "Keras")  # names that keep their case at the start of a clause


@pytest.mark.parametrize("error", [DataError, ImageError, ModelError, CliError])
def test_every_user_error_is_a_mnistkit_error(error):
    assert issubclass(error, MnistkitError)


def _messages(tmp_path):
    (tmp_path / "short.idx").write_bytes(b"\0")
    cases = [
        lambda: read_idx(tmp_path / "short.idx"),
        lambda: read_idx(tmp_path / "missing.idx"),
        lambda: resolve_data_dir(tmp_path / "nowhere"),
        lambda: load_image(b"not an image"),
        lambda: load_image(tmp_path / "missing.png"),
        lambda: resolve_model_path(tmp_path / "missing.keras"),
    ]
    for case in cases:
        with pytest.raises(MnistkitError) as info:
            case()
        yield str(info.value)


def test_messages_are_lower_case_clauses_without_a_full_stop(tmp_path):
    for message in _messages(tmp_path):
        first = message.split()[0]
        assert first in PROPER or first[0].islower() or not first[0].isalpha(), message
        assert not message.endswith("."), message
        assert "\n" not in message and re.search(r"\w", message)
