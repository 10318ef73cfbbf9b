"""The library imports fast (no TensorFlow) and never needs Streamlit."""

from __future__ import annotations

import ast
import pkgutil
import subprocess
import sys

import mnistkit
from tests.helpers import ROOT, cli_env

LIGHT = (
    "mnistkit",
    "mnistkit.config",
    "mnistkit.data",
    "mnistkit.atomic",
    "mnistkit.errors",
    "mnistkit.liveness",
    "mnistkit.runs",
    "mnistkit.imaging",
    "mnistkit.preprocess",
    "mnistkit.progress",
    "mnistkit.jobs",
    "mnistkit.cli",
    "mnistkit.quiet",
)
ALL = tuple(f"mnistkit.{m.name}" for m in pkgutil.iter_modules(mnistkit.__path__))


def run_python(code: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-c", code],
        cwd=ROOT,
        env=cli_env(TF_CPP_MIN_LOG_LEVEL="3"),
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_light_modules_load_neither_tensorflow_nor_streamlit():
    code = (
        "import importlib, sys\n"
        f"for name in {LIGHT!r}: importlib.import_module(name)\n"
        "heavy = sorted(m for m in ('tensorflow', 'keras', 'streamlit') if m in sys.modules)\n"
        "print(heavy)\n"
    )
    proc = run_python(code)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "[]"


def test_import_works_with_streamlit_unimportable():
    code = (
        "import sys\n"
        "sys.modules['streamlit'] = None  # any `import streamlit` now raises ImportError\n"
        "import mnistkit, mnistkit.config, mnistkit.data, mnistkit.runs, mnistkit.preprocess\n"
        "import mnistkit.progress, mnistkit.jobs\n"
        "from mnistkit.config import TrainConfig\n"
        "print(mnistkit.__version__, TrainConfig().arch)\n"
    )
    proc = run_python(code)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.split() == [mnistkit.__version__, "cnn"]


def test_every_module_works_without_streamlit():
    """Even the TensorFlow modules (models, training, predict, ...) never touch Streamlit."""
    assert {"mnistkit.models", "mnistkit.training", "mnistkit.predict"} <= set(ALL)
    code = (
        "import importlib, sys\n"
        "sys.modules['streamlit'] = None\n"
        f"for name in {ALL!r}:\n"
        "    if name != 'mnistkit.__main__': importlib.import_module(name)\n"
        "print('ok')\n"
    )
    proc = run_python(code)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "ok"


def test_no_source_file_imports_streamlit():
    for path in sorted((ROOT / "mnistkit").glob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom):
                names = [node.module or ""]
            else:
                continue
            assert not any(n.split(".")[0] == "streamlit" for n in names), path.name
