"""benchmarks/drawn_digits_accuracy.py measures only on writers a model did not train on."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path

import pytest

from tests.helpers import ROOT

_SPEC = importlib.util.spec_from_file_location(
    "drawn_digits_accuracy", ROOT / "benchmarks" / "drawn_digits_accuracy.py"
)
bench = importlib.util.module_from_spec(_SPEC)
sys.modules[_SPEC.name] = bench  # dataclasses look their module up while it loads
_SPEC.loader.exec_module(bench)


def _info(writers: str | None) -> dict:
    drawings = None if writers is None else {"writers": writers, "source": "pendigits-orig.tra.gz"}
    return {"arch": "cnn", "training_data": {"mnist_train": 54000, "drawings": drawings}}


def test_trained_writers_come_from_the_model_json() -> None:
    assert bench.trained_writers(_info("1-3,7")) == (1, 2, 3, 7)
    assert bench.trained_writers(_info(None)) == ()
    assert bench.trained_writers({}) == ()  # an older JSON: MNIST only


def test_measured_writers_default_to_those_no_model_trained_on() -> None:
    assert bench.measured_writers(None, [()]) == tuple(range(11, 31))  # MNIST only: as before
    assert bench.measured_writers(None, [tuple(range(1, 21)), (21,)]) == tuple(range(22, 31))
    assert bench.measured_writers("25-26", [tuple(range(1, 21))]) == (25, 26)
    with pytest.raises(SystemExit, match="none is held out"):
        bench.measured_writers(None, [tuple(range(1, 31))])


def test_overlap_is_refused_or_loudly_marked(capsys: pytest.CaptureFixture[str]) -> None:
    bench.check_overlap(["cnn"], [tuple(range(1, 21))], tuple(range(21, 31)), allow=False)
    with pytest.raises(SystemExit, match="trained on measured writers 19-20"):
        bench.check_overlap(["cnn"], [tuple(range(1, 21))], tuple(range(19, 31)), allow=False)
    bench.check_overlap(["cnn"], [tuple(range(1, 21))], tuple(range(19, 31)), allow=True)
    assert "NOT a held-out measurement" in capsys.readouterr().out


def test_main_refuses_before_rendering_anything(tmp_path: Path) -> None:
    bundle = tmp_path / "bundle"
    bundle.mkdir()
    (bundle / "cnn.keras").write_bytes(b"never loaded")
    (bundle / "cnn.json").write_text(json.dumps(_info("1-30")), encoding="utf-8")
    cache = tmp_path / "cache"
    with pytest.raises(SystemExit, match="none is held out"):
        bench.main(["--bundle", str(bundle), "--cache-dir", str(cache)])
    with pytest.raises(SystemExit, match="trained on measured writers 21-30"):
        bench.main(["--bundle", str(bundle), "--writers", "21-30", "--cache-dir", str(cache)])
    assert not cache.exists()
