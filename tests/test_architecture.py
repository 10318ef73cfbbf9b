"""docs/ARCHITECTURE.md tells the truth: the layers import one way, and every module, file and
name it mentions exists (and every module is mentioned)."""

from __future__ import annotations

import ast
import importlib
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DOC = ROOT / "docs" / "ARCHITECTURE.md"
TEXT = DOC.read_text(encoding="utf-8")
LAYERS = {"mnistkit": {"streamlit", "ui", "app_pages"}, "ui": {"app_pages"}}
ROW = re.compile(r"^\| `((?:mnistkit|ui)/\w+\.py)` \|(.*)$", re.M)
NAME = re.compile(r"`([A-Za-z_][A-Za-z0-9_]*)`")


def modules(folder: str) -> list[Path]:
    return sorted((ROOT / folder).glob("*.py"))


def imported(path: Path) -> set[str]:
    """Top-level package names a module imports (anywhere in it, functions included)."""
    names = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            names.add(node.module.split(".")[0])
    return names


@pytest.mark.parametrize("layer", sorted(LAYERS))
def test_layers_import_one_way(layer):
    wrong = {
        path.name: sorted(imported(path) & LAYERS[layer])
        for path in modules(layer)
        if imported(path) & LAYERS[layer]
    }
    assert wrong == {}, f"{layer}/ must not import {sorted(LAYERS[layer])}"


def test_nothing_imports_a_page():
    everything = [
        *modules("mnistkit"),
        *modules("ui"),
        *modules("app_pages"),
        ROOT / "streamlit_app.py",
    ]
    assert [p.name for p in everything if "app_pages" in imported(p)] == []


def test_every_path_the_doc_names_exists():
    named = set(re.findall(r"`((?:[\w.-]+/)+[\w.-]*)`", TEXT))
    named |= {m for m in re.findall(r"`([\w/]+\.py)`", TEXT)}
    missing = sorted(p for p in named if not (ROOT / p.split(" ")[0]).exists())
    assert missing == []


def test_every_module_is_on_the_page():
    listed = {m for m, _ in ROW.findall(TEXT)}
    present = {f"{folder}/{p.name}" for folder in ("mnistkit", "ui") for p in modules(folder)} - {
        "mnistkit/__init__.py",
        "ui/__init__.py",
    }
    assert sorted(present - listed) == [], "modules missing from docs/ARCHITECTURE.md"
    pages = {f"app_pages/{p.name}" for p in modules("app_pages")}
    assert sorted(p for p in pages if f"`{p}`" not in TEXT) == []


@pytest.mark.parametrize("module,row", ROW.findall(TEXT), ids=lambda v: str(v)[:40])
def test_every_name_in_a_row_exists_in_its_module(module, row):
    """A name in backticks in a module's row must be an attribute of that module or of a
    class it defines (or one of the few words below: JSON keys, environment variables)."""
    what = row.rsplit("|", 2)[0] if module.startswith("mnistkit/") else row  # not "TF?"
    names = set(NAME.findall(what)) - WORDS
    if not names:
        return  # e.g. __main__, which runs the command line when imported
    mod = importlib.import_module(module.removesuffix(".py").replace("/", "."))
    classes = [v for v in vars(mod).values() if isinstance(v, type)]
    missing = sorted(
        name
        for name in names
        if not any(hasattr(owner, name) for owner in (mod, *classes))
    )
    assert missing == [], f"{module} has no {missing}"


# Backticked words in the rows that are not Python names: JSON keys, Keras' own words,
# dataclass fields without a default, environment variables.
WORDS = {"hidden", "logs", "callbacks", "reason", "MNISTKIT_MAX_JOBS", "MNISTKIT_RAY_ADDRESS"}
