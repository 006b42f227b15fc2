"""What `pip install .` installs: the emocap package, and not the tests' and benchmarks' kit beside it."""

from __future__ import annotations

import ast
import tomllib
from pathlib import Path

from setuptools import find_packages

ROOT = Path(__file__).resolve().parents[1]


def installed_packages() -> set[str]:
    """The packages setuptools puts in the wheel, found as pyproject.toml tells it to."""
    found = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"]["find"]
    return set(find_packages(where=str(ROOT / found["where"][0]), include=found.get("include", ("*",))))


def test_the_wheel_holds_emocap_and_not_the_testkit():
    packages = installed_packages()
    assert {"emocap", "emocap.outputs", "emocap.evaluation", "emocap.web"} <= packages
    assert not any(name.split(".")[0] == "emocap_testkit" for name in packages)
    assert (ROOT / "src" / "emocap_testkit" / "faces.py").is_file()


def test_the_product_never_imports_the_testkit():
    """An installed emocap has no emocap_testkit, so no module of it may import one."""
    importers = []
    for path in sorted((ROOT / "src" / "emocap").rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names = [alias.name for alias in node.names] if isinstance(node, ast.Import) else []
            if isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module]
            if any(name.split(".")[0] == "emocap_testkit" for name in names):
                importers.append(str(path.relative_to(ROOT)))
    assert importers == []
